"""The student's side of a lesson: the teacher's note beside the maps, the stop's question answered before
its step is revealed, Back and Next. It renders a :class:`cnnapp.state.LessonPlayer` and sends the
student's answers to it; everything works from the keyboard (Alt+→ / Alt+← move, Return answers,
Tab, arrows and Space choose)."""
from __future__ import annotations

from html import escape

from PySide6 import QtCore, QtGui, QtWidgets

from cnncore.lesson import ChoiceQuestion

from ..widgets.buttons import push_button
from ..widgets.scroll_area import ShrinksToItsScroll

__all__ = ["LessonPlayPanel", "NoteView"]

_CLAIMED = (QtCore.Qt.Key_Space, QtCore.Qt.Key_Left, QtCore.Qt.Key_Right, QtCore.Qt.Key_Up, QtCore.Qt.Key_Down,
            QtCore.Qt.Key_Home, QtCore.Qt.Key_End)


class NoteView(QtWidgets.QTextBrowser):
    """A teacher's note, Markdown. It loads nothing (a note names no file this app would read) and
    opens only web links, in the browser."""

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.setObjectName(name)
        self.setOpenLinks(False)
        self.anchorClicked.connect(lambda url: url.scheme() in ("http", "https")
                                   and QtGui.QDesktopServices.openUrl(url))

    def loadResource(self, kind, url):
        """Nothing, of the kind asked (an empty picture for an image): a note's ``![](file:///…)`` showed
        that file of the student's computer (None is "not found here", and the document then reads the
        file itself)."""
        return QtGui.QImage() if kind == QtGui.QTextDocument.ImageResource else QtCore.QByteArray()


class _ChoiceKeys:
    """Space and the arrows are the choice's while it has the focus (the Backprop tab's step keys are
    window shortcuts and would take them first)."""

    def event(self, ev) -> bool:
        if ev.type() == QtCore.QEvent.ShortcutOverride and ev.key() in _CLAIMED and not ev.modifiers():
            ev.accept()
            return True
        return super().event(ev)


class _Radio(_ChoiceKeys, QtWidgets.QRadioButton):
    pass


class _Check(_ChoiceKeys, QtWidgets.QCheckBox):
    pass


def _wrapped(name: str) -> QtWidgets.QLabel:
    """A label of the panel: its words wrap, and no word of it (a title or a path of one long word)
    makes the panel wider than its dock (the rest of such a word is cut, not the panel's buttons)."""
    label = QtWidgets.QLabel("")
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
    return label


class _ChoiceText(QtWidgets.QLabel):
    """A choice's words beside its button, wrapped (a button's own text never wraps: a choice of a
    sentence ran out of the dock); a click on them is a click on the button."""

    def __init__(self, text: str, button: QtWidgets.QAbstractButton):
        super().__init__(text)
        self.button = button
        self.setTextFormat(QtCore.Qt.PlainText)
        self.setWordWrap(True)
        self.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)

    def mouseReleaseEvent(self, ev) -> None:
        if ev.button() == QtCore.Qt.LeftButton and self.button.isEnabled() and self.rect().contains(ev.position().toPoint()):
            self.button.click()
        super().mouseReleaseEvent(ev)


def _choice_row(button: QtWidgets.QAbstractButton, text: str) -> QtWidgets.QWidget:
    """``button`` (without text of its own: a screen reader reads ``text`` as its name) and ``text`` wrapped
    beside it."""
    button.setAccessibleName(text)
    row = QtWidgets.QWidget()
    lay = QtWidgets.QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(button, 0, QtCore.Qt.AlignTop)
    lay.addWidget(_ChoiceText(text, button), 1)
    return row


