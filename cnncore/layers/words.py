"""Small pieces of text and fields more than one layer type uses."""
from __future__ import annotations

from .base import Field

__all__ = ["hw", "num_pair", "pair_text", "activation_field", "window_fields", "STRIDE_COLUMN"]

#: The Build editor column of every step size: a stride, or a resampling factor.
STRIDE_COLUMN = "Stride / factor"


def hw(p) -> str:
    """``[5, 3]`` -> ``"5×3"``."""
    return f"{p[0]}×{p[1]}"


def num_pair(p) -> str:
    """``[2, 2]`` -> ``"2"``, ``[2, 1]`` -> ``"2×1"`` (as in ``conv 8 5×5 s2 p0``)."""
    return str(p[0]) if p[0] == p[1] else f"{p[0]}×{p[1]}"


def pair_text(p) -> str:
    """``[2, 2]`` -> ``"2"``, ``[2, 1]`` -> ``"(2, 1)"`` (as in the trace's equations)."""
    return str(p[0]) if p[0] == p[1] else f"({p[0]}, {p[1]})"


def activation_field(default) -> Field:
    """The ``activation`` key: a name from ``cnncore.activations.TABLE``."""
    return Field("activation", "activation", "Activation",
                 "The function f in y = f(z) applied after the affine map", default=default, new="relu")


def window_fields(kind: str) -> tuple:
    """``size`` and ``stride`` (defaulting to ``size``) of a pooling window."""
    return (Field("size", "pair", "Kernel / size", f"Window size in pixels: each output is the {kind} of one window",
                  new=[2, 2]),
            Field("stride", "pair", STRIDE_COLUMN, "How far the window moves between outputs (default: its size)",
                  default=lambda parsed, is_last: list(parsed["size"]), new=[2, 2], follows="size"))
