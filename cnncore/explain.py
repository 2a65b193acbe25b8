"""Per-element arithmetic: the sum behind any single number of a forward or backward pass.

Every function here takes one sample's arrays (no batch axis) and the layer's
hyperparameters, picks one output element, and returns a :class:`Breakdown`:
the general equation in the texts' notation, every term with its real numbers,
where each number came from (so a view can highlight it on its map), the
total of the terms and, when known, the value the kernels computed.

Conventions (the texts' notation, 0-based as in the CMU slides):

* filters are stored ``w[n, m, i, j]`` with shape ``(F, C, KH, KW)`` but written
  ``w(m, n, i, j)``: channel ``m`` of filter ``n`` (the slides' order);
* ``y(m, r, c)`` is input map ``m`` of the layer (``y(l−1)``), ``z`` the affine
  map, ``dz``/``dY``/``dW`` the gradients of the loss with respect to them;
* ``S`` is the stride and ``P`` the zero padding.

Window positions that fall in the zero padding are *kept* as zero terms (with
``Term.padding`` set) so the whole ``K×K`` window can be drawn; they add 0.

:func:`breakdown` dispatches on a :class:`cnncore.trace.Trace` key such as
``"L0.z"`` or ``"L2.dx"`` and fills in ``value`` from the trace's arrays.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from . import activations
from .shapes import pair

__all__ = [
    "Ref", "Term", "Breakdown", "breakdown",
    "conv_forward_terms", "conv_backward_input_terms", "conv_backward_weight_terms",
    "conv_backward_bias_terms",
    "activation_forward_terms", "activation_backward_terms",
    "maxpool_forward_terms", "maxpool_backward_terms",
    "avgpool_forward_terms", "avgpool_backward_terms",
    "flatten_forward_terms", "flatten_backward_terms",
    "dense_forward_terms", "dense_backward_input_terms", "dense_backward_weight_terms",
    "dense_backward_bias_terms",
    "softmax_terms", "loss_terms", "loss_gradient_terms", "update_terms", "custom",
]


@dataclass(frozen=True)
class Ref:
    """One element of one array: ``array`` is a role (``"x"``, ``"w"``…) or a trace key (``"L0.x"``)."""
    array: str
    index: tuple


@dataclass(frozen=True)
class Term:
    """One term of a breakdown: ``value`` is the product of ``factors``.

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


