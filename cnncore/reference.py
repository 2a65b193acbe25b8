"""The slow, obvious twin of the kernels, written straight from the equations.

This module is the oracle the fast Cython kernels are tested against, and the
code a learner can read next to the texts. It loops over output positions the
way the lecture pseudocode does and lets NumPy do only the innermost sums.
Nothing here is tuned; nothing in the app calls it on a hot path.

Notation (as in the texts): ``x`` is a layer's input ``y(l-1)``, ``w`` its
filters with shape ``(F, C, KH, KW)``, ``b`` its biases, ``z`` the affine map.
For output map ``n``, input map ``m``, filter offset ``(i, j)``, stride ``S``
and zero padding ``P``::

    z(n, x, y) = Σ_m Σ_i Σ_j  w(n, m, i, j) · x(m, xS + i - P, yS + j - P) + b(n)

All arrays are NCHW. Stride, padding and size take an int or an (h, w) pair.
"""
from __future__ import annotations

import math

import numpy as np

from .shapes import conv_output_size, pair

__all__ = [
    "conv2d_forward", "conv2d_backward",
    "maxpool2d_forward", "maxpool2d_backward",
    "avgpool2d_forward", "avgpool2d_backward",
    "downsample2d_forward", "downsample2d_backward", "upsample2d_forward", "upsample2d_backward",
    "l2pool2d_forward", "l2pool2d_backward",
    "adam_step",
]


def _pad(x, PH, PW):
    """Zero-pad the last two axes of ``x (N, C, H, W)`` by ``PH`` rows and ``PW`` columns."""
    return np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))


def conv2d_forward(x, w, b, stride=1, padding=0):
    """``z (N, F, Ho, Wo)`` from ``x (N, C, H, W)``, ``w (F, C, KH, KW)``, ``b (F,)``."""
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    SH, SW = pair(stride, "stride")
    PH, PW = pair(padding, "padding", minimum=0)
    Ho, Wo = conv_output_size((H, W), (KH, KW), (SH, SW), (PH, PW))
    xp = _pad(x, PH, PW)
    z = np.empty((N, F, Ho, Wo), dtype=np.result_type(x, w))
    for oy in range(Ho):
        for ox in range(Wo):
            window = xp[:, :, oy * SH:oy * SH + KH, ox * SW:ox * SW + KW]   # (N, C, KH, KW)
            # Σ_m Σ_i Σ_j w(n, m, i, j) · window(m, i, j), for every sample and filter n
            z[:, :, oy, ox] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return z


def conv2d_backward(dz, x, w, stride=1, padding=0, need_dx=True):
    """Gradients ``(dx, dw, db)`` of a convolution, given ``dz = ∂L/∂z``.

    Every output element ``z(n, x', y')`` saw one window of the input through
    filter ``n``; its gradient flows back along the same links::

        db(n)          = Σ_x' Σ_y' dz(n, x', y')
        dw(n, m, i, j) += dz(n, x', y') · x(m, x'S + i - P, y'S + j - P)
        dx(m, x'S + i - P, y'S + j - P) += dz(n, x', y') · w(n, m, i, j)

    summed over the batch for ``dw`` and ``db``. Positions that fall in the
    zero padding are dropped from ``dx`` at the end.
    """
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    SH, SW = pair(stride, "stride")
    PH, PW = pair(padding, "padding", minimum=0)
    Ho, Wo = dz.shape[2:]
    xp = _pad(x, PH, PW)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for oy in range(Ho):
        for ox in range(Wo):
            rows = slice(oy * SH, oy * SH + KH)
            cols = slice(ox * SW, ox * SW + KW)
            g = dz[:, :, oy, ox]                                   # (N, F)
            dw += np.tensordot(g, xp[:, :, rows, cols], axes=([0], [0]))
            if need_dx:
                dxp[:, :, rows, cols] += np.tensordot(g, w, axes=([1], [0]))
    db = dz.sum(axis=(0, 2, 3))
    dx = dxp[:, :, PH:PH + H, PW:PW + W].copy() if need_dx else None
    return dx, dw, db


