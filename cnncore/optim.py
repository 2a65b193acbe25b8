"""Optimizers: SGD with momentum and Adam, updating a network's weights in place.

Both take a dict of live parameter arrays — :meth:`cnncore.network.Network.params`,
or ``{"all": net.flat_params}`` to update the whole network in a few array
operations — and, each step, the matching gradient dict. Weight decay is an L2
penalty ``λ/2·‖W‖²`` on the weights only (not the biases): it adds ``λ·W`` to
``∂L/∂W``. Keys ending in ``.W`` decay; for a flat buffer pass
``decay_mask={"all": net.decay_mask}``.
"""
from __future__ import annotations

import math

import numbers

import numpy as np

from ._dispatch import _kernels
from ._threads import threads_for
from .limits import MAX_LR, MIN_LR

__all__ = ["Optimizer", "SGD", "Adam", "make_optimizer", "optimizer_from_state", "check_lr", "check_setting",
           "check_state", "DEFAULT_LR", "HYPER"]

#: Default learning rate per optimizer.
DEFAULT_LR = {"sgd": 0.05, "adam": 0.003}
#: The hyperparameters each optimizer keeps besides ``lr`` and ``weight_decay``, with their defaults.
HYPER = {"sgd": {"momentum": 0.9}, "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}}
#: What each hyperparameter may be: a decay factor below 1 (at 1 Adam's bias correction divides
#: by 1 − 1 = 0 and a velocity never forgets), ε above 0 and at most 1, a weight decay ≥ 0.
_RANGES = {"lr": (lambda v: MIN_LR <= v <= MAX_LR, f"from {MIN_LR:g} to {MAX_LR:g}"),
           "momentum": (lambda v: 0 <= v < 1, "at least 0 and below 1"),
           "beta1": (lambda v: 0 <= v < 1, "at least 0 and below 1"),
           "beta2": (lambda v: 0 <= v < 1, "at least 0 and below 1"),
           "eps": (lambda v: 0 < v <= 1, "above 0 and at most 1"),
           "weight_decay": (lambda v: v >= 0, "at least 0")}


_FLUSH_MARGIN = 1e6
# An Adam step's square root and division per parameter take about as long as this many
# multiply-adds of a kernel: enough parameters (about 30,000) and the step uses every thread (a compiled
# step of one sample updates on one, see cnncore.step._update_threads).
_ADAM_WORK = 32


def check_lr(lr) -> float:
    """``lr`` as a float when it is a learning rate this app accepts (a run, a trace's step, the
    app's boxes: :data:`~cnncore.limits.MIN_LR` to :data:`~cnncore.limits.MAX_LR`), else ``ValueError``."""
    if not (isinstance(lr, numbers.Real) and not isinstance(lr, bool) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"learning rate must be a positive number, got {lr!r}")
    if not MIN_LR <= lr <= MAX_LR:
        raise ValueError(f"learning rate {lr:g} is outside {MIN_LR:g} to {MAX_LR:g}: "
                         + ("no weight would move" if lr < MIN_LR else "the weights would overflow at once"))
    return float(lr)


def check_setting(key: str, value, name: str | None = None) -> float:
    """``value`` as a float when it is a value hyperparameter ``key`` may take (``lr``,
    ``weight_decay``, ``momentum``, ``beta1``, ``beta2``, ``eps``: a finite real number in its
    range), else ``ValueError`` saying what it must be, calling it ``name`` (``key`` itself by default:
    a saved state's member, a keyword). Saved states, traces, the optimizers and a run's settings
    are all checked by this."""
    name = name or key
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} is {value!r}, not a finite number")
    ok, words = _RANGES[key]
    if not ok(value):
        raise ValueError(f"{name} is {value:g}; it must be {words}")
    return float(value)


def _flush_period(decay: float) -> int:
    """Steps after which a value shrinking by ``decay`` per step has lost at most a
    factor 10⁵, i.e. cannot get from above the flush threshold to a subnormal."""
    if decay <= 0:
        return 1
    return max(1, int(math.log(_FLUSH_MARGIN / 10) / -math.log(decay)))


def _tiny(dtype) -> float:
    """Below this magnitude :func:`_flush_tiny` sets a value to 0 (computed in ``dtype``)."""
    return float(np.finfo(dtype).tiny * _FLUSH_MARGIN)


