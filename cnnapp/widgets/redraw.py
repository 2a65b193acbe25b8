"""Redraws of a widget that follows a live stream (a training run's reports), paced for the GUI thread."""
from __future__ import annotations

from PySide6 import QtCore


class PacedRedraw(QtCore.QObject):
    """Calls ``redraw()`` of ``widget`` when asked, but never more often than every ``interval_ms``
    and never while the widget is hidden.

    :meth:`request` says the data changed. While the widget is shown, the requests that come within
    ``interval_ms`` of each other become one redraw at the end of that time; while it is hidden
    (another tab is on top, say) nothing is drawn, and the widget is drawn once when it is shown
    again. :meth:`flush` draws what is pending now (a run ended). ``redraws`` counts the redraws done.
    """

    def __init__(self, widget: QtCore.QObject, redraw, interval_ms: int = 250):
        super().__init__(widget)
        self._widget = widget
        self._redraw = redraw
        self._stale = False
        self.redraws = 0
        self._timer = QtCore.QTimer(self, singleShot=True, interval=interval_ms)
        self._timer.timeout.connect(self.flush)
        widget.installEventFilter(self)

    def request(self) -> None:
        """The data changed: draw it within ``interval_ms`` if the widget is shown, else when it is."""
        self._stale = True
        if self._widget.isVisible() and not self._timer.isActive():
            self._timer.start()

    def pending(self) -> bool:
        """Data came that is not drawn yet."""
        return self._stale

    def flush(self) -> None:
        """Draw now what is pending, if the widget is shown (else it waits for the widget to show)."""
        self._timer.stop()
        if self._stale and self._widget.isVisible():
            self._stale = False
            self.redraws += 1
            self._redraw()

    def eventFilter(self, obj, ev) -> bool:
        if obj is self._widget and ev.type() == QtCore.QEvent.Show and self._stale:
            self.flush()
        return False
