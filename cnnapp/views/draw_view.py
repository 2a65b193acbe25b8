"""Draw tab: the canvas, what the network sees after preprocessing, and its ten probabilities."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from cnncore.network import not_a_number
from PySide6 import QtCore, QtGui, QtWidgets

from cnncore.architecture import DIGIT_SHAPE

from ..run_control import learnt_sources
from ..settings import data_dir, set_clamped
from ..widgets.canvas import DrawCanvas
from ..widgets.font_fit import ems, ems_wide, follow_font, lines
from ..widgets.picture_numbers import offer_numbers
from ..widgets.pictures import GREY_LUT, picture_planes, show_picture_on
from .draw_picture import PicturePage
from ..widgets.plots import ProbabilityPlot
from ..widgets.scroll_area import ShrinksToItsScroll, scroll_area
from ..state.session import HELD_NOTE
from ..state import (a_class, a_digit, class_kind, classes_of, known_classes, other_dataset, plural, shown_classes,
                     spelled_notes)



class DrawView(QtWidgets.QWidget):
    """Binds the canvas and the answer to ``session.drawing`` (:class:`cnnapp.state.Drawing`): every
    change of the sheet goes into it, and the true-digit box follows its label."""

    HINT = "Draw one digit, 0 to 9, as large as the dashed box."
    EXAMPLE_HINT = "An example digit to start with: draw your own over it, it makes way (Undo brings it back)."

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.drawing = session.drawing
        self.canvas = DrawCanvas()
        self.drawing.set_ink(self.canvas.array())
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        self.splitter.setObjectName("drawSplitter")
        self.left = QtWidgets.QStackedWidget()           # the sheet (digits), or a picture of your own
        self.picture_page = PicturePage(session)
        self.left.addWidget(self._build_sheet_column())
        self.left.addWidget(self.picture_page)
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(self._answer_area(self._build_answer_column()))
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        lay = QtWidgets.QHBoxLayout(self)
        lay.addWidget(self.splitter)
        self._bind()
        self._dataset = None
        self._refresh_count()
        self._on_network()

    # ------------------------------------------------------------------ builders
    @staticmethod
    def _answer_area(column: QtWidgets.QWidget) -> QtWidgets.QScrollArea:
        """The answer column, scrolling down where the window is short (a 1366×768 laptop at 150 % is 512
        points high: the column asked 482 and pushed the window's foot off the screen), never across."""
        return scroll_area(column, "drawAnswerScroll", "What the network answers", focus=False)

    def _build_sheet_column(self) -> QtWidgets.QWidget:
        """The hint, the canvas, and below it undo, clear and the pen thickness."""
        undo = QtWidgets.QPushButton("Undo")
        undo.setObjectName("undoButton")
        undo.setToolTip("Take back the last stroke (Ctrl+Z)")
        undo.setShortcut(QtGui.QKeySequence.Undo)
        undo.clicked.connect(self.canvas.undo)
        clear = QtWidgets.QPushButton("Clear")
        clear.setObjectName("clearButton")
        clear.setToolTip("Wipe the sheet (Delete or Ctrl+L)")
        clear.clicked.connect(self.canvas.clear)
        for seq in ("Delete", "Ctrl+L"):
            sc = QtGui.QShortcut(QtGui.QKeySequence(seq), self)
            sc.setContext(QtCore.Qt.WidgetWithChildrenShortcut)
            sc.activated.connect(self.canvas.clear)
        self.brush = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.brush.setAccessibleName("Brush width")
        self.brush.setRange(4, 14)
        self.brush.setValue(int(round(self.canvas.brush_width() * 100)))
        self.brush.setToolTip("Pen thickness (as a share of the sheet)")
        self.brush.valueChanged.connect(lambda v: self.canvas.set_brush_width(v / 100.0))
        ems_wide(self.brush, least=8, most=23)     # (zoomed, the row squeezed it to a knob's width)
        tools = QtWidgets.QHBoxLayout()
        tools.addWidget(undo)
        tools.addWidget(clear)
        tools.addStretch(1)
        pen_label = QtWidgets.QLabel("Pen")
        pen_label.setToolTip(self.brush.toolTip())
        tools.addWidget(pen_label)
        tools.addWidget(self.brush)
        column = QtWidgets.QWidget()
        left = QtWidgets.QVBoxLayout(column)
        self.hint = QtWidgets.QLabel(self.HINT)
        self.hint.setObjectName("drawHint")
        self.hint.setWordWrap(True)
        left.addWidget(self.hint)
        left.addWidget(self.canvas, 1)
        left.addLayout(tools)
        return column

    def _build_answer_column(self) -> QtWidgets.QWidget:
        """What the network sees and answers, the ten bars, the note, my digits, the model's name."""
        self.probs = ProbabilityPlot()
        follow_font(self.probs, lambda: self.probs.setMinimumHeight(lines(self.probs, 10.7)))  # fits 1024×640
        self.always_note = QtWidgets.QLabel(
            "The network always answers with one of the ten digits: it has no way to say “this is not a "
            "digit”. A scribble or a letter X still gets an answer, often a confident one (say 85% a 4).")
        self.always_note.setObjectName("alwaysPicksNote")
        self.always_note.setWordWrap(True)
        self.always_note.setStyleSheet("color: #555;")
        self.model_label = QtWidgets.QLabel("")
        self.model_label.setTextFormat(QtCore.Qt.PlainText)     # (a folder's names are text, never markup)
        self.model_label.setObjectName("modelLabel")
        self.model_label.setWordWrap(True)
        self.model_label.setStyleSheet("color: #555;")
        column = _AnswerColumn()
        right = QtWidgets.QVBoxLayout(column)
        right.addWidget(self._build_seen_box())
        right.addWidget(self.probs, 1)
        right.addWidget(self.always_note)
        self.my_digits = self._build_my_digits_box()
        right.addWidget(self.my_digits)
        right.addWidget(self.model_label)
        return column

    def _build_seen_box(self) -> QtWidgets.QGroupBox:
        """The 28×28 input after MNIST-style preprocessing, and the network's answer beside it."""
        self.seen = pg.GraphicsLayoutWidget()
        self.seen.setObjectName("networkInputView")
        self.seen.setToolTip("The 28×28 picture the network actually gets: your drawing scaled into a\n"
                             "20×20 box and centred by its centre of mass, as in MNIST.")
        self.seen.setBackground("w")
        self.seen.setFixedSize(140, 140)
        self.seen.setAccessibleName("What the network sees")
        self._seen = np.zeros((1, 28, 28), np.float32)          # the picture shown there, (C, H, W)
        offer_numbers(self.seen, lambda: picture_planes("what the network sees", self._seen))
        vb = self.seen.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        vb.setMenuEnabled(False)
        self.seen_img = pg.ImageItem(axisOrder="row-major")
        self.seen_img.setImage(np.zeros((28, 28), np.float32), levels=(0, 1), lut=GREY_LUT)
        vb.addItem(self.seen_img)
        vb.setRange(QtCore.QRectF(0, 0, 28, 28), padding=0)
        self.seen_box = seen_box = QtWidgets.QGroupBox("What the network sees (28×28)")
        sb = QtWidgets.QHBoxLayout(seen_box)
        sb.addWidget(self.seen, 0, QtCore.Qt.AlignLeft)
        self.answer = QtWidgets.QLabel("")
        self.answer.setObjectName("answerLabel")
        self.answer.setWordWrap(True)
        f = self.answer.font()
        f.setPointSizeF(f.pointSizeF() * 1.6)
        self.answer.setFont(f)
        follow_font(self.answer, lambda: self.answer.setMinimumWidth(ems(self.answer, 30 / 1.6)))
        sb.addWidget(self.answer, 1)
        return seen_box

    def _build_my_digits_box(self) -> QtWidgets.QGroupBox:
        """The true digit of the drawing and the button that stores it in the user's data set."""
        add_box = QtWidgets.QGroupBox("My digits")
        ab = QtWidgets.QHBoxLayout(add_box)
        self.label_combo = QtWidgets.QComboBox()
        self.label_combo.setAccessibleName("The class of the drawing to add")
        self.label_combo.addItems([str(i) for i in range(10)])
        self.label_combo.setToolTip("The digit you meant to draw (the Backprop tab uses it as the true digit)")
        self.label_combo.setCurrentIndex(self.drawing.label)
        self.add_button = QtWidgets.QPushButton("Add to my digits")
        self.add_button.setObjectName("addDrawingButton")
        self.add_button.setToolTip("Store this drawing, as the digit you chose in the box, in your own data\n"
                                   "set (saved to disk at once). Ctrl+D")
        self.add_button.setShortcut(QtGui.QKeySequence("Ctrl+D"))
        self.add_button.clicked.connect(self.add_to_my_digits)
        self.count_label = QtWidgets.QLabel("")
        self.count_label.setObjectName("drawingsCount")
        ab.addWidget(QtWidgets.QLabel("as"))
        ab.addWidget(self.label_combo)
        ab.addWidget(self.add_button)
        ab.addWidget(self.count_label, 1)
        return add_box

    def _bind(self) -> None:
        """Sheet → drawing state → answer; the digit box ↔ the drawing's label; the network."""
        self._timer = QtCore.QTimer(self, singleShot=True, interval=40)
        self._timer.timeout.connect(self.update_prediction)
        self.canvas.changed.connect(lambda: self.drawing.set_ink(self.canvas.array()))
        # Throttle, not debounce: while the pen moves the bars refresh every 40 ms.
        self.canvas.changed.connect(self._schedule_prediction)
        self.canvas.strokeFinished.connect(self.update_prediction)
        self.canvas.strokeFinished.connect(self.drawing.finish)
        # the example digit's hint goes with the first stroke (which wipes the example) and comes back with it
        self.canvas.changed.connect(lambda: self.hint.setText(self.EXAMPLE_HINT if self.canvas.showing_example()
                                                              else self.HINT))
        # The box follows the network's guess until the user picks a digit; from then on the
        # user's choice stands (training updates must never relabel a drawing) until the sheet
        # is wiped.
        self.label_combo.currentIndexChanged.connect(lambda i: setattr(self.drawing, "label", i))
        self.label_combo.activated.connect(self.drawing.choose_label)
        self.drawing.label_changed.connect(self.label_combo.setCurrentIndex)
        self.session.model_changed.connect(self._on_network)
        self.session.weights_changed.connect(self._on_network)      # training may have taught other classes
        self.session.training_changed.connect(lambda *_: self._on_network())
        self.session.lesson_changed.connect(lambda *_: self._on_network())     # (no training while one is followed)
        self.session.picture_changed.connect(lambda p: self.digits() or self.update_prediction())
        self.session.held_changed.connect(lambda *_: self.update_prediction())

    def settings_dict(self) -> dict:
        return {"brush": self.brush.value()}

    def apply_settings(self, d: dict) -> None:
        """Saved plain values (:meth:`cnnapp.state.settings_store.SettingsStore.group`), checked here."""
        if "brush" in d:
            set_clamped(self.brush, d["brush"])

    def _schedule_prediction(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    # ----------------------------------------------------------------- helpers
    def network_input(self):
        """The preprocessed (28, 28) float32 input, or None when the sheet is empty."""
        try:
            return self.drawing.image()
        except Exception as e:  # preprocessing unavailable or failed: say so, do not crash
            self.session.say(f"Could not prepare the drawing: {e}")
            return None

    def digits(self) -> bool:
        """The network reads the sheet's 28×28 grey digits (else: a picture of your own, :class:`PicturePage`)."""
        return self.session.takes_drawings

    def _on_network(self) -> None:
        net = self.session.network
        digits = self.digits()
        self.left.setCurrentIndex(0 if digits else 1)
        self.my_digits.setVisible(digits)
        C, H, W = self.session.input_shape or DIGIT_SHAPE
        self.seen_box.setTitle(f"What the network sees ({C}×{H}×{W})" if C > 1 else f"What the network sees ({H}×{W})")
        # (named before any answer)
        self.probs.set_classes(shown_classes(net), class_kind(net), spelled_notes(classes_of(net)))
        if not digits:
            self.model_label.setText(f"Network: {self._network_words()}.")
            self.model_label.setStyleSheet("color: #555;")
            self.always_note.setVisible(False)
            self.update_prediction()
            return
        other = other_dataset(net)
        if net is None:
            self.model_label.setText("No network yet.")
        elif other:
            named = [shown_classes(net)[k] for k in known_classes(net)]
            listed = ", ".join(named[:4]) + (", …" if len(named) > 4 else "")
            learnt = f"the pictures of the folder {other}" if learnt_sources(net) == ["folder"] else other
            self.model_label.setText(f"Network: {self._network_words()}. It was trained on {learnt} ({len(named)} "
                                     f"classes: {listed}), not on digits: whatever you draw here, it answers as "
                                     "if it were one of those. This tab is for digits; train on a digit source "
                                     "to read them.")
        elif self.session.training or self.session.lesson is not None:
            self.model_label.setText(f"Network: {self._network_words()}. Draw to see what it answers now.")
        else:
            self.model_label.setText(f"Network: {self.session.source}. Draw to see what it answers; "
                                     "train it on the Train tab to make it better.")
        self.model_label.setStyleSheet("color: #9a6700;" if other else "color: #555;")
        self.always_note.setVisible(not other)
        self.update_prediction()

    def _network_words(self) -> str:
        """The network's source, and while a run goes on that it answers with the run's weights so far."""
        if self.session.training:
            return (f"{self.session.source}, in training on the Train tab (it answers with the weights of the "
                    "run so far)")
        return self.session.source

    def _show_seen(self, image) -> None:
        """What the network sees: a picture ``(C, H, W)`` in [0, 1] (or None: an empty one)."""
        C, H, W = self.session.input_shape or DIGIT_SHAPE
        self._seen = np.zeros((C, H, W), np.float32) if image is None else np.asarray(image, np.float32)
        if image is None and not self.digits():
            self.seen_img.clear()         # no picture yet: nothing shown (a black square read as a picture)
        else:                             # (an empty sheet is what a digit network sees: black, no ink)
            show_picture_on(self.seen_img, self._seen)
        self.seen_img.getViewBox().setRange(QtCore.QRectF(0, 0, self._seen.shape[2], self._seen.shape[1]), padding=0)

    def _network_picture(self):
        """The picture the network answers for: the drawing ``(1, 28, 28)``, or for a network of other
        pictures the session's picture when it takes it; None when there is none."""
        if self.digits():
            x = self.network_input()
            return None if x is None else x[None]
        p = self.session.picture
        return p.image if p is not None and p.shape == self.session.input_shape else None

    def update_prediction(self) -> None:
        self._timer.stop()
        self.answer.setToolTip("")          # (a spelled class name's note goes with its answer)
        digits = self.digits()
        x = self._network_picture()
        if not digits:
            self.picture_page.render(self.session.network, None if x is None else self.session.picture)
        if x is None:
            self._show_seen(None)
            self.probs.set_probabilities(None)
            self.answer.setText("Draw a digit…" if digits else "Open a picture…")
            return
        self._show_seen(x)
        net = self.session.view_network()
        held = net is not None and self.session.answer_held     # (what it answers would answer a lesson's question)
        if net is None or held:
            self.probs.set_probabilities(None)
            self.answer.setText(HELD_NOTE if held else "")
            return
        try:
            p = np.asarray(net.predict_proba(x[None]))[0]
        except Exception as e:
            self.session.say(f"The network could not read the {'drawing' if digits else 'picture'}: {e}")
            return
        problem = not_a_number(net, p)
        if problem:                    # no bars of NaN, no "looks like a 0"
            self.probs.set_probabilities(None)
            self.answer.setText("No answer: the network's output is not a number")
            self.session.say(f"The network cannot read the drawing: {problem}.", 0)
            return
        self.probs.set_classes(shown_classes(net), class_kind(net), spelled_notes(classes_of(net)))
        self.probs.set_probabilities(p)
        best = int(np.argmax(p))
        self.answer.setToolTip(spelled_notes(classes_of(net)[best:best + 1]))     # (a spelled name: what it is)
        if not digits:
            self.answer.setText(f"Looks like: <b>{a_class(net, best)}</b><br><span style='font-size:small;"
                                f"color:#555'>{p[best]:.0%} sure</span>")
            return
        hint = ""
        if self.drawing.is_small():
            hint = ("<br><span style='font-size:small;color:#9a6700'>A small drawing: draw it larger, "
                    "to fill the dashed box. A tiny digit is blown up, strokes and all, and easily "
                    "misread.</span>")
        sure = f"<br><span style='font-size:small;color:#555'>{p[best]:.0%} sure</span>{hint}"
        if other_dataset(net):        # the answer names another data set's class; the drawing stays a digit
            self.answer.setText(f"Looks like: <b>{a_class(net, best)}</b>{sure}")
            return
        article, digit = a_digit(best).split()
        self.answer.setText(f"Looks like {article} <b>{digit}</b>{sure}")
        self.drawing.suggest_label(best)

    def show_digit(self, image, label: int) -> None:
        """Put a 28×28 digit (ink in [0, 1]) on the sheet, with its true digit chosen below."""
        self.canvas.set_array(np.asarray(image, dtype=np.float32))
        if label is not None:
            self.drawing.choose_label(label)
        self.update_prediction()

    def show_example(self) -> None:
        """Put a generated example digit on the sheet (first launch), so the bars show an answer."""
        try:
            from cnncore.datasets import generated_digits, to_input
            X, y = generated_digits(10, seed=3)
            k = int(np.flatnonzero(y == 3)[0]) if np.any(y == 3) else 0
            self.canvas.set_array(to_input(X[k:k + 1])[0, 0], example=True)
            self.canvas.clear_history()
        except Exception:  # noqa: BLE001 - an empty sheet is fine too
            return
        self.hint.setText(self.EXAMPLE_HINT)

    def kept_sheet(self):
        """The sheet to keep for the next launch: its ink, or None (empty, or the example digit)."""
        c = self.canvas
        return None if c.is_empty() or c.showing_example() else c.array()

    def restore_sheet(self, ink) -> None:
        """The sheet the last session closed with (Undo does not take it away)."""
        self.canvas.set_array(ink)
        self.canvas.clear_history()

    def _drawings(self):
        if self._dataset is None:
            from cnncore.datasets import DrawingsDataset
            from cnncore.datasets import DRAWINGS_FILE
            self._dataset = DrawingsDataset(data_dir() / DRAWINGS_FILE, recover=True)
            if self._dataset.message:
                self.session.say(self._dataset.message, 0)
        return self._dataset

    def _refresh_count(self) -> None:
        try:
            n = len(self._drawings())
        except Exception:
            self.count_label.setText("")
            return
        self.count_label.setText(f"{n} saved" if n else "none saved yet")

    def add_to_my_digits(self) -> bool:
        """Store the drawing with the digit the learner chose for it. Until one is chosen the box shows
        the network's guess, which is no label (a 4 misread as a 9 would teach it to misread): the box's
        list opens to ask for it, and nothing is stored."""
        x = self.network_input()
        if x is None:
            self.session.say("Draw a digit first, then add it.")
            return False
        if not self.drawing.label_chosen:
            self.session.say(f"Which digit did you draw? Choose it in the box, then add the drawing (the box shows "
                             f"the network's guess, {self.drawing.label}, until you choose).", 0)
            self.label_combo.setFocus()
            self.label_combo.showPopup()
            return False
        label = self.drawing.label
        try:
            ds = self._drawings()
            ds.append(x, label)
        except Exception as e:
            self.session.say(f"Could not save the drawing: {e}")
            return False
        self._refresh_count()
        self.session.say(f"Saved as {a_digit(label)}; you now have {plural(len(ds), 'digit')} of your own.")
        return True


class _AnswerColumn(ShrinksToItsScroll, QtWidgets.QWidget):
    """The Draw tab's answer column: in its scroll area it takes the viewport's height and scrolls only
    below its least (the bars' 150 px), not below every part at its preferred size."""
