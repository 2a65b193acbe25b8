"""The ``.cnnlesson`` file: a zip of one JSON text and ``.npy`` arrays, nothing that can build objects.

Entries::

    lesson.json       format, id, title, source and stops (:func:`cnncore.lesson.content.lesson_json`)
    model/<key>.npy   the model file's arrays (:func:`cnncore.modelio.model_arrays`): format,
                      architecture, L{i}.W, L{i}.b, history, classes, opt.*
    pictures.npy      uint8 (N, C, H, W): the pictures, as the model reads them
    labels.npy        int64 (N,): their true classes

Reading trusts nothing and opens nothing half-way (:func:`load_lesson`): regular files only;
every entry's header checked before any data is read (no entry but these; ``.npy`` arrays of
numbers only, never pickles; declared sizes within :mod:`cnncore.limits`); the text read no further
than its declared size; the model read with every check of a model file; the pictures against
the model's input; every stop against the model's trace; the id against the content. Every
problem is one :class:`LessonFileError` line. Writing goes through the one writer
(:func:`cnncore._atomic.atomic_write`), entries in a fixed order with a fixed date, so the same
lesson gives the same bytes.
"""
from __future__ import annotations

import json
import zipfile

import numpy as np

from .._atomic import atomic_write
from .._safeio import UnreadableFile, read_json, read_member, read_text, user_archive
from ..limits import MAX_LAYERS, MAX_LESSON_TEXT
from ..modelio import ModelFileError, model_from_members
from .content import MODEL_PREFIX, Lesson, LessonFileError, check_pictures, lesson_arrays, lesson_head, lesson_json
from .run import lesson_questions

__all__ = ["save_lesson", "load_lesson", "SUFFIX"]

#: The name a lesson file ends in.
SUFFIX = ".cnnlesson"
_TEXT = "lesson.json"
#: Entries and declared bytes of the whole archive; the model's own, tighter limits are checked
#: by :func:`cnncore.modelio.model_from_members`, the pictures' below.
_MAX_ENTRIES = 8 * MAX_LAYERS + 64
_MAX_BYTES = 2 << 30
_DATE = (1980, 1, 1, 0, 0, 0)

#: Nesting of its JSON text (a list of stops, each with an element and a question, and their lists).
_JSON_DEPTH = 8


def save_lesson(path, lesson: Lesson):
    """Write ``lesson`` to ``path`` (a path or a :class:`cnncore.Output`) atomically; returns the path.
    ``ValueError`` (nothing written) when its text is too long or a predict question has no fair
    answer on its picture (:func:`cnncore.lesson.run.lesson_questions`): a student could not follow it."""
    lesson_questions(lesson)
    text = json.dumps(lesson_json(lesson), ensure_ascii=False, indent=1, allow_nan=False).encode("utf-8")
    if len(text) > MAX_LESSON_TEXT:
        raise ValueError(f"the lesson's text is {len(text):,} bytes, more than the {MAX_LESSON_TEXT:,} a lesson "
                         "file may hold; shorten its notes")
    arrays = lesson_arrays(lesson)

    def write(f):
        with zipfile.ZipFile(f, "w") as z:
            z.writestr(_entry(_TEXT), text)
            for name, a in arrays.items():
                with z.open(_entry(name + ".npy"), "w", force_zip64=True) as m:
                    np.lib.format.write_array(m, np.asarray(a), allow_pickle=False)
    return atomic_write(path, write)


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def load_lesson(path) -> Lesson:
    """The lesson in ``path`` (its :attr:`~cnncore.lesson.Lesson.file`); :class:`LessonFileError` (one
    line, naming the file) when it is not a lesson this version can show: see the module's docstring
    for what is checked."""
    with user_archive(path, LessonFileError, kind="lesson file", container="a zip archive", max_members=_MAX_ENTRIES,
                      max_bytes=_MAX_BYTES, texts={_TEXT: MAX_LESSON_TEXT}, refused=(ValueError,)) as (zf, members):
        return _read(path, zf, members)


def _read(path, zf, members) -> Lesson:
    _check_entries(zf, members)
    ident, title, source, stops = lesson_head(_json(read_text(zf, _TEXT, MAX_LESSON_TEXT)))
    try:
        model = model_from_members(f"{path}'s model", zf,
                                   {k[len(MODEL_PREFIX):]: v for k, v in members.items() if k.startswith(MODEL_PREFIX)})
    except ModelFileError as e:         # it names the lesson's model already
        raise LessonFileError(str(e)) from None
    pictures, labels = _pictures(zf, members, model)
    lesson = Lesson(model, pictures, labels, stops, source, title, file=path)
    if lesson.id != ident:
        raise ValueError(f"its id does not match its content (it was changed after it was saved); "
                         "save it again from the app")
    return lesson


def _check_entries(zf, members) -> None:
    names = zf.namelist()
    if len(set(names)) != len(names):
        raise ValueError("it holds two entries of the same name")
    if _TEXT not in names:
        hint = (" (it is a model file: cnnapp lesson new, or File → Record a lesson, makes a lesson of it)"
                if "architecture" in members else " (it is a backprop trace)" if "probs" in members else "")
        raise ValueError(f"no {_TEXT!r} entry, so this is not a lesson file{hint}")
    odd = sorted(k for k in members if k not in ("pictures", "labels") and not k.startswith(MODEL_PREFIX))
    if odd:
        raise ValueError(f"unexpected entries {', '.join(repr(k[:40]) for k in odd[:4])}")
    missing = [k for k in ("pictures", "labels") if k not in members]
    if missing:
        raise ValueError(f"no {' or '.join(repr(k) for k in missing)} entry")


def _json(text: str):
    try:
        return read_json(text, _JSON_DEPTH)
    except UnreadableFile as e:
        raise ValueError(f"its {_TEXT} {e}") from None


def _pictures(zf, members, model):
    """The pictures and labels, their headers checked against ``model`` before they are read."""
    X, y = members["pictures"], members["labels"]
    check_pictures(X.dtype, X.shape, y.dtype, y.shape, model)
    return read_member(zf, X), read_member(zf, y)
