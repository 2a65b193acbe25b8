"""Convolution: ``z(n,r,c) = Σ_m Σ_i Σ_j w(m,n,i,j)·x(m, rS+i−P, cS+j−P) + b(n)``, ``y = f(z)``.

``W (F, C, KH, KW)``, ``b (F,)``; ``x (N, C, H, W)`` -> ``y (N, F, Ho, Wo)`` with
``Ho = (H + 2P − KH) // S + 1`` (:func:`cnncore.shapes.conv_output_size`).
"""
from __future__ import annotations

import numpy as np

from .. import activations
from .. import kernels
from ..plurals import agrees, plural
from ..pseudocode import CONV_LOOPS
from ..shapes import pair
from ..terms import Term, finish, mk_ref
from .base import Field, StepText, Teaching, Weighted, shape_size, shape_text, window_output
from .conv_plan import ConvPlan
from .words import STRIDE_COLUMN, activation_field, hw, num_pair, pair_text

__all__ = ["Conv", "conv_forward_terms", "conv_backward_input_terms", "conv_backward_weight_terms",
           "conv_backward_bias_terms"]


class Conv(Weighted):
    """A convolution with ``filters`` filters of ``kernel``, then an activation."""

    type = "conv"
    title = "Convolution"
    identities = True
    quiz_tags = {"forward": ("forward conv",), "backward": ("backward conv", "activation backward")}
    teaching = Teaching(predict={"forward": ("z", "filter_map"), "backward": ("dz1", "sign", "dW", "dx")},
                        loops=CONV_LOOPS, examples=("strided_conv", "multichannel"))
    fields = (
        Field("filters", "count", "Filters / units", "Number of filters (output maps)", maximum=256, new=8),
        Field("kernel", "pair", "Kernel / size", "Filter size in pixels", new=[3, 3]),
        Field("stride", "pair", STRIDE_COLUMN, "How far the filter moves between outputs", default=1, new=[1, 1]),
        Field("padding", "pair", "Padding", "Zeros added around each input map before the convolution; "
              "P = (K − 1)/2 keeps the map size at stride 1 (odd K)",
              default=0, minimum=0, maximum=14, new=[1, 1]),
        activation_field("relu"),
    )

    def __init__(self, index, spec, in_shape, out_shape, dtype):
        super().__init__(index, spec, in_shape, out_shape, dtype)
        self.stride = tuple(spec["stride"])
        self.padding = tuple(spec["padding"])
        kh, kw = spec["kernel"]
        self.W = np.zeros((spec["filters"], in_shape[0], kh, kw), dtype=self.dtype)
        self.b = np.zeros(spec["filters"], dtype=self.dtype)

    # ------------------------------------------------------------------ the type
    @classmethod
    def describe(cls, spec):
        return (f"conv {spec['filters']} {hw(spec['kernel'])} s{num_pair(spec['stride'])} "
                f"p{num_pair(spec['padding'])} {spec['activation']}")

    @classmethod
    def brief(cls, spec):
        return f"conv{spec['filters']}"

    @classmethod
    def output_shape(cls, spec, in_shape):
        cls.needs_maps(spec, in_shape)
        kernel, padding = spec["kernel"], spec["padding"]
        Ho, Wo = window_output(in_shape, kernel, spec["stride"], padding,
                               f"conv {hw(kernel)}, padding {num_pair(padding)}")
        return spec["filters"], Ho, Wo

    @classmethod
    def cost(cls, spec, in_shape, out_shape):
        F, Ho, Wo = out_shape
        k = in_shape[0] * spec["kernel"][0] * spec["kernel"][1]
        return F * k + F, F * Ho * Wo * k

    @classmethod
    def work(cls, spec, in_shape, out_shape):
        # the kernels compute z at every stride-1 position and keep every S-th (cnncore.plans)
        C, H, W = in_shape
        (KH, KW), (PH, PW) = spec["kernel"], spec["padding"]
        return out_shape[0] * (H + 2 * PH - KH + 1) * (W + 2 * PW - KW + 1) * C * KH * KW

    @classmethod
    def memory(cls, spec, in_shape, out_shape):
        # the plan's buffers; an activation the kernels do not apply makes dz and f'(z) in NumPy
        numpy_dz = 0 if activations.get(spec["activation"]).kernel is not None else 3 * shape_size(out_shape)
        return ConvPlan.values_per_image(in_shape, spec["filters"], spec["kernel"], spec["stride"],
                                         spec["padding"]) + shape_size(out_shape) + numpy_dz

    @classmethod
    def params_alone(cls, spec, in_shape):
        if in_shape is None or len(in_shape) != 3:
            return 0
        return spec["filters"] * in_shape[0] * spec["kernel"][0] * spec["kernel"][1] + spec["filters"]

    # ------------------------------------------------------------------ trace words
    @classmethod
    def forward_step(cls, spec, s_in, s_out, is_last):
        S, P, K = spec["stride"], spec["padding"], spec["kernel"]
        f = activations.get(spec["activation"])
        eq = (f"{CONV_FORWARD_EQ}, i.e. z = x ⋆ W + b;  {f.equation}   [S = {pair_text(S)}, P = {pair_text(P)}]")
        ex = (f"Each of the {spec['filters']} filters ({s_in[0]}×{K[0]}×{K[1]} weights and a bias) slides over "
              f"{shape_text(s_in)} with stride {pair_text(S)} and padding {pair_text(P)}, summing "
              f"weight×input products into one map of {s_out[1]}×{s_out[2]} per filter. "
              f"{padding_words(spec)}Then {f.words}.")
        return StepText(eq, ex, ("x", "W", "b", "z", "y"))

    @classmethod
    def backward_step(cls, spec, s_in, s_out, has_dx):
        f = activations.get(spec["activation"])
        eq = f"dz = dy ⊙ f′(z);  {dw_equation(spec, s_in, s_out)};  db(n) = Σ_r Σ_c dz(n,r,c)"
        ex = (f"First the gradient passes back through the activation: {f.grad_words}. "
              + dw_words(spec, s_in, s_out) + ", and each bias sums its dz map.")
        if has_dx:
            eq += ";  dx = unpad_P(pad_K−1(dilate(dz)) ⋆ rot180(W)ᵀ)" + _unreached(spec, s_in, s_out)
            ex += " " + dx_words(spec, s_in, s_out)
        else:
            ex += " This is the first layer, so no gradient is needed for the image itself."
        parts = ("dy", "z", "dz", "x", "dW", "db") + (("W", "dx") if has_dx else ())
        return StepText(eq, ex, parts)

    @classmethod
    def explain(cls, spec, part, index, arrays, keys):
        S, P = spec["stride"], spec["padding"]
        if part == "z":
            return conv_forward_terms(arrays("x"), arrays("W"), arrays("b"), S, P, *index, keys=keys)
        if part == "dx":
            return conv_backward_input_terms(arrays("dz"), arrays("W"), S, P, arrays("x").shape[1:], *index,
                                             keys=keys)
        if part == "dW":
            return conv_backward_weight_terms(arrays("dz"), arrays("x"), S, P, *index, keys=keys)
        if part == "db":
            return conv_backward_bias_terms(arrays("dz"), index[0], keys=keys)
        return cls.explain_activation(spec, part, index, arrays, keys)

    @classmethod
    def torch_affine(cls, spec, in_shape):
        return (f"nn.Conv2d({in_shape[0]}, {spec['filters']}, kernel_size={tuple(spec['kernel'])}, "
                f"stride={tuple(spec['stride'])}, padding={tuple(spec['padding'])})")

    @classmethod
    def onnx_affine(cls, spec, graph, x, W, b):
        (ph, pw), (sh, sw) = spec["padding"], spec["stride"]
        return graph.node("Conv", [x, W, b], kernel_shape=list(spec["kernel"]), strides=[sh, sw],
                          pads=[ph, pw, ph, pw])

    # ------------------------------------------------------------------ the computation
    def fans(self):
        F, C, KH, KW = self.W.shape
        return C * KH * KW, F * KH * KW

    def _make_plan(self, batch):
        return ConvPlan(batch, self.in_shape, self.W.shape[0], self.W.shape[2:], self.stride, self.padding,
                        self.dtype)

    @property
    def _act_code(self):
        """The code of this layer's activation in the compiled passes (None: NumPy applies it)."""
        return activations.get(self.activation).kernel

    def _activated_plan(self, *arrays):
        """The plan whose gradient pass also applies f′ (None: the activation is NumPy's, or
        the forward pass kept ``z`` in another dtype)."""
        if self._act_code is None or self.z.dtype != self.dtype:
            return None
        return self._plan_for(*arrays)

    def forward(self, x, keep=True):
        plan = self._plan_for(x) if keep else None
        code = self._act_code
        if plan is not None and code is not None:     # the activation in the pass after the loops
            z, y = plan.forward_activated(x, self.W, self.b, code)
            self.x, self.z, self.y = x, z, y
            return y
        if plan is not None:
            z = plan.forward(x, self.W, self.b)
        else:
            z = kernels.conv2d_forward(x, self.W, self.b, self.stride, self.padding)
        return self.activate(x, z, keep)

    def backward(self, dy, need_dx=True):
        plan = self._activated_plan(dy, self.x)
        if plan is not None:     # dz formed in the pass that lays it out for the loops
            self.dy = dy
            self.dz, self.dx, self.dW, self.db = plan.backward_activated(dy, self.z, self._act_code, self.x,
                                                                         self.W, need_dx, self._gW, self._gb)
            return self.dx
        dz = np.ascontiguousarray(self.activation_grad(dy))
        self.dz = dz
        plan = self._plan_for(dz, self.x)
        if plan is not None:     # inside a Network: dW and db go straight into its flat gradient buffer
            self.dx, self.dW, self.db = plan.backward(dz, self.x, self.W, need_dx, self._gW, self._gb)
        else:
            self.dx, self.dW, self.db = kernels.conv2d_backward(dz, self.x, self.W, self.stride, self.padding,
                                                        need_dx=need_dx)
        return self.dx

    def compile_forward(self, step, x, pool=None):
        """:meth:`forward` as ops of a compiled step (:mod:`cnncore.step`) on a plan of its own;
        with ``pool`` (a :class:`~.maxpool.MaxPoolPlan`, from :class:`~.pairs.ConvMaxPool`) ``y`` is
        pooled in the same pass and the pooled maps are returned. None: no compiled form (an
        activation only NumPy applies)."""
        code = self._act_code
        if code is None:
            return None
        plan = self._make_plan(step.batch)
        out = plan.compile_forward(step, x, self.W, self.b, code, pool)
        step.saved[self] = plan, out[0], out[1]
        step.keep(self, x=x if isinstance(x, np.ndarray) else plan._xpad.inner, z=out[0], y=out[1])
        return out[-1]

    def compile_backward(self, step, dy, need_dx, codes=None, pooled=None):
        """:meth:`backward` (``codes``, ``pooled``: a 2×2 max-pool's winners and output, whose gradient
        ``dy`` is) as ops of a compiled step: ``dx``."""
        plan, z, _ = step.saved[self]
        dz, dx = plan.compile_backward(step, dy, z, self._act_code, self.W, need_dx, self._gW, self._gb, codes,
                                       pooled)
        step.keep(self, dz=dz, dx=dx, dW=self._gW, db=self._gb)
        if codes is None:
            step.keep(self, dy=dy)
        return dx


