"""Why training goes wrong: per-layer health while a run goes on, the layer that blew up when the
loss became NaN, and what differs between two runs.

::

    monitor = TrainingMonitor(net)
    for ev in trainer.run():
        if isinstance(ev, BatchEvent):
            monitor.observe(net)               # right after the batch, before the next one
    print(monitor.reading())                   # one line for a learner
    if trainer.failure is not None:            # the loss became NaN or infinite
        print(explain_divergence(net, trainer.failure).message)

Per layer with weights, after every batch (:class:`TrainingMonitor`):

* the gradient norm ``‖∂L/∂θ‖`` of its weights and biases;
* the update-to-weight ratio ``‖Δw‖/‖w‖`` of the step just made (about 10⁻³ is a healthy pace;
  10⁻⁶ means the layer has almost stopped learning, 10⁻¹ that the steps are too large);
* for a ReLU layer, the share of its units that were never active (``y > 0``) on any image of
  the last ``window`` batches: dead units, whose gradient is always 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .architecture import describe_layer
from .network import Network

__all__ = ["TrainingMonitor", "Divergence", "explain_divergence", "RunRecord", "setting_differences",
           "start_mark", "compare_runs", "power_of_ten", "HEALTHY_RATIO"]

#: A typical update-to-weight ratio of a layer that learns at a good pace.
HEALTHY_RATIO = 1e-3
_SUPER = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(r: float) -> str:
    """``r`` as the nearest power of ten in print: ``3e-6`` -> ``"10⁻⁶"`` (rounded in the log)."""
    if not (r > 0 and math.isfinite(r)):
        return str(r)
    return "10" + str(round(math.log10(r))).translate(_SUPER)


class TrainingMonitor:
    """Per-layer gradient norms, update ratios and dead ReLUs of ``net``, batch after batch.

    Call :meth:`observe` after each training batch (the layers still hold that batch's outputs
    and gradients). ``series[i]`` holds layer ``i``'s lists ``"grad"``, ``"update"`` and ``"dead"``
    (``dead`` only for ReLU layers), one entry per observed batch."""

    def __init__(self, net: Network, window: int = 20):
        self.window = window
        self.weighted = [l.index for l in net.layers if l.has_params]
        self.relu = [l.index for l in net.layers if l.has_params and l.activation == "relu"]
        self.names = {l.index: describe_layer(l.spec) for l in net.layers}
        self.series = {i: {"grad": [], "update": []} for i in self.weighted}
        for i in self.relu:
            self.series[i]["dead"] = []
        self._before = {i: net.layers[i].W.copy() for i in self.weighted}
        self._delta = {i: np.empty_like(w) for i, w in self._before.items()}
        # per ReLU layer: how many batches' activity was seen, and for each unit the last of them in
        # which it was active (counted from 1; 0: never). A unit is dead when that is not one of the
        # last `window`.
        self._seen = {i: 0 for i in self.relu}
        self._last_active: dict = {}
        self.batches = 0
        self.lrs: list = []           # the learning rate of each observed batch, when it was given

    def observe(self, net: Network, lr: float | None = None) -> dict:
        """Record the batch just trained (at learning rate ``lr``, when known); returns
        ``{i: {"grad", "update"[, "dead"]}}`` of this batch. It runs after every batch of a run in
        the app, so each array is read once or twice and nothing as large as a layer is allocated."""
        if lr is not None and math.isfinite(lr):
            self.lrs.append(float(lr))
        out = {}
        with np.errstate(over="ignore", invalid="ignore"):     # a run on its way to NaN is observed too
            for i in self.weighted:
                out[i] = self._observe_layer(i, net.layers[i])
        self.batches += 1
        return out

    def _observe_layer(self, i: int, layer) -> dict:
        w = layer.W
        g = math.sqrt(_sumsq(layer.dW) + _sumsq(layer.db))
        norm = math.sqrt(_sumsq(w))
        delta = np.subtract(w, self._before[i], out=self._delta[i])
        update = math.sqrt(_sumsq(delta)) / norm if norm > 0 else float("inf")
        np.copyto(self._before[i], w)
        out = {"grad": g, "update": update}
        if i in self._seen and layer.z is not None and len(layer.z):
            # (z > 0 exactly where ReLU's y > 0, NaN in neither: y of a compiled step is written only when read)
            self._note_active(i, _ever_positive(layer.z))
            out["dead"] = self.dead_fraction(i)
        for k, v in out.items():
            self.series[i][k].append(v)
        return out

    def _note_active(self, i: int, active: np.ndarray) -> None:
        """Layer ``i``'s units ``active`` (a mask) on the batch just trained: its count of batches
        seen goes up by one, and each active unit's last batch (counted from 1; 0: never) becomes it."""
        last = self._last_active.get(i)
        if last is None:
            last = self._last_active[i] = np.zeros(active.shape, dtype=np.int64)
        self._seen[i] += 1
        np.maximum(last, np.multiply(active, self._seen[i], dtype=np.int64), out=last)

    def dead_fraction(self, i: int) -> float:
        """The share of layer ``i``'s units never active on the last ``window`` batches."""
        last = self._last_active.get(i)
        if last is None:
            return float("nan")
        return float(np.count_nonzero(last <= max(0, self._seen[i] - self.window)) / last.size)

    def recent(self, i: int, key: str, n: int | None = None) -> float:
        """The median of layer ``i``'s ``key`` over the last ``n`` batches (default: the window)."""
        values = self.series[i].get(key, [])[-(n or self.window):]
        return float(np.median(values)) if values else float("nan")

    def reading(self) -> str:
        """One line for a learner: the most pressing thing the numbers say, or that all is well."""
        if not self.batches or not self.weighted:
            return "No batch trained yet."
        ratios = {i: self.recent(i, "update") for i in self.weighted}
        fast = max(ratios, key=ratios.get)
        slow = min(ratios, key=ratios.get)
        if ratios[fast] > 0.05:
            return (f"Layer {fast}'s updates are {power_of_ten(ratios[fast])} of its weights at every step: "
                    "the steps are too large, lower the learning rate.")
        dead = {i: self.dead_fraction(i) for i in self.relu}
        worst = max(dead, key=dead.get) if dead else None
        if worst is not None and dead[worst] > 0.5:
            return (f"{dead[worst]:.0%} of layer {worst}'s ReLUs were never active in the last "
                    f"{min(self._seen[worst], self.window)} batches: they are dead, pass no gradient and no longer learn.")
        lo, hi = power_of_ten(ratios[slow]), power_of_ten(ratios[fast])
        span = f"about {lo}" if lo == hi else f"between {lo} and {hi}"
        settled = self._settled_by_schedule()
        if settled:
            return (f"The learning rate has come down to {settled} of where it started, as the schedule means "
                    f"it to: the updates are {span} of the weights on purpose, and the weights settle.")
        if ratios[slow] == 0:
            return f"Layer {slow}'s weights did not change in the last batches: it has stopped learning."
        if ratios[slow] < 1e-5:
            return (f"Layer {slow}'s updates are {power_of_ten(ratios[slow])} of its weights: "
                    "it has almost stopped learning.")
        grads = {i: self.recent(i, "grad") for i in self.weighted}
        first, last = self.weighted[0], self.weighted[-1]
        if len(self.weighted) > 1 and grads[last] > 0 and grads[first] < 1e-3 * grads[last]:
            return (f"The gradient reaching layer {first} is {power_of_ten(grads[first] / grads[last])} of the "
                    f"last layer's: it vanishes on the way back, so the early layers learn slowly.")
        return f"Every layer's updates are {span} of its weights: a healthy pace."

    def _settled_by_schedule(self) -> str:
        """When the learning rate in use is under a twentieth of the highest of the run (a cosine
        schedule near its end: tiny updates are then what it asks for), that share in words ("2%",
        "0.1%"); else ""."""
        if not self.lrs or max(self.lrs) <= 0:
            return ""
        share = self.lrs[-1] / max(self.lrs)
        return f"{100 * share:.2g}%" if share < 0.05 else ""


