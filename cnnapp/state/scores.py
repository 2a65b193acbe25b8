"""What the learner has answered: predict mode's score per kind of question and the concept checks'
progress, held by the session and kept as plain values in the settings store."""
from __future__ import annotations

from cnncore.predict import Score

from .events import Event

#: Where the store keeps them (the keys an earlier version's file used too).
PREDICT_KEY = "backprop/predict_score"
QUIZ_KEY = "learn/quiz"


class Scores:
    """``predict``: a :class:`cnncore.predict.Score`; the quiz progress per question id:
    ``{"status": "correct" | "wrong", "choice": [answer indices]}``.

    :meth:`read` takes them from a settings store (:class:`cnnapp.state.settings_store.SettingsStore`,
    each value checked: a damaged one is left out), :meth:`write` puts them back as plain values.
    Event ``changed()`` after every answer and reset."""

    def __init__(self) -> None:
        self.changed = Event()
        self.predict = Score()
        self._quiz: dict = {}

    # ------------------------------------------------------------ predict mode
    def record_prediction(self, kind: str, right: bool) -> None:
        self.predict.record(kind, right)
        self.changed.emit()

    def set_predict(self, score: Score) -> None:
        if not isinstance(score, Score):
            raise TypeError(f"a predict score is a cnncore.predict.Score, not {type(score).__name__}")
        self.predict = score
        self.changed.emit()

    # ----------------------------------------------------------- concept checks
    def quiz_status(self, qid: str) -> str | None:
        """``"correct"``, ``"wrong"`` or None (not tried yet)."""
        v = self._quiz.get(qid, {}).get("status")
        return v if v in ("correct", "wrong") else None

    def quiz_choice(self, qid: str) -> list:
        """The answers picked last for question ``qid`` (their indices in the file), or []."""
        return list(self._quiz.get(qid, {}).get("choice", []))

    def answer_quiz(self, qid: str, correct: bool, chosen) -> None:
        """An answer to ``qid``: once right, a question stays right; a wrong try counts only until then."""
        chosen = [int(k) for k in chosen]
        if any(k < 0 for k in chosen):
            raise ValueError(f"answers are numbered from 0, not {chosen}")
        status = "correct" if correct or self.quiz_status(qid) == "correct" else "wrong"
        self._quiz[str(qid)] = {"status": status, "choice": chosen}
        self.changed.emit()

    def reset_quiz(self) -> None:
        self._quiz = {}
        self.changed.emit()

    # ----------------------------------------------------------- the store
    def read(self, store) -> None:
        """Take the scores the store keeps (what is not one is left out, never an error)."""
        self.predict = Score.from_dict(store.get(PREDICT_KEY, {}, dict))
        self._quiz = {}
        for qid, entry in store.group(QUIZ_KEY).items():
            if type(entry) is not dict:
                continue
            status, choice = entry.get("status"), entry.get("choice", [])
            if status in ("correct", "wrong") and type(choice) is list and all(
                    type(k) is int and k >= 0 for k in choice):
                self._quiz[qid] = {"status": status, "choice": list(choice)}

    def write(self, store) -> None:
        """Put the scores in the store as plain values (saving the file is the store's)."""
        store.set(PREDICT_KEY, self.predict.to_dict())
        store.remove(QUIZ_KEY)
        store.update(QUIZ_KEY, self._quiz)
