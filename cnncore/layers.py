"""The layers of a network: forward and backward side by side.

Every layer works on a batch, NCHW for maps and ``(N, D)`` for flat vectors.
After :meth:`Layer.forward` a layer keeps what its backward pass and the
backprop trace need (``x``, ``z``, ``y``, ``argmax``); after
:meth:`Layer.backward` it keeps ``dy``, ``dz``, ``dx`` and the parameter
gradients ``dW``, ``db``. Names follow the texts: ``z`` is the affine map,
``y = f(z)`` the output, ``d·`` the gradient of the loss with respect to ``·``.

Conv and pooling run in the Cython kernels; dense layers are a NumPy matmul.
Gradients are overwritten by each backward pass (one batch, one gradient).
"""
from __future__ import annotations

import numpy as np

from . import activations
from .kernels import (
    avgpool2d_backward,
    avgpool2d_forward,
    conv2d_backward,
    conv2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)

__all__ = ["Layer", "Conv", "MaxPool", "AvgPool", "Flatten", "Dense", "build_layer"]


class Layer:
    """Base class. ``index`` counts from 0; ``in_shape``/``out_shape`` exclude the batch axis."""

    type = "layer"
    has_params = False

    def __init__(self, index: int, spec: dict, in_shape: tuple, out_shape: tuple, dtype):
        self.index = index
        self.spec = spec
        self.in_shape = tuple(in_shape)
        self.out_shape = tuple(out_shape)
        self.dtype = np.dtype(dtype)
        self.activation = spec.get("activation")
        self.W = self.b = self.dW = self.db = None
        self._gW = self._gb = None  # set by Network: views into its flat gradient buffer
        self.clear()

    def clear(self):
        """Forget the arrays kept from the last forward and backward pass."""
        self.x = self.z = self.y = self.argmax = None
        self.dy = self.dz = self.dx = None

    def forward(self, x: np.ndarray, keep: bool = True) -> np.ndarray:
        """``y`` for a batch ``x``; with ``keep=False`` nothing is stored on the layer
        (inference: safe to run from another thread while this layer trains)."""
        raise NotImplementedError

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def init_params(self, rng: np.random.Generator):
        """Draw initial weights (nothing for layers without parameters)."""

    def __repr__(self):
        from .architecture import describe_layer
        return f"<{type(self).__name__} L{self.index}: {describe_layer(self.spec)} {self.in_shape}->{self.out_shape}>"


def _init_std(activation: str, fan_in: int, fan_out: int) -> float:
    # He for the ReLU family (keeps the variance of y through the layer),
    # Xavier/Glorot for the saturating and linear ones.
    if activation in ("relu", "leaky_relu"):
        return float(np.sqrt(2.0 / fan_in))
    return float(np.sqrt(2.0 / (fan_in + fan_out)))


class Conv(Layer):
    """``z(n,x,y) = Σ_m Σ_i Σ_j w(m,n,i,j)·x(m, xS+i−P, yS+j−P) + b(n)``, ``y = f(z)``.

    ``W (F, C, KH, KW)``, ``b (F,)``; ``x (N, C, H, W)`` -> ``y (N, F, Ho, Wo)``.
    """

    type = "conv"
    has_params = True

    def __init__(self, index, spec, in_shape, out_shape, dtype):
        super().__init__(index, spec, in_shape, out_shape, dtype)
        self.stride = tuple(spec["stride"])
        self.padding = tuple(spec["padding"])
        kh, kw = spec["kernel"]
        self.W = np.zeros((spec["filters"], in_shape[0], kh, kw), dtype=self.dtype)
        self.b = np.zeros(spec["filters"], dtype=self.dtype)

    def init_params(self, rng):
        F, C, KH, KW = self.W.shape
        std = _init_std(self.activation, C * KH * KW, F * KH * KW)
        self.W[...] = rng.standard_normal(self.W.shape) * std
        self.b[...] = 0

    def forward(self, x, keep=True):
        z = conv2d_forward(x, self.W, self.b, self.stride, self.padding)
        y = activations.apply(self.activation, z)
        if keep:
            self.x, self.z, self.y = x, z, y
        return y

    def backward(self, dy, need_dx=True):
        self.dy = dy
        self.dz = np.ascontiguousarray(activations.backward(self.activation, dy, self.z, self.y))
        self.dx, self.dW, self.db = conv2d_backward(self.dz, self.x, self.W, self.stride, self.padding,
                                                    need_dx=need_dx)
        return self.dx