@dataclass
class Breakdown:
    """The arithmetic behind one element.

    ``total`` combines the terms (their sum, or their maximum when
    ``combine == "max"``); ``value`` is the element as the kernels computed it
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
        parts = []
        for t in terms[:limit]:
            parts.append("·".join(_num(f, digits) for f in t.factors))
        if len(terms) > limit:
            parts.append(f"… ({len(terms) - limit} more terms)")
        if skip_zero and len(terms) < len(self.terms):
            parts.append(f"({len(self.terms) - len(terms)} zero terms)")
        joiner = ", " if self.combine == "max" else " + "
        body = joiner.join(parts) if parts else "0"
        if self.combine == "max":
            body = f"max({body})"
        return f"{body} = {_num(self.total, digits)}"


def _num(v, digits=4) -> str:
    v = float(v)
    if v == 0:
        return "0"
    s = f"{v:.{digits}g}".replace("-", "−")
    return f"({s})" if v < 0 else s


def _mk_ref(keys, prefix, role, idx):
    return Ref(keys.get(role, role), tuple(prefix) + tuple(int(i) for i in idx))


def _finish(title, equation, target, terms, value, notes=(), combine="sum"):
    if combine == "max":
        total = max(t.value for t in terms)
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
    return _finish(title, equation, target, out, value, notes)


# ----------------------------------------------------------------------------------------- conv

CONV_FORWARD_EQ = "z(n,x,y) = Σ_m Σ_i Σ_j w(m,n,i,j) · y(m, xS+i−P, yS+j−P) + b(n)"
CONV_DX_EQ = "dY(m,x,y) = Σ_n Σ_(x′,y′) dz(n,x′,y′) · w(m,n, x−x′S+P, y−y′S+P)"
CONV_DW_EQ = "dW(m,n,i,j) = Σ_(x,y) dz(n,x,y) · y(m, xS+i−P, yS+j−P)"
CONV_DB_EQ = "db(n) = Σ_(x,y) dz(n,x,y)"


def conv_forward_terms(x, w, b, stride, padding, n, oy, ox, *, value=None, keys=None, prefix=()):
    """``z(n, oy, ox)`` of a convolution, term by term.

    ``x (C, H, W)``, ``w (F, C, KH, KW)``, ``b (F,)`` or ``None`` (no bias term). One
    term per input map ``m`` and filter offset ``(i, j)`` (padding positions kept as
    zero terms), then ``b(n)``.
    """
    keys = keys or {}
    C, H, W = x.shape
    _, _, KH, KW = w.shape
    SH, SW = pair(stride, "stride")
    PH, PW = pair(padding, "padding", minimum=0)
    terms, npad = [], 0
    for m in range(C):
        for i in range(KH):
            for j in range(KW):
                r, c = oy * SH + i - PH, ox * SW + j - PW
                wv = float(w[n, m, i, j])
                wref = _mk_ref(keys, prefix, "w", (n, m, i, j))
                label = f"w({m},{n},{i},{j}) · y({m},{r},{c})"
                if 0 <= r < H and 0 <= c < W:
                    xv = float(x[m, r, c])
                    terms.append(Term(label, (wv, xv), wv * xv,
                                      (wref, _mk_ref(keys, prefix, "x", (m, r, c)))))
                else:
                    npad += 1
                    terms.append(Term(label, (wv, 0.0), 0.0, (wref, None), padding=True,
                                      note="zero padding"))
    if b is not None:
        terms.append(Term(f"b({n})", (float(b[n]),), float(b[n]), (_mk_ref(keys, prefix, "b", (n,)),)))
    notes = [f"The filter's top-left corner sits at input row {oy * SH - PH}, column {ox * SW - PW} "
             f"(output position × stride {SH}, {SW} − padding {PH}, {PW})."]
    if npad:
        notes.append(f"{npad} of the {C * KH * KW} window positions lie in the zero padding; "
                     "they are listed as zero terms.")
    return _finish(f"Forward convolution: z({n},{oy},{ox})", CONV_FORWARD_EQ,
                   _mk_ref(keys, prefix, "z", (n, oy, ox)), terms, value, notes)


def conv_backward_input_terms(dz, w, stride, padding, input_hw, m, iy, ix, *, value=None,
                              keys=None, prefix=()):
    """``dY(m, iy, ix)``: one term per output position that saw this input, over every filter.

    ``dz (F, Ho, Wo)``, ``w (F, C, KH, KW)``, ``input_hw`` the unpadded ``(H, W)``.
    """
    keys = keys or {}
    F, Ho, Wo = dz.shape
    _, C, KH, KW = w.shape
    SH, SW = pair(stride, "stride")
    PH, PW = pair(padding, "padding", minimum=0)
    terms = []
    for n in range(F):
        for oy in range(Ho):
            i = iy - oy * SH + PH
            if not 0 <= i < KH:
                continue
            for ox in range(Wo):
                j = ix - ox * SW + PW
                if not 0 <= j < KW:
                    continue
                g, wv = float(dz[n, oy, ox]), float(w[n, m, i, j])
                terms.append(Term(f"dz({n},{oy},{ox}) · w({m},{n},{i},{j})", (g, wv), g * wv,
                                  (_mk_ref(keys, prefix, "dz", (n, oy, ox)),
                                   _mk_ref(keys, prefix, "w", (n, m, i, j)))))
    notes = [f"{len(terms) // max(F, 1)} output position(s) per filter had this input inside their "
             f"window; each links to it through one filter element, over all {F} filter(s)."]
    if not terms:
        notes = ["No window covered this input (the stride skipped it), so its gradient is 0."]
        terms = [Term("no window covers this input", (0.0,), 0.0, (None,))]
    return _finish(f"Backward to the input: dY({m},{iy},{ix})", CONV_DX_EQ,
                   _mk_ref(keys, prefix, "dx", (m, iy, ix)), terms, value, notes)


def conv_backward_weight_terms(dz, x, stride, padding, n, m, i, j, *, value=None, keys=None,
                               prefix=()):
    """``dW(m, n, i, j)`` (stored ``dw[n, m, i, j]``): one term per output position of map ``n``.

    ``dz (F, Ho, Wo)``, ``x (C, H, W)``. Terms whose input lies in the padding are zero.
    """
    keys = keys or {}
    _, Ho, Wo = dz.shape
    C, H, W = x.shape
    SH, SW = pair(stride, "stride")
    PH, PW = pair(padding, "padding", minimum=0)
    terms = []
    for oy in range(Ho):
        for ox in range(Wo):
            r, c = oy * SH + i - PH, ox * SW + j - PW
            g = float(dz[n, oy, ox])
            label = f"dz({n},{oy},{ox}) · y({m},{r},{c})"
            gref = _mk_ref(keys, prefix, "dz", (n, oy, ox))
            if 0 <= r < H and 0 <= c < W:
                xv = float(x[m, r, c])
                terms.append(Term(label, (g, xv), g * xv, (gref, _mk_ref(keys, prefix, "x", (m, r, c)))))
            else:
                terms.append(Term(label, (g, 0.0), 0.0, (gref, None), padding=True, note="zero padding"))
    notes = ["The filter element is shared by every window, so its gradient adds one term per "
             f"output position: {Ho}×{Wo} = {Ho * Wo} terms."]
    return _finish(f"Backward to a filter: dW({m},{n},{i},{j})", CONV_DW_EQ,
                   _mk_ref(keys, prefix, "dw", (n, m, i, j)), terms, value, notes)


def conv_backward_bias_terms(dz, n, *, value=None, keys=None, prefix=(), title="db"):
    """``db(n) = Σ dz(n, x, y)``; ``dz (F, Ho, Wo)``."""
    keys = keys or {}
    terms = [Term(f"dz({n},{oy},{ox})", (float(dz[n, oy, ox]),), float(dz[n, oy, ox]),
                  (_mk_ref(keys, prefix, "dz", (n, oy, ox)),))
             for oy in range(dz.shape[1]) for ox in range(dz.shape[2])]
    return _finish(f"Backward to a bias: db({n})", CONV_DB_EQ, _mk_ref(keys, prefix, "db", (n,)),
                   terms, value, ["The bias is added at every output position, so its gradient "
                                  "is the sum of the whole dz map."])


# ----------------------------------------------------------------------------------- activation

def activation_forward_terms(z, fn, index, *, value=None, keys=None, prefix=()):
    """``y = f(z)`` for one element of ``z`` (any shape)."""
    keys = keys or {}
    index = tuple(index)
    zv = np.asarray(z, dtype=np.float64)[index]
    yv = float(activations.apply(fn, np.array([zv]))[0])
    f, _ = activations.formula(fn)
    idx = ",".join(map(str, index))
    return _finish(f"Activation: y({idx}) = {fn}(z)", f"y = f(z),  {f}",
                   _mk_ref(keys, prefix, "y", index),
                   [Term(f"{fn}(z({idx}))", (float(zv),), yv, (_mk_ref(keys, prefix, "z", index),))],
                   value, [f"z({idx}) = {_num(zv)}, so f(z) = {_num(yv)}."])


def activation_backward_terms(dy, z, fn, index, *, value=None, keys=None, prefix=()):
    """``dz = dy · f'(z)`` for one element (any shape)."""
    keys = keys or {}
    index = tuple(index)
    zv = np.array([np.asarray(z, dtype=np.float64)[index]])
    d = float(activations.derivative(fn, zv, activations.apply(fn, zv.copy()))[0])
    g = float(np.asarray(dy)[index])
    _, fp = activations.formula(fn)
    idx = ",".join(map(str, index))
    return _finish(f"Through the activation: dz({idx})", f"dz = dy · f′(z),  {fp}",
                   _mk_ref(keys, prefix, "dz", index),
                   [Term(f"dy({idx}) · f′(z({idx}))", (g, d), g * d,
                         (_mk_ref(keys, prefix, "dy", index), _mk_ref(keys, prefix, "z", index)))],
                   value, [f"z = {_num(zv[0])}, so f′(z) = {_num(d)}."])


