"""Public, checked entry points to the convolution and pooling kernels.

Each function validates its arguments (ndim, dtype, channel agreement, every
shape relation, stride/size/padding ranges), converts arrays to C-contiguous
float32 or float64, then builds the layer type's plan (:mod:`cnncore.plans`; fresh output
buffers: safe from any thread) and runs it, so the loop nests of
:mod:`cnncore._kernels` run without the GIL. A wrong call raises ``ValueError``
or ``TypeError`` naming the argument, what was expected and what came; nothing
reaches the unchecked loops that could read or write out of bounds. Code that
calls the same shapes again and again (a network's training step) keeps the
plans instead and skips the checking.

Layout is NCHW and filters are ``(F, C, KH, KW)``, as in PyTorch. The working
type is float32; when any floating input is float64 the whole call runs in
float64 (gradient checks need it). Other dtypes (ints, bools, float16) and
non-contiguous arrays are converted. NaN is data: it passes through.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._threads import MAX_THREADS, get_num_threads, openmp_enabled, set_num_threads, threads_for
from .layers.avgpool import AvgPoolPlan
from .layers.conv_plan import ConvPlan
from .layers.l2pool import L2PoolPlan
from .layers.maxpool import MaxPoolPlan, route_to_winners

__all__ = [
    "conv2d_forward", "conv2d_backward",
    "maxpool2d_forward", "maxpool2d_backward",
    "avgpool2d_forward", "avgpool2d_backward",
    "l2pool2d_forward", "l2pool2d_backward",
    "set_num_threads", "get_num_threads", "openmp_enabled", "MAX_THREADS",
]


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


def _conv_plan(x, w, stride, padding, dt):
    """The plan of a convolution of ``x`` with ``w`` (validates stride, padding and fit)."""
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    return ConvPlan(N, (C, H, W), F, (KH, KW), stride, padding, dt)


def _conv_arrays(x, w):
    x = _as_real(x, "x", 4, "(N, C, H, W)")
    w = _as_real(w, "w", 4, "(F, C, KH, KW)")
    _positive_shape(x, "x", "(N, C, H, W)")
    _positive_shape(w, "w", "(F, C, KH, KW)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"w has {w.shape[1]} input channels (w.shape = {w.shape}) but x has "
                         f"{x.shape[1]} channels (x.shape = {x.shape})")
    return x, w


# ------------------------------------------------------------- convolution

def conv2d_forward(x, w, b, stride=1, padding=0):
    """Convolution (cross-correlation, as in every CNN library).

    ``x (N, C, H, W)``, ``w (F, C, KH, KW)``, ``b (F,)`` → ``z (N, F, Ho, Wo)`` with
    ``Ho = (H + 2P − KH) // S + 1``::

        z(n, f, y, x) = Σ_c Σ_i Σ_j w(f, c, i, j) · x(n, c, yS + i − P, xS + j − P) + b(f)

    where positions outside the input read the zero padding.
    """
    x, w = _conv_arrays(x, w)
    b = _as_real(b, "b", 1, "(F,)")
    if b.shape[0] != w.shape[0]:
        raise ValueError(f"b must have shape ({w.shape[0]},) to match the {w.shape[0]} filters "
                         f"of w, got shape {b.shape}")
    dt = _working_dtype(x, w, b)
    plan = _conv_plan(x, w, stride, padding, dt)
    return plan.forward(_c(x, dt), _c(w, dt), _c(b, dt))


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
    as data, reaching exactly the outputs whose sums include them (as in
    :func:`cnncore.reference.conv2d_backward`: a NaN or inf in ``x`` reaches the
    ``dw`` taps that saw it, one in ``w`` the ``dx`` positions its windows covered;
    those two cases are summed over the windows in NumPy, since the padded
    fast paths would multiply them by zeros and spread NaN everywhere).
    """
    x, w = _conv_arrays(x, w)
    dz = _as_real(dz, "dz", 4, "(N, F, Ho, Wo)")
    dt = _working_dtype(dz, x, w)
    plan = _conv_plan(x, w, stride, padding, dt)
    if dz.shape != plan.z_shape:
        raise ValueError(f"dz must have shape {plan.z_shape} (the z of x {x.shape} and w {w.shape} "
                         f"with stride {plan.stride} and padding {plan.padding}), got shape {dz.shape}")
    return plan.backward(_c(dz, dt), _c(x, dt), _c(w, dt), need_dx)


