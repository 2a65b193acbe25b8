"""The Backprop tab's left column: the step's maps as heatmaps (or the filter sliding over its input, or
the textbook way of a conv layer's gradients), the tools above them, Predict mode's question, the
hover line; and what a step's maps are (:func:`groups_for`), how an element is named, the PNG export."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtWidgets

from cnncore import atomic_write_bytes
from cnncore.architecture import UNUSED_CLASS
from cnncore.layers import layer_class
from cnncore.signature import channel_names
from cnncore.tracekeys import WEIGHT_PARTS, layer_key, split_key

from ..widgets.buttons import push_button
from ..widgets.filter_slide import FilterSlideView
from ..widgets.font_fit import follow_font
from ..widgets.heatmap import DIVERGING_SCALES, MapGroup, MapGrid
from ..widgets.loops_panel import LoopsPanel
from ..widgets.pictures import colour_map_group
from ..widgets.predict_panel import PredictPanel
from ..widgets.scroll_area import scroll_area
from ..widgets.wrap_row import WrapRow

SIGNED = {"z", "dy", "dz", "dx", "W", "b", "dW", "db", "W_next", "b_next", "mW", "mb"}
NOT_MAPS = {"label", "loss", "argmax", "architecture"}
NAMES = {"x": "input x", "y": "output y", "z": "affine map z", "W": "weights W", "b": "biases b",
         "dy": "gradient dy", "dz": "gradient dz", "dx": "gradient dx", "dW": "weight gradient dW",
         "db": "bias gradient db", "W_next": "weights after the update", "b_next": "biases after the update",
         "mW": "optimizer's m of W (before)", "mb": "optimizer's m of b (before)",
         "vW": "optimizer's v of W (before)", "vb": "optimizer's v of b (before)"}
HOVER = "Hover a map to read its numbers."


def png_bytes(image) -> bytes:
    """A ``QImage`` or ``QPixmap`` encoded as PNG."""
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.WriteOnly)
    if not image.save(buf, "PNG"):
        raise OSError("the picture could not be encoded as PNG")
    return bytes(buf.data())


def is_signed(key: str, arr=None) -> bool:
    """Gradients, weights and affine maps are signed; so is any map holding a negative number
    (the output of tanh, leaky ReLU or no activation, the logits): those get the diverging scale."""
    return split_key(key)[1] in SIGNED or (arr is not None and np.size(arr) > 0 and float(np.min(arr)) < 0)


def map_keys(step) -> list[str]:
    """The keys of a step drawn as heatmaps (labels, the loss and argmax are shown otherwise)."""
    return [k for k in step.maps if split_key(k)[1] not in NOT_MAPS]


def winner_mask(argmax: np.ndarray, plane_shape: tuple, x: np.ndarray | None = None) -> np.ndarray:
    """Boolean ``(1, C, H, W)`` mask of the inputs that won a max-pool window. With the pooled
    input ``x``, an all-zero plane gets no marks: there every window is a tie and the "winner" is
    only the first cell, which would teach nothing."""
    n, c = argmax.shape[:2]
    mask = np.zeros((n, c, plane_shape[0] * plane_shape[1]), dtype=bool)
    for b in range(n):
        for ch in range(c):
            if x is not None and not np.any(x[b, ch]):
                continue
            mask[b, ch, np.asarray(argmax[b, ch]).reshape(-1)] = True
    return mask.reshape(n, c, *plane_shape)


#: The first layer's parameters drawn as colour patches on a colour picture's pass.
PATCHES = ("W", "dW", "W_next")


def _title(key: str, arr: np.ndarray) -> str:
    i, name = split_key(key)
    shape = " × ".join(str(s) for s in arr.shape)
    if i is None:
        words = {"input": "input image", "probs": "probabilities p"}.get(key, key)
        return f"{words}   ({shape})"
    return f"{key} — {NAMES.get(name, name)} of layer {i}   ({shape})"


def picture_channels(trace, key: str):
    """The names of the picture's planes ("R", "G", "B") when ``key`` is an array over them (the input,
    the first layer's input and filters) on a colour picture's pass, else None."""
    names = channel_names(trace.spec["input"][0])
    i, part = split_key(key)
    over_picture = key == "input" or (i == 0 and (part == "x" or part in PATCHES))
    return names if over_picture and len(names) == 3 else None


def _group(trace, key: str, arr: np.ndarray, marks) -> MapGroup:
    """The heatmaps of one array; over a colour picture's planes (:func:`picture_channels`) each row
    drawn first in colour: the picture itself for the input, each filter as a colour patch for the
    first layer's weights and their gradient."""
    kw = {"diverging": is_signed(key, arr), "marks": marks}
    if picture_channels(trace, key) is None or np.ndim(arr) != 4 or np.shape(arr)[1] != 3:
        return MapGroup(key, arr, _title(key, arr), **kw)
    picture = None if split_key(key)[1] in PATCHES else np.asarray(trace.arrays["input"])
    return colour_map_group(key, arr, _title(key, arr), picture, **kw)


