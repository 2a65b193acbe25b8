"""Following a lesson: its questions as they are asked, and one student's walk through its stops.

:func:`lesson_questions` makes every question of a lesson once: a predict question is built by
:func:`cnncore.predict.question_at` on the trace of the stop's picture through the lesson's own
model (so it is judged exactly as predict mode judges, :func:`cnncore.predict.judge`), a
multiple choice is the teacher's. :class:`LessonRun` walks the stops (next, back), says whether
the current stop's question must be answered before its step is revealed, judges and records
each answer and writes the results file after every one. No Qt: the app's lesson view renders it.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np

from .._atomic import Output, OutputRefused, SameAsInput
from ..predict import Question, Verdict, judge, question_at, why_not_asked
from .content import Lesson, LessonFileError
from .results import Answer, Results, check_student, load_results, save_results
from .stops import ChoiceQuestion, PredictQuestion, Stop

__all__ = ["lesson_questions", "judge_answer", "LessonRun"]

#: Characters of a typed number kept in the results.
_TYPED = 100
#: What a student can do about a lesson that cannot be followed.
ASK_TEACHER = "ask your teacher for a new copy of the lesson"


def lesson_questions(lesson: Lesson) -> dict[int, Question | ChoiceQuestion]:
    """Stop index -> its question as asked (one trace per picture asked about). ``ValueError`` naming
    the stop when a predict question's element makes no fair question on its picture (a number 0
    would pass, a window whose largest value is shared, a sum too long): the teacher picks another."""
    out = {}
    for k, stop in enumerate(lesson.stops):
        q = stop.question
        if isinstance(q, ChoiceQuestion):
            out[k] = q
        elif isinstance(q, PredictQuestion):
            p = stop.picture
            asked = question_at(lesson.trace_of(p), stop.step, q.kind, stop.element.index)
            if asked is None:
                why = why_not_asked(lesson.trace_of(p), stop.step, q.kind, stop.element.index)
                raise ValueError(f"stop {k + 1}: {stop.element} makes no fair {q.kind!r} question on picture {p}: "
                                 f"{why}")
            out[k] = asked
    return out


def judge_answer(question: Question | ChoiceQuestion, given) -> tuple[Verdict, object]:
    """``(verdict, the answer as kept)``: ``given`` is the text (or number) typed for a number, the
    choice's index for a predict choice, an index or indices for a multiple choice. An answer that
    is none of these gives a verdict that is not ``valid`` (and nothing to keep)."""
    if isinstance(question, ChoiceQuestion):
        chosen = (given,) if _is_index(given) else given
        n = len(question.choices)
        if not isinstance(chosen, (list, tuple, set, frozenset)) or not chosen or \
                not all(_is_index(i) and 0 <= i < n for i in chosen):
            return Verdict(False, False, f"Choose one or more of the {n} answers."), None
        chosen = tuple(sorted({int(i) for i in chosen}))
        right = chosen == question.right
        right_ones = [question.choices[i] for i in question.right]
        words = " and ".join(filter(None, (", ".join(right_ones[:-1]), right_ones[-1])))     # "a, b and c"
        return Verdict(True, right, "Right." if right else
                       f"Not quite: the right answer{'s are' if len(question.right) > 1 else ' is'} {words}."), chosen
    if question.is_choice:
        if not _is_index(given) or not 0 <= given < len(question.choices):
            return Verdict(False, False, f"Choose one of the {len(question.choices)} answers."), None
        return judge(question, int(given)), int(given)
    if isinstance(given, (float, np.floating)) or _is_index(given):
        given = repr(float(given))
    if not isinstance(given, str) or len(given.strip()) > _TYPED:
        return Verdict(False, False, "Type a number (for example 0.25 or −1.5e-3)."), None
    verdict = judge(question, given)
    return verdict, (given.strip() if verdict.valid else None)


def _is_index(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


class LessonRun:
    """One student following ``lesson``: the current stop (``position``, from 0), its question,
    the answers so far (``results``), written to ``results_path`` after each answer when given,
    through the one writer, which never replaces the lesson's own file (:attr:`Lesson.file`).

    A stop's question must be answered before its step is revealed (:attr:`must_answer`), and
    before the student moves on; going back is always allowed. ``clock`` gives the time of an
    answer (default: now, with the local UTC offset). :class:`LessonFileError` when the lesson
    cannot be followed (a predict question with no fair answer on its picture), or when
    ``results_path`` is the lesson's file (under any name), before any stop.
    """

    def __init__(self, lesson: Lesson, student: str, results_path=None, *,
                 clock: Callable[[], datetime] | None = None, results: Results | None = None):
        try:
            lesson.check_numbers(stop.picture for stop in lesson.stops)    # every stop shows its picture's trace
            self.questions = lesson_questions(lesson)
        except ValueError as e:         # (a copy that is old or damaged: its student cannot mend it)
            name = lesson.file.name if lesson.file is not None else lesson.title or "this lesson"
            raise LessonFileError(f"{name} cannot be followed ({ASK_TEACHER}): {e}") from None
        self.lesson = lesson
        self.results = results if results is not None else Results(student, lesson.id, lesson.title)
        self.results_path = self._never_the_lesson(results_path)
        self._clock = clock or (lambda: datetime.now().astimezone())
        self.position = 0

    @classmethod
    def resume(cls, lesson: Lesson, results_path, student: str | None = None, **kw) -> "LessonRun":
        """Go on from a results file of this lesson (:class:`LessonFileError` when it is another's, or,
        where ``student`` is given, another student's: two names can make one file name), at the
        first stop whose question is not answered yet."""
        results = load_results(results_path, lesson)
        if student is not None and check_student(student) != results.student:
            raise LessonFileError(f"{results_path}: the answers of {results.student!r}, not of {student.strip()!r}")
        run = cls(lesson, results.student, results_path, results=results, **kw)
        while run.next():
            pass
        return run

    @property
    def stop(self) -> Stop:
        return self.lesson.stops[self.position]

    @property
    def question(self) -> Question | ChoiceQuestion | None:
        """The current stop's question as asked (a :class:`cnncore.predict.Question` for a predict
        question: its prompt, given values and choices), or None."""
        return self.questions.get(self.position)

    def answered(self, stop: int | None = None) -> Answer | None:
        """The answer kept for ``stop`` (default: the current one), or None."""
        return self.results.answer_for(self.position if stop is None else stop)

    def verdict(self, stop: int | None = None) -> Verdict | None:
        """The verdict on the answer kept for ``stop`` (default: the current one), as it was given (its
        words name the right answer), or None before it is answered: a stop visited again, or after a
        restart, says what it said then."""
        k = self.position if stop is None else stop
        kept = self.results.answer_for(k)
        return None if kept is None or k not in self.questions else judge_answer(self.questions[k], kept.answer)[0]

    @property
    def must_answer(self) -> bool:
        """Whether the current stop's step stays hidden until its question is answered."""
        return self.question is not None and self.answered() is None

    def next(self) -> bool:
        """Move to the next stop; False (staying) at the last one or while a question waits."""
        if self.must_answer or self.position + 1 >= len(self.lesson.stops):
            return False
        self.position += 1
        return True

    def back(self) -> bool:
        """Move to the previous stop; False at the first."""
        if self.position == 0:
            return False
        self.position -= 1
        return True

    def answer(self, given) -> Verdict:
        """Judge ``given`` (see :func:`judge_answer`) for the current stop's question and keep it
        (with its time) when it is a valid answer, then write the results; ``ValueError`` when the
        stop asks nothing or was answered already (the first answer is the one that counts)."""
        q = self.question
        if q is None:
            raise ValueError(f"stop {self.position + 1} asks no question")
        if self.answered() is not None:
            raise ValueError(f"stop {self.position + 1} is answered already")
        verdict, kept = judge_answer(q, given)
        if verdict.valid:
            self.results.answers.append(Answer(self.position, kept, verdict.right,
                                               self._clock().isoformat(timespec="seconds")))
            if self.results_path is not None:
                save_results(Output(self.results_path, [self.lesson.file]), self.results)
        return verdict

    def save_as(self, path) -> Path:
        """Write the answers so far to ``path`` and keep writing there (the lesson's file is refused,
        :class:`LessonFileError`, before anything is written); returns the path."""
        path = self._never_the_lesson(path)
        save_results(Output(path, [self.lesson.file]), self.results)
        self.results_path = path
        return path

    def _never_the_lesson(self, path) -> Path | None:
        """``path`` as a Path (None stays None); :class:`LessonFileError` when it is the lesson's own file
        (any other reason not to write there is said when the answers are written)."""
        if path is None:
            return None
        try:
            Output(path, [self.lesson.file]).check()
        except SameAsInput as e:
            raise LessonFileError(f"the answers cannot go there: {e}") from None
        except OutputRefused:
            pass
        return Path(path)

    def score(self) -> tuple[int, int]:
        """``(right, asked)`` over the lesson's questions."""
        return sum(a.right for a in self.results.answers), len(self.questions)