# ------------------------------------------------------------------------------------- pooling

def _windows_covering(H, W, KH, KW, SH, SW, r, c):
    Ho, Wo = (H - KH) // SH + 1, (W - KW) // SW + 1
    for oy in range(Ho):
        if not oy * SH <= r < oy * SH + KH:
            continue
        for ox in range(Wo):
            if ox * SW <= c < ox * SW + KW:
                yield oy, ox


def maxpool_forward_terms(x, size, stride, ch, oy, ox, *, value=None, keys=None, prefix=()):
    """``y(ch, oy, ox) = max`` of its window; every window element is a term, the winner ``chosen``.

    ``x (C, H, W)``. Ties go to the first element in row-major order (as the kernels do).
    """
    keys = keys or {}
    KH, KW = pair(size, "size")
    SH, SW = pair(stride if stride is not None else (KH, KW), "stride")
    win = x[ch, oy * SH:oy * SH + KH, ox * SW:ox * SW + KW]
    k = int(np.argmax(win))
    terms = []
    for a in range(KH):
        for bb in range(KW):
            r, c = oy * SH + a, ox * SW + bb
            v = float(x[ch, r, c])
            terms.append(Term(f"y({ch},{r},{c})", (v,), v, (_mk_ref(keys, prefix, "x", (ch, r, c)),),
                              chosen=(a * KW + bb == k)))
    wr, wc = oy * SH + k // KW, ox * SW + k % KW
    return _finish(f"Max pooling: y({ch},{oy},{ox})", "y(m,x,y) = max over the window of y(l−1,m,·,·)",
                   _mk_ref(keys, prefix, "y", (ch, oy, ox)), terms, value,
                   [f"The window starts at row {oy * SH}, column {ox * SW}; the winner is "
                    f"y({ch},{wr},{wc}) = {_num(x[ch, wr, wc])}, and its position is remembered "
                    "(pidx) for the backward pass."], combine="max")


