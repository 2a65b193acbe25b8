"""Prepared kernel calls: check once, then run lean. What every layer type's plan shares.

Each layer type's plan lives beside its layer (:class:`~cnncore.layers.conv_plan.ConvPlan`,
:class:`~cnncore.layers.maxpool.MaxPoolPlan`, :class:`~cnncore.layers.dense.DensePlan`, …); this
module holds what they share: the checks, the aligned and padded buffers, the wide-row
convolution. A plan is made for one layer shape: batch size, input shape ``(C, H, W)``,
window, stride, padding and dtype. Its constructor validates all of them and
derives every shape once, lays out the padded buffers and the filter taps'
offsets, and owns the output and scratch buffers. Its calls then only check
what memory safety needs and run the loop nests of :mod:`cnncore._kernels`::

    plan = ConvPlan(64, (1, 28, 28), 8, (5, 5), (1, 1), (0, 0), np.float32)
    z = plan.forward(x, W, b)                       # x (64, 1, 28, 28) float32
    dx, dW, db = plan.backward(dz, x, W)

The checked functions of :mod:`cnncore.kernels` validate their arguments,
build a plan and run it, so there is one implementation and a plan's results
are bit for bit those of the checked functions.

Rules for callers:

* An array a plan returns is one of its own buffers, valid until the plan's
  next call of the same kind: ``forward`` overwrites what the last ``forward``
  returned, ``backward`` what the last ``backward`` returned (so ``z`` from a
  forward pass is still there after the backward pass of the same step).
  Copy what you keep longer.
* ``backward`` given the very array the last ``forward`` read takes ``x`` as
  ``forward`` copied it (change it in between and pass a copy to have the new
  values read).
* One thread at a time per plan. Code that may run while another thread uses
  a plan (``Network.predict``, ``forward(keep=False)``) calls the checked
  functions, which build a plan of their own with fresh buffers.
* What a call still checks, because a wrong array would make the unchecked
  loops read or write out of bounds: the shape and dtype of every array
  argument (one tuple and one dtype comparison each). Contiguity is checked by
  the kernels' typed memoryviews (a ``ValueError``) or does not matter
  because the call copies the array into its own padded buffer.
"""
from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from ._dispatch import _kernels
from ._threads import threads_for
from .shapes import conv_output_size, pair

__all__ = ["PoolPlan"]

# Block sizes of the wide-row loops in _kernels.pyx and _microkernels.h: tiles of
# FB filters; wide rows padded to a multiple of PB positions.
_FB, _PB = 4, 16


# ---------------------------------------------------------------- checking, once