def _flush_tiny(a: np.ndarray, tmp: np.ndarray, mask: np.ndarray) -> None:
    """Set entries of ``a`` within a factor 10⁶ of the smallest normal float to 0.

    A moment of a weight whose gradient stays 0 (a dead ReLU, a pixel that is
    always blank) shrinks geometrically towards the subnormal floats, and CPUs
    compute with those tens of times more slowly: without this a batch-1 Adam
    step of the wide preset took 3.7 ms instead of 0.4 ms. Values this small
    move no weight by anything a float32 can show. Called every
    :func:`_flush_period` steps, which is often enough.
    """
    np.abs(a, out=tmp)
    np.less(tmp, _tiny(a.dtype), out=mask)
    if mask.any():
        np.copyto(a, 0, where=mask)


class Optimizer:
    """Base class: ``step(grads)`` moves every parameter against its gradient."""

    name = "optimizer"

    def __init__(self, params: dict, lr: float, weight_decay: float = 0.0, decay_mask: dict | None = None):
        weight_decay = check_setting("weight_decay", weight_decay)
        self.params = params
        self.lr = check_lr(lr)
        self.weight_decay = float(weight_decay)
        self.t = 0
        # Which entries decay: by default the weights ("….W") and not the biases;
        # a mask array (1 = decays) serves a flat buffer that holds both.
        self.decay_mask = {k: (None if k.endswith(".W") else False) for k in params}
        if decay_mask is not None:
            self.decay_mask.update(decay_mask)
        self._buf = {k: np.empty_like(p) for k, p in params.items()} if weight_decay else {}
        self._mask = {k: np.empty(p.shape, dtype=bool) for k, p in params.items()}
        self._scratch = {k: np.empty_like(p) for k, p in params.items()}

    def _grad(self, key: str, g: np.ndarray) -> np.ndarray:
        """``g + λ·w`` where weights decay (into a reused buffer), else ``g``."""
        mask = self.decay_mask.get(key, False)
        if self.weight_decay and mask is not False:
            buf = self._buf[key]
            np.multiply(self.params[key], self.weight_decay, out=buf)
            if mask is not None:
                buf *= mask
            buf += g
            return buf
        return g

    def step(self, grads: dict):
        raise NotImplementedError

    def settings(self) -> dict:
        """The rule and its hyperparameters as plain values: ``name``, ``lr``, ``weight_decay``,
        the optimizer's own (``momentum``; ``beta1``, ``beta2``, ``eps``) and ``step``, the
        number of updates made so far."""
        return {"name": self.name, "lr": self.lr, **self._hyper(), "weight_decay": self.weight_decay,
                "step": self.t}

    def _hyper(self) -> dict:
        return {}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays that resume this optimizer exactly (keys like ``"m.L0.W"``, ``"t"``), and its
        hyperparameters (``"lr"``, ``"weight_decay"``, ``"momentum"`` or ``"beta1"``…) as 0-d arrays."""
        out = {"t": np.array(self.t, dtype=np.int64)}
        out.update({k: np.array(v, dtype=np.float64) for k, v in self.settings().items()
                    if k not in ("name", "step")})
        return out

    def load_state_dict(self, state: dict):
        self.t = int(state["t"])


class SGD(Optimizer):
    """``v ← μ·v + g;  w ← w − α·v`` (PyTorch's form of momentum; μ = 0 is plain SGD)."""

    name = "sgd"

    def __init__(self, params, lr=DEFAULT_LR["sgd"], momentum=0.9, weight_decay=0.0, decay_mask=None):
        super().__init__(params, lr, weight_decay, decay_mask)
        self.momentum = check_setting("momentum", momentum)
        self._period = _flush_period(self.momentum)
        self.v = {k: np.zeros_like(p) for k, p in params.items()}

    def _hyper(self):
        return {"momentum": self.momentum}

    def step(self, grads):
        self.t += 1
        lr = self.params[next(iter(self.params))].dtype.type(self.lr)
        for k, p in self.params.items():
            g = self._grad(k, grads[k])
            if self.momentum:
                v = self.v[k]
                v *= self.momentum
                v += g
                if self.t % self._period == 0:
                    _flush_tiny(v, self._scratch[k], self._mask[k])
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
    """Adam: running means of ``g`` and ``g²`` with bias correction, step ``α·m̂/(√v̂ + ε)``.

    Each step is one pass of a compiled loop over every parameter array (see
    ``cnncore/_update.h``), bit for bit the NumPy array operations of
    :func:`cnncore.reference.adam_step`. The parameters must be C-contiguous
    float32 or float64 arrays (a network's ``flat_params`` or ``params()`` are).
    """

    name = "adam"

    def __init__(self, params, lr=DEFAULT_LR["adam"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decay_mask=None):
        super().__init__(params, lr, weight_decay, decay_mask)
        self.beta1, self.beta2 = (check_setting(k, b) for k, b in zip(("beta1", "beta2"), betas))
        self.eps = check_setting("eps", eps)
        self._period_m = _flush_period(self.beta1)
        self._period_v = _flush_period(self.beta2)
        for k, p in params.items():
            if p.dtype not in (np.float32, np.float64) or not p.flags.c_contiguous:
                raise TypeError(f"Adam updates C-contiguous float32 or float64 arrays in place; "
                                f"{k!r} is {p.dtype} {'contiguous' if p.flags.c_contiguous else 'strided'}")
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self._decay = {k: self._decay_args(k, p) for k, p in params.items()}
        self._tiny = {p.dtype.char: _tiny(p.dtype) for p in params.values()}
        self._flat = {k: (p.reshape(-1), self.m[k].reshape(-1), self.v[k].reshape(-1)) for k, p in params.items()}

    def _hyper(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _decay_args(self, key, p):
        """``(mode, mask)`` for the kernel: 0 no decay, 1 every entry, 2 where ``mask`` is 1."""
        mask = self.decay_mask.get(key, False)
        if not self.weight_decay or mask is False:
            return 0, p.reshape(-1)          # (the mask argument is not read)
        if mask is None:
            return 1, p.reshape(-1)
        return 2, np.ascontiguousarray(np.broadcast_to(mask, p.shape), dtype=p.dtype).reshape(-1)

    def next_step(self) -> tuple[float, float, bool, bool]:
        """``(1/√c2, α/c1, flush_m, flush_v)`` of the next update (step ``t + 1``): the scalars of
        the compiled pass, which a compiled training step (:mod:`cnncore.step`) takes too."""
        t = self.t + 1
        # Bias-corrected: w -= α/c1 · m / (√v / √c2 + ε), as PyTorch computes it.
        c1 = 1 - self.beta1 ** t
        c2 = 1 - self.beta2 ** t
        return 1 / math.sqrt(c2), self.lr / c1, t % self._period_m == 0, t % self._period_v == 0

    def threads(self, size: int | None = None) -> int:
        """Threads of an update of ``size`` parameters (default: all of them)."""
        if size is None:
            size = sum(p.size for p in self.params.values())
        return threads_for(size * _ADAM_WORK)

    def step(self, grads):
        inv_sqrt_c2, step, flush_m, flush_v = self.next_step()
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        for k, (p, m, v) in self._flat.items():
            g = grads[k]
            if g.size != p.size or g.shape != self.params[k].shape:
                raise ValueError(f"the gradient of {k!r} has shape {g.shape}, the parameter {self.params[k].shape}")
            if g.dtype != p.dtype or not g.flags.c_contiguous:
                g = np.ascontiguousarray(g, dtype=p.dtype)
            decay, mask = self._decay[k]
            _kernels.adam_update(p, g.reshape(-1), m, v, mask, decay, self.weight_decay, b1, 1 - b1, b2, 1 - b2,
                                 inv_sqrt_c2, self.eps, step, self._tiny[p.dtype.char], flush_m, flush_v,
                                 self.threads(p.size))

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
                   weight_decay: float = 0.0, decay_mask: dict | None = None) -> Optimizer:
    """``"sgd"`` or ``"adam"`` with the given settings (``lr=None``: the optimizer's default)."""
    if name == "sgd":
        return SGD(params, lr if lr is not None else DEFAULT_LR["sgd"], momentum, weight_decay, decay_mask)
    if name == "adam":
        return Adam(params, lr if lr is not None else DEFAULT_LR["adam"], weight_decay=weight_decay,
                    decay_mask=decay_mask)
    raise ValueError(f"unknown optimizer {name!r}; choose 'sgd' or 'adam'")


def _scalar(state: dict, key: str):
    """A 0-d real number of a saved state (an int for ``t``), checked."""
    a = np.asarray(state[key])
    if a.shape != () or a.dtype.kind not in ("iu" if key == "t" else "fiu"):
        what = "an integer" if key == "t" else "a real number"
        raise ValueError(f"opt.{key} holds {a.dtype} values of shape {a.shape}, not {what}")
    if key == "t":
        if not 0 <= int(a) <= 2**53:
            raise ValueError(f"opt.t is {int(a)}; it counts the updates made, from 0")
        return int(a)
    try:
        return check_setting(key, float(a))
    except ValueError as e:
        raise ValueError(f"opt.{e}") from None


def _moment(state: dict, key: str, shape: tuple, nonnegative: bool) -> None:
    a = np.asarray(state[key])
    if a.dtype.kind != "f" or a.shape != shape:
        raise ValueError(f"opt.{key} holds {a.dtype} values of shape {a.shape}; the network needs floats of "
                         f"shape {shape}")
    if not np.isfinite(a).all() or (nonnegative and (a < 0).any()):
        raise ValueError(f"opt.{key} holds " + ("NaN or infinite values" if not np.isfinite(a).all()
                                                 else "negative running means of squares"))


def check_state(state: dict, params: dict) -> str:
    """The optimizer's name when ``state`` (a model file's ``opt.*`` entries without the prefix)
    is one this version resumes over ``params`` (``{"L0.W": W, …}``), else ``ValueError`` naming
    the first entry that is not: the name, the hyperparameters (real, finite, in range: see
    :func:`check_setting`), ``t`` a count from 0, every moment array (``m.``/``v.`` of each
    parameter or of ``all`` of them) of floats, finite, of the parameter's shape, and nothing else."""
    name = str(np.asarray(state.get("name", "")))
    if name not in HYPER:
        raise ValueError(f"opt.name {name[:40]!r} is not an optimizer this version knows")
    moments = ("v",) if name == "sgd" else ("m", "v")
    total = (sum(int(np.prod(p.shape)) for p in params.values()),)
    shapes = {f"{m}.{k}": tuple(p.shape) for m in moments for k, p in params.items()}
    shapes.update({f"{m}.all": total for m in moments})
    known = {"name", "t", "lr", "weight_decay", *HYPER[name], *shapes}
    extra = sorted(str(k) for k in state if k not in known)
    if extra:
        raise ValueError(f"opt.{extra[0][:40]} is not an entry of a saved {name} state")
    if "t" not in state:
        raise ValueError("opt.t (the updates made so far) is missing")
    for key in ("t", "lr", "weight_decay", *HYPER[name]):
        if key in state:
            _scalar(state, key)
    for m in moments:
        keys = [f"{m}.all"] if f"{m}.all" in state else [f"{m}.{k}" for k in params]
        for key in keys:
            if key not in state:
                raise ValueError(f"opt.{key} is missing")
            _moment(state, key, shapes[key], nonnegative=(name == "adam" and m == "v"))
    return name


def optimizer_from_state(state: dict, params: dict, decay_mask: dict | None = None) -> tuple[Optimizer, list[str]]:
    """The optimizer a model was trained with, resumed from its saved state (a model file's ``opt.*``
    entries without the prefix, as :func:`cnncore.modelio.load_model` gives them), over ``params``.

    Returns the optimizer and the names of the hyperparameters the state did not hold (files
    written before they were saved), for which the defaults were taken. ``ValueError`` (from
    :func:`check_state`) when the state is not one to resume over ``params``.
    """
    name = check_state(state, params)
    want = {"lr": DEFAULT_LR[name], "weight_decay": 0.0, **HYPER[name]}
    missing = [k for k in want if k not in state]
    h = {k: float(np.asarray(state[k])) if k in state else v for k, v in want.items()}
    if name == "sgd":
        opt = SGD(params, h["lr"], h["momentum"], h["weight_decay"], decay_mask)
    else:
        opt = Adam(params, h["lr"], (h["beta1"], h["beta2"]), h["eps"], h["weight_decay"], decay_mask)
    try:
        opt.load_state_dict(state)
    except KeyError as e:
        raise ValueError(f"the saved {name} state has no entry {e.args[0]!r} for these parameters") from None
    except ValueError as e:
        raise ValueError(f"the saved {name} state does not fit these parameters ({e})") from None
    return opt, missing
