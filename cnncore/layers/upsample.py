"""Upsampling (the ``002`` slides' upsampling or dilation layer): ``S − 1`` rows and columns of zeros
go between neighbouring entries of every map. ``x (N, C, H, W)`` -> ``y (N, C, (H − 1)·S + 1,
(W − 1)·S + 1)``, exactly ``cnncore.identities.dilate``; backward keeps every S-th row and column
of ``dy``. Followed by a convolution it is a transposed (fractionally strided, stride 1/S) convolution."""
from __future__ import annotations

import numpy as np

from ..identities import dilate
from ..terms import Term, finish, mk_ref
from .base import StepText, Teaching, shape_text
from .resampling import Resample, keep_every

__all__ = ["Upsample", "upsample_forward_terms", "upsample_backward_terms", "TRANSPOSED_CONV_NOTE", "SIZE_NOTE", "ADVICE"]

#: What the app says about an upsampling layer followed by a convolution.
TRANSPOSED_CONV_NOTE = ("An upsampling layer followed by a convolution is what the slides call a transposed "
                        "(or fractionally strided) convolution: spreading the map out by S and then "
                        "convolving with stride 1 acts like a convolution with stride 1/S.")


#: Why the output is ``(H − 1)·S + 1`` and not ``S·H`` (a clause).
SIZE_NOTE = ("(H − 1)·S + 1, not S·H: the slides speak of a map S times larger, but no zeros go after the last "
             "entry here, so that downsampling by S gives the input back and the zeros sit where the backward pass "
             "of a stride-S convolution dilates dz")

#: The slides' advice on where an upsampling layer belongs, in our words (a clause).
ADVICE = ("The slides advise a convolution after it: pooling straight after it would undo the spreading, and as "
          "the last layer it would only add zeros")


class Upsample(Resample):
    """``y(m, rS, cS) = x(m, r, c)``, 0 between; ``dx(m, r, c) = dy(m, rS, cS)``."""

    type = "upsample"
    title = "Upsampling (insert zeros)"
    fields = (Resample.factor_field("Put S − 1 rows and columns of zeros between neighbours (S = this factor)"),)
    quiz_tags = {"forward": ("upsample",), "backward": ("upsample",)}
    teaching = Teaching(predict={"forward": ("copied",), "backward": ("copied_dx",)})
    before_conv_note = TRANSPOSED_CONV_NOTE + (" Its zeros are the dilation the textbook recipe applies to dz "
                                               "in the backward pass of a strided convolution.")

    @classmethod
    def build_note(cls, spec):
        return ("with a convolution after it: a transposed (fractionally strided) convolution; not useful "
                "before pooling or as the last layer")

    @classmethod
    def output_shape(cls, spec, in_shape):
        cls.needs_maps(spec, in_shape)
        C, H, W = in_shape
        S = spec["factor"]
        return C, (H - 1) * S + 1, (W - 1) * S + 1

    @classmethod
    def forward_step(cls, spec, s_in, s_out, is_last):
        S = spec["factor"]
        gap = "one row and one column" if S == 2 else f"{S - 1} rows and {S - 1} columns"
        ex = (f"Between neighbouring entries of each map go {gap} of zeros, so {shape_text(s_in)} become "
              f"{s_out[1]}×{s_out[2]}, {SIZE_NOTE}; there are no weights here. "
              + TRANSPOSED_CONV_NOTE.replace("An upsampling layer", "This layer") + f" {ADVICE}.")
        return StepText(f"y(m, rS, cS) = x(m,r,c);  y = 0 in between   [S = {S}]", ex, ("x", "y"))

    @classmethod
    def backward_step(cls, spec, s_in, s_out, has_dx):
        ex = ("Only the entries copied from the input depend on it, so the input's gradient is every "
              "S-th row and column of dy. The inserted zeros were constants: their gradient goes nowhere.")
        return StepText("dx(m,r,c) = dy(m, rS, cS)", ex, ("dy",) + (("dx",) if has_dx else ()))

    @classmethod
    def explain(cls, spec, part, index, arrays, keys):
        if part == "y":
            return upsample_forward_terms(arrays("x"), spec["factor"], *index, keys=keys)
        if part == "dx":
            return upsample_backward_terms(arrays("dy"), spec["factor"], *index, keys=keys)
        return None

    torch_helper = '''class InsertZeros(nn.Module):
    """Upsampling: S - 1 rows and columns of zeros go between neighbouring entries of every map."""

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        n, c, h, w = x.shape
        S = self.factor
        y = x.new_zeros(n, c, (h - 1) * S + 1, (w - 1) * S + 1)
        y[:, :, ::S, ::S] = x
        return y
'''

    @classmethod
    def torch_modules(cls, spec, in_shape):
        return (f"InsertZeros({spec['factor']})",)

    @classmethod
    def onnx_nodes(cls, spec, in_shape, graph, x, params):
        # a transposed convolution with stride S whose 1×1 filter copies each map into itself (weight 1)
        C, S = in_shape[0], spec["factor"]
        ones = graph.constant("copy", np.ones((C, 1, 1, 1), dtype=np.float32))
        return graph.node("ConvTranspose", [x, ones], group=C, kernel_shape=[1, 1], strides=[S, S])

    def forward(self, x, keep=True):
        y = dilate(x, self.factor)
        if keep:
            self.x, self.y = x, y
        return y

    def backward(self, dy, need_dx=True):
        self.dy = dy
        self.dx = keep_every(dy, self.factor) if need_dx else None
        return self.dx


# ----------------------------------------------------------------------------- per element

def upsample_forward_terms(x, S, ch, oy, ox, *, value=None, keys=None, prefix=()):
    """``y(ch, oy, ox)``: the input entry copied there, or an inserted 0; ``x (C, H, W)``."""
    keys = keys or {}
    target = mk_ref(keys, prefix, "y", (ch, oy, ox))
    eq = "y(m, rS, cS) = x(m,r,c), 0 in between"
    if oy % S or ox % S:
        return finish(f"Upsampling: y({ch},{oy},{ox})", eq, target,
                      [Term("inserted zero", (0.0,), 0.0, (None,), note="inserted zero")], value,
                      [f"Row {oy} or column {ox} is not a multiple of {S}: this is one of the zeros put "
                       "between the input's entries."])
    r, c = oy // S, ox // S
    v = float(x[ch, r, c])
    return finish(f"Upsampling: y({ch},{oy},{ox})", eq, target,
                  [Term(f"x({ch},{r},{c})", (v,), v, (mk_ref(keys, prefix, "x", (ch, r, c)),))], value,
                  [f"Row {oy} and column {ox} are input row {r} and column {c} spread out by {S}."])


def upsample_backward_terms(dy, S, ch, iy, ix, *, value=None, keys=None, prefix=()):
    """``dx(ch, iy, ix) = dy(ch, iy·S, ix·S)``: one term."""
    keys = keys or {}
    r, c = iy * S, ix * S
    g = float(dy[ch, r, c])
    return finish(f"Upsampling backward: dx({ch},{iy},{ix})", "dx(m,r,c) = dy(m, rS, cS)",
                  mk_ref(keys, prefix, "dx", (ch, iy, ix)),
                  [Term(f"dy({ch},{r},{c})", (g,), g, (mk_ref(keys, prefix, "dy", (ch, r, c)),))], value,
                  [f"This input entry was copied to output ({ch},{r},{c}) and nowhere else, so it gets "
                   "that output's gradient."])
