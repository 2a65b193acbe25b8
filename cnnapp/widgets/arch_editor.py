"""Architecture editor: one table row per layer, its settings in cells edited as spin and combo boxes
(:mod:`.arch_cells`), and beside them what ``cnncore.architecture.summarize`` says about it (output
shape, parameters, multiply-adds, and why a layer does not fit). The editor only edits a spec; it does no shape arithmetic itself."""
from __future__ import annotations

import copy
import json

from PySide6 import QtCore, QtGui, QtWidgets

from cnncore import activations
from cnncore.architecture import DIGIT_SHAPE
from cnncore.layers import LAYER_TYPES as REGISTRY
from cnncore.limits import MAX_PARAMS  # the one parameter limit of the app and the command line

from .arch_cells import CELL, Field, LayerTable, field_item, show_value
from .flow_layout import FlowLayout, flow_row
from .font_fit import follow_font

#: The largest input side the editor's boxes offer (a 3×512×512 picture is 786,432 values).
MAX_INPUT_SIDE = 512
#: The layer types (cnncore's registry, in menu order) and the activations.
LAYER_TYPES = tuple(REGISTRY)
ACTIVATIONS = activations.ACTIVATIONS


def _new_layer(kind: str) -> dict:
    """The settings a layer added in the editor starts with (each field's ``new`` value)."""
    return {"type": kind, **{f.key: copy.deepcopy(f.new) for f in REGISTRY[kind].fields}}


def _computed_texts(row) -> tuple[str, str, str]:
    """A layer's output shape, parameters and multiply-adds as the table shows them: below a layer that
    does not fit its input is unknown, and so are its counts ("—", never a 0 nobody computed)."""
    if row.error is not None:
        return "does not fit", "—", "—"
    if row.out_shape is None:
        return "—", "—", "—"
    return _shape_text(row.out_shape), f"{row.params:,}", f"{row.macs:,}"


def _field_columns() -> tuple:
    """The editable columns: every field column of every type, in the order they first appear."""
    cols = []
    for cls in REGISTRY.values():
        cols += [f.column for f in cls.fields if f.column not in cols]
    return tuple(cols)


def _field_tips() -> dict:
    """Per column, what its box means for each type that has one."""
    tips = {}
    for cls in REGISTRY.values():
        for f in cls.fields:
            tips.setdefault(f.column, []).append(f"{cls.title}: {f.tooltip}")
    return {c: "\n".join(t) for c, t in tips.items()}


FIELD_COLS = _field_columns()
# Editable columns, then computed ones.
COLS = ("Layer",) + FIELD_COLS + ("Output shape", "Parameters", "Multiply-adds", "Notes")
TIPS = {
    "Layer": "Kind of layer: " + ", ".join(cls.title.lower() for cls in REGISTRY.values()),
    **_field_tips(),
    "Output shape": "Shape of this layer's output: channels × height × width, or a vector length",
    "Parameters": "Weights and biases this layer learns",
    "Multiply-adds": "Multiply-add operations for one image in the forward pass",
    "Notes": "What the layer does with its input, or why it does not fit",
}
C_OUT, C_PARAMS, C_MACS, C_NOTES = (COLS.index(c) for c in ("Output shape", "Parameters", "Multiply-adds", "Notes"))
ERROR_BG = QtGui.QColor(255, 226, 222)
COMPUTED_BG = QtGui.QColor(244, 246, 250)


def _square(v) -> int:
    return int(v[0]) if isinstance(v, (list, tuple)) else int(v)


def _show_value(box: QtWidgets.QSpinBox, value: int) -> None:
    """``box`` showing ``value``: a value of a file past the box's range widens it (a valid file's
    300 filters showed as the box's 256, and its network kept 300)."""
    box.setRange(min(box.minimum(), value), max(box.maximum(), value))
    box.setValue(value)


def _shape_text(shape) -> str:
    if shape is None:
        return "—"
    return " × ".join(str(s) for s in shape)


