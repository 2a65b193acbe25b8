"""Lessons a teacher hands out (issue 25), without Qt: a path through the app's tabs, steps and
elements with the teacher's notes and questions, one student's answers, and the class's table.

* :mod:`~cnncore.lesson.stops`: :class:`Stop` (a tab, a picture, a trace step, a selected
  :class:`Element`, the note, a :class:`PredictQuestion` or the teacher's :class:`ChoiceQuestion`).
* :mod:`~cnncore.lesson.content`: :class:`Lesson` (a model, its pictures and their classes, the
  :class:`Source`, the stops, checked together) and its content id; :class:`LessonFileError`.
* :mod:`~cnncore.lesson.lessonfile`: the ``.cnnlesson`` file, :func:`save_lesson`, :func:`load_lesson`.
* :mod:`~cnncore.lesson.run`: :class:`LessonRun`, one student walking the stops and answering.
* :mod:`~cnncore.lesson.results`: the student's results file, :func:`save_results`, :func:`load_results`.
* :mod:`~cnncore.lesson.report`: :func:`report`, one row per student and one column per question,
  :func:`write_report` as CSV.
* :mod:`~cnncore.lesson.make`: :func:`new_lesson` (one stop per step of a picture's trace) and
  :func:`describe` (one line per stop).
"""
from .content import FORMAT, Lesson, LessonFileError, Source
from .lessonfile import SUFFIX, load_lesson, save_lesson
from .make import describe, new_lesson
from .report import Report, report, write_report
from .results import Answer, Results, load_results, save_results
from .run import LessonRun, judge_answer, lesson_questions
from .stops import PAGES, TABS, ChoiceQuestion, Element, PredictQuestion, Stop

__all__ = ["FORMAT", "SUFFIX", "TABS", "PAGES", "Lesson", "LessonFileError", "Source", "Stop", "Element",
           "PredictQuestion", "ChoiceQuestion", "save_lesson", "load_lesson", "LessonRun", "lesson_questions", "judge_answer",
           "Answer", "Results", "save_results", "load_results", "Report", "report", "write_report", "new_lesson", "describe"]