def maxpool_backward_terms(dy, argmax, input_hw, size, stride, ch, iy, ix, *, value=None,
                           keys=None, prefix=()):
    """``dx(ch, iy, ix)``: ``+=`` the ``dy`` of every window whose winner (``argmax``) is this pixel.

    ``dy, argmax (C, Ho, Wo)``; windows that contain the pixel but chose another get a 0 factor.
    """
    keys = keys or {}
    H, W = input_hw
    KH, KW = pair(size, "size")
    SH, SW = pair(stride if stride is not None else (KH, KW), "stride")
    flat = iy * W + ix
    terms = []
    for oy, ox in _windows_covering(H, W, KH, KW, SH, SW, iy, ix):
        won = int(argmax[ch, oy, ox]) == flat
        g = float(dy[ch, oy, ox])
        wr, wc = divmod(int(argmax[ch, oy, ox]), W)
        terms.append(Term(f"dy({ch},{oy},{ox}) · [winner]", (g, 1.0 if won else 0.0),
                          g if won else 0.0, (_mk_ref(keys, prefix, "dy", (ch, oy, ox)), None),
                          chosen=won,
                          note="this pixel won the window" if won else f"the window chose ({wr},{wc})"))
    won = sum(t.chosen for t in terms)
    notes = [f"{len(terms)} window(s) contain this pixel; it won {won} of them."
             + (" Gradients add up (+=) where overlapping windows chose it." if won > 1 else "")]
    if not terms:
        terms = [Term("no window covers this pixel", (0.0,), 0.0, (None,))]
    return _finish(f"Max pooling backward: dx({ch},{iy},{ix})",
                   "dx(m,k,l) += dy(m,x,y) if (k,l) = pidx(m,x,y), else 0",
                   _mk_ref(keys, prefix, "dx", (ch, iy, ix)), terms, value, notes)


def avgpool_forward_terms(x, size, stride, ch, oy, ox, *, value=None, keys=None, prefix=()):
    """``y(ch, oy, ox) = (1/K²) Σ`` window; ``x (C, H, W)``."""
    keys = keys or {}
    KH, KW = pair(size, "size")
    SH, SW = pair(stride if stride is not None else (KH, KW), "stride")
    share = 1.0 / (KH * KW)
    terms = []
    for a in range(KH):
        for bb in range(KW):
            r, c = oy * SH + a, ox * SW + bb
            v = float(x[ch, r, c])
            terms.append(Term(f"y({ch},{r},{c}) · 1/{KH * KW}", (v, share), v * share,
                              (_mk_ref(keys, prefix, "x", (ch, r, c)), None)))
    return _finish(f"Mean pooling: y({ch},{oy},{ox})", "y(m,x,y) = (1/K²) Σ_window y(l−1,m,·,·)",
                   _mk_ref(keys, prefix, "y", (ch, oy, ox)), terms, value,
                   [f"Each of the {KH * KW} window elements contributes a 1/{KH * KW} share."])