# ----------------------------------------------------------------------------- divergence

@dataclass(frozen=True)
class Divergence:
    """Which layer's values blew up first when the loss became NaN or infinite, and what to do.

    ``growth[i]`` is how many times larger the RMS of layer ``i``'s output was with the failing
    weights than with the last good ones, on the failing batch (inf where it overflowed)."""
    layer: int
    growth: dict = field(repr=False)
    weight_growth: float
    suggested_lr: float
    message: str


def explain_divergence(net: Network, failure, blowup: float = 100.0) -> Divergence:
    """Run the failing batch through the failing weights and the last good ones (``net``'s own),
    layer by layer: the first layer whose output turned non-finite, or grew more than ``blowup``
    times, is where it blew up. ``failure`` is a :class:`cnncore.training.Failure`."""
    bad = net.copy()
    np.copyto(bad.flat_params, failure.params)
    with np.errstate(over="ignore", invalid="ignore"):
        rms_bad = _output_rms(bad, failure.x)
        rms_good = _output_rms(net, failure.x)
    growth = {i: (b / g if g > 0 else (1.0 if b == 0 else float("inf"))) if math.isfinite(b) else float("inf")
              for i, (b, g) in enumerate(zip(rms_bad, rms_good))}
    first = next((i for i in growth if not growth[i] < blowup), None)
    if first is None:       # no single layer jumped: the last one's output is what overflowed
        first = len(net.layers) - 1
    culprit = _weighted_at_or_before(net, first)
    w_growth = _weight_growth(net, bad, culprit)
    suggested = _suggest_lr(failure.lr, w_growth)
    return Divergence(first, growth, w_growth, suggested,
                      _divergence_words(net, failure, first, culprit, growth[first], w_growth, suggested))