def groups_for(trace, st) -> list[MapGroup]:
    """The heatmaps of step ``st`` of ``trace``: every array it touches, max-pool winners marked; a
    colour picture and the first layer's filters over it also in colour (:func:`_group`)."""
    A = trace.arrays
    marks = {}
    if st.layer is not None and layer_key(st.layer, "argmax") in A:
        xkey = layer_key(st.layer, "x")
        mask = winner_mask(A[layer_key(st.layer, "argmax")], A[xkey].shape[2:], np.asarray(A[xkey]))
        marks = {xkey: mask, layer_key(st.layer, "dx"): mask}
    groups = []
    for key in map_keys(st):
        if key in A:
            arr = np.asarray(A[key])
            groups.append(_group(trace, key, arr, marks.get(key)))
    return groups


def describe(trace, key, index, value, classes=()) -> str:
    """``L0.W[0, 1, 2, 3] = 0.5   (filter 0, channel 1, row 2, column 3)``: one element in words; an
    element of the network's outputs (logits, probabilities, their gradient) by its class in
    ``classes``, the trace's outputs' names (:meth:`Session.trace_classes`), where they are given."""
    arr = trace.arrays[key] if trace is not None else None
    if classes and arr is not None and _an_output(trace, key) and len(index) == 2:
        name = classes[index[1]]
        where = f"output {index[1]}, which no class uses" if name == UNUSED_CLASS else f"output {index[1]}: {name}"
        return f"{key}[{', '.join(str(i) for i in index)}] = {value:.6g}   ({where})"
    where = ""
    if arr is not None and np.ndim(arr) == 4 and len(index) == 4:
        names = picture_channels(trace, key)
        channel = f"channel {index[1]}" + (f" ({names[index[1]]})" if names is not None else "")
        if split_key(key)[1] in WEIGHT_PARTS:
            where = f"filter {index[0]}, {channel}, row {index[2]}, column {index[3]}"
        else:
            where = f"{channel}, row {index[2]}, column {index[3]}"
    elif arr is not None and np.ndim(arr) == 2 and len(index) == 2:
        where = f"unit {index[0]}, input {index[1]}" if arr.shape[0] != 1 else f"element {index[1]}"
    elif len(index) == 1:
        where = f"element {index[0]}"
    return f"{key}[{', '.join(str(i) for i in index)}] = {value:.6g}" + (f"   ({where})" if where else "")


def _an_output(trace, key: str) -> bool:
    """Whether ``key`` holds one number per class: the probabilities, the last layer's z, y and their gradients."""
    last = len(trace.spec["layers"]) - 1
    return key == "probs" or key in {layer_key(last, p) for p in ("z", "y", "dz", "dy")}


