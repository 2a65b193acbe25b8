"""Worked examples: the texts' small computations, every number editable.

One page per :mod:`cnncore.examples` example. The learner double-clicks any
number in an editable grid and types a new one; the example recomputes itself
with the cnncore kernels and every grid and written-out equation below
updates. Clicking a computed number shows its sum in the arithmetic panel and
frames the numbers it came from.
"""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from cnncore.examples import worked_examples

from .arithmetic_panel import ArithmeticPanel, index_order_note, term_row_height
from ..widgets.colour_scales import sign_words
from ..widgets.font_fit import follow_font
from ..widgets.scroll_area import scroll_area
from ..widgets.wrap_row import WrapRow
from ..widgets.flow_layout import FlowLayout
from .grids import ArrayView, FilledWhenShown

__all__ = ["WorkedExamplesView", "ExamplePage"]

# how each example's grids are grouped into rows (names from cnncore.examples)
_ROWS = {
    "strided_conv": {"edit": [["a", "w"], ["v", "c", "t", "alpha"]],
                     "shown": [["z", "dz", "dw"], ["w_new", "dz_dilated", "dw_identity"]]},
    "pooling": {"edit": [["x", "dy"]], "shown": [["y", "dx"]]},
    "multichannel": {"edit": [["y0", "b"], ["w", "dy"]],
                     "shown": [["z", "y"], ["dz", "db"], ["dy0"], ["dw"]]},
}
# the element explained when a page opens, so the panel is never empty
_FIRST_PICK = {"strided_conv": ("z", (0, 0)), "pooling": ("y", (0, 0)), "multichannel": ("z", (0, 0, 0))}

#: The written-out sums' column is never narrower (its terms table has four columns); the grids wrap.
_WRITTEN_MIN_WIDTH = 300
#: The page's margins and the splitter's handle, in pixels.
_SPLIT_SLACK = 24
_SETTING_NAMES = {"type": "pooling", "stride": "stride", "size": "window", "padding": "padding"}