class LessonPlayPanel(ShrinksToItsScroll, QtWidgets.QWidget):
    """Signals: ``closeRequested()``, ``saveAsRequested()``."""
    closeRequested = QtCore.Signal()
    saveAsRequested = QtCore.Signal()

    def __init__(self, player, parent=None):
        super().__init__(parent)
        self.setObjectName("lessonPlayPanel")
        self.player = player
        self._shown = None              # the position whose question the widgets show
        self.choices: list = []         # the buttons of the choices, each in its row with its words
        self._rows: list = []
        self._group = None
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(self._build_head())
        # the question gets the larger share: its answer field sat below the fold at 1024×640 under a
        # two-line note
        lay.addWidget(self._build_note(), 1)
        lay.addWidget(self._build_question(), 2)
        lay.addLayout(self._build_buttons())
        player.changed.connect(self.render)
        self.render()

    # ------------------------------------------------------------ builders
    def _build_head(self) -> QtWidgets.QWidget:
        self.title = _wrapped("lessonTitle")
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.2)
        self.title.setFont(f)
        self.title.setTextFormat(QtCore.Qt.PlainText)
        self.where = _wrapped("lessonWhere")
        self.where.setTextFormat(QtCore.Qt.PlainText)
        box = QtWidgets.QWidget()
        bl = QtWidgets.QVBoxLayout(box)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.title)
        bl.addWidget(self.where)
        return box

    def _build_note(self) -> NoteView:
        self.note = NoteView("lessonNote")
        self.note.setAccessibleName("The teacher's note")
        self.note.setToolTip("What the teacher wrote for this stop")
        return self.note

    def _build_question(self) -> QtWidgets.QGroupBox:
        self.question_box = QtWidgets.QGroupBox("Before you see it")
        self.question_box.setObjectName("lessonQuestion")
        self.prompt = _wrapped("lessonPrompt")
        self.prompt.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.answer_edit = QtWidgets.QLineEdit()
        self.answer_edit.setObjectName("lessonAnswer")
        self.answer_edit.setAccessibleName("Your answer")
        self.answer_edit.setToolTip("Type the number, then Return")
        self.answer_edit.returnPressed.connect(self.submit)
        self.choice_area = QtWidgets.QWidget()
        self.choice_layout = QtWidgets.QVBoxLayout(self.choice_area)
        self.choice_layout.setContentsMargins(0, 0, 0, 0)
        self.answer_button = push_button("&Answer", "lessonAnswerButton",
                                         "Give this answer (Return); the step is shown after it", slot=self.submit)
        self.verdict = _wrapped("lessonVerdict")
        ql = QtWidgets.QVBoxLayout(self.question_box)
        for w in (self.prompt, self.answer_edit, self.choice_area, self.answer_button, self.verdict):
            ql.addWidget(w)
        ql.addStretch(1)
        scroll = QtWidgets.QScrollArea()
        scroll.setObjectName("lessonQuestionScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.NoFrame)
        scroll.setFocusPolicy(QtCore.Qt.NoFocus)
        scroll.setWidget(self.question_box)
        self._question_scroll = scroll
        return scroll

    def _build_buttons(self) -> QtWidgets.QGridLayout:
        self.back_button = push_button("← Back", "lessonBack", "The previous stop (Alt+←)", "Alt+Left")
        self.next_button = push_button("Next stop →", "lessonNext", "The next stop (Alt+→); a question waits "
                                        "for its answer first", "Alt+Right")
        self.score_label = _wrapped("lessonScore")       # (one line of it made the panel wider than its dock)
        self.save_button = push_button("Save answers as…", "lessonSaveAs",
                                        "Write your answers to a file of your choice (and keep writing there)")
        self.close_button = push_button("Close the lesson", "lessonClose",
                                         "Stop following the lesson (your answers are saved already)")
        self.back_button.clicked.connect(self.player.back)
        self.next_button.clicked.connect(self.player.next)
        self.save_button.clicked.connect(self.saveAsRequested)
        self.close_button.clicked.connect(self.closeRequested)
        grid = QtWidgets.QGridLayout()
        grid.addWidget(self.back_button, 0, 0)
        grid.addWidget(self.next_button, 0, 1)
        grid.addWidget(self.score_label, 1, 0, 1, 2)
        grid.addWidget(self.save_button, 2, 0)
        grid.addWidget(self.close_button, 2, 1)
        return grid

    # -------------------------------------------------------------- render
    def render(self) -> None:
        """The player's stop: where, the note, the question (as asked, or answered), the buttons."""
        p = self.player
        self.title.setText(p.lesson.title or p.name)
        self.where.setText(f"Stop {p.position + 1} of {p.count} · {p.student} · answers saved to "
                           f"{p.results_path if p.results_path is not None else '(nowhere yet: Save answers as…)'}")
        self.note.setMarkdown(p.stop.note or "*No note for this stop.*")
        moved = self._shown != p.position
        if moved:
            self._show_question(p.question)
            self._shown = p.position
        self._show_answer()
        self.score_label.setText(score_words(*p.score(), len(p.run.results.answers), p.position + 1 == p.count))
        self.back_button.setEnabled(p.position > 0)
        self.next_button.setEnabled(not p.must_answer and p.position + 1 < p.count)
        if moved and self.isVisible():
            self.focus_answer()

    def _show_question(self, q) -> None:
        """The widgets for ``q``: a box for a number, round buttons for a predict choice, check boxes for
        the teacher's multiple choice."""
        for row in self._rows:
            row.setParent(None)
            row.deleteLater()
        self.choices, self._rows = [], []
        self.question_box.setVisible(q is not None)
        self.verdict.setText("")
        if q is None:
            return
        teacher = isinstance(q, ChoiceQuestion)        # the teacher's words are text, never markup
        given = "" if teacher else "".join(f"<br><tt>{escape(line)}</tt>" for line in q.given)
        self.prompt.setText(escape(q.text if teacher else q.prompt).replace("\n", "<br>") + given
                            + ("<br><i>Choose all that apply.</i>" if teacher else ""))
        number = not teacher and not q.is_choice
        self.answer_edit.setVisible(number)
        self.answer_edit.clear()
        if number:
            self.answer_edit.setPlaceholderText(f"a number, {q.tolerance_text()}")
        labels = [f"{k + 1}. {text}" for k, text in enumerate(q.choices)] if teacher else q.numbered()
        # round buttons are one group (each sits in a row of its own); check boxes in one would be one Tab stop
        self._group = None if teacher else QtWidgets.QButtonGroup(self.choice_area)
        for k, text in enumerate(labels):
            b = (_Check if teacher else _Radio)()
            b.setObjectName(f"lessonChoice{k}")
            b.setToolTip("Space ticks it; Return gives the answer" if teacher else "Arrows choose; Return gives the answer")
            if self._group is not None:
                self._group.addButton(b, k)
            row = _choice_row(b, text)
            self.choice_layout.addWidget(row)
            row.show()                  # now (a layout shows a new child later): it takes the focus next
            self.choices.append(b)
            self._rows.append(row)
        for a, b in zip(self.choices, [*self.choices[1:], self.answer_button]):     # Tab: down the choices
            QtWidgets.QWidget.setTabOrder(a, b)

    def _show_answer(self) -> None:
        a = self.player.answered()
        waiting = self.player.must_answer
        for w in (self.answer_edit, self.answer_button, *self._rows):
            w.setEnabled(waiting)
        if a is None:
            return
        if isinstance(a.answer, str):
            self.answer_edit.setText(a.answer)
        chosen = a.answer if isinstance(a.answer, tuple) else (a.answer,) if isinstance(a.answer, int) else ()
        for k, b in enumerate(self.choices):
            b.setChecked(k in chosen)
        if not self.verdict.text():         # (a stop visited again: what was said when it was answered)
            verdict = self.player.run.verdict()
            self._say(verdict.right, verdict.message)

    def _say(self, right: bool, text: str) -> None:
        self.verdict.setStyleSheet("color: #1b7a1b; font-weight: bold;" if right else "color: #b00020; font-weight: bold;")
        self.verdict.setText(text)

    # ------------------------------------------------------------- answering
    def given(self):
        """What the student gave: the text typed, the chosen round button's index, the ticked boxes."""
        q = self.player.question
        if isinstance(q, ChoiceQuestion):
            return [k for k, b in enumerate(self.choices) if b.isChecked()]
        if q is not None and q.is_choice:
            return next((k for k, b in enumerate(self.choices) if b.isChecked()), None)
        return self.answer_edit.text()

    def submit(self):
        """Answer the stop's question with what the widgets hold; the verdict shows, the step is revealed."""
        p = self.player
        if not p.must_answer:
            return None
        try:
            verdict = p.answer(self.given())
        except OSError as e:
            self._say(False, f"Your answer is kept but could not be saved ({e}); use Save answers as….")
            return None
        if not verdict.valid:
            self.verdict.setStyleSheet("color: #8a5a00;")
            self.verdict.setText(verdict.message)
            return verdict
        self._say(verdict.right, verdict.message)
        self._question_scroll.ensureWidgetVisible(self.verdict)
        self.next_button.setFocus() if self.next_button.isEnabled() else self.back_button.setFocus()
        return verdict

    def focus_answer(self) -> None:
        """Put the keyboard where the student acts next: the answer, else Next."""
        if self.player.must_answer:
            field = self.choices[0] if self.choices else self.answer_edit
            field.setFocus()
            self._question_scroll.ensureWidgetVisible(field)      # where the keyboard is, in view
        elif self.next_button.isEnabled():
            self.next_button.setFocus()

    def keyPressEvent(self, ev) -> None:
        if ev.key() in (QtCore.Qt.Key_Return, QtCore.Qt.Key_Enter) and self.player.must_answer:
            self.submit()
        else:
            super().keyPressEvent(ev)


def score_words(right: int, questions: int, answered: int, last: bool) -> str:
    """The score as a student reads it: of the questions answered so far (it read "0 of 2 questions
    right so far" after the first of two), and at the lesson's last stop that it is the end."""
    end = "The end of the lesson. " if last else ""
    if questions == 0:
        return f"{end}This lesson asks no questions."
    if questions == 1:
        return f"{end}One question: " + ("not answered yet." if not answered else
                                         "answered right." if right else "answered wrong.")
    if answered == 0:
        return f"{end}{questions} questions in this lesson; none answered yet."
    if answered == questions:
        return f"{end}{right} of the {questions} questions right."
    return f"{end}{right} of {answered} answered right so far ({questions} questions in all)."
