"""A lesson's stops: where the class looks (a tab, a picture, a trace step, an element) and what it is asked.

A :class:`Stop` checks itself when it is made (types, sizes, a question's own consistency);
whether it fits a lesson's model and pictures is :func:`check_stop`'s answer, which
:class:`cnncore.lesson.Lesson` asks of every stop. :meth:`Stop.to_json` and :func:`stop_from_json`
turn a stop into plain JSON values and back; reading is strict (exact keys, exact types, integers
that are not booleans) and every problem is a ``ValueError`` of one line naming what is wrong.

Stops are counted from 0 in files and in the API, and written from 1 for people ("stop 3" is
``lesson.stops[2]``).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ..limits import MAX_CHOICE_CHARS, MAX_CHOICES, MAX_NOTE_CHARS, MAX_QUESTION_CHARS
from ..predict import KINDS, element_key, kinds_for

__all__ = ["TABS", "PAGES", "Element", "PredictQuestion", "ChoiceQuestion", "Stop", "stop_from_json", "check_stop",
           "check_text", "fields"]

#: The tabs a stop can show, by the names the window gives them.
TABS = ("draw", "build", "train", "backprop", "learn", "look")
#: The pages of the tabs that have pages, in the window's order: a stop may name one ("" : the tab as
#: the student left it).
PAGES = {"learn": ("examples", "checks", "gradcheck", "identities", "notation"),
         "look": ("where", "fool", "dream")}

_KEY = re.compile(r"(L\d{1,4}\.[A-Za-z_]{1,16}|[a-z_]{1,16})")
#: Dimensions of an element's index (a conv layer's maps with the batch axis have 4).
_MAX_DIMS = 6
#: Control characters a text of several lines may hold (Markdown's lines and indents).
_NOTE_SPACE = "\n\t"


#: Unicode's explicit directional formatting: embeddings and overrides (closed by PDF, U+202C) and
#: isolates (closed by PDI, U+2069), UAX #9 section 2.
_EMBEDDINGS, _PDF, _ISOLATES, _PDI = "\u202a\u202b\u202d\u202e", "\u202c", "\u2066\u2067\u2068", "\u2069"


def _open_direction(line: str) -> bool:
    """Whether ``line`` leaves an embedding, override or isolate open at its end: it would reorder
    whatever is shown after it on a line of the app or a terminal (balanced ones stay within the
    text: right-to-left words a teacher writes are welcome). A closer with nothing open is ignored,
    as the bidirectional algorithm ignores it; a PDI closes the last isolate and what opened in it."""
    opened: list = []
    for c in line:
        if c in _EMBEDDINGS or c in _ISOLATES:
            opened.append(c)
        elif c == _PDF and opened and opened[-1] in _EMBEDDINGS:
            opened.pop()
        elif c == _PDI and any(o in _ISOLATES for o in opened):
            while opened.pop() not in _ISOLATES:
                pass
    return bool(opened)


def check_text(value, what: str, limit: int, lines: bool = False) -> str:
    """``value`` when it is text of at most ``limit`` characters, else ``ValueError``: one line unless
    ``lines`` (then Windows' and old Macs' line ends become ``\n``, which is returned), no control
    character (Unicode category Cc) but a note's line breaks and tabs, no lone surrogate that UTF-8
    cannot write, no change of the writing direction left open at a line's end. Everything else is
    text a teacher may paste: no-break and thin spaces, soft hyphens, zero-width joiners, emoji,
    right-to-left words and marks."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, not {type(value).__name__}")
    if lines:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if len(value) > limit:
        raise ValueError(f"{what} is {len(value):,} characters long, more than the {limit:,} allowed")
    allowed = _NOTE_SPACE if lines else ""
    breaks = ("Cc",) if lines else ("Cc", "Zl", "Zp")
    if any(unicodedata.category(c) in breaks and c not in allowed for c in value):
        raise ValueError(f"{what} holds control characters" + ("" if lines else " or line breaks"))
    if any(_open_direction(line) for line in value.split("\n")):
        raise ValueError(f"{what} turns the writing direction round without turning it back (an unclosed "
                         "Unicode embedding, override or isolate): the text after it would be shown reordered")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} holds characters that are not text (lone surrogates)") from None
    return value


