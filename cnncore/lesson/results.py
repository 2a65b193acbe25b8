"""A student's results file: JSON of plain values, written atomically, read without trusting it.

::

    {"format": "cnnlab-lesson-results-1",
     "lesson": "<the lesson's id, 64 hex digits>", "title": "<the lesson's title>",
     "student": "Ada",
     "answers": [{"stop": 2, "answer": "0.25", "right": true, "time": "2025-03-04T10:15:02+01:00"}, …]}

``stop`` counts from 0; ``answer`` is the text typed for a number, the choice's index for a
predict choice, the list of indices chosen for the teacher's multiple choice; ``time`` is ISO 8601
with the UTC offset. One answer per stop (the first: the one given before the step was shown).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from .._atomic import atomic_write_text
from .._safeio import UnreadableFile, read_json, read_regular, unknown_format, why_unreadable
from ..limits import MAX_CHOICES, MAX_LESSON_STOPS, MAX_RESULTS_BYTES, MAX_STUDENT_CHARS, MAX_TITLE_CHARS
from .content import Lesson, LessonFileError
from .stops import ChoiceQuestion, check_text, fields

__all__ = ["RESULTS_FORMAT", "Answer", "Results", "save_results", "load_results", "check_student"]

RESULTS_FORMAT = "cnnlab-lesson-results-1"
_ID = re.compile(r"[0-9a-f]{64}")
#: Characters of a number as typed.
_ANSWER_CHARS = 100
#: Choices of a predict question (which of a layer's output maps a filter makes: one per filter, and one more).
_MAX_PREDICT_CHOICES = 1 << 20

#: Nesting of its JSON text (a list of stops, each with an element and a question, and their lists).
_JSON_DEPTH = 8


def _choice(i, n: int) -> bool:
    return isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n


def check_student(name) -> str:
    """The student's name when it is one line of 1 to :data:`~cnncore.limits.MAX_STUDENT_CHARS`
    characters (after stripping spaces); else ``ValueError``."""
    name = check_text(name, "the student's name", MAX_STUDENT_CHARS).strip()
    if not name:
        raise ValueError("the student's name is empty")
    return name


@dataclass(frozen=True)
class Answer:
    """One answer: the ``stop`` (from 0), the ``answer`` given (text, a choice's index, or a tuple of
    indices), whether it was ``right``, and the ``time`` (ISO 8601)."""
    stop: int
    answer: object
    right: bool
    time: str

    def __post_init__(self):
        if isinstance(self.stop, bool) or not isinstance(self.stop, int) or not 0 <= self.stop < MAX_LESSON_STOPS:
            raise ValueError(f"an answer's stop must be a whole number 0..{MAX_LESSON_STOPS - 1}")
        a = self.answer
        if isinstance(a, (list, tuple)):
            if not 0 < len(a) <= MAX_CHOICES or not all(_choice(i, MAX_CHOICES) for i in a):
                raise ValueError(f"stop {self.stop + 1}'s answer lists choices that cannot be")
            object.__setattr__(self, "answer", tuple(sorted(set(a))))
        elif isinstance(a, str):
            check_text(a, f"stop {self.stop + 1}'s answer", _ANSWER_CHARS)
        elif not _choice(a, _MAX_PREDICT_CHOICES):
            raise ValueError(f"stop {self.stop + 1}'s answer must be text, a choice or a list of choices")
        if not isinstance(self.right, bool):
            raise ValueError(f"stop {self.stop + 1}'s 'right' must be true or false")
        check_text(self.time, "a time", 40)
        try:
            datetime.fromisoformat(self.time)
        except ValueError:
            raise ValueError(f"stop {self.stop + 1}'s time {self.time!r} is not an ISO 8601 time") from None

    def to_json(self) -> dict:
        answer = list(self.answer) if isinstance(self.answer, tuple) else self.answer
        return {"stop": self.stop, "answer": answer, "right": self.right, "time": self.time}


@dataclass
class Results:
    """One student's answers to one lesson (``lesson`` is its id)."""
    student: str
    lesson: str
    title: str = ""
    answers: list = field(default_factory=list)

    def __post_init__(self):
        self.student = check_student(self.student)
        if not isinstance(self.lesson, str) or not _ID.fullmatch(self.lesson):
            raise ValueError("the lesson id must be 64 hex digits")
        check_text(self.title, "the lesson's title", MAX_TITLE_CHARS)
        if len(self.answers) > MAX_LESSON_STOPS:
            raise ValueError(f"it holds {len(self.answers):,} answers, more than a lesson has stops")
        stops = [a.stop for a in self.answers]
        if len(set(stops)) != len(stops):
            raise ValueError("it answers one stop twice")

    def answer_for(self, stop: int) -> Answer | None:
        return next((a for a in self.answers if a.stop == stop), None)

    def to_json(self) -> dict:
        return {"format": RESULTS_FORMAT, "lesson": self.lesson, "title": self.title, "student": self.student,
                "answers": [a.to_json() for a in self.answers]}


