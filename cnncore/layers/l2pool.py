"""L2-norm pooling (named in text ``000``): ``y`` is the Euclidean norm of each window,
``y = sqrt(Σ_window x²)``; backward ``dx += dy · x / y`` for every member of the window
(``+=`` where windows overlap) and 0 where ``y = 0`` (there the norm has no slope to follow).
The same as PyTorch's ``lp_pool2d(x, 2, K, S)`` wherever that is defined."""
from __future__ import annotations

import numpy as np

from .. import kernels
from .._dispatch import _kernels
from .._threads import threads_for
from ..plans import PoolPlan, _expect
from ..plurals import agrees, plural
from ..pseudocode import L2POOL_LOOPS
from ..shapes import pair
from ..terms import Term, finish, mk_ref, num, windows_covering
from .base import StepText, Teaching, shape_text
from .pooling import Pool
from .words import pair_text, window_fields

__all__ = ["L2Pool", "L2PoolPlan", "l2pool_forward_terms", "l2pool_backward_terms", "ZERO_WINDOW_NOTE"]

#: What the app says about a window whose norm is 0.
ZERO_WINDOW_NOTE = ("Where a whole window is 0, y = 0 and x/y has no value (the norm has a sharp point "
                    "there), so this app sets the gradient of that window's inputs to 0.")


class L2Pool(Pool):
    """``y(m, r, c) = sqrt(Σ_i Σ_j x(m, rS+i, cS+j)²)``; backward ``dx += dy·x/y`` (0 where ``y = 0``)."""

    type = "l2pool"
    title = "L2-norm pooling"
    fields = window_fields("Euclidean norm (square root of the sum of squares)")
    quiz_tags = {"forward": ("l2pool",), "backward": ("l2pool",)}
    teaching = Teaching(predict={"forward": ("pool",), "backward": ("dx",)}, loops=L2POOL_LOOPS,
                        examples=("pooling",))

    @classmethod
    def build_note(cls, spec):
        return "the gradient is 0 where a whole window is 0"

    @classmethod
    def forward_step(cls, spec, s_in, s_out, is_last):
        kh, kw = spec["size"]
        eq = (f"y(m,r,c) = sqrt(Σ_i Σ_j x(m, rS+i, cS+j)²)   "
              f"[window {kh}×{kw}, S = {pair_text(spec['stride'])}]")
        ex = (f"Every {kh}×{kw} window of each map is replaced by its length as a vector: the square root of the "
              f"sum of its squares, shrinking {shape_text(s_in)} to {s_out[1]}×{s_out[2]}. Large entries count "
              "most, but unlike max pooling every entry counts a little; there are no weights here.")
        return StepText(eq, ex, ("x", "y"))

    @classmethod
    def backward_step(cls, spec, s_in, s_out, has_dx):
        eq = "dx(m, rS+i, cS+j) += dy(m,r,c) · x(m, rS+i, cS+j) / y(m,r,c);  0 where y = 0"
        ex = ("The slope of a norm with respect to one member is that member divided by the norm, so each input "
              "gets dy times x/y from every window it is in (added up where windows overlap). " + ZERO_WINDOW_NOTE)
        return StepText(eq, ex, ("dy", "x", "y") + (("dx",) if has_dx else ()))

    @classmethod
    def explain(cls, spec, part, index, arrays, keys):
        size, S = spec["size"], spec["stride"]
        if part == "y":
            return l2pool_forward_terms(arrays("x"), size, S, *index, keys=keys)
        if part == "dx":
            return l2pool_backward_terms(arrays("dy"), arrays("x"), arrays("y"), size, S, *index, keys=keys)
        return None

    @classmethod
    def torch_modules(cls, spec, in_shape):
        return (f"nn.LPPool2d(2, {cls.torch_window(spec)})",)

    @classmethod
    def onnx_nodes(cls, spec, in_shape, graph, x, params):
        return graph.node("LpPool", [x], p=2, **cls.onnx_window(spec))

    def _make_plan(self, batch):
        return L2PoolPlan(batch, self.in_shape, self.size, self.stride, self.dtype)

    def forward(self, x, keep=True):
        plan = self._plan_for(x) if keep else None
        y = plan.forward(x) if plan is not None else kernels.l2pool2d_forward(x, self.size, self.stride)
        if keep:
            self.x, self.y = x, y
        return y

    def _backward_reads(self):
        return self.x, self.y

    def _planned_backward(self, plan, dy):
        return plan.backward(dy, self.x, self.y)

    def _checked_backward(self, dy):
        return kernels.l2pool2d_backward(dy, self.x, self.y, self.size, self.stride)


# ----------------------------------------------------------------------------- the plan

