"""The Backprop tab's top row: which picture to trace (the session's picture: where it comes from, which
sample, its true class), Record and Open, a thumbnail of the traced input and what the trace says.
Every box shows the session; a choice made here goes to the session, never into a box of its own."""
from __future__ import annotations

import html
from contextlib import ExitStack, contextmanager

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ..widgets.picture_numbers import offer_numbers
from ..widgets.font_fit import ems_wide
from ..widgets.wrap_row import WrapRow
from ..state import DRAWING, FILE, LESSON, MISTAKE, OPENED, SAMPLE, SKETCH
from ..widgets.open_picture import picture_button
from ..widgets.pictures import picture_planes, show_picture_on

#: The source box's entries: what each is, and whether it can be chosen here.
CHOICES = (("Picked for you", None, True), ("Your drawing", DRAWING, True), ("Data set sample", SAMPLE, True),
           ("A held-out mistake", MISTAKE, False), ("Drawn on the Look tab", SKETCH, False),
           ("A trace file", FILE, False), ("A picture from a lesson", LESSON, False),
           ("A picture you opened", OPENED, False))


class PictureRow(QtWidgets.QWidget):
    """Signals: ``recordRequested()``, ``openRequested()``."""
    recordRequested = QtCore.Signal()
    openRequested = QtCore.Signal()

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.source = QtWidgets.QComboBox()
        self.source.setObjectName("backpropSource")
        self.source.setAccessibleName("Input to trace")
        for i, (text, _, choosable) in enumerate(CHOICES):
            self.source.addItem(text)
            if not choosable:             # shown when the picture comes from elsewhere, never chosen here
                self.source.model().item(i).setEnabled(False)
        self.source.setToolTip("What to trace. Picked for you: the sample the network gets wrong or is least sure of. "
                               "A held-out mistake comes from the Train tab, a trace file from File → Open trace…")
        self.sample_spin = QtWidgets.QSpinBox()
        self.sample_spin.setObjectName("backpropSample")
        self.sample_spin.setAccessibleName("Sample number")
        self.sample_spin.setToolTip("Which sample to trace")
        self.label_combo = QtWidgets.QComboBox()
        self.label_combo.setObjectName("backpropTrueClass")
        self.label_combo.setAccessibleName("True class")
        self.label_combo.setToolTip("The true class: the loss and every gradient depend on it.\n"
                                    "For a sample it is filled in; for a drawing say what you drew.")
        self.true_label = QtWidgets.QLabel("true digit")
        self.record_button = QtWidgets.QPushButton("Record trace")
        self.record_button.setObjectName("backpropRecordButton")
        self.record_button.setToolTip("Run one forward and backward pass of this input and keep every map (Ctrl+R)")
        self.record_button.setShortcut(QtGui.QKeySequence("Ctrl+R"))
        self.picture_button = picture_button(session, "backpropOpenPictureButton")
        self.open_button = QtWidgets.QPushButton("Open trace…")
        self.open_button.setObjectName("backpropOpenTraceButton")
        self.open_button.setToolTip("Show a trace saved before with Export trace… or `cnnapp trace` (.npz)")
        self.info = QtWidgets.QLabel("")
        self.info.setObjectName("backpropInfo")
        self.info.setWordWrap(True)          # wraps on a small screen instead of widening the window
        ems_wide(self.info, least=50)        # (not into a column a word wide: the row takes two lines first)
        choose, shown = QtWidgets.QHBoxLayout(), QtWidgets.QHBoxLayout()
        for w in (QtWidgets.QLabel("Input"), self.source, QtWidgets.QLabel("sample"), self.sample_spin,
                  self.true_label, self.label_combo):
            choose.addWidget(w)
        choose.addStretch(1)                        # (two lines: the first keeps its boxes together)
        for w in (self.record_button, self.picture_button, self.open_button):
            shown.addWidget(w)
        shown.addSpacing(10)
        shown.addWidget(self._build_thumb())
        shown.addWidget(self.info, 1)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(WrapRow(choose, shown))       # one line, or two on a small screen
        self._bind()
        self.show_classes()
        self.show_picture()

    def _build_thumb(self) -> pg.GraphicsLayoutWidget:
        """A small picture of the traced input."""
        self.thumb = pg.GraphicsLayoutWidget()
        self.thumb.setBackground("w")
        self.thumb.setFixedSize(56, 56)
        self.thumb.setToolTip("The traced input")
        self.thumb.setAccessibleName("The traced input")
        offer_numbers(self.thumb, lambda: [] if self.session.trace_picture is None else
                      picture_planes("the traced input", self.session.trace_picture.image))
        self._thumb_box = self.thumb.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self._thumb_box.setMenuEnabled(False)
        self.thumb_img = pg.ImageItem(axisOrder="row-major")
        self._thumb_box.addItem(self.thumb_img)
        return self.thumb

    def _bind(self) -> None:
        s = self.session
        self.source.currentIndexChanged.connect(self._on_source)
        self.sample_spin.valueChanged.connect(self._on_sample)
        self.label_combo.activated.connect(lambda row: self._on_label(self.label_combo.itemData(row)))
        self.record_button.clicked.connect(self.recordRequested)
        self.open_button.clicked.connect(self.openRequested)
        s.picture_changed.connect(lambda p: self.show_picture())
        s.trace_changed.connect(lambda tr: self.show_trace())
        s.model_changed.connect(self.show_classes)
        s.model_changed.connect(self.show_picture)          # which choices the new network can take
        s.samples.changed.connect(self.show_picture)
        s.weights_changed.connect(self.show_classes)        # a run may have taught it other classes

    # ------------------------------------------------------ choices -> session
    def _on_source(self, i: int) -> None:
        origin = CHOICES[i][1] if 0 <= i < len(CHOICES) else None
        s = self.session
        try:
            if i == 0:
                if s.picture is None or not s.picture.picked:
                    s.set_picture(None)
                    s.ensure_picture()
            elif origin == DRAWING:
                s.take_drawing()
            elif origin == SAMPLE:
                s.take_sample(max(self.sample_spin.value(), 0))
        except ValueError as e:
            s.say(str(e))
        self.show_picture()              # the box shows the session's picture, whatever was chosen

    def _on_sample(self, i: int) -> None:
        p = self.session.picture
        if i >= 0 and (p is None or p.origin == SAMPLE):       # (-1: "—", no sample)
            try:
                self.session.take_sample(i)
            except ValueError as e:
                self.session.say(str(e))

    def _on_label(self, k: int) -> None:
        try:
            self.session.set_label(k)
        except ValueError as e:
            self.session.say(str(e))
            self.show_picture()

    # ------------------------------------------------------- session -> boxes
    def show_classes(self) -> None:
        """The true-class box names the network's classes ("3", or "3 Dress"), not the outputs no
        class uses (each item's data is its class's index)."""
        s = self.session
        numbers = list(s.classes) == [str(i) for i in range(len(s.classes))]
        items = [(s.classes[i] if numbers else f"{i} {s.classes[i]}", i) for i in s.known_classes]
        self.true_label.setText(f"true {s.class_kind}")
        box = self.label_combo
        if items == [(box.itemText(i), box.itemData(i)) for i in range(box.count())]:
            return
        with _quiet(self.label_combo):
            self.label_combo.clear()
            for text, k in items:
                self.label_combo.addItem(text, k)
                self.label_combo.setItemData(box.count() - 1, s.class_notes(k) or None, QtCore.Qt.ToolTipRole)
        self.show_picture()

    def show_picture(self) -> None:
        """The boxes as the session's picture says (nothing chosen yet: one is picked at Record)."""
        s, p = self.session, self.session.picture
        X, _, name = s.sample_set()
        row = 0 if p is None or p.picked else next(k for k, c in enumerate(CHOICES) if c[1] == p.origin)
        with _quiet(self.source, self.sample_spin, self.label_combo):
            self.source.setCurrentIndex(row)
            sample = p is not None and p.origin == SAMPLE
            # another picture than a sample: the box shows "—", not the number of the last sample taken
            self.sample_spin.setSpecialValueText("" if sample else "—")
            self.sample_spin.setRange(0 if sample else -1, max(len(X) - 1, 0))
            self.sample_spin.setValue(p.index if sample else -1)
            self._show_label(p)
        self.sample_spin.setToolTip(f"Which of the {name} to trace" if len(X) else
                                    "No samples yet: train the network, or open a picture")
        self.sample_spin.setEnabled(bool(len(X)) and (p is None or p.origin == SAMPLE))
        drawings = s.takes_drawings          # the Draw tab's sheet is a grey 28×28 digit
        self.source.model().item(next(k for k, c in enumerate(CHOICES) if c[1] == DRAWING)).setEnabled(drawings)
        self.source.model().item(next(k for k, c in enumerate(CHOICES) if c[1] == SAMPLE)).setEnabled(bool(len(X)))
        self.label_combo.setEnabled(p is not None)

    def _show_label(self, p) -> None:
        if p is None:
            return
        try:
            self.label_combo.setCurrentIndex(self.label_combo.findData(self.session.true_label(p)))
        except Exception:  # noqa: BLE001 - a picture the network cannot read: its box stays
            pass

    def show_trace(self) -> None:
        """The traced input and what the pass says of it (the network's answer, the loss)."""
        s, tr = self.session, self.session.trace
        if tr is None:
            self.thumb_img.clear()
            self.info.setText("")
            return
        img = s.trace_picture.image
        show_picture_on(self.thumb_img, img)
        self._thumb_box.setRange(QtCore.QRectF(0, 0, img.shape[2], img.shape[1]), padding=0)
        p = tr.prediction
        names = tuple(html.escape(n) for n in s.trace_classes())     # (a folder's names are text, never markup)
        truth = (f"true {s.class_kind} <b>{names[tr.label]}</b>" if s.trace_picture.label is not None else
                 f"no true {s.class_kind} given: the loss takes its answer, <b>{names[tr.label]}</b>, as the box "
                 f"shows (choose the true one there)")
        when = (" · recorded during the run, with the weights it had then (Record again for later ones)"
                if s.trace_during_run else "")
        self.info.setText(f"Traced {html.escape(s.trace_picture.what)}: {truth}, network says <b>{names[p]}</b> "
                          f"({tr.probs[p]:.0%}), loss <b>{tr.loss:.4g}</b> · {len(tr.steps)} steps{when}")

    def show_error(self, text: str) -> None:
        self.info.setText(f"<span style='color:#b00020'>{html.escape(text)}</span>")

    def show_hint(self, text: str) -> None:
        """What to do before there is anything to trace (not an error)."""
        self.info.setText(html.escape(text))


@contextmanager
def _quiet(*widgets):
    """The widgets' signals blocked meanwhile (a box set to show the session does not answer back)."""
    with ExitStack() as stack:
        for w in widgets:
            stack.enter_context(QtCore.QSignalBlocker(w))
        yield
