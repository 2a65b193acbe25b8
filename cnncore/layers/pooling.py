"""What the pooling layer types share: a ``size`` window moved by ``stride``, one output per window
(the Keras ``BasePooling`` idea). ``x (N, C, H, W)`` -> ``y (N, C, Ho, Wo)``,
``Ho = (H − KH) // S + 1``."""
from __future__ import annotations

import numpy as np

from .base import Layer, window_output
from .words import hw, num_pair

__all__ = ["Pool"]


class Pool(Layer):
    """Base class of the pooling types (not registered itself: it has no ``type``)."""

    def __init__(self, index, spec, in_shape, out_shape, dtype):
        super().__init__(index, spec, in_shape, out_shape, dtype)
        self.size = tuple(spec["size"])
        self.stride = tuple(spec["stride"])

    def backward(self, dy, need_dx=True):
        self.dy = dy
        if not need_dx:
            self.dx = None
            return None
        dy = np.ascontiguousarray(dy)
        plan = self._plan_for(dy, *self._backward_reads())
        self.dx = self._planned_backward(plan, dy) if plan is not None else self._checked_backward(dy)
        return self.dx

    def _backward_reads(self) -> tuple:
        """Kept arrays of the layer's dtype the backward pass reads besides ``dy``."""
        return ()

    @classmethod
    def describe(cls, spec):
        return f"{cls.type} {hw(spec['size'])} s{num_pair(spec['stride'])}"

    @classmethod
    def torch_window(cls, spec) -> str:
        """``kernel_size=(2, 2), stride=(2, 2)`` for a PyTorch pooling module."""
        return f"kernel_size={tuple(spec['size'])}, stride={tuple(spec['stride'])}"

    @classmethod
    def onnx_window(cls, spec) -> dict:
        """The window attributes of an ONNX pooling node (no padding)."""
        return {"kernel_shape": list(spec["size"]), "strides": list(spec["stride"])}

    @classmethod
    def cost(cls, spec, in_shape, out_shape):
        C, Ho, Wo = out_shape
        return 0, C * Ho * Wo * spec["size"][0] * spec["size"][1]      # every member of every window

    @classmethod
    def output_shape(cls, spec, in_shape):
        cls.needs_maps(spec, in_shape)
        size, stride = spec["size"], spec["stride"]
        Ho, Wo = window_output(in_shape, size, stride, (0, 0), f"{cls.type} {hw(size)}, stride {num_pair(stride)}")
        return in_shape[0], Ho, Wo