# ----------------------------------------------------------------------------- per element

CONV_FORWARD_EQ = "z(n,r,c) = Σ_m Σ_i Σ_j w(m,n,i,j) · x(m, rS+i−P, cS+j−P) + b(n)"
CONV_DX_EQ = "dx(m,r,c) = Σ_n Σ_(r′,c′) dz(n,r′,c′) · w(m,n, r−r′S+P, c−c′S+P)"
CONV_DW_EQ = "dW(m,n,i,j) = Σ_(r,c) dz(n,r,c) · x(m, rS+i−P, cS+j−P)"
CONV_DB_EQ = "db(n) = Σ_(r,c) dz(n,r,c)"


def padding_words(spec) -> str:
    """What the padding does to the map size, and the padding that keeps it (the book chapter's
    "same" padding, P = (K − 1)/2 for an odd K at stride 1); "" when the filter is 1×1."""
    K, P, S = spec["kernel"][0], spec["padding"][0], spec["stride"][0]
    if K == 1 or spec["kernel"][0] != spec["kernel"][1] or spec["padding"][0] != spec["padding"][1]:
        return ""
    keep = f"P = (K − 1)/2 = {(K - 1) // 2}" if K % 2 else "an odd K with P = (K − 1)/2"
    if 2 * P == K - 1:
        at = "" if S == 1 else f" before the stride of {S} thins it out"
        return f"Padding {keep} keeps each map the size of its input{at}: padding to keep the size. "
    return (f"With P = {P} each map {'shrinks' if 2 * P < K - 1 else 'grows'} by {abs(K - 1 - 2 * P)} rows and "
            f"columns{' before the stride' if S > 1 else ''}; {keep} would keep the size. ")


