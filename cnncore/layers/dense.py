"""Dense (fully connected): ``z = x·Wᵀ + b``, ``y = f(z)``; ``W (units, inputs)`` as in PyTorch,
``x (N, inputs)``. A NumPy matrix product; gradients go straight into the network's flat buffer."""
from __future__ import annotations

import numpy as np

from .. import activations
from ..plans import weight_grad
from ..terms import Term, finish, mk_ref
from .base import Field, LayerFitError, StepText, Teaching, Weighted, shape_text
from .words import activation_field

__all__ = ["Dense", "dense_forward_terms", "dense_backward_input_terms", "dense_backward_weight_terms",
           "dense_backward_bias_terms"]


class Dense(Weighted):
    """``units`` outputs, each a weighted sum of every input plus a bias, then an activation."""

    type = "dense"
    title = "Dense (fully connected)"
    quiz_tags = {"forward": ("dense backward", "activation backward"),
                 "backward": ("dense backward", "activation backward")}
    # a dense weight is used once: its gradient is one product (dw1), not a sum
    teaching = Teaching(predict={"forward": ("z",), "backward": ("dz1", "sign", "dw1", "dx")})
    fields = (
        Field("units", "count", "Filters / units", "Number of output units", maximum=4096, new=32),
        # the last layer gives the logits, so by default it has no activation
        activation_field(lambda parsed, is_last: "none" if is_last else "relu"),
    )

    def __init__(self, index, spec, in_shape, out_shape, dtype):
        super().__init__(index, spec, in_shape, out_shape, dtype)
        self.W = np.zeros((spec["units"], in_shape[0]), dtype=self.dtype)
        self.b = np.zeros(spec["units"], dtype=self.dtype)

    @classmethod
    def describe(cls, spec):
        return f"dense {spec['units']} {spec['activation']}"

    @classmethod
    def output_shape(cls, spec, in_shape):
        if len(in_shape) != 1:
            raise LayerFitError(f"dense {spec['units']}", f"needs a flat vector but gets {shape_text(in_shape)}; "
                                                          "put a flatten layer before it")
        return (spec["units"],)

    @classmethod
    def cost(cls, spec, in_shape, out_shape):
        return spec["units"] * in_shape[0] + spec["units"], spec["units"] * in_shape[0]

    @classmethod
    def forward_step(cls, spec, s_in, s_out, is_last):
        f = activations.get(spec["activation"])
        ex = (f"Each of the {spec['units']} units takes a weighted sum of all {s_in[0]} inputs plus its bias. "
              f"Then {f.words}." + (" These ten numbers are the logits, one score per digit." if is_last else ""))
        return StepText(f"z(k) = Σ_j W(k,j)·x(j) + b(k);  {f.equation}", ex, ("x", "W", "b", "z", "y"))

    @classmethod
    def backward_step(cls, spec, s_in, s_out, has_dx):
        f = activations.get(spec["activation"])
        eq = "dz = dy ⊙ f′(z);  dW(k,j) = dz(k)·x(j);  db(k) = dz(k)"
        ex = (f"The gradient passes back through the activation ({f.grad_words}). A weight's gradient is "
              "the gradient of its unit times the input it multiplies.")
        if has_dx:
            eq += ";  dx(j) = Σ_k W(k,j)·dz(k)"
            ex += " Each input collects the gradients of all units, weighted by the connecting weights."
        return StepText(eq, ex, ("dy", "z", "dz", "x", "dW", "db") + (("W", "dx") if has_dx else ()))

    @classmethod
    def explain(cls, spec, part, index, arrays, keys):
        if part == "z":
            return dense_forward_terms(arrays("x"), arrays("W"), arrays("b"), index[0], keys=keys)
        if part == "dx":
            return dense_backward_input_terms(arrays("dz"), arrays("W"), index[0], keys=keys)
        if part == "dW":
            return dense_backward_weight_terms(arrays("dz"), arrays("x"), *index, keys=keys)
        if part == "db":
            return dense_backward_bias_terms(arrays("dz"), index[0], keys=keys)
        return cls.explain_activation(spec, part, index, arrays, keys)

    @classmethod
    def torch_affine(cls, spec, in_shape):
        return f"nn.Linear({in_shape[0]}, {spec['units']})"

    @classmethod
    def onnx_affine(cls, spec, graph, x, W, b):
        return graph.node("Gemm", [x, W, b], transB=1)      # x·Wᵀ + b

    def fans(self):
        units, inputs = self.W.shape
        return inputs, units

    def forward(self, x, keep=True):
        z = x @ self.W.T
        z += self.b
        return self.activate(x, z, keep)

    def backward(self, dy, need_dx=True):
        dz = self.activation_grad(dy)
        gW, gb = self._gW, self._gb
        if gW is not None:  # inside a Network: write straight into its flat gradient buffer
            self.dW = weight_grad(dz, self.x, out=gW)   # (units, inputs), summed over the batch
            self.db = np.add.reduce(dz, axis=0, out=gb)
        else:
            self.dW = weight_grad(dz, self.x)
            self.db = dz.sum(axis=0)
        self.dx = dz @ self.W if need_dx else None
        return self.dx


