"""Max pooling: ``y`` is the largest ``x`` in each window; ``argmax`` records where it was
(flat index ``row·W + column`` in its H×W plane) so the backward pass can send ``dy`` there."""
from __future__ import annotations

import numpy as np

from .. import kernels
from .._dispatch import _kernels
from .._threads import threads_for
from ..plans import PoolPlan, _expect
from ..plurals import agrees, plural
from ..pseudocode import MAXPOOL_LOOPS
from ..shapes import pair
from ..terms import Term, finish, mk_ref, num, windows_covering
from .base import StepText, Teaching, shape_size, shape_text
from .pooling import Pool
from .words import pair_text, window_fields

__all__ = ["MaxPool", "MaxPoolPlan", "PendingUnpool", "route_to_winners", "maxpool_forward_terms", "maxpool_backward_terms"]


class MaxPool(Pool):
    """``y(m, r, c) = max`` of the window; backward: the winner gets ``dy``, the rest 0."""

    type = "maxpool"
    title = "Max pooling"
    fields = window_fields("largest value")
    records = ("argmax",)
    positions = ("argmax",)
    quiz_tags = {"forward": ("maxpool backward",), "backward": ("maxpool backward",)}
    teaching = Teaching(predict={"forward": ("pool",), "backward": ("winner",)}, loops=MAXPOOL_LOOPS,
                        examples=("pooling",))

    @classmethod
    def memory(cls, spec, in_shape, out_shape):
        return super().memory(spec, in_shape, out_shape) + 2 * shape_size(out_shape)     # argmax, int64

    @classmethod
    def forward_step(cls, spec, s_in, s_out, is_last):
        kh, kw = spec["size"]
        eq = ("y(m,r,c) = max over i,j of x(m, rS+i, cS+j);  argmax(m,r,c) = the winning position   "
              f"[window {kh}×{kw}, S = {pair_text(spec['stride'])}]")
        ex = (f"Every {kh}×{kw} window of each map is replaced by its largest value, "
              f"shrinking {shape_text(s_in)} to {s_out[1]}×{s_out[2]}. The position of each winner is "
              f"remembered in argmax for the backward pass. There are no weights here.")
        return StepText(eq, ex, ("x", "y", "argmax"))

    @classmethod
    def backward_step(cls, spec, s_in, s_out, has_dx):
        eq = "dx(m, argmax(m,r,c)) += dy(m,r,c);  every other dx is 0"
        ex = ("Only the input that won a window influenced the output, so the whole gradient of that output "
              "goes back to the winner's position and the other positions get zero.")
        return StepText(eq, ex, ("dy", "argmax") + (("dx",) if has_dx else ()))

    @classmethod
    def explain(cls, spec, part, index, arrays, keys):
        size, S = spec["size"], spec["stride"]
        if part in ("y", "argmax"):
            bd = maxpool_forward_terms(arrays("x"), size, S, *index, keys=keys)
            if part == "argmax":
                W = arrays("x").shape[-1]
                where = int(arrays("argmax")[tuple(index)])
                bd.notes.append("argmax holds the winner's flat position row·W + column in its map.")
                bd.notes.append(f"Here argmax = {where} = row {where // W} · {W} + column {where % W}.")
            return bd
        if part == "dx":
            return maxpool_backward_terms(arrays("dy"), arrays("argmax"), arrays("x").shape[1:], size, S, *index,
                                          keys=keys)
        return None

    @classmethod
    def torch_modules(cls, spec, in_shape):
        return (f"nn.MaxPool2d({cls.torch_window(spec)})",)

    @classmethod
    def onnx_nodes(cls, spec, in_shape, graph, x, params):
        return graph.node("MaxPool", [x], **cls.onnx_window(spec))

    def _make_plan(self, batch):
        return MaxPoolPlan(batch, self.in_shape, self.size, self.stride, self.dtype)

    @property
    def argmax(self):
        """Where each window's winner was (flat ``row·W + column``, int64); after a training
        pass the plan widens it from its one-byte codes on the first read."""
        if self._argmax is None and self._winners is not None:
            self._argmax = self._winners.winners()
        return self._argmax

    @argmax.setter
    def argmax(self, value):
        self._argmax, self._winners = value, None

    def kept_lean(self, x, y, plan):
        """Keep what a lean pass of ``plan`` made (its own, or a convolution's in :class:`~.pairs.ConvMaxPool`)."""
        self.x, self.y, self.argmax = x, y, None
        self._winners = plan          # argmax on demand

    def forward(self, x, keep=True):
        plan = self._plan_for(x) if keep else None
        if plan is not None:
            y = plan.forward_lean(x)
            self.kept_lean(x, y, plan)
            return y
        y, argmax = kernels.maxpool2d_forward(x, self.size, self.stride)
        if keep:
            self.x, self.y, self.argmax = x, y, argmax
        return y

    def _planned_backward(self, plan, dy):
        # the plan's own winners (codes or argmax) unless the argmax came from elsewhere
        return plan.backward(dy, None if self._winners is plan else self.argmax)

    def _checked_backward(self, dy):
        return kernels.maxpool2d_backward(dy, self.argmax, self.x.shape)