def _count(value, name: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def _chw(in_shape) -> tuple[int, int, int]:
    try:
        dims = tuple(in_shape)
    except TypeError:
        dims = ()
    if len(dims) != 3:
        raise ValueError(f"in_shape must be 3 ints (C, H, W), got {in_shape!r}")
    return tuple(_count(d, "every size of in_shape") for d in dims)


def _float_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _expect(a, shape: tuple, dtype: np.dtype, name: str) -> None:
    """The one check per array and call: the plan's loops index by these sizes."""
    if a.shape != shape or a.dtype != dtype:
        raise ValueError(f"{name} must be a {dtype} array of shape {shape} for this plan, "
                         f"got {a.dtype} {a.shape}")


# ---------------------------------------------------------------- layout

def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def _slack(KW: int) -> int:
    return KW + _PB


_ALIGN = 64     # bytes: a cache line, and the widest vector the tiles load


def _scratch_planes(count: int, H: int, W: int, dt) -> np.ndarray:
    """``count`` scratch planes ``(H, W)``, each with 128 bytes of room after it that no other
    plane uses (a 2×2 pool's vector tiles read up to two vectors past a plane's end)."""
    dt = np.dtype(dt)
    pitch = _round_up(H * W + 2 * _ALIGN // dt.itemsize, _ALIGN // dt.itemsize)
    buf = _aligned_zeros((count, pitch), dt)
    return np.lib.stride_tricks.as_strided(buf, (count, H, W), (pitch * dt.itemsize, W * dt.itemsize, dt.itemsize))


def _grown(buf, shape, dt) -> np.ndarray:
    """``buf`` where its first axis already reaches ``shape[0]``, else a new buffer of ``shape``
    (per-thread scratch: grown, never shrunk, for a compiled step keeps the one it was built with)."""
    if buf is not None and buf.shape[0] >= shape[0]:
        return buf
    return _aligned_zeros(shape, dt)


def _aligned_zeros(shape, dt, at: int = 0) -> np.ndarray:
    """Zeros whose flat element ``at`` starts on a cache line (the first, by default). NumPy's
    own large buffers start 16 bytes past one, which makes every vector load and store of a
    wide row straddle two lines (measured: the filter gradient 25–40% slower)."""
    dt = np.dtype(dt)
    nbytes = math.prod(shape) * dt.itemsize
    raw = np.zeros(nbytes + _ALIGN, dtype=np.uint8)
    start = -(raw.ctypes.data + at * dt.itemsize) % _ALIGN
    return raw[start:start + nbytes].view(dt).reshape(shape)


@functools.lru_cache(maxsize=64)
def _tap_offsets(C: int, KH: int, KW: int, Hp: int, Wp: int) -> np.ndarray:
    """Offset ``c·Hp·Wp + i·Wp + j`` of every filter tap (c, i, j), in row-major order."""
    c, i, j = np.meshgrid(np.arange(C), np.arange(KH), np.arange(KW), indexing="ij")
    off = (c * Hp * Wp + i * Wp + j).ravel().astype(np.intp)
    off.flags.writeable = False
    return off


class _Padded:
    """``(N, C, Hp, Wp)`` planes back to back in one zeroed flat buffer, plus ``slack``
    trailing zeros the wide-row tiles may read past the last plane. Data goes into
    ``inner`` (``rows`` × ``cols`` of every plane); everything else stays zero. The buffer's
    element ``at`` starts on a cache line."""

    def __init__(self, shape, dt, slack: int, rows: slice, cols: slice, at: int = 0):
        size = math.prod(shape)
        self.buf = _aligned_zeros((size + slack,), dt, at)
        self.view = self.buf[:size].reshape(shape)
        self.inner = self.view[:, :, rows, cols]
        #: the flat index in ``buf`` of ``inner``'s first element
        self.first = (rows.start or 0) * shape[3] + (cols.start or 0)


class _WideConv:
    """'Valid' convolution of a :class:`_Padded` input with ``F`` filters of ``KH×KW`` taps at
    column stride 1, laid out in wide rows; ``result`` is the ``(N, F, Ho, Wo)`` view of the
    outputs. With ``row_step`` S > 1 only every S-th output row is computed, a run of wide-row
    positions a row (a stride of S keeps no other). ``rows`` is an ``(F, C·KH·KW)`` weight buffer
    when the filters do not fill whole blocks of ``_FB`` (or ``own_weights``), else ``None``."""

    def __init__(self, src: _Padded, F: int, KH: int, KW: int, own_weights: bool = False,
                 cols: int | None = None, row_step: int = 1):
        N, C, Hp, Wp = src.view.shape
        dt = src.buf.dtype
        # cols: the columns of each wide row kept in result (more than Wp − KW + 1 when
        # the input's rows share their zero padding, see layers/conv_dx.py)
        Ho, Wo = (Hp - KH) // row_step + 1, cols or Wp - KW + 1
        run = _round_up(Ho * Wp, _PB) if row_step == 1 else _round_up(Wp, _PB)
        self.runs, self.pitch = (1, 0) if row_step == 1 else (Ho, row_step * Wp)
        Fr, Lr = _round_up(F, _FB), self.runs * run
        self.src, self.sample = src.buf, C * Hp * Wp
        self.off = _tap_offsets(C, KH, KW, Hp, Wp)
        # the last tile reads up to here: the slack must cover it (see _slack)
        if (N - 1) * C * Hp * Wp + (self.runs - 1) * self.pitch + self.off[-1] + run > src.buf.size:
            raise RuntimeError("cnncore: input buffer too short for the wide-row tiles")
        padded = Fr != F or own_weights       # zero rows fill the last block of filters
        self.wt = np.zeros((Fr, C * KH * KW), dtype=dt) if padded else None
        self.rows = self.wt[:F] if padded else None
        self.bias = np.zeros(Fr, dtype=dt)
        self.F = F
        self.out = _aligned_zeros((N, Fr, Lr), dt)
        if row_step == 1:
            rows = self.out[:, :F, :Ho * Wp].reshape(N, F, Ho, Wp)
        else:
            rows = self.out[:, :F].reshape(N, F, Ho, run)
        self.result = rows[:, :, :, :Wo]

    def run(self, wt, b, nt: int, pool=None):
        """``wt (F, C·KH·KW)`` (may be ``rows``, already filled), ``b (F,)`` or ``None`` for 0.
        ``pool``: ``(z, y, act, pooled, codes)`` to pass each block's planes of ``z`` (a view of
        ``result``) through the activation and a 2×2 max-pool while they are in cache (see
        :func:`cnncore._kernels.conv_wide_pooled`)."""
        if self.wt is not None:
            if wt is not self.rows:
                self.rows[...] = wt
            wt = self.wt
        if b is not None:
            if self.F == self.bias.shape[0]:
                bias = b
            else:
                self.bias[:self.F] = b
                bias = self.bias
        else:
            bias = self.bias
        if pool is None:
            _kernels.conv_wide(self.src, self.sample, self.off, wt, bias, self.out, nt, self.runs, self.pitch)
        else:
            _kernels.conv_wide_pooled(self.src, self.sample, self.off, wt, bias, self.out, *pool, nt, self.runs,
                                      self.pitch)
        return self.result

    def compile(self, step, wt, b, nt: int, pool=None):
        """:meth:`run`'s copies and loop as ops of a compiled step (:class:`cnncore.step.StepBuilder`)."""
        if self.wt is not None:
            if wt is not self.rows:
                step.copy(wt, self.rows)
            wt = self.wt
        bias = self.bias
        if b is not None:
            if self.F == self.bias.shape[0]:
                bias = b
            else:
                step.copy(b, self.bias[:self.F])
        N, Fr, Lr = self.out.shape
        sizes = [self.sample, self.off.size, N, Fr, Lr]
        if pool is None:
            step.op("conv", nt, 0, [self.src, self.off, wt, bias, self.out], sizes + [self.runs, self.pitch])
            return self.result
        z, y, act, pooled, codes = pool
        keeps_y = _kernels.check_conv_pooled(self.out, z, y, act, pooled, codes, nt)
        from .step import strides4
        step.op("convpool", nt, act, [self.src, self.off, wt, bias, self.out, y, pooled, codes],
                sizes + strides4(z) + [int(keeps_y)] + list(z.shape[1:]) + [self.runs, self.pitch,
                                                                             y.strides[0] // y.itemsize])
        return self.result


def _dw_from_windows(dz, xp, KH, KW, SH, SW):
    """``dw`` summed over the forward windows only (NumPy; the exact path for non-finite inputs)."""
    N, F, Ho, Wo = dz.shape
    win = np.lib.stride_tricks.sliding_window_view(xp, (KH, KW), axis=(2, 3))
    win = win[:, :, :(Ho - 1) * SH + 1:SH, :(Wo - 1) * SW + 1:SW]        # (N, C, Ho, Wo, KH, KW)
    return np.ascontiguousarray(np.einsum("nfyx,ncyxij->fcij", dz, win))


def _dx_from_windows(dz, w, x_shape, padding, stride):
    """``dx`` as the sum over the forward windows only (NumPy; the exact path for a non-finite
    ``w``: the fast path convolves zero-padded ``dz`` with ``w``, and 0·inf is NaN everywhere)."""
    N, C, H, W = x_shape
    KH, KW = w.shape[2:]
    (PH, PW), (SH, SW) = padding, stride
    Ho, Wo = dz.shape[2:]
    dxp = np.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=dz.dtype)
    for i in range(KH):
        for j in range(KW):
            dxp[:, :, i:i + (Ho - 1) * SH + 1:SH, j:j + (Wo - 1) * SW + 1:SW] += np.einsum(
                "nfyx,fc->ncyx", dz, w[:, :, i, j])
    return dxp[:, :, PH:PH + H, PW:PW + W]


def _out(a, shape, dt, name):
    """An output array given by the caller: written through a reshaped view, so it must be contiguous."""
    _expect(a, shape, dt, name)
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    return a


class PoolPlan:
    """Shared set-up of the pooling plans: ``stride`` defaults to ``size``."""

    def __init__(self, batch, in_shape, size, stride=None, dtype=np.float32):
        N, (C, H, W) = _count(batch, "batch"), _chw(in_shape)
        KH, KW = pair(size, "size")
        SH, SW = pair(stride if stride is not None else (KH, KW), "stride")
        Ho, Wo = conv_output_size((H, W), (KH, KW), (SH, SW), 0)
        self.dtype = _float_dtype(dtype)
        self.batch = N
        self.in_shape, self.out_shape = (C, H, W), (C, Ho, Wo)
        self.size, self.stride = (KH, KW), (SH, SW)
        self.x_shape, self.y_shape = (N, C, H, W), (N, C, Ho, Wo)
        self._work = N * C * H * W
        self._y = self._dx = None                 # allocated on first use

    def _y_buffer(self):
        if self._y is None:
            self._y = np.empty(self.y_shape, dtype=self.dtype)
        return self._y

    def _dx_zeroed(self):
        if self._dx is None:
            self._dx = np.zeros(self.x_shape, dtype=self.dtype)
        else:
            self._dx.fill(0)
        return self._dx

    def _dx_buffer(self):
        if self._dx is None:
            self._dx = np.empty(self.x_shape, dtype=self.dtype)
        return self._dx
