"""Optimizers: SGD with momentum and Adam, updating a network's weights in place.

Both take the live parameter dict of :meth:`cnncore.network.Network.params`
and, each step, the matching gradient dict. Weight decay is an L2 penalty
``λ/2·‖W‖²`` on the weights only (not the biases): it adds ``λ·W`` to ``∂L/∂W``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["Optimizer", "SGD", "Adam", "make_optimizer", "DEFAULT_LR"]

#: Default learning rate per optimizer.
DEFAULT_LR = {"sgd": 0.05, "adam": 0.003}


def _decays(key: str) -> bool:
    return key.endswith(".W")


class Optimizer:
    """Base class: ``step(grads)`` moves every parameter against its gradient."""

    name = "optimizer"

    def __init__(self, params: dict, lr: float, weight_decay: float = 0.0):
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"weight decay must be >= 0, got {weight_decay}")
        self.params = params
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.t = 0
        self._buf = {k: np.empty_like(p) for k, p in params.items()}

    def _grad(self, key: str, g: np.ndarray) -> np.ndarray:
        """``g + λ·W`` for weights when decay is on (into a reused buffer), else ``g``."""
        if self.weight_decay and _decays(key):
            buf = self._buf[key]
            np.multiply(self.params[key], self.weight_decay, out=buf)
            buf += g
            return buf
        return g

    def step(self, grads: dict):
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays that resume this optimizer exactly (keys like ``"m.L0.W"``, ``"t"``)."""
        return {"t": np.array(self.t, dtype=np.int64)}

    def load_state_dict(self, state: dict):
        self.t = int(state["t"])


class SGD(Optimizer):
    """``v ← μ·v + g;  w ← w − α·v`` (PyTorch's form of momentum; μ = 0 is plain SGD)."""

    name = "sgd"

    def __init__(self, params, lr=DEFAULT_LR["sgd"], momentum=0.9, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.v = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, grads):
        self.t += 1
        lr = self.params[next(iter(self.params))].dtype.type(self.lr)
        for k, p in self.params.items():
            g = self._grad(k, grads[k])
            if self.momentum:
                v = self.v[k]
                v *= self.momentum
                v += g
                g = v
            p -= lr * g

    def state_dict(self):
        out = super().state_dict()
        out.update({f"v.{k}": v for k, v in self.v.items()})
        return out

    def load_state_dict(self, state):
        super().load_state_dict(state)
        for k in self.v:
            self.v[k][...] = state[f"v.{k}"]


class Adam(Optimizer):
    """Adam: running means of ``g`` and ``g²`` with bias correction, step ``α·m̂/(√v̂ + ε)``."""

    name = "adam"

    def __init__(self, params, lr=DEFAULT_LR["adam"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps = float(eps)
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self._tmp = {k: np.empty_like(p) for k, p in params.items()}

    def step(self, grads):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        # Bias-corrected: w -= α/c1 · m / (√v / √c2 + ε), as PyTorch computes it.
        c1 = 1 - b1 ** self.t
        c2 = 1 - b2 ** self.t
        step = self.lr / c1
        for k, p in self.params.items():
            g = self._grad(k, grads[k])
            m, v, tmp = self.m[k], self.v[k], self._tmp[k]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= (1 - b2)
            v += tmp
            np.sqrt(v, out=tmp)
            tmp *= 1 / np.sqrt(c2)
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= step
            p -= tmp

    def state_dict(self):
        out = super().state_dict()
        out.update({f"m.{k}": a for k, a in self.m.items()})
        out.update({f"v.{k}": a for k, a in self.v.items()})
        return out

    def load_state_dict(self, state):
        super().load_state_dict(state)
        for k in self.m:
            self.m[k][...] = state[f"m.{k}"]
            self.v[k][...] = state[f"v.{k}"]


def make_optimizer(name: str, params: dict, lr: float | None = None, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> Optimizer:
    """``"sgd"`` or ``"adam"`` with the given settings (``lr=None``: the optimizer's default)."""
    if name == "sgd":
        return SGD(params, lr if lr is not None else DEFAULT_LR["sgd"], momentum, weight_decay)
    if name == "adam":
        return Adam(params, lr if lr is not None else DEFAULT_LR["adam"], weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose 'sgd' or 'adam'")