def avgpool_backward_terms(dy, input_hw, size, stride, ch, iy, ix, *, value=None, keys=None,
                           prefix=()):
    """``dx(ch, iy, ix) = Σ (1/K²)·dy`` over every window containing the pixel; ``dy (C, Ho, Wo)``."""
    keys = keys or {}
    H, W = input_hw
    KH, KW = pair(size, "size")
    SH, SW = pair(stride if stride is not None else (KH, KW), "stride")
    share = 1.0 / (KH * KW)
    terms = [Term(f"dy({ch},{oy},{ox}) · 1/{KH * KW}", (float(dy[ch, oy, ox]), share),
                  float(dy[ch, oy, ox]) * share, (_mk_ref(keys, prefix, "dy", (ch, oy, ox)), None))
             for oy, ox in _windows_covering(H, W, KH, KW, SH, SW, iy, ix)]
    notes = [f"{len(terms)} window(s) contain this pixel; each passes back a 1/{KH * KW} share "
             "of its gradient (+= where windows overlap)."]
    if not terms:
        terms = [Term("no window covers this pixel", (0.0,), 0.0, (None,))]
    return _finish(f"Mean pooling backward: dx({ch},{iy},{ix})", "dx(m,k,l) += (1/K²) · dy(m,x,y)",
                   _mk_ref(keys, prefix, "dx", (ch, iy, ix)), terms, value, notes)


# ---------------------------------------------------------------------------- flatten and dense

def flatten_forward_terms(x, k, *, value=None, keys=None, prefix=()):
    """Entry ``k`` of the flattened vector is one element of ``x (C, H, W)`` (row-major)."""
    keys = keys or {}
    src = np.unravel_index(k, x.shape)
    v = float(x[src])
    return _finish(f"Flatten: y({k})", "y(k) = y(m, r, c) with k = (m·H + r)·W + c",
                   _mk_ref(keys, prefix, "y", (k,)),
                   [Term(f"y{tuple(int(s) for s in src)}", (v,), v, (_mk_ref(keys, prefix, "x", src),))],
                   value, ["Flattening only re-labels numbers: the maps are read row by row, "
                           "map after map."])


def flatten_backward_terms(dy, x_shape, m, r, c, *, value=None, keys=None, prefix=()):
    """``dx(m, r, c)`` is the gradient of the flat entry it became; ``dy (K,)``."""
    keys = keys or {}
    k = int(np.ravel_multi_index((m, r, c), x_shape))
    v = float(dy[k])
    return _finish(f"Flatten backward: dx({m},{r},{c})", "dx(m, r, c) = dy(k),  k = (m·H + r)·W + c",
                   _mk_ref(keys, prefix, "dx", (m, r, c)),
                   [Term(f"dy({k})", (v,), v, (_mk_ref(keys, prefix, "dy", (k,)),))], value,
                   ["The backward pass folds the flat gradient back into maps of the same shape."])


def dense_forward_terms(x, w, b, k, *, value=None, keys=None, prefix=()):
    """``z(k) = Σ_j w(k, j)·x(j) + b(k)``; ``x (D,)``, ``w (K, D)``, ``b (K,)``."""
    keys = keys or {}
    terms = [Term(f"w({k},{j}) · x({j})", (float(w[k, j]), float(x[j])), float(w[k, j]) * float(x[j]),
                  (_mk_ref(keys, prefix, "w", (k, j)), _mk_ref(keys, prefix, "x", (j,))))
             for j in range(x.shape[0])]
    terms.append(Term(f"b({k})", (float(b[k]),), float(b[k]), (_mk_ref(keys, prefix, "b", (k,)),)))
    return _finish(f"Dense layer: z({k})", "z(k) = Σ_j w(k,j) · x(j) + b(k)",
                   _mk_ref(keys, prefix, "z", (k,)), terms, value,
                   [f"Every one of the {x.shape[0]} inputs is multiplied by its own weight."])


def dense_backward_input_terms(dz, w, j, *, value=None, keys=None, prefix=()):
    """``dx(j) = Σ_k dz(k)·w(k, j)``; ``dz (K,)``, ``w (K, D)``."""
    keys = keys or {}
    terms = [Term(f"dz({k}) · w({k},{j})", (float(dz[k]), float(w[k, j])), float(dz[k]) * float(w[k, j]),
                  (_mk_ref(keys, prefix, "dz", (k,)), _mk_ref(keys, prefix, "w", (k, j))))
             for k in range(dz.shape[0])]
    return _finish(f"Dense backward to the input: dx({j})", "dx(j) = Σ_k dz(k) · w(k,j)",
                   _mk_ref(keys, prefix, "dx", (j,)), terms, value,
                   ["The input fed every unit, so its gradient collects one term from each."])


