"""One forward and backward pass of one image, recorded map by map.

``trace(net, image, label)`` runs the network on a single image and keeps
every array the app draws, under the keys of the ``.npz`` export (``i``
counts layers from 0)::

    input (1, C, H, W)   label (1,)   probs (1, 10)   loss ()   architecture (JSON text)
    L{i}.x  L{i}.y  L{i}.dy  L{i}.dx (not for layer 0)
    L{i}.z  L{i}.dz                  conv and dense
    L{i}.W  L{i}.b  L{i}.dW  L{i}.db conv and dense (no batch axis: they are parameters)
    L{i}.argmax                      maxpool (flat index of the winner in its H×W plane)

and an ordered list of :class:`Step` (forward of each layer, the loss, backward
of each layer in reverse, the weight updates), each with its equation in the
texts' notation and a short explanation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import activations
from ._atomic import atomic_savez
from .architecture import describe_layer, infer_shapes, parse_architecture, to_json
from .network import Network, softmax_cross_entropy

__all__ = ["trace", "Trace", "Step", "TraceFileError", "DEFAULT_TRACE_LR"]

#: Learning rate shown in the update steps when none is given.
DEFAULT_TRACE_LR = 0.01


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


def _fmt_pair(p) -> str:
    return str(p[0]) if p[0] == p[1] else f"({p[0]}, {p[1]})"


def _shape_words(shape) -> str:
    if len(shape) == 1:
        return f"a vector of {shape[0]}"
    return f"{shape[0]} map{'s' if shape[0] != 1 else ''} of {shape[1]}×{shape[2]}"


def _act_eq(name: str) -> str:
    return "y = z" if name == "none" else f"y = {name}(z)"


def _act_words(name: str) -> str:
    return {
        "relu": "ReLU keeps the positive entries of z and sets the rest to 0",
        "leaky_relu": f"leaky ReLU keeps positive entries and scales negative ones by {activations.LEAKY_SLOPE}",
        "sigmoid": "the sigmoid squashes every entry of z into (0, 1)",
        "tanh": "tanh squashes every entry of z into (−1, 1)",
        "none": "there is no activation, so y is z itself",
    }[name]


def _act_grad_words(name: str) -> str:
    return {
        "relu": "where z was negative or zero the gradient is blocked; elsewhere it passes unchanged",
        "leaky_relu": f"where z was negative only {activations.LEAKY_SLOPE} of the gradient passes",
        "sigmoid": "each entry is scaled by y·(1 − y), the sigmoid's slope at z",
        "tanh": "each entry is scaled by 1 − y², the slope of tanh at z",
        "none": "without an activation dz equals dy",
    }[name]


def build_steps(spec: dict, lr: float = DEFAULT_TRACE_LR) -> list[Step]:
    """The ordered steps for a normalized architecture (they depend only on the spec)."""
    spec = parse_architecture(spec)
    layers = spec["layers"]
    shapes = infer_shapes(spec)
    last = len(layers) - 1
    steps: list[Step] = []

    for i, (layer, (s_in, s_out)) in enumerate(zip(layers, shapes)):
        t = layer["type"]
        name = f"Layer {i} · {describe_layer(layer)}"
        L = f"L{i}."
        if t == "conv":
            S, P, K = layer["stride"], layer["padding"], layer["kernel"]
            f = layer["activation"]
            eq = ("z(n,x,y) = Σ_m Σ_i Σ_j w(m,n,i,j)·y(m,xS+i−P,yS+j−P) + b(n);  "
                  f"{_act_eq(f)}   [S = {_fmt_pair(S)}, P = {_fmt_pair(P)}]")
            ex = (f"Each of the {layer['filters']} filters ({s_in[0]}×{K[0]}×{K[1]} weights and a bias) slides over "
                  f"{_shape_words(s_in)} with stride {_fmt_pair(S)} and padding {_fmt_pair(P)}, summing "
                  f"weight×input products into one map of {s_out[1]}×{s_out[2]} per filter. "
                  f"Then {_act_words(f)}.")
            maps = [L + "x", L + "W", L + "b", L + "z", L + "y"]
        elif t == "maxpool":
            eq = ("y(c,x,y) = max over i,j of x(c, xS+i, yS+j);  argmax(c,x,y) = the winning position   "
                  f"[window {layer['size'][0]}×{layer['size'][1]}, S = {_fmt_pair(layer['stride'])}]")
            ex = (f"Every {layer['size'][0]}×{layer['size'][1]} window of each map is replaced by its largest value, "
                  f"shrinking {_shape_words(s_in)} to {s_out[1]}×{s_out[2]}. The position of each winner is "
                  f"remembered in argmax for the backward pass. There are no weights here.")
            maps = [L + "x", L + "y", L + "argmax"]
        elif t == "avgpool":
            kh, kw = layer["size"]
            eq = (f"y(c,x,y) = 1/({kh}·{kw}) · Σ_i Σ_j x(c, xS+i, yS+j)   "
                  f"[window {kh}×{kw}, S = {_fmt_pair(layer['stride'])}]")
            ex = (f"Every {kh}×{kw} window of each map is replaced by the mean of its values, shrinking "
                  f"{_shape_words(s_in)} to {s_out[1]}×{s_out[2]}. There are no weights here.")
            maps = [L + "x", L + "y"]
        elif t == "flatten":
            eq = "y(c·H·W + r·W + s) = x(c, r, s)"
            ex = (f"The {_shape_words(s_in)} are laid out one after another as a single vector of "
                  f"{s_out[0]} numbers, channel by channel and row by row. Nothing is computed.")
            maps = [L + "x", L + "y"]
        else:  # dense
            f = layer["activation"]
            eq = f"z(k) = Σ_j W(k,j)·x(j) + b(k);  {_act_eq(f)}"
            ex = (f"Each of the {layer['units']} units takes a weighted sum of all {s_in[0]} inputs plus its bias. "
                  f"Then {_act_words(f)}."
                  + (" These ten numbers are the logits, one score per digit." if i == last else ""))
            maps = [L + "x", L + "W", L + "b", L + "z", L + "y"]
        steps.append(Step("forward", i, t, f"{name} — forward", eq, ex, maps))

    Ll = f"L{last}."
    steps.append(Step(
        "loss", None, "softmax",
        "Softmax and cross-entropy loss",
        "p(k) = e^z(k) / Σ_j e^z(j);  L = −log p(label);  dz = p − onehot(label)",
        "Softmax turns the ten logits into probabilities that add up to 1, and the loss is small when the "
        "true digit gets a probability near 1. Its gradient with respect to the logits is simply the "
        "probabilities minus 1 at the true digit, which starts the backward pass.",
        [Ll + "y", "probs", "label", "loss", Ll + "dy"]))

    for i in range(last, -1, -1):
        layer = layers[i]
        t = layer["type"]
        s_in, s_out = shapes[i]
        name = f"Layer {i} · {describe_layer(layer)}"
        L = f"L{i}."
        has_dx = i > 0
        if t == "conv":
            f = layer["activation"]
            eq = "dz = dy ⊙ f′(z);  dW = x ⋆ dilate(dz);  db(n) = Σ_x Σ_y dz(n,x,y)"
            if has_dx:
                eq += ";  dx = pad(dilate(dz)) ∗ rot180(W)ᵀ"
            ex = (f"First the gradient passes back through the activation: {_act_grad_words(f)}. "
                  "Each weight's gradient correlates the layer's input with the (stride-dilated) dz maps, and "
                  "each bias collects the sum of its dz map.")
            if has_dx:
                ex += (" The gradient for the input is a full convolution of the padded dz maps with the filters "
                       "turned by 180° and with input and output channels swapped.")
            else:
                ex += " This is the first layer, so no gradient is needed for the image itself."
            maps = [L + "dy", L + "z", L + "dz", L + "x", L + "dW", L + "db"] + ([L + "W", L + "dx"] if has_dx else [])
        elif t == "maxpool":
            eq = "dx(c, argmax(c,x,y)) += dy(c,x,y);  every other dx is 0"
            ex = ("Only the input that won a window influenced the output, so the whole gradient of that output "
                  "goes back to the winner's position and the other positions get zero.")
            maps = [L + "dy", L + "argmax"] + ([L + "dx"] if has_dx else [])
        elif t == "avgpool":
            kh, kw = layer["size"]
            eq = f"dx(c, xS+i, yS+j) += dy(c,x,y) / ({kh}·{kw})"
            ex = (f"Every input in a window contributed 1/{kh * kw} of its mean, so each output's gradient is "
                  "shared out evenly over its window (added up where windows overlap).")
            maps = [L + "dy"] + ([L + "dx"] if has_dx else [])
        elif t == "flatten":
            eq = "dx(c, r, s) = dy(c·H·W + r·W + s)"
            ex = ("The gradient vector is folded back into the shape of the maps; the numbers do not change.")
            maps = [L + "dy"] + ([L + "dx"] if has_dx else [])
        else:  # dense
            f = layer["activation"]
            eq = "dz = dy ⊙ f′(z);  dW(k,j) = dz(k)·x(j);  db(k) = dz(k)"
            if has_dx:
                eq += ";  dx(j) = Σ_k W(k,j)·dz(k)"
            ex = (f"The gradient passes back through the activation ({_act_grad_words(f)}). A weight's gradient is "
                  "the gradient of its unit times the input it multiplies.")
            if has_dx:
                ex += " Each input collects the gradients of all units, weighted by the connecting weights."
            maps = [L + "dy", L + "z", L + "dz", L + "x", L + "dW", L + "db"] + ([L + "W", L + "dx"] if has_dx else [])
        steps.append(Step("backward", i, t, f"{name} — backward", eq, ex, maps))

    for i, layer in enumerate(layers):
        if layer["type"] in ("conv", "dense"):
            L = f"L{i}."
            steps.append(Step(
                "update", i, layer["type"], f"Layer {i} · {describe_layer(layer)} — update",
                f"w ← w − α·∂L/∂w;  b ← b − α·∂L/∂b   [α = {lr:g}]",
                f"Gradient descent moves every weight and bias a small step (learning rate α = {lr:g}) against its "
                "gradient, so the loss for this image would drop a little.",
                [L + "W", L + "dW", L + "b", L + "db"]))
    return steps


def expected_keys(spec) -> list[str]:
    """Every key a trace of this architecture holds, in a fixed order."""
    spec = parse_architecture(spec)
    keys = ["input", "label", "probs", "loss", "architecture"]
    for i, layer in enumerate(spec["layers"]):
        L = f"L{i}."
        keys += [L + "x", L + "y", L + "dy"]
        if i > 0:
            keys.append(L + "dx")
        if layer["type"] in ("conv", "dense"):
            keys += [L + "z", L + "dz", L + "W", L + "b", L + "dW", L + "db"]
        if layer["type"] == "maxpool":
            keys.append(L + "argmax")
    return keys


class Trace:
    """The arrays and steps of one recorded pass. Build with :func:`trace` or :meth:`Trace.load`."""

    def __init__(self, arrays: dict, spec, lr: float = DEFAULT_TRACE_LR):
        self.spec = parse_architecture(spec)
        self.arrays = arrays
        self.lr = float(lr)
        self.steps = build_steps(self.spec, self.lr)

    @property
    def label(self) -> int:
        return int(self.arrays["label"][0])

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
        return [k for k in self.arrays if k.startswith(f"L{i}.")]

    def save(self, path) -> None:
        """Write the arrays as ``.npz`` (uncompressed), atomically. The name is used as given."""
        atomic_savez(path, self.arrays)

    @classmethod
    def load(cls, path) -> "Trace":
        """Read a trace written by :meth:`save`; raises :class:`TraceFileError` when it is not one."""
        try:
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except FileNotFoundError:
            raise TraceFileError(f"{path}: no such file") from None
        except Exception as e:  # zipfile.BadZipFile, ValueError, OSError, EOFError ...
            raise TraceFileError(f"{path}: not a readable trace file ({type(e).__name__}: {e})") from None
        if "architecture" not in arrays:
            raise TraceFileError(f"{path}: no 'architecture' entry, so this is not a trace file")
        try:
            spec = parse_architecture(str(arrays["architecture"]))
            keys = expected_keys(spec)
        except ValueError as e:
            raise TraceFileError(f"{path}: its architecture is not valid: {e}") from None
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise TraceFileError(f"{path}: missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        return cls(arrays, spec)

    def __repr__(self):
        return f"<Trace label={self.label} prediction={self.prediction} loss={self.loss:.4g} {len(self.steps)} steps>"


def _as_image(image, input_shape) -> np.ndarray:
    x = np.asarray(image)
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255
    C, H, W = input_shape
    if x.shape == (H, W) and C == 1:
        x = x[None, None]
    elif x.shape == (C, H, W):
        x = x[None]
    if x.shape != (1, C, H, W):
        raise ValueError(f"image must have shape ({H}, {W}), ({C}, {H}, {W}) or (1, {C}, {H}, {W}), got {np.shape(image)}")
    return x


def trace(net: Network, image, label: int, lr: float = DEFAULT_TRACE_LR) -> Trace:
    """Record one forward and backward pass of ``image`` with true ``label``.

    ``image`` is ``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)``, floats in [0, 1]
    (uint8 is divided by 255). The network itself is not changed: the pass runs
    on a copy, and the update steps only describe ``w ← w − α·dW`` with
    ``α = lr``. Every array is a copy owned by the trace.
    """
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)) or not 0 <= label < net.num_classes:
        raise ValueError(f"label must be an integer 0..{net.num_classes - 1}, got {label!r}")
    work = net.copy()
    x = _as_image(image, work.input_shape)
    labels = np.array([int(label)], dtype=np.int64)
    logits = work.forward(x)
    loss, probs, dlogits = softmax_cross_entropy(logits, labels)
    work.backward(dlogits)

    arrays: dict[str, np.ndarray] = {
        "input": np.array(work.layers[0].x, copy=True),
        "label": labels,
        "probs": np.array(probs, copy=True),
        "loss": np.array(loss, dtype=np.float64),
        "architecture": np.array(to_json(net.spec)),
    }
    for layer in work.layers:
        L = f"L{layer.index}."
        arrays[L + "x"] = np.array(layer.x, copy=True)
        arrays[L + "y"] = np.array(layer.y, copy=True)
        arrays[L + "dy"] = np.array(layer.dy, copy=True)
        if layer.index > 0:
            arrays[L + "dx"] = np.array(layer.dx, copy=True)
        if layer.has_params:
            arrays[L + "z"] = np.array(layer.z, copy=True)
            arrays[L + "dz"] = np.array(layer.dz, copy=True)
            arrays[L + "W"] = np.array(layer.W, copy=True)
            arrays[L + "b"] = np.array(layer.b, copy=True)
            arrays[L + "dW"] = np.array(layer.dW, copy=True)
            arrays[L + "db"] = np.array(layer.db, copy=True)
        if layer.type == "maxpool":
            arrays[L + "argmax"] = np.array(layer.argmax, copy=True)
    return Trace(arrays, net.spec, lr)
