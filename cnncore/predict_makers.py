"""Making predict-mode questions from a recorded pass: one maker per kind, each at a chosen element
and at random, and the tolerance a number is judged within (:mod:`cnncore.predict` asks them).

Every maker of a kind comes in two forms: ``_<kind>_at(trace, step, idx)`` builds the question
about element ``idx`` of the kind's array (the batch axis left out; None when that element makes no
fair question), and ``_make_<kind>(trace, step, rng)`` picks an element at random and calls it.
:data:`AT` and :data:`MAKERS` map the kind's name to each.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import activations
from .explain import breakdown
from .notation import index_text
from .plurals import plural
from .terms import num
from .tracekeys import layer_key, split_key

__all__ = ["Question", "MAX_TERMS", "RELATIVE", "OF_TERMS", "MAX_SHARE", "tolerance_for", "AT", "MAKERS",
           "sample_shape"]

#: Sums with more terms than this are not asked (nobody adds 256 products by hand).
MAX_TERMS = 30


@dataclass(frozen=True)
class Question:
    """One question about ``trace.arrays[key][index]`` (``index`` includes a batch axis where the
    array has one). ``choices`` is empty for a number; then ``answer`` is the value and
    ``tolerance`` the largest error accepted; for a choice ``answer`` is the right choice's index.
    ``first``: the number the choices are typed by starts at (0 where the choices are maps numbered
    from 0, so that map 17 is typed 17)."""
    kind: str
    step: int
    key: str
    index: tuple
    prompt: str
    given: tuple = ()
    choices: tuple = ()
    answer: float = 0.0
    tolerance: float = 0.0
    first: int = 1

    @property
    def is_choice(self) -> bool:
        return bool(self.choices)

    def numbered(self) -> list[str]:
        """The choices as they are listed: ``"17. z map 17"``."""
        return [f"{k + self.first}. {c}" for k, c in enumerate(self.choices)]

    def numbers_text(self) -> str:
        """``"0–48"``: the numbers the choices are typed by."""
        return f"{self.first}–{len(self.choices) - 1 + self.first}"

    def tolerance_text(self) -> str:
        return f"within ±{num(self.tolerance, 2)}"


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
    """Each term of a breakdown with its numbers, not its product (the learner makes that); the
    products that are 0 (a factor is 0: an input off, a unit whose gradient is 0) are said in one
    line, not listed."""
    shown = [t for t in bd.terms if len(t.factors) == 1 or t.value != 0][:limit]
    lines = [f"{t.label} = {t.written(sep=' · ')}" for t in shown]
    zeros = len(bd.terms) - len(shown)
    if zeros:
        lines.append(f"the other {zeros:,} product{'s' if zeros > 1 else ''} of the sum "
                     f"{'are' if zeros > 1 else 'is'} 0 (a factor is 0)")
    return tuple(lines)


def _live(bd) -> list:
    """The products of a breakdown that are not 0 (a bias alone is no product)."""
    return [t for t in bd.terms if len(t.factors) > 1 and t.value != 0]


def sample_shape(trace, key) -> tuple:
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


# -------------------------------------------------------- one maker per kind: at an element, at random

def _activation_given(trace, i, index):
    A, fn = trace.arrays, trace.spec["layers"][i]["activation"]
    full = _full(A[layer_key(i, "dz")], index)
    z, dy = float(A[layer_key(i, "z")][full]), float(A[layer_key(i, "dy")][full])
    _, fp = activations.formula(fn)
    return fn, (f"dy = {num(dy, 6)}", f"z = {num(z, 6)}", f"activation {fn}: {fp}")


def _dz1_at(trace, step, idx):
    i = trace.steps[step].layer
    key = layer_key(i, "dz")
    if trace.arrays[key][_full(trace.arrays[key], idx)] == 0:      # 0 is the sign question's
        return None
    _, given = _activation_given(trace, i, idx)
    return _number(trace, "dz1", step, key, idx, f"Layer {i}: what is {_where(key, idx)} = dy · f′(z)?", given,
                   breakdown(trace, key, idx, trace.steps[step]))


def _make_dz1(trace, step, rng):
    dz = trace.arrays[layer_key(trace.steps[step].layer, "dz")]
    idx = _pick(rng, dz.shape[1:], lambda ix: dz[_full(dz, ix)] != 0)
    return None if idx is None else _dz1_at(trace, step, idx)


def _sign_at(trace, step, idx):
    i = trace.steps[step].layer
    key = layer_key(i, "dz")
    dz = trace.arrays[key]
    _, given = _activation_given(trace, i, idx)
    v = float(dz[_full(dz, idx)])
    answer = 0 if v > 0 else 1 if v < 0 else 2
    return Question("sign", step, key, _full(dz, idx), f"Layer {i}: is {_where(key, idx)} positive, negative or zero?",
                    given, ("positive", "negative", "zero"), answer, 0.0)


def _make_sign(trace, step, rng):
    dz = trace.arrays[layer_key(trace.steps[step].layer, "dz")]
    idx = _pick(rng, dz.shape[1:], lambda ix: dz[_full(dz, ix)] != 0 or rng.random() < 0.15)
    return None if idx is None else _sign_at(trace, step, idx)


def _sum_at(kind, part):
    def at(trace, step, idx, bd=None):
        st = trace.steps[step]
        key = layer_key(st.layer, part)
        if key not in trace.arrays:          # the first layer has no dx
            return None
        bd = bd if bd is not None else breakdown(trace, key, idx, st)
        # a product that is not 0 (a bias alone, or only padding zeros, is no sum to work out), and
        # not more of them than a learner can add up (the zero products are said in one line)
        live = _live(bd)
        if len(live) > MAX_TERMS or not live:
            return None
        return _number(trace, kind, step, key, idx, f"Layer {st.layer}: what is {_where(key, idx)}? {bd.equation}",
                       _given_terms(bd), bd)
    return at


def _make_sum(kind, part):
    at = _sum_at(kind, part)

    def make(trace, step, rng):
        st = trace.steps[step]
        key = layer_key(st.layer, part)
        if key not in trace.arrays:
            return None
        for _ in range(16):
            idx = _pick(rng, sample_shape(trace, key))
            bd = breakdown(trace, key, idx, st)
            if len(_live(bd)) > 4 * MAX_TERMS:      # this layer's sums are all long: no use trying others
                return None
            q = at(trace, step, idx, bd)
            if q is not None:
                return q
        return None
    return make


def _dw1_at(trace, step, idx):
    st = trace.steps[step]
    key = layer_key(st.layer, "dW")
    A = trace.arrays
    if A[layer_key(st.layer, "dz")][0][idx[0]] == 0 or A[layer_key(st.layer, "x")][0][idx[1]] == 0:
        return None
    bd = breakdown(trace, key, idx, st)
    return _number(trace, "dw1", step, key, idx, f"Layer {st.layer}: what is {_where(key, idx)} = dz·x?",
                   _given_terms(bd), bd)


def _make_dw1(trace, step, rng):
    st = trace.steps[step]
    A = trace.arrays
    dz, x = A[layer_key(st.layer, "dz")][0], A[layer_key(st.layer, "x")][0]
    idx = _pick(rng, A[layer_key(st.layer, "dW")].shape, lambda ix: dz[ix[0]] != 0 and x[ix[1]] != 0)
    return None if idx is None else _dw1_at(trace, step, idx)


def _pool_at(trace, step, idx):
    st = trace.steps[step]
    key = layer_key(st.layer, "y")
    bd = breakdown(trace, key, idx, st)
    given = tuple(f"{t.label} = {t.written(sep=' · ')}" for t in bd.terms)
    return _number(trace, "pool", step, key, idx, f"Layer {st.layer}: {bd.equation}. What is {_where(key, idx)}, "
                                                  "worked out from its window?", given, bd)


def _softmax_at(trace, step, idx):
    last = len(trace.spec["layers"]) - 1
    z = trace.arrays[layer_key(last, "y")][0]
    k = int(idx[0])
    given = (", ".join(f"z({j}) = {num(v, 5)}" for j, v in enumerate(z)),)
    return _number(trace, "softmax", step, "probs", (k,),
                   f"What probability p({k}) = e^z({k}) / Σ_j e^z(j) does softmax give class {k}?", given)


def _make_softmax(trace, step, rng):
    z = trace.arrays[layer_key(len(trace.spec["layers"]) - 1, "y")][0]
    k = trace.label if rng.random() < 0.5 else int(rng.integers(0, z.shape[0]))
    return _softmax_at(trace, step, (k,))


def _winner_at(trace, step, idx):
    """Which input of the window of output ``idx`` gets its gradient: read from the window's own
    breakdown (the terms of a max, the winner ``chosen``); a window whose largest value is shared
    is never asked."""
    st = trace.steps[step]
    key = layer_key(st.layer, "y")
    if layer_key(st.layer, "dx") not in trace.arrays:
        return None
    bd = breakdown(trace, key, idx, st)
    values = [t.value for t in bd.terms]
    if bd.combine != "max" or values.count(max(values)) > 1:
        return None             # a tie: which cell wins is a convention, not something to work out
    won = next(k for k, t in enumerate(bd.terms) if t.chosen)
    cells = [t.sources[0] for t in bd.terms]
    choices = tuple(f"{t.label} = {num(t.value)}" for t in bd.terms)
    dy = float(trace.arrays[layer_key(st.layer, "dy")][_full(trace.arrays[key], idx)])
    return Question("winner", step, layer_key(st.layer, "dx"), tuple(cells[won].index),
                    f"Layer {st.layer}: the window of output {_where(key, idx)} sends dy = {num(dy)} back. "
                    "Which input gets it?", (), choices, won, 0.0)


def _pick_at(at, part, tries=16):
    """A maker that tries ``tries`` random elements of the step's ``part`` with ``at``."""
    def make(trace, step, rng):
        key = layer_key(trace.steps[step].layer, part)
        for _ in range(tries):
            q = at(trace, step, _pick(rng, sample_shape(trace, key)))
            if q is not None:
                return q
        return None
    return make


