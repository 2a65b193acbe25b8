"""Average (mean) pooling: ``y`` is the mean of each window; backward spreads ``dy/(KH·KW)`` over it."""
from __future__ import annotations

import numpy as np

from .. import kernels
from .._dispatch import _kernels
from .._threads import threads_for
from ..plans import PoolPlan, _expect
from ..plurals import agrees, plural
from ..pseudocode import MEANPOOL_LOOPS
from ..shapes import pair
from ..terms import Term, finish, mk_ref, windows_covering
from .base import StepText, Teaching, shape_text
from .pooling import Pool
from .words import pair_text, window_fields

__all__ = ["AvgPool", "AvgPoolPlan", "avgpool_forward_terms", "avgpool_backward_terms"]


class AvgPool(Pool):
    """``y(m, r, c) = 1/(KH·KW) Σ`` window; backward: each window member gets ``dy/(KH·KW)``."""

    type = "avgpool"
    title = "Average pooling"
    fields = window_fields("mean")
    quiz_tags = {"forward": ("avgpool backward",), "backward": ("avgpool backward",)}
    teaching = Teaching(predict={"forward": ("pool",), "backward": ("dx",)}, loops=MEANPOOL_LOOPS,
                        examples=("pooling",))

    @classmethod
    def forward_step(cls, spec, s_in, s_out, is_last):
        kh, kw = spec["size"]
        eq = (f"y(m,r,c) = 1/({kh}·{kw}) · Σ_i Σ_j x(m, rS+i, cS+j)   "
              f"[window {kh}×{kw}, S = {pair_text(spec['stride'])}]")
        ex = (f"Every {kh}×{kw} window of each map is replaced by the mean of its values, shrinking "
              f"{shape_text(s_in)} to {s_out[1]}×{s_out[2]}. There are no weights here.")
        return StepText(eq, ex, ("x", "y"))

    @classmethod
    def backward_step(cls, spec, s_in, s_out, has_dx):
        kh, kw = spec["size"]
        eq = f"dx(m, rS+i, cS+j) += dy(m,r,c) / ({kh}·{kw})"
        ex = (f"Every input in a window contributed 1/{kh * kw} of its mean, so each output's gradient is "
              "shared out evenly over its window (added up where windows overlap).")
        return StepText(eq, ex, ("dy",) + (("dx",) if has_dx else ()))

    @classmethod
    def explain(cls, spec, part, index, arrays, keys):
        size, S = spec["size"], spec["stride"]
        if part == "y":
            return avgpool_forward_terms(arrays("x"), size, S, *index, keys=keys)
        if part == "dx":
            return avgpool_backward_terms(arrays("dy"), arrays("x").shape[1:], size, S, *index, keys=keys)
        return None

    @classmethod
    def torch_modules(cls, spec, in_shape):
        return (f"nn.AvgPool2d({cls.torch_window(spec)})",)

    @classmethod
    def onnx_nodes(cls, spec, in_shape, graph, x, params):
        return graph.node("AveragePool", [x], **cls.onnx_window(spec))

    def _make_plan(self, batch):
        return AvgPoolPlan(batch, self.in_shape, self.size, self.stride, self.dtype)

    def forward(self, x, keep=True):
        plan = self._plan_for(x) if keep else None
        y = plan.forward(x) if plan is not None else kernels.avgpool2d_forward(x, self.size, self.stride)
        if keep:
            self.x, self.y = x, y
        return y

    def _planned_backward(self, plan, dy):
        return plan.backward(dy)

    def _checked_backward(self, dy):
        return kernels.avgpool2d_backward(dy, self.x.shape, self.size, self.stride)


# ----------------------------------------------------------------------------- the plan

class AvgPoolPlan(PoolPlan):
    """Mean pooling for one batch size: ``forward(x) -> y``, ``backward(dy) -> dx``."""

    def forward(self, x):
        _expect(x, self.x_shape, self.dtype, "x")
        y = self._y_buffer()
        (KH, KW), (SH, SW) = self.size, self.stride
        _kernels.avgpool_forward(x, y, KH, KW, SH, SW, threads_for(self._work))
        return y

    def backward(self, dy):
        _expect(dy, self.y_shape, self.dtype, "dy")
        dx = self._dx_zeroed()
        (KH, KW), (SH, SW) = self.size, self.stride
        _kernels.avgpool_backward(dy, dx, KH, KW, SH, SW, threads_for(self._work))
        return dx


# ----------------------------------------------------------------------------- per element

def _share(KH: int, KW: int) -> str:
    """A window element's share as the equations write it: 1/K² for a square window, else 1/(KH·KW)."""
    return "1/K²" if KH == KW else "1/(KH·KW)"


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
            terms.append(Term(f"x({ch},{r},{c}) · 1/{KH * KW}", (v, share), v * share,
                              (mk_ref(keys, prefix, "x", (ch, r, c)), None)))
    return finish(f"Mean pooling: y({ch},{oy},{ox})", f"y(m,r,c) = ({_share(KH, KW)}) Σ_i Σ_j x(m, rS+i, cS+j)",
                  mk_ref(keys, prefix, "y", (ch, oy, ox)), terms, value,
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
                  float(dy[ch, oy, ox]) * share, (mk_ref(keys, prefix, "dy", (ch, oy, ox)), None))
             for oy, ox in windows_covering(H, W, KH, KW, SH, SW, iy, ix)]
    notes = [f"{plural(len(terms), 'window')} {agrees(len(terms), 'contains', 'contain')} this pixel; "
             f"{agrees(len(terms), 'it passes', 'each passes')} back a 1/{KH * KW} share of its gradient "
             "(+= where windows overlap)."]
    if not terms:
        terms = [Term("no window covers this pixel", (0.0,), 0.0, (None,))]
    return finish(f"Mean pooling backward: dx({ch},{iy},{ix})", f"dx(m, rS+i, cS+j) += ({_share(KH, KW)}) · dy(m,r,c)",
                  mk_ref(keys, prefix, "dx", (ch, iy, ix)), terms, value, notes)
