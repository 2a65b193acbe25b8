"""Two layers that run as one pass: named pairs, built where they meet by :attr:`Network.stages`.

A pair is the one home of a fusion. The layers themselves know nothing of it: each still
keeps, after a pass of the pair, what it keeps after a pass of its own, and the numbers are bit
for bit those of the two layers run one after the other (``tests/test_plans.py``).

:class:`ConvMaxPool`: a convolution whose activation has a compiled code and a 2×2, stride-2
max-pool right after it. Forward, the pool takes each plane of ``y = f(z)`` while the
convolution's pass still has it in cache (:meth:`ConvPlan.forward_pooled`) and keeps its
winners as one-byte codes. Backward, the convolution forms ``dz`` from the pool's ``dy`` and
codes in the pass that lays ``dz`` out for its loops (:meth:`ConvPlan.backward_pooled`), and the
pool's ``dx`` (the convolution's ``dy``) is written only if someone reads it (a
:class:`~.maxpool.PendingUnpool` kept as a deferred value, :class:`~.base.Kept`).
"""
from __future__ import annotations

from .conv import Conv
from .maxpool import MaxPool, PendingUnpool

__all__ = ["ConvMaxPool", "PAIRS", "stages"]


class ConvMaxPool:
    """A convolution and the 2×2, stride-2 max-pool after it, run as one pass."""

    def __init__(self, conv: Conv, pool: MaxPool):
        self.conv, self.pool = conv, pool
        self.layers = (conv, pool)
        self.index = conv.index

    @classmethod
    def of(cls, first, second) -> "ConvMaxPool | None":
        """The pair of these two layers, or None when they do not make one."""
        if (isinstance(first, Conv) and isinstance(second, MaxPool) and first._act_code
                and second.size == (2, 2) and second.stride == (2, 2)):
            return cls(first, second)
        return None

    # ------------------------------------------------------------------ the layer-by-layer path
    def forward(self, x, keep=True):
        conv, pool = self.conv, self.pool
        plan = conv._plan_for(x) if keep else None
        pool_plan = pool._plan_for(plan.y_buffer()) if plan is not None else None
        if pool_plan is None:
            return pool.forward(conv.forward(x, keep), keep)
        z, y, pooled = plan.forward_pooled(x, conv.W, conv.b, conv._act_code, pool_plan)
        conv.x, conv.z, conv.y = x, z, y
        pool.kept_lean(y, pooled, pool_plan)
        return pooled

    def backward(self, dy, need_dx=True):
        conv, pool = self.conv, self.pool
        pool_plan = pool._winners
        pending = pool_plan.pending(dy) if pool_plan is not None else None
        if pending is None:
            return conv.backward(pool.backward(dy), need_dx)
        pool.dy, pool.dx = dy, pending
        plan = conv._activated_plan(dy, conv.x)
        if plan is None:
            return conv.backward(pending.array(), need_dx)
        conv.dy = pending       # written out only when read (the trace, the app)
        conv.dz, conv.dx, conv.dW, conv.db = plan.backward_pooled(pending, conv.z, conv._act_code, conv.x, conv.W,
                                                                  need_dx, conv._gW, conv._gb)
        return conv.dx

    # ------------------------------------------------------------------ a compiled step
    def compile_forward(self, step, x):
        pool_plan = self.pool._make_plan(step.batch)
        pooled = self.conv.compile_forward(step, x, pool_plan)
        if pooled is None:
            return None
        step.saved[self] = pool_plan
        step.keep(self.pool, x=step.saved[self.conv][2], y=pooled, _argmax=None, _winners=pool_plan)
        step.keep(pool_plan, _coded=True)        # (its codes are the step's: argmax is widened anew)
        return pooled

    def compile_backward(self, step, dy, need_dx):
        pool_plan = step.saved[self]
        pending = PendingUnpool(pool_plan, dy)
        step.keep(pending, _dx=None)         # written anew when read after each step
        step.keep(self.pool, dy=dy, dx=pending)
        step.keep(self.conv, dy=pending)
        return self.conv.compile_backward(step, dy, need_dx, codes=pool_plan._codes, pooled=pool_plan._y_buffer())


#: The pairs a network's stages are made of, tried in this order where two layers meet.
PAIRS = (ConvMaxPool,)


def stages(layers) -> list:
    """``layers`` as the stages a training pass runs: a named pair where two layers make one,
    else the layer itself. Each stage has ``index`` (its first layer's), ``layers`` (what it
    runs), ``forward``, ``backward`` and the ``compile_`` methods of a compiled step."""
    out, i = [], 0
    while i < len(layers):
        pair = None
        if i + 1 < len(layers):
            pair = next((p for kind in PAIRS if (p := kind.of(layers[i], layers[i + 1])) is not None), None)
        out.append(pair or layers[i])
        i += 2 if pair else 1
    return out
