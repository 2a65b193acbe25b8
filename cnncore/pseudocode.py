"""The lecture slides' loops, written in the app's notation, and which line made an element.

The slides (“Deep Neural Networks: Convolutional Networks III”) write each layer as plain
loops: a convolution forward (also with downsampling, the window stepping ``S`` input
positions), backward by two rules applied to every product ``z += w·x`` of the forward
pass, in reverse order::

    dL/dx += w · dL/dz        dL/dw += x · dL/dz

(the slides write ``y`` for the layer's input, here ``x``), the same derivatives in
vector notation (``dzpad``, ``Wflip``, the filter derivatives), and max and mean pooling
forward and backward, where ``+=`` collects the gradient of an input that overlapping
windows share. Each :class:`Listing` here follows one of them in the app's notation
(:mod:`cnncore.notation`: input ``x``, counting from 0, stride ``S`` and padding ``P``
included); its ``lit`` function says which lines made one element and the loop indices
there. A layer type declares its listings (``Teaching.loops``); :func:`listings_for`
gives the ones shown for one layer's step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .notation import written_index

__all__ = ["RULES", "ZERO_BASED", "Listing", "Highlight", "listings_for", "CONV_LOOPS", "MAXPOOL_LOOPS",
           "MEANPOOL_LOOPS", "L2POOL_LOOPS"]

#: The slides' two rules, in the legend's letters (the slides write y for the layer's input).
RULES = ("dL/dx += w · dL/dz", "dL/dw += x · dL/dz")

#: What every listing says about counting.
ZERO_BASED = ("Indices count from 0 here; the slides' loops count from 1, so their x + x′ − 1 is rS + i − P "
              "here, and their y(l−1) is the input x.")


@dataclass(frozen=True)
class Highlight:
    """Lines (0-based, into :attr:`Listing.lines`) that produced an element, and the loop indices there."""
    lines: tuple
    words: str


def _always(spec) -> bool:
    return True


@dataclass(frozen=True)
class Listing:
    """One of the slides' loops: ``title``, the ``lines`` (no wrapping), a ``note`` on what differs
    from the slides, ``lit(part, index, spec, s_in, s_out)`` -> :class:`Highlight` or None for an
    element (``index`` without the batch axis; filters stored ``[n, m, i, j]``), and ``shown(spec)``,
    whether the listing fits a layer."""
    title: str
    lines: tuple
    note: str
    lit: Callable
    shown: Callable = _always


def listings_for(teaching, kind: str, spec: dict) -> tuple:
    """The listings a layer type (its :class:`cnncore.layers.Teaching`) shows on its ``kind`` step."""
    return tuple(lst for lst in teaching.loops.get(kind, ()) if lst.shown(spec))


def _fixed(**kv) -> str:
    return ", ".join(f"{k} = {v}" for k, v in kv.items())


def _square(spec, key="kernel") -> tuple:
    return tuple(spec[key]), tuple(spec["stride"]), tuple(spec.get("padding", (0, 0)))


# ------------------------------------------------------------------------------ convolution

_CONV_FORWARD = (
    "for r in 0 … Ho−1:                          # output row",
    "  for c in 0 … Wo−1:                        # output column",
    "    for n in 0 … F−1:                       # filter n makes output map n",
    "      z(n,r,c) = b(n)",
    "      for m in 0 … C−1:                     # input map",
    "        for i in 0 … K−1:",
    "          for j in 0 … K−1:",
    "            if 0 ≤ rS+i−P < H and 0 ≤ cS+j−P < W:      # else a padding zero: adds 0",
    "              z(n,r,c) += w(m,n,i,j) · x(m, rS+i−P, cS+j−P)",
    "      y(n,r,c) = f(z(n,r,c))",
)

_CONV_BACKWARD = (
    "dx = 0;  dW = 0;  db = 0",
    "for r in Ho−1 … 0:                          # the forward loops, reversed",
    "  for c in Wo−1 … 0:",
    "    for n in F−1 … 0:",
    "      dz(n,r,c) = dy(n,r,c) · f′(z(n,r,c))",
    "      db(n) += dz(n,r,c)",
    "      for m in C−1 … 0:",
    "        for i in K−1 … 0:",
    "          for j in K−1 … 0:",
    "            if 0 ≤ rS+i−P < H and 0 ≤ cS+j−P < W:      # else a padding zero: skipped",
    "              dx(m, rS+i−P, cS+j−P) += w(m,n,i,j) · dz(n,r,c)    # dL/dx += w·dL/dz",
    "              dW(m,n,i,j) += dz(n,r,c) · x(m, rS+i−P, cS+j−P)    # dL/dw += x·dL/dz",
)

_CONV_STRIDED = (
    "r = 0",
    "for u in 0, S, 2S, … while u ≤ H+2P−K:      # the window's top row in pad_P(x)",
    "  c = 0",
    "  for v in 0, S, 2S, … while v ≤ W+2P−K:    # its left column",
    "    segment = pad_P(x)(:, u … u+K−1, v … v+K−1)            # C×K×K",
    "    for n in 0 … F−1:",
    "      z(n,r,c) = Σ w(:,n,:,:) ⊙ segment + b(n)             # tensor inner product",
    "      y(n,r,c) = f(z(n,r,c))",
    "    c += 1",
    "  r += 1",
)

_CONV_DX_VECTOR = (
    "d = dilate(dz)                              # Hd×Wd; d = dz at stride 1",
    "dzpad = zeros(F, H+2P+K−1, W+2P+K−1)        # Hd + 2(K−1) rows when the stride fits exactly",
    "for n in 0 … F−1:",
    "  for m in 0 … C−1:                         # channels swapped, each plane turned",
    "    Wflip(m,n,:,:) = rot180(w(m,n,:,:))",
    "  dzpad(n, K−1 … K−2+Hd, K−1 … K−2+Wd) = d(n,:,:)          # d in the middle",
    "for m in 0 … C−1:",
    "  for r in 0 … H+2P−1:                      # every row of the padded input",
    "    for c in 0 … W+2P−1:",
    "      segment = dzpad(:, r … r+K−1, c … c+K−1)            # F×K×K",
    "      dxpad(m,r,c) = Σ Wflip(m,:,:,:) ⊙ segment            # tensor inner product",
    "dx = unpad_P(dxpad)                         # the forward padding's border deleted",
)

_CONV_DW_VECTOR = (
    "d = dilate(dz)                              # Hd×Wd; d = dz at stride 1",
    "xpad = pad_P(x)                             # padded as in the forward pass",
    "for n in 0 … F−1:",
    "  for i in 0 … K−1:",
    "    for j in 0 … K−1:",
    "      for m in 0 … C−1:",
    "        dW(m,n,i,j) = Σ d(n,:,:) ⊙ xpad(m, i … i+Hd−1, j … j+Wd−1)      # dot product",
    "  db(n) = Σ dz(n,:,:)",
)


def _conv_forward_lit(part, index, spec, s_in, s_out):
    (S, _), (P, _) = spec["stride"], spec["padding"]
    K, C = spec["kernel"][0], s_in[0]
    if part not in ("z", "y"):
        return None
    n, r, c = index
    if part == "y":
        return Highlight((9,), f"{_fixed(r=r, c=c, n=n)}: y is f of the finished sum z({n},{r},{c}).")
    return Highlight((3, 8), f"{_fixed(r=r, c=c, n=n)} fixed; m, i, j run over all {C}×{K}×{K} = {C * K * K} "
                             f"products, starting at input row {r}·{S}−{P} = {r * S - P}, column {c * S - P} (rows "
                             "and columns outside the input are padding zeros, skipped).")


def _conv_backward_lit(part, index, spec, s_in, s_out):
    (S, _), (P, _) = spec["stride"], spec["padding"]
    F, (Ho, Wo) = s_out[0], s_out[1:]
    if part == "dz":
        n, r, c = index
        return Highlight((4,), f"{_fixed(r=r, c=c, n=n)}: one product, dy times the slope of f at z.")
    if part == "db":
        (n,) = index
        return Highlight((5,), f"n = {n} fixed; r and c run over all {Ho}×{Wo} = {Ho * Wo} positions.")
    if part == "dW":
        m, n, i, j = written_index(index)
        return Highlight((11,), f"{_fixed(m=m, n=n, i=i, j=j)} fixed; r and c run over all {Ho}×{Wo} = {Ho * Wo} "
                                "positions (rule 2: dL/dw += x · dL/dz).")
    if part == "dx":
        m, rr, cc = index
        return Highlight((10,), f"m = {m}; every (r, c, n, i, j) with r·{S}+i−{P} = {rr} and c·{S}+j−{P} = {cc} "
                                f"adds to it, over {'the one filter' if F == 1 else f'all {F} filters'} "
                                "(rule 1: dL/dx += w · dL/dz).")
    return None


def _conv_strided_lit(part, index, spec, s_in, s_out):
    (S, _), K, C = spec["stride"], spec["kernel"][0], s_in[0]
    if part not in ("z", "y"):
        return None
    n, r, c = index
    if part == "y":
        return Highlight((7,), f"{_fixed(r=r, c=c, n=n)}: y is f of z({n},{r},{c}).")
    return Highlight((1, 3, 4, 6), f"u = {r}·{S} = {r * S}, v = {c}·{S} = {c * S} give output row {r}, column {c}; "
                                   f"filter {n} meets the {C}×{K}×{K} segment there.")


def _conv_dx_vector_lit(part, index, spec, s_in, s_out):
    if part != "dx":
        return None
    (P, _), F, K = spec["padding"], s_out[0], spec["kernel"][0]
    m, rr, cc = index
    return Highlight((10, 11), f"m = {m}, r = {rr}+{P} = {rr + P}, c = {cc + P} in the padded input: Wflip(m) "
                               f"meets the {F}×{K}×{K} segment of dzpad there; unpad_P then puts it at dx({m},{rr},{cc}).")


def _conv_dw_vector_lit(part, index, spec, s_in, s_out):
    (S, _), (Ho, Wo) = spec["stride"], s_out[1:]
    Hd, Wd = (Ho - 1) * S + 1, (Wo - 1) * S + 1
    if part == "db":
        return Highlight((7,), f"n = {index[0]}: the sum of its {Ho}×{Wo} dz map.")
    if part != "dW":
        return None
    m, n, i, j = written_index(index)
    return Highlight((6,), f"{_fixed(m=m, n=n, i=i, j=j)}: the {Hd}×{Wd} map d(n) laid on xpad(m) with its corner "
                           f"at row {i}, column {j}; its {Ho * Wo} dz values meet one input each, the zeros between "
                           "them add nothing.")


def _strided(spec) -> bool:
    return max(spec["stride"]) > 1


CONV_LOOPS = {
    "forward": (
        Listing("The slides' loops: a convolution, forward", _CONV_FORWARD, ZERO_BASED, _conv_forward_lit),
        Listing("The slides' convolution with downsampling: the window steps S positions (their x = 1:S:…)",
                _CONV_STRIDED, "Here u = rS and v = cS: the window's top-left corner in the padded input, "
                "while r and c count the outputs. " + ZERO_BASED, _conv_strided_lit, _strided),
    ),
    "backward": (
        Listing("The slides' loops: backward, applying their two rules to every product of the forward pass: "
                f"{RULES[0]}, {RULES[1]}", _CONV_BACKWARD, ZERO_BASED, _conv_backward_lit),
        Listing("The slides' vector notation: the input's derivatives (dzpad, Wflip)", _CONV_DX_VECTOR,
                "The slides' version has stride 1 and no padding; here dz is dilated first and the padding's "
                "border deleted last. " + ZERO_BASED, _conv_dx_vector_lit),
        Listing("The slides' vector notation: the filters' derivatives", _CONV_DW_VECTOR,
                "As the slides assume, dz is upsampled (dilated) when the stride is more than 1 and x is "
                "zero-padded when the forward pass padded it. " + ZERO_BASED, _conv_dw_vector_lit),
    ),
}


# ------------------------------------------------------------------------------ pooling

def _window_lines(combine: str) -> tuple:
    return (
        "for m in 0 … C−1:                           # each map on its own",
        "  r = 0",
        "  for u in 0, S, 2S, … while u ≤ H−K:       # the window's top row (the slides' x = 1:S:…)",
        "    c = 0",
        "    for v in 0, S, 2S, … while v ≤ W−K:     # its left column",
        *combine,
        "      c += 1",
        "    r += 1",
    )


_MAX_FORWARD = _window_lines((
    "      pidx(m,r,c) = where the largest x(m, u … u+K−1, v … v+K−1) is",
    "      y(m,r,c) = x(m, pidx(m,r,c))",
))
_MEAN_FORWARD = _window_lines((
    "      y(m,r,c) = mean of x(m, u … u+K−1, v … v+K−1)         # Σ / K²",
))
_L2_FORWARD = _window_lines((
    "      y(m,r,c) = sqrt(Σ x(m, u … u+K−1, v … v+K−1)²)",
))

_MAX_BACKWARD = (
    "dx = 0",
    "for m in 0 … C−1:",
    "  for r in 0 … Ho−1:",
    "    for c in 0 … Wo−1:",
    "      dx(m, pidx(m,r,c)) += dy(m,r,c)      # += : overlapping windows may pick the same input",
)


def _to_window_inputs(body: tuple) -> tuple:
    """Backward loops that visit every input (i, j) of every window (m, r, c), then ``body``."""
    return (
        "dx = 0",
        "for m in 0 … C−1:",
        "  for r in 0 … Ho−1:",
        "    for c in 0 … Wo−1:",
        "      for i in 0 … K−1:",
        "        for j in 0 … K−1:",
        *body,
    )


_MEAN_BACKWARD = _to_window_inputs((
    "          dx(m, rS+i, cS+j) += dy(m,r,c) / K²      # += : windows may overlap",
))
_L2_BACKWARD = _to_window_inputs((
    "          if y(m,r,c) > 0:                 # else the norm has no slope: nothing added",
    "            dx(m, rS+i, cS+j) += dy(m,r,c) · x(m, rS+i, cS+j) / y(m,r,c)",
))


def _window_lit(result_lines: tuple, pidx_line=None):
    def lit(part, index, spec, s_in, s_out):
        (KH, KW), (SH, SW) = spec["size"], spec["stride"]
        if part == "argmax" and pidx_line is not None:
            m, r, c = index
            return Highlight((pidx_line,), f"{_fixed(m=m, r=r, c=c)}: pidx keeps where the largest of the "
                                           f"{KH}×{KW} window starting at row {r * SH}, column {c * SW} was "
                                           "(ties: the first in reading order).")
        if part != "y":
            return None
        m, r, c = index
        return Highlight((2, 4) + result_lines, f"{_fixed(m=m, r=r, c=c)}: u = {r}·{SH} = {r * SH}, v = {c}·{SW} = "
                                                f"{c * SW}; the window is rows {r * SH}…{r * SH + KH - 1}, columns "
                                                f"{c * SW}…{c * SW + KW - 1}.")
    return lit


def _covering(spec, s_in, s_out, rr, cc) -> str:
    """Which windows hold input (rr, cc), in words."""
    (KH, KW), (SH, SW) = spec["size"], spec["stride"]
    Ho, Wo = s_out[1:]
    rows = [r for r in range(Ho) if r * SH <= rr < r * SH + KH]
    cols = [c for c in range(Wo) if c * SW <= cc < c * SW + KW]
    if not rows or not cols:
        return "no window holds this input (the stride passed it by), so it stays 0"
    n = len(rows) * len(cols)
    where = f"r in {rows[0]}…{rows[-1]}, c in {cols[0]}…{cols[-1]}" if n > 1 else f"r = {rows[0]}, c = {cols[0]}"
    return f"{n} window{'s' if n > 1 else ''} hold{'' if n > 1 else 's'} it ({where})"


def _backward_lit(line: int, what: str):
    def lit(part, index, spec, s_in, s_out):
        if part != "dx":
            return None
        m, rr, cc = index
        return Highlight((line,), f"m = {m}, input row {rr}, column {cc}: {_covering(spec, s_in, s_out, rr, cc)}; "
                                  f"{what}")
    return lit


_POOL_NOTE = ("With S = K the windows tile the map (the slides' pooling with downsampling); with S < K they "
              "overlap. pidx is what the trace calls argmax (a flat position, row·W + column). " + ZERO_BASED)

MAXPOOL_LOOPS = {
    "forward": (Listing("The slides' loops: max pooling, forward", _MAX_FORWARD, _POOL_NOTE,
                        _window_lit((5, 6), pidx_line=5)),),
    "backward": (Listing("The slides' loops: max pooling, backward", _MAX_BACKWARD,
                         "“+=” because overlapping windows may choose the same input, and each choice passes its dy "
                         "back; the slides say so too. " + ZERO_BASED,
                         _backward_lit(4, "each one whose pidx points here adds its dy, the others add nothing.")),),
}
MEANPOOL_LOOPS = {
    "forward": (Listing("The slides' loops: mean pooling, forward", _MEAN_FORWARD, _POOL_NOTE, _window_lit((5,))),),
    "backward": (Listing("The slides' loops: mean pooling, backward", _MEAN_BACKWARD,
                         "“+=” because adjacent windows may overlap and share an input. " + ZERO_BASED,
                         _backward_lit(6, "each adds its dy / K².")),),
}
L2POOL_LOOPS = {
    "forward": (Listing("Loops in the slides' style: L2-norm pooling, forward (the slides give none for it)",
                        _L2_FORWARD, _POOL_NOTE, _window_lit((5,))),),
    "backward": (Listing("Loops in the slides' style: L2-norm pooling, backward", _L2_BACKWARD,
                         "“+=” where windows overlap, as in the slides' pooling loops. " + ZERO_BASED,
                         _backward_lit(7, "each adds its dy times x/y.")),),
}