def _count(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a whole number from 0, not {value!r:.40}")
    return value


@dataclass(frozen=True)
class Element:
    """One selected element: ``trace.arrays[key][index]``, ``index`` the full index (batch axis
    included where the array has one, as the Backprop tab's maps give it): ``L0.dW`` (F, C, KH, KW),
    ``L0.z`` (1, F, H, W), ``probs`` (1, 10)."""
    key: str
    index: tuple

    def __post_init__(self):
        if not isinstance(self.key, str) or not _KEY.fullmatch(self.key):
            raise ValueError(f"an element's key must be a trace key such as 'L0.dW', not {self.key!r:.40}")
        if not isinstance(self.index, (tuple, list)) or len(self.index) > _MAX_DIMS:
            raise ValueError(f"the index of {self.key} must be a list of at most {_MAX_DIMS} whole numbers")
        object.__setattr__(self, "index", tuple(_count(i, f"the index of {self.key}") for i in self.index))

    def __str__(self):
        return f"{self.key}[{', '.join(map(str, self.index))}]"


@dataclass(frozen=True)
class PredictQuestion:
    """Predict the stop's element before the step is shown: a question of ``kind``
    (:data:`cnncore.predict.KINDS`) made from the lesson's own trace, judged by :func:`cnncore.predict.judge`."""
    kind: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"a predict question's kind must be one of {', '.join(KINDS)}, not {self.kind!r:.40}")


@dataclass(frozen=True)
class ChoiceQuestion:
    """The teacher's own multiple choice: ``text``, its ``choices`` and ``right``, the indices of the
    right ones (one or more; the answer must name exactly those)."""
    text: str
    choices: tuple
    right: tuple = field(default=(0,))

    def __post_init__(self):
        object.__setattr__(self, "text", check_text(self.text, "a question's text", MAX_QUESTION_CHARS, lines=True))
        if not self.text.strip():
            raise ValueError("a question's text is empty")
        if not isinstance(self.choices, (tuple, list)) or not 2 <= len(self.choices) <= MAX_CHOICES:
            raise ValueError(f"a question needs 2 to {MAX_CHOICES} choices")
        for c in self.choices:
            if not check_text(c, "a choice", MAX_CHOICE_CHARS).strip():
                raise ValueError("a choice is empty")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError("a question lists the same choice twice")
        if not isinstance(self.right, (tuple, list, set, frozenset)) or not self.right:
            raise ValueError("a question needs at least one right choice")
        right = tuple(sorted({_count(r, "a right choice") for r in self.right}))
        if right[-1] >= len(self.choices):
            raise ValueError(f"right choice {right[-1] + 1} is not one of the {len(self.choices)} choices")
        object.__setattr__(self, "choices", tuple(self.choices))
        object.__setattr__(self, "right", right)


@dataclass(frozen=True)
class Stop:
    """One stop: the ``tab`` shown, the lesson's ``picture`` (an index into its pictures), the trace
    ``step`` (an index into the steps of that picture's trace), optionally a selected ``element``,
    the teacher's ``note`` (Markdown) and a ``question`` answered before the step is revealed.
    A predict question is about the stop's element, so it needs one. ``page``: the tab's page shown
    (:data:`PAGES`; "" for a tab without pages, or to leave it as it is)."""
    tab: str
    picture: int
    step: int
    note: str = ""
    element: Element | None = None
    question: PredictQuestion | ChoiceQuestion | None = None
    page: str = ""

    def __post_init__(self):
        if self.tab not in TABS:
            raise ValueError(f"a stop's tab must be one of {', '.join(TABS)}, not {self.tab!r:.40}")
        if self.page != "" and self.page not in PAGES.get(self.tab, ()):
            pages = PAGES.get(self.tab)
            raise ValueError(f"a stop's page on the {self.tab} tab must be "
                             + (f"one of {', '.join(pages)}" if pages else "none (it has no pages)")
                             + f", not {self.page!r:.40}")
        _count(self.picture, "a stop's picture")
        _count(self.step, "a stop's step")
        object.__setattr__(self, "note", check_text(self.note, "a note", MAX_NOTE_CHARS, lines=True))
        if self.element is not None and not isinstance(self.element, Element):
            raise ValueError("a stop's element must be an Element")
        if self.question is not None and not isinstance(self.question, (PredictQuestion, ChoiceQuestion)):
            raise ValueError("a stop's question must be a PredictQuestion or a ChoiceQuestion")
        if isinstance(self.question, PredictQuestion) and self.element is None:
            raise ValueError("a predict question needs the stop's element to ask about")

    def to_json(self) -> dict:
        """The stop as plain JSON values (see :func:`stop_from_json`)."""
        q = self.question
        question = (None if q is None else {"type": "predict", "kind": q.kind} if isinstance(q, PredictQuestion)
                    else {"type": "choice", "text": q.text, "choices": list(q.choices), "right": list(q.right)})
        element = None if self.element is None else {"key": self.element.key, "index": list(self.element.index)}
        page = {"page": self.page} if self.page else {}      # (a lesson without pages reads as before)
        return {"tab": self.tab, **page, "picture": self.picture, "step": self.step, "element": element,
                "note": self.note, "question": question}


