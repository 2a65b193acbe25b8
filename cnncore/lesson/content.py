"""What a lesson holds, checked as a whole, and the id made from it.

A :class:`Lesson` is a model, the pictures the lesson looks at (uint8, exactly as the model reads
them, with their true classes), where they came from (:class:`Source`), a title and the stops
(:mod:`cnncore.lesson.stops`). Making one checks every stop against the model's trace, computed
from the architecture alone (its steps and the shapes of its arrays; no pass is run), so a lesson
that exists is one a student can follow. Its :attr:`Lesson.id` is the SHA-256 of a canonical
serialisation of everything in it: results carry it, and results of another version are refused.
"""
from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .._safeio import unknown_format
from ..limits import (MAX_LESSON_PICTURE_BYTES, MAX_LESSON_PICTURES, MAX_LESSON_STOPS, MAX_TITLE_CHARS)
from ..modelio import model_arrays
from ..network import Network, not_a_number, softmax_cross_entropy
from ..plurals import plural
from ..trace import build_steps, expected_shapes
from ..training import as_network_input
from .stops import Stop, check_stop, check_text, fields, stop_from_json

__all__ = ["FORMAT", "MODEL_PREFIX", "LessonFileError", "Source", "Lesson", "lesson_arrays", "lesson_json", "lesson_head",
           "check_pictures"]

FORMAT = "cnnlab-lesson-1"
#: The format of a lesson one of whose stops names a tab's page (:data:`~cnncore.lesson.stops.PAGES`):
#: an earlier version, which knows no pages, says it cannot read it; every other lesson stays ``FORMAT``
#: (its file and its id as before).
FORMAT_PAGES = "cnnlab-lesson-2"
#: The names of the model's arrays in a lesson begin with this.
MODEL_PREFIX = "model/"
#: The traces of its pictures a lesson keeps at once (:meth:`Lesson.trace_of`).
KEPT_TRACES = 8
_SOURCE_KEY_CHARS = 40


class LessonFileError(ValueError):
    """A lesson or results file that cannot be used: the message is one line naming the file."""


@dataclass(frozen=True)
class Source:
    """Where the lesson's pictures came from: a data source's ``key`` (:data:`cnncore.datasets.SOURCES`,
    or any short name), its ``seed`` (generated digits) and each picture's index in it (None for a
    picture from elsewhere, a drawing). For people only: the pictures themselves are in the lesson."""
    key: str
    seed: int = 0
    indices: tuple = ()

    def __post_init__(self):
        check_text(self.key, "the source's name", _SOURCE_KEY_CHARS)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise ValueError(f"the source's seed must be a whole number from 0, not {self.seed!r:.40}")
        if not isinstance(self.indices, (tuple, list)) or not all(
                i is None or (isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 2**63) for i in self.indices):
            raise ValueError("the source's indices must be whole numbers from 0 (or null)")
        object.__setattr__(self, "indices", tuple(self.indices))

    def to_json(self) -> dict:
        return {"key": self.key, "seed": self.seed, "indices": list(self.indices)}


