"""Dense (fully connected): ``z = x·Wᵀ + b``, ``y = f(z)``; ``W (units, inputs)`` as in PyTorch,
``x (N, inputs)``. The compiled products of :class:`DensePlan` (every output one sum in a fixed
order); gradients go straight into the network's flat buffer."""
from __future__ import annotations

import numpy as np

from .. import activations
from .._dispatch import _kernels
from .._threads import threads_for
from ..plans import _expect
from ..terms import Term, finish, mk_ref
from .base import Field, LayerFitError, StepText, Teaching, Weighted, shape_text
from .words import activation_field

__all__ = ["Dense", "DensePlan", "dense_forward_terms", "dense_backward_input_terms", "dense_backward_weight_terms",
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
              f"Then {f.words}." + (" These ten numbers are the logits, one score per class." if is_last else ""))
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

    def _make_plan(self, batch):
        return DensePlan(batch, self.W.shape[1], self.W.shape[0], self.activation, self.dtype)

    def _fresh_plan(self, *arrays):
        """A plan with buffers of its own for arrays the kept plans do not take (inference, which may
        run in another thread; another dtype or strides): the arrays in the layer's dtype."""
        return self._make_plan(len(arrays[0])), [np.ascontiguousarray(a, dtype=self.dtype) for a in arrays]

    def forward(self, x, keep=True):
        plan = self._plan_for(x) if keep else None
        if plan is None:
            plan, (x,) = self._fresh_plan(x)
        z, y = plan.forward(x, self.W, self.b)
        if keep:
            self.x, self.z, self.y = x, z, y
        return y

    def backward(self, dy, need_dx=True):
        self.dy = dy
        plan = self._plan_for(dy, self.x, self.z)
        args = (dy, self.z, self.y, self.x)
        if plan is None:
            plan, args = self._fresh_plan(*args)
        # inside a Network dW and db go straight into its flat gradient buffer
        self.dz, self.dx, self.dW, self.db = plan.backward(*args, self.W, need_dx, self._gW, self._gb)
        return self.dx

    def compile_forward(self, step, x):
        plan = self._make_plan(step.batch)
        if plan.code is None or not isinstance(x, np.ndarray):
            return None
        z, y = plan.compile_forward(step, x, self.W, self.b)
        step.saved[self] = plan, x, z
        step.keep(self, x=x, z=z, y=y)
        return y

    def compile_backward(self, step, dy, need_dx):
        plan, x, z = step.saved[self]
        dz, dx = plan.compile_backward(step, dy, z, x, self.W, need_dx, self._gW, self._gb)
        step.keep(self, dy=dy, dz=dz, dx=dx, dW=self._gW, db=self._gb)
        return dx


