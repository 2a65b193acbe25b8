"""Public, checked entry points to the convolution and pooling kernels.

Each function validates its arguments (ndim, dtype, channel agreement, every
shape relation, stride/size/padding ranges), converts arrays to C-contiguous
float32 or float64, allocates the outputs and then runs the loop nest of
:mod:`cnncore._kernels` without the GIL. A wrong call raises ``ValueError`` or
``TypeError`` naming the argument, what was expected and what came; nothing
reaches the unchecked loops that could read or write out of bounds.

Layout is NCHW and filters are ``(F, C, KH, KW)``, as in PyTorch. The working
type is float32; when any floating input is float64 the whole call runs in
float64 (gradient checks need it). Other dtypes (ints, bools, float16) and
non-contiguous arrays are converted. NaN is data: it passes through.
"""
from __future__ import annotations

import functools
import math
import numbers
import os

import numpy as np

from . import _kernels
from .shapes import conv_output_size, pair

__all__ = [
    "conv2d_forward", "conv2d_backward",
    "maxpool2d_forward", "maxpool2d_backward",
    "avgpool2d_forward", "avgpool2d_backward",
    "set_num_threads", "get_num_threads", "openmp_enabled",
]

# Below this many multiply-adds a call runs on one thread: waking a second
# thread costs more than it saves on a layer this small.
_PARALLEL_MIN_WORK = 1_000_000


def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# More threads than this only add overhead, and an absurd count makes the OpenMP
# runtime fail to create them (a crash, not an error).
MAX_THREADS = max(64, 4 * _cpus())


def _default_threads() -> int:
    env = os.environ.get("CNNCORE_NUM_THREADS", "").strip()
    if env:
        try:
            return min(max(1, int(env)), MAX_THREADS)
        except ValueError:
            pass
    return _cpus()


