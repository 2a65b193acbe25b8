"""Predict, then reveal: questions about one element of a recorded pass, asked before its step is shown.

:func:`ask` makes a question for one step of a :class:`cnncore.trace.Trace` from the
learner's own network and image, so they never run out: a number (``z``, ``dz``,
``dW``, ``dx``, a pooled value, a softmax output) judged within a stated
tolerance, or a choice (which input of a max-pool window receives the gradient,
the sign of a ``dz``, which output map a filter makes). Which kinds a step asks
is its layer type's declaration (``Teaching.predict``), never a guess from its
spec. The tolerance follows the answer's size and, for a sum, its terms'
(:func:`tolerance_for`); a number that 0 would pass, a sum with no product but 0,
or a window whose largest value is shared is not asked. The easy kinds (one
term, a choice) come first; sums follow once the learner has a few right
(:class:`Score`, kept as plain values between sessions). :func:`judge` marks an
answer; the reveal is the step's own breakdown (:func:`cnncore.explain.breakdown`
of ``question.key``/``question.index``); filters are written ``w(m,n,i,j)`` in both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import activations
from .explain import breakdown
from .layers import layer_class
from .notation import index_text
from .terms import num
from .tracekeys import layer_key, split_key

__all__ = ["Question", "Verdict", "Score", "KINDS", "ask", "judge", "tolerance_for", "parse_number"]


@dataclass(frozen=True)
class Kind:
    """A kind of question: its name in the score, the words for it, its level (1 easiest)."""
    name: str
    words: str
    level: int


KINDS = {k.name: k for k in (
    Kind("dz1", "one-term dz = dy·f′(z)", 1),
    Kind("sign", "sign of a dz", 1),
    Kind("winner", "which max-pool input gets the gradient", 1),
    Kind("filter_map", "which output map a filter makes", 1),
    Kind("dw1", "one-term dense dW = dz·x", 1),
    Kind("pool", "a pooled value", 2),
    Kind("softmax", "a softmax output", 2),
    Kind("z", "a sum z of weights times inputs", 3),
    Kind("dW", "a filter gradient sum dW", 3),
    Kind("dx", "an input gradient sum dx", 3),
)}

#: Right answers at a level before questions of the next level are asked.
LEVEL_UP = 3
#: Sums with more terms than this are not asked (nobody adds 256 products by hand).
MAX_TERMS = 30


@dataclass(frozen=True)
class Question:
    """One question about ``trace.arrays[key][index]`` (``index`` includes a batch axis where the
    array has one). ``choices`` is empty for a number; then ``answer`` is the value and
    ``tolerance`` the largest error accepted; for a choice ``answer`` is the right choice's index."""
    kind: str
    step: int
    key: str
    index: tuple
    prompt: str
    given: tuple = ()
    choices: tuple = ()
    answer: float = 0.0
    tolerance: float = 0.0

    @property
    def is_choice(self) -> bool:
        return bool(self.choices)

    def tolerance_text(self) -> str:
        return f"within ±{num(self.tolerance, 2)}"


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

#: The error accepted, as a share of the answer's size.
RELATIVE = 0.02
#: The error accepted for a sum, as a share of the sum of its terms' sizes (rounding the terms adds up).
OF_TERMS = 0.005
#: A number is asked only when its tolerance is at most this share of its size: typing 0 (or half
#: the answer) is then never right.
MAX_SHARE = 0.1


def tolerance_for(value: float, terms=()) -> float:
    """The error accepted for ``value``: 2% of its size, or, for a sum, 0.5% of the sizes of its
    ``terms`` added up (each term rounded by the learner adds its own error), whichever is larger;
    at least 1e-12. It follows the answer and its terms, never the rest of the map."""
    spread = math.fsum(abs(float(t)) for t in terms)
    return max(RELATIVE * abs(float(value)), OF_TERMS * spread, 1e-12)


def _askable(value: float, tolerance: float) -> bool:
    """Whether a number makes a fair question: 0 (and anything near it) must not pass."""
    return abs(value) > 0 and tolerance <= MAX_SHARE * abs(value)


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
                k = int(t) - 1          # typed the choice's number, 1-based
        if k is None or not 0 <= k < len(q.choices):
            return Verdict(False, False, f"Choose one of the {len(q.choices)} answers (type its number).")
        right = k == int(q.answer)
        return Verdict(True, right, ("Right: " if right else "Not quite: the answer is ")
                       + q.choices[int(q.answer)] + ".")
    v = answer if isinstance(answer, (int, float, np.floating)) else parse_number(answer)
    if v is None or not math.isfinite(float(v)):
        return Verdict(False, False, "Type a number (for example 0.25 or −1.5e-3), then Enter.")
    err = abs(float(v) - q.answer)
    right = err <= q.tolerance * (1 + 1e-9)       # the edge counts (also after the float rounding of v ± tol)
    return Verdict(True, right, f"{'Right' if right else 'Not quite'}: the value is {num(q.answer, 6)}, you said "
                                f"{num(v, 6)} (off by {num(err, 2)}; accepted {q.tolerance_text()}).")


