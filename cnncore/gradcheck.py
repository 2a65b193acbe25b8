"""Live gradient check: backpropagation against a central difference, for one number.

For a network, an image and its label, pick any weight or bias element
(``"L0.W", (f, c, i, j)``) or an input pixel (``"input", (c, r, s)``) and compare

* the analytic gradient ``∂L/∂θ`` from the backward pass, with
* the central difference ``(L(θ + ε) − L(θ − ε)) / 2ε``.

Both run on a float64 copy of the network (the caller's network is never
changed), so with ``ε ≈ 1e-5`` they agree to about 1e-8 unless the nudge
crosses a kink (a ReLU at 0, a tie in a max-pool window).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Network, softmax_cross_entropy

__all__ = ["GradCheckResult", "gradient_check", "check_targets", "as_float64", "random_index", "demo_setup",
           "example_for", "relative_error", "INPUT", "ROUNDING", "floor_for"]

#: The target name of the input image.
INPUT = "input"

#: How closely a float64 loss is computed, relative to its size (float64 keeps 16 digits; a pass of a
#: network loses about one of them).
ROUNDING = 1e-15


def floor_for(eps: float, loss: float) -> float:
    """How far apart two gradients may be and still be told apart by a central difference of step
    ``eps`` at a loss of ``loss``: it subtracts two losses that agree to :data:`ROUNDING` and divides by
    ``2 eps``, so its rounding is about ``ROUNDING · |L| / eps`` (1e-10 at ε = 1e-5 and L ≈ 1; 100
    times more at ε = 1e-7). Closer than that, or both nearer 0, the two numbers cannot be told apart."""
    return ROUNDING * max(1.0, abs(loss)) / eps


@dataclass(frozen=True)
class GradCheckResult:
    """One comparison. ``rel_error = |analytic − numeric| / max(|analytic|, |numeric|, 1e-12)``."""
    target: str
    index: tuple
    value: float
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float
    eps: float
    loss: float
    loss_plus: float
    loss_minus: float
    #: The losses at ``θ ± 10ε``: how the gaps grow with the nudge (:attr:`kink`, :attr:`curved`). A wider
    #: step, not a narrower one: its rounding is ten times less, where a narrower one's can hide the gap.
    loss_plus_wide: float = float("nan")
    loss_minus_wide: float = float("nan")

    @property
    def floor(self) -> float:
        """The central difference's own rounding at this ε and loss, times ten (:func:`floor_for`)."""
        return floor_for(self.eps, self.loss)

    @property
    def slope_plus(self) -> float:
        """One-sided slope ``(L(θ + ε) − L(θ)) / ε``."""
        return (self.loss_plus - self.loss) / self.eps

    @property
    def slope_minus(self) -> float:
        """One-sided slope ``(L(θ) − L(θ − ε)) / ε``."""
        return (self.loss - self.loss_minus) / self.eps

    @property
    def kink(self) -> bool:
        """True when the check fails because the loss has a corner here.

        At a ReLU exactly at 0 or a tie in a max-pool window the slopes to the
        left and right differ; backprop then returns one of them while the
        central difference averages the two (with several ties at once, backprop
        may return yet another mix). Detected as left and right slopes that
        differ far more than rounding allows, and by about as much at ``10ε`` (a smooth curve's
        slopes differ by ``ε·L''``: ten times more over a ten times wider nudge). Backprop's value is not
        held to lie between the two slopes: where a nudge moves several ties at once, its mix of the
        windows' winners may lie outside them and still be right.
        """
        if self.agrees:
            return False
        sp, sm = self.slope_plus, self.slope_minus
        gap = sp - sm
        wide = (self.loss_plus_wide - 2 * self.loss + self.loss_minus_wide) / (10 * self.eps)
        return abs(gap) > 1e-3 * max(abs(sp), abs(sm), 1e-6) and not abs(wide) >= 3 * abs(gap)

    @property
    def numeric_wide(self) -> float:
        """The central difference at ``10ε`` (NaN where it was not measured)."""
        return (self.loss_plus_wide - self.loss_minus_wide) / (20 * self.eps)

    @property
    def curved(self) -> bool:
        """True when the gradients differ at ε only by the central difference's own error where the loss
        bends: at ``10ε`` that error grows as a bend's does (about a hundred times: it goes with ε²), while a
        wrong gradient's stays as far off."""
        if self.agrees or self.kink:
            return False
        return abs(self.analytic - self.numeric_wide) >= 30 * self.abs_error

    @property
    def agrees(self) -> bool:
        """True when the two gradients match to 1e-6 (relative), or differ by less than
        :attr:`floor`: closer than that a central difference cannot tell two numbers apart."""
        return self.rel_error <= 1e-6 or self.abs_error <= self.floor

    @property
    def below_floor(self) -> bool:
        """True when both gradients are within :attr:`floor` of 0: both are 0 as far as a central
        difference can tell, where a relative error says nothing (0 against 1e-13 is a relative
        error of 1, yet both mean "no effect")."""
        return max(abs(self.analytic), abs(self.numeric)) <= self.floor

    @property
    def within_rounding(self) -> bool:
        """True when the gradients are not 0 (say both about 7e-7) and differ by less than
        :attr:`floor` without agreeing to 1e-6 relative: small numbers, matched as closely as the
        central difference's own rounding allows (its relative error measures that rounding)."""
        return not self.below_floor and self.abs_error <= self.floor and self.rel_error > 1e-6


