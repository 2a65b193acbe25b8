"""Redraws of a widget that follows a live stream (a training run's reports), paced for the GUI thread."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets


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


class FramePacer(QtCore.QObject):
    """Draws the parts of a live view one per frame, so that no frame holds the GUI thread long.

    ``parts`` maps a name to the function drawing that part (a plot, a label, a grid of maps), in the
    order they take turns. :meth:`mark` says a part has new data; every ``interval_ms`` the next marked
    part after the one drawn last is drawn, and nothing else. The window then repaints only that part,
    and between two frames the event loop is free for the user's input: a frame that drew every part
    at once (or a part drawn as each report arrives) held the GUI thread for 10 to 25 ms. While
    ``widget`` is hidden (another tab is on top) no frame is drawn; the marked parts are drawn in
    turn once it shows again. :meth:`flush` draws every marked part now (a run ended); :meth:`draw`
    one part now.
    """

    def __init__(self, widget: QtWidgets.QWidget, parts: dict, interval_ms: int = 40):
        super().__init__(widget)
        self._widget = widget
        self._parts = dict(parts)
        self._order = list(self._parts)
        self._marked: set[str] = set()
        self._next = 0                   # where the next frame starts looking: after the part drawn last
        self.frames_drawn = 0
        self._timer = QtCore.QTimer(self, singleShot=True, interval=interval_ms)
        self._timer.timeout.connect(self._frame)
        widget.installEventFilter(self)

    def mark(self, name: str) -> None:
        """Part ``name`` has new data: it is drawn in one of the next frames."""
        if name not in self._parts:
            raise KeyError(name)
        self._marked.add(name)
        if not self._timer.isActive():
            self._timer.start()

    def marked(self) -> set:
        """The parts with data not drawn yet."""
        return set(self._marked)

    def draw(self, name: str) -> None:
        """Draw part ``name`` now (whether marked or not)."""
        self._marked.discard(name)
        self._parts[name]()

    def flush(self) -> None:
        """Draw every marked part now, in order (shown or not). If one raises, the others are still
        drawn and the first error is raised after them."""
        self._timer.stop()
        error = None
        for name in self._order:
            if name in self._marked:
                try:
                    self.draw(name)
                except Exception as e:  # noqa: BLE001 - raised below, once every part had its turn
                    error = error or e
        if error is not None:
            raise error

    def _frame(self) -> None:
        if not self._widget.isVisible():
            return                       # drawn in turn when shown again (eventFilter)
        try:
            for k in range(len(self._order)):
                name = self._order[(self._next + k) % len(self._order)]
                if name in self._marked:
                    self._next = (self._next + k + 1) % len(self._order)
                    self.frames_drawn += 1
                    self.draw(name)
                    break
        finally:                         # a part that failed does not hold up the others
            if self._marked:
                self._timer.start()

    def eventFilter(self, obj, ev) -> bool:
        if obj is self._widget and ev.type() == QtCore.QEvent.Show and self._marked \
                and not self._timer.isActive():
            self._timer.start()
        return False