class Lesson:
    """A lesson: ``model`` (a :class:`~cnncore.network.Network`; the lesson keeps its own copy),
    ``pictures`` uint8 ``(N, C, H, W)`` at the model's input shape (``(N, H, W)`` is taken for one
    channel), ``labels`` ``(N,)`` their true classes, ``stops`` (:class:`~cnncore.lesson.stops.Stop`),
    ``source`` and ``title``. ``ValueError`` (one line) when any part does not fit the others.
    ``file``: the file it was read from (:func:`~cnncore.lesson.load_lesson`; None for one made
    here), which what is written of it (a student's results, the class's table) never replaces; not
    part of its content. Treat it as a value (never change its model's weights in place):
    :meth:`replace` gives an edited copy (read from no file)."""

    def __init__(self, model: Network, pictures, labels, stops, source: Source, title: str = "", *, file=None):
        if not isinstance(model, Network):
            raise ValueError("a lesson's model must be a Network")
        if not isinstance(source, Source):
            raise ValueError("a lesson's source must be a Source")
        self.title = check_text(title, "the title", MAX_TITLE_CHARS)
        self.model = model.copy()
        self.pictures, self.labels = _pictures(pictures, labels, self.model)
        if len(source.indices) != len(self.pictures):
            raise ValueError(f"the source names {plural(len(source.indices), 'picture')}, the lesson has "
                             f"{len(self.pictures):,}")
        self.source = source
        stops = tuple(stops)
        if len(stops) > MAX_LESSON_STOPS:
            raise ValueError(f"it has {len(stops):,} stops, more than the {MAX_LESSON_STOPS:,} a lesson may have")
        self.steps = build_steps(self.model.spec)
        shapes = expected_shapes(self.model.spec)
        for k, stop in enumerate(stops):
            if not isinstance(stop, Stop):
                raise ValueError(f"stop {k + 1} is not a Stop")
            check_stop(stop, k, self.steps, shapes, len(self.pictures))
        self.stops = stops
        self.file = Path(file) if file is not None else None

    def replace(self, **changes) -> "Lesson":
        """A copy with some of ``model``, ``pictures``, ``labels``, ``stops``, ``source``, ``title`` changed."""
        parts = {"model": self.model, "pictures": self.pictures, "labels": self.labels, "stops": self.stops,
                 "source": self.source, "title": self.title}
        unknown = set(changes) - set(parts)
        if unknown:
            raise TypeError(f"a lesson has no {', '.join(sorted(unknown))}")
        return Lesson(**{**parts, **changes})

    @cached_property
    def id(self) -> str:
        """64 hex digits: SHA-256 of the canonical text (:func:`lesson_json` without the id, keys
        sorted, no spaces) and every array (the model file's arrays by name, the pictures, the labels:
        name, dtype, shape and little-endian bytes). The same content gives the same id, however
        often the file is written; any change gives another (made once: a lesson is a value)."""
        h = hashlib.sha256(lesson_format(self).encode() + b"\n")
        h.update(json.dumps(lesson_json(self, with_id=False), sort_keys=True, separators=(",", ":"),
                            ensure_ascii=False, allow_nan=False).encode("utf-8"))
        arrays = lesson_arrays(self)
        for name in sorted(arrays):
            a = np.asarray(arrays[name])
            a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<") if a.dtype.byteorder != "|" else a.dtype)
            h.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode() + b"\n")
            h.update(a.tobytes())
        return h.hexdigest()

    def trace_of(self, k: int):
        """The :class:`~cnncore.trace.Trace` of picture ``k`` through the lesson's model: the numbers its
        questions are asked of and its stops show. The last :data:`KEPT_TRACES` asked for are kept (a
        trace holds the weights several times over); another is made again, the same bits (a lesson is a
        value). ``ValueError`` when they are not numbers (its weights overflow), saying so without what
        to do (the caller knows who reads it)."""
        traces = self.__dict__.setdefault("_traces", OrderedDict())
        if k in traces:
            traces.move_to_end(k)
            return traces[k]
        from ..trace import trace
        traces[k] = made = trace(self.model, self.pictures[k], int(self.labels[k]), remedy="")
        while len(traces) > KEPT_TRACES:
            traces.popitem(last=False)
        return made

    def check_numbers(self, ks) -> None:
        """``ValueError`` where the pass of one of the pictures ``ks`` is not numbers, as a trace of it
        would be refused (its weights overflow; saying so without what to do): one pass of them all (a
        lesson of 256 colour pictures was traced whole when opened: 9 s and 430 MB)."""
        ks = sorted({int(k) for k in ks})
        logits = self.model.predict_logits(as_network_input(self.pictures[ks], self.model.dtype))
        with np.errstate(over="ignore", invalid="ignore"):
            for k, z in zip(ks, logits):
                loss, probs, _ = softmax_cross_entropy(z[None], np.array([int(self.labels[k])]))
                problem = not_a_number(self.model, np.append(probs, loss), remedy="")
                if problem:
                    raise ValueError(problem)

    def question_stops(self) -> list[int]:
        """The indices of the stops that ask a question, in order."""
        return [k for k, s in enumerate(self.stops) if s.question is not None]

    def __repr__(self):
        return f"<Lesson {self.title!r} {len(self.stops)} stops, {len(self.pictures)} pictures>"


