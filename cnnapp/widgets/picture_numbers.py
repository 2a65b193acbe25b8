"""The numbers behind every picture: a heatmap's values as tab-separated text (it pastes into a
spreadsheet as a table), on the clipboard or in a table to read and select from.

* :func:`tsv` writes one 2-D array (rows on lines, columns between tabs, every float32 exactly:
  nine significant digits), :func:`tsv_blocks` several, each under its name.
* :class:`NumbersDialog` shows planes of arrays as a table: choose the plane, copy the selection
  (Ctrl+C) or everything, and select an element for the view that opened it (the keyboard's way
  to pick a number a mouse would click).
* :func:`offer_numbers` gives any picture widget (a pyqtgraph image, the confusion matrix) the context
  menu and the Ctrl+C of a heatmap.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from .buttons import push_button

__all__ = ["tsv", "tsv_blocks", "copy_text", "copy_key", "NumbersDialog", "offer_numbers", "Plane"]


def _cell(v) -> str:
    v = float(v)
    return "" if math.isnan(v) else format(v, ".9g")


def tsv(array) -> str:
    """A 2-D array (a 1-D or 0-D one is one row) as lines of tab-separated numbers; NaN (a cell that is
    not there) is empty."""
    a = np.asarray(array, dtype=np.float64)
    a = a.reshape(1, -1) if a.ndim < 2 else a
    if a.ndim != 2:
        raise ValueError(f"a table has two dimensions, not {a.ndim}")
    return "\n".join("\t".join(_cell(v) for v in row) for row in a) + "\n"


def tsv_blocks(blocks) -> str:
    """``[(name, 2-D array), ...]`` as tables one below the other, each under its name, a blank line between."""
    return "\n".join(f"{name}\n{tsv(a)}" for name, a in blocks)


def copy_text(text: str) -> None:
    QtWidgets.QApplication.clipboard().setText(text)


def copy_key(widget: QtWidgets.QWidget, slot, context=QtCore.Qt.WidgetWithChildrenShortcut) -> QtGui.QShortcut:
    """Ctrl+C on ``widget`` (and, by default, the widgets in it) calls ``slot``. Never a window-wide
    shortcut: each picture has its own, and two window-wide ones would cancel each other out."""
    sc = QtGui.QShortcut(QtGui.QKeySequence(QtGui.QKeySequence.Copy), widget)
    sc.setContext(context)
    sc.activated.connect(slot)
    return sc


class Plane:
    """One 2-D plane of an array to show as a table: ``name`` ("L0.z channel 3"), ``values`` 2-D,
    ``key`` and ``prefix`` (the indices before the plane's row and column; ``index_of`` gives an
    element's full index)."""

    def __init__(self, name: str, values, key: str = "", prefix: tuple = (), flat_shape: tuple | None = None):
        self.name, self.key, self.prefix = name, key, tuple(prefix)
        self.values = np.asarray(values, dtype=np.float64)
        self.flat_shape = flat_shape        # a vector drawn in rows: the array's own shape

    def index_of(self, r: int, c: int) -> tuple | None:
        if self.flat_shape is not None:
            flat = r * self.values.shape[1] + c
            n = int(np.prod(self.flat_shape)) if self.flat_shape else 1
            return tuple(int(i) for i in np.unravel_index(flat, self.flat_shape)) if flat < n else None
        return self.prefix + (int(r), int(c))


class NumbersDialog(QtWidgets.QDialog):
    """The numbers of ``planes`` (:class:`Plane`) as a table, plane ``start`` first. Signal
    ``chosen(key, index)``: Select this element (Return on a cell)."""
    chosen = QtCore.Signal(str, object)

    def __init__(self, planes: list, start: int = 0, parent=None, selectable: bool = True):
        super().__init__(parent)
        self.setObjectName("numbersDialog")
        self.setWindowTitle("The numbers behind the picture")
        self.planes = list(planes)
        self.which = QtWidgets.QComboBox()
        self.which.setObjectName("numbersPlane")
        self.which.setAccessibleName("Which map")
        self.which.setToolTip("The map whose numbers the table shows")
        self.which.addItems([p.name for p in self.planes])
        self.table = QtWidgets.QTableWidget()
        self.table.setTabKeyNavigation(False)    # (Tab leaves the table; the arrows move in it)
        self.table.setObjectName("numbersTable")
        self.table.setAccessibleName("The map's numbers")
        self.table.setAccessibleDescription("One cell per element: rows and columns as in the picture. "
                                            "Ctrl+C copies the cells selected, tab-separated")
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.copy_button = push_button("&Copy", "numbersCopy", "Copy the cells selected (all of them when none is), "
                                       "tab-separated for a spreadsheet (Ctrl+C)", slot=self.copy)
        self.select_button = push_button("&Select this element", "numbersSelect", "Select the current cell's "
                                         "element in the picture, as a click would (Return)", slot=self.choose)
        self.select_button.setVisible(selectable)
        close = push_button("Close", "numbersClose", "Close the table (Esc)", slot=self.accept)
        for b in (self.copy_button, self.select_button, close):
            b.setAutoDefault(False)
        copy_key(self.table, self.copy, QtCore.Qt.WidgetShortcut)
        self.table.activated.connect(lambda *_: selectable and self.choose())
        lay = QtWidgets.QVBoxLayout(self)
        top = QtWidgets.QHBoxLayout()
        label = QtWidgets.QLabel("&Map:")
        label.setBuddy(self.which)
        top.addWidget(label)
        top.addWidget(self.which, 1)
        lay.addLayout(top)
        lay.addWidget(self.table, 1)
        row = QtWidgets.QHBoxLayout()
        for b in (self.copy_button, self.select_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(close)
        lay.addLayout(row)
        self.which.currentIndexChanged.connect(self._fill)
        self.which.setCurrentIndex(max(0, min(start, len(self.planes) - 1)))
        self._fill(self.which.currentIndex())
        self.which.setVisible(len(self.planes) > 1)
        label.setVisible(len(self.planes) > 1)
        self.resize(720, 520)
        self.table.setFocus()

    @property
    def plane(self) -> Plane:
        return self.planes[self.which.currentIndex()]

    def _fill(self, k: int) -> None:
        if not 0 <= k < len(self.planes):
            return
        a = self.planes[k].values
        self.table.clear()
        self.table.setRowCount(a.shape[0])
        self.table.setColumnCount(a.shape[1])
        for (r, c), v in np.ndenumerate(a):
            item = QtWidgets.QTableWidgetItem(_cell(v))
            item.setTextAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
            self.table.setItem(r, c, item)
        self.table.setVerticalHeaderLabels([str(r) for r in range(a.shape[0])])
        self.table.setHorizontalHeaderLabels([str(c) for c in range(a.shape[1])])
        self.table.resizeColumnsToContents()
        self.table.setCurrentCell(0, 0)

    def selected_text(self) -> str:
        """The cells selected (their bounding rectangle; cells left out are empty), or the whole plane."""
        a = self.plane.values
        cells = [(i.row(), i.column()) for i in self.table.selectedIndexes()]
        if len(cells) <= 1:
            return tsv(a)
        rows, cols = zip(*cells)
        block = np.full((max(rows) - min(rows) + 1, max(cols) - min(cols) + 1), np.nan)
        for r, c in cells:
            block[r - min(rows), c - min(cols)] = a[r, c]
        return tsv(block)

    def copy(self) -> str:
        text = self.selected_text()
        copy_text(text)
        return text

    def choose(self) -> None:
        r, c = self.table.currentRow(), self.table.currentColumn()
        index = self.plane.index_of(r, c) if r >= 0 and c >= 0 else None
        if index is not None and self.plane.key:
            self.chosen.emit(self.plane.key, index)


def offer_numbers(widget: QtWidgets.QWidget, planes) -> None:
    """Give ``widget`` (a picture) a context menu and Ctrl+C with its numbers: ``planes()`` returns
    the :class:`Plane` list it shows now (empty: nothing to copy)."""
    def copy_all() -> None:
        shown = planes()
        if shown:
            copy_text(tsv_blocks([(p.name, p.values) for p in shown]) if len(shown) > 1 else tsv(shown[0].values))

    def table() -> None:
        shown = planes()
        if shown:
            dialog = NumbersDialog(shown, parent=widget.window(), selectable=False)
            dialog.setAttribute(QtCore.Qt.WA_DeleteOnClose)
            dialog.open()

    def menu(pos) -> None:
        m = QtWidgets.QMenu(widget)
        m.addAction("Copy the numbers (tab-separated)", copy_all).setShortcut(QtGui.QKeySequence.Copy)
        m.addAction("Show the numbers as a table…", table)
        m.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        m.popup(widget.mapToGlobal(pos))

    widget.setContextMenuPolicy(QtCore.Qt.CustomContextMenu)
    widget.customContextMenuRequested.connect(menu)
    copy_key(widget, copy_all)
    widget.copy_numbers = copy_all          # what the menu does, for the keyboard and for tests
    widget.show_numbers = table
    if widget.focusPolicy() == QtCore.Qt.NoFocus:
        widget.setFocusPolicy(QtCore.Qt.TabFocus)      # Ctrl+C and the menu key need the focus