# ----------------------------------------------------------------------------- the plan

def route_to_winners(dy, argmax, dx, nt: int):
    """``dx`` (zeroed) ``+= dy`` at each window's winner; a ``ValueError`` for an
    ``argmax`` outside the plane (the kernel skips those, so nothing is written out of bounds)."""
    bad = _kernels.maxpool_backward(dy, argmax, dx, nt)
    if bad:
        H, W = dx.shape[2:]
        raise ValueError(f"argmax holds {bad} indices outside the {H}×{W} input plane "
                         f"(valid: 0 to {H * W - 1})")
    return dx


class MaxPoolPlan(PoolPlan):
    """Max pooling for one batch size: ``forward(x) -> (y, argmax)``, ``backward(dy) -> dx``
    (routing ``dy`` by the winners of the last forward pass). ``forward_lean(x) -> y`` keeps
    the 2×2, stride-2 winners as one-byte codes and widens them to ``argmax`` only when
    :meth:`winners` is asked."""

    def __init__(self, batch, in_shape, size, stride=None, dtype=np.float32):
        super().__init__(batch, in_shape, size, stride, dtype)
        self._argmax = self._codes = None
        self._two = self.size == (2, 2) and self.stride == (2, 2)
        self._coded = False          # the last forward pass left codes (not yet argmax)
        self.passes = 0              # forward passes so far (a PendingUnpool's winners expire)

    def forward(self, x):
        _expect(x, self.x_shape, self.dtype, "x")
        y = self._y_buffer()
        (KH, KW), (SH, SW) = self.size, self.stride
        _kernels.maxpool_forward(x, y, self._argmax_buffer(), KH, KW, SH, SW, threads_for(self._work))
        self._coded = False
        self.passes += 1
        return y, self._argmax

    def _argmax_buffer(self):
        if self._argmax is None:
            self._argmax = np.empty(self.y_shape, dtype=np.int64)
        return self._argmax

    def forward_lean(self, x):
        """``y``; the winners stay inside the plan (for :meth:`backward` and :meth:`winners`)."""
        if not self._two:
            return self.forward(x)[0]
        _expect(x, self.x_shape, self.dtype, "x")
        y = self._y_buffer()
        if self._codes is None:
            self._codes = np.empty(self.y_shape, dtype=np.uint8)
        _kernels.maxpool2x2_codes(x, y, self._codes, threads_for(self._work))
        self._coded = True
        self.passes += 1
        return y

    def lean_buffers(self):
        """``(y, codes)`` for a pass that pools into this plan (:meth:`ConvPlan.forward_pooled`):
        afterwards the plan holds that pass's winners as after :meth:`forward_lean`."""
        if self._codes is None:
            self._codes = np.empty(self.y_shape, dtype=np.uint8)
        self._coded = True
        self.passes += 1
        return self._y_buffer(), self._codes

    def pending(self, dy):
        """The ``dx`` for ``dy`` as a :class:`PendingUnpool` (None unless the last forward pass
        was :meth:`forward_lean`'s 2×2 one): a convolution before the pool forms its ``dz``
        from it, and ``dx`` itself is written only if someone reads it."""
        if not (self._two and self._coded) or dy.shape != self.y_shape or dy.dtype != self.dtype \
                or not dy.flags.c_contiguous:
            return None
        return PendingUnpool(self, dy)

    def winners(self):
        """The ``argmax`` (flat ``row·W + col``, int64) of the last forward pass."""
        if self._coded:       # widen the codes: window corner + (0, 1, W, W + 1)[code]
            W = self.x_shape[3]
            Ho, Wo = self.y_shape[2:]
            corner = (2 * W * np.arange(Ho)[:, None] + 2 * np.arange(Wo)).astype(np.int64)
            np.add(np.array([0, 1, W, W + 1], dtype=np.int64)[self._codes], corner, out=self._argmax_buffer())
            self._coded = False
        return self._argmax

    def backward(self, dy, argmax=None):
        """``dx``; ``argmax`` defaults to the winners of the last forward pass."""
        _expect(dy, self.y_shape, self.dtype, "dy")
        own = argmax is None or argmax is self._argmax
        if own and self._argmax is None and self._codes is None:
            raise ValueError("backward needs the argmax of a forward pass first")
        if not own:
            _expect(argmax, self.y_shape, np.dtype(np.int64), "argmax")
        nt = threads_for(self._work)
        if own and self._two:
            # the winners our forward pass found each lie in their own window: write every
            # dx once (the same numbers as += into zeros) instead of zeroing, then routing
            codes = self._codes if self._coded or self._argmax is None else None
            _kernels.maxpool2x2_backward(dy, None if codes is not None else self._argmax, codes,
                                         self._dx_buffer(), nt)
            return self._dx
        return route_to_winners(dy, self._argmax if own else argmax, self._dx_zeroed(), nt)


