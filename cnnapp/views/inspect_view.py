"""Look tab: what the network looks at (saliency, Grad-CAM), how little it takes to fool it
(an adversarial digit) and what a class or a filter wants to see (a dream, animated).

All the arithmetic is :mod:`cnncore.probe`, run in worker threads on a private copy of the
network (a :class:`~cnncore.probe.Probe` made here from ``AppState.view_network()``), so the
GUI thread only paints and a network that is training is never touched.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ..widgets.canvas import DrawCanvas
from ..widgets.heatmap import SEQ_LUT, lut_for
from ..workers import FramesWorker, LatestJob, start_in_thread
from .state import classes_of, other_dataset

GREY_LUT = np.repeat(np.arange(256, dtype=np.ubyte)[:, None], 3, axis=1)
LIVE_MS = 80          # at most one saliency request per this many ms while the pen moves
EXAMPLES = 200        # generated digits offered when no data set is loaded


def overlay(digit: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """An RGB ``(H, W, 3)`` uint8 picture: the digit in grey with ``heat`` (``(H, W)`` in [0, 1])
    laid over it in the sequential colours, opaque where the heat is high."""
    grey = np.clip(digit, 0, 1)[..., None] * 255.0
    colour = SEQ_LUT[np.clip((heat * 255).astype(int), 0, 255)].astype(np.float64)
    a = (0.75 * np.clip(heat, 0, 1))[..., None]
    return ((1 - a) * grey + a * colour).astype(np.ubyte)


class ImagePanel(QtWidgets.QWidget):
    """A square picture with a title above and a caption below."""

    def __init__(self, title: str, tooltip: str = "", size: int = 150, parent=None):
        super().__init__(parent)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(2)
        self.title = QtWidgets.QLabel(title)
        self.title.setStyleSheet("font-weight: bold;")
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.view.setFixedSize(size, size)
        self.view.setToolTip(tooltip)
        vb = self.view.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        vb.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        vb.addItem(self.image)
        self._vb = vb
        self.caption = QtWidgets.QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #555;")
        self.caption.setMaximumWidth(max(size, 170))
        for w in (self.title, self.view, self.caption):
            lay.addWidget(w)
        lay.addStretch(1)

    def set_side(self, side: int) -> None:
        self.view.setFixedSize(side, side)
        self.caption.setMaximumWidth(max(side, 170))

    def _set(self, img, **kw) -> None:
        self.image.setImage(img, **kw)
        self._vb.setRange(QtCore.QRectF(0, 0, img.shape[1], img.shape[0]), padding=0)

    def show_grey(self, img) -> None:
        self._set(np.asarray(img, np.float32), levels=(0, 1), lut=GREY_LUT)

    def show_signed(self, img, m: float | None = None) -> None:
        img = np.asarray(img, np.float32)
        m = float(np.abs(img).max()) if m is None else m
        self._set(img, levels=(-(m or 1.0), m or 1.0), lut=lut_for(True))      # the chosen signed scale

    def show_magnitude(self, img) -> None:
        img = np.asarray(img, np.float32)
        self._set(img, levels=(0, float(img.max()) or 1.0), lut=SEQ_LUT)

    def show_rgb(self, rgb) -> None:
        self._set(rgb, levels=(0, 255))


def _row(*widgets) -> QtWidgets.QHBoxLayout:
    lay = QtWidgets.QHBoxLayout()
    for w in widgets:
        lay.addWidget(w) if isinstance(w, QtWidgets.QWidget) else lay.addLayout(w)
    lay.addStretch(1)
    return lay


def _note(text: str) -> QtWidgets.QLabel:
    label = QtWidgets.QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: #555;")
    return label


class InspectView(QtWidgets.QWidget):
    """The Look tab. ``state`` is the app's :class:`~cnnapp.views.state.AppState`."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self._sample = None          # a data set digit shown exactly (None: the canvas drawing)
        self._sample_label = None
        self._examples = None
        self._dirty = True
        self._from_draw = self._draw_changed = False   # following the Draw tab's drawing
        self._closed = False                           # shut down: no more worker threads
        self._dream_thread = self._dream_worker = None
        self.gradients = None        # the latest (ClassGradient, cams) shown
        self.attack_result = None
        self.look_job = LatestJob(self, "look-gradients")
        self.look_job.done.connect(self._show_gradients)
        self.look_job.failed.connect(self._on_failed)
        self.attack_job = LatestJob(self, "look-attack")
        self.attack_job.done.connect(self._show_attack)
        self.attack_job.failed.connect(self._on_failed)

        lay = QtWidgets.QHBoxLayout(self)
        lay.addLayout(self._build_input(), 0)
        self.inner = QtWidgets.QTabWidget()
        self.inner.setObjectName("lookTabs")
        self.inner.addTab(self._build_where(), "Where it looks")
        self.inner.addTab(self._build_fool(), "Fooling it")
        self.inner.addTab(self._build_dream(), "What it wants to see")
        for i, tip in enumerate(("Saliency and Grad-CAM: which pixels and which regions raise the score",
                                 "The smallest change to the pixels that makes the network answer differently",
                                 "Let the network paint what a digit or a filter responds to most")):
            self.inner.setTabToolTip(i, tip)
        lay.addWidget(self.inner, 1)

        self._live = QtCore.QTimer(self, singleShot=True, interval=LIVE_MS)
        self._live.timeout.connect(self.refresh)
        self.canvas.changed.connect(self._on_drawn)
        self.state.drawingChanged.connect(self._on_draw_tab)
        self.state.networkChanged.connect(self._on_network)
        self.state.weightsChanged.connect(self._on_network)
        self._on_network()

    # ------------------------------------------------------------------ building
    def _build_input(self) -> QtWidgets.QVBoxLayout:
        self.canvas = DrawCanvas(size=280)
        self.canvas.setObjectName("lookCanvas")
        self.canvas.setFixedSize(260, 260)
        self.canvas.setToolTip("Draw a digit here: the saliency follows as you draw")
        from_draw = QtWidgets.QPushButton("From the Draw tab")
        from_draw.setObjectName("lookFromDraw")
        from_draw.setToolTip("Look at the digit drawn on the Draw tab")
        from_draw.clicked.connect(self.take_drawing)
        clear = QtWidgets.QPushButton("Clear")
        clear.setObjectName("lookClear")
        clear.setToolTip("Wipe the sheet")
        clear.clicked.connect(self.canvas.clear)
        self.sample_spin = QtWidgets.QSpinBox()
        self.sample_spin.setObjectName("lookSample")
        self.sample_spin.setRange(0, EXAMPLES - 1)
        self.sample_spin.setToolTip("Which digit of the data set (the Train tab's data once loaded, "
                                    "else generated digits)")
        sample = QtWidgets.QPushButton("Data set digit")
        sample.setObjectName("lookSampleButton")
        sample.setToolTip("Look at this digit of the data set, exactly as the network was trained on it")
        sample.clicked.connect(lambda: self.show_sample(self.sample_spin.value()))
        self.cls = QtWidgets.QComboBox()
        self.cls.setObjectName("lookClass")
        self.cls.addItem("its answer", None)
        for d in range(10):
            self.cls.addItem(f"digit {d}", d)
        self.cls.setToolTip("Whose score to explain: the digit the network answers, or any other digit")
        self.cls.currentIndexChanged.connect(self.refresh)
        self.answer = QtWidgets.QLabel("")
        self.answer.setObjectName("lookAnswer")
        self.answer.setWordWrap(True)
        self.answer.setMaximumWidth(300)
        col = QtWidgets.QVBoxLayout()
        col.addWidget(QtWidgets.QLabel("Draw a digit, or pick one:"))
        col.addWidget(self.canvas)
        col.addLayout(_row(from_draw, clear))
        col.addLayout(_row(sample, self.sample_spin))
        col.addLayout(_row(QtWidgets.QLabel("Explain the score of"), self.cls))
        col.addWidget(self.answer)
        col.addStretch(1)
        return col

    def _build_where(self) -> QtWidgets.QWidget:
        self.seen = ImagePanel("What it sees", "The 28×28 input the network gets")
        self.saliency = ImagePanel("Saliency (signed)", "∂z/∂x: red pixels raise the score when made "
                                   "brighter, blue ones lower it")
        self.saliency_abs = ImagePanel("Saliency |∂z/∂x|", "How much each pixel matters, whichever way")
        self.cam_box = QtWidgets.QHBoxLayout()
        self.cam_box.addStretch(1)
        self.cam_panels: list[ImagePanel] = []
        page = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(page)
        lay.addLayout(_row(self.seen, self.saliency, self.saliency_abs))
        lay.addWidget(_note("Grad-CAM, per conv layer: each filter map is weighted by how much it raises the "
                            "score on average, the weighted maps are added, negatives dropped, and the result "
                            "is stretched over the digit (bright: where it raises the score most). Early layers "
                            "follow strokes and background; the last conv layer's map says most about the "
                            "answer."))
        lay.addLayout(self.cam_box)
        lay.addStretch(1)
        return self._scrolled(page)

    def _build_fool(self) -> QtWidgets.QWidget:
        self.eps = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.eps.setObjectName("lookEpsilon")
        self.eps.setRange(1, 30)
        self.eps.setValue(10)
        self.eps.setToolTip("ε: how far any pixel may move (0.01 to 0.30 of full brightness)")
        self.eps.valueChanged.connect(self.run_attack)
        self.eps_label = QtWidgets.QLabel("")
        self.target = QtWidgets.QComboBox()
        self.target.setObjectName("lookTarget")
        self.target.addItem("any other digit", None)
        for d in range(10):
            self.target.addItem(f"digit {d}", d)
        self.target.setToolTip("Push the answer away from the current one, or towards a digit you choose")
        self.target.currentIndexChanged.connect(self.run_attack)
        smallest = QtWidgets.QPushButton("Find the smallest ε")
        smallest.setObjectName("lookSmallest")
        smallest.setToolTip("Search for the smallest budget that changes the answer (up to 0.30)")
        smallest.clicked.connect(self.find_smallest)
        self.original = ImagePanel("Original", "The digit as it is")
        self.change = ImagePanel("Change", "What is added to each pixel: red brighter, blue darker")
        self.fooled = ImagePanel("Changed digit", "The original plus the change, kept within [0, 1]")
        self.attack_text = QtWidgets.QLabel("")
        self.attack_text.setObjectName("lookAttackText")
        self.attack_text.setWordWrap(True)
        page = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(page)
        lay.addLayout(_row(QtWidgets.QLabel("Budget ε"), self.eps, self.eps_label, QtWidgets.QLabel("towards"),
                           self.target, smallest))
        lay.addLayout(_row(self.original, self.change, self.fooled))
        lay.addWidget(self.attack_text)
        lay.addWidget(_note("Each step moves every pixel by a small amount in the direction that hurts the "
                            "current answer most (the sign of the gradient), never further than ε from the "
                            "original and always between black and white. Changes a person barely sees can "
                            "be enough: the network reads pixels, not strokes."))
        lay.addStretch(1)
        return self._scrolled(page)

    def _build_dream(self) -> QtWidgets.QWidget:
        self.goal = QtWidgets.QComboBox()
        self.goal.setObjectName("lookGoal")
        self.goal.setToolTip("What to make large: the score of a digit, or the average of one filter's map")
        self.dream_button = QtWidgets.QPushButton("Start")
        self.dream_button.setObjectName("lookDreamButton")
        self.dream_button.setToolTip("Start or stop painting (runs in the background)")
        self.dream_button.clicked.connect(self.toggle_dream)
        self.dream_panel = ImagePanel("Painted input", "The input that gradient ascent has found so far",
                                      size=220)
        page = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(page)
        lay.addLayout(_row(QtWidgets.QLabel("Make large:"), self.goal, self.dream_button))
        lay.addLayout(_row(self.dream_panel))
        lay.addWidget(_note("Starting from a grey picture, each step nudges every pixel along the gradient of "
                            "the chosen score, with a small pull towards smooth pictures so the result is "
                            "not just noise. What appears is what the network responds to, not a digit a "
                            "person would draw."))
        lay.addStretch(1)
        return self._scrolled(page)

    @staticmethod
    def _scrolled(page: QtWidgets.QWidget) -> QtWidgets.QScrollArea:
        area = QtWidgets.QScrollArea()
        area.setWidgetResizable(True)
        area.setFrameShape(QtWidgets.QFrame.NoFrame)
        area.setWidget(page)
        return area

    def resizeEvent(self, ev) -> None:
        """Larger pictures on a larger window (150 px at 1024 px wide, up to 300 px)."""
        super().resizeEvent(ev)
        side = int(max(150, min(300, (self.inner.width() - 80) / 4.5)))
        for panel in (self.seen, self.saliency, self.saliency_abs, self.original, self.change, self.fooled,
                      *self.cam_panels):
            panel.set_side(side)
        self.dream_panel.set_side(int(side * 1.4))

    # ------------------------------------------------------------------ the input
    def current_input(self):
        """The (28, 28) float32 input in [0, 1] looked at, or None (empty sheet)."""
        if self._sample is not None:
            return self._sample
        ink = self.canvas.array()
        if float(ink.max()) < 0.02:
            return None
        from cnncore.datasets import preprocess_drawing
        return np.asarray(preprocess_drawing(ink), dtype=np.float32)

    def take_drawing(self) -> None:
        """Look at the Draw tab's drawing; from now on a new drawing there is taken when this tab shows."""
        x = self.state.current_drawing()
        if x is None:
            self.state.say("The Draw tab's sheet is empty: draw a digit there or here.")
            return
        self._put(np.asarray(x, np.float32), None)
        self._from_draw, self._draw_changed = True, False

    def _on_draw_tab(self) -> None:
        self._draw_changed = True
        if self._from_draw and self.isVisible():
            self.take_drawing()

    def show_sample(self, i: int) -> None:
        X, y, what = self._data()
        i = int(i) % len(X)
        self._put(X[i].astype(np.float32) / 255, int(y[i]))
        self.answer.setToolTip(f"Digit {i} of {what}")

    def _data(self):
        for name, value in self.state.datasets.items():      # labelled images loaded by the Train tab
            if isinstance(value, tuple) and len(value) == 2 and getattr(value[0], "ndim", 0) == 3 and len(value[0]):
                return value[0], value[1], name
        if self._examples is None:
            from cnncore.datasets import generated_digits
            self._examples = generated_digits(EXAMPLES, seed=11)
        return self._examples[0], self._examples[1], "generated digits"

    def _put(self, x: np.ndarray, label) -> None:
        self.canvas.set_array(x)          # emits changed: forget the sample, then set it again
        self._sample, self._sample_label = x, label
        self.refresh()
        self.run_attack()

    def _on_drawn(self) -> None:
        self._sample = self._sample_label = None
        self._from_draw = False
        if not self._live.isActive():
            self._live.start()

    # ------------------------------------------------------------------ network
    def class_word(self, k: int) -> str:
        """Class ``k`` as the menus and texts say it: "digit 3", or its own name ("Sneaker")."""
        net = self.state.network
        return classes_of(net)[int(k)] if other_dataset(net) else f"digit {int(k)}"

    def _on_network(self) -> None:
        for box in (self.cls, self.target):
            for k in range(10):
                box.setItemText(k + 1, self.class_word(k))
        self._fill_goals()
        self._dirty = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if self._from_draw and self._draw_changed and self.state.current_drawing() is not None:
            self.take_drawing()
        elif self.canvas.is_empty() and self._sample is None:
            if self.state.current_drawing() is not None:
                self.take_drawing()
            else:
                self.show_sample(self.sample_spin.value())
        elif self._dirty:
            self.refresh()
            self.run_attack()

    def _probe(self):
        net = self.state.view_network()
        if net is None:
            return None
        from cnncore.probe import Probe
        return Probe(net)           # a private copy, made here in the GUI thread

    def _fill_goals(self) -> None:
        """The dream's menu: the ten digits' scores, then every filter of every conv layer."""
        from cnncore.probe import Goal, conv_layers
        net = self.state.network
        self.goals = [Goal.of_class(d) for d in range(10)]
        for i in (conv_layers(net) if net is not None else []):
            self.goals += [Goal.of_filter(i, k) for k in range(net.layers[i].out_shape[0])]
        keep = self.goal.currentText()
        self.goal.blockSignals(True)
        self.goal.clear()
        for goal in self.goals:
            self.goal.addItem(f"the score of {self.class_word(goal.index)}" if goal.layer is None
                              else f"filter {goal.index} of layer {goal.layer} (conv)")
        self.goal.setCurrentIndex(max(self.goal.findText(keep), 0))
        self.goal.blockSignals(False)

    # ------------------------------------------------------------------ where it looks
    def refresh(self) -> None:
        """Compute saliency and Grad-CAM of the current input in a worker (latest request wins)."""
        self._live.stop()
        x, probe = self.current_input(), self._probe()
        if x is None or probe is None:
            self.answer.setText("Draw a digit…" if probe is not None else "No network yet.")
            return
        self._dirty = False
        c = self.cls.currentData()
        self.look_job.submit(lambda: _gradients(probe, x, c))

    def _show_gradients(self, result) -> None:
        x, g, cams = result
        self.gradients = (g, cams)
        p = g.probabilities
        name = classes_of(self.state.network)
        label = "" if self._sample_label is None else f" (it is {name[self._sample_label]})"
        self.answer.setText(f"The network answers <b>{name[g.predicted]}</b>, {p[g.predicted]:.0%} sure{label}. "
                            f"Explaining the score of {name[g.cls]}.")
        self.seen.show_grey(x)
        s = g.saliency[0]
        self.saliency.show_signed(s)
        self.saliency_abs.show_magnitude(np.abs(s))
        self.saliency.caption.setText(f"largest |∂z_{g.cls}/∂x| = {np.abs(s).max():.3g}")
        self._show_cams(x, g, cams)

    def _show_cams(self, x, g, cams) -> None:
        while len(self.cam_panels) < len(cams):
            panel = ImagePanel("", "Grad-CAM of this conv layer, over the digit", size=self.seen.view.width())
            self.cam_panels.append(panel)
            self.cam_box.insertWidget(len(self.cam_panels) - 1, panel)
        for panel in self.cam_panels[len(cams):]:
            panel.setVisible(False)
        for panel, (i, (cam, up)) in zip(self.cam_panels, cams.items()):
            panel.setVisible(True)
            top = float(up.max())
            panel.show_rgb(overlay(x, up / top if top > 0 else up))
            panel.title.setText(f"Grad-CAM, layer {i}")
            panel.caption.setText(f"{cam.shape[0]}×{cam.shape[1]} map" if top > 0 else
                                  f"{cam.shape[0]}×{cam.shape[1]}: no region raises the score of {g.cls}")

    def _on_failed(self, message: str) -> None:
        self.state.say(f"Look: {message}")

    # ------------------------------------------------------------------ fooling it
    def epsilon(self) -> float:
        return self.eps.value() / 100.0

    def run_attack(self) -> None:
        """The attack at the slider's ε (and the chosen target), in a worker."""
        self.eps_label.setText(f"{self.epsilon():.2f}")
        x, probe = self.current_input(), self._probe()
        if x is None or probe is None:
            return
        eps, target = self.epsilon(), self.target.currentData()
        self.attack_job.submit(lambda: probe.attack(x, eps, target=target))

    def find_smallest(self) -> None:
        x, probe = self.current_input(), self._probe()
        if x is None or probe is None:
            return
        target = self.target.currentData()
        self.attack_text.setText("Searching for the smallest ε…")
        self.attack_job.submit(lambda: ("smallest", probe.smallest_attack(x, target=target)))

    def _show_attack(self, result) -> None:
        smallest = isinstance(result, tuple)
        a = result[1] if smallest else result
        self.attack_result = a
        if smallest and a.success:
            self.eps.blockSignals(True)
            self.eps.setValue(max(1, int(np.ceil(a.epsilon * 100 - 1e-9))))
            self.eps_label.setText(f"{a.epsilon:.3f}")
            self.eps.blockSignals(False)
        self.original.show_grey(a.original[0])
        self.change.show_signed(a.change[0], max(a.epsilon, 1e-6))
        self.fooled.show_grey(a.image[0])
        self.original.caption.setText(f"answer {a.original_predicted}")
        self.fooled.caption.setText(f"answer {a.predicted}")
        self.change.caption.setText(f"every pixel within ±{a.epsilon:.3f}")
        self.attack_text.setText(_attack_words(a, smallest, classes_of(self.state.network)))

    # ------------------------------------------------------------------ dream
    def toggle_dream(self) -> None:
        if self._dream_thread is not None:
            self._dream_worker.stop()
            return
        if self._closed:
            return
        probe = self._probe()
        if probe is None:
            return
        goal = self.goals[self.goal.currentIndex()]
        self._dream_worker = FramesWorker(lambda: probe.dream(goal, steps=240, every=3))
        self._dream_worker.frame.connect(self._show_frame)
        self._dream_worker.failed.connect(self._on_failed)
        self._dream_thread = start_in_thread(self._dream_worker, self, "look-dream")
        self._dream_thread.finished.connect(self._on_dream_end)
        self.dream_button.setText("Stop")
        self.dream_panel.title.setText(f"Painting for {goal.describe()}")

    def _show_frame(self, f) -> None:
        self.dream_panel.show_grey(f.image)
        self.dream_panel.caption.setText(f"step {f.step}: score {f.score:.3g}, roughness {f.penalty:.3g}")

    def _on_dream_end(self) -> None:
        if self._dream_thread is not None:
            self._dream_thread.deleteLater()
        self._dream_thread = self._dream_worker = None
        self.dream_button.setText("Start")

    def dream_running(self) -> bool:
        return self._dream_thread is not None

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Stop the workers and wait for their threads (window closing); nothing starts afterwards."""
        self._closed = True
        self._live.stop()
        if self._dream_worker is not None:
            self._dream_worker.stop()
        if self._dream_thread is not None:
            self._dream_thread.quit()
            self._dream_thread.wait(timeout_ms)
            QtCore.QCoreApplication.sendPostedEvents(self, QtCore.QEvent.MetaCall)
        self.look_job.shutdown(timeout_ms)
        self.attack_job.shutdown(timeout_ms)


def _gradients(probe, x, c):
    """Worker side: ``(x, ClassGradient, {layer: (cam, cam stretched to the input)})``."""
    from cnncore.probe import upsample_map
    g = probe.class_gradient(x, c)
    cams = {i: (cam, upsample_map(cam, x.shape)) for i, cam in g.gradcam().items()}
    return x, g, cams


def _attack_words(a, smallest: bool, name) -> str:
    """What the attack did, in words; ``name[k]`` is class ``k``'s name."""
    was = f"It answered {name[a.original_predicted]}"
    if a.success:
        how = "The smallest budget found" if smallest else "With this budget"
        return (f"{was}. {how}, ε = {a.epsilon:.3f}, it answers <b>{name[a.predicted]}</b>: no pixel moved by "
                f"more than {a.epsilon:.0%} of full brightness.")
    goal = "anything else" if a.target is None else name[a.target]
    return f"{was}, and with ε = {a.epsilon:.3f} it still does not answer {goal}" + (
        f" (it answers {name[a.predicted]})." if a.predicted != a.original_predicted else ".")
