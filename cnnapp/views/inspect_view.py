"""Look tab: what the network looks at (saliency, Grad-CAM), how little it takes to fool it
(an adversarial picture) and what a class or a filter wants to see (a dream, animated).

It looks at the session's picture, the one the Backprop tab traces: drawn here, taken from the Draw
tab, a data set sample or a held-out mistake. Each page shows that picture: a page that is hidden
when the picture changes is brought up to date when it is shown. All the arithmetic is
:mod:`cnncore.probe`, run in worker threads on a private copy of the network (a
:class:`~cnncore.probe.Probe` made here from ``Session.view_network()``), so the GUI thread only
paints and a network that is training is never touched.
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from ..state import SAMPLE, SKETCH, Picture
from ..state.session import HELD_NOTE
from ..widgets.canvas import DrawCanvas
from ..widgets.font_fit import ems_wide
from ..widgets.open_picture import picture_button
from ..widgets.wrapping_label import WrappingLabel
from ..workers import LatestJob
from .look_dream import Dreaming
from .look_pages import DreamPage, FoolPage, ImagePanel, WherePage, row, side_for

LIVE_MS = 80          # at most one picture from the sheet per this many ms while the pen moves


class InspectView(Dreaming, QtWidgets.QWidget):
    """The Look tab, for ``session`` (:class:`cnnapp.state.Session`)."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self._closed = False                           # shut down: no more worker threads
        self._dream_thread = self._dream_worker = None
        self._shown = {}             # page -> the session's view_key() it was computed for
        self.gradients = None        # the latest (ClassGradient, cams) shown
        self.attack_result = None
        self.look_job = LatestJob(self, "look-gradients")
        self.look_job.done.connect(self._show_gradients)
        self.look_job.failed.connect(self._on_failed)
        self.attack_job = LatestJob(self, "look-attack")
        self.attack_job.done.connect(self._show_attack)
        self.attack_job.failed.connect(self._on_failed)
        self.where, self.fool, self.dream = WherePage(), FoolPage(), DreamPage()
        for name in ("cam_panels",):
            setattr(self, name, getattr(self.where, name))
        for name in ("eps", "target", "attack_text"):
            setattr(self, name, getattr(self.fool, name))
        for name in ("goal", "dream_button", "dream_panel"):
            setattr(self, name, getattr(self.dream, name))
        lay = QtWidgets.QHBoxLayout(self)
        lay.addLayout(self._build_input(), 0)
        self.inner = QtWidgets.QTabWidget()
        self.inner.setObjectName("lookTabs")
        self.inner.setAccessibleName("Look pages")
        for page, title, tip in ((self.where, "Where it looks", "Saliency and Grad-CAM: which pixels and which "
                                  "regions raise the score"),
                                 (self.fool, "Fooling it", "The smallest change to the pixels that makes the "
                                  "network answer differently"),
                                 (self.dream, "What it wants to see", "")):      # (its tip: _say_classes)
            self.inner.setTabToolTip(self.inner.addTab(page, title), tip)
        lay.addWidget(self.inner, 1)
        self._live = QtCore.QTimer(self, singleShot=True, interval=LIVE_MS)
        self._live.timeout.connect(self._take_sketch)
        self._bind()
        self._on_network()
        self._on_picture(session.picture)          # a picture chosen before this tab was first shown
        self._follow_lesson(session.lesson)        # a lesson followed before this tab was first shown

    def _build_sheet(self) -> QtWidgets.QWidget:
        """For a digit network: a sheet to draw on, and the Draw tab's drawing."""
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
        page = QtWidgets.QWidget()
        col = QtWidgets.QVBoxLayout(page)
        col.setContentsMargins(0, 0, 0, 0)
        self.sheet_words = WrappingLabel("Draw a digit, or pick one:")
        self.sheet_words.setObjectName("lookSheetWords")
        self.sheet_words.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)  # (any words)
        col.addWidget(self.sheet_words)
        col.addWidget(self.canvas)
        col.addLayout(row(from_draw, clear))
        return page

    def _build_picture(self) -> QtWidgets.QWidget:
        """For any other network: the picture looked at, and Open a picture…."""
        self.picture_panel = ImagePanel("", "The picture looked at, as the network takes it", size=260)
        self.picture_panel.setObjectName("lookPicture")
        page = QtWidgets.QWidget()
        col = QtWidgets.QVBoxLayout(page)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(QtWidgets.QLabel("Open a picture, or pick a held-out one:"))
        col.addLayout(row(picture_button(self.session, "lookOpenPicture")))
        col.addWidget(self.picture_panel)
        return page

    def _build_input(self) -> QtWidgets.QVBoxLayout:
        self.input_pages = QtWidgets.QStackedWidget()       # the sheet (digits), or a picture
        self.input_pages.addWidget(self._build_sheet())
        self.input_pages.addWidget(self._build_picture())
        self.sample_spin = QtWidgets.QSpinBox()
        self.sample_spin.setObjectName("lookSample")          # (its tip and name follow the samples)
        sample = QtWidgets.QPushButton("Data set digit")
        sample.setObjectName("lookSampleButton")
        sample.clicked.connect(lambda: self.show_sample(self.sample_spin.value()))
        self.cls = QtWidgets.QComboBox()
        self.cls.setObjectName("lookClass")
        self.cls.setAccessibleName("The class whose score is explained")      # (its items: _fill_menus)
        self.answer = WrappingLabel("")       # (as tall as its lines: at 80 % its second line was cut)
        self.answer.setObjectName("lookAnswer")
        ems_wide(self.answer, most=50)
        self.sample_button = sample
        col = QtWidgets.QVBoxLayout()
        col.addWidget(self.input_pages)
        col.addLayout(row(sample, self.sample_spin))
        col.addLayout(row(QtWidgets.QLabel("Explain the score of"), self.cls))
        col.addWidget(self.answer)
        col.addStretch(1)
        return col

    def _bind(self) -> None:
        s = self.session
        self.canvas.changed.connect(self._on_drawn)
        self.cls.currentIndexChanged.connect(lambda *_: self._restale(self.where))
        self.fool.eps.valueChanged.connect(lambda *_: self._restale(self.fool))
        self.fool.target.currentIndexChanged.connect(lambda *_: self._restale(self.fool))
        self.fool.smallest.clicked.connect(self.find_smallest)
        self.dream.dream_button.clicked.connect(self.toggle_dream)
        self.inner.currentChanged.connect(lambda *_: self.render())
        s.picture_changed.connect(self._on_picture)
        s.model_changed.connect(self._on_network)
        s.samples.changed.connect(self._on_samples)
        s.weights_changed.connect(self._on_weights)        # (a run may have taught it other classes)
        s.lesson_changed.connect(self._follow_lesson)

    def _follow_lesson(self, player) -> None:
        if player is not None:
            player.changed.connect(self._show_held)
        self._show_held()

    def _show_held(self) -> None:
        """While a lesson's question waits, the pages (which say what the network answers) stay hidden
        and the picture cannot be changed here (the stop's is the one looked at)."""
        held = self.session.answer_held
        self.inner.setVisible(not held)
        for w in (self.input_pages, self.cls):
            w.setEnabled(not held)
        self._on_samples()               # (the samples' controls: enabled where there are samples)
        self._show_answer()

    def resizeEvent(self, ev) -> None:
        """Pictures as large as the pages have room for (from 96 px, with the Lesson dock open on a
        1024-px screen, to 300 px): :func:`~cnnapp.views.look_pages.side_for`."""
        super().resizeEvent(ev)
        side = side_for(self.inner.width(), self.inner.height())
        for page in (self.where, self.fool, self.dream):
            page.set_side(side)

    # ------------------------------------------------------------------ the picture
    def current_input(self):
        """The picture looked at, ``(C, H, W)`` float32 in [0, 1], or None (none, or not one the network takes)."""
        p, shape = self.session.picture, self.session.input_shape
        return None if p is None or p.shape != shape else p.image

    def digits(self) -> bool:
        """The network reads 28×28 grey digits: the input is a sheet to draw on (else a picture of your own)."""
        return self.session.takes_drawings

    def take_drawing(self) -> None:
        """Look at the Draw tab's drawing (and follow it from now on)."""
        try:
            self.session.take_drawing()
        except ValueError as e:         # an empty sheet (it says so), or a lesson's question waits
            self.session.say(str(e))

    def show_sample(self, i: int) -> None:
        try:
            self.session.take_sample(i)
        except ValueError as e:
            self.session.say(str(e))

    def _on_drawn(self) -> None:
        """The learner draws on this tab's sheet: it becomes the picture (at most every LIVE_MS)."""
        if not self._live.isActive():
            self._live.start()

    def _take_sketch(self) -> None:
        if self._closed:
            return
        ink = self.canvas.array()
        from cnncore.datasets import preprocess_drawing
        try:
            if float(ink.max()) < 0.02:
                self.session.set_picture(None)
                return
            x = np.asarray(preprocess_drawing(ink), dtype=np.float32)
            self.session.set_picture(Picture(SKETCH, x, None, what="the digit drawn on the Look tab"))
        except ValueError as e:         # a picture that cannot be prepared, or a lesson's question waits
            self.session.say(f"Look: {e}")

    def _on_picture(self, p) -> None:
        """The sheet shows the picture (unless it was drawn here), and the shown page follows it."""
        if p is not None and not self.digits():
            self.picture_panel.show_picture(p.image)
            self.picture_panel.caption.setText(p.told)
        elif p is not None and p.origin != SKETCH:
            self.canvas.blockSignals(True)
            self.canvas.set_array(p.plane())
            self.canvas.blockSignals(False)
            self._live.stop()
        if p is not None and p.origin == SAMPLE:
            self._on_samples()                      # (the range first: a new set may be longer)
            self.sample_spin.setValue(p.index)
        self.canvas.setToolTip("Draw a digit here: the saliency follows as you draw" + (
            f"\nShown now: {p.what}" if p is not None else ""))
        # (a picked sample on the sheet looked like ink of one's own: it says what it is)
        self.sheet_words.setText("Draw a digit, or pick one:" if p is None or p.origin == SKETCH else
                                 f"Shown: {p.told}. Draw over it, or pick another:")
        self.render()

    # ------------------------------------------------------------------ the network
    def class_word(self, k: int) -> str:
        """Class ``k`` as the menus and texts say it: "digit 3", or its own name ("Sneaker")."""
        return self.session.a_class(k) if self.session.other_dataset else f"digit {int(k)}"

    def _on_network(self) -> None:
        self._shown.clear()             # nothing the old network showed stays
        if self._dream_thread is not None:
            self._dream_worker.stop()
        for page in (self.where, self.fool, self.dream):
            page.clear()
        digits = self.digits()
        self.input_pages.setCurrentIndex(0 if digits else 1)
        self.fool.set_channels(self.session.input_shape[0] if self.session.input_shape else 1)
        self._fill_menus()
        self._on_samples()
        if not digits:
            self.picture_panel.image.clear()
            self._on_picture(self.session.picture if self.current_input() is not None else None)
        self.render()

    def _fill_menus(self) -> None:
        """The classes whose score to explain, to push towards and to paint: those the network knows,
        not the outputs none uses, named as it names them (again after a run taught it others)."""
        s, kind = self.session, self._kind()
        self._menu_classes = s.classes
        for box in (self.cls, self.fool.target):
            keep = box.currentData()
            box.blockSignals(True)
            box.clear()
            box.addItem("its answer" if box is self.cls else f"any other {kind}", None)
            for k in s.known_classes:
                box.addItem(self.class_word(k), k)
                box.setItemData(box.count() - 1, s.class_notes(k) or None, QtCore.Qt.ToolTipRole)
            box.setCurrentIndex(max(box.findData(keep), 0))
            box.blockSignals(False)
        self.dream.fill_goals(s.view_network(), self.class_word)
        self._say_classes(kind)

    def _kind(self) -> str:
        """What the network's classes are called here: digits (a grey digit network), else classes."""
        return "digit" if self.digits() and not self.session.other_dataset else "class"

    def _sample_word(self) -> str:
        """The sample button's words: a digit or a picture of the data set, or a held-out picture."""
        return f"data set {'digit' if self._kind() == 'digit' else 'picture'}" if self.digits() else "held-out picture"

    def _say_classes(self, kind: str) -> None:
        """The tips and names that speak of the network's classes: digits, or classes of pictures."""
        self.cls.setToolTip(f"Whose score to explain: the {kind} the network answers, or any other {kind}")
        self.fool.target.setToolTip(f"Push the answer away from the current one, or towards a {kind} you choose")
        self.inner.setTabToolTip(self.inner.indexOf(self.dream), f"Let the network paint what a {kind} or a filter "
                                 "responds to most")
        self.sample_spin.setAccessibleName("Sample number")
        self.sample_button.setToolTip(f"Look at this {self._sample_word()}, exactly as the network takes it")

    def _on_weights(self) -> None:
        if self.input_pages.currentIndex() != (0 if self.digits() else 1):    # a run changed what it takes
            return self._on_network()
        if self.session.classes != self._menu_classes:
            self._fill_menus()
        self.render()

    def _on_samples(self) -> None:
        X, _, name = self.session.sample_set()
        self.sample_spin.setRange(0, max(len(X) - 1, 0))
        self.sample_spin.setEnabled(bool(len(X)) and not self.session.answer_held)
        self.sample_button.setEnabled(bool(len(X)) and not self.session.answer_held)
        self.sample_button.setText(self._sample_word().capitalize())
        self.sample_spin.setToolTip(f"Which of the {name}" if len(X) else
                                    "No samples yet: train the network (its held-out pictures become the "
                                    "samples), or open a picture")

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if self.session.picture is None and self.session.network is not None:
            try:
                self.session.ensure_picture()
            except ValueError as e:     # nothing to look at yet: said where the picture goes, not as an error
                if self.digits():
                    self.session.say(f"Look: {e}")
                else:
                    self.picture_panel.caption.setText(str(e))
        self.render()

    def _probe(self):
        net = self.session.view_network()
        if net is None:
            return None
        from cnncore.probe import Probe
        return Probe(net)           # a private copy, made here in the GUI thread

    # ------------------------------------------------------------------ rendering
    def render(self) -> None:
        """Bring the shown page up to date with the session's picture and network (hidden: later)."""
        if not self.isVisible():
            return
        page = self.inner.currentWidget()
        if self._shown.get(page) == self.session.view_key():
            return
        if page is not self.where:          # (that page's worker says it, with the score it explains)
            self._show_answer()
        if page is self.where:
            self.refresh()
        elif page is self.fool:
            self.run_attack()

    def _restale(self, page) -> None:
        self._shown.pop(page, None)
        self.render()

    def _show_answer(self) -> None:
        """The line under the picture: what the network answers for it now, whatever page is shown."""
        x, net, p = self.current_input(), self.session.view_network(), self.session.picture
        self.answer.setToolTip("" if p is None else f"Looking at {p.what}")
        if net is None or x is None:
            self.answer.setText("No network yet." if net is None else
                                "Draw a digit…" if self.digits() else "Open a picture…")
            return
        with np.errstate(all="ignore"):
            prob = np.asarray(net.predict_proba(x[None]))[0]
        if not np.all(np.isfinite(prob)):
            self.answer.setText("No answer: the network's output is not a number.")
            return
        self.answer.setText(self._answer_line(prob, p))

    def _answer_line(self, prob, p) -> str:
        """"The network answers …" for the probabilities ``prob`` of the picture ``p`` (not while a
        lesson's question waits: it would give the answer away)."""
        if self.session.answer_held:
            return HELD_NOTE
        k, s = int(np.argmax(prob)), self.session
        label = "" if p.label is None else f" (it is {s.class_name(p.label)})"
        return f"The network answers <b>{s.class_name(k)}</b>, {prob[k]:.0%} sure{label}."

    def refresh(self) -> None:
        """Compute saliency and Grad-CAM of the picture in a worker (latest request wins)."""
        x, probe = self.current_input(), self._probe()
        if x is None or probe is None:
            self.where.clear()
            self._show_answer()
            return
        key = self._shown[self.where] = self.session.view_key()
        c, p = self.cls.currentData(), self.session.picture
        self.look_job.submit(lambda: (key, p, *_gradients(probe, x, c)))

    def _current(self, key) -> bool:
        """Whether a worker's result computed for ``key`` is of the picture and model shown now (older
        weights of the same model: shown until the newer job's result replaces it)."""
        return key[:2] == self.session.view_key()[:2]

    def _show_gradients(self, result) -> None:
        key, p, x, g, cams = result
        if not self._current(key):
            return              # of another picture or network
        self.gradients = (g, cams)
        self.answer.setText(HELD_NOTE if self.session.answer_held else
                            f"{self._answer_line(g.probabilities, p)} Explaining the score of "
                            f"{self.session.class_name(g.cls)}.")
        notes = self.session.class_notes()
        self.answer.setToolTip(f"Looking at {p.what}" + (f"\n{notes}" if notes else ""))
        self.where.show(x, g, cams)

    def _on_failed(self, message: str) -> None:
        self.session.say(f"Look: {message}")

    def epsilon(self) -> float:
        return self.fool.epsilon()

    def run_attack(self) -> None:
        """The attack at the slider's ε (and the chosen target), in a worker."""
        self.fool.eps_label.setText(f"{self.epsilon():.2f}")
        x, probe = self.current_input(), self._probe()
        if x is None or probe is None:
            self.fool.clear("Draw a digit or pick one first." if self.digits() else "Open a picture or pick one first.")
            return
        key = self._shown[self.fool] = self.session.view_key()
        eps, target = self.epsilon(), self.fool.target.currentData()
        self.attack_job.submit(lambda: (key, probe.attack(x, eps, target=target)))

    def find_smallest(self) -> None:
        x, probe = self.current_input(), self._probe()
        if x is None or probe is None:
            return
        target = self.fool.target.currentData()
        self.fool.attack_text.setText("Searching for the smallest ε…")
        key = self.session.view_key()
        self.attack_job.submit(lambda: (key, "smallest", probe.smallest_attack(x, target=target)))

    def _show_attack(self, result) -> None:
        if not self._current(result[0]):
            return              # of another picture or network
        smallest = len(result) == 3
        a = result[-1]
        self.attack_result = a
        p = self.session.picture
        self.fool.show(a, smallest, self.session.classes, None if p is None else p.label)

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
    cams = {i: (cam, upsample_map(cam, x.shape[-2:])) for i, cam in g.gradcam().items()}
    return x, g, cams
