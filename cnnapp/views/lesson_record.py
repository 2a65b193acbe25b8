"""The teacher's side of a lesson: the stops recorded so far, each one's note (Markdown) and question
edited in place, Save. It renders a :class:`cnnapp.state.LessonRecorder`; F9 (anywhere in the window)
adds what the window shows as a stop, which the window does (it knows the tab)."""
from __future__ import annotations

from html import escape

from PySide6 import QtCore, QtWidgets

from cnncore.lesson import ChoiceQuestion, PredictQuestion

from ..state.lesson_recorder import choice_lines, choice_question
from ..widgets.buttons import push_button
from ..widgets.font_fit import follow_font
from ..widgets.scroll_area import ShrinksToItsScroll
from ..widgets.wrap_row import WrapRow

__all__ = ["LessonRecordPanel", "SAVE_KEY", "SAVE_WORDS", "SAVE_AS_WORDS"]

_NONE, _CHOICE = "none", "choice"
#: Save lesson's key (File → Save lesson holds it; Ctrl+S saves the model).
SAVE_KEY = "Ctrl+Shift+S"
#: What Save lesson and Save lesson as… do, said by the File menu's commands and the panel's buttons alike.
SAVE_WORDS = "Write the lesson being recorded (.cnnlesson, to hand out) to its file; the first time, it asks where"
SAVE_AS_WORDS = "Write the lesson being recorded to another file, which Save lesson then writes to"