def _dw_sizes(spec, s_in, s_out):
    """``(padded input, dilated dz, their correlation)`` sizes ``(h, w)`` of the textbook dW."""
    (SH, SW), (PH, PW) = spec["stride"], spec["padding"]
    _, Ho, Wo = s_out
    xp = (s_in[1] + 2 * PH, s_in[2] + 2 * PW)
    d = ((Ho - 1) * SH + 1, (Wo - 1) * SW + 1)
    return xp, d, (xp[0] - d[0] + 1, xp[1] - d[1] + 1)


def dw_equation(spec, s_in, s_out) -> str:
    """``dW(m,n) = pad_P(x(m)) ⋆ dilate(dz(n))``, cut to K×K when the stride left rows over."""
    _, _, out = _dw_sizes(spec, s_in, s_out)
    cut = ", cut to K×K" if out != tuple(spec["kernel"]) else ""
    return f"dW(m,n) = pad_P(x(m)) ⋆ dilate(dz(n)){cut}"


def dw_words(spec, s_in, s_out) -> str:
    """How ``dW`` is made of whole maps, with this layer's sizes (the slides' filter derivative)."""
    xp, d, out = _dw_sizes(spec, s_in, s_out)
    K = tuple(spec["kernel"])
    pad = (f", zero-padded by P = {pair_text(spec['padding'])} as in the forward pass ({hw(xp)}: the slides pad for "
           "backprop an input that was padded going forward)," if any(spec["padding"]) else " (P = 0: no padding)")
    if tuple(spec["stride"]) == (1, 1):
        dil = f"as it is ({hw(d)}, stride 1)"
    elif d == tuple(s_out[1:]):         # a map one row and one column: no gaps for the stride to open
        dil = f"dilated by the stride S = {pair_text(spec['stride'])}, which leaves a {hw(d)} map as it is"
    else:
        dil = f"dilated by the stride to {hw(d)}"
    cut = (f"{hw(out)}, of which the first {hw(K)} is dW (the stride left the last rows or columns unused)"
           if out != K else f"{hw(out)}, one number per filter weight")
    return (f"Each filter channel's gradient correlates (⋆) the layer's input map{pad} with its dz map {dil}; at "
            f"stride 1 that gives {cut} (without stride and padding, the blog post's rot180(δ) ∗ a)")