class L2PoolPlan(PoolPlan):
    """L2-norm pooling for one batch size: ``forward(x) -> y`` with ``y = sqrt(Σ_window x²)``;
    ``backward(dy) -> dx`` with ``dx += dy · x / y`` over each window (0 where ``y = 0``),
    from the ``x`` and ``y`` of the last forward pass (the caller must not change ``x``
    in between) or those given."""

    def __init__(self, batch, in_shape, size, stride=None, dtype=np.float32):
        super().__init__(batch, in_shape, size, stride, dtype)
        self._x = None

    def forward(self, x):
        _expect(x, self.x_shape, self.dtype, "x")
        y = self._y_buffer()
        (KH, KW), (SH, SW) = self.size, self.stride
        _kernels.l2pool_forward(x, y, KH, KW, SH, SW, threads_for(self._work))
        self._x = x
        return y

    def backward(self, dy, x=None, y=None):
        _expect(dy, self.y_shape, self.dtype, "dy")
        if x is None or y is None:
            if self._x is None:
                raise ValueError("backward needs the x and y of a forward pass first")
            x, y = self._x, self._y
        else:
            _expect(x, self.x_shape, self.dtype, "x")
            _expect(y, self.y_shape, self.dtype, "y")
        dx = self._dx_zeroed()
        (KH, KW), (SH, SW) = self.size, self.stride
        _kernels.l2pool_backward(dy, x, y, dx, KH, KW, SH, SW, threads_for(self._work))
        return dx


# ----------------------------------------------------------------------------- per element

def l2pool_forward_terms(x, size, stride, ch, oy, ox, *, value=None, keys=None, prefix=()):
    """``y(ch, oy, ox) = sqrt(Σ x²)`` over its window: one term ``x·x`` per member, combined as a norm."""
    keys = keys or {}
    KH, KW = pair(size, "size")
    SH, SW = pair(stride, "stride")
    terms = []
    for a in range(KH):
        for b in range(KW):
            r, c = oy * SH + a, ox * SW + b
            v = float(x[ch, r, c])
            src = mk_ref(keys, prefix, "x", (ch, r, c))
            terms.append(Term(f"x({ch},{r},{c})²", (v, v), v * v, (src, src)))
    return finish(f"L2-norm pooling: y({ch},{oy},{ox})", "y(m,r,c) = sqrt(Σ_i Σ_j x(m, rS+i, cS+j)²)",
                  mk_ref(keys, prefix, "y", (ch, oy, ox)), terms, value,
                  [f"The window starts at row {oy * SH}, column {ox * SW}; its {KH * KW} entries are squared, "
                   "added, and the square root of the sum is the output."], combine="norm")


def l2pool_backward_terms(dy, x, y, size, stride, ch, iy, ix, *, value=None, keys=None, prefix=()):
    """``dx(ch, iy, ix) = Σ dy·x/y`` over every window holding the pixel (0 for a window with ``y = 0``)."""
    keys = keys or {}
    H, W = x.shape[1:]
    KH, KW = pair(size, "size")
    SH, SW = pair(stride, "stride")
    xv = float(x[ch, iy, ix])
    xref = mk_ref(keys, prefix, "x", (ch, iy, ix))
    terms, zero = [], 0
    for oy, ox in windows_covering(H, W, KH, KW, SH, SW, iy, ix):
        g, yv = float(dy[ch, oy, ox]), float(y[ch, oy, ox])
        refs = (mk_ref(keys, prefix, "dy", (ch, oy, ox)), xref, mk_ref(keys, prefix, "y", (ch, oy, ox)))
        if yv > 0:
            terms.append(Term(f"dy({ch},{oy},{ox}) · x({ch},{iy},{ix}) / y({ch},{oy},{ox})",
                              (g, xv, 1.0 / yv), g * xv / yv, refs))
        else:
            zero += 1
            terms.append(Term(f"dy({ch},{oy},{ox}) · [y = 0]", (g, 0.0), 0.0, refs, note="y = 0: no gradient"))
    notes = [f"{plural(len(terms), 'window')} {agrees(len(terms), 'contains', 'contain')} this pixel; "
             f"{agrees(len(terms), 'it passes', 'each passes')} back dy times x/y = {num(xv)}/y "
             "(+= where windows overlap)."]
    if zero:
        notes.append(ZERO_WINDOW_NOTE)
    if not terms:
        terms = [Term("no window covers this pixel", (0.0,), 0.0, (None,))]
    return finish(f"L2-norm pooling backward: dx({ch},{iy},{ix})",
                  "dx(m, rS+i, cS+j) += dy(m,r,c) · x(m, rS+i, cS+j) / y(m,r,c)  (0 where y = 0)",
                  mk_ref(keys, prefix, "dx", (ch, iy, ix)), terms, value, notes)