# --------------------------------------------------------------------------------- asking

def _full(arr, index) -> tuple:
    index = tuple(int(i) for i in index)
    return (0,) + index if len(index) == np.ndim(arr) - 1 else index


def _number(trace, kind, step, key, index, prompt, given=(), bd=None) -> Question | None:
    """A number question about ``trace.arrays[key][index]``, its tolerance from its breakdown ``bd``
    (the terms of a sum; a max or a norm follows the answer alone); None when 0 would pass."""
    arr = trace.arrays[key]
    v = float(arr[_full(arr, index)])
    terms = [t.value for t in bd.terms] if bd is not None and bd.combine == "sum" else ()
    tol = tolerance_for(v, terms)
    if not _askable(v, tol):
        return None
    return Question(kind, step, key, _full(arr, index), prompt, tuple(given), (), v, tol)


def _given_terms(bd, limit=MAX_TERMS) -> tuple:
    """Each term of a breakdown with its numbers, not its product (the learner makes that)."""
    return tuple(f"{t.label} = " + " · ".join(num(f) for f in t.factors) for t in bd.terms[:limit])


def _shape(trace, key) -> tuple:
    """The shape of one sample of ``trace.arrays[key]`` (parameters have no batch axis)."""
    arr = trace.arrays[key]
    return arr.shape if split_key(key)[1] in ("W", "b", "dW", "db") else arr.shape[1:]


def _pick(rng, shape, want=None, tries=64):
    """A random index into ``shape`` where ``want(index)`` holds, or None when ``tries`` found none."""
    for _ in range(tries):
        idx = tuple(int(rng.integers(0, s)) for s in shape)
        if want is None or want(idx):
            return idx
    return None


def _where(key, index) -> str:
    """``dW(0,1,2,2)``: the element as the learner reads it, filters in the legend's order w(m,n,i,j)."""
    part = split_key(key)[1]
    return part + index_text(part, index)


def _candidates(trace, step_index) -> list[str]:
    """The kinds of question this step can answer: the loss step's softmax, and for a layer's step
    the kinds its type declares (``Teaching.predict``)."""
    st = trace.steps[step_index]
    if st.kind == "loss":
        return ["softmax"]
    if st.layer is None or st.kind == "update":
        return []
    return [k for k in layer_class(st.layer_type).teaching.predict.get(st.kind, ()) if k in KINDS]


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
    kinds = _candidates(trace, step_index)
    while kinds:
        kind = _choose_kind(kinds, score, rng)
        q = _MAKERS[kind](trace, step_index, rng)
        if q is not None:
            return q
        kinds.remove(kind)
    return None


# ----------------------------------------------------------------------- one maker per kind

def _activation_given(trace, i, index):
    A, fn = trace.arrays, trace.spec["layers"][i]["activation"]
    full = _full(A[layer_key(i, "dz")], index)
    z, dy = float(A[layer_key(i, "z")][full]), float(A[layer_key(i, "dy")][full])
    _, fp = activations.formula(fn)
    return fn, (f"dy = {num(dy, 6)}", f"z = {num(z, 6)}", f"activation {fn}: {fp}")


def _make_dz1(trace, step, rng):
    i = trace.steps[step].layer
    key = layer_key(i, "dz")
    dz = trace.arrays[key]
    idx = _pick(rng, dz.shape[1:], lambda ix: dz[_full(dz, ix)] != 0)      # 0 is the sign question's
    if idx is None:
        return None
    _, given = _activation_given(trace, i, idx)
    return _number(trace, "dz1", step, key, idx, f"Layer {i}: what is {_where(key, idx)} = dy · f′(z)?", given,
                   breakdown(trace, key, idx, trace.steps[step]))


def _make_sign(trace, step, rng):
    i = trace.steps[step].layer
    key = layer_key(i, "dz")
    dz = trace.arrays[key]
    idx = _pick(rng, dz.shape[1:], lambda ix: dz[_full(dz, ix)] != 0 or rng.random() < 0.15)
    if idx is None:
        return None
    _, given = _activation_given(trace, i, idx)
    v = float(dz[_full(dz, idx)])
    answer = 0 if v > 0 else 1 if v < 0 else 2
    return Question("sign", step, key, _full(dz, idx), f"Layer {i}: is {_where(key, idx)} positive, negative or zero?",
                    given, ("positive", "negative", "zero"), answer, 0.0)