class ExamplePage(FilledWhenShown, QtWidgets.QWidget):
    """Editable inputs, computed results, the equations written out and the arithmetic panel."""

    changed = QtCore.Signal()

    def __init__(self, example, parent=None):
        super().__init__(parent)
        self.example = example
        self.setObjectName(f"example_{example.key}")
        self.views: dict = {}
        self._picked = None

        top = QtWidgets.QVBoxLayout(self)
        top.setContentsMargins(4, 4, 4, 4)
        top.addLayout(self._build_head())
        notes = self._build_notes()
        top.addWidget(self.status)
        # the notes head the grids' column only: the written-out sums beside them keep the full height
        left = QtWidgets.QWidget()
        ll = QtWidgets.QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        for w in notes:
            ll.addWidget(w)
        self._numbers = self._build_grids()
        ll.addWidget(self._numbers, 1)
        split = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        split.addWidget(left)
        self._written = self._build_written_out()
        follow_font(self._written, self._fit_written)
        split.addWidget(self._written)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        top.addWidget(split, 1)
        self.pending = True       # the grids are filled the first time the page is shown

    def _build_head(self) -> QtWidgets.QHBoxLayout:
        """The title, a box per setting of the example, Reset numbers."""
        example = self.example
        head = QtWidgets.QHBoxLayout()
        self.title = title = QtWidgets.QLabel(example.heading())
        title.setObjectName("exampleTitle")
        f = title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        title.setFont(f)
        settings = QtWidgets.QHBoxLayout()
        settings.addStretch(1)
        self.setting_boxes = {}
        for name, options in example.choices.items():
            settings.addWidget(QtWidgets.QLabel(_SETTING_NAMES.get(name, name) + ":"))
            box = QtWidgets.QComboBox()
            box.setObjectName(f"setting_{name}")
            box.setAccessibleName(f"The example's {_SETTING_NAMES.get(name, name).lower()}")
            box.setToolTip(f"Change the example's {name}: every number below is computed again")
            for o in options:
                box.addItem(example.setting_text(name, o))
            box.setCurrentIndex(options.index(example.settings[name]))
            box.currentIndexChanged.connect(lambda i, n=name, o=options: self._on_setting(n, o[i]))
            settings.addWidget(box)
            self.setting_boxes[name] = box
        self.reset_button = QtWidgets.QPushButton("Reset numbers")
        self.reset_button.setObjectName("resetExample")
        self.reset_button.setToolTip("Put back the example's original numbers and settings")
        self.reset_button.clicked.connect(self.reset)
        settings.addWidget(self.reset_button)
        head.addWidget(WrapRow(title, settings))       # one line, or two when the room is narrow
        return head

    def _build_notes(self) -> tuple:
        """The summary, the credit and the legend (shown above the grids) and the status line."""
        summary = QtWidgets.QLabel(self.example.summary)
        summary.setWordWrap(True)
        credit = QtWidgets.QLabel(f"<i>{self.example.credit}</i>")
        credit.setStyleSheet("color: #666;")
        credit.setWordWrap(True)
        self.status = QtWidgets.QLabel("Double-click a number in an editable grid to change it.")
        self.status.setObjectName("exampleStatus")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #225;")
        legend = QtWidgets.QLabel(_legend_text())
        self._legend = legend
        legend.setStyleSheet("color: #666;")
        legend.setWordWrap(True)
        return summary, credit, legend

    def _build_grids(self) -> QtWidgets.QScrollArea:
        """The editable grids, then the computed ones, in the rows :data:`_ROWS` gives."""
        example = self.example
        left = QtWidgets.QWidget()
        ll = QtWidgets.QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 6, 0)
        rows = _ROWS.get(example.key, {})
        ll.addWidget(self._section("Numbers you can edit"))
        for row in rows.get("edit", [[n] for n in example.editable]):
            ll.addLayout(self._grid_row(row, editable=True))
        ll.addWidget(self._section("Computed by the kernels (click a number to see its sum)"))
        for row in rows.get("shown", [[n] for n in example.shown]):
            ll.addLayout(self._grid_row(row, editable=False))
        ll.addStretch(1)
        scroll = QtWidgets.QScrollArea()
        scroll.setAccessibleName("The example's numbers")
        scroll.setObjectName("exampleNumbers")
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        return scroll

    def _grid_row(self, names, editable: bool) -> FlowLayout:
        """The grids ``names`` side by side, on more lines where the column is narrow (a lesson's
        panel beside the tab at 1024 px: the row scrolled sideways, its last grid cut)."""
        line = FlowLayout(spacing=24)
        for name in names:
            v = ArrayView(name, self.example.labels[name], editable=editable)
            if editable:
                v.edited.connect(lambda idx, val, n=name: self._on_edit(n, idx, val))
            v.picked.connect(lambda idx, n=name: self._on_pick(n, idx))
            line.addWidget(v)
            self.views[name] = v
        return line

    def _build_written_out(self) -> QtWidgets.QWidget:
        """The equations written out with the current numbers, and the arithmetic panel."""
        right = QtWidgets.QWidget()
        rl = QtWidgets.QVBoxLayout(right)
        rl.setContentsMargins(6, 0, 0, 0)
        self.lines = QtWidgets.QPlainTextEdit()
        self.lines.setObjectName("exampleLines")
        self.lines.setAccessibleName("The equations written out with the current numbers")
        self.lines.setReadOnly(True)
        self.lines.setLineWrapMode(QtWidgets.QPlainTextEdit.WidgetWidth)
        self.lines.setStyleSheet("QPlainTextEdit { font-family: 'DejaVu Sans Mono', monospace; }")
        rl.addWidget(self._section("Written out with the current numbers"))
        self.arithmetic = ArithmeticPanel()
        # one column the learner can share out by dragging; on a short window the clicked sum's terms
        # table keeps a few rows (it showed none at 1024×640 when the written-out lines took 3/5)
        column = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        column.setChildrenCollapsible(False)
        column.addWidget(self.lines)
        # a short or narrow column (a lesson's panel beside the tab at 1024×640) scrolls the clicked
        # sum rather than squeeze its terms table to a row or draw its words over the lines above
        rows = self.arithmetic.table
        follow_font(rows, lambda: rows.setMinimumHeight(
            rows.horizontalHeader().sizeHint().height() + 4 * term_row_height(rows) + 2 * rows.frameWidth()))
        column.addWidget(scroll_area(self.arithmetic, "arithmeticScroll", "The clicked number's sum", focus=False))
        column.setStretchFactor(0, 1)
        column.setStretchFactor(1, 3)
        column.setSizes([100, 300])
        rl.addWidget(column, 1)
        return right

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._fit_written()

    def _fit_written(self) -> None:
        """The written-out column keeps :data:`_WRITTEN_MIN_WIDTH` where the grids' widest row that
        cannot wrap (a filter bank) still fits beside it, else what is left (never a sideways scroll), and
        never less than its words ask (zoomed, the clicked sum's lines were cut at the right; again at
        each zoom, or it kept the width of the largest)."""
        numbers = self._numbers
        grids = numbers.widget().minimumSizeHint().width() + numbers.verticalScrollBar().sizeHint().width()
        room = self.width() - grids - _SPLIT_SLACK
        self._written.setMinimumWidth(max(self._written.minimumSizeHint().width(), min(_WRITTEN_MIN_WIDTH, room)))

    def showEvent(self, ev) -> None:
        self._legend.setText(_legend_text())          # (the colour scale may have changed meanwhile)
        super().showEvent(ev)

    def fill(self) -> None:
        """Put the example's numbers into the grids and select its first element (once)."""
        self.refresh()
        first = _FIRST_PICK.get(self.example.key)
        if first is not None and self._picked is None:
            self._on_pick(*first)

    @staticmethod
    def _section(text):
        lab = QtWidgets.QLabel(text)
        lab.setWordWrap(True)           # a narrow column wraps it rather than cut it
        lab.setStyleSheet("color: #1f3a68; font-weight: bold; border-bottom: 1px solid #c9cfdb; "
                          "margin-top: 6px;")
        return lab

    # ------------------------------------------------------------ updates
    def refresh(self) -> None:
        if self.pending:        # still hidden: filled with the current numbers when shown
            return
        ex = self.example
        for name, v in self.views.items():
            v.set_array(ex.params[name] if name in ex.params else ex.results[name])
        self.lines.setPlainText("\n".join(ex.lines()))
        self.title.setText(ex.heading())
        if self._picked is not None:
            self._on_pick(*self._picked)
        else:
            self._mark({})

    def _mark(self, sources: dict, chosen: dict | None = None, target=None) -> None:
        chosen = {k: set(v) for k, v in (chosen or {}).items()}
        for k, v in self.example.chosen_cells().items():
            chosen.setdefault(k, set()).update(v)
        for name, v in self.views.items():
            hi = set(sources.get(name, ()))
            if target is not None and target[0] == name:
                hi.add(tuple(target[1]))
            v.set_marks(hi, chosen.get(name, ()))

    def _on_edit(self, name, index, value):
        try:
            self.example.set_value(name, index, value)
        except (ValueError, KeyError) as e:
            self.status.setText(f"Not changed: {e}")
        else:
            where = self.views[name].cell_words(index)
            self.status.setText(f"{self.example.labels[name]}{': ' + where if where else ''} set to {value:g}; "
                                "everything downstream was recomputed.")
        self.refresh()
        self.changed.emit()

    def _on_setting(self, name, value):
        try:
            self.example.set_setting(name, value)
        except ValueError as e:
            self.status.setText(f"That setting does not fit: {e}")
            box = self.setting_boxes[name]
            box.blockSignals(True)
            box.setCurrentIndex(self.example.choices[name].index(self.example.settings[name]))
            box.blockSignals(False)
        self._picked = None
        self.arithmetic.clear()
        self.refresh()
        self.changed.emit()

    def _on_pick(self, name, index):
        if name not in self.example.results or name in self.example.params:
            bd = None
        else:
            index = tuple(int(i) for i in index)
            bd = self.example.explain(name, index)
        if bd is None:
            self._picked = None
            self.arithmetic.clear()
            self._mark({}, target=(name, index))
            return
        self._picked = (name, tuple(index))
        self.arithmetic.show_breakdown(bd, where=f"{name}{list(index)}" + index_order_note(bd.title, index))
        chosen = {}
        for t in bd.terms:
            if bd.combine == "max" and t.chosen and t.sources and t.sources[0] is not None:
                chosen.setdefault(t.sources[0].array, set()).add(tuple(t.sources[0].index))
        self._mark(bd.sources(), chosen, target=(name, index))

    def reset(self) -> None:
        self.example.reset()
        for name, box in self.setting_boxes.items():
            box.blockSignals(True)
            box.setCurrentIndex(self.example.choices[name].index(self.example.settings[name]))
            box.blockSignals(False)
        self._picked = None
        self.arithmetic.clear()
        self.status.setText("Back to the example's own numbers.")
        self.refresh()
        self.changed.emit()


