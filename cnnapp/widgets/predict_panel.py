"""Predict, then reveal: one question about a step's element, answered from the keyboard.

The questions and their judging are :mod:`cnncore.predict`; this panel shows a
:class:`cnncore.predict.Question`, reads the answer (type, Return; for a choice its
number), marks it and emits ``revealed(question, verdict)`` so the view can show the
step's maps and the element's arithmetic. The running score per kind is the session's
(:class:`cnnapp.state.Scores`, kept in the settings store at every answer).
"""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from cnncore.predict import Score, judge

from ..state import Scores

__all__ = ["PredictPanel"]


class PredictPanel(QtWidgets.QWidget):
    revealed = QtCore.Signal(object, object)     # Question, Verdict (None when skipped)

    def __init__(self, scores: Scores | None = None, parent=None):
        super().__init__(parent)
        self.setObjectName("predictPanel")
        self.scores = scores if scores is not None else Scores()
        self.scores.changed.connect(self._show_tally)
        self.question = None
        lay = QtWidgets.QVBoxLayout(self)
        head = QtWidgets.QLabel("<b>Predict first.</b> Work out the answer from the numbers given before "
                                "this step's maps are shown, type it and press Return.")
        head.setWordWrap(True)
        lay.addWidget(head)
        self.prompt = QtWidgets.QLabel("")
        self.prompt.setObjectName("predictPrompt")
        self.prompt.setWordWrap(True)
        self.prompt.setStyleSheet("font-size: 115%;")
        self.given = QtWidgets.QLabel("")
        self.given.setObjectName("predictGiven")
        self.given.setWordWrap(True)
        self.given.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.given.setStyleSheet("font-family: 'DejaVu Sans Mono', monospace;")
        self.answer = QtWidgets.QLineEdit()
        self.answer.setObjectName("predictAnswer")
        self.answer.setAccessibleName("Your answer")
        self.answer.returnPressed.connect(self.submit)
        row = QtWidgets.QHBoxLayout()
        self.answer_label = QtWidgets.QLabel("Your answer:")
        row.addWidget(self.answer_label)
        row.addWidget(self.answer, 1)
        self.skip = QtWidgets.QPushButton("Show me")
        self.skip.setObjectName("predictSkip")
        self.skip.setToolTip("Reveal without answering (not counted)")
        self.skip.clicked.connect(lambda: self._reveal(None))
        row.addWidget(self.skip)
        self.verdict = QtWidgets.QLabel("")
        self.verdict.setObjectName("predictVerdict")
        self.verdict.setWordWrap(True)
        self.tally = QtWidgets.QLabel("")
        self.tally.setObjectName("predictScore")
        self.tally.setWordWrap(True)
        self.tally.setStyleSheet("color: #555;")
        for w in (self.prompt, self.given):
            lay.addWidget(w)
        lay.addLayout(row)
        lay.addWidget(self.verdict)
        lay.addWidget(self.tally)
        self._show_tally()

    def ask(self, question) -> None:
        """Show ``question`` and wait for the answer."""
        self.question = question
        self.prompt.setText(question.prompt)
        lines = list(question.given)
        if question.is_choice:
            lines += question.numbered()
            self.answer_label.setText(f"Type {question.numbers_text()}:")
        else:
            self.answer_label.setText(f"Your number ({question.tolerance_text()}):")
        self.given.setText("\n".join(lines))
        self.answer.clear()
        self.answer.setEnabled(True)
        self.verdict.setText("")
        self.answer.setFocus()

    def show_nothing(self, note: str) -> None:
        """No question for this step: ``note`` says so, and nothing of the last question stays (its
        numbers, its tolerance, the answer typed to it, its verdict)."""
        self.question = None
        self.prompt.setText(note)
        self.given.setText("")
        self.answer.clear()
        self.answer.setEnabled(False)
        self.answer_label.setText("Your answer:")
        self.verdict.setText("")

    def submit(self):
        """Judge what was typed; a valid answer is counted and the step revealed."""
        if self.question is None or not self.answer.isEnabled():
            return None
        v = judge(self.question, self.answer.text())
        if not v.valid:
            self.verdict.setStyleSheet("color: #8a5a00;")
            self.verdict.setText(v.message)
            return v
        self.scores.record_prediction(self.question.kind, v.right)
        self._reveal(v)
        return v

    def _reveal(self, verdict) -> None:
        if self.question is None:
            return
        self.answer.setEnabled(False)
        if verdict is not None:
            self.verdict.setStyleSheet("color: #1b7a1b; font-weight: bold;" if verdict.right
                                       else "color: #b00020; font-weight: bold;")
            self.verdict.setText(verdict.message)
        self._show_tally()
        self.revealed.emit(self.question, verdict)

    def _show_tally(self) -> None:
        self.tally.setText("Score so far: " + self.score.summary())

    @property
    def score(self) -> Score:
        """The score so far (the session's)."""
        return self.scores.predict

    def set_score(self, score: Score) -> None:
        self.scores.set_predict(score)
