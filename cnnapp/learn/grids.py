"""Small arrays shown as grids of numbers, optionally editable, with highlighted cells.

:class:`NumberGrid` is one 2-D plane (a ``QTableWidget``); :class:`ArrayView`
lays out the planes of a 0-D…4-D array under a caption (maps side by side,
filters as rows of channels) and speaks in full array indices.
Cell colours are a pale tint of the app's signed colour scale (blue–white–red, or the
colour-blind-safe one; so the numbers stay readable); highlighted cells get an orange frame, chosen
cells (a max-pool winner) a filled orange corner.
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from cnncore.terms import ROUNDING_NOTE, digits_of, zero_up_to_rounding

from ..widgets.heatmap import lut_for
from ..widgets.flow_layout import FlowLayout
from ..widgets.font_fit import ems, follow_font, lines
from ..widgets.picture_numbers import Plane, offer_numbers

__all__ = ["NumberGrid", "ArrayView", "fmt", "FilledWhenShown"]

_HILITE = QtGui.QColor(255, 140, 0)
_CELL_W, _CELL_H = 10.3, 1.85        # a cell's least width (average characters) and height (lines)


def fmt(v) -> str:
    """A number of a grid or a table: 4 significant digits (every one kept where it is rounded, as the
    written sums have them, :func:`cnncore.terms.digits_of`), 3 in powers of ten past 10⁴ or below 10⁻³,
    with the minus sign of the equations."""
    v = float(v)
    if v == 0:
        return "0"
    text = f"{v:.2e}" if not 1e-3 <= abs(float(f"{v:.4g}")) < 1e4 else digits_of(v, 4)    # (9999.6 rounds to 1e4)
    return text.replace("-", "−")


def _tint(v: float, scale: float) -> QtGui.QColor:
    """A pale tint of the app's signed colour scale (:func:`cnnapp.widgets.heatmap.lut_for`, so it follows
    the colour-blind-safe setting): white at zero, deeper towards ±scale."""
    if not np.isfinite(v) or scale <= 0 or v == 0:
        return QtGui.QColor(255, 255, 255)
    t = max(-1.0, min(1.0, v / scale))
    r, g, b = (int(c) for c in lut_for(True)[int(round(127.5 + 127.5 * t))][:3])
    k = 0.45                               # how much of the scale's colour; the rest is white
    return QtGui.QColor(*(int(round(255 - k * (255 - c))) for c in (r, g, b)))


class _Delegate(QtWidgets.QStyledItemDelegate):
    def __init__(self, grid):
        super().__init__(grid)
        self.grid = grid

    def paint(self, painter, option, index):
        super().paint(painter, option, index)
        cell = (index.row(), index.column())
        if cell in self.grid._chosen:
            painter.save()
            r = option.rect
            painter.setPen(QtCore.Qt.NoPen)
            painter.setBrush(_HILITE)
            painter.drawPolygon(QtGui.QPolygon([r.topRight() + QtCore.QPoint(-9, 0), r.topRight(),
                                                r.topRight() + QtCore.QPoint(0, 9)]))
            painter.restore()
        if cell in self.grid._highlight:
            painter.save()
            painter.setPen(QtGui.QPen(_HILITE, 2.5))
            painter.setBrush(QtCore.Qt.NoBrush)
            painter.drawRect(option.rect.adjusted(1, 1, -2, -2))
            painter.restore()


class NumberGrid(QtWidgets.QTableWidget):
    """One 2-D plane of numbers.

    Signals: ``edited(row, col, value)`` after the learner typed a valid number
    (editable grids only); ``picked(row, col)`` when a cell is clicked.
    """

    edited = QtCore.Signal(int, int, float)
    picked = QtCore.Signal(int, int)

    def __init__(self, editable=False, parent=None):
        super().__init__(parent)
        self.editable = editable
        self._values = np.zeros((0, 0))
        self._highlight: set = set()
        self._chosen: set = set()
        self._scale = 1.0
        self._cell_w = 0
        self._filling = False
        self.setItemDelegate(_Delegate(self))
        follow_font(self, self._refit)
        self.horizontalHeader().setVisible(False)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setMinimumSectionSize(20)
        self.verticalHeader().setMinimumSectionSize(16)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.setEditTriggers(QtWidgets.QAbstractItemView.DoubleClicked
                             | QtWidgets.QAbstractItemView.EditKeyPressed
                             | QtWidgets.QAbstractItemView.AnyKeyPressed
                             if editable else QtWidgets.QAbstractItemView.NoEditTriggers)
        self.setSizePolicy(QtWidgets.QSizePolicy.Fixed, QtWidgets.QSizePolicy.Fixed)
        self.setStyleSheet("QTableWidget { gridline-color: #c9cfdb; }")
        self.itemChanged.connect(self._on_item_changed)
        self.cellClicked.connect(lambda r, c: self.picked.emit(r, c))
        offer_numbers(self, lambda: [Plane(self.accessibleName() or "numbers", self._values)])

    def keyPressEvent(self, ev) -> None:
        if ev.matches(QtGui.QKeySequence.Copy):      # the whole plane, not the current cell alone
            self.copy_numbers()
        else:
            super().keyPressEvent(ev)

    def values(self) -> np.ndarray:
        return self._values.copy()

    def set_values(self, a, scale=None) -> None:
        a = np.atleast_2d(np.asarray(a, dtype=np.float64))
        self._values = a.copy()
        finite = a[np.isfinite(a)]
        self._scale = float(scale) if scale else (float(np.abs(finite).max()) if finite.size else 1.0)
        self._filling = True
        try:
            texts = [[self._text(v) for v in row] for row in a]
            cell_w = self._cell_width(texts)
            if self.rowCount() != a.shape[0] or self.columnCount() != a.shape[1] or self._cell_w != cell_w:
                self.setRowCount(a.shape[0])
                self.setColumnCount(a.shape[1])
                for c in range(a.shape[1]):
                    self.setColumnWidth(c, cell_w)
                for r in range(a.shape[0]):
                    self.setRowHeight(r, lines(self, _CELL_H))
                self.setFixedSize(a.shape[1] * cell_w + 2 * self.frameWidth(),
                                  a.shape[0] * lines(self, _CELL_H) + 2 * self.frameWidth())
                self._cell_w = cell_w
            for r in range(a.shape[0]):
                for c in range(a.shape[1]):
                    it = self.item(r, c)
                    if it is None:
                        it = QtWidgets.QTableWidgetItem()
                        it.setTextAlignment(QtCore.Qt.AlignCenter)
                        flags = QtCore.Qt.ItemIsEnabled | QtCore.Qt.ItemIsSelectable
                        if self.editable:
                            flags |= QtCore.Qt.ItemIsEditable
                        it.setFlags(flags)
                        self.setItem(r, c, it)
                    it.setText(texts[r][c])
                    it.setBackground(_tint(a[r, c], self._scale))
                    it.setToolTip(self._tip(a[r, c]))
        finally:
            self._filling = False
        self.viewport().update()

    def _rounds_to_zero(self, v) -> bool:
        """A computed number that is 0 up to rounding beside the grid's largest (never a typed one)."""
        return not self.editable and zero_up_to_rounding(float(v), self._scale)

    def _text(self, v) -> str:
        return "0" if self._rounds_to_zero(v) else fmt(v)

    def _tip(self, v) -> str:
        exact = repr(float(v))
        return f"{exact}: {ROUNDING_NOTE}" if self._rounds_to_zero(v) else exact

    def _refit(self) -> None:
        """The cells again for a new font (a zoom): as wide and high as its numbers need."""
        if self._values.size:
            self._cell_w = 0
            self.set_values(self._values, self._scale)

    def _cell_width(self, texts) -> int:
        """Columns wide enough for the longest number (never cut to "-1.95e-…")."""
        fm = self.fontMetrics()
        widest = max((fm.horizontalAdvance(t) for row in texts for t in row), default=0)
        return max(ems(self, _CELL_W), widest + ems(self, 2.3))

    def set_marks(self, highlight=(), chosen=()) -> None:
        self._highlight = set(highlight)
        self._chosen = set(chosen)
        self.viewport().update()

    def highlighted(self) -> set:
        return set(self._highlight)

    def _on_item_changed(self, item):
        if self._filling:
            return
        r, c = item.row(), item.column()
        text = item.text().strip().replace("−", "-").replace(",", ".")
        try:
            v = float(text)
            if not np.isfinite(v):
                raise ValueError
        except ValueError:
            self._filling = True
            item.setText(fmt(self._values[r, c]))
            self._filling = False
            return
        self._values[r, c] = v
        self.edited.emit(r, c, v)


