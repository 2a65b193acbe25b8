"""Output-size arithmetic, in one place.

Every layer, the kernels' argument checks and the app's architecture table
call :func:`conv_output_size`, so the rule ``(H + 2P - K) // S + 1`` and its
error message live here only.
"""
from __future__ import annotations

import numbers

__all__ = ["pair", "conv_output_size", "output_size_words", "ShapeError"]


# No image this app meets comes near it; past it, C integers would overflow.
_LARGEST = 2**31 - 1


class ShapeError(ValueError):
    """A layer's kernel, stride or padding does not fit its input."""


def pair(value, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """Return ``value`` as an ``(h, w)`` pair of ints, each at least ``minimum``.

    Accepts an int or a sequence of two ints (``3``, ``(3, 2)``, ``[3, 2]``).
    Raises ``TypeError`` for anything else and ``ValueError`` when too small.
    """
    if type(value) is int:                                       # the common cases, fast
        out = (value, value)
    elif type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        out = value
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        out = (int(value), int(value))
    elif (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
        out = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints (h, w), got {value!r}")
    if max(out) > _LARGEST:
        raise ValueError(f"{name} must be at most {_LARGEST}, got {value!r}")
    if min(out) < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return out


def conv_output_size(in_hw, kernel, stride=1, padding=0) -> tuple[int, int]:
    """Output height and width of a convolution or pooling window sweep.

    ``Ho = (H + 2P - KH) // S + 1`` and the same for the width. ``in_hw``,
    ``kernel``, ``stride`` and ``padding`` are ints or ``(h, w)`` pairs.
    Raises :class:`ShapeError` when the kernel is larger than the padded input.
    """
    H, W = pair(in_hw, "input size")
    KH, KW = pair(kernel, "kernel")
    SH, SW = pair(stride, "stride")
    PH, PW = pair(padding, "padding", minimum=0)
    if KH > H + 2 * PH or KW > W + 2 * PW:
        raise ShapeError(
            f"a {KH}×{KW} window with padding {_fmt(PH, PW)} needs an input of at least "
            f"{max(KH - 2 * PH, 1)}×{max(KW - 2 * PW, 1)} but gets {H}×{W}")
    return (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1


def output_size_words(H: int, K: int, S: int = 1, P: int = 0) -> str:
    """One side's output size written out for a learner, e.g. ``(5 − 3)/2 + 1 = 2`` or, when the
    division is not exact, ``⌊(4 − 3)/2⌋ + 1 = 1`` and which rows the windows never reach."""
    span = H + 2 * P - K
    top = f"{H} + 2·{P} − {K}" if P else f"{H} − {K}"
    out = span // S + 1
    if span % S == 0:
        return f"({top})/{S} + 1 = {out}" if S > 1 else f"{top} + 1 = {out}"
    left = span % S
    rows = "row and column" if left == 1 else f"{left} rows and columns"
    return (f"⌊({top})/{S}⌋ + 1 = {out} (rounded down: the last {rows} of the "
            f"{'padded ' if P else ''}input are never inside a window)")


def _fmt(a: int, b: int) -> str:
    return str(a) if a == b else f"({a}, {b})"