# ----------------------------------------------------------------- pooling

def _pool_x(x):
    x = _as_real(x, "x", 4, "(N, C, H, W)")
    _positive_shape(x, "x", "(N, C, H, W)")
    return x


def _real_dtype(a):
    return np.float64 if _is_double(a) else np.float32


def maxpool2d_forward(x, size, stride=None):
    """Max pooling of ``x (N, C, H, W)`` with ``size×size`` windows (stride defaults to size).

    Returns ``(y, argmax)``: ``y (N, C, Ho, Wo)`` and, for every output, the
    flat index ``row·W + col`` of the input that won its window (int64). Ties
    go to the first in row-major order; a NaN wins its window.
    """
    x = _pool_x(x)
    dt = _real_dtype(x)
    plan = MaxPoolPlan(x.shape[0], x.shape[1:], size, stride, dt)
    return plan.forward(_c(x, dt))


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
    dx = np.zeros((N, C, H, W), dtype=dt)
    # the window size is not known here, and not needed: argmax says where each dy goes
    return route_to_winners(_c(dy, dt), _c(argmax, np.int64), dx, threads_for(dx.size))


def avgpool2d_forward(x, size, stride=None):
    """Mean pooling: each output of ``y (N, C, Ho, Wo)`` is the mean of its ``KH×KW`` window."""
    x = _pool_x(x)
    dt = _real_dtype(x)
    return AvgPoolPlan(x.shape[0], x.shape[1:], size, stride, dt).forward(_c(x, dt))


def avgpool2d_backward(dy, input_shape, size, stride=None):
    """Spread each ``dy`` as ``dy / (KH·KW)`` over its window, ``+=`` where windows overlap."""
    N, C, H, W = _input_shape(input_shape)
    dy = _as_real(dy, "dy", 4, "(N, C, Ho, Wo)")
    dt = _real_dtype(dy)
    plan = AvgPoolPlan(N, (C, H, W), size, stride, dt)
    if dy.shape != plan.y_shape:
        raise ValueError(f"dy must have shape {plan.y_shape} (the pooled shape of input_shape "
                         f"{(N, C, H, W)}), got shape {dy.shape}")
    return plan.backward(_c(dy, dt))


def l2pool2d_forward(x, size, stride=None):
    """L2-norm pooling: each output of ``y (N, C, Ho, Wo)`` is ``sqrt(Σ x²)`` over its
    ``KH×KW`` window (stride defaults to size); PyTorch's ``lp_pool2d(x, 2, size, stride)``."""
    x = _pool_x(x)
    dt = _real_dtype(x)
    return L2PoolPlan(x.shape[0], x.shape[1:], size, stride, dt).forward(_c(x, dt))


def l2pool2d_backward(dy, x, y, size, stride=None):
    """``dx`` shaped like ``x``: ``dx += dy · x / y`` for every member of each window (``+=``
    where windows overlap). Where ``y = 0`` the whole window is 0 and has no slope: its
    gradient is 0. ``y`` is what :func:`l2pool2d_forward` gave for ``x``; ``dy`` has its shape."""
    x = _pool_x(x)
    dy = _as_real(dy, "dy", 4, "(N, C, Ho, Wo)")
    y = _as_real(y, "y", 4, "(N, C, Ho, Wo)")
    dt = _working_dtype(dy, x, y)
    plan = L2PoolPlan(x.shape[0], x.shape[1:], size, stride, dt)
    for name, a in (("y", y), ("dy", dy)):
        if a.shape != plan.y_shape:
            raise ValueError(f"{name} must have shape {plan.y_shape} (the pooled shape of x {x.shape}), "
                             f"got shape {a.shape}")
    return plan.backward(_c(dy, dt), _c(x, dt), _c(y, dt))