class ArchitectureEditor(QtWidgets.QWidget):
    """Edits ``spec`` (a dict). ``specChanged`` fires after every edit; ``valid()`` tells whether
    every layer fits; ``problem()`` gives the first reason why not."""

    specChanged = QtCore.Signal()
    refused = QtCore.Signal(str)       # a typed value past a box's range was cut to its largest: why

    def __init__(self, parent=None):
        super().__init__(parent)
        self.table = LayerTable(0, len(COLS))
        self.table.cells.edited.connect(self.set_value)
        self.table.cells.tooLarge.connect(lambda r, k, typed, hi: self.refused.emit(
            f"Layer {r}: {k} {typed} is more than this box takes; set to {hi}, its largest."))
        self.table.setObjectName("architectureTable")
        self.table.setAccessibleName("Layers of the network")
        self.table.setToolTip("One row per layer, from the input (top) to the ten outputs (bottom)")
        self.table.setHorizontalHeaderLabels(COLS)
        for i, c in enumerate(COLS):
            self.table.horizontalHeaderItem(i).setToolTip(TIPS[c])
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QtWidgets.QHeaderView.ResizeToContents)
        hh.setStretchLastSection(True)
        follow_font(self.table, self._fix_computed_widths)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(self._build_input_row())
        lay.addWidget(self.table)
        self._spec = {"input": list(DIGIT_SHAPE), "layers": []}
        self._summary = []
        self._problem = None
        self._cautions: list[str] = []
        self._building = False

    def _build_input_row(self) -> FlowLayout:
        """The input's channels (grey or colour) and size, and what they mean in words (on a line of their
        own where they do not fit beside them)."""
        self.channels = QtWidgets.QComboBox()
        self.channels.setObjectName("inputChannels")
        self.channels.setAccessibleName("input channels")
        self.channels.setToolTip("Grey pictures have one channel; colour pictures three, their R, G and B planes")
        for text, c in (("1 (grey)", 1), ("3 (colour: R, G, B)", 3)):
            self.channels.addItem(text, c)
        self.channels.currentIndexChanged.connect(lambda *_: self._set_input())
        self.in_sides = []
        for key, name in (("height", "inputHeight"), ("width", "inputWidth")):
            box = QtWidgets.QSpinBox()
            box.setObjectName(name)
            box.setAccessibleName(f"input {key}")
            box.setRange(1, MAX_INPUT_SIDE)
            box.setToolTip(f"The input picture's {key} in pixels (1 to {MAX_INPUT_SIDE}); pictures of a folder are "
                           "scaled and cut to it, the digits are 28, CIFAR-10's pictures 32")
            box.valueChanged.connect(lambda *_: self._set_input())
            self.in_sides.append(box)
        self.input_words = QtWidgets.QLabel("")
        self.input_words.setObjectName("inputWords")
        self.input_words.setStyleSheet("color: #555;")
        self.input_words.setWordWrap(True)
        self.input_words.setTextFormat(QtCore.Qt.PlainText)
        return flow_row([QtWidgets.QLabel("Input:"), self.channels, QtWidgets.QLabel("×"), self.in_sides[0],
                         QtWidgets.QLabel("×"), self.in_sides[1]], self.input_words)

    def _show_input(self) -> None:
        """The input boxes as the spec says (without answering back)."""
        from cnncore.signature import Signature
        C, H, W = self._spec["input"]
        for box, v in ((self.channels, None), (self.in_sides[0], H), (self.in_sides[1], W)):
            box.blockSignals(True)
            if v is None:
                box.setCurrentIndex(box.findData(C))
            else:
                box.setRange(1, MAX_INPUT_SIDE)       # (a larger input of the file before widened it)
                _show_value(box, int(v))
            box.blockSignals(False)
        self.input_words.setText(Signature((C, H, W)).words())

    def _set_input(self) -> None:
        C = self.channels.currentData() or self._spec["input"][0]
        self._spec["input"] = [int(C), self.in_sides[0].value(), self.in_sides[1].value()]
        self._rebuild(select=self.current_row())       # the boxes' ranges follow the input's size

    # ------------------------------------------------------------------ spec
    def spec(self) -> dict:
        return copy.deepcopy(self._spec)

    def set_spec(self, spec) -> None:
        """The table of ``spec`` (a dict, its JSON text, or an architecture file's bytes); raises what
        :func:`cnncore.architecture.parse_architecture` raises."""
        from cnncore.architecture import parse_architecture
        self._spec = parse_architecture(spec)
        self._rebuild()

    def valid(self) -> bool:
        return self._problem is None

    def problem(self) -> str | None:
        return self._problem

    def cautions(self) -> list[str]:
        """What hurts learning though it is allowed, one "Layer i (…): why" each (a layer's
        :meth:`~cnncore.layers.base.Layer.caution`, also in its row's note), of the layers that fit."""
        return list(self._cautions)

    def summary(self):
        return list(self._summary)

    def current_row(self) -> int:
        r = self.table.currentRow()
        return r if 0 <= r < len(self._spec["layers"]) else -1

    def add_layer(self, kind: str, at: int | None = None) -> None:
        layers = self._spec["layers"]
        if at is None:
            r = self.current_row()
            at = r + 1 if r >= 0 else max(0, len(layers) - 1)
        layers.insert(at, _new_layer(kind))
        self._rebuild(select=at)

    def remove_layer(self, row: int | None = None) -> None:
        row = self.current_row() if row is None else row
        if 0 <= row < len(self._spec["layers"]):
            del self._spec["layers"][row]
            self._rebuild(select=min(row, len(self._spec["layers"]) - 1))

    def move_layer(self, row: int | None, delta: int) -> None:
        row = self.current_row() if row is None else row
        layers = self._spec["layers"]
        new = row + delta
        if 0 <= row < len(layers) and 0 <= new < len(layers):
            layers[row], layers[new] = layers[new], layers[row]
            self._rebuild(select=new)

    def set_value(self, row: int, key: str, value) -> None:
        """Change one setting of one layer (what the spin and combo boxes call)."""
        layer = self._spec["layers"][row]
        if key == "type":
            if value != layer["type"]:
                self._spec["layers"][row] = _new_layer(value)
                self._refresh()
                # Rebuild the row's cells after this edit returns (its open box is one of them).
                QtCore.QTimer.singleShot(0, self, lambda r=row: self._rebuild(select=r))
            return
        fields = {f.key: f for f in REGISTRY[layer["type"]].fields}
        if fields[key].kind == "pair":
            value = [int(value), int(value)]
        for f in fields.values():
            if f.follows == key and layer.get(f.key) == layer.get(key):
                # e.g. a pooling stride stays equal to the window size unless changed on its own
                layer[f.key] = list(value)
                self._sync_box(row, f, value)
        layer[key] = value
        self._sync_box(row, fields[key], value)
        self._refresh()

    def _sync_box(self, row: int, field, value) -> None:
        """Show a value set from code or typed in its cell."""
        it = self.table.item(row, COLS.index(field.column))
        if it is not None and it.data(CELL) is not None:
            show_value(it, _square(value) if field.kind == "pair" else value)

    # ----------------------------------------------------------------- table
    def _pair_cell(self, row: int, col: int, key: str, value, lo: int, hi: int, tip: str) -> None:
        """A number's cell for a square setting; a non-square one (from a JSON file, e.g. a 5×3
        kernel) is shown as it is and left alone: a single spin box would square it silently."""
        h, w = (value, value) if isinstance(value, int) else value
        if h == w:
            self.table.setItem(row, col, field_item(Field(row, key, tip, lo, hi), h))
            return
        it = QtWidgets.QTableWidgetItem(f"{h}×{w}")
        it.setFlags(QtCore.Qt.ItemIsEnabled | QtCore.Qt.ItemIsSelectable)
        it.setTextAlignment(QtCore.Qt.AlignCenter)
        it.setToolTip(f"{tip}\nNot square ({h}×{w}): kept as the file says; edit the JSON file to change it.")
        self.table.setItem(row, col, it)

    def _fix_computed_widths(self) -> None:
        """Room for the widest text a computed column or the row header can show ("does not fit",
        "⚠ 12"), so nothing shifts sideways when a layer stops fitting and the ⚠ appears."""
        fm = self.table.fontMetrics()
        widest = {C_OUT: ("does not fit", "128 × 28 × 28"), C_PARAMS: ("9,999,999",), C_MACS: ("999,999,999",)}
        hh = self.table.horizontalHeader()
        for col, samples in widest.items():
            hh.setSectionResizeMode(col, QtWidgets.QHeaderView.Fixed)
            hh.resizeSection(col, max(fm.horizontalAdvance(t) for t in samples + (COLS[col],)) + 28)
        self.table.verticalHeader().setMinimumWidth(fm.horizontalAdvance("⚠ 00") + 12)

    def _field_cell(self, row: int, field, value) -> None:
        """The box for one field of one layer, in the field's column (a window's size, stride or
        padding reaches as far for a larger input as ``field.maximum`` does for a 28×28 one)."""
        col = COLS.index(field.column)
        if field.kind == "count":
            self.table.setItem(row, col, field_item(Field(row, field.key, field.tooltip, field.minimum,
                                                          field.maximum), value))
        elif field.kind == "pair":
            side = max(self._spec["input"][1:])
            hi = max(field.maximum, -(-field.maximum * side // DIGIT_SHAPE[1]))
            self._pair_cell(row, col, field.key, value, field.minimum, hi, field.tooltip)
        else:
            self.table.setItem(row, col, field_item(Field(row, field.key, field.tooltip, choices=ACTIVATIONS), value))

    def _rebuild(self, select: int | None = None) -> None:
        """The table's rows anew; the focus stays in the table (on ``select``'s row, in the same column)
        when it was there (an open box closes)."""
        self._building = True
        self._show_input()
        t = self.table
        layers = self._spec["layers"]
        focus = QtWidgets.QApplication.focusWidget()
        had_focus, column = focus is t or t.isAncestorOf(focus), max(t.currentColumn(), 0)
        t.clearContents()
        t.setRowCount(len(layers))
        t.setVerticalHeaderLabels([str(i) for i in range(len(layers))])
        for r, layer in enumerate(layers):
            kind = layer["type"]
            t.setItem(r, 0, field_item(Field(r, "type", TIPS["Layer"], choices=LAYER_TYPES), kind))
            for f in REGISTRY[kind].fields:
                self._field_cell(r, f, layer[f.key])
            for c in range(len(COLS)):
                if t.item(r, c) is None:
                    it = QtWidgets.QTableWidgetItem("")
                    it.setFlags(QtCore.Qt.ItemIsEnabled | QtCore.Qt.ItemIsSelectable)
                    t.setItem(r, c, it)
        if select is not None and 0 <= select < len(layers):
            t.setCurrentCell(select, column)        # (the whole row is selected)
        if had_focus:
            t.setFocus()
        self._building = False
        self._refresh()

    def _refresh(self) -> None:
        from cnncore.architecture import ArchitectureError, summarize
        t = self.table
        self._problem, self._cautions = None, []
        try:
            self._summary = summarize(self._spec)
        except ArchitectureError as e:
            self._summary = []
            self._problem = str(e)
        if not self._spec["layers"]:
            self._problem = "The network has no layers: add at least a flatten and a dense layer of 10 units."
        channels = self._spec["input"][0]
        if self._problem is None and channels not in (1, 3):
            self._problem = (f"The input has {channels} channels, but pictures give 1 (grey) or 3 (colour: "
                             "R, G, B).")
        params = sum(r.params for r in self._summary)
        if self._problem is None and params > MAX_PARAMS:
            self._problem = (f"{params:,} parameters is more than this app trains on a laptop "
                             f"(at most {MAX_PARAMS:,}).")
        for r, row in enumerate(self._summary):
            for c, v in zip((C_OUT, C_PARAMS, C_MACS), _computed_texts(row)):
                it = _read_only(t, r, c)
                it.setText(v)
                it.setTextAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
            caution = self._show_note(r, row, r == len(self._summary) - 1)
            bg = ERROR_BG if row.error else COMPUTED_BG
            tip = row.error or (f"{row.text}: input {_shape_text(row.in_shape)} → output "
                                f"{_shape_text(row.out_shape)}" + (f"\n{caution}" if caution else ""))
            for c in range(len(COLS)):
                it = t.item(r, c)
                if it is not None:
                    it.setBackground(bg if (row.error or c >= C_OUT) else QtGui.QBrush())
                    if it.data(CELL) is None:            # (an editable cell tells what its box means)
                        it.setToolTip(tip)
            t.verticalHeaderItem(r).setText(("⚠ " if row.error else "") + str(r))
            if row.error and self._problem is None:
                self._problem = row.error
        if not self._building:
            self.specChanged.emit()

    def _show_note(self, r: int, row, is_last: bool) -> str:
        """Row ``r``'s note: why it does not fit (red), or its shapes and the layer type's remark (grey), and
        what hurts learning though it is allowed (amber, kept for :meth:`cautions`), which it returns."""
        note = _read_only(self.table, r, C_NOTES)
        if row.error:
            note.setText(row.error)
            note.setForeground(QtGui.QColor(176, 0, 32))
            return ""
        if row.out_shape is None:
            note.setText("shape unknown until the layers above fit")
            note.setForeground(QtGui.QColor(110, 110, 110))
            return ""
        layer = self._spec["layers"][r]
        extra, caution = REGISTRY[row.type].build_note(layer), REGISTRY[row.type].caution(layer, is_last)
        note.setText(f"{_shape_text(row.in_shape)} → {_shape_text(row.out_shape)}" + (f"; {extra}" if extra else "")
                     + (f". {caution}" if caution else ""))
        note.setForeground(QtGui.QColor(154, 103, 0) if caution else QtGui.QColor(80, 80, 80))
        if caution:
            self._cautions.append(f"Layer {r} ({row.text}): {caution}")
        return caution

    def totals(self) -> tuple[int, int]:
        return (sum(r.params for r in self._summary), sum(r.macs for r in self._summary))

    def to_json(self) -> str:
        return json.dumps(self._spec, indent=1)


def _read_only(t: QtWidgets.QTableWidget, r: int, c: int) -> QtWidgets.QTableWidgetItem:
    """The cell ``(r, c)`` of ``t`` that shows what was computed, made (selectable, not editable) where missing."""
    it = t.item(r, c)
    if it is None:
        it = QtWidgets.QTableWidgetItem()
        it.setFlags(QtCore.Qt.ItemIsEnabled | QtCore.Qt.ItemIsSelectable)
        t.setItem(r, c, it)
    return it