def export_pngs(grid: MapGrid, step, k: int, folder) -> list[Path]:
    """Write every map of step ``k`` (shown in ``grid``) as a PNG, nearest-neighbour enlarged, and the whole view."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    stem = f"step{k + 1:02d}_{step.kind}" + (f"_L{step.layer}" if step.layer is not None else "")
    for item, tile in zip(grid.map_items(), grid.tiles()):
        label = re.sub(r"[^A-Za-z0-9]+", "_", tile.label).strip("_")
        name = f"{stem}_{tile.key.replace('.', '_')}" + (f"_{label}" if label else "") + ".png"
        if getattr(item, "qimage", None) is None:
            item.render()
        h, w = tile.data.shape
        scale = max(1, int(round(224 / max(h, w))))
        big = item.qimage.scaled(w * scale, h * scale, QtCore.Qt.IgnoreAspectRatio, QtCore.Qt.FastTransformation)
        written.append(atomic_write_bytes(folder / name, png_bytes(big)))
    written.append(atomic_write_bytes(folder / f"{stem}_all.png", png_bytes(grid.grab_image())))
    return written


class StepMaps(QtWidgets.QWidget):
    """The maps column. Its tools act on the trace and step given to :meth:`show_step`."""

    def __init__(self, scores=None, parent=None):
        super().__init__(parent)
        self.grid = MapGrid()
        self.hover_label = QtWidgets.QLabel(HOVER)
        self.hover_label.setObjectName("backpropHoverLabel")
        self.hover_label.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.identity = None            # the textbook way of a conv step's gradients, built on first use
        self.slide_filter = 0           # the filter the slide shows (the last one clicked)
        self.slide = FilterSlideView()
        self.map_stack = QtWidgets.QStackedWidget()
        self.map_stack.addWidget(self.grid)
        self.map_stack.addWidget(self.slide)
        self.predict = PredictPanel(scores)  # predict mode: the question before the maps (cnncore.predict)
        # The question and the maps share the column's height: a long question (nine choices, the
        # numbers given) scrolls, it never makes the column, and so the window, taller than the screen.
        self.predict_area = scroll_area(self.predict, "predictArea", "Predict mode's question")
        self.predict_area.setVisible(False)
        self.column = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        self.column.setObjectName("backpropPredictSplitter")
        self.column.setChildrenCollapsible(False)
        self.column.addWidget(self.predict_area)
        self.column.addWidget(self.map_stack)
        self.column.setStretchFactor(1, 1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self._build_tools())
        lay.addWidget(self.column, 1)
        lay.addWidget(self.hover_label)
        self.slide.moved.connect(self.hover_label.setText)
        self.slide.finished.connect(lambda: self.slide_button.setText("Back to this step's maps"))

    def _build_tools(self) -> WrapRow:
        """The textbook way (conv backward), Slide the filter (conv forward), the slides' loops, the
        signed colours, Predict."""
        self.identity_button = push_button(
            "Show the textbook way", "backpropIdentityToggle",
            "Compute this layer's dx and dW as whole-map convolutions, the way the texts derive them (dilate dz, "
            "pad by K−1, correlate (⋆) with the turned filters; correlate the input, padded by P, with the dilated "
            "dz), beside the kernels' result and their difference (T)", "T", checkable=True)
        self.slide_button = push_button(
            "Slide the filter", "backpropSlideButton",
            "Watch the filter move over the input maps and fill its output map in, one number at a time. Click "
            "an output or filter map first to choose the filter. Click again to pause.")
        self.loops_button = push_button(
            "The slides' loops", "backpropLoopsButton",
            "Show the lecture slides' loops for this step beside it; a click on a number lights the line "
            "that made it (L)", "L", checkable=True)
        self.predict_button = push_button(
            "Predict", "backpropPredictButton",
            "Before each step's maps are shown, predict one of its numbers (type it, Return); then see whether you "
            "were right and its arithmetic", checkable=True)
        self.colours = QtWidgets.QComboBox()
        self.colours.setObjectName("backpropColours")
        self.colours.setAccessibleName("Signed colours")
        self.colours.setToolTip("Colour scale of signed maps (weights, z, gradients); the purple–white–orange "
                                "one stays clear with red–green colour blindness")
        for words, _ in DIVERGING_SCALES.values():
            self.colours.addItem(words.split(" (")[0])
        follow_font(self.colours, lambda: self.colours.setMinimumWidth(self.colours.sizeHint().width()))   # a whole
        # name, or the row wraps (zoomed too)
        steps, colours = QtWidgets.QHBoxLayout(), QtWidgets.QHBoxLayout()
        for w in (self.identity_button, self.slide_button, self.loops_button):
            w.setVisible(False)
            steps.addWidget(w)
        steps.addStretch(1)
        colours.addStretch(1)
        for w in (QtWidgets.QLabel("Signed colours:"), self.colours, self.predict_button):
            colours.addWidget(w)
        # one line, or two where the maps are narrow (a lesson's panel beside them): the row never
        # holds the maps wider than the step's words leave them
        return WrapRow(steps, colours)

    # ------------------------------------------------------------ a step
    def show_step(self, trace, st) -> None:
        """The maps of ``st`` and the tools that fit it (the textbook way stays on while it is asked for)."""
        self.slide.stop()
        self.hover_label.setText(HOVER)
        self.grid.set_groups(groups_for(trace, st))
        conv = st.layer is not None and layer_class(st.layer_type).identities
        self.identity_button.setVisible(st.kind == "backward" and conv)
        self.slide_button.setVisible(st.kind == "forward" and st.layer_type == "conv")
        self.slide_button.setText("Slide the filter")
        self.loops_button.setVisible(LoopsPanel.has_loops(trace, st))
        self.show_identity(self.identity_button.isChecked(), trace, st)

    def show_identity(self, on: bool, trace, st) -> None:
        """The textbook computation of this conv layer's gradients in place of the maps (or the maps)."""
        self.identity_button.setText("Back to this step's maps" if on else "Show the textbook way")
        if not on or st is None or st.kind != "backward" or not layer_class(st.layer_type).identities:
            self.map_stack.setCurrentWidget(self.grid)
            return
        if self.identity is None:
            from cnnapp.learn.identity_view import IdentityView
            self.identity = IdentityView()
            self.map_stack.addWidget(self.identity)
        if self.identity.trace is not trace:
            self.identity.set_trace(trace)
        self.identity.select_layer(st.layer)
        if layer_key(st.layer, "dx") not in trace.arrays:    # the first layer: no gradient for the image: dW
            self.identity.dw_button.setChecked(True)
        self.map_stack.setCurrentWidget(self.identity)

    def toggle_slide(self, trace, st) -> bool:
        """Start, pause or resume the filter sliding over this conv step's input; True when it started."""
        started = False
        if self.slide.running():
            self.slide.pause()
        elif self.slide.active():
            self.slide.resume()
        elif self.map_stack.currentWidget() is self.slide:      # finished: back to all the maps
            self.map_stack.setCurrentWidget(self.grid)
        elif st is not None and st.kind == "forward" and st.layer_type == "conv":
            layer = trace.spec["layers"][st.layer]
            self.slide.start(trace.arrays, st.layer, layer, min(self.slide_filter, layer["filters"] - 1))
            self.map_stack.setCurrentWidget(self.slide)
            started = True
        self.slide_button.setText("Pause the filter" if self.slide.running()
                                  else "Go on sliding" if self.slide.active() else "Slide the filter")
        return started

    def show_question(self, on: bool, maps: bool) -> None:
        """Predict mode's panel (``on``) and the maps (``maps``: shown, or hidden behind a question);
        with both, the question keeps a third of the height and scrolls."""
        self.predict_area.setVisible(on)
        self.map_stack.setVisible(maps)
        if on and maps:
            h = max(self.column.height(), 3)
            self.column.setSizes([h // 3, h - h // 3])
            self.predict_area.ensureWidgetVisible(self.predict.verdict)     # the verdict, not the question's top

    def choose_filter(self, key: str, index) -> None:
        """A click on a conv map or filter chooses the filter the slide shows."""
        part = split_key(key)[1]
        if part in ("z", "y", "W", "dz", "dW") and len(index) == 4:
            self.slide_filter = int(index[1] if part in ("z", "y", "dz") else index[0])
