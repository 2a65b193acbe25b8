"""A new lesson to edit, and a lesson in words: what ``cnnapp lesson new`` and ``lesson show`` print.

:func:`new_lesson` makes a lesson of one picture with one stop per step of its trace, on the
Backprop tab, with empty notes and no questions yet, ready for the teacher's. :func:`describe`
gives one line per stop.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..modelio import load_model
from ..plurals import plural
from ..predict import KINDS
from ..trace import build_steps
from .content import Lesson, Source
from .stops import ChoiceQuestion, PredictQuestion, Stop

__all__ = ["new_lesson", "describe", "stop_line", "pictures_words"]

_NOTE_CHARS = 50
#: The tabs whose stops show the lesson's picture (the others show a network, a run or an example).
_PICTURE_TABS = ("draw", "backprop", "look")
#: Markdown's emphasis and code marks, dropped from a note's line.
_MARKS = re.compile(r"\*\*|__|`|(?<!\w)[*_]|[*_](?!\w)")


def new_lesson(model_path, source: str, index: int, *, seed: int = 0, count: int | None = None, files=None,
               title: str | None = None) -> Lesson:
    """A lesson on picture ``index`` of data source ``source`` (:func:`cnncore.datasets.load_source`
    with ``seed``, ``count`` and ``files`` as ``cnnapp trace`` takes them; of a folder, ``files``,
    only that picture is read, at the model's input, numbered and labelled as ``cnnapp trace
    --folder`` does: :func:`cnncore.datasets.folder.picture_at`) through the model in
    ``model_path``: one stop per step of its trace, no questions yet. Raises
    :class:`~cnncore.modelio.ModelFileError`, :class:`~cnncore.datasets.SourceError`,
    :class:`~cnncore.datasets.folder.FolderError`, or ``ValueError`` for an index out of range or
    pictures the model does not read."""
    net = load_model(model_path)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"picture {index!r} is not a picture's number (0, 1, …)")
    from ..datasets.sources import input_problem
    problem = input_problem(source, net.input_shape, "the model")     # (before a download or a long read)
    if problem:
        raise ValueError(problem)
    picture, label = _picture(net, source, int(index), seed, count, files)
    if picture.ndim == 2:
        picture = picture[None]
    from ..trace import trace
    trace(net, picture, int(label))     # a pass whose numbers overflow is refused here, not in front of a class
    stops = [Stop("backprop", 0, k) for k in range(len(build_steps(net.spec)))]
    title = title if title is not None else f"{Path(model_path).stem}: picture {index} of {source}"
    return Lesson(net, picture[None].astype(np.uint8), [label], stops, Source(source, seed, (int(index),)), title)


def _picture(net, source: str, index: int, seed: int, count, files) -> tuple[np.ndarray, int]:
    """Picture ``index`` of the source and its class."""
    if source == "folder":
        from ..datasets.folder import picture_at
        picture, label, _ = picture_at(files, index, net.input_shape, net.classes, net.signature.fit)
        return picture, int(label)
    from ..datasets import load_source
    from ..datasets.sources import numbered
    X, y, _ = load_source(source, count=count, seed=seed, files=files)
    if not index < len(X):
        raise ValueError(f"picture {index} is out of range ({source} has {numbered(len(X))})")
    return np.asarray(X[index]), int(y[index])


def describe(lesson: Lesson) -> list[str]:
    """One line per stop: ``"3. backprop · step 3 of 16 (Layer 1 · maxpool 2×2 — forward) · the
    lesson's picture 0 (a 7) · L1.y[0, 2, 3, 1] · asks: a pooled value · note: …"``, stops and steps
    counted from 1 as the app counts them (the lesson's pictures from 0, as its file keeps them); a stop
    names only what its tab shows (a step and an element on the Backprop tab, a picture where one is
    shown)."""
    return [stop_line(k, s, lesson.steps, lesson.labels, lesson.model.classes) for k, s in enumerate(lesson.stops)]


def pictures_words(lesson: Lesson) -> str:
    """Where the lesson's pictures came from, in words: ``"1 picture from generated"``; a picture with no
    index in the source (a drawing, a picture opened or picked in the app) is not said to be from it
    (a drawing was "1 picture from generated", the samples the app offered when it was recorded)."""
    n, known = len(lesson.pictures), sum(i is not None for i in lesson.source.indices)
    head, own = plural(n, "picture"), "of the teacher's (drawn, opened or picked in the app)"
    if known == n:
        return f"{head} from {lesson.source.key}"
    return f"{head} {own}" if not known else f"{head}: {known} from {lesson.source.key}, {n - known} {own}"


def stop_line(k: int, s: Stop, steps, labels, classes) -> str:
    """Stop ``k`` (from 0) in one line (see :func:`describe`): ``steps`` of the lesson's model's trace,
    ``labels`` of its pictures, ``classes`` of its model."""
    parts = [f"{k + 1}. {s.tab}" + (f"/{s.page}" if s.page else "")]
    if s.tab == "backprop":
        parts.append(f"step {s.step + 1} of {len(steps)} ({steps[s.step].title})")
    if s.tab in _PICTURE_TABS:
        parts.append(f"the lesson's picture {s.picture} ({_a(classes[int(labels[s.picture])])})")
    if s.element is not None and s.tab == "backprop":
        parts.append(str(s.element))
    if isinstance(s.question, PredictQuestion):
        parts.append(f"asks: {KINDS[s.question.kind].words}")
    elif isinstance(s.question, ChoiceQuestion):
        parts.append(f"asks: {_short(s.question.text)} ({len(s.question.choices)} choices)")
    note = _plain(s.note)
    if note:
        parts.append(f"note: {_short(note)}")
    return " · ".join(parts)


def _a(name: str) -> str:
    """``"a 7"``, ``"an 8"``, ``"an Ankle boot"``: a class name with its article."""
    vowel = name[:1].lower() in "aeiou" or name in ("8", "11", "18") or name.startswith("8")
    return f"{'an' if vowel else 'a'} {name}"


def _plain(note: str) -> str:
    """A stop's Markdown note as one line of plain words: a heading ends in a colon, emphasis and code
    marks dropped ("# The input / This is the **picture**" -> "The input: This is the picture")."""
    out = []
    for line in note.splitlines():
        words = line.strip()
        heading = words.startswith("#")
        words = _MARKS.sub("", words.lstrip("#").strip())
        if words:
            out.append(words + (":" if heading and not words.endswith((":", ".", "?", "!")) else ""))
    return " ".join(out)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _NOTE_CHARS else text[:_NOTE_CHARS - 1] + "…"
