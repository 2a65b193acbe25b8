"""The pieces of a per-element breakdown: :class:`Ref`, :class:`Term`, :class:`Breakdown`.

Every layer type builds the breakdowns of its own elements from these
(``cnncore/layers/*.py``); :mod:`cnncore.explain` finds the right one for a
trace key. Conventions and notation: see :mod:`cnncore.explain`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import activations

__all__ = ["Ref", "Term", "Breakdown", "custom", "num", "operand", "bracketed", "mk_ref", "finish", "windows_covering",
           "activation_forward_terms", "activation_backward_terms", "zero_up_to_rounding", "zeros_as_by_hand",
           "ROUNDING_NOTE", "digits_of", "rounded"]

#: A sum is 0 up to rounding when it is at most this share of its largest term: decimals such as 0.1
#: have no exact binary form, so ``0.1 − 0.3 + 0.2`` gives 2.8e−17 in floats where a hand gives 0.
_ROUNDING = 1e-12
#: What the app says beside such a sum.
ROUNDING_NOTE = "0 up to rounding: decimals such as 0.1 have no exact binary form"


def zero_up_to_rounding(v: float, scale: float) -> bool:
    """Whether ``v`` is not 0 but is 0 up to the rounding of a sum whose largest term is ``scale``."""
    return v != 0 and abs(v) <= _ROUNDING * scale


def zeros_as_by_hand(a: np.ndarray, scale: float) -> np.ndarray:
    """``a`` with the sums that are 0 up to rounding (:func:`zero_up_to_rounding`, terms at most
    ``scale``) made 0, as a hand derivation has them: where a sign decides what follows (ReLU's
    slope at a z of 2.8e−17 is 1, at the 0 it stands for 0), the worked examples follow the text."""
    out = np.array(a, dtype=np.float64, copy=True)
    out[(out != 0) & (np.abs(out) <= _ROUNDING * scale)] = 0.0
    return out


@dataclass(frozen=True)
class Ref:
    """One element of one array: ``array`` is a role (``"x"``, ``"w"``…) or a trace key (``"L0.x"``)."""
    array: str
    index: tuple


@dataclass(frozen=True)
class Term:
    """One term of a breakdown: ``value`` is the product of ``factors``, or, where ``apply`` names a
    function (``"−log"``, ``"sigmoid"``), that function of their product.

    ``sources[k]`` says where ``factors[k]`` came from (``None`` for a constant
    such as ``1/K²`` or a padded zero). ``padding`` marks a window position
    outside the input; ``chosen`` marks a max-pool winner.
    """
    label: str
    factors: tuple
    value: float
    sources: tuple
    padding: bool = False
    chosen: bool = False
    note: str = ""
    apply: str = ""

    def written(self, digits: int = 4, sep: str = "·", fmt=None) -> str:
        """The term with its numbers: ``0.5·(−2)``, ``−0.12`` alone, or ``relu(−0.12)`` where it applies
        a function (each factor written by ``fmt``, :func:`num` to ``digits`` unless given; the factors of
        a product :func:`bracketed`)."""
        texts = [fmt(f) if fmt else num(f, digits) for f in self.factors]
        text = sep.join(texts if len(texts) == 1 else map(bracketed, texts))
        return f"{self.apply}({text})" if self.apply else text


@dataclass
class Breakdown:
    """The arithmetic behind one element.

    ``total`` combines the terms: their sum, their maximum when ``combine == "max"``,
    or the square root of their sum when ``combine == "norm"`` (L2-norm pooling,
    whose terms are the squares); ``value`` is the element as the kernels computed it
    (``None`` when not supplied). ``error`` is ``|total − value|``.
    """
    title: str
    equation: str
    target: Ref
    terms: list
    total: float
    value: float | None = None
    combine: str = "sum"
    notes: list = field(default_factory=list)

    @property
    def error(self) -> float | None:
        return None if self.value is None else abs(self.total - self.value)

    def sources(self) -> dict:
        """``array -> set of indices`` of every element this one was computed from."""
        out: dict = {}
        for t in self.terms:
            for s in t.sources:
                if s is not None:
                    out.setdefault(s.array, set()).add(tuple(s.index))
        return out

    def written_out(self, digits: int = 4, limit: int = 12, skip_zero: bool = False) -> str:
        """The sum with its numbers, e.g. ``0.5·1 + (−0.25)·2 + 0.1 = 0.35``.

        ``skip_zero`` leaves out terms that are exactly 0 (and says how many).
        """
        terms = [t for t in self.terms if t.value != 0] if skip_zero else self.terms
        parts = [t.written(digits) for t in terms[:limit]]
        if self.combine != "max":                   # 0.1 + (−0.3): a term after the plus is an operand
            parts[1:] = map(bracketed, parts[1:])
        if len(terms) > limit:
            more = len(terms) - limit
            parts.append(f"… ({more} more term{'s' if more != 1 else ''})")
        if skip_zero and len(terms) < len(self.terms):
            zeros = len(self.terms) - len(terms)
            parts.append(f"({zeros} zero term{'s' if zeros != 1 else ''})")
        joiner = ", " if self.combine == "max" else " + "
        body = joiner.join(parts) if parts else "0"
        if self.combine == "max":
            body = f"max({body})"
        elif self.combine == "norm":
            body = f"sqrt({body})"
        return f"{body} = {num(self.shown_total(), digits)}"

    def by_hand(self, digits: int = 4) -> float | None:
        """What a learner gets from the written sum (:meth:`written_out`): each term's factors as written,
        multiplied, then added; None where that is not a plain sum of products (a maximum, a norm, a
        function of a product)."""
        if self.combine != "sum" or any(t.apply for t in self.terms):
            return None
        return math.fsum(math.prod(rounded(f, digits) for f in t.factors) for t in self.terms)

    def rounding_said(self, digits: int = 4) -> str:
        """Why adding the written numbers by hand gives another last digit than the written total, where it
        does ("" where it does not): they are rounded, the total adds them in full."""
        hand = self.by_hand(digits)
        if hand is None or num(hand, digits) == num(self.shown_total(), digits) or self.rounds_to_zero(self.total):
            return ""
        return (f"Each number here is rounded to {digits} significant digits and the total adds them unrounded: "
                f"added as written they give {num(hand, digits)}.")

    def shown_total(self) -> float:
        """``total``, or 0 when it is 0 up to the rounding of its terms (``0.1 − 0.3 + 0.2`` gives
        ``2.8e−17`` in floats): a sum that is zero is printed as 0."""
        return 0.0 if self.rounds_to_zero(self.total) else self.total

    def rounds_to_zero(self, v: float) -> bool:
        """Whether ``v`` (the total or the kernels' value) is 0 up to the rounding of these terms."""
        return zero_up_to_rounding(v, max((abs(t.value) for t in self.terms), default=0.0))


def num(v, digits=4) -> str:
    """``v`` to ``digits`` significant digits with the minus sign of the equations, as a sentence or the
    value of an equation writes it: ``−0.25`` (inside an equation, after an operator: :func:`operand`)."""
    v = float(v)
    if v == 0:
        return "0"
    return digits_of(v, digits).replace("-", "−")


def operand(v, digits=4) -> str:
    """``v`` as :func:`num` writes it, where an operator comes before it: ``3·(−0.25)``, ``1 + (−0.25)``."""
    return bracketed(num(v, digits))


def bracketed(text: str) -> str:
    """A written number as an operand: in brackets where it is negative (``(−0.25)``), so that an
    equation never reads ``3·−0.25``. The one rule for brackets around a number."""
    return f"({text})" if text.startswith(("−", "-")) else text


def digits_of(v, digits: int = 4) -> str:
    """``v`` to ``digits`` significant digits: as short as it is where that is exact (``0.25``, ``1``),
    else with every digit kept (``0.1600`` for 0.15995, never ``0.16``, which would read as exact; but
    ``1235``, not ``1235.``). A float32 value is exact where the digits give that float32 back: a
    float32 0.1 is the 0.1 it was given."""
    v = float(v)
    short = f"{v:.{digits}g}"
    if float(short) == v or (float(np.float32(v)) == v and np.float32(short) == np.float32(v)):
        return short                    # (a float32's 0.1 is the 0.1 it was given: the traces are float32)
    return f"{v:#.{digits}g}".rstrip(".").replace(".e", "e")


def rounded(v: float, digits: int = 4) -> float:
    """``v`` as written to ``digits`` significant digits."""
    return float(f"{float(v):.{digits}g}")


def mk_ref(keys, prefix, role, idx):
    return Ref(keys.get(role, role), tuple(prefix) + tuple(int(i) for i in idx))


def finish(title, equation, target, terms, value, notes=(), combine="sum"):
    if combine == "max":
        total = max(t.value for t in terms)
    elif combine == "norm":
        total = math.sqrt(math.fsum(t.value for t in terms))
    else:
        total = math.fsum(t.value for t in terms)
    return Breakdown(title, equation, target, list(terms), float(total),
                     None if value is None else float(value), combine, list(notes))


def custom(title: str, equation: str, target: Ref, terms, value=None, notes=()) -> Breakdown:
    """A breakdown from ``(label, factors, sources)`` triples; each term's value is its product."""
    out = []
    for label, factors, sources in terms:
        factors = tuple(float(f) for f in factors)
        out.append(Term(label, factors, math.prod(factors), tuple(sources)))
    return finish(title, equation, target, out, value, notes)


# ----------------------------------------------------------------------------------- activation

def activation_forward_terms(z, fn, index, *, value=None, keys=None, prefix=()):
    """``y = f(z)`` for one element of ``z`` (any shape)."""
    keys = keys or {}
    index = tuple(index)
    zv = np.asarray(z, dtype=np.float64)[index]
    yv = float(activations.apply(fn, np.array([zv]))[0])
    f, _ = activations.formula(fn)
    idx = ",".join(map(str, index))
    return finish(f"Activation: y({idx}) = {fn}(z)", f"y = f(z),  {f}",
                  mk_ref(keys, prefix, "y", index),
                  [Term(f"{fn}(z({idx}))", (float(zv),), yv, (mk_ref(keys, prefix, "z", index),), apply=fn)],
                  value, [f"z({idx}) = {num(zv)}, so f(z) = {num(yv)}."])


def activation_backward_terms(dy, z, fn, index, *, value=None, keys=None, prefix=()):
    """``dz = dy · f'(z)`` for one element (any shape)."""
    keys = keys or {}
    index = tuple(index)
    zv = np.array([np.asarray(z, dtype=np.float64)[index]])
    d = float(activations.derivative(fn, zv, activations.apply(fn, zv.copy()))[0])
    g = float(np.asarray(dy)[index])
    _, fp = activations.formula(fn)
    idx = ",".join(map(str, index))
    return finish(f"Through the activation: dz({idx})", f"dz = dy · f′(z),  {fp}",
                  mk_ref(keys, prefix, "dz", index),
                  [Term(f"dy({idx}) · f′(z({idx}))", (g, d), g * d,
                        (mk_ref(keys, prefix, "dy", index), mk_ref(keys, prefix, "z", index)))],
                  value, [f"z = {num(zv[0])}, so f′(z) = {num(d)}."])


# ------------------------------------------------------------------------------------- pooling

def windows_covering(H, W, KH, KW, SH, SW, r, c):
    Ho, Wo = (H - KH) // SH + 1, (W - KW) // SW + 1
    for oy in range(Ho):
        if not oy * SH <= r < oy * SH + KH:
            continue
        for ox in range(Wo):
            if ox * SW <= c < ox * SW + KW:
                yield oy, ox