def dense_backward_weight_terms(dz, x, k, j, *, value=None, keys=None, prefix=()):
    """``dW(k, j) = dz(k)·x(j)`` (one term)."""
    keys = keys or {}
    return _finish(f"Dense backward to a weight: dW({k},{j})", "dW(k,j) = dz(k) · x(j)",
                   _mk_ref(keys, prefix, "dw", (k, j)),
                   [Term(f"dz({k}) · x({j})", (float(dz[k]), float(x[j])), float(dz[k]) * float(x[j]),
                         (_mk_ref(keys, prefix, "dz", (k,)), _mk_ref(keys, prefix, "x", (j,))))],
                   value, ["A dense weight is used once, so its gradient is a single product."])


def dense_backward_bias_terms(dz, k, *, value=None, keys=None, prefix=()):
    """``db(k) = dz(k)``."""
    keys = keys or {}
    return _finish(f"Dense backward to a bias: db({k})", "db(k) = dz(k)", _mk_ref(keys, prefix, "db", (k,)),
                   [Term(f"dz({k})", (float(dz[k]),), float(dz[k]), (_mk_ref(keys, prefix, "dz", (k,)),))],
                   value)


# ---------------------------------------------------------------------------------------- loss

def softmax_terms(z, k, *, value=None, keys=None, prefix=()):
    """``p(k) = e^{z(k) − max z} / Σ_j e^{z(j) − max z}`` as one product; ``z (K,)``."""
    keys = keys or {}
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    s = math.fsum(e)
    return _finish(f"Softmax: p({k})", "p(k) = e^z(k) / Σ_j e^z(j)", _mk_ref(keys, prefix, "probs", (k,)),
                   [Term(f"e^z({k}) · 1/Σ e^z", (float(e[k]), 1.0 / s), float(e[k]) / s,
                         (_mk_ref(keys, prefix, "z", (k,)), None))], value,
                   ["The largest logit is subtracted first; that changes no probability but keeps "
                    "the exponentials from overflowing."])


def loss_terms(probs, label, *, value=None, keys=None, prefix=()):
    """Cross-entropy ``L = −log p(label)``; ``probs (K,)``."""
    keys = keys or {}
    p = float(probs[label])
    return _finish("Cross-entropy loss L", "L = −log p(label)", _mk_ref(keys, prefix, "loss", ()),
                   [Term(f"−log p({label})", (p,), -math.log(max(p, 1e-300)),
                         (_mk_ref(keys, prefix, "probs", (label,)),))], value,
                   [f"Only the probability given to the true class ({label}) enters the loss."])


def loss_gradient_terms(probs, label, k, *, value=None, keys=None, prefix=()):
    """``dz(k) = p(k) − [k == label]`` for softmax followed by cross-entropy."""
    keys = keys or {}
    p = float(probs[k])
    hot = 1.0 if k == label else 0.0
    return _finish(f"Loss gradient: dz({k})", "dz(k) = p(k) − onehot(k)", _mk_ref(keys, prefix, "dz", (k,)),
                   [Term(f"p({k})", (p,), p, (_mk_ref(keys, prefix, "probs", (k,)),)),
                    Term(f"−onehot({k})", (-hot,), -hot, (None,))], value,
                   ["Softmax and cross-entropy together have this simple gradient: the predicted "
                    "probability minus 1 for the true class, minus 0 for the others."])


def update_terms(w, dw, lr, index, *, value=None, keys=None, prefix=()):
    """Plain gradient descent on one parameter: ``w_new = w − α·dW``."""
    keys = keys or {}
    index = tuple(index)
    wv, g = float(np.asarray(w)[index]), float(np.asarray(dw)[index])
    idx = ",".join(map(str, index))
    return _finish(f"Update: new w({idx})", "w_new = w − α · ∂L/∂w", _mk_ref(keys, prefix, "w_new", index),
                   [Term(f"w({idx})", (wv,), wv, (_mk_ref(keys, prefix, "w", index),)),
                    Term(f"−α · dW({idx})", (-float(lr), g), -float(lr) * g,
                         (None, _mk_ref(keys, prefix, "dw", index)))], value,
                   [f"The learning rate α = {_num(lr)} scales the step against the gradient."])


