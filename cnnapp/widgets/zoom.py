"""The window's zoom for a projector: Ctrl+= (or Ctrl++), Ctrl+− and Ctrl+0, and Ctrl+wheel, draw the
current tab's maps and text larger or smaller (:class:`cnnapp.state.zoom.Zoom` keeps each tab's factor).

Maps (every :class:`~cnnapp.widgets.heatmap.MapGrid`) are drawn ``factor`` times their size with their
titles; every other widget's text (labels, buttons, boxes, tables, lists, and the plots, whose titles,
axes and legends follow their font: :class:`~cnnapp.widgets.plot_base.Plot`) is set ``factor`` times the
size it was made at, and the controls that hold it grow with it: their sizes come from their fonts
(:mod:`.font_fit`). Text in the app's font is zoomed from it as it is now, follows it when it changes
(the desktop's settings) and takes it back at 100 %; text in a font of its own (a heading, a larger
caption) keeps its size as a share of the app's font, and follows it too. A page larger than the window
scrolls (the window's own scroll area). Widgets made after a zoom take it the next time the tab is shown
or zoomed.
"""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ..state.zoom import Zoom
from .heatmap import MapGrid

__all__ = ["TabZoomer"]

_BASE = "cnnZoomBase"          # the widget's own font size, kept on it the first time it is zoomed (0: the app's)
_MADE_AT = "cnnZoomAppBase"    # the app's font size then (its own size follows the app's from it)


class TabZoomer(QtCore.QObject):
    """Zooms the current page of ``tabs`` (pages named ``names`` in order) and the widgets ``beside``
    it (a dock: the lesson's note) with the factor of ``zoom``."""

    def __init__(self, window: QtWidgets.QWidget, tabs: QtWidgets.QTabWidget, names, zoom: Zoom | None = None,
                 beside=()):
        super().__init__(window)
        self.tabs, self.names, self.zoom = tabs, list(names), zoom or Zoom()
        self.beside = list(beside)
        for keys, slot in ((QtGui.QKeySequence.ZoomIn, self.zoom_in), ("Ctrl+=", self.zoom_in),
                           (QtGui.QKeySequence.ZoomOut, self.zoom_out), ("Ctrl+0", self.reset)):
            sc = QtGui.QShortcut(QtGui.QKeySequence(keys), window)
            sc.setContext(QtCore.Qt.WindowShortcut)
            sc.activated.connect(slot)
        tabs.currentChanged.connect(lambda k: self.apply())
        self.zoom.changed.connect(lambda tab, f: tab == self.current() and self.apply())
        self._filtered: set = set()
        self._app_size = _size(QtWidgets.QApplication.font())
        self._note_sizes(tabs)
        window.installEventFilter(self)        # (another font for the app: the tab's text zoomed from it)

    def current(self) -> str:
        k = self.tabs.currentIndex()
        return self.names[k] if 0 <= k < len(self.names) else ""

    def factor(self) -> float:
        return self.zoom.factor(self.current())

    def zoom_in(self) -> float:
        return self._said(self.zoom.zoom_in(self.current()))

    def zoom_out(self) -> float:
        return self._said(self.zoom.zoom_out(self.current()))

    def reset(self) -> float:
        return self._said(self.zoom.reset(self.current()))

    def _said(self, factor: float) -> float:
        window = self.parent()
        if hasattr(window, "show_message"):
            window.show_message(f"Zoom {factor:.0%} on this tab (Ctrl+= larger, Ctrl+− smaller, Ctrl+0 as made)", 3000)
        return factor

    def apply(self) -> None:
        """Draw the current page (and the widgets beside it) at its tab's factor."""
        page, factor = self.tabs.currentWidget(), self.factor()
        for root in [page, *self.beside]:
            if root is not None:
                self._zoom_tree(root, factor)

    def apply_all(self) -> None:
        """Every page at its tab's factor (another font for the app: each follows it now, not when shown)."""
        for k, name in enumerate(self.names):
            if self.tabs.widget(k) is not None:
                self._zoom_tree(self.tabs.widget(k), self.zoom.factor(name))
        for root in self.beside:
            self._zoom_tree(root, self.factor())

    def _zoom_tree(self, root: QtWidgets.QWidget, factor: float) -> None:
        self._watch(root)
        grids = root.findChildren(MapGrid)
        for grid in grids:              # its font as made (inside a zoomed page it drew its titles zoomed twice)
            base_size(grid)
            unzoomed = unzoomed_font(grid)
            if unzoomed != grid.font() or not grid.testAttribute(QtCore.Qt.WA_SetFont):
                grid.setFont(unzoomed)          # (its own: not its zoomed parent's)
            grid.set_zoom(factor)
        inside = {id(w) for g in grids for w in [g, *g.findChildren(QtWidgets.QWidget)]}
        every = [root, *root.findChildren(QtWidgets.QWidget)]
        for w in every:
            if isinstance(w, QtWidgets.QAbstractScrollArea):
                self._watch(w.viewport())
        widgets = [w for w in every if id(w) not in inside]
        for w in widgets:                  # each one's size as made, a parent's before its children's
            base_size(w)
        changed = [w for w in reversed(widgets) if scale_font(w, factor)]  # (children first: a parent
        # fitted to its font sees them zoomed)
        for w in changed:
            if isinstance(w, QtWidgets.QComboBox):   # Qt keeps its least size of the old font till a style
                # change (after its parent's font: back at 100 % from 400 %, Learn's example list asked 1,319 px)
                QtWidgets.QApplication.sendEvent(w, QtCore.QEvent(QtCore.QEvent.StyleChange))

    def _note_sizes(self, root: QtWidgets.QWidget) -> None:
        """Every widget's font size as made, against the app's font as it was (:attr:`_app_size`), before
        another font for the app is followed: a heading made 12 pt at a 9 pt app font is 16 pt at 12 pt."""
        for r in [root, *self.beside]:
            for w in [r, *r.findChildren(QtWidgets.QWidget)]:
                base_size(w, self._app_size)

    def _watch(self, w: QtWidgets.QWidget) -> None:
        if id(w) not in self._filtered:
            self._filtered.add(id(w))
            w.installEventFilter(self)
            w.destroyed.connect(lambda *_, k=id(w): self._filtered.discard(k))

    def eventFilter(self, obj, ev) -> bool:
        if ev.type() == QtCore.QEvent.ApplicationFontChange and obj is self.parent():
            self._note_sizes(self.tabs)        # (widgets not zoomed yet: made at the old font)
            self._app_size = _size(QtWidgets.QApplication.font())
            QtCore.QTimer.singleShot(0, self, self.apply_all)      # (once every widget has taken the new font)
            return False
        if ev.type() == QtCore.QEvent.Wheel and ev.modifiers() & QtCore.Qt.ControlModifier:
            dy = ev.angleDelta().y()
            if dy:
                self.zoom_in() if dy > 0 else self.zoom_out()
            return True
        return False