def save_results(path, results: Results):
    """Write ``results`` to ``path`` (a path or a :class:`cnncore.Output`) atomically; returns the path."""
    return atomic_write_text(path, json.dumps(results.to_json(), ensure_ascii=False, indent=1) + "\n")


def load_results(path, lesson: Lesson | None = None) -> Results:
    """The results in ``path``; :class:`LessonFileError` (one line, naming the file) when it is not a
    results file, or, with ``lesson``, when the results are another lesson's (another id: another
    lesson or another version of it) or answer what its stops do not ask."""
    try:
        data = read_regular(path, MAX_RESULTS_BYTES)
    except (OSError, UnreadableFile) as e:
        raise LessonFileError(f"{path}: {why_unreadable(e)}") from None
    try:
        results = _results(data)
        if lesson is not None:
            check_fits(results, lesson)
    except ValueError as e:
        raise LessonFileError(f"{path}: {e}") from None
    return results


def _results(data: bytes) -> Results:
    try:
        obj = read_json(data.decode("utf-8"), _JSON_DEPTH)
    except UnicodeDecodeError:
        zipped = data[:2] == b"PK"      # (a lesson or a model named where a student's answers go)
        raise ValueError(f"not a results file ({'a zip archive, such as a lesson or a model' if zipped else 'not UTF-8 text'})") from None
    except UnreadableFile as e:
        raise ValueError(f"not a results file (it {e})") from None
    obj = fields(obj, {"format": str, "lesson": str, "title": str, "student": str, "answers": list}, "the results file")
    if obj["format"] != RESULTS_FORMAT:
        raise ValueError(unknown_format("results", obj["format"], (RESULTS_FORMAT,)))
    if len(obj["answers"]) > MAX_LESSON_STOPS:
        raise ValueError(f"it holds {len(obj['answers']):,} answers, more than a lesson has stops")
    answers = [Answer(**fields(a, {"stop": int, "answer": (str, int, list), "right": bool, "time": str},
                               f"answer {k + 1}")) for k, a in enumerate(obj["answers"])]
    return Results(obj["student"], obj["lesson"], obj["title"], answers)


def check_fits(results: Results, lesson: Lesson) -> None:
    """``ValueError`` unless ``results`` are ``lesson``'s: the same id, answers only to its questions,
    each of the form its question takes."""
    if results.lesson != lesson.id:
        raise ValueError(f"these are results of another lesson or another version of it (id {results.lesson[:12]}…, "
                         f"not {lesson.id[:12]}… of {lesson.title or 'this lesson'!r}); use the lesson they were "
                         "answered in")
    asked = set(lesson.question_stops())
    for a in results.answers:
        if a.stop not in asked:
            raise ValueError(f"it answers stop {a.stop + 1}, which asks nothing in this lesson")
        question = lesson.stops[a.stop].question
        many = isinstance(question, ChoiceQuestion)
        if many != isinstance(a.answer, tuple):
            raise ValueError(f"stop {a.stop + 1}'s answer is not of the kind its question takes")
        bad = [i for i in a.answer if not 0 <= i < len(question.choices)] if many else []
        if bad:
            raise ValueError(f"stop {a.stop + 1}'s answer is choice {bad[0] + 1}, but its question has "
                             f"{len(question.choices)} choices")