# ------------------------------------------------------------------------------- trace dispatch

_PARAM_SUFFIXES = ("W", "b", "dW", "db")


def _batched(key: str) -> bool:
    return key not in ("loss", "architecture") and key.rsplit(".", 1)[-1] not in _PARAM_SUFFIXES


def _layer_keys(i: int) -> dict:
    L = f"L{i}."
    return {"x": L + "x", "y": L + "y", "z": L + "z", "dz": L + "dz", "dy": L + "dy", "dx": L + "dx",
            "w": L + "W", "b": L + "b", "dw": L + "dW", "db": L + "db", "argmax": L + "argmax",
            "probs": "probs", "loss": "loss", "w_new": L + "W"}


def _with_batch_refs(bd: Breakdown, arrays: dict) -> Breakdown:
    """Prepend the batch index 0 to every ref into a batched trace array."""
    def fix(ref):
        if ref is None or ref.array not in arrays:
            return ref
        arr = arrays[ref.array]
        if _batched(ref.array) and len(ref.index) == arr.ndim - 1:
            return Ref(ref.array, (0,) + tuple(ref.index))
        return ref
    bd.terms = [dataclasses.replace(t, sources=tuple(fix(s) for s in t.sources)) for t in bd.terms]
    bd.target = fix(bd.target)
    return bd


def _plain(title, key, index, value, note):
    return Breakdown(title, "", Ref(key, tuple(index)),
                     [Term(key, (float(value),), float(value), (Ref(key, tuple(index)),))],
                     float(value), float(value), "sum", [note])


def breakdown(trace, key: str, index, step=None) -> Breakdown:
    """The arithmetic behind ``trace.arrays[key][index]``.

    ``index`` may include the batch axis of 1 or leave it out. ``step`` (a
    :class:`cnncore.trace.Step`) only matters for weights: in an ``"update"``
    step a weight element is explained as ``w − α·dW``. Every ref in the result
    indexes the trace's own arrays (batch axis included). Raises ``KeyError``
    for a key the trace does not hold and ``IndexError`` for an index outside it.
    """
    A = trace.arrays
    if key not in A:
        raise KeyError(f"the trace has no array {key!r}")
    arr = A[key]
    index = tuple(int(i) for i in np.atleast_1d(index)) if np.ndim(arr) else ()
    if _batched(key) and len(index) == arr.ndim:
        index = index[1:]
    elif _batched(key) and len(index) != arr.ndim - 1:
        raise IndexError(f"{key} has shape {arr.shape}; index {index} does not fit")
    full = ((0,) + index) if _batched(key) else index
    for i, s in zip(full, arr.shape):
        if not 0 <= i < s:
            raise IndexError(f"index {index} is outside {key} with shape {arr.shape}")
    bd = _dispatch(trace, key, index, step)
    if key.endswith(".argmax"):
        # the element is a position, not a number the terms add up to
        W = A[key.replace("argmax", "x")].shape[-1]
        r, c = divmod(int(arr[full]), W)
        bd.value = None
        bd.notes.append(f"Here argmax = {int(arr[full])} = row {r} · {W} + column {c}.")
    elif getattr(step, "kind", None) == "update" and key.rsplit(".", 1)[-1] in ("W", "b"):
        # the element shown is the updated parameter, which the trace does not store:
        # the step itself, done in the parameters' own precision
        grad = A[key.replace(".W", ".dW").replace(".b", ".db")]
        bd.value = float(arr[full] - arr.dtype.type(trace.lr) * grad[full])
    else:
        bd.value = float(arr[full])
    return _with_batch_refs(bd, A)


