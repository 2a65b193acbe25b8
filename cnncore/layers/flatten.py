"""Flatten: ``(N, C, H, W)`` -> ``(N, C·H·W)`` in C order (channel, then row, then column)."""
from __future__ import annotations

import numpy as np

from ..terms import Term, finish, mk_ref
from .base import Layer, StepText, shape_text

__all__ = ["Flatten", "flatten_forward_terms", "flatten_backward_terms"]


class Flatten(Layer):
    """Lays the maps out as one vector; nothing is computed."""

    type = "flatten"
    title = "Flatten"
    quiz_tags = {"forward": ("flatten",), "backward": ("flatten",)}

    @classmethod
    def output_shape(cls, spec, in_shape):
        n = 1
        for s in in_shape:
            n *= s
        return (n,)

    @classmethod
    def cost(cls, spec, in_shape, out_shape):
        return 0, 0                     # y and dx are views of x and dy: nothing is computed

    @classmethod
    def memory(cls, spec, in_shape, out_shape):
        return 0

    @classmethod
    def forward_step(cls, spec, s_in, s_out, is_last):
        ex = (f"The {shape_text(s_in)} are laid out one after another as a single vector of "
              f"{s_out[0]} numbers, channel by channel and row by row. Nothing is computed.")
        return StepText("y(m·H·W + r·W + c) = x(m, r, c)", ex, ("x", "y"))

    @classmethod
    def backward_step(cls, spec, s_in, s_out, has_dx):
        return StepText("dx(m, r, c) = dy(m·H·W + r·W + c)",
                        "The gradient vector is folded back into the shape of the maps; the numbers do not change.",
                        ("dy",) + (("dx",) if has_dx else ()))

    @classmethod
    def explain(cls, spec, part, index, arrays, keys):
        if part == "y":
            return flatten_forward_terms(arrays("x"), index[0], keys=keys)
        if part == "dx":
            return flatten_backward_terms(arrays("dy"), arrays("x").shape, *index, keys=keys)
        return None

    @classmethod
    def torch_modules(cls, spec, in_shape):
        return ("nn.Flatten()",)

    @classmethod
    def onnx_nodes(cls, spec, in_shape, graph, x, params):
        return graph.node("Flatten", [x], axis=1)

    def forward(self, x, keep=True):
        y = x.reshape(x.shape[0], -1)
        if keep:
            self.x, self.y = x, y
        return y

    def backward(self, dy, need_dx=True):
        self.dy = dy
        self.dx = dy.reshape(self.x.shape) if need_dx else None
        return self.dx

    def compile_forward(self, step, x):
        if not isinstance(x, np.ndarray) or not x.flags.c_contiguous:
            return None         # (a view of the batch, or of maps with strides: no op gives one)
        y = x.reshape(x.shape[0], -1)
        step.saved[self] = x
        step.keep(self, x=x, y=y)
        return y

    def compile_backward(self, step, dy, need_dx):
        dx = dy.reshape(step.saved[self].shape) if need_dx else None
        step.keep(self, dy=dy, dx=dx)
        return dx


# ----------------------------------------------------------------------------- per element

def flatten_forward_terms(x, k, *, value=None, keys=None, prefix=()):
    """Entry ``k`` of the flattened vector is one element of ``x (C, H, W)`` (row-major)."""
    keys = keys or {}
    src = np.unravel_index(k, x.shape)
    v = float(x[src])
    return finish(f"Flatten: y({k})", "y(k) = x(m, r, c) with k = (m·H + r)·W + c",
                  mk_ref(keys, prefix, "y", (k,)),
                  [Term(f"x{tuple(int(s) for s in src)}", (v,), v, (mk_ref(keys, prefix, "x", src),))],
                  value, ["Flattening only re-labels numbers: the maps are read row by row, "
                          "map after map."])


def flatten_backward_terms(dy, x_shape, m, r, c, *, value=None, keys=None, prefix=()):
    """``dx(m, r, c)`` is the gradient of the flat entry it became; ``dy (K,)``."""
    keys = keys or {}
    k = int(np.ravel_multi_index((m, r, c), x_shape))
    v = float(dy[k])
    return finish(f"Flatten backward: dx({m},{r},{c})", "dx(m, r, c) = dy(k),  k = (m·H + r)·W + c",
                  mk_ref(keys, prefix, "dx", (m, r, c)),
                  [Term(f"dy({k})", (v,), v, (mk_ref(keys, prefix, "dy", (k,)),))], value,
                  ["The backward pass folds the flat gradient back into maps of the same shape."])
