"""What the network looks at, and how fragile its answer is: gradients with respect to the input.

::

    probe = Probe(net)                        # a private copy: net itself is never touched
    g = probe.class_gradient(x)               # x (C, H, W) floats in [0, 1]; c = the predicted class
    g.saliency                                # ∂z_c/∂x, (C, H, W), signed
    g.gradcam()                               # {conv layer index: relu(Σ_k α_k A_k) of its output's H×W}
    a = probe.smallest_attack(x)              # the smallest L∞ change (ε ≤ 0.3) that changes the answer
    for frame in probe.dream(Goal.of_class(3)): ...    # what makes the logit of 3 large

Everything runs on a :class:`Probe`'s own copy of the network, so a network that is
training in another thread is never disturbed (give the Probe a snapshot, such as
the app's ``Session.view_network()``, not the live network while it trains).

* **Saliency**: ``∂z_c/∂x``, the gradient of class ``c``'s logit (before the softmax)
  with respect to every input pixel, one backward pass seeded with a one-hot vector.
* **Grad-CAM** for a conv layer with output ``A = y`` (after its activation), maps
  ``A_k`` of ``H×W``: ``α_k = (1/HW) Σ_xy ∂z_c/∂A_k(x, y)`` and the map
  ``relu(Σ_k α_k A_k)``: where the maps that raise ``z_c`` are active.
* **Adversarial picture**: iterated gradient-sign steps on the cross-entropy (away from
  the original answer, or towards a target), every step clipped to the L∞ ball of
  radius ε around the image and to [0, 1]; the smallest ε on a grid then a bisection.
* **Dream**: gradient ascent on the input for a class logit or the mean of one conv
  filter's map ``z`` (before its activation, so a ReLU that is off everywhere cannot stall it), with a penalty ``λ Σ (neighbour differences)²`` that keeps it smooth.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .gradcheck import as_float64
from .kernels import conv2d_backward, conv2d_forward
from .layers import Conv
from .network import Network, softmax

__all__ = ["conv_layers", "Probe", "ClassGradient", "Attack", "Goal", "DreamFrame", "grad_cam", "upsample_map",
           "smoothness_penalty", "EPS_MAX"]

#: The largest L∞ budget an adversarial search uses (pixels are in [0, 1]).
EPS_MAX = 0.3


def conv_layers(net: Network) -> list[int]:
    """The indices of ``net``'s conv layers: the ones Grad-CAM maps and dreams of a filter are for."""
    return [layer.index for layer in net.layers if isinstance(layer, Conv)]


def grad_cam(A: np.ndarray, dA: np.ndarray) -> np.ndarray:
    """``relu(Σ_k α_k A_k)`` with ``α_k`` the mean of ``dA_k`` over positions.

    ``A, dA (F, H, W)``: a layer's output maps and ``∂z_c/∂A``; returns ``(H, W)``."""
    alpha = dA.mean(axis=(1, 2))
    return np.maximum(np.tensordot(alpha, A, axes=1), 0)


def upsample_map(m: np.ndarray, shape) -> np.ndarray:
    """``m (h, w)`` stretched over ``shape`` by bilinear interpolation, pixel centres aligned
    (each output pixel samples ``m`` at ``(i + ½)·h/H − ½``, clamped at the edges)."""
    m = np.asarray(m, dtype=np.float64)
    h, w = m.shape

    def axis(n_in, n_out):
        t = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        i0 = np.floor(t).astype(int)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, t - i0

    r0, r1, fr = axis(h, shape[0])
    c0, c1, fc = axis(w, shape[1])
    top = m[r0][:, c0] * (1 - fc) + m[r0][:, c1] * fc
    bottom = m[r1][:, c0] * (1 - fc) + m[r1][:, c1] * fc
    return top * (1 - fr)[:, None] + bottom * fr[:, None]


