"""The class's table: one row per student, one column per question, written as CSV.

:func:`report` reads results files (:func:`cnncore.lesson.results.load_results`) and refuses, with
the reason, results of another lesson or another version of it (another id). Given the lesson, its
columns are the lesson's questions and every answer is judged again by the lesson itself (the
file's own "right" is only what the student's app said); without it, the columns are the stops
answered in any file. :func:`write_report` writes the rows with the ``csv`` module; a cell that
starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is prefixed with ``'``, so a
spreadsheet shows it as text instead of running it as a formula.
"""
from __future__ import annotations

from pathlib import Path

from ..predict import KINDS, Question, parse_number
from .._atomic import Output, atomic_write, same_file
from .content import Lesson, LessonFileError
from .results import Results, load_results
from .run import judge_answer, lesson_questions
from .stops import ChoiceQuestion, PredictQuestion

__all__ = ["Report", "report", "write_report", "csv_cell"]

_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_CHOICE_CHARS = 30


class Report(list):
    """The rows of the class's table (lists of text, the header first) and the files they were read
    from (``inputs``: the results files and the lesson's file), which :func:`write_report` never
    replaces."""

    def __init__(self, rows, inputs=()):
        super().__init__(rows)
        self.inputs = tuple(Path(p) for p in inputs if p is not None)


def report(results_paths, lesson: Lesson | None = None) -> Report:
    """The table as rows of text: ``["student", "stop 3: …", …, "right (of N)"]``, then for each results
    file its student, for each question ``"right: <answer>"``, ``"wrong: <answer>"`` or ``""`` (not
    answered), and how many are right; a :class:`Report`, which knows the files it was read from.
    :class:`LessonFileError` (one line, naming the file) for a file that is not a results file, or is
    another lesson's or another version's than ``lesson`` (or, without it, than the first file's)."""
    results, first, results_paths = [], None, list(results_paths)
    for k, path in enumerate(results_paths):
        again = next((p for p in results_paths[:k] if same_file(p, path)), None)
        if again is not None:             # a student twice in the table (a file named twice, or by a link)
            raise LessonFileError(f"{path}: given twice (also as {again}); name each student's results once")
        r = load_results(path, lesson)
        if first is None:
            first = (path, r.lesson)
        elif r.lesson != first[1]:
            raise LessonFileError(f"{path}: results of another lesson or another version of it (id {r.lesson[:12]}…, "
                                  f"not {first[1][:12]}… as in {first[0]}); report each lesson's results apart")
        results.append(r)
    if lesson is not None:
        columns, asked = lesson.question_stops(), lesson_questions(lesson)
    else:
        columns, asked = sorted({a.stop for r in results for a in r.answers}), {}
    header = ["student", *(_heading(k, lesson) for k in columns), f"right (of {len(columns)})"]
    rows = [_row(r, columns, asked) for r in results]
    names = [r.student for r in results]
    files = [Path(p).name for p in results_paths]
    for row, path, name, file in zip(rows, results_paths, names, files):
        if names.count(name) > 1:        # two students of one name: which file is whose
            row[0] = f"{name} ({file if files.count(file) == 1 else path})"
    return Report([header] + rows, [*results_paths, lesson.file if lesson is not None else None])


def _heading(k: int, lesson: Lesson | None) -> str:
    q = lesson.stops[k].question if lesson is not None else None
    if isinstance(q, PredictQuestion):
        return f"stop {k + 1}: {KINDS[q.kind].words}"
    if isinstance(q, ChoiceQuestion):
        text = " ".join(q.text.split())
        return f"stop {k + 1}: {text[:40]}{'…' if len(text) > 40 else ''}"
    return f"stop {k + 1}"


def _row(r: Results, columns: list[int], asked: dict) -> list[str]:
    cells, right = [r.student], 0
    for k in columns:
        a = r.answer_for(k)
        if a is None:
            cells.append("")
            continue
        q = asked.get(k)
        ok = a.right if q is None else judge_answer(q, a.answer)[0].right
        right += ok
        cells.append(f"{'right' if ok else 'wrong'}: {_answer_text(a.answer, q)}")
    return cells + [str(right)]


def _answer_text(answer, q: Question | ChoiceQuestion | None) -> str:
    """What was answered, in words: the text typed, or the choices' texts (their numbers from 1 without
    the lesson)."""
    if isinstance(answer, str):             # as judged: "1,5" (a decimal comma) was read as 1.5
        number = parse_number(answer)
        try:
            float(answer)
        except ValueError:
            return answer if number is None else repr(number)
        return answer
    chosen = answer if isinstance(answer, tuple) else (answer,)
    if q is None or not 0 <= max(chosen) < len(q.choices):
        return ("choices " if len(chosen) > 1 else "choice ") + ", ".join(str(i + 1) for i in chosen)
    return " + ".join(q.choices[i][:_CHOICE_CHARS] for i in chosen)


def csv_cell(value) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text: ``'`` before a leading ``= + - @`` (tab, CR)."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def write_report(path, rows: Report) -> Path:
    """Write ``rows`` (see :func:`report`) to ``path`` as CSV (UTF-8 with a byte-order mark, which
    spreadsheets need to read accents), through the one writer, never over a file the report was read
    from (:attr:`Report.inputs`; :class:`cnncore.OutputRefused`, nothing written); returns the path."""
    import csv

    def write(f):
        csv.writer(f, lineterminator="\r\n").writerows([[csv_cell(c) for c in row] for row in rows])
    return atomic_write(Output(path, getattr(rows, "inputs", ())), write, mode="w", encoding="utf-8-sig")