def _unreached(spec, s_in, s_out) -> str:
    """What the dx equation adds where the stride leaves the padded input's last rows or columns unread:
    the full map is short of the padded input by them, and is filled out with 0 before unpad_P."""
    (SH, SW), (PH, PW), (KH, KW) = spec["stride"], spec["padding"], spec["kernel"]
    Hp, Wp = s_in[1] + 2 * PH, s_in[2] + 2 * PW
    if (s_out[1] - 1) * SH + KH >= Hp and (s_out[2] - 1) * SW + KW >= Wp:
        return ""
    return f", the full map filled out with 0 to the padded input's {Hp}×{Wp} first (rows no window reached)"


def dx_words(spec, s_in, s_out) -> str:
    """How ``dx`` is made of whole maps, with this layer's sizes (the slides' recipe)."""
    (SH, SW), (PH, PW), (KH, KW) = spec["stride"], spec["padding"], spec["kernel"]
    _, Ho, Wo = s_out
    dh, dw = (Ho - 1) * SH + 1, (Wo - 1) * SW + 1
    ph, pw = dh + KH - 1, dw + KW - 1
    border = (f"then the {pair_text(spec['padding'])}-wide border that belongs to the forward padding is "
              f"deleted, leaving {s_in[1]}×{s_in[2]}" if PH or PW else "there is no forward padding to delete")
    dilation = f"dilated by the stride to {dh}×{dw} and " if SH > 1 or SW > 1 else ""
    full = (s_in[1] + 2 * PH, s_in[2] + 2 * PW)
    size = ("the size of the padded input" if (ph, pw) == full else
            f"short of the padded input's {full[0]}×{full[1]} by rows or columns no window reached (their "
            "gradient is 0)")
    return (f"For the input, the {Ho}×{Wo} dz maps are {dilation}padded with K − 1 zeros on every side and "
            f"correlated with the filters turned by 180° and with input and output channels swapped (a true "
            f"convolution ∗ with W): that gives {ph}×{pw} maps ((H+K−1)×(W+K−1) for an H×W "
            f"{'dilated ' if dilation else ''}dz map), {size}; {border}.")


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
                wref = mk_ref(keys, prefix, "w", (n, m, i, j))
                label = f"w({m},{n},{i},{j}) · x({m},{r},{c})"
                if 0 <= r < H and 0 <= c < W:
                    xv = float(x[m, r, c])
                    terms.append(Term(label, (wv, xv), wv * xv,
                                      (wref, mk_ref(keys, prefix, "x", (m, r, c)))))
                else:
                    npad += 1
                    terms.append(Term(label, (wv, 0.0), 0.0, (wref, None), padding=True,
                                      note="zero padding"))
    if b is not None:
        terms.append(Term(f"b({n})", (float(b[n]),), float(b[n]), (mk_ref(keys, prefix, "b", (n,)),)))
    notes = [f"The filter's top-left corner sits at input row {oy * SH - PH}, column {ox * SW - PW} "
             f"(output position × stride {SH}, {SW} − padding {PH}, {PW})."]
    if npad:
        notes.append(f"{npad} of the {C * KH * KW} window positions lie in the zero padding; "
                     "they are listed as zero terms.")
    return finish(f"Forward convolution: z({n},{oy},{ox})", CONV_FORWARD_EQ,
                  mk_ref(keys, prefix, "z", (n, oy, ox)), terms, value, notes)


