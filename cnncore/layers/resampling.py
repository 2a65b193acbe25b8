"""What the resampling layer types share (the ``002`` slides' downsampling and upsampling layers):
one ``factor`` S, the same for rows and columns, and no parameters.

Downsampling keeps rows and columns ``0, S, 2S, …``; upsampling puts ``S − 1`` zero rows and columns
between neighbouring entries (``cnncore.identities.dilate``). Each one's backward pass is the
other one's forward pass, so both are written with the two helpers below.
"""
from __future__ import annotations

import numpy as np

from .base import Field, Layer, shape_size
from .words import STRIDE_COLUMN

__all__ = ["Resample", "keep_every", "put_every"]


def keep_every(a: np.ndarray, S: int) -> np.ndarray:
    """Rows and columns ``0, S, 2S, …`` of the last two axes of ``a`` (a new contiguous array)."""
    return np.ascontiguousarray(a[..., ::S, ::S])


def put_every(a: np.ndarray, S: int, shape: tuple) -> np.ndarray:
    """An array of ``shape``, zero except at rows and columns ``0, S, 2S, …``, which hold ``a``."""
    out = np.zeros(shape, dtype=a.dtype)
    out[..., ::S, ::S] = a
    return out


class Resample(Layer):
    """Base class of the resampling types (not registered itself: it has no ``type``)."""

    def __init__(self, index, spec, in_shape, out_shape, dtype):
        super().__init__(index, spec, in_shape, out_shape, dtype)
        self.factor = int(spec["factor"])

    @classmethod
    def factor_field(cls, tooltip: str) -> Field:
        return Field("factor", "count", STRIDE_COLUMN, tooltip, maximum=8, new=2)

    @classmethod
    def cost(cls, spec, in_shape, out_shape):
        # one copy of each value, and zeros for the rest of the larger of x and y (upsampling's y,
        # downsampling's dx in the backward pass)
        return 0, shape_size(in_shape) + shape_size(out_shape)

    @classmethod
    def describe(cls, spec):
        return f"{cls.type} ×{spec['factor']}"
