"""A student following a lesson in the app, without Qt: the lesson's model and pictures put into the
session, its stops shown there one after another, each question answered before its step is revealed.

The walk and the judging are :class:`cnncore.lesson.LessonRun`'s (the results file is written after
every answer); this object puts each stop into the :class:`~cnnapp.state.Session`: the stop's picture,
the trace of it through the lesson's own model (the numbers the questions were made from, whatever
the student does to the network meanwhile), its step and, once the question is answered, its element.
Which tab shows is the window's: it reads :attr:`LessonPlayer.tab`.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from cnncore.lesson import LessonFileError, LessonRun, load_lesson

from .events import Event
from .picture import LESSON, Picture

__all__ = ["LessonPlayer", "lesson_pictures", "results_path_for", "ending_lesson"]

_UNSAFE = re.compile(r"[^\w.-]+")


def lesson_pictures(lesson) -> list[Picture]:
    """The lesson's pictures as the session shows them (one object each: the session tells pictures
    apart by identity), ``(C, H, W)`` floats in [0, 1] as the model reads its uint8 pictures."""
    return [Picture(LESSON, np.asarray(x, dtype=np.float32) / 255, int(y), index=k,
                    what=f"picture {k} of the lesson")         # numbered as its stops name it
            for k, (x, y) in enumerate(zip(lesson.pictures, lesson.labels))]


def ending_lesson(session, what: str) -> str | None:
    """The question to ask before ``what`` ("Opening another model") ends the lesson ``session`` follows,
    with where the answers so far are; None when no lesson is followed. Every way out of a lesson
    (another model, a network built, another lesson, recording one) asks it."""
    lesson = session.lesson
    if lesson is None:
        return None
    kept = (f"your answers so far are saved in {lesson.results_path}" if lesson.results_path is not None
            else "your answers so far are not saved to a file (Save answers as… keeps them)")
    return f"{what} ends the lesson “{lesson.name}”; {kept}. Go on?"


def results_path_for(lesson_path, student: str) -> Path:
    """Where a student's results go by default: beside the lesson, ``<lesson> - <student>.results.json``
    (the name's characters that a file name cannot hold become ``_``)."""
    p = Path(lesson_path)
    name = _UNSAFE.sub("_", student.strip()).strip("._") or "student"
    return p.with_name(f"{p.stem} - {name[:60]}.results.json")


class LessonPlayer:
    """``session`` following ``lesson`` (a :class:`cnncore.lesson.Lesson`) as ``student``, answers
    written to ``results_path`` (None: kept in memory until :meth:`save_as`). :class:`LessonFileError`
    when the lesson cannot be followed; nothing of the session is touched before :meth:`begin`.

    Event ``changed()``: another stop, an answer, another results file.
    """

    def __init__(self, session, lesson, student: str, results_path=None, *, name: str = "", run=None):
        self.run = run if run is not None else LessonRun(lesson, student, results_path)
        self.session = session
        self.lesson = lesson
        self.name = name or lesson.title or "the lesson"
        self.pictures = lesson_pictures(lesson)
        self.changed = Event()

    @classmethod
    def open(cls, session, path, student: str, results_path=None) -> "LessonPlayer":
        """The lesson in ``path`` for ``student`` (:class:`LessonFileError`, one line, for a file that is
        not one this version can follow). Answers go to ``results_path`` (default: beside the lesson,
        :func:`results_path_for`); a results file of this student and lesson there is gone on from."""
        lesson = load_lesson(path)
        out = Path(results_path) if results_path is not None else results_path_for(path, student)
        for out in _candidates(out):
            if not out.exists():                # none of the files there is this student's: a new one
                run = LessonRun(lesson, student, out)
                break
            try:
                run = LessonRun.resume(lesson, out, student)
                break
            except LessonFileError:             # another lesson's, version's or student's: never written over
                continue
        return cls(session, lesson, student, out, name=Path(path).name, run=run)

    # ---------------------------------------------------------------- the walk
    @property
    def position(self) -> int:
        return self.run.position

    @property
    def count(self) -> int:
        return len(self.lesson.stops)

    @property
    def stop(self):
        return self.run.stop

    @property
    def tab(self) -> str:
        """The tab the current stop shows (:data:`cnncore.lesson.TABS`)."""
        return self.run.stop.tab

    @property
    def question(self):
        """The current stop's question as asked (a :class:`cnncore.predict.Question` or the teacher's
        :class:`cnncore.lesson.ChoiceQuestion`), or None."""
        return self.run.question

    @property
    def must_answer(self) -> bool:
        """The current stop's step stays hidden until its question is answered."""
        return self.run.must_answer

    def answered(self):
        """The current stop's answer (:class:`cnncore.lesson.Answer`), or None."""
        return self.run.answered()

    @property
    def results_path(self):
        return self.run.results_path

    @property
    def student(self) -> str:
        return self.run.results.student

    def begin(self) -> None:
        """Put the lesson's model into the session (a new session, as opening a model is) and show
        the stop the walk is at."""
        net = self.lesson.model.copy()
        self.session.set_network(net, f"the lesson {self.name}", trained=True)
        self.show()

    def next(self) -> bool:
        """The next stop (False: the last one, or a question waits)."""
        return self._moved(self.run.next())

    def back(self) -> bool:
        return self._moved(self.run.back())

    def _moved(self, moved: bool) -> bool:
        if moved:
            self.show()
        return moved

    def answer(self, given):
        """Judge ``given`` (:func:`cnncore.lesson.judge_answer`) and keep it; the results file is
        written. Returns the :class:`cnncore.predict.Verdict`; ``OSError`` when the file could not be
        written (the answer is kept: :meth:`save_as` writes it elsewhere)."""
        verdict = self.run.answer(given)
        if verdict.valid:
            self.show()                 # the step is revealed now: its element selected
        return verdict

    def save_as(self, path) -> Path:
        """Write the answers so far to ``path`` and keep writing there (never over the lesson:
        :class:`LessonFileError`, nothing written)."""
        written = self.run.save_as(path)
        self.changed.emit()
        return written

    def score(self) -> tuple[int, int]:
        return self.run.score()

    # ------------------------------------------------------- into the session
    def shows(self, picture) -> bool:
        """Whether ``picture`` is the one the current stop shows."""
        return picture is self.pictures[self.run.stop.picture]

    def show(self) -> None:
        """The current stop in the session: its picture, its trace (the lesson model's), its step and,
        when its question is answered (or it asks none), its element."""
        s, stop = self.session, self.run.stop
        p = self.pictures[stop.picture]
        if s.picture is not p:
            s.set_picture(p)
        if s.trace is None or s.trace_picture is not p:
            s.show_trace(self._trace(stop.picture), p)
        s.stepper.playing = False
        s.stepper.index = stop.step
        el = stop.element
        if el is not None and not self.must_answer and el.key in s.trace.arrays:
            s.select_element(el.key, el.index)
        self.changed.emit()

    def _trace(self, k: int):
        return self.lesson.trace_of(k)          # (its numbers checked when the lesson was opened: LessonRun)


def _candidates(path: Path):
    """``path``, then ``… (2).results.json``, ``… (3)…``: where a student's answers may be (two
    students' names can make one file name; another version of the lesson has its own file)."""
    yield path
    stem = path.name[: -len(".results.json")] if path.name.endswith(".results.json") else path.stem
    k = 2
    while True:
        yield path.with_name(f"{stem} ({k}).results.json")
        k += 1