class PendingUnpool:
    """The ``dx`` of a 2×2 max-pool's backward pass, not written yet: the pool's gradient
    ``dy``, its winners' ``codes`` and its output ``pooled`` (their values). :meth:`array` writes
    ``dx`` (once) while the plan still holds those winners, that is until its next forward pass;
    after that it gives None."""

    def __init__(self, plan: MaxPoolPlan, dy):
        self.plan, self.dy, self.codes, self.pooled = plan, dy, plan._codes, plan._y_buffer()
        self._passes = plan.passes
        self._dx = None

    def array(self):
        if self._dx is None and self.plan.passes == self._passes:
            self._dx = self.plan.backward(self.dy)
        return self._dx


# ----------------------------------------------------------------------------- per element

def maxpool_forward_terms(x, size, stride, ch, oy, ox, *, value=None, keys=None, prefix=()):
    """``y(ch, oy, ox) = max`` of its window; every window element is a term, the winner ``chosen``.

    ``x (C, H, W)``. Ties go to the first element in row-major order (as the kernels do).
    """
    keys = keys or {}
    KH, KW = pair(size, "size")
    SH, SW = pair(stride if stride is not None else (KH, KW), "stride")
    win = x[ch, oy * SH:oy * SH + KH, ox * SW:ox * SW + KW]
    k = int(np.argmax(win))
    terms = []
    for a in range(KH):
        for bb in range(KW):
            r, c = oy * SH + a, ox * SW + bb
            v = float(x[ch, r, c])
            terms.append(Term(f"x({ch},{r},{c})", (v,), v, (mk_ref(keys, prefix, "x", (ch, r, c)),),
                              chosen=(a * KW + bb == k)))
    wr, wc = oy * SH + k // KW, ox * SW + k % KW
    notes = [f"The window starts at row {oy * SH}, column {ox * SW}; the winner is "
             f"x({ch},{wr},{wc}) = {num(x[ch, wr, wc])}, and its position is remembered "
             "(pidx) for the backward pass."]
    if int((win == win.flat[k]).sum()) > 1:
        notes.append("Several entries share the largest value: the first of them in reading order (row by row) "
                     "is recorded as the winner and gets the whole gradient; the others get 0.")
    return finish(f"Max pooling: y({ch},{oy},{ox})", "y(m,r,c) = max over i,j of x(m, rS+i, cS+j)",
                  mk_ref(keys, prefix, "y", (ch, oy, ox)), terms, value, notes, combine="max")


def maxpool_backward_terms(dy, argmax, input_hw, size, stride, ch, iy, ix, *, value=None,
                           keys=None, prefix=()):
    """``dx(ch, iy, ix)``: ``+=`` the ``dy`` of every window whose winner (``argmax``) is this pixel.

    ``dy, argmax (C, Ho, Wo)``; windows that contain the pixel but chose another get a 0 factor.
    """
    keys = keys or {}
    H, W = input_hw
    KH, KW = pair(size, "size")
    SH, SW = pair(stride if stride is not None else (KH, KW), "stride")
    flat = iy * W + ix
    terms = []
    for oy, ox in windows_covering(H, W, KH, KW, SH, SW, iy, ix):
        won = int(argmax[ch, oy, ox]) == flat
        g = float(dy[ch, oy, ox])
        wr, wc = divmod(int(argmax[ch, oy, ox]), W)
        terms.append(Term(f"dy({ch},{oy},{ox}) · " + ("[winner]" if won else "[lost]"), (g, 1.0 if won else 0.0),
                          g if won else 0.0, (mk_ref(keys, prefix, "dy", (ch, oy, ox)), None),
                          chosen=won,
                          note="this pixel won the window" if won else f"the window chose ({wr},{wc})"))
    won, n = sum(t.chosen for t in terms), len(terms)
    result = (f"it won {won} of them" if n != 1 else "it won it" if won else "it did not win it")
    notes = [f"{plural(n, 'window')} {agrees(n, 'contains', 'contain')} this pixel; {result}."
             + (" Gradients add up (+=) where overlapping windows chose it." if won > 1 else "")]
    if not terms:
        terms = [Term("no window covers this pixel", (0.0,), 0.0, (None,))]
    return finish(f"Max pooling backward: dx({ch},{iy},{ix})",
                  "dx(m,r′,c′) += dy(m,r,c) if (r′,c′) = argmax(m,r,c), else 0",
                  mk_ref(keys, prefix, "dx", (ch, iy, ix)), terms, value, notes)
