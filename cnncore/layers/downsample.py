"""Downsampling (the ``002`` slides' downsampling layer): every map keeps rows and columns
``0, S, 2S, …`` and drops the ``S − 1`` between them. ``x (N, C, H, W)`` ->
``y (N, C, ⌊(H − 1)/S⌋ + 1, ⌊(W − 1)/S⌋ + 1)``; backward puts ``dy`` back in those places
and zeros elsewhere. It is the stride of a strided convolution or pooling, as a layer of its own."""
from __future__ import annotations

import numpy as np

from ..terms import Term, finish, mk_ref
from .base import StepText, Teaching, shape_text
from .resampling import Resample, keep_every, put_every

__all__ = ["Downsample", "downsample_forward_terms", "downsample_backward_terms"]


class Downsample(Resample):
    """``y(m, r, c) = x(m, rS, cS)``; ``dx(m, rS, cS) = dy(m, r, c)``, 0 elsewhere."""

    type = "downsample"
    title = "Downsampling"
    fields = (Resample.factor_field("Keep every S-th row and column (S = this factor), drop the rest"),)
    quiz_tags = {"forward": ("downsample",), "backward": ("downsample",)}
    teaching = Teaching(predict={"forward": ("copied",), "backward": ("copied_dx",)})

    @classmethod
    def output_shape(cls, spec, in_shape):
        cls.needs_maps(spec, in_shape)
        C, H, W = in_shape
        S = spec["factor"]
        return C, (H - 1) // S + 1, (W - 1) // S + 1

    @classmethod
    def forward_step(cls, spec, s_in, s_out, is_last):
        S = spec["factor"]
        ex = (f"Each map keeps rows and columns 0, {S}, {2 * S}, … and drops the others, so "
              f"{shape_text(s_in)} become {s_out[1]}×{s_out[2]}. A stride of {S} in a convolution or pooling "
              "does the same thing; there are no weights here.")
        return StepText(f"y(m,r,c) = x(m, rS, cS)   [S = {S}]", ex, ("x", "y"))

    @classmethod
    def backward_step(cls, spec, s_in, s_out, has_dx):
        ex = ("A kept entry passes its gradient back to the place it came from. The dropped entries never "
              "reached the output, so their gradient is 0.")
        return StepText("dx(m, rS, cS) = dy(m,r,c);  every other dx is 0", ex,
                        ("dy",) + (("dx",) if has_dx else ()))

    @classmethod
    def explain(cls, spec, part, index, arrays, keys):
        if part == "y":
            return downsample_forward_terms(arrays("x"), spec["factor"], *index, keys=keys)
        if part == "dx":
            return downsample_backward_terms(arrays("dy"), spec["factor"], *index, keys=keys)
        return None

    torch_helper = '''class KeepEvery(nn.Module):
    """Downsampling: every map keeps rows and columns 0, S, 2S, ... and drops the rest."""

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x[:, :, ::self.factor, ::self.factor]
'''

    @classmethod
    def torch_modules(cls, spec, in_shape):
        return (f"KeepEvery({spec['factor']})",)

    @classmethod
    def onnx_nodes(cls, spec, in_shape, graph, x, params):
        S, H, W = spec["factor"], in_shape[1], in_shape[2]     # rows and columns 0, S, 2S, … up to H, W
        ints = [graph.constant(what, np.array(v, dtype=np.int64))
                for what, v in (("starts", [0, 0]), ("ends", [H, W]), ("axes", [2, 3]), ("steps", [S, S]))]
        return graph.node("Slice", [x, *ints])

    def forward(self, x, keep=True):
        y = keep_every(x, self.factor)
        if keep:
            self.x, self.y = x, y
        return y

    def backward(self, dy, need_dx=True):
        self.dy = dy
        self.dx = put_every(dy, self.factor, self.x.shape) if need_dx else None
        return self.dx


# ----------------------------------------------------------------------------- per element

def downsample_forward_terms(x, S, ch, oy, ox, *, value=None, keys=None, prefix=()):
    """``y(ch, oy, ox) = x(ch, oy·S, ox·S)``: one term; ``x (C, H, W)``."""
    keys = keys or {}
    r, c = oy * S, ox * S
    v = float(x[ch, r, c])
    return finish(f"Downsampling: y({ch},{oy},{ox})", "y(m,r,c) = x(m, rS, cS)",
                  mk_ref(keys, prefix, "y", (ch, oy, ox)),
                  [Term(f"x({ch},{r},{c})", (v,), v, (mk_ref(keys, prefix, "x", (ch, r, c)),))], value,
                  [f"Output row {oy} and column {ox} are input row {oy}·{S} = {r} and column {ox}·{S} = {c}; "
                   "nothing is added or weighted."])


def downsample_backward_terms(dy, S, ch, iy, ix, *, value=None, keys=None, prefix=()):
    """``dx(ch, iy, ix)``: ``dy`` of the output it became, or 0 for a dropped row or column."""
    keys = keys or {}
    target = mk_ref(keys, prefix, "dx", (ch, iy, ix))
    eq = "dx(m, rS, cS) = dy(m,r,c), 0 elsewhere"
    if iy % S or ix % S:
        return finish(f"Downsampling backward: dx({ch},{iy},{ix})", eq, target,
                      [Term("dropped entry", (0.0,), 0.0, (None,), note="dropped")], value,
                      [f"Row {iy} or column {ix} is not a multiple of {S}: this entry was dropped, so it "
                       "had no effect on the loss and its gradient is 0."])
    oy, ox = iy // S, ix // S
    g = float(dy[ch, oy, ox])
    return finish(f"Downsampling backward: dx({ch},{iy},{ix})", eq, target,
                  [Term(f"dy({ch},{oy},{ox})", (g,), g, (mk_ref(keys, prefix, "dy", (ch, oy, ox)),))], value,
                  [f"This entry was kept as output ({ch},{oy},{ox}), so it gets that output's gradient."])