def check_pictures(dtype, shape, labels_dtype, labels_shape, model: Network) -> None:
    """``ValueError`` unless pictures of ``dtype``/``shape`` and labels of ``labels_dtype``/``labels_shape``
    are what a lesson for ``model`` holds: uint8 ``(N, C, H, W)`` at its input shape, 1 to
    :data:`~cnncore.limits.MAX_LESSON_PICTURES` of them within their byte limit, one whole number
    each. Asked of arrays and of a file's headers alike (before their data is read)."""
    C, H, W = model.input_shape
    shape = tuple(shape)
    if dtype != np.uint8 or len(shape) != 4 or shape[1:] != (C, H, W):
        raise ValueError(f"its pictures are {dtype} {shape}; the model reads uint8 (N, {C}, {H}, {W})")
    nbytes = shape[0] * C * H * W
    if not 1 <= shape[0] <= MAX_LESSON_PICTURES or nbytes > MAX_LESSON_PICTURE_BYTES:
        raise ValueError(f"it has {shape[0]:,} pictures of {nbytes:,} bytes; a lesson holds 1 to "
                         f"{MAX_LESSON_PICTURES} of at most {MAX_LESSON_PICTURE_BYTES:,} bytes together")
    if tuple(labels_shape) != (shape[0],) or labels_dtype.kind not in "iu":
        raise ValueError(f"its labels are {labels_dtype} {tuple(labels_shape)}; one whole number per picture is needed")


def _pictures(pictures, labels, model: Network):
    """``(pictures uint8 (N, C, H, W), labels int64 (N,))``, read-only copies, checked against ``model``."""
    X, y = np.asarray(pictures), np.asarray(labels)
    if X.ndim == 3 and model.input_shape[0] == 1:
        X = X[:, None]
    check_pictures(X.dtype, X.shape, y.dtype, y.shape, model)
    if ((y < 0) | (y >= model.num_classes)).any():
        raise ValueError(f"a label is not one of the model's {model.num_classes} classes (0..{model.num_classes - 1})")
    X, y = np.array(X, copy=True), y.astype(np.int64)
    X.flags.writeable = y.flags.writeable = False
    return X, y


def lesson_arrays(lesson: Lesson) -> dict[str, np.ndarray]:
    """The lesson's arrays by their names in the file: ``model/<key>`` for each of the model file's
    arrays (:func:`cnncore.modelio.model_arrays`), ``pictures`` uint8 (N, C, H, W), ``labels`` int64 (N,)."""
    return {**{MODEL_PREFIX + k: v for k, v in model_arrays(lesson.model).items()},
            "pictures": lesson.pictures, "labels": lesson.labels}


def lesson_json(lesson: Lesson, with_id: bool = True) -> dict:
    """The lesson's text part (``lesson.json`` in the file): format, id, title, source and stops."""
    out = {"format": lesson_format(lesson), "title": lesson.title, "source": lesson.source.to_json(),
           "stops": [s.to_json() for s in lesson.stops]}
    if with_id:
        out["id"] = lesson.id
    return out


def lesson_format(lesson: Lesson) -> str:
    """:data:`FORMAT_PAGES` where a stop names a page, else :data:`FORMAT`."""
    return FORMAT_PAGES if any(s.page for s in lesson.stops) else FORMAT


def lesson_head(obj) -> tuple[str, str, Source, list]:
    """``(id, title, source, stops)`` of ``lesson.json``'s values, each checked for type and size
    (the stops on their own; :class:`Lesson` checks them against the model)."""
    obj = fields(obj, {"format": str, "id": str, "title": str, "source": dict, "stops": list}, "lesson.json")
    if obj["format"] not in (FORMAT, FORMAT_PAGES):
        raise ValueError(unknown_format("lesson", obj["format"], (FORMAT, FORMAT_PAGES)))
    if len(obj["stops"]) > MAX_LESSON_STOPS:
        raise ValueError(f"it has {len(obj['stops']):,} stops, more than the {MAX_LESSON_STOPS:,} a lesson may have")
    src = fields(obj["source"], {"key": str, "seed": int, "indices": list}, "the source")
    stops = [stop_from_json(s, k) for k, s in enumerate(obj["stops"])]
    return obj["id"], obj["title"], Source(src["key"], src["seed"], tuple(src["indices"])), stops