def _pool_windows(H, W, size, stride):
    KH, KW = pair(size, "size")
    SH, SW = pair(stride if stride is not None else (KH, KW), "stride")
    Ho, Wo = conv_output_size((H, W), (KH, KW), (SH, SW), 0)
    for oy in range(Ho):
        for ox in range(Wo):
            yield oy, ox, oy * SH, ox * SW, KH, KW


def _pool_out_shape(x_shape, size, stride):
    KH, KW = pair(size, "size")
    SH, SW = pair(stride if stride is not None else (KH, KW), "stride")
    return conv_output_size(x_shape[2:], (KH, KW), (SH, SW), 0)


def maxpool2d_forward(x, size, stride=None):
    """Max pooling: ``(y, argmax)``.

    ``y(n, c, x', y')`` is the largest input in its window; ``argmax`` holds the
    winner's flat index ``row * W + col`` within its ``H×W`` input plane (the
    lecture's ``pidx``). Ties go to the first element in row-major order; a NaN
    in the window wins (like ``np.argmax``).
    """
    N, C, H, W = x.shape
    Ho, Wo = _pool_out_shape(x.shape, size, stride)
    y = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    argmax = np.empty((N, C, Ho, Wo), dtype=np.int64)
    for oy, ox, r0, c0, KH, KW in _pool_windows(H, W, size, stride):
        window = x[:, :, r0:r0 + KH, c0:c0 + KW].reshape(N, C, KH * KW)
        k = np.argmax(window, axis=2)                        # first winner, row-major
        y[:, :, oy, ox] = np.take_along_axis(window, k[..., None], axis=2)[..., 0]
        argmax[:, :, oy, ox] = (r0 + k // KW) * W + (c0 + k % KW)
    return y, argmax


def maxpool2d_backward(dy, argmax, input_shape):
    """Route each ``dy`` to the input that won its window, with ``+=`` where windows overlap."""
    N, C, H, W = input_shape
    dx = np.zeros((N, C, H * W), dtype=dy.dtype)
    for n in range(N):
        for c in range(C):
            np.add.at(dx[n, c], argmax[n, c].ravel(), dy[n, c].ravel())
    return dx.reshape(N, C, H, W)


def avgpool2d_forward(x, size, stride=None):
    """Mean pooling: each output is the mean of its ``KH×KW`` window."""
    N, C, H, W = x.shape
    Ho, Wo = _pool_out_shape(x.shape, size, stride)
    y = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    for oy, ox, r0, c0, KH, KW in _pool_windows(H, W, size, stride):
        y[:, :, oy, ox] = x[:, :, r0:r0 + KH, c0:c0 + KW].mean(axis=(2, 3))
    return y


def avgpool2d_backward(dy, input_shape, size, stride=None):
    """Spread each ``dy`` as ``1/(KH·KW)`` over its window, with ``+=`` where windows overlap."""
    N, C, H, W = input_shape
    dx = np.zeros(input_shape, dtype=dy.dtype)
    for oy, ox, r0, c0, KH, KW in _pool_windows(H, W, size, stride):
        dx[:, :, r0:r0 + KH, c0:c0 + KW] += dy[:, :, oy, ox][:, :, None, None] / (KH * KW)
    return dx


def l2pool2d_forward(x, size, stride=None):
    """L2-norm pooling: ``y(n, c, x', y') = sqrt(Σ_i Σ_j x(n, c, x'S + i, y'S + j)²)``."""
    N, C, H, W = x.shape
    Ho, Wo = _pool_out_shape(x.shape, size, stride)
    y = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    for oy, ox, r0, c0, KH, KW in _pool_windows(H, W, size, stride):
        y[:, :, oy, ox] = np.sqrt((x[:, :, r0:r0 + KH, c0:c0 + KW] ** 2).sum(axis=(2, 3)))
    return y


def l2pool2d_backward(dy, x, y, size, stride=None):
    """``dx(n, c, x'S + i, y'S + j) += dy(n, c, x', y') · x(n, c, x'S + i, y'S + j) / y(n, c, x', y')``
    for every window, and nothing from a window whose ``y`` is 0 (all its members are 0)."""
    N, C, H, W = x.shape
    dx = np.zeros(x.shape, dtype=dy.dtype)
    for oy, ox, r0, c0, KH, KW in _pool_windows(H, W, size, stride):
        g = dy[:, :, oy, ox][:, :, None, None]
        norm = y[:, :, oy, ox][:, :, None, None]
        window = x[:, :, r0:r0 + KH, c0:c0 + KW]
        with np.errstate(divide="ignore", invalid="ignore"):
            dx[:, :, r0:r0 + KH, c0:c0 + KW] += np.where(norm == 0, 0, g * window / norm)
    return dx


def downsample2d_forward(x, factor):
    """Downsampling: ``y(n, c, x', y') = x(n, c, x'·S, y'·S)``, output ``⌊(H − 1)/S⌋ + 1`` each side."""
    N, C, H, W = x.shape
    S = factor
    y = np.empty((N, C, (H - 1) // S + 1, (W - 1) // S + 1), dtype=x.dtype)
    for oy in range(y.shape[2]):
        for ox in range(y.shape[3]):
            y[:, :, oy, ox] = x[:, :, oy * S, ox * S]
    return y


def downsample2d_backward(dy, input_shape, factor):
    """Each ``dy`` goes back to the entry it was taken from; dropped entries get 0."""
    dx = np.zeros(input_shape, dtype=dy.dtype)
    S = factor
    for oy in range(dy.shape[2]):
        for ox in range(dy.shape[3]):
            dx[:, :, oy * S, ox * S] = dy[:, :, oy, ox]
    return dx


def upsample2d_forward(x, factor):
    """Upsampling: ``S − 1`` zero rows and columns between neighbours, output ``(H − 1)·S + 1`` each side."""
    N, C, H, W = x.shape
    S = factor
    y = np.zeros((N, C, (H - 1) * S + 1, (W - 1) * S + 1), dtype=x.dtype)
    for r in range(H):
        for c in range(W):
            y[:, :, r * S, c * S] = x[:, :, r, c]
    return y


def upsample2d_backward(dy, factor):
    """Each input entry gets the gradient of the one output it was copied to."""
    S = factor
    N, C, Hy, Wy = dy.shape
    dx = np.empty((N, C, (Hy - 1) // S + 1, (Wy - 1) // S + 1), dtype=dy.dtype)
    for r in range(dx.shape[2]):
        for c in range(dx.shape[3]):
            dx[:, :, r, c] = dy[:, :, r * S, c * S]
    return dx


def adam_step(p, g, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, mask=None,
              flush_m=False, flush_v=False):
    """One Adam step in place, as NumPy array operations in the order the compiled
    update (``cnncore/_update.h``) does them element by element::

        g ← g + λ·w (·mask)            m ← β1·m + (1 − β1)·g        v ← β2·v + (1 − β2)·g²
        w ← w − α/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)

    Each operation rounds to the arrays' dtype. ``flush_m``/``flush_v``: set the
    moments within a factor 10⁶ of the smallest normal float to 0 first (the
    optimizer does it every few hundred steps, see :mod:`cnncore.optim`).
    """
    b1, b2 = betas
    tiny = np.finfo(p.dtype).tiny * 1e6
    if weight_decay:
        d = np.multiply(p, weight_decay)
        if mask is not None:
            d *= mask
        g = d + g
    m *= b1
    m += np.multiply(g, 1 - b1)
    if flush_m:
        m[np.abs(m) < tiny] = 0
    v *= b2
    gg = np.multiply(g, g)
    gg *= (1 - b2)
    v += gg
    if flush_v:
        v[np.abs(v) < tiny] = 0
    den = np.sqrt(v)
    den *= 1 / math.sqrt(1 - b2 ** t)       # (Python floats: NumPy rounds them to the arrays' dtype)
    den += eps
    p -= np.divide(m, den) * (lr / (1 - b1 ** t))