def _dispatch(trace, key, index, step):
    A = trace.arrays
    layers = trace.spec["layers"]
    last = len(layers) - 1
    if key in ("probs", "loss", "label", "input", "architecture"):
        logits = A[f"L{last}.y"][0]
        probs, label = A["probs"][0], int(A["label"][0])
        keys = {"z": f"L{last}.y", "probs": "probs", "loss": "loss"}
        if key == "probs":
            return softmax_terms(logits, index[0], keys=keys)
        if key == "loss":
            return loss_terms(probs, label, keys=keys)
        if key == "label":
            return _plain("The true label", key, index, A["label"][0], "The digit the image shows.")
        return _plain("An input pixel", key, index, A[key][(0,) + index],
                      "A pixel of the image (ink 0…1); nothing computed it.")
    name, part = key.split(".", 1)
    i = int(name[1:])
    layer = layers[i]
    t = layer["type"]
    L = f"L{i}."
    keys = _layer_keys(i)
    g = lambda k: A[L + k][0]  # noqa: E731  one sample of a batched array
    if part == "x":
        if i == 0:
            return _plain("An input pixel", key, index, A[key][(0,) + index],
                          "A pixel of the image (ink 0…1); nothing computed it.")
        bd = _dispatch(trace, f"L{i - 1}.y", index, step)
        bd.notes.append(f"Layer {i}'s input is layer {i - 1}'s output.")
        return bd
    if part in ("W", "b"):
        if step is not None and getattr(step, "kind", None) == "update":
            return update_terms(A[L + part], A[L + "d" + part], trace.lr, index,
                                keys={"w": L + part, "dw": L + "d" + part, "w_new": L + part})
        return _plain("A learned parameter", key, index, A[key][index],
                      "A weight or bias: training sets it; nothing in this pass computed it.")
    if t == "conv":
        S, P, f = layer["stride"], layer["padding"], layer["activation"]
        if part == "z":
            return conv_forward_terms(g("x"), A[L + "W"], A[L + "b"], S, P, *index, keys=keys)
        if part == "y":
            return activation_forward_terms(g("z"), f, index, keys=keys)
        if part == "dz":
            return activation_backward_terms(g("dy"), g("z"), f, index, keys=keys)
        if part == "dx":
            return conv_backward_input_terms(g("dz"), A[L + "W"], S, P, g("x").shape[1:], *index, keys=keys)
        if part == "dW":
            n, m, ki, kj = index
            return conv_backward_weight_terms(g("dz"), g("x"), S, P, n, m, ki, kj, keys=keys)
        if part == "db":
            return conv_backward_bias_terms(g("dz"), index[0], keys=keys)
    if t == "dense":
        f = layer["activation"]
        if part == "z":
            return dense_forward_terms(g("x"), A[L + "W"], A[L + "b"], index[0], keys=keys)
        if part == "y":
            return activation_forward_terms(g("z"), f, index, keys=keys)
        if part == "dz":
            return activation_backward_terms(g("dy"), g("z"), f, index, keys=keys)
        if part == "dx":
            return dense_backward_input_terms(g("dz"), A[L + "W"], index[0], keys=keys)
        if part == "dW":
            return dense_backward_weight_terms(g("dz"), g("x"), *index, keys=keys)
        if part == "db":
            return dense_backward_bias_terms(g("dz"), index[0], keys=keys)
    if t in ("maxpool", "avgpool"):
        size, S = layer["size"], layer["stride"]
        if part in ("y", "argmax"):
            if t == "maxpool":
                bd = maxpool_forward_terms(g("x"), size, S, *index, keys=keys)
                if part == "argmax":
                    bd.notes.append("argmax holds the winner's flat position row·W + column in its map.")
                return bd
            return avgpool_forward_terms(g("x"), size, S, *index, keys=keys)
        if part == "dx":
            hw = g("x").shape[1:]
            if t == "maxpool":
                return maxpool_backward_terms(g("dy"), g("argmax"), hw, size, S, *index, keys=keys)
            return avgpool_backward_terms(g("dy"), hw, size, S, *index, keys=keys)
    if t == "flatten":
        if part == "y":
            return flatten_forward_terms(g("x"), index[0], keys=keys)
        if part == "dx":
            return flatten_backward_terms(g("dy"), g("x").shape, *index, keys=keys)
    if part == "dy":
        if i == last:
            keys = {"probs": "probs", "dz": L + "dy"}
            bd = loss_gradient_terms(A["probs"][0], int(A["label"][0]), index[0], keys=keys)
            bd.notes.append("This gradient of the loss with respect to the logits starts the backward pass.")
            return bd
        bd = _dispatch(trace, f"L{i + 1}.dx", index, step)
        bd.notes.append(f"The gradient arriving at layer {i}'s output is what layer {i + 1} sent back.")
        return bd
    raise KeyError(f"no breakdown for {key!r} in a {t} layer")