def smoothness_penalty(x: np.ndarray) -> tuple[float, np.ndarray]:
    """``(P, ∂P/∂x)`` for ``P = Σ (x(i+1, j) − x(i, j))² + Σ (x(i, j+1) − x(i, j))²`` over the last two
    axes of ``x``: large where neighbouring pixels differ."""
    dv = np.diff(x, axis=-2)
    dh = np.diff(x, axis=-1)
    g = np.zeros_like(x)
    g[..., 1:, :] += 2 * dv
    g[..., :-1, :] -= 2 * dv
    g[..., :, 1:] += 2 * dh
    g[..., :, :-1] -= 2 * dh
    return float((dv * dv).sum() + (dh * dh).sum()), g


@dataclass
class ClassGradient:
    """One image's logits and the gradient of class ``cls``'s logit ``z_c``.

    ``saliency (C, H, W)`` is ``∂z_c/∂x``; ``maps[i]`` and ``map_grads[i]`` are conv layer
    ``i``'s output ``A (F, H, W)`` and ``∂z_c/∂A``."""
    logits: np.ndarray
    cls: int
    saliency: np.ndarray
    maps: dict
    map_grads: dict

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.logits))

    @property
    def probabilities(self) -> np.ndarray:
        return softmax(self.logits[None].astype(np.float64))[0]

    @property
    def abs_saliency(self) -> np.ndarray:
        return np.abs(self.saliency)

    def gradcam(self) -> dict:
        """``{i: (H, W)}`` Grad-CAM map of every conv layer ``i`` (:func:`grad_cam`)."""
        return {i: grad_cam(self.maps[i], self.map_grads[i]) for i in self.maps}


@dataclass
class Attack:
    """The result of an adversarial search on one image.

    ``image (C, H, W)`` is the changed image (within ``epsilon`` of ``original`` and in
    [0, 1]); ``predicted`` is what the network answers for it (run on it alone, as
    ``Network.predict`` does), ``original_predicted`` its answer for the original.
    ``success``: the answer changed (or became ``target`` when one was asked for)."""
    original: np.ndarray
    image: np.ndarray
    epsilon: float
    original_predicted: int
    predicted: int
    target: int | None
    success: bool

    @property
    def change(self) -> np.ndarray:
        return self.image.astype(np.float64) - self.original.astype(np.float64)


@dataclass(frozen=True)
class Goal:
    """What a dream maximises: class ``index``'s logit (``layer`` None) or the mean over positions
    of filter ``index``'s map ``z`` in conv layer ``layer`` (its response before the activation)."""
    index: int
    layer: int | None = None

    @classmethod
    def of_class(cls, c: int) -> "Goal":
        return cls(int(c))

    @classmethod
    def of_filter(cls, layer: int, k: int) -> "Goal":
        return cls(int(k), int(layer))

    def describe(self) -> str:
        return f"class {self.index}" if self.layer is None else f"filter {self.index} of layer {self.layer}"


@dataclass(frozen=True)
class DreamFrame:
    """One frame of a dream: ``image (C, H, W)`` after ``step`` steps, its ``score`` (the goal's value)
    and the smoothness ``penalty``."""
    step: int
    image: np.ndarray
    score: float
    penalty: float