_num_threads = _default_threads()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the kernels, 1 to :data:`MAX_THREADS` (default: the CPUs
    this process may run on, or the ``CNNCORE_NUM_THREADS`` environment variable)."""
    global _num_threads
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or not 1 <= n <= MAX_THREADS:
        raise ValueError(f"set_num_threads expects an int from 1 to {MAX_THREADS}, got {n!r}")
    _num_threads = int(n)


def get_num_threads() -> int:
    """The number of threads the kernels use for large enough calls."""
    return _num_threads


def openmp_enabled() -> bool:
    """True when the kernels were built with OpenMP and can use several threads."""
    return _kernels.openmp_enabled()


def _threads_for(work: int) -> int:
    return _num_threads if work >= _PARALLEL_MIN_WORK else 1


# ---------------------------------------------------------------- checking

def _as_real(a, name: str, ndim: int, layout: str):
    """``a`` as an ndarray with ``ndim`` axes and a real-number dtype (not yet converted)."""
    arr = np.asarray(a) if not isinstance(a, np.ndarray) else a
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}, got shape {arr.shape}")
    return arr


def _is_double(a) -> bool:
    """float64 in any byte order, or a wider float: computed in float64."""
    return a.dtype.kind == "f" and a.dtype.itemsize >= 8


def _working_dtype(*arrays) -> type:
    for a in arrays:
        if _is_double(a):
            return np.float64
    return np.float32


def _c(arr, dtype):
    return np.ascontiguousarray(arr, dtype=dtype)


def _positive_shape(arr, name: str, axes: str) -> None:
    if 0 in arr.shape:
        raise ValueError(f"{name} must have at least one element along every axis {axes}, "
                         f"got shape {arr.shape}")


def _input_shape(shape, name: str = "input_shape") -> tuple[int, int, int, int]:
    try:
        dims = tuple(int(d) for d in shape)
        ok = len(dims) == 4 and all(isinstance(d, numbers.Integral) for d in shape)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise TypeError(f"{name} must be 4 ints (N, C, H, W), got {shape!r}")
    if min(dims) < 1:
        raise ValueError(f"{name} must have every size >= 1, got {dims}")
    return dims


def _conv_args(x, w, stride, padding):
    x = _as_real(x, "x", 4, "(N, C, H, W)")
    w = _as_real(w, "w", 4, "(F, C, KH, KW)")
    _positive_shape(x, "x", "(N, C, H, W)")
    _positive_shape(w, "w", "(F, C, KH, KW)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"w has {w.shape[1]} input channels (w.shape = {w.shape}) but x has "
                         f"{x.shape[1]} channels (x.shape = {x.shape})")
    SH, SW = pair(stride, "stride")
    PH, PW = pair(padding, "padding", minimum=0)
    Ho, Wo = conv_output_size(x.shape[2:], w.shape[2:], (SH, SW), (PH, PW))
    return x, w, SH, SW, PH, PW, Ho, Wo


# Block sizes of the wide-row loops in _kernels.pyx (FB filters × PB positions).
_FB, _PB = 4, 32


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


@functools.lru_cache(maxsize=64)
def _tap_offsets(C: int, KH: int, KW: int, Hp: int, Wp: int) -> np.ndarray:
    """Offset ``c·Hp·Wp + i·Wp + j`` of every filter tap (c, i, j), in row-major order."""
    c, i, j = np.meshgrid(np.arange(C), np.arange(KH), np.arange(KW), indexing="ij")
    off = (c * Hp * Wp + i * Wp + j).ravel().astype(np.intp)
    off.flags.writeable = False
    return off


def _stacked(shape, dt, slack: int):
    """A zeroed flat buffer for ``shape = (N, C, Hp, Wp)`` plus ``slack`` trailing zeros,
    and the 4-D view of its first part. The wide-row loops may read into the slack."""
    size = math.prod(shape)
    buf = np.zeros(size + slack, dtype=dt)
    return buf, buf[:size].reshape(shape)


def _wide_conv(buf, view, w, b, dt, nt):
    """Stride-1 'valid' convolution of the stacked, padded input in ``buf``: (N, F, Ho, Wo)."""
    N, C, Hp, Wp = view.shape
    F, _, KH, KW = w.shape
    Ho, Wo = Hp - KH + 1, Wp - KW + 1
    Fr, Lr = _round_up(F, _FB), _round_up(Ho * Wp, _PB)
    T = C * KH * KW
    if Fr == F:                     # no zero rows needed to fill the last block
        wt, bp = w.reshape(F, T), b
    else:
        wt = np.zeros((Fr, T), dtype=dt)
        wt[:F] = w.reshape(F, T)
        bp = np.zeros(Fr, dtype=dt)
        bp[:F] = b
    out = np.empty((N, Fr, Lr), dtype=dt)
    off = _tap_offsets(C, KH, KW, Hp, Wp)
    # the last tile reads up to here: the slack must cover it (see _slack)
    if (N - 1) * C * Hp * Wp + off[-1] + Lr > buf.size:
        raise RuntimeError("cnncore: input buffer too short for the wide-row tiles")
    _kernels.conv_wide(buf, C * Hp * Wp, off, wt, bp, out, nt)
    return out[:, :F, :Ho * Wp].reshape(N, F, Ho, Wp)[:, :, :, :Wo]


def _slack(KW: int) -> int:
    return KW + _PB


def _dw_from_windows(dz, xp, KH, KW, SH, SW):
    """``dw`` summed over the forward windows only (NumPy; the exact path for non-finite inputs)."""
    N, F, Ho, Wo = dz.shape
    win = np.lib.stride_tricks.sliding_window_view(xp, (KH, KW), axis=(2, 3))
    win = win[:, :, :(Ho - 1) * SH + 1:SH, :(Wo - 1) * SW + 1:SW]        # (N, C, Ho, Wo, KH, KW)
    return np.ascontiguousarray(np.einsum("nfyx,ncyxij->fcij", dz, win))


# ------------------------------------------------------------- convolution

def conv2d_forward(x, w, b, stride=1, padding=0):
    """Convolution (cross-correlation, as in every CNN library).

    ``x (N, C, H, W)``, ``w (F, C, KH, KW)``, ``b (F,)`` → ``z (N, F, Ho, Wo)`` with
    ``Ho = (H + 2P − KH) // S + 1``::

        z(n, f, y, x) = Σ_c Σ_i Σ_j w(f, c, i, j) · x(n, c, yS + i − P, xS + j − P) + b(f)

    where positions outside the input read the zero padding.
    """
    x, w, SH, SW, PH, PW, Ho, Wo = _conv_args(x, w, stride, padding)
    b = _as_real(b, "b", 1, "(F,)")
    if b.shape[0] != w.shape[0]:
        raise ValueError(f"b must have shape ({w.shape[0]},) to match the {w.shape[0]} filters "
                         f"of w, got shape {b.shape}")
    dt = _working_dtype(x, w, b)
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    buf, xp = _stacked((N, C, H + 2 * PH, W + 2 * PW), dt, _slack(KW))
    xp[:, :, PH:PH + H, PW:PW + W] = x
    nt = _threads_for(N * F * Ho * Wo * C * KH * KW * SH * SW)
    z1 = _wide_conv(buf, xp, _c(w, dt), _c(b, dt), dt, nt)    # every stride-1 position
    return np.ascontiguousarray(z1[:, :, ::SH, ::SW] if SH > 1 or SW > 1 else z1)


def conv2d_backward(dz, x, w, stride=1, padding=0, need_dx=True):
    """Gradients of a convolution: ``(dx, dw, db)`` given ``dz = ∂L/∂z``.

    ``dz (N, F, Ho, Wo)`` must be the shape :func:`conv2d_forward` gives for
    ``x`` and ``w``. Returns ``dx`` shaped like ``x`` (``None`` when
    ``need_dx`` is false: the first layer never needs it), ``dw`` like ``w``
    and ``db (F,)``::

        db(f)          = Σ_n Σ_y Σ_x dz(n, f, y, x)
        dw(f, c, i, j) = Σ_n Σ_y Σ_x dz(n, f, y, x) · x(n, c, yS + i − P, xS + j − P)
        dx(n, c, yS + i − P, xS + j − P) += dz(n, f, y, x) · w(f, c, i, j)

    computed as the texts derive them: ``dw`` is the padded input correlated
    with the dilated ``dz``; ``dx`` is the dilated ``dz``, zero-padded by
    ``K − 1``, convolved with the flipped, channel-swapped filters, with the
    padding stripped (see :mod:`cnncore.identities`). NaN and inf pass through
    as data, reaching exactly the outputs whose sums include them.
    """
    x, w, SH, SW, PH, PW, Ho, Wo = _conv_args(x, w, stride, padding)
    dz = _as_real(dz, "dz", 4, "(N, F, Ho, Wo)")
    expected = (x.shape[0], w.shape[0], Ho, Wo)
    if dz.shape != expected:
        raise ValueError(f"dz must have shape {expected} (the z of x {x.shape} and w {w.shape} "
                         f"with stride {(SH, SW)} and padding {(PH, PW)}), got shape {dz.shape}")
    dt = _working_dtype(dz, x, w)
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Hp, Wp = H + 2 * PH, W + 2 * PW
    Hd, Wd = (Ho - 1) * SH + 1, (Wo - 1) * SW + 1         # dz dilated by the stride
    nt = _threads_for(N * F * Hd * Wd * C * KH * KW)

    # dw: the padded input correlated with the dilated dz, laid out in wide rows
    buf, xp = _stacked((N, C, Hp, Wp), dt, _slack(KW))
    xp[:, :, PH:PH + H, PW:PW + W] = x
    Fr, Lr = _round_up(F, _FB), _round_up(Hd * Wp, _PB)
    dzw = np.zeros((N, Fr, Lr), dtype=dt)
    dzw[:, :F, :Hd * Wp].reshape(N, F, Hd, Wp)[:, :, ::SH, :Wd:SW] = dz
    dwt = np.empty((Fr, C * KH * KW), dtype=dt)
    _kernels.conv_filter_grad(buf, C * Hp * Wp, N, C, KH, KW, Hp, Wp, dzw, dwt, nt)
    dw = np.ascontiguousarray(dwt[:F].reshape(F, C, KH, KW))
    if not np.isfinite(dw).all() and not np.isfinite(xp).all():
        # The wide rows multiply input pixels outside every window by zero, and
        # 0·NaN is NaN: recompute from the windows alone, so a NaN or inf in x
        # reaches exactly the taps that saw it.
        dw = _dw_from_windows(np.asarray(dz, dtype=dt), xp, KH, KW, SH, SW)
    db = np.asarray(dz, dtype=dt).sum(axis=(0, 2, 3))

    dx = None
    if need_dx:
        # dx: dilate dz, pad by K − 1 (and by the rows no window reached), convolve
        # with the flipped filters, strip the forward padding P
        dbuf, dpad = _stacked((N, F, Hp + KH - 1, Wp + KW - 1), dt, _slack(KW))
        dpad[:, :, KH - 1:KH - 1 + Hd:SH, KW - 1:KW - 1 + Wd:SW] = dz
        w_flip = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
        dxp = _wide_conv(dbuf, dpad, np.ascontiguousarray(w_flip, dtype=dt),
                         np.zeros(C, dtype=dt), dt, nt)          # (N, C, Hp, Wp)
        dx = np.ascontiguousarray(dxp[:, :, PH:PH + H, PW:PW + W])
    return dx, dw, db


# ----------------------------------------------------------------- pooling

def _pool_args(x, size, stride):
    x = _as_real(x, "x", 4, "(N, C, H, W)")
    _positive_shape(x, "x", "(N, C, H, W)")
    KH, KW = pair(size, "size")
    SH, SW = pair(stride if stride is not None else (KH, KW), "stride")
    Ho, Wo = conv_output_size(x.shape[2:], (KH, KW), (SH, SW), 0)
    return x, KH, KW, SH, SW, Ho, Wo


def _real_dtype(a):
    return np.float64 if _is_double(a) else np.float32


def maxpool2d_forward(x, size, stride=None):
    """Max pooling of ``x (N, C, H, W)`` with ``size×size`` windows (stride defaults to size).

    Returns ``(y, argmax)``: ``y (N, C, Ho, Wo)`` and, for every output, the
    flat index ``row·W + col`` of the input that won its window (int64). Ties
    go to the first in row-major order; a NaN wins its window.
    """
    x, KH, KW, SH, SW, Ho, Wo = _pool_args(x, size, stride)
    dt = _real_dtype(x)
    x = _c(x, dt)
    N, C = x.shape[:2]
    y = np.empty((N, C, Ho, Wo), dtype=dt)
    argmax = np.empty((N, C, Ho, Wo), dtype=np.int64)
    _kernels.maxpool_forward(x, y, argmax, KH, KW, SH, SW, _threads_for(x.size))
    return y, argmax


def maxpool2d_backward(dy, argmax, input_shape):
    """Route each ``dy`` to its window's winner: ``dx[argmax] += dy`` (``+=`` where windows overlap).

    ``dy`` and ``argmax`` have the pooled shape ``(N, C, Ho, Wo)``;
    ``input_shape`` is the forward input's ``(N, C, H, W)``.
    """
    N, C, H, W = _input_shape(input_shape)
    dy = _as_real(dy, "dy", 4, "(N, C, Ho, Wo)")
    argmax = np.asarray(argmax)
    if argmax.dtype.kind not in "iu":
        raise TypeError(f"argmax must hold integer indices, got dtype {argmax.dtype}")
    if argmax.shape != dy.shape:
        raise ValueError(f"argmax must have the shape of dy {dy.shape}, got shape {argmax.shape}")
    if dy.shape[:2] != (N, C):
        raise ValueError(f"dy must have N={N} and C={C} like input_shape {input_shape}, "
                         f"got shape {dy.shape}")
    dt = _real_dtype(dy)
    dy = _c(dy, dt)
    argmax = _c(argmax, np.int64)
    dx = np.zeros((N, C, H, W), dtype=dt)
    bad = _kernels.maxpool_backward(dy, argmax, dx, _threads_for(dx.size))
    if bad:
        raise ValueError(f"argmax holds {bad} indices outside the {H}×{W} input plane "
                         f"(valid: 0 to {H * W - 1})")
    return dx


def avgpool2d_forward(x, size, stride=None):
    """Mean pooling: each output of ``y (N, C, Ho, Wo)`` is the mean of its ``KH×KW`` window."""
    x, KH, KW, SH, SW, Ho, Wo = _pool_args(x, size, stride)
    dt = _real_dtype(x)
    x = _c(x, dt)
    y = np.empty((x.shape[0], x.shape[1], Ho, Wo), dtype=dt)
    _kernels.avgpool_forward(x, y, KH, KW, SH, SW, _threads_for(x.size))
    return y


def avgpool2d_backward(dy, input_shape, size, stride=None):
    """Spread each ``dy`` as ``dy / (KH·KW)`` over its window, ``+=`` where windows overlap."""
    N, C, H, W = _input_shape(input_shape)
    dy = _as_real(dy, "dy", 4, "(N, C, Ho, Wo)")
    KH, KW = pair(size, "size")
    SH, SW = pair(stride if stride is not None else (KH, KW), "stride")
    Ho, Wo = conv_output_size((H, W), (KH, KW), (SH, SW), 0)
    if dy.shape != (N, C, Ho, Wo):
        raise ValueError(f"dy must have shape {(N, C, Ho, Wo)} (the pooled shape of input_shape "
                         f"{(N, C, H, W)}), got shape {dy.shape}")
    dt = _real_dtype(dy)
    dy = _c(dy, dt)
    dx = np.zeros((N, C, H, W), dtype=dt)
    _kernels.avgpool_backward(dy, dx, KH, KW, SH, SW, _threads_for(dx.size))
    return dx
