"""The names of a layer's arrays, ``L{i}.part`` (``L0.x``, ``L2.dW``), built and read in one place.

Parameters (``network.params()``), trace files and the app's maps all use these
names; ``part`` is one of the layer's arrays (``x``, ``z``, ``y``, ``W``, ``b``,
``dy``, ``dz``, ``dx``, ``dW``, ``db`` or a layer type's own, e.g. ``argmax``).
"""
from __future__ import annotations

import re

__all__ = ["layer_key", "split_key", "WEIGHT_PARTS"]

_KEY = re.compile(r"L(\d+)\.(\w+)")

#: The parts of a trace shaped like a layer's weights ``W (F, C, KH, KW)``: the weights, their gradient,
#: their update and the optimizer's state of them (``C`` of a first layer: the picture's planes).
WEIGHT_PARTS = ("W", "dW", "W_next", "mW", "vW")


def layer_key(i: int, part: str) -> str:
    """``"L{i}.{part}"``: array ``part`` of layer ``i`` (counted from 0)."""
    return f"L{int(i)}.{part}"


def split_key(key: str) -> tuple[int | None, str]:
    """``(i, part)`` for a layer's key, ``(None, key)`` for any other (``"input"``, ``"probs"``…)."""
    m = _KEY.fullmatch(key)
    return (int(m.group(1)), m.group(2)) if m else (None, key)