class WorkedExamplesView(QtWidgets.QWidget):
    """A chooser and one :class:`ExamplePage` per worked example."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("workedExamples")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Example:"))
        self.chooser = QtWidgets.QComboBox()
        self.chooser.setObjectName("exampleChooser")
        self.chooser.setAccessibleName("Worked example")
        self.chooser.setToolTip("Pick one of the texts' small examples to replay and edit")
        row.addWidget(self.chooser, 1)
        lay.addLayout(row)
        self.stack = QtWidgets.QStackedWidget()
        lay.addWidget(self.stack, 1)
        self.pages = []
        for cls in worked_examples():          # the examples the layer types declare
            page = ExamplePage(cls())
            self.pages.append(page)
            self.stack.addWidget(page)
            self.chooser.addItem(page.example.title)
        self.chooser.currentIndexChanged.connect(self.stack.setCurrentIndex)

    def page(self, key: str) -> ExamplePage:
        return next(p for p in self.pages if p.example.key == key)

    def show_example(self, key: str) -> ExamplePage:
        i = next(i for i, p in enumerate(self.pages) if p.example.key == key)
        self.chooser.setCurrentIndex(i)
        return self.pages[i]


def _legend_text() -> str:
    """What the grids' frames and colours mean, in the colours of the scale chosen."""
    positive, negative = sign_words()
    return ("Orange frame: the numbers the selected element was computed from. Orange corner: the winner of a "
            f"max-pool window. Cell colours: {positive} positive, {negative} negative, white zero.")