# ----------------------------------------------------------------------------- per element

def dense_forward_terms(x, w, b, k, *, value=None, keys=None, prefix=()):
    """``z(k) = Σ_j w(k, j)·x(j) + b(k)``; ``x (D,)``, ``w (K, D)``, ``b (K,)``."""
    keys = keys or {}
    terms = [Term(f"w({k},{j}) · x({j})", (float(w[k, j]), float(x[j])), float(w[k, j]) * float(x[j]),
                  (mk_ref(keys, prefix, "w", (k, j)), mk_ref(keys, prefix, "x", (j,))))
             for j in range(x.shape[0])]
    terms.append(Term(f"b({k})", (float(b[k]),), float(b[k]), (mk_ref(keys, prefix, "b", (k,)),)))
    return finish(f"Dense layer: z({k})", "z(k) = Σ_j w(k,j) · x(j) + b(k)",
                  mk_ref(keys, prefix, "z", (k,)), terms, value,
                  [f"Every one of the {x.shape[0]} inputs is multiplied by its own weight."])


def dense_backward_input_terms(dz, w, j, *, value=None, keys=None, prefix=()):
    """``dx(j) = Σ_k dz(k)·w(k, j)``; ``dz (K,)``, ``w (K, D)``."""
    keys = keys or {}
    terms = [Term(f"dz({k}) · w({k},{j})", (float(dz[k]), float(w[k, j])), float(dz[k]) * float(w[k, j]),
                  (mk_ref(keys, prefix, "dz", (k,)), mk_ref(keys, prefix, "w", (k, j))))
             for k in range(dz.shape[0])]
    return finish(f"Dense backward to the input: dx({j})", "dx(j) = Σ_k dz(k) · w(k,j)",
                  mk_ref(keys, prefix, "dx", (j,)), terms, value,
                  ["The input fed every unit, so its gradient collects one term from each."])


def dense_backward_weight_terms(dz, x, k, j, *, value=None, keys=None, prefix=()):
    """``dW(k, j) = dz(k)·x(j)`` (one term)."""
    keys = keys or {}
    return finish(f"Dense backward to a weight: dW({k},{j})", "dW(k,j) = dz(k) · x(j)",
                  mk_ref(keys, prefix, "dw", (k, j)),
                  [Term(f"dz({k}) · x({j})", (float(dz[k]), float(x[j])), float(dz[k]) * float(x[j]),
                        (mk_ref(keys, prefix, "dz", (k,)), mk_ref(keys, prefix, "x", (j,))))],
                  value, ["A dense weight is used once, so its gradient is a single product."])


def dense_backward_bias_terms(dz, k, *, value=None, keys=None, prefix=()):
    """``db(k) = dz(k)``."""
    keys = keys or {}
    return finish(f"Dense backward to a bias: db({k})", "db(k) = dz(k)", mk_ref(keys, prefix, "db", (k,)),
                  [Term(f"dz({k})", (float(dz[k]),), float(dz[k]), (mk_ref(keys, prefix, "dz", (k,)),))],
                  value)