def base_size(w: QtWidgets.QWidget, app: float | None = None) -> float:
    """``w``'s font size as made (points; a negative number: pixels; 0: the app's font, whatever it is
    now), kept on it the first time it is zoomed, with the app's font size then (``app``, or the app's
    font for ``w`` now). A widget that sets no font of its own has its parent's (a widget made after a
    zoom: the parent's as made), or the app's."""
    base = w.property(_BASE)
    if base is None:
        parent = w.parentWidget()
        made_at = _size(QtWidgets.QApplication.font(w)) if app is None else app
        if w.testAttribute(QtCore.Qt.WA_SetFont):
            base = _size(w.font())
        elif parent is not None and parent.property(_BASE) is not None:
            base, made_at = parent.property(_BASE), parent.property(_MADE_AT)
        else:
            base = 0.0
        w.setProperty(_BASE, base)
        w.setProperty(_MADE_AT, made_at)
    return base


def _own_size(w: QtWidgets.QWidget, base: float) -> float:
    """A font of its own's size as made, ``base``, followed as a share of the app's font: its size at 100 %."""
    made_at, now = w.property(_MADE_AT), _size(QtWidgets.QApplication.font(w))
    if base > 0 and made_at and made_at > 0 and now > 0:
        return base * now / made_at
    return base


def unzoomed_font(w: QtWidgets.QWidget) -> QtGui.QFont:
    """The font ``w`` has at 100 % (its own as made, followed as a share of the app's; or the app's)."""
    base = base_size(w)
    if not base:
        return QtGui.QFont(QtWidgets.QApplication.font(w))
    f = QtGui.QFont(w.font())
    _set_size(f, _own_size(w, base))
    return f


def zoom_of(w: QtWidgets.QWidget) -> float:
    """How many times its size as made ``w``'s font is now: 1 where it was never zoomed."""
    base = w.property(_BASE)
    if base is None:
        return 1.0
    return _size(w.font()) / (_own_size(w, base) if base else _size(QtWidgets.QApplication.font(w)))


def scale_font(w: QtWidgets.QWidget, factor: float) -> bool:
    """Set ``w``'s font ``factor`` times its size as made (:func:`base_size`, a font of its own followed
    as a share of the app's); text in the app's font at 100 % takes the app's font back, to follow it (a
    larger font for the app, then another tab shown, put the old size back). Whether it changed."""
    base = base_size(w)
    if not base and factor == 1.0:
        if w.testAttribute(QtCore.Qt.WA_SetFont):
            w.setFont(QtGui.QFont())               # (an empty font: the app's again, and its changes)
            return True
        return False
    f = QtGui.QFont(w.font() if base else QtWidgets.QApplication.font(w))
    _set_size(f, (_own_size(w, base) if base else _size(f)) * factor)
    if f != w.font():
        w.setFont(f)
        return True
    return False


def _size(f: QtGui.QFont) -> float:
    return f.pointSizeF() if f.pointSizeF() > 0 else -float(f.pixelSize())


def _set_size(f: QtGui.QFont, size: float) -> None:
    if size > 0:
        f.setPointSizeF(size)
    else:
        f.setPixelSize(max(1, int(round(-size))))
