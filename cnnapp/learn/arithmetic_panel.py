"""The sum behind one number, term by term, with the real values.

The backprop view calls :meth:`ArithmeticPanel.show_element` when a heatmap
pixel is clicked; the worked examples call :meth:`ArithmeticPanel.show_breakdown`.
All arithmetic comes from :mod:`cnncore.explain`; this widget only lays it out.
``highlightRequested`` carries ``{array key: set of indices}`` of every number
the element was computed from, so a map view can frame them.
"""
from __future__ import annotations

import html
import math
import re

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from cnncore import explain
from cnncore.terms import ROUNDING_NOTE
from cnncore.tracekeys import split_key

from cnnapp.widgets.equation import equation_label, formula_font, formula_html, has_marks

from .grids import fmt
from ..widgets.font_fit import follow_font, lines

__all__ = ["ArithmeticPanel"]

MAX_ROWS = 2000


def index_order_note(title: str, index) -> str:
    """Why a title's ``dW(m,n,i,j)`` and the array's ``[n, m, i, j]`` list the same numbers in
    another order ("" when they agree). The equations follow the texts (input channel m first);
    the arrays keep each filter's weights together (filter n first), as the kernels read them."""
    found = re.search(r"\(([\d,]+)\)\s*$", title)
    if not found:
        return ""
    shown = tuple(int(v) for v in found.group(1).split(","))
    stored = tuple(int(v) for v in index)[-len(shown):]
    if shown == stored or sorted(shown) != sorted(stored) or len(shown) != 4:
        return ""
    return (" — the same element: the equation writes (input channel m, filter n, row, column) "
            "as the texts do; the array keeps each filter's weights together, filter n first")


def term_row_height(table: QtWidgets.QWidget) -> int:
    """The height of a row of the terms table: a line of its font and room around it."""
    return lines(table, 1.6)


