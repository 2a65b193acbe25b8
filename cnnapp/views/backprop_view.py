"""Backprop tab: record one forward and backward pass (``cnncore.trace``) and walk it step by step,
with a heatmap of every map the step touches."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from cnncore import Output, atomic_write_bytes
from cnncore.layers import layer_class
from cnncore.predict import Score
from cnncore.tracekeys import layer_key, split_key

from ..learn.arithmetic_panel import ArithmeticPanel
from ..settings import choice_index, data_dir, set_clamped
from ..state import Stepper, step_kind
from ..widgets.equation import equation_label
from ..widgets.filter_slide import FilterSlideView
from ..widgets.heatmap import DIVERGING_SCALES, MapGroup, MapGrid, diverging_name, diverging_words, set_diverging
from ..widgets.loops_panel import LoopsPanel
from ..widgets.predict_panel import PredictPanel
from .state import classes_of, other_dataset

SIGNED = {"z", "dy", "dz", "dx", "W", "b", "dW", "db", "W_next", "b_next", "mW", "mb"}
NOT_MAPS = {"label", "loss", "argmax", "architecture"}
NAMES = {"x": "input x", "y": "output y", "z": "affine map z", "W": "weights W", "b": "biases b",
         "dy": "gradient dy", "dz": "gradient dz", "dx": "gradient dx", "dW": "weight gradient dW",
         "db": "bias gradient db", "W_next": "weights after the update", "b_next": "biases after the update",
         "mW": "optimizer's m of W (before)", "mb": "optimizer's m of b (before)",
         "vW": "optimizer's v of W (before)", "vb": "optimizer's v of b (before)"}
GREY_LUT = np.repeat(np.arange(256, dtype=np.ubyte)[:, None], 3, axis=1)


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


def _title(key: str, arr: np.ndarray) -> str:
    i, name = split_key(key)
    shape = " × ".join(str(s) for s in arr.shape)
    if i is None:
        words = {"input": "input image", "probs": "probabilities p"}.get(key, key)
        return f"{words}   ({shape})"
    return f"{key} — {NAMES.get(name, name)} of layer {i}   ({shape})"


class BackpropView(QtWidgets.QWidget):
    """Records a trace of the chosen input and shows it one step at a time. Which step, whether it
    plays and how fast live in a :class:`cnnapp.state.Stepper`; this view binds its buttons, slider,
    timeline and timer to it."""
    traceChanged = QtCore.Signal()
    stepChanged = QtCore.Signal(int)
    quizRequested = QtCore.Signal(object)      # the current cnncore.trace.Step

    def __init__(self, state, stepper: Stepper | None = None, parent=None):
        super().__init__(parent)
        self.state = state
        self.stepper = stepper if stepper is not None else Stepper()
        self.trace = None
        self._what = ""
        self._samples = None
        # For a drawing, the true digit is the one chosen on the Draw tab, unless it is changed
        # here after the last stroke.
        self._label_set_here = False
        self._slide_filter = 0
        self.identity = None            # the textbook way of a conv step's gradients, built on first use
        self._rng = np.random.default_rng()     # picks the element a prediction asks about
        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(self._build_input_row())
        lay.addLayout(self._build_nav_row())
        lay.addWidget(self._build_timeline())
        lay.addWidget(self._build_splitter(), 1)
        self._add_step_keys()
        self._bind()

    # ------------------------------------------------------------ builders
    def _build_input_row(self) -> QtWidgets.QHBoxLayout:
        """What to trace (source, sample, true digit), record and open, the traced input, its summary."""
        self.source = QtWidgets.QComboBox()
        self.source.setObjectName("backpropSource")
        self.source.addItems(["Automatic", "Current drawing", "Data set sample"])
        self.source.setToolTip("What to trace. Automatic: your drawing, or a sample digit while the "
                               "canvas is empty.")
        self.sample_spin = QtWidgets.QSpinBox()
        self.sample_spin.setRange(0, 99)
        self.sample_spin.setToolTip("Which generated sample digit to trace")
        self.label_combo = QtWidgets.QComboBox()
        self.label_combo.addItems([str(i) for i in range(10)])
        self.label_combo.setToolTip("The true digit: the loss and every gradient depend on it.\n"
                                    "For a sample it is filled in; for a drawing say what you drew.")
        self.record_button = QtWidgets.QPushButton("Record trace")
        self.record_button.setObjectName("backpropRecordButton")
        self.record_button.setToolTip("Run one forward and backward pass of this input and keep every "
                                      "map (Ctrl+R)")
        self.record_button.setShortcut(QtGui.QKeySequence("Ctrl+R"))
        self.open_button = QtWidgets.QPushButton("Open trace…")
        self.open_button.setObjectName("backpropOpenTraceButton")
        self.open_button.setToolTip("Show a trace saved before with Export trace… or `cnnapp trace` (.npz)")
        self.info = QtWidgets.QLabel("")
        self.info.setObjectName("backpropInfo")
        self.info.setWordWrap(True)          # wraps on a small screen instead of widening the window
        top = QtWidgets.QHBoxLayout()
        self.true_label = QtWidgets.QLabel("true digit")
        for w in (QtWidgets.QLabel("Input"), self.source, QtWidgets.QLabel("sample"), self.sample_spin,
                  self.true_label, self.label_combo, self.record_button, self.open_button):
            top.addWidget(w)
        top.addSpacing(10)
        top.addWidget(self._build_thumb())
        top.addWidget(self.info, 1)
        return top

    def _build_thumb(self) -> pg.GraphicsLayoutWidget:
        """A small picture of the traced input."""
        self.thumb = pg.GraphicsLayoutWidget()
        self.thumb.setBackground("w")
        self.thumb.setFixedSize(56, 56)
        self.thumb.setToolTip("The traced input")
        tvb = self.thumb.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        tvb.setMenuEnabled(False)
        self.thumb_img = pg.ImageItem(axisOrder="row-major")
        tvb.addItem(self.thumb_img)
        tvb.setRange(QtCore.QRectF(0, 0, 28, 28), padding=0)
        return self.thumb

    def _nav_button(self, text, icon, name, tip, key) -> QtWidgets.QToolButton:
        b = QtWidgets.QToolButton()
        b.setText(text)
        b.setIcon(self.style().standardIcon(icon))
        b.setObjectName(name)
        b.setToolTip(f"{tip} ({key})")
        b.setToolButtonStyle(QtCore.Qt.ToolButtonTextBesideIcon)
        b.setMinimumWidth(72)
        return b

    def _build_nav_row(self) -> QtWidgets.QHBoxLayout:
        """First, previous, play, next, last; the speed; where you are; quiz and export."""
        SP = QtWidgets.QStyle.StandardPixmap
        self._play_icon = self.style().standardIcon(SP.SP_MediaPlay)
        self._pause_icon = self.style().standardIcon(SP.SP_MediaPause)
        self.first_button = self._nav_button("First", SP.SP_MediaSkipBackward, "backpropFirstButton",
                                             "First step", "Home")
        self.prev_button = self._nav_button("Previous", SP.SP_MediaSeekBackward, "backpropPrevButton",
                                            "Previous step", "Left arrow")
        self.play_button = self._nav_button("Play", SP.SP_MediaPlay, "backpropPlayButton",
                                            "Play the steps one after another", "Space")
        self.next_button = self._nav_button("Next", SP.SP_MediaSeekForward, "backpropNextButton",
                                            "Next step", "Right arrow")
        self.last_button = self._nav_button("Last", SP.SP_MediaSkipForward, "backpropLastButton",
                                            "Last step", "End")
        self.speed = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.speed.setObjectName("backpropSpeed")
        self.speed.setRange(int(Stepper.MIN_SPEED * 4), int(Stepper.MAX_SPEED * 4))   # quarter steps per second
        self.speed.setMaximumWidth(120)
        self.speed.setToolTip("Play speed in steps per second: 0.25 to 5")
        self.speed_label = QtWidgets.QLabel("")
        self.step_label = QtWidgets.QLabel("No trace yet")
        self.step_label.setObjectName("backpropStepLabel")
        self.step_label.setToolTip("Where you are in the pass")
        self.step_label.setWordWrap(True)
        f = self.step_label.font()
        f.setBold(True)
        self.step_label.setFont(f)
        nav = QtWidgets.QHBoxLayout()
        for w in (self.first_button, self.prev_button, self.play_button, self.next_button, self.last_button,
                  QtWidgets.QLabel("speed"), self.speed, self.speed_label):
            nav.addWidget(w)
        nav.addSpacing(12)
        nav.addWidget(self.step_label, 1)
        for w in self._build_step_actions():
            nav.addWidget(w)
        return nav

    @staticmethod
    def _legend_text() -> str:
        return ("<span style='color:#555'>Colours: activations in <b>viridis</b> (dark = low, yellow = high); "
                f"weights, z and gradients in <b>{diverging_words()}</b> with white at zero and the same scale "
                "on both sides. Orange corner: the winner of a max-pool window (none on an all-zero map, "
                "where every window is a tie). Click a number: orange "
                "frames show it and the numbers it was computed from.</span>")

    def set_colours(self, name: str) -> None:
        """Signed maps in the diverging scale ``name`` (:data:`cnnapp.widgets.heatmap.DIVERGING_SCALES`)."""
        set_diverging(name)
        k = list(DIVERGING_SCALES).index(name)
        if self.colours.currentIndex() != k:
            self.colours.setCurrentIndex(k)
        self.legend.setText(self._legend_text())
        if self.trace is not None:
            self.grid.set_groups([])          # redrawn with the new colours
            self._show_step(self.stepper.index)

    def _build_step_actions(self) -> tuple:
        """Quiz me, Export maps…, Export trace… (and the Predict toggle, placed over the maps)."""
        self.predict_button = QtWidgets.QPushButton("Predict")
        self.predict_button.setObjectName("backpropPredictButton")
        self.predict_button.setCheckable(True)
        self.predict_button.setToolTip("Before each step's maps are shown, predict one of its numbers "
                                       "(type it, Enter); then see whether you were right and its arithmetic")
        self.quiz_button = QtWidgets.QPushButton("Quiz me")
        self.quiz_button.setObjectName("backpropQuizButton")
        self.quiz_button.setToolTip("A concept check about this kind of step, on the Learn tab (Q)")
        self.quiz_button.setShortcut(QtGui.QKeySequence("Q"))
        self.export_png_button = QtWidgets.QPushButton("Export maps…")
        self.export_png_button.setObjectName("backpropExportPngButton")
        self.export_png_button.setToolTip("Save every map of this step as a PNG file, plus the whole view")
        self.export_npz_button = QtWidgets.QPushButton("Export trace…")
        self.export_npz_button.setObjectName("backpropExportTraceButton")
        self.export_npz_button.setToolTip("Save the whole trace as .npz (NumPy arrays, for notebooks)")
        return self.quiz_button, self.export_png_button, self.export_npz_button

    def _build_timeline(self) -> QtWidgets.QListWidget:
        """One coloured cell per step of the pass (filled by :meth:`set_trace`)."""
        self.timeline = QtWidgets.QListWidget()
        self.timeline.setObjectName("backpropTimeline")
        self.timeline.setToolTip("Every step of the pass: forward through each layer, the loss, backward "
                                 "through each layer, the updates. Click one to jump there.")
        self.timeline.setFlow(QtWidgets.QListView.LeftToRight)
        self.timeline.setWrapping(False)
        self.timeline.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAsNeeded)
        self.timeline.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        self.timeline.setSpacing(2)
        self.timeline.setFixedHeight(self.fontMetrics().height() * 2 + 26)
        return self.timeline

    def _build_maps_column(self) -> QtWidgets.QWidget:
        """The step's maps (or the filter sliding, or the textbook way), their tools, the hover line."""
        self.grid = MapGrid()
        self.hover_label = QtWidgets.QLabel("Hover a map to read its numbers.")
        self.hover_label.setObjectName("backpropHoverLabel")
        self.hover_label.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        # On a conv layer's backward step the same gradients can be shown the
        # textbook way (cnnapp.learn.IdentityView) in place of the maps.
        self.identity_button = QtWidgets.QPushButton("Show the textbook way")
        self.identity_button.setObjectName("backpropIdentityToggle")
        self.identity_button.setCheckable(True)
        self.identity_button.setToolTip(
            "Compute this layer's dx and dW as whole-map convolutions, the way the texts derive them "
            "(dilate dz, pad by K−1, correlate (⋆) with the turned filters; correlate the input, padded by P, "
            "with the dilated dz), beside the kernels' result and their difference (T)")
        self.identity_button.setShortcut(QtGui.QKeySequence("T"))
        self.identity_button.setVisible(False)
        # On a conv layer's forward step the filter can be slid over the input, one output
        # element at a time (pausable).
        self.slide_button = QtWidgets.QPushButton("Slide the filter")
        self.slide_button.setObjectName("backpropSlideButton")
        self.slide_button.setToolTip("Watch the filter move over the input maps and fill its output map in, "
                                     "one number at a time. Click an output or filter map first to "
                                     "choose the filter. Click again to pause.")
        self.slide_button.setVisible(False)
        self.slide = FilterSlideView()
        self.map_stack = QtWidgets.QStackedWidget()
        self.map_stack.addWidget(self.grid)
        self.map_stack.addWidget(self.slide)
        left = QtWidgets.QWidget()
        ll = QtWidgets.QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        step_tools = QtWidgets.QHBoxLayout()
        step_tools.addWidget(self.identity_button)
        step_tools.addWidget(self.slide_button)
        self.loops_button = QtWidgets.QPushButton("The slides' loops")
        self.loops_button.setObjectName("backpropLoopsButton")
        self.loops_button.setCheckable(True)
        self.loops_button.setToolTip("Show the lecture slides' loops for this step beside it; a click on a "
                                     "number lights the line that made it (L)")
        self.loops_button.setShortcut(QtGui.QKeySequence("L"))
        self.loops_button.setVisible(False)
        step_tools.addWidget(self.loops_button)
        step_tools.addStretch(1)
        self.colours = QtWidgets.QComboBox()
        self.colours.setObjectName("backpropColours")
        self.colours.setToolTip("Colour scale of signed maps (weights, z, gradients); the purple–white–orange "
                                "one stays clear with red–green colour blindness")
        for words, _ in DIVERGING_SCALES.values():
            self.colours.addItem(words.split(" (")[0])
        step_tools.addWidget(QtWidgets.QLabel("Signed colours:"))
        step_tools.addWidget(self.colours)
        step_tools.addWidget(self.predict_button)
        ll.addLayout(step_tools)
        self.predict = PredictPanel()        # predict mode: the question before the maps (cnncore.predict)
        self.predict.setVisible(False)
        ll.addWidget(self.predict)
        ll.addWidget(self.map_stack, 1)
        ll.addWidget(self.hover_label)
        return left

    def _build_text_column(self) -> QtWidgets.QWidget:
        """The step's title, equation and explanation, the colour legend, the clicked number's sum."""
        self.title_label = QtWidgets.QLabel("")
        self.title_label.setObjectName("backpropTitle")
        self.title_label.setWordWrap(True)
        tf = self.title_label.font()
        tf.setPointSizeF(tf.pointSizeF() * 1.25)
        tf.setBold(True)
        self.title_label.setFont(tf)
        self.equation = equation_label("backpropEquation")
        self.explanation = QtWidgets.QLabel("")
        self.explanation.setObjectName("backpropExplanation")
        self.explanation.setWordWrap(True)
        self.explanation.setAlignment(QtCore.Qt.AlignTop | QtCore.Qt.AlignLeft)
        self.legend = QtWidgets.QLabel(self._legend_text())
        self.legend.setWordWrap(True)
        right = QtWidgets.QWidget()
        rl = QtWidgets.QVBoxLayout(right)
        rl.setContentsMargins(6, 0, 0, 0)
        rl.addWidget(self.title_label)
        rl.addWidget(self.equation)
        rl.addWidget(self.explanation)
        rl.addWidget(self.legend)
        self.loops = LoopsPanel()          # the slides' loops of a step that has some (cnncore.pseudocode)
        rl.addWidget(self.loops)
        self.arithmetic = ArithmeticPanel(right)
        rl.addWidget(self.arithmetic, 1)
        rl.addStretch(0)
        return right

    def _build_splitter(self) -> QtWidgets.QSplitter:
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        self.splitter.setObjectName("backpropSplitter")
        self.splitter.addWidget(self._build_maps_column())
        # the words of a step can be long (an Adam update, the slides' loops): they scroll, the window keeps its size
        text = QtWidgets.QScrollArea()
        text.setObjectName("backpropTextScroll")
        text.setWidgetResizable(True)
        text.setFrameShape(QtWidgets.QFrame.NoFrame)
        text.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        text.setWidget(self._build_text_column())
        self.splitter.addWidget(text)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([760, 460])
        return self.splitter

    def _add_step_keys(self) -> None:
        for keys, slot in (("Left", self.prev), ("Right", self.next), ("Home", self.first), ("End", self.last),
                           ("Space", self.toggle_play), ("PgUp", self.prev), ("PgDown", self.next)):
            # Whole-window keys, live only while this tab is shown (a hidden widget's shortcuts
            # never fire): the tab bar or a button may have the focus. A text or spin box keeps its
            # arrows (it claims them first through Qt's shortcut override).
            sc = QtGui.QShortcut(QtGui.QKeySequence(keys), self)
            sc.setContext(QtCore.Qt.WindowShortcut)
            sc.activated.connect(slot)

    def _bind(self) -> None:
        """Widgets → stepper and slots; stepper events → widgets; the app state's signals."""
        self.source.currentIndexChanged.connect(self._on_source)
        self.sample_spin.valueChanged.connect(self._on_sample)
        self.label_combo.activated.connect(self._on_true_digit_chosen)
        self.record_button.clicked.connect(lambda: self.record())
        self.open_button.clicked.connect(self.open_trace_dialog)
        for button, slot in ((self.first_button, self.first), (self.prev_button, self.prev),
                             (self.play_button, self.toggle_play), (self.next_button, self.next),
                             (self.last_button, self.last), (self.export_png_button, self.export_png_dialog),
                             (self.export_npz_button, self.export_trace_dialog)):
            button.clicked.connect(slot)
        self.quiz_button.clicked.connect(
            lambda: self.current_step() is not None and self.quizRequested.emit(self.current_step()))
        self.speed.valueChanged.connect(lambda v: setattr(self.stepper, "speed", v / 4.0))
        self.timeline.currentRowChanged.connect(self._on_timeline)
        self.grid.hovered.connect(self._on_hover)
        self.grid.elementClicked.connect(self._on_click)
        self.identity_button.toggled.connect(self._show_identity)
        self.predict_button.toggled.connect(lambda on: self._show_step(self.stepper.index))
        self.predict.revealed.connect(self._on_revealed)
        self.loops_button.toggled.connect(
            lambda on: self.loops.show_step(self.trace, self.current_step() if on else None))
        self.colours.currentIndexChanged.connect(lambda k: self.set_colours(list(DIVERGING_SCALES)[k]))
        self.slide_button.clicked.connect(self.toggle_slide)
        self.slide.moved.connect(self.hover_label.setText)
        self.slide.finished.connect(self._on_slide_finished)
        self.play_timer = QtCore.QTimer(self)
        self.play_timer.timeout.connect(self.stepper.next)
        self.stepper.index_changed.connect(self._show_step)
        self.stepper.playing_changed.connect(self._show_playing)
        self.stepper.speed_changed.connect(self._show_speed)
        self.state.drawingChanged.connect(lambda: setattr(self, "_label_set_here", False))
        self.state.networkChanged.connect(self._on_network_changed)
        self._show_speed(self.stepper.speed)
        self._show_playing(self.stepper.playing)
        self._on_source()
        self._update_nav()

    def settings_dict(self) -> dict:
        return {"speed": self.speed.value(), "source": self.source.currentIndex(),
                "sample": self.sample_spin.value(), "predict_score": self.predict.score.to_dict(),
                "colours": diverging_name()}

    def apply_settings(self, d: dict) -> None:
        """Saved plain values (:meth:`cnnapp.state.settings_store.SettingsStore.group`); each is
        checked here (the predict score by :meth:`Score.from_dict`, which leaves out what is not one)."""
        if "speed" in d:
            set_clamped(self.speed, d["speed"])
        self.source.setCurrentIndex(choice_index(d.get("source"), self.source.count()))
        set_clamped(self.sample_spin, d.get("sample", 0))
        if str(d.get("colours")) in DIVERGING_SCALES:
            self.set_colours(str(d["colours"]))
        if "predict_score" in d:
            self.predict.set_score(Score.from_dict(d["predict_score"]))

    # ------------------------------------------------------------- input
    def samples(self):
        """A few generated sample digits to trace (made once)."""
        if self._samples is None:
            from cnncore.datasets import generated_digits
            X, y = generated_digits(100, seed=2024)
            self._samples = (X, y)
        return self._samples

    def _on_source(self, *_):
        sample = self.source.currentIndex() == 2
        self.sample_spin.setEnabled(sample or self.source.currentIndex() == 0)
        self._on_sample()

    def _on_sample(self, *_):
        if self.source.currentIndex() == 1:
            return
        self._label_set_here = False     # another sample comes with its own digit
        try:
            X, y = self.samples()
            self.label_combo.setCurrentIndex(int(y[self.sample_spin.value()]))
        except Exception:  # noqa: BLE001 - no data set: the label stays as it is
            pass

    def _on_true_digit_chosen(self, *_):
        """A new true digit changes the loss and every gradient: trace the same input again."""
        self._label_set_here = True
        label = self.label_combo.currentIndex()
        if self.trace is None or self.trace.label == label:
            return
        image = np.asarray(self.trace.arrays["input"])[0, 0]
        what = self._what.split(" (true digit")[0]
        if self.record(image, label, what=f"{what} (true digit set to {label} here)"):
            self.state.say(f"Traced again with true digit {label}: the loss and every gradient changed.")

    def chosen_input(self):
        """``(image (28, 28) float32, label, description)`` for the chosen source."""
        mode = self.source.currentIndex()
        drawing = self.state.current_drawing() if mode in (0, 1) else None
        if mode == 1 and drawing is None:
            raise ValueError("The canvas is empty: draw a digit on the Draw tab first.")
        if drawing is not None:
            label = (self.label_combo.currentIndex() if self._label_set_here
                     else self.state.drawing_label())
            self.label_combo.setCurrentIndex(label)
            return drawing, label, "your drawing"
        X, y = self.samples()
        i = self.sample_spin.value()
        label = self.label_combo.currentIndex() if self._label_set_here else int(y[i])
        self.label_combo.setCurrentIndex(label)
        from cnncore.datasets import to_input
        return to_input(X[i:i + 1])[0, 0], label, f"generated sample {i}"

    def record(self, image=None, label=None, what: str = "the given image") -> bool:
        net = self.state.view_network()
        if net is None:
            self.state.say("There is no network to trace.")
            return False
        try:
            if image is None:
                image, label, what = self.chosen_input()
            from cnncore.trace import trace
            tr = trace(net, np.asarray(image, dtype=np.float32), int(label))
        except Exception as e:  # noqa: BLE001 - shown in the window, never as a traceback
            self.state.say(f"Could not record the trace: {e}")
            self.info.setText(f"<span style='color:#b00020'>{e}</span>")
            return False
        self.set_trace(tr, what)
        return True

    def set_trace(self, tr, what: str = "") -> None:
        self.stepper.playing = False
        self.trace = tr
        self._what = what
        img = np.asarray(tr.arrays["input"])[0, 0]
        self.thumb_img.setImage(img, levels=(0, 1), lut=GREY_LUT)
        p = tr.prediction
        kind, names = self._name_classes()
        self.info.setText(f"Traced {what}: true {kind} <b>{names[tr.label]}</b>, network says <b>{names[p]}</b> "
                          f"({tr.probs[p]:.0%}), loss <b>{tr.loss:.4g}</b> · {len(tr.steps)} steps")
        self.timeline.blockSignals(True)
        self.timeline.clear()
        for k, st in enumerate(tr.steps):
            kind = step_kind(st.kind)
            text = f"{k + 1}\n{kind.symbol}" + (f" L{st.layer} {st.layer_type}" if st.layer is not None else "")
            it = QtWidgets.QListWidgetItem(text)
            it.setTextAlignment(QtCore.Qt.AlignCenter)
            it.setBackground(QtGui.QColor(kind.colour))
            it.setToolTip(st.title)
            self.timeline.addItem(it)
        self.timeline.blockSignals(False)
        if self.identity is not None:
            self.identity.set_trace(tr)
        self.traceChanged.emit()
        self.stepper.load(len(tr.steps))

    def _name_classes(self) -> tuple[str, tuple]:
        """``("digit", digits)``, or ``("class", names)`` for a network that learnt another data set;
        the true-class box names them too."""
        net = self.state.view_network()
        names = classes_of(net)
        for i, name in enumerate(names):
            text = name if not other_dataset(net) else f"{i} {name}"
            if self.label_combo.itemText(i) != text:
                self.label_combo.setItemText(i, text)
        kind = "class" if other_dataset(net) else "digit"
        self.true_label.setText(f"true {kind}")
        return kind, names

    def _on_network_changed(self) -> None:
        """A trace belongs to one network: record it again (now if this tab is shown, else on return)."""
        self._name_classes()
        if self.trace is None:
            return
        self.stepper.playing = False
        if self.isVisible():
            self.record()
            return
        self.trace = None
        self.timeline.clear()
        self.grid.set_groups([])
        self.stepper.load(0)
        self.info.setText("The network changed: the pass will be recorded again.")

    # ---------------------------------------------------------- stepping
    @property
    def index(self) -> int:
        """The step shown (the stepper's)."""
        return self.stepper.index

    def step_count(self) -> int:
        return self.stepper.count

    def current_step(self):
        return self.trace.steps[self.stepper.index] if self.trace is not None and self.stepper.count else None

    def go(self, k: int) -> None:
        self.stepper.index = k

    def next(self):
        self.stepper.next()

    def prev(self):
        self.stepper.prev()

    def first(self):
        self.stepper.first()

    def last(self):
        self.stepper.last()

    def toggle_play(self):
        self.stepper.toggle_play()

    def stop_play(self):
        self.stepper.playing = False

    def _on_timeline(self, row: int):
        if row >= 0:
            self.stepper.index = row

    def _show_step(self, k: int) -> None:
        """Show step ``k`` of the trace: its maps, words, place on the timeline and tools."""
        self.slide.stop()
        self.hover_label.setText("Hover a map to read its numbers.")
        self.arithmetic.clear()
        st = self.current_step()
        if st is None:
            self._update_nav()
            return
        self.grid.set_groups(self.groups_for(st))
        self.title_label.setText(st.title)
        self.equation.setText(st.equation)
        self.explanation.setText(st.explanation + self._loss_words(st))
        self.step_label.setText(f"Step {k + 1} of {self.stepper.count} · {st.kind}"
                                + (f" · layer {st.layer} ({st.layer_type})" if st.layer is not None else ""))
        self.timeline.blockSignals(True)
        self.timeline.setCurrentRow(k)
        self.timeline.blockSignals(False)
        self.timeline.scrollToItem(self.timeline.item(k))
        self._show_step_tools(st)
        self.loops.show_step(self.trace, st if self.loops_button.isChecked() else None)
        self.loops_button.setVisible(LoopsPanel.has_loops(self.trace, st))
        self._ask_prediction(k)
        self._update_nav()
        self.stepChanged.emit(k)

    def _ask_prediction(self, k: int) -> None:
        """In predict mode (not while playing), hide the maps behind a question about this step."""
        from cnncore.predict import ask
        q = None
        if self.predict_button.isChecked() and not self.stepper.playing and self.trace is not None:
            q = ask(self.trace, k, self.predict.score, self._rng)
        self.predict.setVisible(self.predict_button.isChecked())
        self.map_stack.setVisible(q is None)
        if q is None:
            self.predict.question = None
            self.predict.prompt.setText("Nothing to predict in this step: its maps are shown." if
                                        self.predict_button.isChecked() else "")
            self.predict.given.setText("")
            self.predict.verdict.setText("")
            self.predict.answer.setEnabled(False)
        else:
            self.predict.ask(q)

    def _on_revealed(self, q, verdict) -> None:
        """Show the maps, outline the element asked about and its sources, and its arithmetic."""
        self.map_stack.setVisible(True)
        self._on_click(q.key, q.index)
        self.state.say("Predictions so far: " + self.predict.score.summary(), 8000)

    def _loss_words(self, st) -> str:
        if st.kind != "loss":
            return ""
        tr = self.trace
        kind, names = self._name_classes()
        return (f"<br><br>True {kind}: <b>{names[tr.label]}</b>; p(true {kind}) = "
                f"{tr.probs[tr.label]:.6g}; loss L = −log p = <b>{tr.loss:.4g}</b>.")

    def _show_step_tools(self, st) -> None:
        """The textbook way on a conv backward step, the sliding filter on a conv forward step."""
        conv_backward = st.kind == "backward" and st.layer is not None and layer_class(st.layer_type).identities
        self.identity_button.setVisible(conv_backward)
        self.slide_button.setVisible(st.kind == "forward" and st.layer_type == "conv")
        self.slide_button.setText("Slide the filter")
        if conv_backward and self.identity_button.isChecked():
            self._show_identity(True)
        else:
            self.map_stack.setCurrentWidget(self.grid)

    def _show_playing(self, on: bool) -> None:
        if on:
            self.play_timer.start()
        else:
            self.play_timer.stop()
        self.play_button.setText("Pause" if on else "Play")
        self.play_button.setIcon(self._pause_icon if on else self._play_icon)

    def _show_speed(self, steps_per_s: float) -> None:
        self.speed.blockSignals(True)
        self.speed.setValue(int(round(steps_per_s * 4)))
        self.speed.blockSignals(False)
        self.play_timer.setInterval(self.stepper.interval_ms)
        self.speed_label.setText(f"{steps_per_s:g}/s")

    def _update_nav(self):
        has = self.stepper.count > 0
        back, on = self.stepper.can_go_back(), self.stepper.can_go_on()
        for button, enabled in ((self.first_button, back), (self.prev_button, back), (self.next_button, on),
                                (self.last_button, on), (self.play_button, has),
                                (self.export_png_button, has), (self.export_npz_button, has)):
            button.setEnabled(enabled)
        if not has:
            self.step_label.setText("No trace yet: press Record trace")

    def _show_identity(self, on: bool) -> None:
        """Swap the step's maps for the textbook computation of this conv layer's gradients."""
        st = self.current_step()
        self.identity_button.setText("Back to this step's maps" if on else "Show the textbook way")
        if not on or st is None or st.kind != "backward" or not layer_class(st.layer_type).identities:
            self.map_stack.setCurrentWidget(self.grid)
            return
        if self.identity is None:
            from cnnapp.learn.identity_view import IdentityView
            self.identity = IdentityView()
            self.map_stack.addWidget(self.identity)
            self.identity.set_trace(self.trace)
        self.identity.select_layer(st.layer)
        self.map_stack.setCurrentWidget(self.identity)

    def toggle_slide(self) -> None:
        """Start, pause or resume the filter sliding over this conv step's input."""
        st = self.current_step()
        if self.slide.running():
            self.slide.pause()
        elif self.slide.active():
            self.slide.resume()
        elif self.map_stack.currentWidget() is self.slide:      # finished: back to all the maps
            self.map_stack.setCurrentWidget(self.grid)
        elif st is not None and st.kind == "forward" and st.layer_type == "conv":
            self.stepper.playing = False
            layer = self.trace.spec["layers"][st.layer]
            self.slide.start(self.trace.arrays, st.layer, layer, min(self._slide_filter, layer["filters"] - 1))
            self.map_stack.setCurrentWidget(self.slide)
        self.slide_button.setText("Pause the filter" if self.slide.running()
                                  else "Go on sliding" if self.slide.active() else "Slide the filter")

    def _on_slide_finished(self) -> None:
        self.slide_button.setText("Back to this step's maps")

    def groups_for(self, st) -> list[MapGroup]:
        A = self.trace.arrays
        groups = []
        marks = {}
        if st.layer is not None and layer_key(st.layer, "argmax") in A:
            xkey = layer_key(st.layer, "x")
            mask = winner_mask(A[layer_key(st.layer, "argmax")], A[xkey].shape[2:], np.asarray(A[xkey]))
            marks = {xkey: mask, layer_key(st.layer, "dx"): mask}
        for key in map_keys(st):
            if key not in A:
                continue
            arr = np.asarray(A[key])
            groups.append(MapGroup(key, arr, _title(key, arr), diverging=is_signed(key, arr), marks=marks.get(key)))
        return groups

    # ----------------------------------------------------------- mouse
    def _on_hover(self, key, index, value):
        if key is None:
            self.hover_label.setText("Hover a map to read its numbers.")
            return
        self.hover_label.setText(self._describe(key, index, value))

    def _describe(self, key, index, value) -> str:
        arr = self.trace.arrays[key] if self.trace is not None else None
        where = ""
        if arr is not None and np.ndim(arr) == 4 and len(index) == 4:
            if split_key(key)[1] in ("W", "dW", "W_next", "mW", "vW"):
                where = f"filter {index[0]}, channel {index[1]}, row {index[2]}, column {index[3]}"
            else:
                where = f"channel {index[1]}, row {index[2]}, column {index[3]}"
        elif arr is not None and np.ndim(arr) == 2 and len(index) == 2:
            where = (f"unit {index[0]}, input {index[1]}" if arr.shape[0] != 1 else f"element {index[1]}")
        elif len(index) == 1:
            where = f"element {index[0]}"
        return f"{key}[{', '.join(str(i) for i in index)}] = {value:.6g}" + (f"   ({where})" if where else "")

    def _on_click(self, key, index):
        if self.trace is None:
            return
        if split_key(key)[1] in ("z", "y", "W", "dz", "dW") and len(index) == 4:
            self._slide_filter = int(index[1] if split_key(key)[1] in ("z", "y", "dz") else index[0])
        step = self.current_step()
        self._mark_sources(key, index, step)
        self.loops.mark(key, index)
        try:
            self.arithmetic.show_element(self.trace, step, key, tuple(index))
        except Exception as e:  # noqa: BLE001 - said in the status bar, never a traceback
            self.state.say(f"Could not explain {key}{list(index)}: {e}")

    def _mark_sources(self, key, index, step) -> int:
        """Outline the clicked element and every number it was computed from (cnncore.explain)."""
        sources = {}
        try:
            from cnncore.explain import breakdown
            sources = breakdown(self.trace, key, tuple(index), step).sources()
        except Exception:  # noqa: BLE001 - no breakdown for this element: outline it alone
            sources = {}
        return self.grid.mark_elements((key, tuple(index)), sources)

    # ----------------------------------------------------------- export
    def export_pngs(self, folder) -> list[Path]:
        """Write every map of the current step as a PNG (nearest-neighbour enlarged) and the whole view."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        st = self.current_step()
        written = []
        stem = f"step{self.stepper.index + 1:02d}_{st.kind}" + (f"_L{st.layer}" if st.layer is not None else "")
        for item, tile in zip(self.grid.map_items(), self.grid.tiles()):
            label = re.sub(r"[^A-Za-z0-9]+", "_", tile.label).strip("_")
            name = f"{stem}_{tile.key.replace('.', '_')}" + (f"_{label}" if label else "") + ".png"
            qimg = item.qimage if getattr(item, "qimage", None) is not None else None
            if qimg is None:
                item.render()
                qimg = item.qimage
            h, w = tile.data.shape
            scale = max(1, int(round(224 / max(h, w))))
            big = qimg.scaled(w * scale, h * scale, QtCore.Qt.IgnoreAspectRatio, QtCore.Qt.FastTransformation)
            written.append(atomic_write_bytes(folder / name, png_bytes(big)))
        written.append(atomic_write_bytes(folder / f"{stem}_all.png", png_bytes(self.grid.grab_image())))
        return written

    def export_png_dialog(self):
        if self.trace is None:
            return
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Export the maps of this step to",
                                                            str(data_dir()))
        if folder:
            try:
                files = self.export_pngs(folder)
                self.state.say(f"Wrote {len(files)} PNG files to {folder}")
            except Exception as e:  # noqa: BLE001
                self.state.say(f"Could not export the maps: {e}")

    def export_trace(self, path) -> bool:
        try:
            self.trace.save(Output(path, self.state.kept_files()))
        except Exception as e:  # noqa: BLE001
            self.state.say(f"Could not save the trace: {e}")
            return False
        self.state.say(f"Saved the trace to {path}")
        return True

    def open_trace(self, path) -> bool:
        """Show a trace file read by :meth:`cnncore.trace.Trace.load`; a file that is not one is
        refused with the loader's reason and the trace shown before stays."""
        from cnncore.trace import Trace, TraceFileError
        try:
            tr = Trace.load(str(path))
        except TraceFileError as e:
            self.state.say(f"Could not open the trace: {e}", 0)
            return False
        self.set_trace(tr, f"the file {Path(path).name}")
        self.label_combo.setCurrentIndex(tr.label)
        self.state.say(f"Opened the trace {path} (recorded with its own network, shown as it was saved)")
        return True

    def open_trace_dialog(self) -> bool:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open trace", str(data_dir()),
                                                        "NumPy arrays (*.npz);;All files (*)")
        return bool(path) and self.open_trace(path)

    def export_trace_dialog(self):
        if self.trace is None:
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export trace", str(data_dir() / "trace.npz"),
                                                        "NumPy arrays (*.npz)")
        if path:
            self.export_trace(path)