def fields(obj, want: dict, what: str) -> dict:
    """``obj`` when it is a JSON object with exactly the keys of ``want`` (key -> the type, or tuple
    of types, its value must have; ``int`` never admits a boolean); else ``ValueError``."""
    if not isinstance(obj, dict):
        raise ValueError(f"{what} must be a JSON object")
    extra, missing = sorted(set(obj) - set(want)), sorted(set(want) - set(obj))
    if extra or missing:
        raise ValueError(f"{what} has " + (f"unexpected {', '.join(repr(k[:30]) for k in extra[:4])}" if extra
                                           else f"no {', '.join(repr(k) for k in missing)}"))
    for k, kinds in want.items():
        v, kinds = obj[k], kinds if isinstance(kinds, tuple) else (kinds,)
        if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
            raise ValueError(f"{what}: {k!r} has the wrong type ({type(v).__name__})")
    return obj


def _question_from_json(obj, what: str):
    if obj is None:
        return None
    if isinstance(obj, dict) and obj.get("type") == "predict":
        return PredictQuestion(fields(obj, {"type": str, "kind": str}, what)["kind"])
    obj = fields(obj, {"type": str, "text": str, "choices": list, "right": list}, what)
    if obj["type"] != "choice":
        raise ValueError(f"{what}: type must be 'predict' or 'choice', not {obj['type']!r:.30}")
    return ChoiceQuestion(obj["text"], tuple(obj["choices"]), tuple(obj["right"]))


def stop_from_json(obj, k: int) -> Stop:
    """Stop ``k`` (counted from 0) from :meth:`Stop.to_json`'s values; ``ValueError`` naming it."""
    what = f"stop {k + 1}"
    try:
        want = {"tab": str, "picture": int, "step": int, "element": (dict, type(None)), "note": str,
                "question": (dict, type(None))}
        obj = fields(obj, {**want, "page": str} if isinstance(obj, dict) and "page" in obj else want, what)
        el = obj["element"]
        element = None if el is None else Element(**fields(el, {"key": str, "index": list}, f"{what}'s element"))
        return Stop(obj["tab"], obj["picture"], obj["step"], obj["note"], element,
                    _question_from_json(obj["question"], f"{what}'s question"), obj.get("page", ""))
    except ValueError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(what) else f"{what}: {msg}") from None


def check_stop(stop: Stop, k: int, steps: list, shapes: dict, pictures: int) -> None:
    """``ValueError`` when stop ``k`` does not fit a lesson whose model's trace has ``steps``
    (:func:`cnncore.trace.build_steps`) and arrays of ``shapes`` (:func:`cnncore.trace.expected_shapes`),
    and which carries ``pictures`` pictures: a picture or step out of range, an element that is not
    on one of the step's maps or lies outside its array, a predict question the step does not ask
    or that is about another array than the element's."""
    what = f"stop {k + 1}"
    if stop.picture >= pictures:
        raise ValueError(f"{what}: picture {stop.picture} is out of range (the lesson has {pictures}, "
                         f"0..{pictures - 1})")
    if stop.step >= len(steps):
        raise ValueError(f"{what}: step {stop.step} is out of range (the model's trace has {len(steps)} steps, "
                         f"0..{len(steps) - 1})")
    step, el = steps[stop.step], stop.element
    if el is not None:
        if el.key not in shapes or el.key not in step.maps:
            maps = ", ".join(m for m in step.maps if m in shapes)
            raise ValueError(f"{what}: {el.key} is not one of the maps of step {stop.step} ({maps})")
        shape = shapes[el.key]
        if len(el.index) != len(shape) or any(i >= n for i, n in zip(el.index, shape)):
            raise ValueError(f"{what}: element {el} is outside {el.key}, whose shape is {tuple(shape)}")
    if isinstance(stop.question, PredictQuestion):
        kind = stop.question.kind
        if kind not in kinds_for(step):
            raise ValueError(f"{what}: step {stop.step} ({step.title}) asks no {kind!r} question; it asks "
                             f"{', '.join(kinds_for(step)) or 'none'}")
        if el.key != element_key(step, kind):
            raise ValueError(f"{what}: a {kind!r} question is about an element of {element_key(step, kind)}, "
                             f"not of {el.key}")
