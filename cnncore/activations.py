"""Element-wise activation functions ``y = f(z)`` and their derivatives ``f'(z)``.

Conv and dense layers keep both the affine map ``z`` and ``y = f(z)`` (the
texts' notation). The backward pass multiplies the arriving gradient by
``f'(z)`` element by element: ``dz = dy ⊙ f'(z)``. Each derivative may use
``y`` as well as ``z`` because for sigmoid and tanh that is cheaper.
"""
from __future__ import annotations

import numpy as np

__all__ = ["ACTIVATIONS", "LEAKY_SLOPE", "apply", "derivative", "backward", "formula"]

#: Slope of ``leaky_relu`` for negative inputs (PyTorch's default).
LEAKY_SLOPE = 0.01

ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "none")

_FORMULAS = {
    "relu": ("f(z) = max(0, z)", "f′(z) = 1 if z > 0 else 0"),
    "sigmoid": ("f(z) = 1 / (1 + e^(−z))", "f′(z) = f(z)·(1 − f(z))"),
    "tanh": ("f(z) = tanh(z)", "f′(z) = 1 − tanh²(z)"),
    "leaky_relu": (f"f(z) = z if z > 0 else {LEAKY_SLOPE}·z", f"f′(z) = 1 if z > 0 else {LEAKY_SLOPE}"),
    "none": ("f(z) = z", "f′(z) = 1"),
}


def formula(name: str) -> tuple[str, str]:
    """``(f, f′)`` of an activation as short unicode formulas, for the app to show."""
    return _FORMULAS[name]


def _sigmoid(z, out=None):
    # Stable for large |z|: never exponentiate a large positive number.
    out = np.empty_like(z) if out is None else out
    pos = z >= 0
    e = np.exp(-np.abs(z))
    np.divide(1.0, 1.0 + e, out=out, where=pos)
    np.divide(e, 1.0 + e, out=out, where=~pos)
    return out


def apply(name: str, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``y = f(z)`` for any shape. ``out`` may be given to avoid an allocation.

    With ``name == "none"`` and no ``out``, ``z`` itself is returned (no copy).
    """
    if name == "relu":
        return np.maximum(z, 0, out=out)
    if name == "leaky_relu":
        return np.multiply(z, derivative(name, z, None), out=out)
    if name == "sigmoid":
        return _sigmoid(z, out)
    if name == "tanh":
        return np.tanh(z, out=out)
    if name == "none":
        if out is None:
            return z
        out[...] = z
        return out
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


def derivative(name: str, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``f'(z)`` element by element (a new array of ``z``'s shape and dtype)."""
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        d = (z > 0).astype(z.dtype)
        d *= 1 - LEAKY_SLOPE
        d += LEAKY_SLOPE
        return d
    if name == "sigmoid":
        return y * (1 - y)
    if name == "tanh":
        return 1 - y * y
    if name == "none":
        return np.ones_like(z)
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


def backward(name: str, dy: np.ndarray, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``dz = dy ⊙ f'(z)``, computed without building ``f'(z)`` where a mask does."""
    if name == "none":
        return dy
    if name == "relu":
        return dy * (z > 0)          # (much faster than np.where with a scalar)
    if name == "leaky_relu":
        return dy * derivative(name, z, None)
    return dy * derivative(name, z, y)
