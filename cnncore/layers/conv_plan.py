"""A convolution layer's plan (:class:`ConvPlan`): its forward and backward passes for one batch size,
on buffers laid out once (see :mod:`cnncore.plans` for the rules every plan keeps)."""
from __future__ import annotations

import functools

import numpy as np

from .._dispatch import _kernels
from .._threads import threads_for
from ..plans import (_FB, _PB, _Padded, _WideConv, _aligned_zeros, _chw, _count, _dw_from_windows, _dx_from_windows,
                     _expect, _float_dtype, _grown, _out, _round_up, _scratch_planes, _slack,
                     _tap_offsets)
from ..shapes import conv_output_size, pair
from .conv_dx import input_grad_parts, shared_dz

__all__ = ["ConvPlan"]


#: The wide rows' positions per output position above which the filter gradient goes by vectors of
#: filters. Measured (dW alone at batch 64, Xeon, 2 threads; native, avx2 and base builds): at 1.06
#: to 1.14 (cifar's and wide's layers: padding 1, stride 1) the wide rows were 1.1 to 2.4 times faster
#: (wide's first layer on the native build, 0.9 times), at 1.17 and above (lenet's 5×5 windows,
#: tiny's stride 2: 4.6) 1.1 to 4 times slower.
_ROWS_WASTE = 1.15

#: Values of dz below which the gradient pass runs on one thread. Measured (batch 64, Xeon, 2
#: threads, native): lenet's second layer (65,536 values) 161 -> 117 us on one; its first (221,184)
#: as fast on either, wide's and cifar's layers (401,408 and more) 1.3 to 1.9 times faster on two.
_GRAD_PASS_PARALLEL = 131_072


def _by_filters(N: int, F: int, positions: int, wide_positions: int, dt) -> bool:
    """Whether a layer takes its filter gradient by vectors of filters: its ``F`` filters fill whole
    vectors, and the wide rows would compute many products outside every window (``wide_positions``
    of them, rounded up to the row blocks, per ``positions`` outputs), or the batch is 1 (where the
    vectors of filters were as fast or faster on every layer measured)."""
    if F % _kernels.VECTOR_LANES[dt.itemsize]:
        return False
    return N == 1 or _round_up(wide_positions, _PB) > _ROWS_WASTE * positions