class Probe:
    """Input gradients of a private copy of ``net`` (in ``dtype``, default the network's own).

    The copy is made once; build a new Probe when the weights change."""

    def __init__(self, net: Network, dtype=None):
        self.net = _private_copy(net, dtype)
        self.conv_layers = conv_layers(self.net)

    # ------------------------------------------------------------------ inputs
    def as_input(self, x) -> np.ndarray:
        """One image or a batch as ``(N, C, H, W)`` in the probe's dtype: floats in [0, 1], or uint8
        grey levels (divided by 255); ``(H, W)`` and ``(C, H, W)`` are one image."""
        x = np.asarray(x)
        if x.dtype.kind not in "fiu":
            raise TypeError(f"an image must be numbers, got {x.dtype}")
        scale = 255.0 if x.dtype == np.uint8 else 1.0
        shape = self.net.input_shape
        if x.shape == shape[1:] and shape[0] == 1:
            x = x[None]
        if x.shape == shape:
            x = x[None]
        if x.ndim != 4 or x.shape[1:] != shape:
            raise ValueError(f"the network needs images of {shape}, got an array of {x.shape}")
        out = np.array(x, dtype=self.net.dtype)
        if scale != 1.0:
            out /= scale
        return out

    def logits(self, x) -> np.ndarray:
        """``(N, 10)`` logits (nothing kept on the layers)."""
        return self.net.forward(self.as_input(x), keep=False)

    def predict(self, x) -> np.ndarray:
        return self.logits(x).argmax(axis=1)

    # ------------------------------------------------------------------ gradients
    def _input_gradient(self, x: np.ndarray, upto: int, seed) -> tuple[np.ndarray, np.ndarray]:
        """Forward ``x (N, C, H, W)`` through layers ``0..upto``; back-propagate ``seed(y)`` (the
        gradient at layer ``upto``'s output ``y``) to the input (through the network's input
        normalisation, when it has one). Returns ``(y, ∂/∂x)``, copies."""
        layers = self.net.layers[:upto + 1]
        sig = self.net.signature
        y = sig.normalise(np.ascontiguousarray(x, dtype=self.net.dtype))
        for layer in layers:
            y = layer.forward(y, keep=True)
        y = np.array(y)                     # a plan's buffer is valid until its next call
        d = seed(y)
        for layer in reversed(layers):
            d = layer.backward(d, need_dx=True)
        return y, np.array(sig.input_gradient(d))

    def class_gradient(self, x, c: int | None = None) -> ClassGradient:
        """Logits and ``∂z_c/∂x`` of one image; ``c`` defaults to the predicted class."""
        x = self.as_input(x)
        if len(x) != 1:
            raise ValueError(f"class_gradient takes one image, got {len(x)}")
        if c is None:
            c = int(self.predict(x)[0])
        if not 0 <= int(c) < self.net.num_classes:
            raise ValueError(f"the class must be one of 0..{self.net.num_classes - 1}, got {c}")

        def onehot(z):
            d = np.zeros_like(z)
            d[0, int(c)] = 1
            return d
        z, dx = self._input_gradient(x, len(self.net.layers) - 1, onehot)
        layers = self.net.layers
        maps = {i: np.array(layers[i].y[0]) for i in self.conv_layers}
        grads = {i: np.array(layers[i].dy[0]) for i in self.conv_layers}
        self.net.clear()
        return ClassGradient(z[0], int(c), dx[0], maps, grads)

    def loss_gradient(self, x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(logits (N, 10), ∂L_n/∂x_n)`` for each image's own cross-entropy ``L_n = −log p(label_n)``."""
        def ce(z):
            d = softmax(z.copy())
            d[np.arange(len(z)), labels] -= 1
            return d
        z, dx = self._input_gradient(x, len(self.net.layers) - 1, ce)
        self.net.clear()
        return z, dx

    # ------------------------------------------------------------------ adversarial
    def attack(self, x, epsilon: float, target: int | None = None, steps: int = 20) -> Attack:
        """Gradient-sign steps within L∞ budget ``epsilon`` (at most :data:`EPS_MAX`)."""
        x = np.clip(self.as_input(x)[:1], 0, 1)
        eps = _budget(epsilon)
        original = int(self.predict(x)[0])
        adv = self._attack_batch(x, np.array([eps]), original, target, steps)
        return self._verified(x, adv, [eps], original, target)

    def smallest_attack(self, x, target: int | None = None, eps_max: float = EPS_MAX, steps: int = 20,
                        grid: int = 30, refine: int = 8) -> Attack:
        """The smallest ε (on ``grid`` even steps up to ``eps_max``, then ``refine`` steps between the
        last ε that failed and the first that worked) whose attack changes the answer (or reaches
        ``target``). When none does, the attack at ``eps_max`` (with ``success`` False)."""
        x = np.clip(self.as_input(x)[:1], 0, 1)
        eps_max = _budget(eps_max)
        original = int(self.predict(x)[0])
        if target is not None and int(target) == original:
            return Attack(x[0], x[0].copy(), 0.0, original, original, int(target), True)
        eps = np.linspace(eps_max / grid, eps_max, grid)
        adv = self._attack_batch(x, eps, original, target, steps)
        first = self._first_success(x, adv, eps, original, target)
        if first is None:
            return self._verified(x, adv[-1:], eps[-1:], original, target)
        low = eps[first - 1] if first > 0 else 0.0
        fine = np.linspace(low, eps[first], refine + 2)[1:-1]
        adv_fine = self._attack_batch(x, fine, original, target, steps)
        return self._verified(x, np.concatenate([adv_fine, adv[first:first + 1]]),
                              np.append(fine, eps[first]), original, target)

    def _attack_batch(self, x, eps, original, target, steps) -> np.ndarray:
        """One attack per budget in ``eps (B,)`` on image ``x (1, C, H, W)``, run as one batch.
        Each image stops moving once it reaches its goal."""
        B = len(eps)
        lo, hi = _bounds(x, eps, self.net.dtype)
        step = ((2.5 / steps) * eps).reshape(B, 1, 1, 1).astype(self.net.dtype)
        adv = np.repeat(x, B, axis=0)
        labels = np.full(B, original if target is None else int(target), dtype=np.intp)
        sign = 1 if target is None else -1      # away from the answer, or down the target's loss
        for _ in range(steps):
            z, g = self.loss_gradient(adv, labels)
            moving = ~_reached(z.argmax(axis=1), original, target)
            if not moving.any():
                break
            adv[moving] = np.clip(adv + sign * step * np.sign(g), lo, hi)[moving]
        return adv

    def _first_success(self, x, adv, eps, original, target) -> int | None:
        hits = np.flatnonzero(_reached(self.predict(adv), original, target))
        return int(hits[0]) if len(hits) else None

    def _verified(self, x, adv, eps, original, target) -> Attack:
        """The first image of ``adv`` whose answer, computed on it alone, is a success (else the last)."""
        for k in range(len(adv)):
            p = int(self.predict(adv[k:k + 1])[0])
            if _reached(np.array([p]), original, target)[0] or k == len(adv) - 1:
                return Attack(x[0], adv[k], float(eps[k]), original, p, target,
                              bool(_reached(np.array([p]), original, target)[0]))

    # ------------------------------------------------------------------ dream
    def goal_gradient(self, x: np.ndarray, goal: Goal) -> tuple[float, np.ndarray]:
        """``(s, ∂s/∂x)`` for one image ``x (1, C, H, W)``: ``s`` the goal's value."""
        self._check_goal(goal)
        if goal.layer is None:
            def onehot(z):
                d = np.zeros_like(z)
                d[0, goal.index] = 1
                return d
            z, dx = self._input_gradient(x, len(self.net.layers) - 1, onehot)
            self.net.clear()
            return float(z[0, goal.index]), dx
        return self._filter_gradient(x, goal.layer, goal.index)

    def _check_goal(self, goal: Goal) -> None:
        if goal.layer is None:
            if not 0 <= goal.index < self.net.num_classes:
                raise ValueError(f"the class must be one of 0..{self.net.num_classes - 1}, got {goal.index}")
            return
        if goal.layer not in self.conv_layers:
            raise ValueError(f"layer {goal.layer} is not a conv layer (conv layers: {self.conv_layers})")
        filters = self.net.layers[goal.layer].out_shape[0]
        if not 0 <= goal.index < filters:
            raise ValueError(f"layer {goal.layer} has {filters} filters, not a filter {goal.index}")

    def _filter_gradient(self, x: np.ndarray, i: int, k: int) -> tuple[float, np.ndarray]:
        """``s`` = the mean over positions of conv layer ``i``'s ``z`` (before its activation) for
        filter ``k``, and ``∂s/∂x``. Before the activation, so a dream never starts dead: a ReLU
        that gives 0 everywhere would pass no gradient at all."""
        layers, sig = self.net.layers, self.net.signature
        y = sig.normalise(np.ascontiguousarray(x, dtype=self.net.dtype))
        for layer in layers[:i]:
            y = layer.forward(y, keep=True)
        conv = layers[i]
        z = conv2d_forward(y, conv.W, conv.b, conv.stride, conv.padding)
        dz = np.zeros_like(z)
        dz[0, k] = 1.0 / (z.shape[2] * z.shape[3])
        d = conv2d_backward(dz, y, conv.W, conv.stride, conv.padding)[0]
        for layer in reversed(layers[:i]):
            d = layer.backward(d, need_dx=True)
        self.net.clear()
        return float(z[0, k].mean()), np.array(sig.input_gradient(d))

    def dream(self, goal: Goal, steps: int = 150, rate: float = 0.05, smooth: float = 0.3,
              every: int = 5, seed: int = 0) -> Iterator[DreamFrame]:
        """Gradient ascent on the input from a grey image with a little noise: each step moves every
        pixel by at most ``rate`` along ``∂s/∂x − smooth·λ ∂P/∂x`` (the goal's gradient and the
        smoothness penalty's, each scaled to a largest entry of 1), then clips to [0, 1].
        Yields a :class:`DreamFrame` before the first step, every ``every`` steps and after the last."""
        rng = np.random.default_rng(seed)
        x = (0.5 + 0.05 * rng.standard_normal((1,) + self.net.input_shape)).astype(self.net.dtype)
        np.clip(x, 0, 1, out=x)
        for k in range(steps + 1):
            score, g = self.goal_gradient(x, goal)
            penalty, gp = smoothness_penalty(x.astype(np.float64))
            if k % every == 0 or k == steps:
                yield DreamFrame(k, x[0].copy(), score, penalty)
            if k == steps:
                return
            direction = _unit(g) - smooth * _unit(gp)
            x += (rate * direction).astype(x.dtype)
            np.clip(x, 0, 1, out=x)



# ----------------------------------------------------------------------------- helpers

def _private_copy(net: Network, dtype) -> Network:
    if dtype is None or np.dtype(dtype) == net.dtype:
        other = net.copy()
        other.history = []
        return other
    if np.dtype(dtype) != np.float64:
        raise TypeError(f"a probe runs in the network's own dtype or in float64, not {np.dtype(dtype)}")
    return as_float64(net)


def _budget(eps) -> float:
    eps = float(eps)
    if not 0 < eps <= EPS_MAX + 1e-12:
        raise ValueError(f"the budget ε must be in (0, {EPS_MAX}], got {eps:g}")
    return min(eps, EPS_MAX)


def _reached(pred: np.ndarray, original: int, target: int | None) -> np.ndarray:
    return pred != original if target is None else pred == int(target)


def _unit(g: np.ndarray) -> np.ndarray:
    m = float(np.abs(g).max())
    return g / m if m > 0 else g


def _bounds(x: np.ndarray, eps: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` of ``dtype``, shape ``(B, C, H, W)``: the widest box inside both [0, 1] and
    ``|v − x| ≤ ε_b`` for every budget in ``eps (B,)``, measured exactly (float64 differences of
    float32 values are exact), so no rounding ever takes a pixel past its budget."""
    x64 = x.astype(np.float64)
    e = eps.reshape(-1, 1, 1, 1)
    lo = np.maximum(x64 - e, 0).astype(dtype)
    hi = np.minimum(x64 + e, 1).astype(dtype)
    for _ in range(3):          # rounding to dtype may have left a bound one step outside
        lo = np.where(x64 - lo > e, np.nextafter(lo, dtype.type(1)), lo)
        hi = np.where(hi - x64 > e, np.nextafter(hi, dtype.type(0)), hi)
    return lo, hi
