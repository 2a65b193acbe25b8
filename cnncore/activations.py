"""Element-wise activation functions ``y = f(z)`` and their derivatives ``f'(z)``: one table.

Conv and dense layers keep both the affine map ``z`` and ``y = f(z)`` (the
texts' notation). The backward pass multiplies the arriving gradient by
``f'(z)`` element by element: ``dz = dy ⊙ f'(z)``. Each derivative may use
``y`` as well as ``z`` because for sigmoid and tanh that is cheaper.

:data:`TABLE` holds everything about one activation: ``f`` and ``f′`` as code,
as formulas, the words the trace and the app use for them, and what it is in
PyTorch and ONNX (for :mod:`cnncore.export`). Everything else
(architecture checks, the Build editor's menu, trace steps, explain) reads it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._dispatch import _kernels

__all__ = ["ACTIVATIONS", "TABLE", "Activation", "LEAKY_SLOPE", "apply", "derivative", "backward", "formula",
           "get", "init_std"]

#: Slope of ``leaky_relu`` for negative inputs (PyTorch's default).
LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """One activation: ``f(z, out)``, ``f′(z, y)``, ``dz = dy·f′`` (``grad``) and their words."""
    name: str
    f: Callable
    df: Callable
    grad: Callable
    formula: str           # f(z) = …
    derivative: str        # f′(z) = …
    words: str             # what f does to z, for a forward step
    grad_words: str        # what f′ does to the gradient, for a backward step
    he_init: bool = False  # initial weights: He (ReLU family) or else Xavier/Glorot
    torch: str = ""        # the PyTorch module, as source text (cnncore.export); "" for none
    onnx: tuple = ()       # the ONNX operator and its attributes, ``(op, {attr: value})``; () for none
    on_output: str = ""    # why it hurts on the output layer, whose y are the logits ("" where it does not)

    @property
    def kernel(self) -> int | None:
        """The code of the compiled passes that apply f and f′ bit for bit as ``f`` and ``grad`` do
        (a convolution's activation in the pass after its loops, a dense layer's, a compiled
        step's), from their one table (``CNN_ACTIVATIONS`` in ``_pointwise.h``); None: NumPy only."""
        return _kernels.ACTIVATION_CODES.get(self.name)

    @property
    def equation(self) -> str:
        """``y = f(z)`` written with this activation's name (``y = z`` for none)."""
        return "y = z" if self.name == "none" else f"y = {self.name}(z)"


def _sigmoid(z, out=None):
    # Stable for large |z|: never exponentiate a large positive number.
    out = np.empty_like(z) if out is None else out
    pos = z >= 0
    e = np.exp(-np.abs(z))
    np.divide(1.0, 1.0 + e, out=out, where=pos)
    np.divide(e, 1.0 + e, out=out, where=~pos)
    return out


def _identity(z, out=None):
    if out is None:
        return z
    out[...] = z
    return out


def _leaky_slope(z, y=None):
    d = (z > 0).astype(z.dtype)
    d *= 1 - LEAKY_SLOPE
    d += LEAKY_SLOPE
    return d


TABLE: dict[str, Activation] = {a.name: a for a in (
    Activation("relu", lambda z, out=None: np.maximum(z, 0, out=out),
               lambda z, y: (z > 0).astype(z.dtype),
               lambda dy, z, y: dy * (z > 0),           # (much faster than np.where with a scalar)
               "f(z) = max(0, z)", "f′(z) = 1 if z > 0 else 0",
               "ReLU keeps the positive entries of z and sets the rest to 0",
               "where z was negative or zero the gradient is blocked; elsewhere it passes unchanged", True,
               "nn.ReLU()", ("Relu", {}),
               on_output="no logit can go below 0, so a wrong class cannot be pushed down past 0 (only the right "
                         "one pushed up), and wherever a class's z is below 0 its gradient is 0 (ReLU's slope "
                         "there), so that class learns nothing from the picture"),
    Activation("leaky_relu", lambda z, out=None: np.multiply(z, _leaky_slope(z), out=out),
               _leaky_slope,
               lambda dy, z, y: dy * _leaky_slope(z),
               f"f(z) = z if z > 0 else {LEAKY_SLOPE}·z", f"f′(z) = 1 if z > 0 else {LEAKY_SLOPE}",
               f"leaky ReLU keeps positive entries and scales negative ones by {LEAKY_SLOPE}",
               f"where z was negative only {LEAKY_SLOPE} of the gradient passes", True,
               f"nn.LeakyReLU({LEAKY_SLOPE})", ("LeakyRelu", {"alpha": LEAKY_SLOPE})),
    Activation("sigmoid", _sigmoid,
               lambda z, y: y * (1 - y),
               lambda dy, z, y: dy * (y * (1 - y)),
               "f(z) = 1 / (1 + e^(−z))", "f′(z) = f(z)·(1 − f(z))",
               "the sigmoid squashes every entry of z into (0, 1)",
               "each entry is scaled by y·(1 − y), the sigmoid's slope at z",
               torch="nn.Sigmoid()", onnx=("Sigmoid", {}),
               on_output="every logit stays between 0 and 1, so the softmax can never be sure (of 10 classes the "
                         "most it can give one is e/(e + 9) ≈ 23%, and the loss never falls below 1.46), and the "
                         "sigmoid's slope, small near 0 and 1, slows learning"),
    Activation("tanh", lambda z, out=None: np.tanh(z, out=out),
               lambda z, y: 1 - y * y,
               lambda dy, z, y: dy * (1 - y * y),
               "f(z) = tanh(z)", "f′(z) = 1 − tanh²(z)",
               "tanh squashes every entry of z into (−1, 1)",
               "each entry is scaled by 1 − y², the slope of tanh at z",
               torch="nn.Tanh()", onnx=("Tanh", {}),
               on_output="every logit stays between −1 and 1, so the softmax can never be sure (of 10 classes the "
                         "most it can give one is e²/(e² + 9) ≈ 45%, and the loss never falls below 0.80), and "
                         "the slope of tanh, small near −1 and 1, slows learning"),
    Activation("none", _identity,
               lambda z, y: np.ones_like(z),
               lambda dy, z, y: dy,
               "f(z) = z", "f′(z) = 1",
               "there is no activation, so y is z itself",
               "without an activation dz equals dy"),
)}

#: The names, in the order menus list them.
ACTIVATIONS = tuple(TABLE)


def init_std(name: str, fan_in: int, fan_out: int) -> float:
    """The standard deviation of the initial weights before activation ``name``.

    He for the ReLU family (keeps the variance of y through the layer),
    Xavier/Glorot for the saturating and linear ones.
    """
    if get(name).he_init:
        return float(np.sqrt(2.0 / fan_in))
    return float(np.sqrt(2.0 / (fan_in + fan_out)))


def get(name: str) -> Activation:
    """The table entry for ``name``; ``ValueError`` naming the choices for anything else."""
    try:
        return TABLE[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}") from None


def formula(name: str) -> tuple[str, str]:
    """``(f, f′)`` of an activation as short unicode formulas, for the app to show."""
    a = get(name)
    return a.formula, a.derivative


def apply(name: str, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``y = f(z)`` for any shape. ``out`` may be given to avoid an allocation.

    With ``name == "none"`` and no ``out``, ``z`` itself is returned (no copy).
    """
    return get(name).f(z, out)


def derivative(name: str, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``f'(z)`` element by element (a new array of ``z``'s shape and dtype)."""
    return get(name).df(z, y)


def backward(name: str, dy: np.ndarray, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``dz = dy ⊙ f'(z)``, computed without building ``f'(z)`` where a mask does."""
    return get(name).grad(dy, z, y)