def _make_winner(trace, step, rng):
    if layer_key(trace.steps[step].layer, "dx") not in trace.arrays:      # the first layer sends nothing back
        return None
    return _pick_at(_winner_at, "y")(trace, step, rng)


def _filter_map_at(trace, step, idx):
    st = trace.steps[step]
    W = trace.arrays[layer_key(st.layer, "W")]
    F, C = W.shape[:2]
    n = int(idx[0])
    choices = tuple(f"z map {k}" for k in range(F)) + (f"one part of every z map ({plural(C, 'input map')})",)
    return Question("filter_map", step, layer_key(st.layer, "z"), (0, n, 0, 0),
                    f"Layer {st.layer}: filter {n} has {plural(C, 'channel')}, one per input map. Which output map does "
                    "it make?", (), choices, n, 0.0, first=0)


def _make_filter_map(trace, step, rng):
    F = trace.arrays[layer_key(trace.steps[step].layer, "W")].shape[0]
    return _filter_map_at(trace, step, (int(rng.integers(0, F)),))


#: The choice that says no input entry is copied to the asked element (an inserted or a dropped place).
NOTHING_COPIED = "none of them: it is 0"


def _copied_at(part: str, source: str):
    """A resampling layer's question: which element of ``source`` is copied to element ``idx`` of
    ``part`` (``y`` from ``x`` forward, ``dx`` from ``dy`` backward), or none (a 0 put there). The
    right choice is the element's own one-term breakdown; the others are the places a learner who
    forgot the factor S, or which way it goes, would name."""
    def at(trace, step, idx):
        st = trace.steps[step]
        key = layer_key(st.layer, part)
        if key not in trace.arrays:
            return None
        bd = breakdown(trace, key, idx, st)
        if len(bd.terms) != 1:
            return None
        term = bd.terms[0]
        right = NOTHING_COPIED if term.sources[0] is None else term.label
        S = int(trace.spec["layers"][st.layer]["factor"])
        ch, i, j = (int(v) for v in idx)
        H, W = trace.arrays[layer_key(st.layer, source)].shape[-2:]
        places = ((i, j), (i // S, j // S), (i * S, j * S), (i // S + 1, j // S))
        choices = [f"{source}({ch},{a},{b})" for a, b in places if a < H and b < W] + [NOTHING_COPIED]
        choices = list(dict.fromkeys(choices if right in choices else [right, *choices]))
        if len(choices) < 2:
            return None
        return Question(_COPIED_KIND[part], step, key, _full(trace.arrays[key], idx),
                        f"Layer {st.layer} ({bd.equation}): which {source} is copied to {_where(key, idx)}?",
                        (), tuple(choices), choices.index(right), 0.0)
    return at


_COPIED_KIND = {"y": "copied", "dx": "copied_dx"}


def _make_copied_dx(trace, step, rng):
    if layer_key(trace.steps[step].layer, "dx") not in trace.arrays:      # the first layer sends nothing back
        return None
    return _pick_at(AT["copied_dx"], "dx")(trace, step, rng)


AT = {"dz1": _dz1_at, "sign": _sign_at, "z": _sum_at("z", "z"), "dW": _sum_at("dW", "dW"), "dx": _sum_at("dx", "dx"),
       "dw1": _dw1_at, "pool": _pool_at, "softmax": _softmax_at, "winner": _winner_at, "filter_map": _filter_map_at,
       "copied": _copied_at("y", "x"), "copied_dx": _copied_at("dx", "dy")}
MAKERS = {"dz1": _make_dz1, "sign": _make_sign, "z": _make_sum("z", "z"), "dW": _make_sum("dW", "dW"),
           "dx": _make_sum("dx", "dx"), "dw1": _make_dw1, "pool": _pick_at(_pool_at, "y"),
           "softmax": _make_softmax, "winner": _make_winner, "filter_map": _make_filter_map,
           "copied": _pick_at(AT["copied"], "y"), "copied_dx": _make_copied_dx}