def _output_rms(net: Network, x) -> list[float]:
    y = np.ascontiguousarray(x, dtype=net.dtype)
    out = []
    for layer in net.layers:
        y = layer.forward(y, keep=False)
        out.append(float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))))
    return out


def _weighted_at_or_before(net: Network, i: int) -> int | None:
    """The layer with weights that made layer ``i``'s output: ``i`` itself or the closest before it."""
    for j in range(i, -1, -1):
        if net.layers[j].has_params:
            return j
    return None


def _weight_growth(good: Network, bad: Network, i: int | None) -> float:
    if i is None:
        return float("nan")
    with np.errstate(over="ignore", invalid="ignore"):
        g = math.sqrt(_sumsq(good.layers[i].W))
        b = math.sqrt(_sumsq(bad.layers[i].W))
    return b / g if g > 0 else float("inf")


def _suggest_lr(lr: float, weight_growth: float) -> float:
    """At least 10 times lower; 100 times when one update multiplied the weights by more than 100."""
    factor = 100.0 if not weight_growth < 100 else 10.0
    return float(f"{lr / factor:.1g}")


def _divergence_words(net, failure, first, culprit, growth, w_growth, suggested) -> str:
    loss = "not a number (NaN)" if math.isnan(failure.loss) else "infinite"
    what = ("its output overflowed (infinite or NaN)" if not math.isfinite(growth)
            else f"its output grew {growth:.3g} times in one step")
    text = (f"The loss became {loss} in epoch {failure.epoch}, batch {failure.batch}. Layer {first} "
            f"({describe_layer(net.layers[first].spec)}) blew up first: {what}")
    if culprit is not None:
        whose = "its weights" if culprit == first else f"it gets its input through layer {culprit}, whose weights"
        if not math.isfinite(w_growth):
            text += f"; {whose} overflowed in the last update"
        elif w_growth > 1.5:
            text += f"; {whose} grew {w_growth:.3g} times in the last update"
    return (text + f". This usually means the learning rate ({failure.lr:.3g}) is too high: each step "
            "overshoots, the next gradient is larger still, and the numbers run away. Restart from the last "
            f"good weights with a learning rate of {suggested:g} or lower.")


# ----------------------------------------------------------------------------- runs

def start_mark(params, seed: int) -> str:
    """16 hex digits naming where a run starts: its initial weights (``params``, the flat array of
    every weight and bias) and its shuffle ``seed`` (:attr:`cnncore.training.TrainConfig.seed`).
    Two runs with the same mark begin from the same weights and see the images in the same order."""
    import hashlib
    a = np.ascontiguousarray(params)
    h = hashlib.sha256(f"{a.dtype.str} {a.shape} {int(seed)}\n".encode())
    h.update(a.tobytes())
    return h.hexdigest()[:16]


