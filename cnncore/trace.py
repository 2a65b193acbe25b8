"""One forward and backward pass of one image, recorded map by map.

``trace(net, image, label)`` runs the network on a single image and keeps
every array the app draws, under the keys of the ``.npz`` export (``i``
counts layers from 0)::

    input (1, C, H, W)   label (1,)   probs (1, 10)   loss ()   architecture (JSON text)
    input_mean (C,)  input_std (C,)  a model's input normalisation (L0.x is (input − mean) / std),
                                     only where it has one (float64, as in a model file)
    classes (JSON text)              the names of the outputs, where they are not the digits
    L{i}.x  L{i}.y  L{i}.dy  L{i}.dx (not for layer 0)
    L{i}.<part>                      each part the layer type records (``Layer.records``):
                                     z, dz, W, b, dW, db for layers with weights (W, b,
                                     dW, db without a batch axis: they are parameters),
                                     argmax for max pooling (flat index of the winner
                                     in its H×W plane)
    optimizer (JSON text)  loss_next ()   L{i}.W_next  L{i}.b_next   the update step and
                                     the optimizer's state before it (L{i}.mW, vW, mb, vb):
                                     see :mod:`cnncore.update`

and an ordered list of :class:`Step` (forward of each layer, the loss, backward
of each layer in reverse, the weight updates), each with its equation in the
texts' notation and a short explanation.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ._atomic import atomic_savez
from .architecture import DIGIT_CLASSES, infer_shapes, parse_architecture, to_json
from .layers import build_layer, layer_class
from .network import RETRAIN, Network, not_a_number, softmax_cross_entropy
from .signature import NORMALISATION_ENTRIES, channel_names, classes_entry, classes_from, normalisation_entries
from .tracekeys import layer_key, split_key
from .update import PLAIN_LR, UPDATE_PARTS, next_update, read_settings, rule_equation, rule_words, state_parts

__all__ = ["trace", "Trace", "Step", "TraceFileError", "DEFAULT_TRACE_LR"]

#: Learning rate of the plain gradient-descent step shown for a model without optimizer state.
DEFAULT_TRACE_LR = PLAIN_LR


class TraceFileError(ValueError):
    """A trace file cannot be read or does not hold a consistent trace."""


@dataclass(frozen=True)
class Step:
    """One step of the pass: ``kind`` is "forward", "loss", "backward" or "update"."""
    kind: str
    layer: int | None
    layer_type: str
    title: str
    equation: str
    explanation: str
    maps: list = field(default_factory=list)
    #: The first layer's steps: the picture's planes its input maps are (``("R", "G", "B")``, ``("grey",)``).
    planes: tuple = ()


def _layer_steps(spec: dict, shapes: list, kind: str) -> list[Step]:
    """The forward (``kind="forward"``, first to last) or backward (last to first) step of every layer."""
    layers = spec["layers"]
    last = len(layers) - 1
    order = range(len(layers)) if kind == "forward" else range(last, -1, -1)
    steps = []
    for i in order:
        layer, (s_in, s_out) = layers[i], shapes[i]
        cls = layer_class(layer["type"])
        if kind == "forward":
            text = cls.forward_step(layer, s_in, s_out, i == last)
        else:
            text = cls.backward_step(layer, s_in, s_out, i > 0)
        planes = channel_names(s_in[0]) if i == 0 else ()
        steps.append(Step(kind, i, cls.type, f"Layer {i} · {cls.describe(layer)} — {kind}", text.equation,
                          text.explanation + _picture_words(planes, text.parts),
                          [layer_key(i, p) for p in text.parts], planes))
    return steps


def _picture_words(planes: tuple, parts) -> str:
    """For the first layer of a colour network: its input maps are the picture's colour planes, and
    its filters (when it has some) one channel per colour."""
    if len(planes) < 2 or "x" not in parts:
        return ""
    filters = (" Each filter has one channel per colour: the maps show it first as a colour patch, at each "
               "place the colour that makes it answer most (grey: weights of 0), then channel by channel."
               if "W" in parts else "")
    return (f" Here the input maps m = 0 … {len(planes) - 1} are the picture's {', '.join(planes[:-1])} and "
            f"{planes[-1]} planes (drawn after the picture itself), so every sum over m adds up the picture's "
            f"{len(planes)} colours.{filters}")


def _loss_step(last: int) -> Step:
    return Step(
        "loss", None, "softmax",
        "Softmax and cross-entropy loss",
        "p(k) = e^z(k) / Σ_j e^z(j);  L = −log p(label);  dz = p − onehot(label)",
        "Softmax turns the ten logits into probabilities that add up to 1, and the loss is small when the "
        "picture's true class gets a probability near 1. Its gradient with respect "
        "to the logits is simply the probabilities minus 1 at the true class, which starts the backward pass.",
        [layer_key(last, "y"), "probs", "label", "loss", layer_key(last, "dy")])


def plain_settings(lr: float = DEFAULT_TRACE_LR) -> dict:
    """The ``optimizer`` entry of plain gradient descent (no state) at rate ``lr``."""
    return {"name": "sgd", "lr": float(lr), "momentum": 0.0, "weight_decay": 0.0, "step": 0, "source": "asked",
            "why": f"Plain gradient descent with α = {float(lr):g}."}


def _losses_words(losses) -> str:
    if losses is None:
        return ""
    before, after = losses
    if after == before:
        return f" This image's loss stays at {before:.6g} after the update (recomputed with the new parameters)."
    change = "drops" if after < before else "rises"
    return (f" This image's loss {change} from {before:.6g} before the update to {after:.6g} after it "
            "(recomputed with the new weights and biases of every layer).")


def _update_steps(spec: dict, settings: dict, losses) -> list[Step]:
    steps = []
    parts = ("W", "dW") + tuple(p for p in state_parts(settings) if p.endswith("W")) + ("W_next", "b", "db") \
        + tuple(p for p in state_parts(settings) if p.endswith("b")) + ("b_next",)
    for i, layer in enumerate(spec["layers"]):
        cls = layer_class(layer["type"])
        if cls.has_params:
            steps.append(Step(
                "update", i, cls.type, f"Layer {i} · {cls.describe(layer)} — update", rule_equation(settings),
                rule_words(settings) + _losses_words(losses), [layer_key(i, p) for p in parts],
                channel_names(spec["input"][0]) if i == 0 else ()))
    return steps


def build_steps(spec: dict, settings: dict | None = None, losses=None) -> list[Step]:
    """The ordered steps for a normalized architecture: forward through each layer, the loss,
    backward through each layer, the weight updates (with the rule ``settings`` describes, the
    ``optimizer`` entry of a trace; default plain gradient descent; ``losses`` is this image's
    loss before and after the update, when known)."""
    spec = parse_architecture(spec)
    shapes = infer_shapes(spec)
    return (_layer_steps(spec, shapes, "forward") + [_loss_step(len(shapes) - 1)]
            + _layer_steps(spec, shapes, "backward")
            + _update_steps(spec, settings or plain_settings(), losses))


def expected_keys(spec) -> list[str]:
    """Every key a trace of this architecture holds, in a fixed order."""
    spec = parse_architecture(spec)
    keys = ["input", "label", "probs", "loss", "architecture", "optimizer", "loss_next"]
    for i, layer in enumerate(spec["layers"]):
        cls = layer_class(layer["type"])
        parts = ["x", "y", "dy"] + (["dx"] if i > 0 else []) + list(cls.records)
        keys += [layer_key(i, p) for p in parts + (list(UPDATE_PARTS) if cls.has_params else [])]
    return keys


def expected_shapes(spec) -> dict:
    """``key -> shape`` of every array a trace of this (parsed) architecture holds, from the
    architecture alone (no pass is run): parameters and their gradients as the network allocates
    them, every other recorded part shaped like ``y``; the optimizer's state is not included.
    The layers are made without drawing weights (a network's limits apply; no pass is run)."""
    shapes = {"input": (1, *spec["input"]), "label": (1,), "loss": (), "loss_next": ()}
    layers = [build_layer(i, layer, s_in, s_out, np.float32)
              for i, (layer, (s_in, s_out)) in enumerate(zip(spec["layers"], infer_shapes(spec)))]
    for layer in layers:
        key = lambda part, i=layer.index: layer_key(i, part)   # noqa: E731
        shapes.update({key("x"): (1, *layer.in_shape), key("y"): (1, *layer.out_shape),
                       key("dy"): (1, *layer.out_shape)})
        if layer.index > 0:
            shapes[key("dx")] = (1, *layer.in_shape)
        for part in layer.records:
            param = getattr(layer, part.removeprefix("d"), None) if part in ("W", "b", "dW", "db") else None
            shapes[key(part)] = param.shape if param is not None else (1, *layer.out_shape)
        if layer.has_params:
            shapes.update({key("W_next"): layer.W.shape, key("b_next"): layer.b.shape})
        shapes["probs"] = (1, *layer.out_shape)
    return shapes


class Trace:
    """The arrays and steps of one recorded pass. Build with :func:`trace` or :meth:`Trace.load`."""

    def __init__(self, arrays: dict, spec):
        self.spec = parse_architecture(spec)
        self.arrays = arrays
        self.settings = read_settings(arrays)
        losses = (float(arrays["loss"]), float(arrays["loss_next"])) if "loss_next" in arrays else None
        self.steps = build_steps(self.spec, self.settings, losses)

    @property
    def lr(self) -> float:
        """The learning rate of the update step."""
        return float(self.settings["lr"])

    @property
    def loss_next(self) -> float:
        """This image's loss after the update step."""
        return float(self.arrays["loss_next"])

    @property
    def label(self) -> int:
        return int(self.arrays["label"][0])

    @functools.cached_property
    def classes(self) -> tuple[str, ...]:
        """The names of the network's outputs when it was traced (the digits where it named none; read
        once: the app asks at every hover)."""
        if "classes" not in self.arrays:
            return DIGIT_CLASSES
        return classes_from(str(self.arrays["classes"]), len(self.probs))

    @property
    def normalisation(self) -> tuple | None:
        """``(mean, std)``, one float64 a channel, of the model's input normalisation: the first layer
        took ``(input − mean) / std`` (None: the input itself)."""
        if NORMALISATION_ENTRIES[0] not in self.arrays:
            return None
        return tuple(self.arrays[k] for k in NORMALISATION_ENTRIES)

    @property
    def loss(self) -> float:
        return float(self.arrays["loss"])

    @property
    def probs(self) -> np.ndarray:
        return self.arrays["probs"][0]

    @property
    def prediction(self) -> int:
        return int(np.argmax(self.arrays["probs"][0]))

    def keys_for_layer(self, i: int) -> list[str]:
        return [k for k in self.arrays if split_key(k)[0] == i]

    def save(self, path) -> None:
        """Write the arrays as ``.npz`` (uncompressed), atomically. The name is used as given."""
        atomic_savez(path, self.arrays)

    @classmethod
    def load(cls, path) -> "Trace":
        """Read a trace written by :meth:`save`; raises :class:`TraceFileError` (one line) when it is
        not one to show: see :mod:`cnncore.tracefile` for what is checked, and in which order."""
        from .tracefile import read_trace
        return cls(*read_trace(path))

    def __repr__(self):
        return f"<Trace label={self.label} prediction={self.prediction} loss={self.loss:.4g} {len(self.steps)} steps>"


def _refuse_not_finite(arrays: dict, what: str, advice: str) -> None:
    """``ValueError`` naming the first array of a pass that holds NaN or an infinity."""
    for key, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(f"{what}: {key} is not a number (NaN or infinite){advice}")


def trace(net: Network, image, label: int, lr: float | None = None, *, remedy: str = RETRAIN) -> Trace:
    """Record one forward and backward pass of ``image`` with true ``label``, and the update.

    ``image`` is ``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)``, floats in [0, 1]
    (uint8 is divided by 255). The network itself is not changed: the pass and the
    update run on a copy. The update is the step the model's own optimizer makes
    next from its saved state (:mod:`cnncore.update`); ``lr`` forces plain gradient
    descent ``w ← w − α·dW`` with ``α = lr`` instead. Every array is a copy owned
    by the trace.

    ``ValueError`` when a number of the pass is not one (NaN or infinite): the network's
    output (its weights overflow the sums), a gradient, or the update step (too large a
    learning rate). Such a trace would explain nothing, and :meth:`Trace.load` refuses it.
    ``remedy``: what that message says to do about weights that overflow (:func:`cnncore.network.not_a_number`).
    """
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)) or not 0 <= label < net.num_classes:
        raise ValueError(f"label must be an integer 0..{net.num_classes - 1}, got {label!r}")
    work = net.copy()
    x = work.one_image(image)
    labels = np.array([int(label)], dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore"):      # numbers that overflow are refused below
        logits = work.forward(x)
        loss, probs, dlogits = softmax_cross_entropy(logits, labels)
        problem = not_a_number(work, np.append(probs, loss), remedy=remedy)
        if problem:
            raise ValueError(f"nothing to trace: {problem}")
        work.backward(dlogits)

    arrays: dict[str, np.ndarray] = {
        # The picture as given, in [0, 1]; L0.x is what the first layer got (normalised, if the model is).
        "input": np.array(x, dtype=work.dtype, copy=True),
        "label": labels,
        "probs": np.array(probs, copy=True),
        "loss": np.array(loss, dtype=np.float64),
        "architecture": np.array(to_json(net.spec)),
        **normalisation_entries(net.signature),          # (what made L0.x of the input, if anything)
    }
    if tuple(net.classes) != DIGIT_CLASSES:
        arrays["classes"] = classes_entry(net.classes)    # (the outputs' names, for a file opened later)
    for layer in work.layers:
        parts = ["x", "y", "dy"] + (["dx"] if layer.index > 0 else []) + list(layer.records)
        for p in parts:
            arrays[layer_key(layer.index, p)] = np.array(getattr(layer, p), copy=True)
    _refuse_not_finite(arrays, "the backward pass overflows", "")
    with np.errstate(over="ignore", invalid="ignore"):
        step = next_update(work, lr)
        step["loss_next"] = np.array(softmax_cross_entropy(work.forward(x, keep=False), labels)[0], dtype=np.float64)
    _refuse_not_finite(step, f"the update step (α = {read_settings(step)['lr']:g}) overflows",
                       "; show the step at a smaller learning rate")
    arrays.update(step)
    ordered = {k: arrays[k] for k in expected_keys(net.spec)}     # in the fixed order, the optimizer state last
    ordered.update(arrays)
    return Trace(ordered, net.spec)
