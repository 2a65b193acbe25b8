"""A CNN built from an architecture: forward, softmax cross-entropy, backward.

::

    net = Network(preset("lenet"), seed=0)
    loss, probs = net.loss_and_grads(x, labels)   # x (N, C, H, W) float in [0, 1]
    net.grads()["L0.W"]                           # ∂L/∂W of layer 0, shape (F, C, KH, KW)

The loss is the mean over the batch of ``L = −log p_label`` with
``p = softmax(z)`` of the last layer's output; its gradient with respect to the
logits is ``(p − onehot) / N``.
"""
from __future__ import annotations

import copy

import numpy as np

from ._dispatch import _kernels
from .architecture import DIGIT_CLASSES, NUM_CLASSES, parse_architecture, shapes_and_costs
from .budget import inference_batch
from .layers import Layer, build_layer
from .learnt import NOTHING
from .layers.pairs import stages
from .signature import Signature
from .tracekeys import layer_key

__all__ = ["Network", "softmax", "softmax_cross_entropy", "network_maps", "not_a_number", "RETRAIN"]


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise ``p = e^z / Σ e^z`` of ``z (N, K)``, shifted by the row maximum so it never overflows.

    Logits far apart (a damaged model's ±1e38) may overflow the shift to −inf, whose
    exponential is the right 0; an infinite logit gives NaN, quietly (it is data).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        s = z - z.max(axis=1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=1, keepdims=True)
    return s


def softmax_cross_entropy(z: np.ndarray, labels: np.ndarray):
    """``(loss, p, dz)`` for logits ``z (N, K)`` and integer ``labels (N,)`` in ``0..K−1``.

    ``loss = mean_n(−log p(n, label_n))`` as a Python float (computed through
    log-sum-exp, so a huge logit gives a large finite loss, not inf);
    ``p = softmax(z)``; ``dz = (p − onehot) / N``. One compiled pass over the
    logits (``IndexError`` for a label outside ``0..K−1``).
    """
    N, K = z.shape
    if z.dtype not in (np.float32, np.float64) or N == 0:
        z = np.asarray(z, dtype=np.float64 if z.dtype.itemsize > 4 else np.float32)
    z = np.ascontiguousarray(z)
    labels = np.ascontiguousarray(labels, dtype=np.intp)
    if labels.shape != (N,):
        raise ValueError(f"labels must have shape ({N},), got {labels.shape}")
    p, dz = np.empty_like(z), np.empty_like(z)
    if N == 0:
        return float("nan"), p, dz
    total, bad = _kernels.softmax_xent(z, labels, p, dz)
    if bad:
        raise IndexError(f"{bad} labels lie outside 0..{K - 1}")
    return 0.0 - total / N, p, dz      # (0 − : a sure answer's loss is +0, never printed "-0.0000")


class Network:
    """A stack of layers built from an architecture spec (dict or JSON text).

    ``seed`` decides the initial weights bit for bit; ``dtype`` is float32
    (the working type) or float64 (for gradient checks). Raises
    :class:`~cnncore.architecture.ArchitectureError` when the architecture is
    malformed or its shapes do not fit.
    """

    def __init__(self, spec, seed: int = 0, dtype=np.float32):
        self.spec = parse_architecture(spec)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, not {self.dtype}")
        self.seed = seed
        #: What one image costs each layer (:class:`cnncore.budget.LayerCost`): sizes the batches of
        #: :meth:`predict_proba` and of a training run.
        shapes, self.costs = shapes_and_costs(self.spec)
        self.num_classes = NUM_CLASSES
        #: What the network takes and gives (:class:`~cnncore.signature.Signature`): its input shape,
        #: any normalisation of that input, the name of each output class and the data set they
        #: come from; set when training starts, kept in the model file.
        self.signature = Signature(tuple(self.spec["input"]), DIGIT_CLASSES)
        self._build(shapes)
        self.history: list[dict] = []
        #: The fingerprints of the pictures its runs learnt from (:mod:`cnncore.learnt`), or None when
        #: that is not known (a trained model of an older version).
        self.trained_on: np.ndarray | None = NOTHING
        #: The state its optimizer left (``opt.*`` entries of a model file without the prefix, see
        #: :func:`cnncore.optim.optimizer_from_state`), or None when nothing trained it here.
        self.optimizer_state: dict | None = None
        #: Why a model file's optimizer state was left out when it was read ("" when it was not).
        self.optimizer_note = ""
        self.init_params(seed)

    def _build(self, shapes):
        """Make the layers, with every weight and bias a view into one flat buffer.

        ``flat_params`` holds all parameters back to back (layer order, W then b)
        and ``flat_grads`` their gradients in the same places, so an optimizer
        can update the whole network with a handful of array operations.
        ``decay_mask`` is 1 where a weight sits and 0 for biases.
        """
        self.layers: list[Layer] = [build_layer(i, layer, s_in, s_out, self.dtype)
                                    for i, (layer, (s_in, s_out)) in enumerate(zip(self.spec["layers"], shapes))]
        #: What a training pass runs: the layers, two at a time where they make a named pair
        #: (:mod:`cnncore.layers.pairs`, a convolution and its max-pool as one pass).
        self.stages = stages(self.layers)
        total = sum(l.W.size + l.b.size for l in self.layers if l.has_params)
        self.flat_params = np.zeros(total, dtype=self.dtype)
        self.flat_grads = np.zeros(total, dtype=self.dtype)
        self.decay_mask = np.zeros(total, dtype=self.dtype)
        o = 0
        for layer in self.layers:
            if not layer.has_params:
                continue
            for name in ("W", "b"):
                a = getattr(layer, name)
                n = a.size
                setattr(layer, name, self.flat_params[o:o + n].reshape(a.shape))
                setattr(layer, "_g" + name, self.flat_grads[o:o + n].reshape(a.shape))
                setattr(layer, "d" + name, getattr(layer, "_g" + name))
                if name == "W":
                    self.decay_mask[o:o + n] = 1
                o += n

    # ------------------------------------------------------------------ parameters
    def init_params(self, seed: int):
        """(Re)draw every weight from ``seed`` (He or Xavier normal, biases 0)."""
        rng = np.random.default_rng(seed)
        for layer in self.layers:
            layer.init_params(rng)

    def params(self) -> dict[str, np.ndarray]:
        """``{"L{i}.W": W, "L{i}.b": b}`` for layers with weights: the live arrays (edit in place)."""
        out = {}
        for layer in self.layers:
            if layer.has_params:
                out[layer_key(layer.index, "W")] = layer.W
                out[layer_key(layer.index, "b")] = layer.b
        return out

    def grads(self) -> dict[str, np.ndarray]:
        """The gradients from the last :meth:`loss_and_grads`, same keys as :meth:`params`
        (views into ``flat_grads``; zeros before the first backward pass)."""
        out = {}
        for layer in self.layers:
            if layer.has_params:
                out[layer_key(layer.index, "W")] = layer.dW
                out[layer_key(layer.index, "b")] = layer.db
        return out

    def set_params(self, values: dict):
        """Copy arrays into the weights. Keys and shapes must match :meth:`params` exactly."""
        own = self.params()
        missing = sorted(set(own) - set(values))
        extra = sorted(set(values) - set(own))
        if missing or extra:
            raise ValueError(f"parameter keys differ: missing {missing}, unexpected {extra}")
        for k, v in values.items():
            v = np.asarray(v)
            if v.shape != own[k].shape:
                raise ValueError(f"{k} has shape {v.shape}, the architecture needs {own[k].shape}")
        for k, v in values.items():
            own[k][...] = v

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one input picture (the architecture's ``input``)."""
        return self.signature.shape

    @property
    def classes(self) -> tuple[str, ...]:
        return self.signature.classes

    @property
    def dataset(self) -> str:
        return self.signature.dataset

    def learns(self, classes, dataset: str = "") -> None:
        """Name the output classes (``NUM_CLASSES`` short texts) and the data set they come from."""
        self.signature = self.signature.learns(classes, dataset)

    def normalises(self, mean, std) -> None:
        """Scale every input as ``(x − mean) / std`` per channel before the first layer (``C`` numbers
        each; both ``None``: no normalisation). See :mod:`cnncore.signature`."""
        self.signature = self.signature.normalised(mean, std)

    def num_params(self) -> int:
        return sum(int(p.size) for p in self.params().values())

    def copy(self) -> "Network":
        """An independent network with the same architecture, weights and history."""
        other = Network.__new__(Network)
        other.spec = copy.deepcopy(self.spec)
        other.dtype = self.dtype
        other.seed = self.seed
        other.costs = self.costs
        other.num_classes = self.num_classes
        other.signature = self.signature
        other._build([(l.in_shape, l.out_shape) for l in self.layers])
        np.copyto(other.flat_params, self.flat_params)
        other.history = copy.deepcopy(self.history)
        other.trained_on = getattr(self, "trained_on", NOTHING)       # (read only: shared)
        other.optimizer_state = copy.deepcopy(getattr(self, "optimizer_state", None))
        other.optimizer_note = getattr(self, "optimizer_note", "")
        return other

    def clear(self):
        """Drop the arrays kept from the last pass (frees memory after a large batch)."""
        for layer in self.layers:
            layer.clear()

    # ------------------------------------------------------------------ passes
    def _check_input(self, x) -> np.ndarray:
        x = np.asarray(x)
        C, H, W = self.input_shape
        if x.ndim == 3 and C == 1:
            x = x[:, None]
        if x.ndim != 4 or x.shape[1:] != self.input_shape:
            raise ValueError(f"input must have shape (N, {C}, {H}, {W}), got {x.shape}")
        if x.dtype.kind not in "fiu":
            raise TypeError(f"input must be numeric, got {x.dtype}")
        return np.ascontiguousarray(x, dtype=self.dtype)

    def one_image(self, image) -> np.ndarray:
        """One image as the batch of one this network reads, ``(1, C, H, W)``: ``image`` is
        ``(H, W)`` (one channel), ``(C, H, W)`` or already ``(1, C, H, W)``; uint8 is divided by 255.
        Raises ``ValueError`` naming the shapes accepted."""
        x = np.asarray(image)
        if x.dtype == np.uint8:
            x = x.astype(np.float32) / 255
        C, H, W = self.input_shape
        if x.shape == (H, W) and C == 1:
            x = x[None, None]
        elif x.shape == (C, H, W):
            x = x[None]
        if x.shape != (1, C, H, W):
            raise ValueError(f"image must have shape ({H}, {W}), ({C}, {H}, {W}) or (1, {C}, {H}, {W}), "
                             f"got {np.shape(image)}")
        return x

    def forward(self, x, keep: bool = True) -> np.ndarray:
        """Logits ``(N, 10)`` for ``x (N, C, H, W)`` floats in [0, 1].

        The first layer gets ``x`` normalised as the signature says (``x`` itself without
        normalisation). With ``keep=True`` every layer keeps its arrays for :meth:`backward`;
        ``keep=False`` stores nothing, so predictions may run in another thread
        while this network trains.
        """
        y = self.signature.normalise(self._check_input(x))
        for stage in (self.stages if keep else self.layers):
            y = stage.forward(y, keep)
        return y

    def predict_logits(self, x, batch_size: int = 500) -> np.ndarray:
        """The scores before the softmax ``(N, 10)``, computed in chunks of ``batch_size`` images, or
        fewer when that many would not fit :data:`cnncore.limits.MAX_INFERENCE_BYTES`.

        Stores nothing on the layers: safe to call from another thread during training."""
        x = np.asarray(x)
        out = np.empty((len(x), self.num_classes), dtype=self.dtype)
        step = inference_batch(self.costs, self.dtype.itemsize, batch_size)
        with np.errstate(over="ignore", invalid="ignore"):  # a damaged model's NaN is data (see not_a_number)
            for s in range(0, len(x), step):
                out[s:s + step] = self.forward(x[s:s + step], keep=False)
        return out

    def predict_proba(self, x, batch_size: int = 500) -> np.ndarray:
        """Softmax probabilities ``(N, 10)`` of :meth:`predict_logits` (the same chunks)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return softmax(self.predict_logits(x, batch_size))

    def predict(self, x, batch_size: int = 500) -> np.ndarray:
        """The most probable digit ``(N,)`` for each image."""
        return self.predict_proba(x, batch_size).argmax(axis=1)

    def loss_and_grads(self, x, labels):
        """Forward, softmax cross-entropy (mean over the batch), backward.

        Returns ``(loss, probs)``; fills :meth:`grads`. Layer 0 does not compute
        the gradient with respect to the input image (nothing uses it).
        """
        labels = np.asarray(labels)
        logits = self.forward(x)
        if labels.shape != (logits.shape[0],):
            raise ValueError(f"labels must have shape ({logits.shape[0]},), got {labels.shape}")
        bad = f"labels must be integers 0..{self.num_classes - 1}"
        if labels.dtype.kind not in "iu":
            raise ValueError(bad)
        try:        # (the loss pass checks every label against the classes)
            loss, probs, dz = softmax_cross_entropy(logits, labels.astype(np.intp, copy=False))
        except IndexError:
            raise ValueError(bad) from None
        self.backward(dz)
        return loss, probs

    def backward(self, dlogits: np.ndarray, need_input_grad: bool = False):
        """Back-propagate ``dlogits = ∂L/∂logits`` through every layer (after :meth:`forward`),
        stage by stage (:attr:`stages`: a named pair runs its two layers as one pass, and both
        still show their gradients).

        With ``need_input_grad`` it returns the gradient with respect to the [0, 1] input ``x``
        of :meth:`forward` (through the normalisation, when there is one)."""
        d = dlogits
        for stage in reversed(self.stages):
            d = stage.backward(d, need_dx=stage.index > 0 or need_input_grad)
            for layer in stage.layers:
                self._gather(layer)
        return self.signature.input_gradient(d) if need_input_grad else d

    @staticmethod
    def _gather(layer):
        """Gradients computed outside ``flat_grads`` go into it (:meth:`grads` returns views of it)."""
        if layer.has_params and layer.dW is not layer._gW:
            layer._gW[...] = layer.dW
            layer._gb[...] = layer.db
            layer.dW, layer.db = layer._gW, layer._gb

    def __repr__(self):
        return f"<Network {len(self.layers)} layers, {self.num_params()} parameters, {self.dtype}>"


#: What the user of a model whose sums overflow can do (a lesson's student cannot: a lesson says its own).
RETRAIN = "retrain it or open another model"


def not_a_number(net: Network, values, what: str = "output", remedy: str = RETRAIN) -> str | None:
    """Why ``values`` (the network's probabilities, loss or another of its arrays for some
    images) cannot be shown, or None when every one is a finite number. A network whose
    weights are huge (a damaged file's 1e38) overflows its sums to inf, and inf − inf is NaN:
    its argmax would name class 0 and its loss read "nan", so callers refuse it with these words,
    and ``remedy``, what the reader can do about it ("": the caller says it)."""
    a = np.asarray(values)
    if a.dtype.kind not in "fc" or np.isfinite(a).all():
        return None
    largest = float(np.max(np.abs(net.flat_params), initial=0.0))
    cause = (f" because its weights reach {largest:.3g} and the sums overflow" + (f"; {remedy}" if remedy else "")
             if largest > 1e6 else "")
    return f"the network's {what} is not a number (NaN or infinite){cause}"


def network_maps(net, sample=None):
    """A copy of ``net`` and what the Train tab shows live: the first conv layer's filters and
    the feature maps of ``sample`` (one picture as :meth:`Network.one_image` takes it) after every
    spatial layer."""
    snap = net.copy()
    maps = {}
    if sample is not None:
        snap.forward(snap.one_image(np.asarray(sample, dtype=snap.dtype)))
        maps["sample"] = np.asarray(sample)
        for layer in snap.layers:
            if len(layer.out_shape) == 3 and layer.y is not None:     # every layer that gives maps
                maps[layer_key(layer.index, "y")] = np.array(layer.y, copy=True)
        snap.clear()
    for layer in snap.layers:
        if layer.has_params and layer.W.ndim == 4:                    # the first layer of filters
            maps[layer_key(layer.index, "W")] = np.array(layer.W, copy=True)
            break
    return snap, maps
