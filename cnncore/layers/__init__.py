"""The layer types, one module each, and the registry that everything else reads.

Every layer works on a batch, NCHW for maps and ``(N, D)`` for flat vectors.
Names follow the texts: ``z`` is the affine map, ``y = f(z)`` the output,
``d·`` the gradient of the loss with respect to ``·``.

:data:`LAYER_TYPES` maps each JSON ``type`` to its class (:mod:`.base` says
what a class declares); the order here is the order the Build editor lists
them. To add a type, write one module beside these and import it below.
"""
from __future__ import annotations

from .base import LAYER_TYPES, REQUIRED, Field, Layer, LayerFitError, StepText, Teaching, layer_class, shape_text
from .conv import Conv
from .maxpool import MaxPool
from .avgpool import AvgPool
from .l2pool import L2Pool
from .downsample import Downsample
from .upsample import Upsample
from .flatten import Flatten
from .dense import Dense

__all__ = ["Layer", "Field", "StepText", "Teaching", "LayerFitError", "LAYER_TYPES", "layer_class", "build_layer",
           "shape_text", "REQUIRED", "Conv", "MaxPool", "AvgPool", "L2Pool", "Downsample", "Upsample",
           "Flatten", "Dense"]


def build_layer(index: int, spec: dict, in_shape: tuple, out_shape: tuple, dtype) -> Layer:
    """The layer object for one normalized layer spec (``ValueError`` for an unknown type)."""
    return layer_class(spec["type"])(index, spec, in_shape, out_shape, dtype)
