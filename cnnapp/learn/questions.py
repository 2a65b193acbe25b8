"""Concept-check questions: loading and checking ``assets/questions.json`` (no Qt here).

The file holds ``{"version": 1, "questions": [...]}``; each question has an
``id``, a ``topic``, the ``question`` text and ``answers``, each answer a
``text``, a ``correct`` flag and its own ``feedback``. Exactly one answer is
correct, unless ``"select": "all"`` makes it a select-all question (tick every
true statement; at least one is true, and at least one is not). ``step`` (optional) names the backprop step type it checks and
``credit`` (optional) the text whose topic it follows. ``"picture": "colour"`` (optional): the question
is about a colour picture's planes, asked first about a step whose input maps are a colour picture's
R, G and B planes (:attr:`cnncore.trace.Step.planes`) and after the others elsewhere.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Answer", "Question", "QuestionFileError", "questions_path", "load_questions", "parse_questions",
           "step_tags", "questions_for_step"]


class QuestionFileError(ValueError):
    """The questions file is missing, not JSON, or breaks a rule (says which question)."""


@dataclass(frozen=True)
class Answer:
    text: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class Question:
    id: str
    topic: str
    question: str
    answers: tuple
    step: str | None = None
    credit: str | None = None
    select_all: bool = False
    colour: bool = False            # about a colour picture's planes ("picture": "colour")

    @property
    def correct_index(self) -> int:
        """The first correct answer (the only one, unless :attr:`select_all`)."""
        return next(i for i, a in enumerate(self.answers) if a.correct)

    @property
    def correct_set(self) -> frozenset:
        """The indices of every correct answer."""
        return frozenset(i for i, a in enumerate(self.answers) if a.correct)

    def is_right(self, chosen) -> bool:
        """Whether the answers ``chosen`` (indices) are exactly the correct ones."""
        return frozenset(int(k) for k in chosen) == self.correct_set


def questions_path() -> Path:
    """``<repo>/assets/questions.json`` in a checkout, ``cnnapp/assets/questions.json`` when installed
    (:func:`cnncore.installation.assets_dir`)."""
    from cnncore.installation import assets_dir
    return assets_dir() / "questions.json"


def _text(d, key, where) -> str:
    v = d.get(key)
    if not isinstance(v, str) or not v.strip():
        raise QuestionFileError(f"{where}: '{key}' must be a non-empty string")
    return v.strip()


def parse_questions(data) -> list:
    """Check the decoded JSON and return a list of :class:`Question`."""
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise QuestionFileError("the file must be an object with a 'questions' list")
    out, seen = [], set()
    for k, q in enumerate(data["questions"]):
        where = f"question {k + 1}"
        if not isinstance(q, dict):
            raise QuestionFileError(f"{where}: must be an object")
        qid = _text(q, "id", where)
        where = f"question {qid!r}"
        if qid in seen:
            raise QuestionFileError(f"{where}: the id is used twice")
        seen.add(qid)
        answers = q.get("answers")
        if not isinstance(answers, list) or len(answers) < 2:
            raise QuestionFileError(f"{where}: needs a list of at least two answers")
        parsed = []
        for j, a in enumerate(answers):
            aw = f"{where}, answer {j + 1}"
            if not isinstance(a, dict) or not isinstance(a.get("correct"), bool):
                raise QuestionFileError(f"{aw}: must be an object with a true/false 'correct'")
            parsed.append(Answer(_text(a, "text", aw), a["correct"], _text(a, "feedback", aw)))
        n_correct = sum(a.correct for a in parsed)
        select = q.get("select", "one")
        if select not in ("one", "all"):
            raise QuestionFileError(f"{where}: 'select' must be \"one\" or \"all\", not {select!r}")
        if select == "one" and n_correct != 1:
            raise QuestionFileError(f"{where}: exactly one answer must be correct, found {n_correct}")
        if select == "all" and not 1 <= n_correct < len(parsed):
            raise QuestionFileError(f"{where}: a select-all question needs at least one correct and one wrong "
                                    f"answer, found {n_correct} correct of {len(parsed)}")
        if len({a.text for a in parsed}) != len(parsed):
            raise QuestionFileError(f"{where}: two answers have the same text")
        step = q.get("step")
        credit = q.get("credit")
        picture = q.get("picture", "any")
        if picture not in ("any", "colour"):
            raise QuestionFileError(f"{where}: 'picture' must be \"colour\" (or left out), not {picture!r}")
        out.append(Question(qid, _text(q, "topic", where), _text(q, "question", where), tuple(parsed),
                            step if isinstance(step, str) else None,
                            credit if isinstance(credit, str) else None, select == "all", picture == "colour"))
    if not out:
        raise QuestionFileError("the file holds no questions")
    return out


def load_questions(path=None) -> list:
    """Read and check the questions file (default: :func:`questions_path`)."""
    path = Path(path) if path is not None else questions_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QuestionFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise QuestionFileError(f"{path}: cannot be read as JSON ({e})") from None
    return parse_questions(data)


def step_tags(kind: str, layer_type: str) -> tuple:
    """The ``step`` tags of the questions that fit one backprop step (``Step.kind``, ``Step.layer_type``).

    Each layer type declares its own tags (``quiz_tags`` in ``cnncore.layers``); an unknown
    type raises ``ValueError``.
    """
    if kind in ("loss", "update"):
        return (kind,)
    from cnncore.layers import layer_class
    return tuple(layer_class(layer_type).quiz_tags.get(kind, ()))


def questions_for_step(questions, kind: str, layer_type: str, colour: bool = False) -> list:
    """The questions tagged for this kind of step, in file order; those about a colour picture's
    planes first when the step's input maps are a colour picture's (``colour``), else last."""
    tags = step_tags(kind, layer_type)
    fitting = [q for q in questions if q.step in tags]
    return sorted(fitting, key=lambda q: q.colour != colour)