class LessonRecordPanel(ShrinksToItsScroll, QtWidgets.QWidget):
    """Signals: ``addRequested()`` (F9), ``saveRequested()`` (Save lesson, :data:`SAVE_KEY`),
    ``saveAsRequested()`` (Save lesson as…), ``closeRequested()``."""
    addRequested = QtCore.Signal()
    saveRequested = QtCore.Signal()
    saveAsRequested = QtCore.Signal()
    closeRequested = QtCore.Signal()

    def __init__(self, recorder, parent=None):
        super().__init__(parent)
        self.setObjectName("lessonRecordPanel")
        self.recorder = recorder
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)      # the dock beside a 1024-pixel window's maps is narrow
        lay.addLayout(self._build_title())
        lay.addWidget(self._build_stops(), 2)
        lay.addWidget(self._build_note(), 2)
        lay.addWidget(self._build_question(), 0)
        self.status = QtWidgets.QLabel("Move through the app to what the class should see, then press F9 to add "
                                       "it as a stop.")
        self.status.setObjectName("lessonRecordStatus")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        lay.addWidget(self._build_buttons())
        recorder.changed.connect(self._on_changed)
        self._fill_list()

    # ------------------------------------------------------------ builders
    def _labelled(self, text: str, w: QtWidgets.QWidget) -> QtWidgets.QLabel:
        label = QtWidgets.QLabel(text)
        label.setBuddy(w)
        return label

    def _build_title(self) -> QtWidgets.QHBoxLayout:
        self.title_edit = QtWidgets.QLineEdit(self.recorder.title)
        self.title_edit.setObjectName("lessonTitleEdit")
        self.title_edit.setToolTip("The lesson's title, as students and the results table see it")
        self.title_edit.setAccessibleName("Lesson title")
        self.title_edit.textEdited.connect(lambda text: self._try(self.recorder.set_title, text))
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self._labelled("T&itle:", self.title_edit))
        row.addWidget(self.title_edit, 1)
        return row

    def _build_stops(self) -> QtWidgets.QWidget:
        self.stops = QtWidgets.QListWidget()
        self.stops.setObjectName("lessonStops")
        self.stops.setAccessibleName("The lesson's stops")
        self.stops.setToolTip("Every stop in order: its tab, step, picture, element and question")
        self.stops.setWordWrap(True)
        self.stops.currentRowChanged.connect(self._show_stop)
        self.add_button = push_button("&Add this view as a stop", "lessonAddStop",
                                       "The tab, picture, step and selected element shown now become the next stop "
                                       "(F9)", None, self.addRequested)       # F9 is the window's
        self.remove_button = push_button("Remove", "lessonRemoveStop", "Remove the stop selected",
                                          None, lambda: self._each_selected(self.recorder.remove))
        self.up_button = push_button("Up", "lessonStopUp", "Move the stop selected earlier", None,
                                      lambda: self._move(-1))
        self.down_button = push_button("Down", "lessonStopDown", "Move the stop selected later", None,
                                        lambda: self._move(1))
        box = QtWidgets.QWidget()
        bl = QtWidgets.QVBoxLayout(box)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self._labelled("&Stops:", self.stops))
        bl.addWidget(self.stops, 1)
        row = QtWidgets.QGridLayout()
        row.addWidget(self.add_button, 0, 0, 1, 3)
        for k, b in enumerate((self.remove_button, self.up_button, self.down_button)):
            b.setMinimumWidth(b.fontMetrics().horizontalAdvance(b.text()) + 24)    # (not a style's 80 px each)
            row.addWidget(b, 1, k)
        bl.addLayout(row)
        return box

    def _build_note(self) -> QtWidgets.QWidget:
        self.note = QtWidgets.QPlainTextEdit()
        self.note.setObjectName("lessonNoteEdit")
        self.note.setAccessibleName("The stop's note")
        self.note.setToolTip("What the class reads at this stop, in Markdown (# heading, **bold**, *italic*, - list)")
        self.note.setTabChangesFocus(True)
        self.note.textChanged.connect(self._on_note)
        box = QtWidgets.QWidget()
        bl = QtWidgets.QVBoxLayout(box)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self._labelled("&Note (Markdown):", self.note))
        bl.addWidget(self.note, 1)
        return box

    def _build_question(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Question, before the step")
        box.setToolTip("A question at this stop is answered before its step's maps are shown")
        self.kind = QtWidgets.QComboBox()
        self.kind.setObjectName("lessonQuestionKind")
        # a predict question's long name ("a weight's gradient (dW) …") made the panel wider than its dock
        # at 1024 px: the box shows what fits, its list the whole names
        self.kind.setSizeAdjustPolicy(QtWidgets.QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.kind.setMinimumContentsLength(14)
        self.kind.setToolTip("None, a predict question about the stop's selected element (select one on its "
                             "step's maps first), or your own multiple choice")
        self.kind.activated.connect(self._on_kind)
        self.choice_text = QtWidgets.QLineEdit()
        self.choice_text.setObjectName("lessonChoiceText")
        self.choice_text.setToolTip("The question of your multiple choice")
        self.choice_lines = QtWidgets.QPlainTextEdit()
        self.choice_lines.setObjectName("lessonChoiceLines")
        self.choice_lines.setToolTip("One choice per line; start the right ones with *")
        self.choice_lines.setTabChangesFocus(True)
        follow_font(self.choice_lines,          # five lines of its font, zoomed or not
                    lambda: self.choice_lines.setFixedHeight(self.choice_lines.fontMetrics().lineSpacing() * 5 + 12))
        self.use_choice = push_button("&Use this question", "lessonUseChoice", "Ask this multiple choice at the stop",
                                       None, self._use_choice)
        form = QtWidgets.QFormLayout(box)
        form.addRow("&Question:", self.kind)
        form.addRow("Te&xt:", self.choice_text)
        form.addRow("&Choices:", self.choice_lines)
        form.addRow("", self.use_choice)
        self._form = form
        self._show_choice_editor(False)
        return box

    def _build_buttons(self) -> QtWidgets.QWidget:
        self.save_button = push_button("Sa&ve lesson", "lessonSave", f"{SAVE_WORDS} ({SAVE_KEY})", None,
                                        self.saveRequested)
        self.save_as_button = push_button("Save less&on as…", "lessonRecordSaveAs", SAVE_AS_WORDS, None,
                                           self.saveAsRequested)
        self.close_button = push_button("Stop recording", "lessonStopRecording",
                                         "Put the recorder away (save first: what is not saved is lost)", None,
                                         self.closeRequested)
        saves = QtWidgets.QHBoxLayout()
        saves.addWidget(self.save_button)
        saves.addWidget(self.save_as_button)
        return WrapRow(saves, self.close_button)       # one line, or two in a narrow dock

    # ------------------------------------------------------------ rendering
    def current(self) -> int:
        return self.stops.currentRow()

    def _fill_list(self, select: int | None = None) -> None:
        rec, row = self.recorder, self.current() if select is None else select
        with QtCore.QSignalBlocker(self.stops):
            self.stops.clear()
            for k in range(len(rec.stops)):
                self.stops.addItem(rec.line(k))
            row = min(max(row, 0), len(rec.stops) - 1)
            self.stops.setCurrentRow(row)
        self._show_stop(row)

    def _on_changed(self) -> None:
        k = self.current()
        if self.stops.count() == len(self.recorder.stops) and 0 <= k < self.stops.count():
            self.stops.item(k).setText(self.recorder.line(k))     # an edit of the stop shown
        else:
            self._fill_list(len(self.recorder.stops) - 1 if self.stops.count() < len(self.recorder.stops) else None)

    def _show_stop(self, k: int) -> None:
        """Stop ``k``'s note and question in the editors (none: they wait)."""
        rec = self.recorder
        has = 0 <= k < len(rec.stops)
        for w in (self.note, self.kind, self.remove_button, self.up_button, self.down_button):
            w.setEnabled(has)
        with QtCore.QSignalBlocker(self.note):
            self.note.setPlainText(rec.stops[k].note if has else "")
        self.kind.clear()
        self.kind.addItem("No question", _NONE)
        if not has:
            return
        for kind, words in rec.predict_kinds(k):
            self.kind.addItem(f"Predict: {words}", kind)
        self.kind.addItem("Your own multiple choice", _CHOICE)
        q = rec.stops[k].question
        which = _NONE if q is None else q.kind if isinstance(q, PredictQuestion) else _CHOICE
        self.kind.setCurrentIndex(max(0, self.kind.findData(which)))
        self._show_choice_editor(which == _CHOICE)
        if isinstance(q, ChoiceQuestion):
            self.choice_text.setText(q.text)
            self.choice_lines.setPlainText(choice_lines(q))

    def _show_choice_editor(self, on: bool) -> None:
        for w in (self.choice_text, self.choice_lines, self.use_choice):
            w.setVisible(on)
            label = self._form.labelForField(w)
            if label is not None:
                label.setVisible(on)

    # -------------------------------------------------------------- editing
    def _try(self, edit, *args) -> bool:
        """Make an edit; its refusal is said under the editors (one line), nothing changes."""
        try:
            edit(*args)
        except ValueError as e:
            self.status.setText(f"<span style='color:#b00020'>{escape(str(e))}</span>")
            return False
        self.status.setText("")
        return True

    def _on_note(self) -> None:
        k = self.current()
        if 0 <= k < len(self.recorder.stops):
            self._try(self.recorder.set_note, k, self.note.toPlainText())

    def _on_kind(self, i: int) -> None:
        k, which = self.current(), self.kind.itemData(i)
        self._show_choice_editor(which == _CHOICE)
        if which == _NONE:
            self._try(self.recorder.set_question, k, None)
        elif which != _CHOICE and not self._try(self.recorder.set_question, k, PredictQuestion(which)):
            self._show_stop(k)

    def _use_choice(self) -> bool:
        k = self.current()
        return 0 <= k < len(self.recorder.stops) and self._try(
            lambda: self.recorder.set_question(k, choice_question(self.choice_text.text(),
                                                                  self.choice_lines.toPlainText())))

    def _each_selected(self, action) -> None:
        k = self.current()
        if 0 <= k < len(self.recorder.stops):
            action(k)

    def _move(self, by: int) -> None:
        k = self.current()
        if 0 <= k < len(self.recorder.stops):
            self._fill_list(self.recorder.move(k, by))

    def say(self, text: str) -> None:
        self.status.setText(text)
