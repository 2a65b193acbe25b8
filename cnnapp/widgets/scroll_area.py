"""One way to make a part of a view scroll: :func:`scroll_area`."""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from .zoom import zoom_of

__all__ = ["scroll_area", "ShrinksToItsScroll", "DownScroll", "WindowScroll"]


def scroll_area(widget: QtWidgets.QWidget, name: str, accessible: str, *, across: bool = False,
                down: bool = True, focus: bool = True, kind=None) -> QtWidgets.QScrollArea:
    """``widget`` in a frameless scroll area that sizes it to its viewport, named ``name`` (its
    object name) and ``accessible`` (for a screen reader); it scrolls ``across`` and ``down`` where
    asked (a column of controls down only; lines of code across only), and takes the keyboard's
    focus unless ``focus`` is False (Tab then goes straight to what it holds); ``kind``: its class (by
    default one that scrolls down only is a :class:`DownScroll`, as wide as what it holds)."""
    kind = kind or (DownScroll if down and not across else QtWidgets.QScrollArea)
    area = kind()
    area.setObjectName(name)
    area.setAccessibleName(accessible)
    area.setWidgetResizable(True)
    area.setFrameShape(QtWidgets.QFrame.NoFrame)
    if not across:
        area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
    if not down:
        area.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
    if not focus:
        area.setFocusPolicy(QtCore.Qt.NoFocus)
    area.setWidget(widget)
    return area


class ShrinksToItsScroll:
    """A mixin for a widget that a resizable scroll area holds and whose own parts scroll (a text, a
    list): at a width it asks for its least height, not for every wrapped line at full size, so the
    area gives it the viewport's height and scrolls only where even the least does not fit. (A word-
    wrapped label made the lesson's panel ask for 699 px in a 583 px dock at 1024×640, its Answer and
    Next buttons below the fold.)"""

    def heightForWidth(self, width: int) -> int:
        layout = self.layout()
        return layout.totalMinimumHeightForWidth(width) if layout is not None else super().heightForWidth(width)


class DownScroll(QtWidgets.QScrollArea):
    """A scroll area that scrolls down only, at least as wide as what it holds asks (narrower, it cut it
    at the right: zoomed to 300 %, the Draw tab's answer and the Learn tab's sums lost their last letters)."""

    def setWidget(self, widget: QtWidgets.QWidget) -> None:
        super().setWidget(widget)
        widget.installEventFilter(self)

    def eventFilter(self, obj, ev) -> bool:
        if obj is self.widget() and ev.type() == QtCore.QEvent.LayoutRequest:
            self.updateGeometry()              # (what it holds asks for another width: so does the area)
        return super().eventFilter(obj, ev)

    def minimumSizeHint(self) -> QtCore.QSize:
        hint = super().minimumSizeHint()
        inner = self.widget()
        if inner is None:
            return hint
        need = (inner.minimumSizeHint().expandedTo(inner.minimumSize()).width()
                + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth())
        return QtCore.QSize(max(hint.width(), need), hint.height())


class WindowScroll(QtWidgets.QScrollArea):
    """The window's own scroll area: at least as large as its tabs ask (a dock beside takes only the
    rest), but never more than most of the screen (or of a 1024×640 one): a page zoomed past it scrolls.
    A zoomed page whose lines wrap is as tall as they need at its width (Qt sized it to its least height
    with every line unwrapped: at 400 % the Backprop tab's words and step buttons were cut in half)."""

    def setWidget(self, widget: QtWidgets.QWidget) -> None:
        super().setWidget(widget)
        self._fitting = QtCore.QTimer(self, singleShot=True, interval=0)     # (once the layouts are done)
        self._fitting.timeout.connect(self._fit_height)
        widget.installEventFilter(self)
        if isinstance(widget, QtWidgets.QTabWidget):
            for k in range(widget.count()):
                widget.widget(k).installEventFilter(self)
            widget.currentChanged.connect(lambda _: self._fitting.start())

    def eventFilter(self, obj, ev) -> bool:
        if ev.type() in (QtCore.QEvent.Resize, QtCore.QEvent.LayoutRequest) and hasattr(self, "_fitting"):
            self._fitting.start()
        return super().eventFilter(obj, ev)

    def _fit_height(self) -> None:
        """The tabs at least as tall as a zoomed page's wrapped lines need at its width. (Not at 100 %,
        laid out to fit: Qt's least height for a width counts a page of tabs at its preferred height.)"""
        tabs = self.widget()
        page = tabs.currentWidget() if isinstance(tabs, QtWidgets.QTabWidget) else None
        lay = page.layout() if page is not None else None
        need = 0
        if lay is not None and lay.hasHeightForWidth() and page.width() > 0 and tabs.height() > page.height() \
                and zoom_of(page) > 1.0:
            need = lay.totalMinimumHeightForWidth(page.width()) + tabs.height() - page.height()
        if need != tabs.minimumHeight():
            tabs.setMinimumHeight(need)

    def minimumSizeHint(self) -> QtCore.QSize:
        need = self.widget().minimumSizeHint() if self.widget() is not None else QtCore.QSize()
        screen = self.screen() or QtGui.QGuiApplication.primaryScreen()
        room = (screen.availableSize() * 0.8).expandedTo(QtCore.QSize(760, 480)) if screen is not None else need
        return need.boundedTo(room)
