"""The lecture slides' loops for a convolution layer, forward and backward, and which line made an element.

The slides (“Deep Neural Networks: Convolutional Networks III”) write a conv layer as
plain loops: forward, a sum of weight × input products per output element; backward,
the same loops run in reverse order applying two rules to every product ``z += w·y``
of the forward pass::

    dL/dy += w · dL/dz        dL/dw += y · dL/dz

The loops here are written in the app's notation (:mod:`cnncore.notation`: input
``x``, counting from 0, stride ``S`` and padding ``P`` included). :func:`loop_lines`
gives the lines; :func:`highlight` says which lines produced one element and the
values of the loop indices there.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RULES", "loop_lines", "highlight", "Highlight"]

#: The slides' two rules, in their letters (y is a layer's input there).
RULES = ("dL/dy += w · dL/dz", "dL/dw += y · dL/dz")

_FORWARD = (
    "for r in 0 … Ho−1:                        # output row",
    "  for c in 0 … Wo−1:                      # output column",
    "    for n in 0 … F−1:                     # filter n makes output map n",
    "      z(n,r,c) = b(n)",
    "      for m in 0 … C−1:                   # input map",
    "        for i in 0 … K−1:",
    "          for j in 0 … K−1:",
    "            z(n,r,c) += w(m,n,i,j) · x(m, rS+i−P, cS+j−P)",
    "      y(n,r,c) = f(z(n,r,c))",
)

_BACKWARD = (
    "dx = 0;  dW = 0;  db = 0",
    "for r in Ho−1 … 0:                        # the forward loops, reversed",
    "  for c in Wo−1 … 0:",
    "    for n in F−1 … 0:",
    "      dz(n,r,c) = dy(n,r,c) · f′(z(n,r,c))",
    "      db(n) += dz(n,r,c)",
    "      for m in C−1 … 0:",
    "        for i in K−1 … 0:",
    "          for j in K−1 … 0:",
    "            dx(m, rS+i−P, cS+j−P) += w(m,n,i,j) · dz(n,r,c)    # dL/dy += w·dL/dz",
    "            dW(m,n,i,j) += dz(n,r,c) · x(m, rS+i−P, cS+j−P)    # dL/dw += y·dL/dz",
)


def loop_lines(kind: str) -> tuple[str, ...]:
    """The loops of a conv layer's ``"forward"`` or ``"backward"`` step (``ValueError`` otherwise)."""
    if kind == "forward":
        return _FORWARD
    if kind == "backward":
        return _BACKWARD
    raise ValueError(f"the slides give loops for the forward and backward step, not {kind!r}")


@dataclass(frozen=True)
class Highlight:
    """Lines (0-based, into :func:`loop_lines`) that produced an element, and the loop indices there."""
    lines: tuple
    words: str


def _fixed(**kv) -> str:
    return ", ".join(f"{k} = {v}" for k, v in kv.items())


def highlight(kind: str, part: str, index, spec: dict, in_shape: tuple, out_shape: tuple) -> Highlight | None:
    """Which lines of the ``kind`` loops made element ``index`` (no batch axis) of ``part``.

    ``spec`` is the conv layer's normalized spec, ``in_shape`` ``(C, H, W)`` and
    ``out_shape`` ``(F, Ho, Wo)``. None for a part the loops do not write.
    """
    (S, _), (P, _), (K, _) = spec["stride"], spec["padding"], spec["kernel"]
    C, F = in_shape[0], out_shape[0]
    index = tuple(int(k) for k in index)
    if kind == "forward" and part in ("z", "y"):
        n, r, c = index
        if part == "y":
            return Highlight((8,), f"{_fixed(r=r, c=c, n=n)}: y is f of the finished sum z({n},{r},{c}).")
        return Highlight((3, 7), f"{_fixed(r=r, c=c, n=n)} fixed; m, i, j run over all {C}×{K}×{K} = {C * K * K} "
                                 f"products, starting at input row {r}·{S}−{P} = {r * S - P}, column {c * S - P}.")
    if kind != "backward":
        return None
    if part == "dz":
        n, r, c = index
        return Highlight((4,), f"{_fixed(r=r, c=c, n=n)}: one product, dy times the slope of f at z.")
    if part == "db":
        (n,) = index
        Ho, Wo = out_shape[1:]
        return Highlight((5,), f"n = {n} fixed; r and c run over all {Ho}×{Wo} = {Ho * Wo} positions.")
    if part == "dW":
        n, m, i, j = index
        Ho, Wo = out_shape[1:]
        return Highlight((10,), f"{_fixed(n=n, m=m, i=i, j=j)} fixed; r and c run over all {Ho}×{Wo} = {Ho * Wo} "
                                "positions (rule 2: dL/dw += y · dL/dz, y being the input).")
    if part == "dx":
        m, rr, cc = index
        return Highlight((9,), f"m = {m}; every (r, c, n, i, j) with r·{S}+i−{P} = {rr} and c·{S}+j−{P} = {cc} "
                               f"adds to it, over all {F} filters (rule 1: dL/dy += w · dL/dz).")
    return None