class ArrayView(QtWidgets.QWidget):
    """A caption and the planes of one array, in full-index terms.

    ``(H, W)`` → one grid; ``(C, H, W)`` → C grids side by side ("map m");
    ``(F, C, KH, KW)`` → F rows of C grids ("filter n, channel m");
    ``(K,)`` → one row; a scalar → one cell.
    Signals: ``edited(index, value)``, ``picked(index)``.
    """

    edited = QtCore.Signal(object, float)
    picked = QtCore.Signal(object)

    def __init__(self, name: str, caption: str, editable=False, plane_label=None, parent=None):
        super().__init__(parent)
        self.name = name
        self.editable = editable
        self.plane_label = plane_label
        self.setObjectName(f"array_{name}")
        self._shape = None
        self._grids: dict = {}
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.caption = QtWidgets.QLabel(caption)
        f = self.caption.font()
        f.setBold(True)
        self.caption.setFont(f)
        lay.addWidget(self.caption)
        self._body = None           # the grids: a flow of maps (3-D), else rows and columns (4-D: filters)

    def grids(self) -> dict:
        """``plane prefix -> NumberGrid``."""
        return dict(self._grids)

    def cell_words(self, index) -> str:
        """Where element ``index`` is, as the grids are captioned: "filter 1, channel 0, row 0, column 2"
        (the array's own order, which a status line printed as [1, 0, 0, 2] beside "w(m, n, ·, ·)")."""
        index = tuple(int(i) for i in index)
        if not index:
            return ""
        if len(index) == 1:
            return f"number {index[0]}"
        plane = self._label(index[:-2], len(index)) if len(index) > 2 else ""
        return ", ".join(w for w in (plane, f"row {index[-2]}, column {index[-1]}") if w)

    def _label(self, prefix, ndim):
        if self.plane_label is not None:
            return self.plane_label(prefix)
        if ndim == 3:
            return f"map {prefix[0]}"
        if ndim == 4:
            return f"filter {prefix[0]}, channel {prefix[1]}"
        return ""

    def _build(self, shape):
        if self._body is not None:
            self._body.setParent(None)
            self._body.deleteLater()
        self._grids = {}
        nd = len(shape)
        self._body = QtWidgets.QWidget()
        if nd == 3:                 # maps side by side, on more lines in a narrow column
            layout = FlowLayout(self._body, spacing=10, line_spacing=2)
        else:
            layout = QtWidgets.QGridLayout(self._body)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.setHorizontalSpacing(10)
            layout.setVerticalSpacing(2)
        self.layout().addWidget(self._body)
        if nd <= 2:
            prefixes = [((), 0, 0)]
        elif nd == 3:
            prefixes = [((m,), 0, m) for m in range(shape[0])]
        else:
            prefixes = [((n, m), n, m) for n in range(shape[0]) for m in range(shape[1])]
        for prefix, row, col in prefixes:
            box = QtWidgets.QWidget()
            bl = QtWidgets.QVBoxLayout(box)
            bl.setContentsMargins(0, 0, 0, 0)
            bl.setSpacing(1)
            text = self._label(prefix, nd)
            if text:
                lab = QtWidgets.QLabel(text)
                lab.setStyleSheet("color: #555;")
                bl.addWidget(lab)
            g = NumberGrid(self.editable)
            g.setObjectName(f"grid_{self.name}_{'_'.join(map(str, prefix))}")
            g.setAccessibleName(" ".join(t for t in (self.caption.text(), text) if t) or self.name)
            g.edited.connect(lambda r, c, v, p=prefix: self.edited.emit(self._full(p, r, c), v))
            g.picked.connect(lambda r, c, p=prefix: self.picked.emit(self._full(p, r, c)))
            bl.addWidget(g)
            if nd == 3:
                layout.addWidget(box)
            else:
                layout.addWidget(box, row, col, QtCore.Qt.AlignTop | QtCore.Qt.AlignLeft)
            self._grids[prefix] = g
        self._shape = tuple(shape)

    def _full(self, prefix, r, c):
        nd = len(self._shape)
        if nd == 0:
            return ()
        if nd == 1:
            return (c,)
        return tuple(prefix) + (r, c)

    def set_array(self, a) -> None:
        a = np.asarray(a, dtype=np.float64)
        if a.shape != self._shape:
            self._build(a.shape)
        scale = float(np.abs(a[np.isfinite(a)]).max()) if a.size and np.isfinite(a).any() else 1.0
        for prefix, g in self._grids.items():
            plane = a[prefix] if prefix else a
            g.set_values(np.reshape(plane, (1, -1)) if plane.ndim < 2 else plane, scale or 1.0)

    def set_marks(self, highlight=(), chosen=()) -> None:
        """Frame the cells at these full indices; mark ``chosen`` ones as winners."""
        per = {p: (set(), set()) for p in self._grids}
        nd = len(self._shape or ())
        for which, idxs in ((0, highlight), (1, chosen)):
            for idx in idxs:
                idx = tuple(idx)
                if nd <= 1:
                    p, cell = (), (0, idx[0] if idx else 0)
                else:
                    p, cell = idx[:-2], idx[-2:]
                if p in per:
                    per[p][which].add(cell)
        for p, g in self._grids.items():
            g.set_marks(*per[p])


class FilledWhenShown:
    """Mixin (before the Qt class) for a view whose many widgets wait until it is first shown:
    set ``pending = True`` and :meth:`fill` runs at the next show (or call :meth:`fill_now`)."""

    pending = False

    def fill(self) -> None:
        raise NotImplementedError

    def fill_now(self) -> None:
        if self.pending:
            self.pending = False
            self.fill()

    def showEvent(self, ev):
        super().showEvent(ev)
        self.fill_now()