class DensePlan:
    """A dense layer's passes for one batch size: ``x (N, D)``, ``w (K, D)``, ``b (K,)``, ``z``,
    ``y``, ``dz (N, K)``, ``dx (N, D)``. ``activation`` is applied by its compiled pass where it
    has a code (:mod:`cnncore.activations`), else by NumPy. Arrays it returns are its own buffers,
    overwritten by its next call of the same kind (ValueError for an array of another shape or
    dtype; the kernels' memoryviews refuse one with strides)."""

    def __init__(self, batch, inputs, units, activation, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.activation = activations.get(activation)
        self.code = self.activation.kernel
        N, D, K = batch, inputs, units
        self.x_shape, self.w_shape, self.z_shape = (N, D), (K, D), (N, K)
        self._nt = threads_for(N * K * D)
        self._z = self._y = self._dz = self._dx = None        # made on first use

    def _buffer(self, name, shape):
        a = getattr(self, name)
        if a is None:
            a = np.empty(shape, dtype=self.dtype)
            setattr(self, name, a)
        return a

    def forward(self, x, w, b):
        """``(z, y)``: ``z = x·Wᵀ + b``, ``y = f(z)`` (``y`` is ``z`` for no activation)."""
        dt = self.dtype
        _expect(x, self.x_shape, dt, "x")
        _expect(w, self.w_shape, dt, "w")
        _expect(b, self.w_shape[:1], dt, "b")
        z = self._buffer("_z", self.z_shape)
        _kernels.dense_forward(x, w, b, z, self._nt)
        if self.code == 0:
            return z, z
        if self.code is None:
            return z, self.activation.f(z, None)
        y = self._buffer("_y", self.z_shape)
        _kernels.activate(z.reshape(-1), y.reshape(-1), self.code)
        return z, y

    def backward(self, dy, z, y, x, w, need_dx=True, dw=None, db=None):
        """``(dz, dx or None, dw, db)`` from the gradient ``dy`` of ``y = f(z)``: ``dz = dy ⊙ f′(z)``,
        ``dW = dzᵀ·x`` and ``db`` (summed over the batch in order), ``dx = dz·W``; ``dw``/``db``
        may name the C-contiguous arrays to write into."""
        dt = self.dtype
        for a, shape, name in ((dy, self.z_shape, "dy"), (z, self.z_shape, "z"), (x, self.x_shape, "x"),
                               (w, self.w_shape, "w")):
            _expect(a, shape, dt, name)
        if self.code == 0:
            dz = dy
        elif self.code is None:
            dz = np.ascontiguousarray(self.activation.grad(dy, z, y), dtype=dt)
        else:
            dz = self._buffer("_dz", self.z_shape)
            _kernels.relu_slope(dy.reshape(-1), z.reshape(-1), dz.reshape(-1))
        dw = np.empty(self.w_shape, dt) if dw is None else dw
        db = np.empty(self.w_shape[:1], dt) if db is None else db
        _expect(dw, self.w_shape, dt, "dw")
        _expect(db, self.w_shape[:1], dt, "db")
        _kernels.dense_rows(dz, True, x, dw, self._nt)
        _kernels.column_sums(dz, db)
        dx = None
        if need_dx:
            dx = self._buffer("_dx", self.x_shape)
            _kernels.dense_rows(dz, False, w, dx, self._nt)
        return dz, dx, dw, db

    def compile_forward(self, step, x, w, b):
        """:meth:`forward` as ops of a compiled step (:mod:`cnncore.step`; an activation with a code)."""
        N, D = self.x_shape
        K = self.w_shape[0]
        _expect(x, self.x_shape, self.dtype, "x")
        z = self._buffer("_z", self.z_shape)
        step.op("dense", self._nt, 0, [x, w, b, z], [N, K, D])
        if self.code == 0:
            return z, z
        y = self._buffer("_y", self.z_shape)
        step.op("activate", 1, self.code, [z, y], [z.size])
        return z, y

    def compile_backward(self, step, dy, z, x, w, need_dx, dw, db):
        """:meth:`backward` as ops of a compiled step: ``(dz, dx or None)``."""
        N, D = self.x_shape
        K = self.w_shape[0]
        _expect(dy, self.z_shape, self.dtype, "dy")
        dz = dy
        if self.code != 0:
            dz = self._buffer("_dz", self.z_shape)
            step.op("slope", 1, self.code, [dy, z, dz], [dz.size])
        step.op("colsum", 1, 0, [dz, db], [N, K])
        dw_rows = (0, [dz, x, dw], [1, K, N, D, K])
        if not need_dx:
            step.op("rows", self._nt, *dw_rows)
            return dz, None
        dx = self._buffer("_dx", self.x_shape)
        dx_rows = (0, [dz, w, dx], [K, 1, K, D, N])
        if _kernels.blas_in_use() or self._nt <= 2:
            # dW and dx: two products of one thread each (the BLAS's), side by side
            step.both(self._nt, ("rows", *dw_rows), ("rows", *dx_rows))
        else:       # the tiles' products, each on every thread
            step.op("rows", self._nt, *dw_rows)
            step.op("rows", self._nt, *dx_rows)
        return dz, dx


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