class ArithmeticPanel(QtWidgets.QWidget):
    """Title, general equation, the sum written out, a table of terms, and the check.

    Signals: ``highlightRequested(dict)`` with the sources of the shown element.
    """

    highlightRequested = QtCore.Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("arithmeticPanel")
        self.breakdown = None
        self._dtype = np.dtype(np.float64)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.title = QtWidgets.QLabel("Click a number to see how it was computed.")
        self.title.setObjectName("arithmeticTitle")
        self.title.setWordWrap(True)
        f = self.title.font()
        f.setBold(True)
        self.title.setFont(f)
        self.equation = equation_label("arithmeticEquation", padding=6)
        self.written = QtWidgets.QLabel("")
        self.written.setObjectName("arithmeticWritten")
        self.written.setWordWrap(True)
        self.written.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.written.setStyleSheet("QLabel { font-family: 'DejaVu Sans Mono', monospace; }")
        self.table = QtWidgets.QTableWidget(0, 4)
        self.table.setTabKeyNavigation(False)    # (Tab leaves the table; the arrows move in it)
        self.table.setObjectName("arithmeticTerms")
        self.table.setAccessibleName("The terms of the sum")
        self.table.setHorizontalHeaderLabels(["term", "numbers", "value", "comes from"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeToContents)
        hh.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeToContents)
        hh.setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeToContents)
        hh.setStretchLastSection(True)
        follow_font(self.table, lambda: self.table.verticalHeader().setDefaultSectionSize(term_row_height(self.table)))
        self.hide_zeros = QtWidgets.QCheckBox("Hide terms that are exactly 0")
        self.hide_zeros.setObjectName("arithmeticHideZeros")
        self.hide_zeros.setToolTip("Many terms vanish (a ReLU blocked the gradient, a window hung over the "
                                   "padding); hide them to see the ones that count.")
        self.hide_zeros.setChecked(True)
        # (never cut short: its size policy makes its text's width, in whatever font, its least width)
        self.hide_zeros.setSizePolicy(QtWidgets.QSizePolicy.Minimum, QtWidgets.QSizePolicy.Fixed)
        self.hide_zeros.toggled.connect(self._redraw)
        self.check = QtWidgets.QLabel("")
        self.check.setObjectName("arithmeticCheck")
        self.check.setWordWrap(True)
        self.notes = QtWidgets.QLabel("")
        self.notes.setObjectName("arithmeticNotes")
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(QtCore.Qt.RichText)       # escaped words, a formula's own face
        self.notes.setStyleSheet("color: #444;")
        for w in (self.title, self.equation, self.written):
            lay.addWidget(w)
        lay.addWidget(self.hide_zeros)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.check)
        lay.addWidget(self.notes)
        self.equation.hide()
        self.table.hide()
        self.hide_zeros.hide()

    # -------------------------------------------------------------- public
    def show_element(self, trace, step, key, index) -> None:
        """Explain ``trace.arrays[key][index]`` (index with or without the batch axis)."""
        bd = explain.breakdown(trace, key, tuple(index), step)
        at = f"[{', '.join(str(i) for i in index)}]"
        where = f"{key}{at}"
        if getattr(step, "kind", None) == "update" and split_key(key)[1] in ("W", "b"):
            where = f"{key}_next{at}, the new value of the {key}{at} clicked"   # (the update explains it)
        self.show_breakdown(bd, where=where + index_order_note(bd.title, index),
                            dtype=trace.arrays["input"].dtype)

    def clear(self) -> None:
        self.breakdown = None
        self.title.setText("Click a number to see how it was computed.")
        for w in (self.equation, self.written, self.check, self.notes):
            w.setText("")
        self.equation.hide()
        self.table.setRowCount(0)
        self.table.hide()
        self.hide_zeros.hide()

    def show_breakdown(self, bd, where: str = "", dtype=np.float64) -> None:
        """Lay out a :class:`cnncore.explain.Breakdown` (``None`` clears the panel); ``dtype`` is the
        float type its value was computed in."""
        if bd is None:
            self.clear()
            return
        self.breakdown = bd
        self._dtype = np.dtype(dtype)
        self.title.setText(bd.title + (f"   ({where})" if where else ""))
        self.equation.setText(bd.equation)
        self.equation.setVisible(bool(bd.equation))
        self._redraw()
        self.check.setText(self._check_text(bd, self._dtype))
        self.notes.setText(" ".join(formula_html(n) for n in bd.notes))
        self.highlightRequested.emit(bd.sources())

    def shown_terms(self) -> list:
        """The terms the table lists (zero terms dropped when hidden, except for a max)."""
        bd = self.breakdown
        if bd is None:
            return []
        if self.hide_zeros.isChecked() and bd.combine == "sum":
            return [t for t in bd.terms if t.value != 0]
        return list(bd.terms)

    def _redraw(self, *_):
        bd = self.breakdown
        if bd is None:
            return
        skip = self.hide_zeros.isChecked() and bd.combine == "sum"
        self.hide_zeros.setVisible(bd.combine == "sum" and any(t.value == 0 for t in bd.terms))
        self.written.setText(bd.written_out(digits=4, limit=10, skip_zero=skip))
        self._fill_table(bd)
        self.check.setText(self._check_text(bd, self._dtype))

    # -------------------------------------------------------------- layout
    def _fill_table(self, bd) -> None:
        terms = self.shown_terms()[:MAX_ROWS]
        self.table.setRowCount(len(terms))
        bold = QtGui.QFont(self.table.font())
        bold.setBold(True)
        grey = QtGui.QColor(140, 140, 140)
        winner = QtGui.QColor(255, 226, 190)
        for r, t in enumerate(terms):
            numbers = t.written(sep=" · ", fmt=fmt)
            src = ", ".join(f"{s.array}[{', '.join(map(str, s.index))}]" for s in t.sources if s is not None)
            if t.note:
                src = f"{src}  ({t.note})" if src else t.note
            cells = [t.label, numbers, fmt(t.value), src]
            for c, text in enumerate(cells):
                it = QtWidgets.QTableWidgetItem(text)
                if t.padding:
                    it.setForeground(grey)
                if t.chosen:
                    it.setBackground(winner)
                    it.setFont(bold)
                if has_marks(text):
                    it.setFont(formula_font(it.font() if t.chosen else self.table.font()))
                if c == 2:
                    it.setTextAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
                    it.setToolTip(repr(t.value))
                self.table.setItem(r, c, it)
        self.table.setVisible(len(terms) > 0)

    @staticmethod
    def _check_text(bd, dtype=np.float64) -> str:
        """The sum of the terms beside the kernels' value and their difference."""
        n = len(bd.terms)
        what = {"max": "Largest term", "norm": f"Square root of the sum of the {n} squares"}.get(
            bd.combine, "The one term" if n == 1 else f"Sum of the {n} terms")
        zeros = sum(t.value == 0 for t in bd.terms)
        shown = "" if n <= MAX_ROWS else f" (the table lists the first {MAX_ROWS})"
        if zeros and bd.combine == "sum" and n > 1:         # ("Sum of the term, 1 of them 0" said a ReLU's 0)
            shown += f", {zeros} of them 0"
        text = f"<b>{what}{shown}: {html.escape(_shown(bd, bd.total))}</b>"
        if bd.value is not None:
            err = bd.error
            ok = err <= _kernel_rounding(bd, dtype)
            text += (f" &nbsp; value computed by the kernels: {html.escape(_shown(bd, bd.value))}"
                     f" &nbsp; <span style='color:{'#1a7f37' if ok else '#b42318'}'>difference {err:.1e}</span>")
            if err and ok:
                kept = "float32 (about 7 digits)" if dtype == np.float32 else "float64 (about 16 digits)"
                text += (f"<br>The kernels add in {kept}, in an order of their own; this sum adds the same "
                         "numbers without rounding between terms: the two part in the last digits the kernels keep.")
        if any(bd.rounds_to_zero(v) for v in (bd.total, bd.value) if v is not None):
            text += f"<br>{html.escape(ROUNDING_NOTE)}."
        said = bd.rounding_said(4) if len(bd.terms) <= 10 else ""     # (all written out: a hand can add them)
        if said:
            text += f"<br>{html.escape(said)}"
        return text


def _kernel_rounding(bd, dtype) -> float:
    """How far the kernels' sum may be from the exact one: the rounding of ``dtype`` (2⁻²⁴ for float32) at
    each of the ``n`` products and additions, of at most the sum of the terms' sizes (a sum whose terms
    cancel keeps their rounding, not its own size's), or of the value where it is larger (an L2 norm's
    terms are squares: below 1 their sum is smaller than the value)."""
    n = max(len(bd.terms), 1)
    size = (abs(bd.value or 0.0) if bd.combine == "norm" else          # (a norm's terms are squares: √ of them)
            max(math.fsum(abs(t.value) for t in bd.terms), abs(bd.value or 0.0)))
    return float(np.finfo(dtype).eps) * (n + 2) * size + 1e-300


def _shown(bd, v: float) -> str:
    """``v`` as the panel writes it: "0 (2.78e-17)" where it is 0 up to the rounding of ``bd``'s terms."""
    return f"0 ({fmt(v)})" if bd.rounds_to_zero(v) else fmt(v)
