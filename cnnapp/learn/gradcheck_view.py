"""Gradient check, live: backprop's answer next to a central difference, for any one number.

The learner picks a weight, a bias or an input pixel of the current network
(``set_network``), presses *Check* (or *Random element*), and sees the
analytic gradient, the numeric one, their difference and what it means. The
numbers come from :func:`cnncore.gradcheck.gradient_check` on a float64 copy.
"""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ..widgets.font_fit import follow_font, lines

from cnncore.gradcheck import (INPUT, as_float64, check_targets, demo_setup, example_for, gradient_check,
                               random_index)

__all__ = ["GradCheckView"]

_DIM_NAMES = {4: ("filter", "channel", "row", "column"), 2: ("unit", "input"), 1: ("element",),
              3: ("channel", "row", "column")}
#: Why a filter's index reads (filter, channel, …) here and w(m, n, i, j) in the equations.
_FILTER_ORDER = ("\nIn the array's order, filter n first; the equations write the same weight w(m, n, i, j), "
                 "input channel m first, as the texts do.")


def _describe_target(name: str) -> str:
    if name == INPUT:
        return "input image (a pixel)"
    layer, part = name.split(".")
    return f"layer {layer[1:]} {'weights' if part == 'W' else 'biases'} ({name})"


class GradCheckView(QtWidgets.QWidget):
    """Pick an element, compare the two gradients. Signal ``checked(GradCheckResult)``."""

    checked = QtCore.Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("gradCheck")
        self.net = self.image = self.label = None
        self._targets: list = []
        self._net64 = None
        self._rng_seed = 0
        self.result = None

        lay = QtWidgets.QVBoxLayout(self)
        intro = QtWidgets.QLabel(
            "Backpropagation claims to know how the loss changes when one number changes. Test it: "
            "nudge that number by ±ε, measure the loss both times, and compare the slope "
            "(L(θ+ε) − L(θ−ε)) / 2ε with the gradient backprop computed. Runs in float64 on a copy "
            "of the network.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.source = QtWidgets.QLabel("")
        self.source.setObjectName("gradCheckSource")
        self.source.setWordWrap(True)           # a long network's name never widens the window
        self.source.setStyleSheet("color: #555;")
        lay.addWidget(self.source)
        lay.addLayout(self._build_element_form())
        lay.addLayout(self._build_buttons())
        lay.addWidget(self._build_result_table())
        self.verdict = QtWidgets.QLabel("")
        self.verdict.setObjectName("gradCheckVerdict")
        self.verdict.setWordWrap(True)
        lay.addWidget(self.verdict)
        hist_label = QtWidgets.QLabel("Checks so far")
        hist_label.setStyleSheet("color: #1f3a68; font-weight: bold;")
        lay.addWidget(hist_label)
        lay.addWidget(self._build_history(), 1)

    def _build_element_form(self) -> QtWidgets.QHBoxLayout:
        """Which array, which element of it (one spin box per index), which ε."""
        form = QtWidgets.QHBoxLayout()
        form.addWidget(QtWidgets.QLabel("Check:"))
        self.target = QtWidgets.QComboBox()
        self.target.setObjectName("gradCheckTarget")
        self.target.setAccessibleName("What to check")
        self.target.setToolTip("Which array to check: a layer's weights or biases, or the input pixels")
        self.target.currentIndexChanged.connect(self._on_target)
        form.addWidget(self.target)
        self.index_box = QtWidgets.QWidget()
        self.index_layout = QtWidgets.QHBoxLayout(self.index_box)
        self.index_layout.setContentsMargins(0, 0, 0, 0)
        self.spins: list[QtWidgets.QSpinBox] = []
        form.addWidget(self.index_box)
        form.addWidget(QtWidgets.QLabel("ε:"))
        self.eps = QtWidgets.QComboBox()
        self.eps.setObjectName("gradCheckEps")
        self.eps.setAccessibleName("Nudge ε")
        self.eps.setToolTip("The nudge ε of the central difference (L(θ+ε) − L(θ−ε)) / 2ε")
        for e in ("1e-3", "1e-4", "1e-5", "1e-6", "1e-7"):
            self.eps.addItem(e)
        self.eps.setCurrentIndex(2)
        form.addWidget(self.eps)
        form.addStretch(1)
        return form

    def _build_buttons(self) -> QtWidgets.QHBoxLayout:
        buttons = QtWidgets.QHBoxLayout()
        self.check_button = QtWidgets.QPushButton("Check this element")
        self.check_button.setObjectName("gradCheckRun")
        self.check_button.setToolTip("Compare backprop's gradient of this element with the central difference")
        self.check_button.clicked.connect(self.run)
        self.random_button = QtWidgets.QPushButton("Random element")
        self.random_button.setObjectName("gradCheckRandom")
        self.random_button.setToolTip("Pick an element at random and check it")
        self.random_button.clicked.connect(self.run_random)
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.random_button)
        buttons.addStretch(1)
        return buttons

    def _build_result_table(self) -> QtWidgets.QTableWidget:
        """The last check, one quantity per row."""
        self.table = QtWidgets.QTableWidget(0, 2)
        self.table.setTabKeyNavigation(False)    # (Tab leaves the table; the arrows move in it)
        self.table.setObjectName("gradCheckResult")
        self.table.setAccessibleName("The last gradient check")
        self.table.horizontalHeader().setVisible(False)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        def fit() -> None:                       # eight rows of its font
            row = lines(self.table, 1.6)
            self.table.verticalHeader().setDefaultSectionSize(row)
            self.table.setFixedHeight(8 * row + 2 * self.table.frameWidth() + 2)
        follow_font(self.table, fit)
        return self.table

    def _build_history(self) -> QtWidgets.QTableWidget:
        """Every check so far, one per row."""
        self.history = QtWidgets.QTableWidget(0, 5)
        self.history.setTabKeyNavigation(False)    # (Tab leaves the table; the arrows move in it)
        self.history.setObjectName("gradCheckHistory")
        self.history.setAccessibleName("Every gradient check so far")
        self.history.setHorizontalHeaderLabels(["element", "backprop", "central difference",
                                                "relative error", "verdict"])
        self.history.verticalHeader().setVisible(False)
        self.history.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.history.horizontalHeader().setStretchLastSection(True)
        for c in range(4):
            self.history.horizontalHeader().setSectionResizeMode(c, QtWidgets.QHeaderView.ResizeToContents)
        return self.history

    # ------------------------------------------------------------------ setup
    def set_network(self, net, image=None, label=None, source: str = "") -> None:
        """Use this network, image ``(C, H, W)`` or ``(H, W)`` and true label (0…9); without an image, one
        of the network's own input shape (:func:`cnncore.gradcheck.example_for`)."""
        if image is None or label is None:
            image, label = example_for(net)
        self.net, self.image, self.label = net, image, int(label)
        self._net64 = as_float64(net)
        self.source.setText(source or f"Network: {net!r}; image labelled {self.label}.")
        current = self.target.currentText()
        self.target.blockSignals(True)
        self.target.clear()
        # item data kept in Python, not in Qt (no Python objects inside QVariants)
        self._targets = list(check_targets(net).items())
        for name, _ in self._targets:
            self.target.addItem(_describe_target(name))
        i = self.target.findText(current)
        if i < 0:  # start on the last layer's weights: smooth, so the first check agrees
            i = max(0, self.target.count() - 3)
        self.target.setCurrentIndex(i)
        self.target.blockSignals(False)
        self._on_target()

    def ensure_network(self) -> None:
        if self.net is None:
            net, image, label = demo_setup()
            self.set_network(net, image, label, "A fresh, untrained network of the “tiny” preset and one "
                                                "generated digit (the app replaces them with its own).")

    def showEvent(self, ev):
        self.ensure_network()
        super().showEvent(ev)

    def _on_target(self, *_):
        data = self.current_target()
        for s in self.spins:
            self.index_layout.removeWidget(s)
            s.setParent(None)
            s.deleteLater()
        self.spins = []
        while self.index_layout.count():
            w = self.index_layout.takeAt(0).widget()
            if w is not None:
                w.setParent(None)
                w.deleteLater()
        if data is None:
            return
        _, shape = data
        names = _DIM_NAMES.get(len(shape), ("index",) * len(shape))
        for k, (n, size) in enumerate(zip(names, shape)):
            self.index_layout.addWidget(QtWidgets.QLabel(n))
            s = QtWidgets.QSpinBox()
            s.setObjectName(f"gradCheckIndex{k}")
            s.setAccessibleName(n)
            s.setRange(0, size - 1)
            s.setToolTip(f"{n}: 0 to {size - 1}" + (_FILTER_ORDER if len(shape) == 4 else ""))
            self.index_layout.addWidget(s)
            self.spins.append(s)

    def current_target(self):
        """``(name, shape)`` of the chosen target, or ``None``."""
        i = self.target.currentIndex()
        return self._targets[i] if 0 <= i < len(self._targets) else None

    def epsilon(self) -> float:
        return float(self.eps.currentText())

    def index(self) -> tuple:
        return tuple(s.value() for s in self.spins)

    def set_index(self, index) -> None:
        for s, v in zip(self.spins, index):
            s.setValue(int(v))

    def select(self, target: str, index) -> None:
        i = next(k for k, (name, _) in enumerate(self._targets) if name == target)
        self.target.setCurrentIndex(i)
        self.set_index(index)

    # ------------------------------------------------------------------ run
    def run_random(self):
        self.ensure_network()
        _, shape = self.current_target()
        self._rng_seed += 1
        self.set_index(random_index(shape, self._rng_seed))
        return self.run()

    def run(self):
        self.ensure_network()
        name, _ = self.current_target()
        r = gradient_check(self.net, self.image, self.label, name, self.index(), eps=self.epsilon(),
                           net64=self._net64)
        self.result = r
        self._show(r)
        self.checked.emit(r)
        return r

    def _why_no_effect(self, target: str) -> str:
        """Why an element can leave the loss alone, for its layer: ", e.g. …" or ""."""
        if target == INPUT or self.net is None:
            return ""
        spec = self.net.spec["layers"][int(target.split(".")[0][1:])]
        if spec.get("activation") == "relu":
            return ", e.g. it only feeds a ReLU that is off"
        return ""

    def _verdict(self, r) -> tuple[str, str]:
        """What the check says of ``r`` (rich text) and its word in the history table."""
        if r.below_floor:
            text = ("<span style='color:#1a7f37; font-weight:bold'>They agree: both are zero.</span> "
                    f"Both gradients are within {r.floor:.0e} of 0, where the central difference cannot tell a "
                    f"number from 0 (at ε = {r.eps:g} its rounding alone is about {r.floor / 10:.0e}). This element "
                    f"does not change the loss for this input{self._why_no_effect(r.target)}. A relative error of "
                    "numbers this small measures rounding, not backprop, so it is not used here.")
            verdict = "agree (both ≈ 0)"
        elif r.within_rounding:
            text = ("<span style='color:#1a7f37; font-weight:bold'>They agree, as closely as a central "
                    f"difference can tell.</span> Both are about {r.analytic:.1e}, small but not zero; they "
                    f"differ by {r.abs_error:.1e}, less than {r.floor:.0e}, which is the central difference's own "
                    f"rounding at ε = {r.eps:g} (about {r.floor / 10:.0e}). For numbers this small that rounding is "
                    f"a relative error of {r.rel_error:.0e}, so backprop's gradient is right to every digit the "
                    "check can see.")
            verdict = "agree (to the rounding)"
        elif r.agrees:
            text = ("<span style='color:#1a7f37; font-weight:bold'>They agree.</span> "
                    "The two numbers match to better than one part in a million, so backprop's "
                    "gradient for this element is right.")
            verdict = "agree"
        elif r.kink:
            text = ("<span style='color:#9a6700; font-weight:bold'>They differ, at a corner.</span> "
                    f"The slope is {r.slope_minus:.6g} just below and {r.slope_plus:.6g} just above this "
                    "value: the nudge crossed a ReLU at zero or a tie in a max-pool window. There the "
                    "loss has no single slope; backprop picks one side, the central difference averages.")
            verdict = "corner"
        elif r.curved:
            text = ("<span style='color:#1a7f37; font-weight:bold'>Backprop is right; ε is too large here.</span> "
                    f"The loss bends over ±{r.eps:g}: its slope changes by {r.slope_plus - r.slope_minus:.3g} "
                    "across the nudge, and the central difference is off by a little of that. With ten times ε "
                    f"it is off by {abs(r.analytic - r.numeric_wide):.1e} (at ε: {r.abs_error:.1e}): the gap grows "
                    "as a bend's does, a hundred times, while a wrong gradient's would stay the same. Choose a "
                    "smaller ε.")
            verdict = "agree (bend)"
        else:
            text = ("<span style='color:#b42318; font-weight:bold'>They differ.</span> "
                    "Try another ε: too large and curvature spoils the difference, too small and "
                    "rounding does. If it persists, the backward pass has a bug.")
            verdict = "differ"
        return text, verdict

    def _show(self, r) -> None:
        idx = ", ".join(map(str, r.index))
        rows = [
            ("element", f"{r.target}[{idx}] = {r.value:.8g}"),
            ("loss L(θ)", f"{r.loss:.12g}"),
            (f"L(θ + ε), ε = {r.eps:g}", f"{r.loss_plus:.12g}"),
            ("L(θ − ε)", f"{r.loss_minus:.12g}"),
            ("central difference (L(θ+ε) − L(θ−ε)) / 2ε", f"{r.numeric:.10g}"),
            ("the same at 10ε", f"{r.numeric_wide:.10g}"),
            ("backprop ∂L/∂θ", f"{r.analytic:.10g}"),
            ("|difference|", f"{r.abs_error:.3e}"),
            ("relative error", f"{r.rel_error:.3e}" if not r.below_floor else
             f"not meaningful: they differ by less than {r.floor:.0e}"),
        ]
        self.table.setRowCount(len(rows))
        for i, (a, b) in enumerate(rows):
            self.table.setItem(i, 0, QtWidgets.QTableWidgetItem(a))
            self.table.setItem(i, 1, QtWidgets.QTableWidgetItem(b))
        text, verdict = self._verdict(r)
        self.verdict.setText(text)
        row = self.history.rowCount()
        self.history.insertRow(row)
        for c, v in enumerate((f"{r.target}[{idx}]", f"{r.analytic:.8g}", f"{r.numeric:.8g}",
                               "—" if r.below_floor else f"{r.rel_error:.1e}", verdict)):
            self.history.setItem(row, c, QtWidgets.QTableWidgetItem(v))
        self.history.scrollToBottom()