def _make_sum(kind, part):
    def make(trace, step, rng):
        st = trace.steps[step]
        key = layer_key(st.layer, part)
        if key not in trace.arrays:          # the first layer has no dx
            return None
        for _ in range(16):
            idx = _pick(rng, _shape(trace, key))
            bd = breakdown(trace, key, idx, st)
            if len(bd.terms) > 4 * MAX_TERMS:      # this layer's sums are all long: no use trying others
                return None
            # a product that is not 0 (a bias alone, or only padding zeros, is no sum to work out)
            live = [t for t in bd.terms if len(t.factors) > 1 and t.value != 0]
            if len(bd.terms) <= MAX_TERMS and live:
                q = _number(trace, kind, step, key, idx, f"Layer {st.layer}: what is {_where(key, idx)}? "
                                                         f"{bd.equation}", _given_terms(bd), bd)
                if q is not None:
                    return q
        return None
    return make


def _make_dw1(trace, step, rng):
    st = trace.steps[step]
    key = layer_key(st.layer, "dW")
    A = trace.arrays
    dz, x = A[layer_key(st.layer, "dz")][0], A[layer_key(st.layer, "x")][0]
    idx = _pick(rng, A[key].shape, lambda ix: dz[ix[0]] != 0 and x[ix[1]] != 0)
    if idx is None:
        return None
    bd = breakdown(trace, key, idx, st)
    return _number(trace, "dw1", step, key, idx, f"Layer {st.layer}: what is {_where(key, idx)} = dz·x?",
                   _given_terms(bd), bd)


def _make_pool(trace, step, rng):
    st = trace.steps[step]
    key = layer_key(st.layer, "y")
    for _ in range(16):
        idx = _pick(rng, _shape(trace, key))
        bd = breakdown(trace, key, idx, st)
        given = tuple(f"{t.label} = " + " · ".join(num(f) for f in t.factors) for t in bd.terms)
        q = _number(trace, "pool", step, key, idx, f"Layer {st.layer}: {bd.equation}. What is {_where(key, idx)}, "
                                                   "worked out from its window?", given, bd)
        if q is not None:
            return q
    return None


def _make_softmax(trace, step, rng):
    last = len(trace.spec["layers"]) - 1
    z = trace.arrays[layer_key(last, "y")][0]
    k = trace.label if rng.random() < 0.5 else int(rng.integers(0, z.shape[0]))
    given = (", ".join(f"z({j}) = {num(v, 5)}" for j, v in enumerate(z)),)
    return _number(trace, "softmax", step, "probs", (k,),
                   f"What probability p({k}) = e^z({k}) / Σ_j e^z(j) does softmax give class {k}?", given)


def _make_winner(trace, step, rng):
    """Which input of one window gets its gradient: read from the window's own breakdown (the
    terms of a max, the winner ``chosen``); a window whose largest value is shared is never asked."""
    st = trace.steps[step]
    key = layer_key(st.layer, "y")
    if layer_key(st.layer, "dx") not in trace.arrays:
        return None
    for _ in range(16):
        idx = _pick(rng, _shape(trace, key))
        bd = breakdown(trace, key, idx, st)
        values = [t.value for t in bd.terms]
        if bd.combine != "max" or values.count(max(values)) > 1:
            continue                # a tie: which cell wins is a convention, not something to work out
        won = next(k for k, t in enumerate(bd.terms) if t.chosen)
        cells = [t.sources[0] for t in bd.terms]
        choices = tuple(f"{t.label} = {num(t.value)}" for t in bd.terms)
        dy = float(trace.arrays[layer_key(st.layer, "dy")][_full(trace.arrays[key], idx)])
        return Question("winner", step, layer_key(st.layer, "dx"), tuple(cells[won].index),
                        f"Layer {st.layer}: the window of output {_where(key, idx)} sends dy = {num(dy)} back. "
                        "Which input gets it?", (), choices, won, 0.0)
    return None


def _make_filter_map(trace, step, rng):
    st = trace.steps[step]
    W = trace.arrays[layer_key(st.layer, "W")]
    F, C = W.shape[:2]
    n = int(rng.integers(0, F))
    choices = tuple(f"z map {k}" for k in range(F)) + (f"one part of every z map ({C} input maps)",)
    return Question("filter_map", step, layer_key(st.layer, "z"), (0, n, 0, 0),
                    f"Layer {st.layer}: filter {n} has {C} channel(s), one per input map. Which output map does "
                    "it make?", (), choices, n, 0.0)


_MAKERS = {"dz1": _make_dz1, "sign": _make_sign, "z": _make_sum("z", "z"), "dW": _make_sum("dW", "dW"),
           "dx": _make_sum("dx", "dx"), "dw1": _make_dw1, "pool": _make_pool, "softmax": _make_softmax,
           "winner": _make_winner, "filter_map": _make_filter_map}
