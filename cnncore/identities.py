"""The backward pass of a convolution, written the textbook way: as convolutions.

The kernels compute ``dx`` and ``dw`` by scattering each ``dz`` along the links
of the forward pass. The texts derive the same numbers as convolutions of
whole maps, and the app draws those maps:

* ``dw`` is the padded input correlated, at stride 1, with the output gradient
  ``dz`` *dilated* by the stride (``S − 1`` zeros between its elements);
* ``dx`` is the dilated ``dz``, zero-padded by ``K − 1`` on every side,
  convolved with the filters rotated by 180° and with their in/out channel
  axes swapped; the ``P`` rows and columns that belong to the forward
  padding are then cut away.

Both functions are built on the public :func:`cnncore.conv2d_forward`, so
comparing them with :func:`cnncore.conv2d_backward` checks the identities.
"""
from __future__ import annotations

import numpy as np

from . import kernels
from .shapes import pair

__all__ = ["dilate", "flip_filters", "dx_via_convolution", "dw_via_correlation"]


def dilate(dz, stride):
    """Insert ``S − 1`` zeros between neighbouring elements of the last two axes.

    ``dz (..., Ho, Wo)`` → ``(..., (Ho − 1)·SH + 1, (Wo − 1)·SW + 1)``. With
    stride 1 this is a copy of ``dz``.
    """
    dz = np.asarray(dz)
    if dz.ndim < 2:
        raise ValueError(f"dz must have at least 2 axes (…, Ho, Wo), got shape {dz.shape}")
    SH, SW = pair(stride, "stride")
    Ho, Wo = dz.shape[-2:]
    out = np.zeros(dz.shape[:-2] + ((Ho - 1) * SH + 1, (Wo - 1) * SW + 1), dtype=dz.dtype)
    out[..., ::SH, ::SW] = dz
    return out


def flip_filters(w):
    """Rotate every filter by 180° and swap the in/out channel axes.

    ``w (F, C, KH, KW)`` → ``(C, F, KH, KW)`` with
    ``out[c, f, i, j] = w[f, c, KH − 1 − i, KW − 1 − j]``.
    """
    w = np.asarray(w)
    if w.ndim != 4:
        raise ValueError(f"w must be 4-D (F, C, KH, KW), got shape {w.shape}")
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


def dx_via_convolution(dz, w, input_shape, stride=1, padding=0):
    """``dx`` as a full convolution of the dilated ``dz`` with the flipped filters.

    ``dz (N, F, Ho, Wo)``, ``w (F, C, KH, KW)``, ``input_shape = (N, C, H, W)``.
    Steps: dilate ``dz`` by the stride; zero-pad it by ``K − 1`` (plus, at the
    bottom and right, any rows the forward windows never reached when
    ``(H + 2P − K)`` is not a multiple of ``S``); convolve at stride 1 with
    :func:`flip_filters` ``(w)``; cut the padding ``P`` away.
    """
    w = np.asarray(w)
    N, C, H, W = input_shape
    F, _, KH, KW = w.shape
    SH, SW = pair(stride, "stride")
    PH, PW = pair(padding, "padding", minimum=0)
    d = dilate(dz, (SH, SW))
    # rows/columns of the padded input that no window covered get zero gradient
    extra_h = (H + 2 * PH) - (d.shape[2] + KH - 1)
    extra_w = (W + 2 * PW) - (d.shape[3] + KW - 1)
    d = np.pad(d, ((0, 0), (0, 0), (KH - 1, KH - 1 + extra_h), (KW - 1, KW - 1 + extra_w)))
    dxp = kernels.conv2d_forward(d, flip_filters(w), np.zeros(C, dtype=d.dtype))
    return np.ascontiguousarray(dxp[:, :, PH:PH + H, PW:PW + W])


def dw_via_correlation(dz, x, kernel, stride=1, padding=0):
    """``dw`` as the stride-1 correlation of the padded input with the dilated ``dz``.

    ``dz (N, F, Ho, Wo)``, ``x (N, C, H, W)``, ``kernel = (KH, KW)``. For each
    filter ``f`` and input map ``c``, slide the dilated ``dz[:, f]`` over the
    padded ``x[:, c]`` and sum over the batch::

        dw(f, c, i, j) = Σ_n Σ_u Σ_v dilate(dz)(n, f, u, v) · xpad(n, c, i + u, j + v)

    Returns ``(F, C, KH, KW)``.
    """
    x = np.asarray(x)
    KH, KW = pair(kernel, "kernel")
    PH, PW = pair(padding, "padding", minimum=0)
    d = dilate(dz, stride)
    xp = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    # the batch axis plays the role of the channel axis of an ordinary convolution
    out = kernels.conv2d_forward(xp.transpose(1, 0, 2, 3), d.transpose(1, 0, 2, 3),
                         np.zeros(d.shape[1], dtype=d.dtype))          # (C, F, ≥KH, ≥KW)
    return np.ascontiguousarray(out[:, :, :KH, :KW].transpose(1, 0, 2, 3))
