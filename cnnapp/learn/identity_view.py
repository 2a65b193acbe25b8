"""The identities the texts derive, drawn as maps, next to the kernels' results.

For one conv layer's backward step:

* input gradient: ``dz`` dilated by the stride, zero-padded by ``K−1``, correlated
  with the filters turned by 180° and with in/out channels swapped, padding
  cut away → ``dx``;
* filter gradient: the input, zero-padded by ``P``, correlated with the dilated ``dz``,
  its first ``K×K`` → ``dW``;

each beside :func:`cnncore.conv2d_backward`'s result and their difference.
The maps come from :func:`cnncore.examples.identity_maps` (built on
:mod:`cnncore.identities`); nothing is computed here.
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from cnncore.examples import MultiChannelExample, identity_maps
from cnncore.layers import layer_class
from cnncore.plurals import plural
from cnncore.tracekeys import layer_key

from .grids import FilledWhenShown

__all__ = ["IdentityView"]

#: Maps up to this size are shown as numbers, larger ones as heatmaps.
SMALL = 12


def _groups(maps, dz, w, mode):
    from cnnapp.widgets.heatmap import MapGroup
    if mode == "dx":
        scale = float(np.abs(maps["dx_kernel"]).max()) or 1e-12
        return [
            MapGroup("dz", dz, "1. dz, the gradient at the layer's affine maps", True),
            MapGroup("dz_dilated", maps["dz_dilated"], "2. dilated by the stride (S − 1 zeros between)", True),
            MapGroup("dz_padded", maps["dz_padded"], "3. zero-padded by K − 1 on every side", True),
            MapGroup("w", w, "filters as used forward: filter n, channel m", True),
            MapGroup("w_flipped", maps["w_flipped"], "4. each filter turned 180°, channels swapped", True),
            MapGroup("dx_identity", maps["dx_identity"],
                     "5. correlate (⋆) with the turned filters, i.e. dz ∗ W; cut the forward padding P away → dx", True),
            MapGroup("dx_kernel", maps["dx_kernel"], "dx as the backward pass computes it (the app's loops)", True),
            MapGroup("dx_diff", maps["dx_diff"],
                     f"difference, on dx's colour scale (largest |·| = {np.abs(maps['dx_diff']).max():.1e})",
                     True, levels=(-scale, scale)),
        ]
    scale = float(np.abs(maps["dw_kernel"]).max()) or 1e-12
    return [
        MapGroup("x_padded", maps["x_padded"], "1. the layer's input maps x(m) (the slides' y(l−1, m)), zero-padded "
                 "by P as in the forward pass: pad_P(x(m))", False),
        MapGroup("dz", dz, "2. dz(n), the gradient at the layer's affine maps", True),
        MapGroup("dz_dilated", maps["dz_dilated"], "3. dz dilated by the stride", True),
        MapGroup("dw_identity", maps["dw_identity"], "4. pad_P(x(m)) ⋆ dilate(dz(n)) at stride 1, its first K×K "
                 "→ dW(m, n)", True),
        MapGroup("dw_kernel", maps["dw_kernel"], "dW as the backward pass computes it (the app's loops)", True),
        MapGroup("dw_diff", maps["dw_diff"],
                 f"difference, on dW's colour scale (largest |·| = {np.abs(maps['dw_diff']).max():.1e})",
                 True, levels=(-scale, scale)),
    ]


class IdentityView(FilledWhenShown, QtWidgets.QWidget):
    """Choose a conv layer (of a trace, or the worked example) and see the textbook way drawn."""

    def __init__(self, parent=None):
        super().__init__(parent)
        from cnnapp.widgets.heatmap import MapGrid
        self.setObjectName("identityView")
        self.example = MultiChannelExample()
        self.trace = None
        self.maps = None
        lay = QtWidgets.QVBoxLayout(self)
        intro = QtWidgets.QLabel(
            "The backward pass of a convolution is made of convolutions too: the same gradients, "
            "worked out the textbook way one step at a time, next to the fast kernels' result.")
        intro.setToolTip("The difference should be zero up to rounding (about 1e-7 in float32, 1e-16 in "
                         "float64). The recipe follows the CMU 11-785 slides “Deep Neural Networks: "
                         "Convolutional Networks III”.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Layer:"))
        self.source = QtWidgets.QComboBox()
        self.source.setObjectName("identitySource")
        self.source.setAccessibleName("Layer shown the textbook way")
        self.source.setToolTip("The worked example, or a conv layer of the trace recorded on the Backprop tab")
        self.source.setSizeAdjustPolicy(QtWidgets.QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.source.setMinimumContentsLength(24)     # long names are elided, never widen the window
        row.addWidget(self.source, 1)
        lay.addLayout(row)
        row = QtWidgets.QHBoxLayout()
        self.dx_button = QtWidgets.QRadioButton("gradient for the input (dx)")
        self.dx_button.setObjectName("identityDx")
        self.dx_button.setToolTip("dx: dilate dz, pad it by K−1, correlate (⋆) with the turned, channel-swapped filters")
        self.dw_button = QtWidgets.QRadioButton("gradient for the filters (dW)")
        self.dw_button.setObjectName("identityDw")
        self.dw_button.setToolTip("dW: correlate (⋆) the input, zero-padded by P, with the dilated dz, at stride 1")
        self.dx_button.setChecked(True)
        row.addWidget(self.dx_button)
        row.addWidget(self.dw_button)
        row.addStretch(1)
        lay.addLayout(row)
        self.summary = QtWidgets.QLabel("")
        self.summary.setObjectName("identitySummary")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.stack = QtWidgets.QStackedWidget()
        self.grid = MapGrid()
        self.grid.setObjectName("identityMaps")
        self.grid.uniform_cells = True     # a padded map is drawn larger than the map it pads
        self.numbers = QtWidgets.QScrollArea()
        self.numbers.setObjectName("identityNumbers")
        self.numbers.setAccessibleName("The textbook computation's numbers")
        self.numbers.setWidgetResizable(True)
        self.stack.addWidget(self.numbers)
        self.stack.addWidget(self.grid)
        lay.addWidget(self.stack, 1)
        self._number_views: dict = {}
        self._groups: list = []
        self.source.currentIndexChanged.connect(self.refresh)
        self.dx_button.toggled.connect(self.refresh)
        self._fill_sources()

    # -------------------------------------------------------------- sources
    def _fill_sources(self, refresh: bool = True):
        blocked = self.source.blockSignals(True)
        self.source.clear()
        self._sources = [("example", None)]   # kept in Python, parallel to the combo's items
        self.source.addItem("Worked example: two input maps, two 3×3 filters")
        if self.trace is not None:
            for i, layer in enumerate(self.trace.spec["layers"]):
                if layer_class(layer["type"]).identities:
                    k, s, p = layer["kernel"], layer["stride"], layer["padding"]
                    self.source.addItem(f"Recorded trace, layer {i}: conv {layer['filters']} filters "
                                        f"{k[0]}×{k[1]}, stride {s[0]}, padding {p[0]}")
                    self._sources.append(("trace", i))
        self.source.blockSignals(blocked)
        if refresh:
            self.refresh()

    def set_trace(self, trace) -> None:
        """Offer the conv layers of a recorded :class:`cnncore.trace.Trace`; show the last one."""
        self.trace = trace
        self.source.blockSignals(True)     # one refresh, for the layer finally chosen
        self._fill_sources(refresh=False)
        if self.source.count() > 1:
            self.source.setCurrentIndex(self.source.count() - 1)
        self.source.blockSignals(False)
        self.refresh()

    def set_example(self, example) -> None:
        """Follow a (possibly edited) :class:`cnncore.examples.MultiChannelExample`."""
        self.example = example
        self.refresh()

    def select_layer(self, layer: int) -> None:
        for k in range(self.source.count()):
            if self._sources[k] == ("trace", layer):
                self.source.setCurrentIndex(k)
                return
        raise ValueError(f"layer {layer} is not a conv layer of the trace")

    def layer_arrays(self):
        """``(x, dz, w, stride, padding)`` of the chosen layer (one sample)."""
        k = self.source.currentIndex()
        kind, i = self._sources[k] if 0 <= k < len(self._sources) else ("example", None)
        if kind == "trace" and self.trace is not None:
            A, layer = self.trace.arrays, self.trace.spec["layers"][i]
            return (A[layer_key(i, "x")][0], A[layer_key(i, "dz")][0], A[layer_key(i, "W")],
                    tuple(layer["stride"]), tuple(layer["padding"]))
        ex = self.example
        s = ex.settings
        return ex.params["y0"], ex.results["dz"], ex.params["w"], s["stride"], s["padding"]

    def refresh(self, *_):
        """Compute the chosen layer's maps now; draw them now if shown, else when first shown."""
        x, dz, w, stride, padding = self.layer_arrays()
        self.maps = identity_maps(dz, x, w, stride, padding)
        mode = "dx" if self.dx_button.isChecked() else "dw"
        self._groups = _groups(self.maps, dz, w, mode)
        small = max(max(np.shape(g.array)[-2:]) for g in self._groups) <= SMALL
        self.stack.setCurrentWidget(self.numbers if small else self.grid)
        self.pending = True
        if self.isVisible():
            self.fill_now()
        S = stride if isinstance(stride, tuple) else (stride, stride)
        P = padding if isinstance(padding, tuple) else (padding, padding)
        K = w.shape[2:]
        self.summary.setText(
            f"Stride {S[0]}, padding {P[0]}, {K[0]}×{K[1]} filters, {plural(w.shape[1], 'input map')}, "
            f"{plural(w.shape[0], 'filter')}. Largest difference from the kernels: "
            f"dx {np.abs(self.maps['dx_diff']).max():.1e}, dW {np.abs(self.maps['dw_diff']).max():.1e}."
            + self._before_note())

    def _before_note(self) -> str:
        """What the layer before the chosen one makes of this convolution (an upsampling layer: a
        transposed convolution), or ""."""
        k = self.source.currentIndex()
        kind, i = self._sources[k] if 0 <= k < len(self._sources) else ("example", None)
        if kind != "trace" or self.trace is None or not i:
            return ""
        note = layer_class(self.trace.spec["layers"][i - 1]["type"]).before_conv_note
        return f"\n{note}" if note else ""

    @property
    def number_views(self) -> dict:
        """``key -> ArrayView`` of the maps shown as numbers (drawn now if still waiting)."""
        self.fill_now()
        return self._number_views

    def fill(self) -> None:
        """Draw the chosen layer's maps (as numbers or heatmaps)."""
        if self.stack.currentWidget() is self.numbers:
            self._show_numbers(self._groups)
        else:
            self.grid.set_groups(self._groups)

    def _show_numbers(self, groups) -> None:
        """Small maps: every number visible, one step under the other in reading order."""
        from .grids import ArrayView
        body = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(body)
        column.setSpacing(12)
        self._number_views = {}
        for g in groups:
            label = (lambda p: f"for input map {p[0]}, from filter {p[1]}") if g.key == "w_flipped" else None
            v = ArrayView(g.key, g.title, editable=False, plane_label=label)
            v.set_array(g.array)
            column.addWidget(v, 0, QtCore.Qt.AlignLeft)
            self._number_views[g.key] = v
        column.addStretch(1)
        old = self.numbers.takeWidget()
        if old is not None:
            old.deleteLater()
        self.numbers.setWidget(body)
