"""Predict, then reveal: questions about one element of a recorded pass, asked before its step is shown.

:func:`ask` makes a question for one step of a :class:`cnncore.trace.Trace` from the
learner's own network and image, so they never run out: a number (``z``, ``dz``,
``dW``, ``dx``, a pooled value, a softmax output) judged within a stated
tolerance, or a choice (which input of a max-pool window receives the gradient,
the sign of a ``dz``, which output map a filter makes, which entry an up- or
downsampling layer copies). Which kinds a step asks
is its layer type's declaration (``Teaching.predict``), never a guess from its
spec. The tolerance follows the answer's size and, for a sum, its terms'
(:func:`tolerance_for`); a number that 0 would pass, a sum with no product but 0,
or a window whose largest value is shared is not asked. The easy kinds (one
term, a choice) come first; sums follow once the learner has a few right
(:class:`Score`, kept as plain values between sessions). :func:`question_at` asks about one
chosen element instead (a lesson's stop); the makers of both are in :mod:`cnncore.predict_makers`.
:func:`judge` marks an answer; the reveal is the step's own breakdown (:func:`cnncore.explain.breakdown`
of ``question.key``/``question.index``); filters are written ``w(m,n,i,j)`` in both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .layers import layer_class
from .predict_makers import AT, MAKERS, MAX_TERMS, Question, sample_shape, tolerance_for  # noqa: F401
from .terms import num
from .tracekeys import layer_key

__all__ = ["Question", "Verdict", "Score", "KINDS", "ask", "question_at", "why_not_asked", "kinds_for", "element_key", "judge",
           "tolerance_for", "parse_number"]


@dataclass(frozen=True)
class Kind:
    """A kind of question: its name in the score, the words for it, its level (1 easiest), and
    ``part``: the array of the step's layer whose element it is about (:func:`question_at` takes an
    index into it; ``"probs"`` is the loss step's own): the window's ``dy`` for ``winner``, the
    filter's ``W`` for ``filter_map``."""
    name: str
    words: str
    level: int
    part: str


KINDS = {k.name: k for k in (
    Kind("dz1", "one-term dz = dy·f′(z)", 1, "dz"),
    Kind("sign", "sign of a dz", 1, "dz"),
    Kind("winner", "which max-pool input gets the gradient", 1, "dy"),
    Kind("filter_map", "which output map a filter makes", 1, "W"),
    Kind("dw1", "one-term dense dW = dz·x", 1, "dW"),
    Kind("copied", "which input a resampled value is copied from", 1, "y"),
    Kind("copied_dx", "which output's gradient a resampled input gets", 1, "dx"),
    Kind("pool", "a pooled value", 2, "y"),
    Kind("softmax", "a softmax output", 2, "probs"),
    Kind("z", "a sum z of weights times inputs", 3, "z"),
    Kind("dW", "a filter gradient sum dW", 3, "dW"),
    Kind("dx", "an input gradient sum dx", 3, "dx"),
)}

#: Right answers at a level before questions of the next level are asked.
LEVEL_UP = 3


@dataclass(frozen=True)
class Verdict:
    """``valid`` is False for an answer that is not a number or not a choice (not counted)."""
    valid: bool
    right: bool
    message: str


@dataclass
class Score:
    """Right and asked per kind; ``to_dict``/``from_dict`` keep it as plain values."""
    right: dict = field(default_factory=dict)
    asked: dict = field(default_factory=dict)

    def record(self, kind: str, right: bool) -> None:
        self.asked[kind] = self.asked.get(kind, 0) + 1
        self.right[kind] = self.right.get(kind, 0) + int(bool(right))

    def right_at_level(self, level: int) -> int:
        return sum(n for k, n in self.right.items() if k in KINDS and KINDS[k].level == level)

    def to_dict(self) -> dict:
        return {k: [self.right.get(k, 0), self.asked[k]] for k in sorted(self.asked)}

    @classmethod
    def from_dict(cls, data) -> "Score":
        """A score from :meth:`to_dict`'s plain values; anything malformed is left out."""
        out = cls()
        if isinstance(data, dict):
            for k, v in data.items():
                if (k in KINDS and isinstance(v, (list, tuple)) and len(v) == 2
                        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in v) and v[0] <= v[1]):
                    out.right[k], out.asked[k] = v[0], v[1]
        return out

    def summary(self) -> str:
        if not self.asked:
            return "no answers yet"
        return ", ".join(f"{KINDS[k].words}: {r}/{n}" for k, (r, n) in self.to_dict().items())


# ----------------------------------------------------------------------------------- judging