class _FilterGradParts:
    """Buffers of ``dw``. By vectors of filters (``by_filters``, see :func:`_by_filters`): ``dz`` laid out
    positions-major (``dzt (N, Ho·Wo, F)``), the input offset of each output position and the
    scratch of the sums of later runs of samples; each multiply-add then reads one input element
    of a window, and none is computed and dropped. Else the dilated ``dz`` in wide rows (zeros
    elsewhere, ``dzw``). And the outputs."""

    def __init__(self, N, F, C, KH, KW, Ho, Wo, Hd, Wd, Wp, SH, SW, dt, shared=lambda: None):
        self.by_filters = _by_filters(N, F, Ho * Wo, Hd * Wp, dt)
        #: the padded dz of dx that ``dzw`` lies in (:func:`.conv_dx.shared_dz`), or None
        self.pad = None
        self.dw = np.empty((F, C, KH, KW), dtype=dt)
        self.db = np.empty(F, dtype=dt)
        if self.by_filters:
            self.dzt = _aligned_zeros((N, Ho * Wo, F), dt)
            self.dz_into = self.dzt.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)
            rows, cols = np.meshgrid(np.arange(Ho) * SH * Wp, np.arange(Wo) * SW, indexing="ij")
            self.pos = (rows + cols).ravel().astype(np.intp)
            runs = -(-N // _kernels.FILTER_GRAD_SAMPLES)
            self.partial = np.empty(max(1, (runs - 1) * F * C * KH * KW), dtype=dt)
            self.dwt = None
            return
        Fr, Lr = _round_up(F, _FB), _round_up(Hd * Wp, _PB)
        self.pad = shared()
        if self.pad is not None:        # each plane's wide rows start at its first element of dz
            start, plane = self.pad.first, self.pad.view[0, 0].size
            self.dzw = self.pad.buf[start:start + N * F * plane].reshape(N, F, plane)[:, :, :Lr]
        else:
            self.dzw = _aligned_zeros((N, Fr, Lr), dt)
        self.dz_into = self.dzw[:, :F, :Hd * Wp].reshape(N, F, Hd, Wp)[:, :, ::SH, :Wd:SW]
        self.dwt = np.empty((Fr, C * KH * KW), dtype=dt) if Fr != F else None


class PendingActivation:
    """``y = f(z)`` of a compiled step's convolution whose pool took each plane of ``y`` from a
    thread's scratch in the convolution's own pass: written (once a step, into the plan's ``y``
    buffer) when read. The step sets ``_y`` back to None after each complete step (as it sets
    the layers' other kept arrays)."""

    def __init__(self, plan: "ConvPlan", z: np.ndarray, act: int):
        self.plan, self.z, self.act = plan, z, act
        self._y = None

    def array(self) -> np.ndarray:
        if self._y is None:
            y = self.plan._own("_y")
            _kernels.conv_activate(self.z, None, y, self.act, threads_for(self.plan._fwd_work))
            self._y = y
        return self._y


class ConvPlan:
    """A convolution layer's forward and backward pass for one batch size.

    ``ConvPlan(batch, in_shape=(C, H, W), filters, kernel=(KH, KW), stride=(SH, SW),
    padding=(PH, PW), dtype)``; ``kernel``, ``stride`` and ``padding`` also take one
    int. Raises ``ValueError``/``TypeError`` for a bad argument and
    :class:`~cnncore.shapes.ShapeError` when the window does not fit.
    """

    def __init__(self, batch, in_shape, filters, kernel, stride=1, padding=0, dtype=np.float32):
        N, (C, H, W), F = _count(batch, "batch"), _chw(in_shape), _count(filters, "filters")
        KH, KW = pair(kernel, "kernel")
        SH, SW = pair(stride, "stride")
        PH, PW = pair(padding, "padding", minimum=0)
        Ho, Wo = conv_output_size((H, W), (KH, KW), (SH, SW), (PH, PW))
        self.dtype = _float_dtype(dtype)
        self.batch = N
        self.in_shape, self.out_shape = (C, H, W), (F, Ho, Wo)
        self.kernel, self.stride, self.padding = (KH, KW), (SH, SW), (PH, PW)
        self.x_shape, self.w_shape, self.z_shape = (N, C, H, W), (F, C, KH, KW), (N, F, Ho, Wo)
        self._taps = C * KH * KW
        self._hd_wd = (Ho - 1) * SH + 1, (Wo - 1) * SW + 1       # dz dilated by the stride
        self._fwd_work = N * F * Ho * Wo * C * KH * KW * SW
        self._bwd_work = N * F * self._hd_wd[0] * self._hd_wd[1] * C * KH * KW
        self._xpad = self._fwd = self._dw = self._dx = None       # laid out on first use
        self._x_in = None                                          # the x the last forward copied
        self._y = None                                             # made by _own on first use
        # scratch of the gradient pass: db's sums over the batch per position; each thread's planes
        # of dz (:meth:`_scratch`)
        self._acc = np.empty((F, Ho * Wo), dtype=self.dtype)
        self._tmp = None

    @staticmethod
    def values_per_image(in_shape, filters: int, kernel, stride, padding) -> int:
        """Values per image that a plan's buffers hold through a training step (each a little
        generously): the padded input, the stride-1 outputs in wide rows, ``z`` and ``y``, the
        ``dz`` the filter gradient reads (dilated in wide rows, or positions-major where the
        filters fill whole vectors: never more), the padded ``dz`` and its wide-row outputs for
        ``dx``, and ``dx``. The memory limits count a convolution by this (``Conv.memory``)."""
        (C, H, W), F = in_shape, filters
        (KH, KW), (SH, SW), (PH, PW) = kernel, stride, padding
        Hp, Wp = H + 2 * PH, W + 2 * PW
        Ho, Wo = (Hp - KH) // SH + 1, (Wp - KW) // SW + 1
        rows, width = Hp + KH - 1, Wp + KW - 1                   # the padded dz of dx, at most
        return (C * Hp * Wp + _round_up(F, _FB) * _round_up((Hp - KH + 1) * Wp, _PB) + 2 * F * Ho * Wo
                + _round_up(F, _FB) * _round_up(((Ho - 1) * SH + 1) * Wp, _PB)
                + F * rows * width + _round_up(C, _FB) * _round_up((rows - KH + 1) * width, _PB) + C * H * W)

    def _input(self) -> _Padded:
        """The zero-padded input, shared by the forward pass and the filter gradient."""
        if self._xpad is None:
            N, C, H, W = self.x_shape
            (PH, PW), KW = self.padding, self.kernel[1]
            self._xpad = _Padded((N, C, H + 2 * PH, W + 2 * PW), self.dtype, _slack(KW),
                                 slice(PH, PH + H), slice(PW, PW + W))
        return self._xpad

    def _forward_parts(self):
        SH, SW = self.stride
        conv = _WideConv(self._input(), self.w_shape[0], *self.kernel, row_step=SH)
        picked = conv.result[:, :, :, ::SW] if SW > 1 else conv.result
        self._fwd = conv, picked, np.empty(self.z_shape, dtype=self.dtype)
        return self._fwd

    def forward(self, x, w, b):
        """``z (N, F, Ho, Wo)`` for ``x (N, C, H, W)``, ``w (F, C, KH, KW)``, ``b (F,)``
        (see :func:`cnncore.kernels.conv2d_forward`)."""
        return self._forward(x, w, b, 0)[0]

    def forward_activated(self, x, w, b, act: int):
        """``(z, y)``: :meth:`forward`'s ``z`` and ``y = f(z)``, made in one pass from the
        loops' outputs; ``act`` is an activation's ``kernel`` code (:mod:`cnncore.activations`).
        With an activation ``z`` is a view of the loops' own outputs (not C-contiguous,
        nothing copied); for code 0 (no activation) ``y`` is ``z`` itself, contiguous."""
        return self._forward(x, w, b, act)

    def forward_pooled(self, x, w, b, act: int, pool: "MaxPoolPlan"):
        """``(z, y, pooled)``: :meth:`forward_activated` (``act`` ≠ 0) with ``y`` max-pooled 2×2,
        stride 2, in the same pass while each plane is in cache; ``pooled`` is the ``pool``
        plan's own output, its winners kept as after its :meth:`MaxPoolPlan.forward_lean`."""
        if act == 0 or not pool._two or pool.x_shape != self.z_shape or pool.dtype != self.dtype:
            raise ValueError("forward_pooled needs an activation and a 2×2, stride-2 pool of z's shape")
        return self._forward(x, w, b, act, pool)

    def _forward(self, x, w, b, act, pool=None):
        dt = self.dtype
        _expect(x, self.x_shape, dt, "x")
        _expect(w, self.w_shape, dt, "w")
        _expect(b, self.z_shape[1:2], dt, "b")
        conv, picked, z = self._fwd or self._forward_parts()
        self._xpad.inner[...] = x
        self._x_in = x
        nt = threads_for(self._fwd_work, compute_bound=True)
        w_rows = w.reshape(self.w_shape[0], self._taps)
        if pool is not None:
            y = self._own("_y")
            pooled, codes = pool.lean_buffers()
            conv.run(w_rows, b, nt, (picked, y.reshape(-1, *y.shape[2:]), act, pooled, codes))
            return picked, y, pooled
        conv.run(w_rows, b, nt)
        if act == 0:
            _kernels.conv_activate(picked, z, z, 0, nt)
            return z, z
        y = self._own("_y")
        _kernels.conv_activate(picked, None, y, act, nt)
        return picked, y

    def compile_forward(self, step, x, w, b, act, pool=None):
        """:meth:`_forward`'s copy, loops and pass as ops of a compiled step (:mod:`cnncore.step`),
        reading ``x`` (an array the step writes first, or its batch): ``(z, y)``, or ``(z, y, pooled)``
        with ``pool``."""
        conv, picked, z = self._fwd or self._forward_parts()
        step.copy(x, self._xpad.inner)
        nt = threads_for(self._fwd_work, compute_bound=True)
        w_rows = w.reshape(self.w_shape[0], self._taps)
        if pool is not None:        # y only in a scratch plane a thread: written when read
            pooled, codes = pool.lean_buffers()
            scratch = _scratch_planes(nt, *self.z_shape[2:], self.dtype)
            conv.compile(step, w_rows, b, nt, (picked, scratch, act, pooled, codes))
            y = PendingActivation(self, picked, act)
            step.keep(y, _y=None)
            return picked, y, pooled
        conv.compile(step, w_rows, b, nt)
        if act == 0:
            self._activate_op(step, picked, z, z, 0, nt)
            return z, z
        y = self._own("_y")
        self._activate_op(step, picked, None, y, act, nt)
        return picked, y

    @staticmethod
    def _activate_op(step, src, z, y, act, nt):
        from ..step import strides4
        step.op("act", nt, act, [src, z, y], strides4(src) + list(y.shape))

    def y_buffer(self):
        """The buffer :meth:`forward_activated` writes ``y`` into (for a pool that takes it)."""
        return self._own("_y")

    def _own(self, name):
        """The plan's own ``z``-shaped buffer ``name`` (made on first use)."""
        a = getattr(self, name, None)
        if a is None:
            a = np.empty(self.z_shape, dtype=self.dtype)
            setattr(self, name, a)
        return a

    def backward(self, dz, x, w, need_dx=True, dw=None, db=None):
        """``(dx or None, dw, db)`` for ``dz`` of the shape :meth:`forward` gives (see
        :func:`cnncore.kernels.conv2d_backward`). ``dw``/``db`` may name C-contiguous
        arrays of the plan's dtype to write the gradients into (a network's flat
        gradient buffer); by default they are the plan's own."""
        _expect(dz, self.z_shape, self.dtype, "dz")
        return self._backward(dz, dz, 0, x, w, need_dx, dw, db)[1:]

    def backward_activated(self, dy, z, act, x, w, need_dx=True, dw=None, db=None):
        """``(dz, dx or None, dw, db)`` from the gradient ``dy`` of ``y = f(z)``: ``dz = dy ⊙ f′(z)``
        is formed in the pass that lays it out for the ``dw`` and ``dx`` loops and sums ``db``
        (``act`` as in :meth:`forward_activated`; ``z`` may have any strides). With an
        activation ``dz`` is a view of the ``dw`` loop's input (not C-contiguous); for
        code 0 it is ``dy``."""
        _expect(dy, self.z_shape, self.dtype, "dy")
        _expect(z, self.z_shape, self.dtype, "z")
        return self._backward(dy, z, act, x, w, need_dx, dw, db)

    def backward_pooled(self, pending, z, act, x, w, need_dx=True, dw=None, db=None):
        """:meth:`backward_activated` for a layer whose ``y = f(z)`` went into a 2×2, stride-2
        max-pool: ``pending`` (:class:`PendingUnpool`) holds the pool's gradient and winners,
        and ``dz`` is formed from them in the same pass, never writing the pool's ``dx``.
        ``dz`` is a view of the ``dw`` loop's input."""
        N, F, Ho, Wo = self.z_shape
        _expect(pending.dy, (N, F, Ho // 2, Wo // 2), self.dtype, "the pool's dy")
        _expect(pending.codes, (N, F, Ho // 2, Wo // 2), np.dtype(np.uint8), "the pool's codes")
        _expect(pending.pooled, (N, F, Ho // 2, Wo // 2), self.dtype, "the pool's output")
        _expect(z, self.z_shape, self.dtype, "z")
        return self._backward(pending.dy, z, act, x, w, need_dx, dw, db, pending.codes, pending.pooled)

    def _backward(self, dy, z, act, x, w, need_dx, dw, db, codes=None, pooled=None):
        dt = self.dtype
        _expect(x, self.x_shape, dt, "x")
        _expect(w, self.w_shape, dt, "w")
        parts = self._dw or self._filter_grad_parts()
        dw = parts.dw if dw is None else _out(dw, self.w_shape, dt, "dw")
        db = parts.db if db is None else _out(db, self.z_shape[1:2], dt, "db")
        nt = threads_for(self._bwd_work, compute_bound=True)
        # dz, written where the dw and dx loops read it, and db: one pass
        _kernels.conv_grad_prologue(dy, codes, pooled, z, act, *self._dz_targets(parts, need_dx),
                                    self._acc, self._scratch(nt), db, self._grad_pass_threads(nt))
        dz = parts.dz_into if act or codes is not None else dy
        self._filter_grad(parts, dz, x, dw, nt)
        dx = self._input_grad(dz, w, nt) if need_dx else None
        return dz, dx, dw, db

    def compile_backward(self, step, dy, z, act, w, need_dx, dw, db, codes=None, pooled=None):
        """:meth:`_backward` (after :meth:`compile_forward`, so ``x`` is in the padded buffer) as ops
        of a compiled step: ``(dz, dx or None)``; ``dw`` and ``db`` are written where given."""
        from ..step import strides4
        parts = self._dw or self._filter_grad_parts()
        nt = threads_for(self._bwd_work, compute_bound=True)
        d1, d2 = self._dz_targets(parts, need_dx)
        step.op("prologue", self._grad_pass_threads(nt), act, [dy, codes, z, d1, d2, self._acc, self._scratch(nt), db, pooled],
                strides4(z) + strides4(d1) + (strides4(d2) if d2 is not None else [0] * 4) + list(self.z_shape))
        dz = parts.dz_into if act or codes is not None else dy
        xpad = self._input()
        N, C, Hp, Wp = xpad.view.shape
        F = self.w_shape[0]
        dwt = dw.reshape(F, self._taps) if parts.dwt is None else parts.dwt
        off = _tap_offsets(C, *self.kernel, Hp, Wp)
        if parts.by_filters:
            step.op("dwf", nt, 0, [xpad.buf, off, parts.pos, parts.dzt, dwt, parts.partial],
                    [C * Hp * Wp, off.size, parts.pos.size, N, F, self.kernel[1]])
        else:
            _, Fr, Lr = parts.dzw.shape
            gs, gf = (s // parts.dzw.itemsize for s in parts.dzw.strides[:2])
            step.op("dw", nt, 0, [xpad.buf, off, parts.dzw, dwt],
                    [C * Hp * Wp, off.size, C, Hp * Wp, N, Fr, Lr, gs, gf])
            if parts.dwt is not None:
                step.copy(parts.dwt[:F].reshape(self.w_shape), dw)
            step.exact(dw, xpad.buf)
        if not need_dx:
            return dz, None
        dx = self._dx.compile(step, w, nt)
        step.exact(w, dx)
        return dz, dx

    def _grad_pass_threads(self, nt: int) -> int:
        """Threads of the gradient pass (at most the layer's ``nt``): one for few values, but every one
        for a single sample, whose forward pass shared its planes out between the threads: on one
        thread the pass read half of z from the other core (cifar at batch 1, avx2 kernels, 2 cores of
        an AMD EPYC: the two passes 17 + 20 µs on one thread, 11 + 16-19 on two; the step 204 -> 195 µs
        in 3 alternating rounds; wide, lenet and tiny unchanged)."""
        return nt if np.prod(self.z_shape) >= _GRAD_PASS_PARALLEL or self.z_shape[0] == 1 else 1

    def _scratch(self, nt: int) -> np.ndarray:
        """Each of ``nt`` threads' planes of dz in the gradient pass (grown, never shrunk: a compiled
        step keeps the one it was built with)."""
        self._tmp = _grown(self._tmp, _kernels.prologue_scratch(*self.z_shape[2:], nt), self.dtype)
        return self._tmp

    def _dz_targets(self, parts, need_dx):
        """Where the gradient pass writes dz: the dw loop's layout, and the dx loop's (None where dx
        is not wanted or reads the same dz)."""
        d1 = self._dz_target(parts.dz_into)
        if not need_dx:
            return d1, None
        dpad = (self._dx or self._input_grad_parts()).dpad
        return d1, None if dpad is parts.pad else self._dz_target(dpad.inner)

    def _dz_target(self, view):
        """A view the gradient pass writes ``dz`` into: it must have ``dz``'s shape."""
        if view.shape != self.z_shape or view.dtype != self.dtype:
            raise RuntimeError("cnncore: a dz layout does not match the plan")
        return view

    @functools.cached_property
    def dz_pad(self):
        """dz padded for dx where the filter gradient reads it too (:func:`.conv_dx.shared_dz`), else None."""
        return shared_dz(self)

    def _filter_grad_parts(self):
        N, C, H, W = self.x_shape
        F, _, KH, KW = self.w_shape
        Wp = W + 2 * self.padding[1]
        self._dw = _FilterGradParts(N, F, C, KH, KW, *self.z_shape[2:], *self._hd_wd, Wp, *self.stride, self.dtype,
                                    shared=lambda: self.dz_pad)
        return self._dw

    def _filter_grad(self, parts, dz, x, dw, nt):
        """dw: the padded input correlated with the dilated dz, laid out in wide rows
        (``dz`` is already in ``parts.dz_into``)."""
        xpad = self._input()
        if x is not self._x_in:       # (the forward pass left this x in the padded buffer)
            xpad.inner[...] = x
        N, C, Hp, Wp = xpad.view.shape
        F, _, KH, KW = self.w_shape
        dwt = dw.reshape(F, self._taps) if parts.dwt is None else parts.dwt
        off = _tap_offsets(C, KH, KW, Hp, Wp)
        if parts.by_filters:        # (every product a window's: a NaN or inf reaches only its taps)
            _kernels.conv_filter_grad_vf(xpad.buf, C * Hp * Wp, off, KW, parts.pos, parts.dzt, dwt, parts.partial, nt)
            return
        _kernels.conv_filter_grad(xpad.buf, C * Hp * Wp, off, C, Hp, Wp, parts.dzw, dwt, nt)
        if parts.dwt is not None:
            dw[...] = parts.dwt[:F].reshape(self.w_shape)
        if not _kernels.all_finite(dw.reshape(-1)) and not _kernels.all_finite(xpad.buf):
            # The wide rows multiply input pixels outside every window by zero, and
            # 0·NaN is NaN: recompute from the windows alone, so a NaN or inf in x
            # reaches exactly the taps that saw it.
            dw[...] = _dw_from_windows(dz, xpad.view, KH, KW, *self.stride)

    def _input_grad(self, dz, w, nt):
        """dx by the layer's dx parts (:mod:`.conv_dx`; ``dz`` is already in ``dpad.inner``)."""
        parts = self._dx or self._input_grad_parts()
        dx = parts.run(w, nt)
        if not _kernels.all_finite(w.reshape(-1)) and not _kernels.all_finite(dx.reshape(-1)):
            with np.errstate(invalid="ignore", over="ignore"):
                dx[...] = _dx_from_windows(dz, w, self.x_shape, self.padding, self.stride)
        return dx

    def _input_grad_parts(self):
        self._dx = input_grad_parts(self)
        return self._dx