class _Pool(Layer):
    def __init__(self, index, spec, in_shape, out_shape, dtype):
        super().__init__(index, spec, in_shape, out_shape, dtype)
        self.size = tuple(spec["size"])
        self.stride = tuple(spec["stride"])


class MaxPool(_Pool):
    """``y`` is the largest ``x`` in each window; ``argmax`` records where it was (flat index in H×W)."""

    type = "maxpool"

    def forward(self, x, keep=True):
        y, argmax = maxpool2d_forward(x, self.size, self.stride)
        if keep:
            self.x, self.y, self.argmax = x, y, argmax
        return y

    def backward(self, dy, need_dx=True):
        self.dy = dy
        self.dx = maxpool2d_backward(np.ascontiguousarray(dy), self.argmax, self.x.shape) if need_dx else None
        return self.dx


class AvgPool(_Pool):
    """``y`` is the mean of each window; backward spreads ``dy/(KH·KW)`` over the window."""

    type = "avgpool"

    def forward(self, x, keep=True):
        y = avgpool2d_forward(x, self.size, self.stride)
        if keep:
            self.x, self.y = x, y
        return y

    def backward(self, dy, need_dx=True):
        self.dy = dy
        self.dx = (avgpool2d_backward(np.ascontiguousarray(dy), self.x.shape, self.size, self.stride)
                   if need_dx else None)
        return self.dx


class Flatten(Layer):
    """``(N, C, H, W)`` -> ``(N, C·H·W)`` in C order (channel, then row, then column)."""

    type = "flatten"

    def forward(self, x, keep=True):
        y = x.reshape(x.shape[0], -1)
        if keep:
            self.x, self.y = x, y
        return y

    def backward(self, dy, need_dx=True):
        self.dy = dy
        self.dx = dy.reshape(self.x.shape) if need_dx else None
        return self.dx


class Dense(Layer):
    """``z = x·Wᵀ + b``, ``y = f(z)``; ``W (units, inputs)`` as in PyTorch, ``x (N, inputs)``."""

    type = "dense"
    has_params = True

    def __init__(self, index, spec, in_shape, out_shape, dtype):
        super().__init__(index, spec, in_shape, out_shape, dtype)
        self.W = np.zeros((spec["units"], in_shape[0]), dtype=self.dtype)
        self.b = np.zeros(spec["units"], dtype=self.dtype)

    def init_params(self, rng):
        units, inputs = self.W.shape
        std = _init_std(self.activation, inputs, units)
        self.W[...] = rng.standard_normal(self.W.shape) * std
        self.b[...] = 0

    def forward(self, x, keep=True):
        z = x @ self.W.T
        z += self.b
        y = activations.apply(self.activation, z)
        if keep:
            self.x, self.z, self.y = x, z, y
        return y

    def backward(self, dy, need_dx=True):
        self.dy = dy
        dz = activations.backward(self.activation, dy, self.z, self.y)
        self.dz = dz
        gW, gb = self._gW, self._gb
        if gW is not None:  # inside a Network: write straight into its flat gradient buffer
            self.dW = np.matmul(dz.T, self.x, out=gW)   # (units, inputs), summed over the batch
            self.db = np.sum(dz, axis=0, out=gb)
        else:
            self.dW = dz.T @ self.x
            self.db = dz.sum(axis=0)
        self.dx = dz @ self.W if need_dx else None
        return self.dx


_TYPES = {"conv": Conv, "maxpool": MaxPool, "avgpool": AvgPool, "flatten": Flatten, "dense": Dense}


def build_layer(index: int, spec: dict, in_shape: tuple, out_shape: tuple, dtype) -> Layer:
    """The layer object for one normalized layer spec."""
    return _TYPES[spec["type"]](index, spec, in_shape, out_shape, dtype)
