"""Concept checks: multiple-choice questions with feedback for every answer.

Questions come from ``assets/questions.json`` (:mod:`cnnapp.learn.questions`).
Progress (which questions were answered right, which answers were picked last) is the
session's (:class:`cnnapp.state.Scores`), kept in the app's settings store as plain values,
``learn/quiz`` → ``{<id>: {"status": "correct" | "wrong", "choice": [k, ...]}}``, saved at
each answer so it survives a restart (:func:`cnnapp.settings.keep_scores`).
The answers of every question are shown in a new order each time it is shown
(``seed`` pins the order, for tests), so the right one is not always in the same
place; answers are always named by their index in the file.
"""
from __future__ import annotations

import html
import random

from PySide6 import QtCore, QtGui, QtWidgets

from ..settings import keep_scores
from ..state import Scores
from ..widgets.font_fit import ems_wide
from .questions import QuestionFileError, load_questions, questions_for_step

__all__ = ["ConceptChecksView"]


class ConceptChecksView(QtWidgets.QWidget):
    """A list of questions on the left, the current question with its answers on the right.

    Signals: ``answered(question_id, correct)``.
    """

    answered = QtCore.Signal(str, bool)

    def __init__(self, parent=None, path=None, seed=None, scores: Scores | None = None):
        super().__init__(parent)
        self.setObjectName("conceptChecks")
        if scores is None:                       # on its own (no window): its own, kept in the store
            scores = keep_scores(Scores())
        self.scores = scores
        self._shuffle = random.Random(seed)     # a new order of the answers at every showing
        self.order: list[int] = []               # the answers' file indices, top to bottom
        try:
            self.questions = load_questions(path)
            error = None
        except QuestionFileError as e:
            self.questions, error = [], str(e)
        self.current = 0

        lay = QtWidgets.QHBoxLayout(self)
        lay.addLayout(self._build_question_list())
        lay.addLayout(self._build_question_side(error), 1)
        self._fill_list()

    def _build_question_list(self) -> QtWidgets.QVBoxLayout:
        """How far the user got, the list of questions, Forget my answers."""
        left = QtWidgets.QVBoxLayout()
        self.progress = QtWidgets.QLabel("")
        self.progress.setObjectName("quizProgress")
        left.addWidget(self.progress)
        self.list = QtWidgets.QListWidget()
        self.list.setObjectName("quizList")
        self.list.setAccessibleName("Concept checks")
        ems_wide(self.list, least=40, most=53)
        self.list.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        self.list.setSpacing(2)
        left.addWidget(self.list, 1)
        self.reset_button = QtWidgets.QPushButton("Forget my answers")
        self.reset_button.setObjectName("quizReset")
        self.reset_button.setToolTip("Clear the record of which questions you answered")
        self.reset_button.clicked.connect(self.reset_progress)
        left.addWidget(self.reset_button)
        return left

    def _build_question_side(self, error: str | None) -> QtWidgets.QVBoxLayout:
        """The topic and question (or why there are none), the answers, check and next, feedback."""
        right = QtWidgets.QVBoxLayout()
        self.topic = QtWidgets.QLabel("")
        self.topic.setObjectName("quizTopic")
        self.topic.setStyleSheet("color: #1f3a68; font-weight: bold;")
        right.addWidget(self.topic)
        self.question = QtWidgets.QLabel(error or "")
        self.question.setObjectName("quizQuestion")
        self.question.setWordWrap(True)
        f = self.question.font()
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.question.setFont(f)
        ems_wide(self.question, most=130)
        right.addWidget(self.question)
        self.answer_box = QtWidgets.QWidget()
        self.answer_layout = QtWidgets.QVBoxLayout(self.answer_box)
        self.answer_layout.setContentsMargins(8, 4, 0, 4)
        self.group = QtWidgets.QButtonGroup(self)
        self.buttons: list[QtWidgets.QRadioButton] = []
        right.addWidget(self.answer_box)
        right.addLayout(self._build_answer_buttons())
        self.feedback = QtWidgets.QLabel("")
        self.feedback.setObjectName("quizFeedback")
        self.feedback.setWordWrap(True)
        self.feedback.setTextFormat(QtCore.Qt.RichText)
        ems_wide(self.feedback, most=150)
        self.feedback.setStyleSheet("QLabel { padding: 6px; }")
        right.addWidget(self.feedback)
        self.credit = QtWidgets.QLabel("")
        self.credit.setWordWrap(True)
        self.credit.setStyleSheet("color: #666;")
        right.addWidget(self.credit)
        right.addStretch(1)
        return right

    def _build_answer_buttons(self) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        self.check_button = QtWidgets.QPushButton("Check answer")
        self.check_button.setObjectName("quizCheck")
        self.check_button.setToolTip("See whether the chosen answer is right, and why")
        self.check_button.setDefault(True)
        self.check_button.clicked.connect(self.check)
        self.next_button = QtWidgets.QPushButton("Next question")
        self.next_button.setObjectName("quizNext")
        self.next_button.setToolTip("Go to the next question")
        self.next_button.clicked.connect(self.next_question)
        row.addWidget(self.check_button)
        row.addWidget(self.next_button)
        row.addStretch(1)
        return row

    def _fill_list(self) -> None:
        """One line per question; start at the first one not yet answered right."""
        for i, q in enumerate(self.questions):
            self.list.addItem(QtWidgets.QListWidgetItem(f"{i + 1}. {q.topic}"))
        self.list.currentRowChanged.connect(self.show_question)
        self._update_list()
        if self.questions:
            first = next((i for i, q in enumerate(self.questions) if self.status(q.id) != "correct"), 0)
            self.list.setCurrentRow(first)
        else:
            self.check_button.setEnabled(False)
            self.next_button.setEnabled(False)

    # ---------------------------------------------------------------- progress
    def status(self, qid: str) -> str | None:
        """``"correct"``, ``"wrong"`` or ``None`` (not tried yet)."""
        return self.scores.quiz_status(qid)

    def score(self) -> tuple[int, int]:
        return sum(self.status(q.id) == "correct" for q in self.questions), len(self.questions)

    def reset_progress(self) -> None:
        self.scores.reset_quiz()
        self._update_list()
        self.show_question(self.current)

    def _update_list(self) -> None:
        marks = {"correct": ("✓", QtGui.QColor(26, 127, 55)), "wrong": ("✗", QtGui.QColor(180, 35, 24)),
                 None: ("○", QtGui.QColor(90, 90, 90))}
        for i, q in enumerate(self.questions):
            st = self.status(q.id)
            item = self.list.item(i)
            mark, colour = marks[st]
            item.setText(f"{mark}  {i + 1}. {q.topic}")
            item.setForeground(colour)
            item.setToolTip(f"{q.question}\n— " + {"correct": "answered correctly", "wrong": "not yet right",
                                               None: "not tried yet"}[st])
        good, total = self.score()
        self.progress.setText(f"<b>{good} of {total}</b> answered correctly")

    # ---------------------------------------------------------------- one question
    def show_question(self, i: int) -> None:
        if not 0 <= i < len(self.questions):
            return
        self.current = i
        q = self.questions[i]
        self.topic.setText(f"{q.topic}  ·  question {i + 1} of {len(self.questions)}")
        self.question.setText(q.question + ("  (Select every true statement.)" if q.select_all else ""))
        self._fill_answers(q)
        self.feedback.setText("")
        chosen = self._saved_choice(self.scores.quiz_choice(q.id), len(self.buttons))
        if chosen:
            for k in chosen:
                self.choose(k)
            self._show_feedback(q, chosen)
        self.credit.setText(q.credit or "")
        if self.list.currentRow() != i:
            self.list.setCurrentRow(i)

    def _fill_answers(self, q) -> None:
        """One button per answer, in a new order: ``buttons[p]`` shows answer ``order[p]``."""
        self.group.setExclusive(not q.select_all)
        for b in self.buttons:
            self.group.removeButton(b)
            b.setParent(None)
            b.deleteLater()
        self.buttons = []
        self.order = list(range(len(q.answers)))
        self._shuffle.shuffle(self.order)
        for pos, k in enumerate(self.order):
            a = q.answers[k]
            b = QtWidgets.QCheckBox(a.text) if q.select_all else QtWidgets.QRadioButton(a.text)
            b.setObjectName(f"quizAnswer{pos}")
            b.setToolTip("Tick every true statement, then press Check answer" if q.select_all
                         else "Choose this answer, then press Check answer")
            self.group.addButton(b, k)
            self.answer_layout.addWidget(b)
            b.installEventFilter(self)          # (Return on an answer checks it: eventFilter)
            self.buttons.append(b)
        chain = [self.list, *self.buttons, self.check_button, self.next_button]
        for a, b in zip(chain, chain[1:]):      # Tab goes through the answers before the buttons under them
            QtWidgets.QWidget.setTabOrder(a, b)

    def eventFilter(self, obj, ev) -> bool:
        """Return or Enter on an answer chooses it and checks the answer (from the keyboard, only Check
        answer's own Return did; arrows move between the answers, Space ticks one)."""
        if (obj in self.buttons and ev.type() == QtCore.QEvent.KeyPress
                and ev.key() in (QtCore.Qt.Key_Return, QtCore.Qt.Key_Enter)):
            if isinstance(obj, QtWidgets.QRadioButton):
                obj.setChecked(True)
            if self.check_button.isEnabled():
                self.check_button.click()
            return True
        return super().eventFilter(obj, ev)

    def shown_answers(self) -> list[str]:
        """The answers of the current question as listed, top to bottom."""
        return [b.text() for b in self.buttons]

    @staticmethod
    def _saved_choice(value, n: int) -> list[int]:
        """The answers saved for a question (a list of indices), only when each one exists."""
        if not isinstance(value, list) or not value:
            return []
        ok = all(type(k) is int and 0 <= k < n for k in value)
        return list(value) if ok else []

    def choose(self, k: int) -> None:
        """Select answer ``k`` (its index in the file, wherever it is listed) of the current
        question, as a click would; for a select-all question it ticks ``k`` too."""
        self.buttons[self.order.index(k)].setChecked(True)

    def chosen(self) -> list[int]:
        """The file indices of the answers selected, in file order."""
        return sorted(k for k, b in zip(self.order, self.buttons) if b.isChecked())

    def check(self) -> bool | None:
        """Mark the chosen answer, show its feedback and remember the result."""
        if not self.questions:
            return None
        q = self.questions[self.current]
        chosen = self.chosen()
        if not chosen:
            self.feedback.setText("Tick the true statements first." if q.select_all else "Pick one of the answers first.")
            return None
        correct = q.is_right(chosen)
        # once right, a question stays right; a wrong try only counts if it was never right
        self.scores.answer_quiz(q.id, correct, chosen)
        self._show_feedback(q, chosen)
        self._update_list()
        self.answered.emit(q.id, correct)
        return correct

    def _show_feedback(self, q, chosen) -> None:
        """The verdict, then the feedback of every ticked answer (and, for a select-all question,
        of every true statement left unticked)."""
        right = q.is_right(chosen)
        colour, word = ("#1a7f37", "Correct.") if right else ("#b42318", "Not quite.")
        if not q.select_all:
            body = html.escape(q.answers[chosen[0]].feedback)
        else:
            missed = sorted(q.correct_set - set(chosen))
            lines = [f"{'✓' if q.answers[k].correct else '✗'} {html.escape(q.answers[k].feedback)}" for k in chosen]
            lines += [f"Missed: {html.escape(q.answers[k].feedback)}" for k in missed]
            body = "<br>".join(lines)
        self.feedback.setText(f"<span style='color:{colour}; font-weight:bold'>{word}</span> {body}")

    def ask_about(self, kind: str, layer_type: str, colour: bool = False) -> bool:
        """Show a question about this kind of backprop step (one not yet answered right, if any; one
        about a colour picture's planes first for a step over them, ``colour``)."""
        fitting = questions_for_step(self.questions, kind, layer_type, colour)
        if not fitting:
            return False
        q = next((q for q in fitting if self.status(q.id) != "correct"), fitting[0])
        self.show_question(self.questions.index(q))
        return True

    def next_question(self) -> None:
        if self.questions:
            self.show_question((self.current + 1) % len(self.questions))