def parse_number(text: str) -> float | None:
    """The number typed (``−`` or ``-``, a decimal comma, ``1e-3``), or None."""
    t = str(text).strip().replace("−", "-").replace("\u2212", "-").replace(" ", "")
    if t.count(",") == 1 and "." not in t:
        t = t.replace(",", ".")
    try:
        v = float(t)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def judge(q: Question, answer) -> Verdict:
    """Mark ``answer``: text or a number for a number question, the choice's index or its text for a
    choice. The message says the right answer and, for a number, how far off the answer was."""
    if q.is_choice:
        k = answer if isinstance(answer, (int, np.integer)) and not isinstance(answer, bool) else None
        if k is None:
            t = str(answer).strip()
            k = next((i for i, c in enumerate(q.choices) if c == t), None)
            if k is None and t.isdigit():
                k = int(t) - q.first    # typed the choice's number (q.numbered)
        if k is None or not 0 <= k < len(q.choices):
            return Verdict(False, False, f"Choose one of the {len(q.choices)} answers (type its number, "
                                         f"{q.numbers_text()}).")
        right = k == int(q.answer)
        return Verdict(True, right, ("Right: " if right else "Not quite: the answer is ")
                       + q.choices[int(q.answer)] + ".")
    v = answer if isinstance(answer, (int, float, np.floating)) else parse_number(answer)
    if v is None or not math.isfinite(float(v)):
        return Verdict(False, False, "Type a number (for example 0.25 or −1.5e-3), then Return.")
    err = abs(float(v) - q.answer)
    right = err <= q.tolerance * (1 + 1e-9)       # the edge counts (also after the float rounding of v ± tol)
    return Verdict(True, right, f"{'Right' if right else 'Not quite'}: the value is {num(q.answer, 6)}; you said "
                                f"{num(v, 6)} (off by {num(err, 2)}; accepted {q.tolerance_text()}).")


# --------------------------------------------------------------------------------- asking

def kinds_for(step) -> list[str]:
    """The kinds of question a :class:`cnncore.trace.Step` can ask: the loss step's softmax, and for a
    layer's forward or backward step the kinds its type declares (``Teaching.predict``)."""
    if step.kind == "loss":
        return ["softmax"]
    if step.layer is None or step.kind == "update":
        return []
    return [k for k in layer_class(step.layer_type).teaching.predict.get(step.kind, ()) if k in KINDS]


def element_key(step, kind: str) -> str:
    """The key of the array whose element a question of ``kind`` on ``step`` is about (``L2.dz``)."""
    part = KINDS[kind].part
    return part if step.layer is None else layer_key(step.layer, part)


def _choose_kind(kinds, score: Score, rng):
    """The easiest level the learner has not mastered yet (``LEVEL_UP`` right answers), among ``kinds``."""
    levels = sorted({KINDS[k].level for k in kinds})
    level = levels[-1]
    for lv in levels:
        if score.right_at_level(lv) < LEVEL_UP:
            level = lv
            break
    pool = [k for k in kinds if KINDS[k].level == level]
    return pool[int(rng.integers(0, len(pool)))]


def ask(trace, step_index: int, score: Score | None = None, rng=None) -> Question | None:
    """A question about an element of step ``step_index`` (None when the step has nothing to ask:
    an update step, a type that declares no questions, or sums all too long)."""
    rng = rng if rng is not None else np.random.default_rng()
    score = score or Score()
    kinds = kinds_for(trace.steps[step_index])
    while kinds:
        kind = _choose_kind(kinds, score, rng)
        q = MAKERS[kind](trace, step_index, rng)
        if q is not None:
            return q
        kinds.remove(kind)
    return None


def question_at(trace, step_index: int, kind: str, index) -> Question | None:
    """The question of ``kind`` about one chosen element (a lesson's stop asks this): ``index`` is the
    full index into ``trace.arrays[element_key(step, kind)]``, batch axis included where the array
    has one. None when that element makes no fair question (a number 0 would pass, a window whose
    largest value is shared, a sum too long or with no product); ``ValueError`` for a kind the step
    does not ask, or an index outside the array."""
    st = trace.steps[step_index]
    if kind not in kinds_for(st):
        raise ValueError(f"step {step_index} ({st.title}) asks no {kind!r} question; it asks "
                         f"{', '.join(kinds_for(st)) or 'none'}")
    key = element_key(st, kind)
    if key not in trace.arrays:
        raise ValueError(f"the trace has no {key}")
    arr = trace.arrays[key]
    index = tuple(int(i) for i in index)
    if len(index) != arr.ndim or not all(0 <= i < n for i, n in zip(index, arr.shape)):
        raise ValueError(f"{key}{list(index)} is outside its shape {arr.shape}")
    sample = index if len(sample_shape(trace, key)) == arr.ndim else index[1:]
    return AT[kind](trace, step_index, sample)


def why_not_asked(trace, step_index: int, kind: str, index) -> str:
    """Why :func:`question_at` makes no question of ``kind`` about this element, in words that follow
    "it makes no fair question: " (by the rules the makers apply: :func:`_live` products of a sum,
    a shared largest value of a window, a number 0 would pass)."""
    from .explain import breakdown
    from .predict_makers import _live

    st = trace.steps[step_index]
    key = element_key(st, kind)
    arr = trace.arrays.get(key)
    if arr is None:
        return f"the trace has no {key}"
    index = tuple(int(i) for i in index)
    sample = index if len(sample_shape(trace, key)) == arr.ndim else index[1:]
    bd_key = layer_key(st.layer, "y") if kind in ("winner", "pool") else key
    bd = breakdown(trace, bd_key, sample, st) if bd_key in trace.arrays else None
    if bd is not None and bd.combine == "sum" and kind in ("z", "dW", "dx"):
        live = _live(bd)
        if not live:
            return "its sum has no product that is not 0 (a bias alone, or only padding)"
        if len(live) > MAX_TERMS:
            return (f"its sum has {len(live):,} products that are not 0, more than the {MAX_TERMS} a learner "
                    "can be asked to add up")
    if kind == "winner" and bd is not None:
        values = [t.value for t in bd.terms]
        if values.count(max(values)) > 1:
            return "the largest value of its window is shared, so which cell wins is a convention"
    return "its answer is 0 or so close to 0 that typing 0 would be judged right"