def conv_backward_input_terms(dz, w, stride, padding, input_hw, m, iy, ix, *, value=None,
                              keys=None, prefix=()):
    """``dx(m, iy, ix)``: one term per output position that saw this input, over every filter.

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
                                  (mk_ref(keys, prefix, "dz", (n, oy, ox)),
                                   mk_ref(keys, prefix, "w", (n, m, i, j)))))
    n = len(terms) // max(F, 1)
    notes = [f"{plural(n, 'output position')} per filter had this input inside {agrees(n, 'its', 'their')} "
             f"window; {agrees(n, 'it', 'each')} links to it through one filter element"
             + (" of the one filter." if F == 1 else f", over all {plural(F, 'filter')}.")]
    if not terms:
        notes = ["No window covered this input (the stride skipped it), so its gradient is 0."]
        terms = [Term("no window covers this input", (0.0,), 0.0, (None,))]
    return finish(f"Backward to the input: dx({m},{iy},{ix})", CONV_DX_EQ,
                  mk_ref(keys, prefix, "dx", (m, iy, ix)), terms, value, notes)


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
            label = f"dz({n},{oy},{ox}) · x({m},{r},{c})"
            gref = mk_ref(keys, prefix, "dz", (n, oy, ox))
            if 0 <= r < H and 0 <= c < W:
                xv = float(x[m, r, c])
                terms.append(Term(label, (g, xv), g * xv, (gref, mk_ref(keys, prefix, "x", (m, r, c)))))
            else:
                terms.append(Term(label, (g, 0.0), 0.0, (gref, None), padding=True, note="zero padding"))
    notes = ["The filter element is shared by every window, so its gradient adds one term per "
             f"output position: {Ho}×{Wo} = {Ho * Wo} terms."]
    return finish(f"Backward to a filter: dW({m},{n},{i},{j})", CONV_DW_EQ,
                  mk_ref(keys, prefix, "dw", (n, m, i, j)), terms, value, notes)


def conv_backward_bias_terms(dz, n, *, value=None, keys=None, prefix=(), title="db"):
    """``db(n) = Σ dz(n, x, y)``; ``dz (F, Ho, Wo)``."""
    keys = keys or {}
    terms = [Term(f"dz({n},{oy},{ox})", (float(dz[n, oy, ox]),), float(dz[n, oy, ox]),
                  (mk_ref(keys, prefix, "dz", (n, oy, ox)),))
             for oy in range(dz.shape[1]) for ox in range(dz.shape[2])]
    return finish(f"Backward to a bias: db({n})", CONV_DB_EQ, mk_ref(keys, prefix, "db", (n,)),
                  terms, value, ["The bias is added at every output position, so its gradient "
                                 "is the sum of the whole dz map."])