@dataclass
class RunRecord:
    """One training run kept for comparison: its ``settings`` (a :class:`TrainConfig`'s dict plus
    the architecture and data), the network ``seed``, where it started (``start``, a
    :func:`start_mark`, "" when not known; ``first``, the epochs its network had been trained for
    then: :func:`cnncore.training.epochs_done`) and its curves: ``batch_loss`` and ``batch_accuracy`` per
    batch (with ``batch_x`` in the network's epochs), ``epochs`` the per-epoch records (their ``"epoch"``
    too: the run's first ends at ``first + 1``)."""
    name: str
    settings: dict
    seed: int
    start: str = ""
    first: float = 0.0
    batch_x: list = field(default_factory=list)
    batch_loss: list = field(default_factory=list)
    batch_accuracy: list = field(default_factory=list)
    epochs: list = field(default_factory=list)
    outcome: str = ""

    def add_batches(self, x, loss, accuracy) -> None:
        """Batches at ``x`` (in the run's epochs: epoch − 1 + batch / batches per epoch) with their loss and
        accuracy."""
        self.batch_x.extend(self.first + v for v in x)
        self.batch_loss.extend(loss)
        self.batch_accuracy.extend(accuracy)

    def add_epoch(self, ev) -> None:
        self.epochs.append({"epoch": self.first + ev.epoch, "train_loss": ev.train_loss, "train_accuracy": ev.train_accuracy,
                            "val_loss": ev.val_loss, "val_accuracy": ev.val_accuracy})


def compare_runs(a: RunRecord, b: RunRecord) -> str:
    """One sentence on what differs between runs ``a`` and ``b``: the settings that changed and
    whether both began from the same start (the same weights and shuffle order: then the changed
    settings are all that differs)."""
    diff = setting_differences(a, b)
    same = bool(a.start) and a.start == b.start
    changed = "; ".join(diff)
    if same:
        return (f"{a.name} → {b.name}, from the same start (the same initial weights, the images in the same "
                "order): " + (f"only {changed} changed, so that is all that makes them differ." if diff else
                              "nothing changed, so the two runs should match number for number."))
    return f"{a.name} → {b.name}: " + (changed if diff else
                                        "the same settings (any difference comes from where training started)")


def setting_differences(a: RunRecord, b: RunRecord) -> list[str]:
    """``["lr: 0.003 → 0.03", ...]``: every setting (and the seed) that differs between two runs."""
    out = [f"seed: {a.seed} → {b.seed}"] if a.seed != b.seed else []
    for key in sorted(set(a.settings) | set(b.settings)):
        va, vb = a.settings.get(key, "—"), b.settings.get(key, "—")
        if va != vb:
            out.append(f"{key.replace('_', ' ')}: {va} → {vb}")
    return out


# ----------------------------------------------------------------------------- helpers

def _sumsq(a) -> float:
    """The sum of the squares of ``a``'s values, in its own precision unless that overflows (then in
    float64: a layer on its way to blowing up still gets a finite norm while float64 has one). Callers
    that may meet overflow or NaN say so with ``np.errstate``."""
    a = a.ravel()
    s = float(np.dot(a, a))
    if not math.isfinite(s) and a.dtype != np.float64:
        a = a.astype(np.float64)
        s = float(np.dot(a, a))
    return s


def _ever_positive(z: np.ndarray) -> np.ndarray:
    """Where any sample of ``z`` (batch first) is > 0: ``np.any(z > 0, axis=0)`` (``fmax`` passes NaN
    over, as ``>`` never holds for it), without a mask the size of ``z``. A compiled step's ``z`` is
    a view of wide rows (each row a few values longer than the map): NumPy reduces such a view
    element by element, so the samples are reduced as the rows of memory they span, and the
    result read back with z's own strides (twice as fast on the first layers' maps)."""
    it, shape, strides = z.itemsize, z.shape[1:], z.strides[1:]
    span = sum((n - 1) * s for n, s in zip(shape, strides)) + it
    if len(z) == 1:
        return z[0] > 0
    if z.ndim < 3 or z.flags.c_contiguous or min(z.strides) < it or span > 2 * it * math.prod(shape) \
            or any(s % it for s in z.strides):
        return np.fmax.reduce(z, axis=0) > 0
    rows = as_strided(z, shape=(len(z), span // it), strides=(z.strides[0], it), writeable=False)
    return as_strided(np.fmax.reduce(rows, axis=0), shape=shape, strides=strides, writeable=False) > 0