def relative_error(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def as_float64(net: Network) -> Network:
    """A float64 copy of ``net`` with the same weights and signature (classes, input normalisation)."""
    out = Network(net.spec, seed=getattr(net, "seed", 0), dtype=np.float64)
    out.set_params({k: np.asarray(v, dtype=np.float64) for k, v in net.params().items()})
    out.signature = net.signature
    out.history, out.trained_on = list(net.history), net.trained_on      # (the same network's past)
    return out


def check_targets(net: Network) -> dict:
    """``name -> shape`` of everything that can be checked: every parameter, then ``"input"``."""
    out = {k: tuple(v.shape) for k, v in net.params().items()}
    out[INPUT] = tuple(net.input_shape)
    return out


def random_index(shape, rng=None) -> tuple:
    rng = np.random.default_rng(rng)
    return tuple(int(rng.integers(0, s)) for s in shape)


def _loss(net, x, labels) -> float:
    loss, _, _ = softmax_cross_entropy(net.forward(x), labels)
    return float(loss)


def gradient_check(net: Network, image, label: int, target: str, index, eps: float = 1e-5,
                   net64: Network | None = None) -> GradCheckResult:
    """Compare backprop with a central difference for one element.

    ``target`` is a key of :meth:`Network.params` (``"L0.W"``, ``"L3.b"``…) or
    ``"input"``; ``index`` indexes that array (for the input ``(c, r, s)``).
    ``net64`` may pass a float64 copy made once with :func:`as_float64` (the
    check then nudges and restores it in place).
    """
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    work = net64 if net64 is not None else as_float64(net)
    x = work.one_image(image).astype(np.float64)
    labels = np.array([int(label)], dtype=np.intp)
    targets = check_targets(work)
    if target not in targets:
        raise KeyError(f"{target!r} is not one of {', '.join(targets)}")
    index = tuple(int(i) for i in np.atleast_1d(index))
    shape = targets[target]
    if len(index) != len(shape) or not all(0 <= i < s for i, s in zip(index, shape)):
        raise IndexError(f"index {index} does not fit {target} with shape {shape}")

    # analytic: one forward and backward pass
    logits = work.forward(x)
    loss, _, dlogits = softmax_cross_entropy(logits, labels)
    dx = work.backward(dlogits, need_input_grad=True)
    if target == INPUT:
        arr, full = x, (0,) + index
        analytic = float(dx[full])
    else:
        arr, full = work.params()[target], index
        analytic = float(work.grads()[target][full])

    # numeric: nudge the one number both ways and measure the loss
    old = float(arr[full])
    try:
        lp, lm, lpw, lmw = (_nudged(work, x, labels, arr, full, old + d) for d in (eps, -eps, 10 * eps, -10 * eps))
    finally:
        arr[full] = old
    numeric = (lp - lm) / (2 * eps)
    return GradCheckResult(target, index, old, analytic, numeric, abs(analytic - numeric),
                           relative_error(analytic, numeric), float(eps), float(loss), lp, lm, lpw, lmw)


def _nudged(net, x, labels, arr, full, value: float) -> float:
    """The loss with ``arr[full]`` set to ``value`` (the caller puts the old value back)."""
    arr[full] = value
    return _loss(net, x, labels)


def demo_setup(preset_name: str = "tiny", seed: int = 0):
    """``(net, image, label)`` to check when the app has given nothing yet.

    A fresh network of a preset and one generated digit (a plain stroke when
    the generator is not available). The image is ``(C, H, W)`` float in [0, 1].
    """
    from .architecture import preset
    net = Network(preset(preset_name), seed=seed)
    C, H, W = net.input_shape
    try:
        from .datasets import generated_digits, to_input
        X, y = generated_digits(1, seed=seed)
        image, label = to_input(X)[0], int(y[0])
    except ImportError:
        image = np.zeros((C, H, W), dtype=np.float32)
        image[:, H // 4:3 * H // 4, W // 2 - 1:W // 2 + 1] = 1.0   # a vertical stroke: a "1"
        label = 1
    return net, image, label


def example_for(net, seed: int = 0) -> tuple[np.ndarray, int]:
    """``(image (C, H, W) float in [0, 1], label)``: a picture ``net`` takes when the app has none, to
    check on: the demo's generated digit for a 1×28×28 input, else seeded random noise of the
    network's own input shape, labelled with its first class in use."""
    if tuple(net.input_shape) == (1, 28, 28):
        _, image, label = demo_setup(seed=seed)
        return image, label
    from .architecture import UNUSED_CLASS
    image = np.random.default_rng(seed).random(tuple(net.input_shape)).astype(np.float32)
    label = next((k for k, c in enumerate(net.classes) if c != UNUSED_CLASS), 0)
    return image, label
