"""What every layer type has, and the registry of layer types.

A layer type is one subclass of :class:`Layer` in a module of its own
(``conv.py``, ``maxpool.py``, …). The class answers everything about the type,
so nothing outside it branches on the type's name:

* its JSON keys: :attr:`Layer.fields` (defaults, ranges, the Build editor's words);
* its output shape and the error when it does not fit: :meth:`Layer.output_shape`;
* parameters, their count and initialisation; forward and backward;
* what a trace records (:attr:`Layer.records`), the words and equations of its
  trace steps (:meth:`Layer.forward_step`, :meth:`Layer.backward_step`);
* the per-element breakdown the app shows on a click (:meth:`Layer.explain`);
* the concept-check tags of its steps (:attr:`Layer.quiz_tags`);
* what it can teach (:attr:`Layer.teaching`, a :class:`Teaching`): the kinds of predict-mode
  question its steps ask, the slides' loops shown beside its steps and the worked examples
  it appears in; predict mode, the Backprop tab's loops panel and the Learn tab read it;
* for a type that runs kernels, its prepared plan (``_make_plan``; the plan class beside the layer
  in its module, sharing :mod:`cnncore.plans`),
  made once per batch size: a training pass then calls the raw kernels unchecked; and its
  part of a compiled training step (``compile_forward``, ``compile_backward``,
  :mod:`cnncore.step`). Two layers that run as one pass are a named pair of
  :mod:`cnncore.layers.pairs`, never hooks on the layers;
* what it is in PyTorch and in ONNX (:meth:`Layer.torch_modules`, :meth:`Layer.onnx_nodes`),
  which :mod:`cnncore.export` writes out.

Defining a subclass with a ``type`` registers it in :data:`LAYER_TYPES` (in
the order the modules are imported, which is the order menus show).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import activations
from ..shapes import ShapeError, conv_output_size
from ..terms import activation_backward_terms, activation_forward_terms

__all__ = ["Layer", "Field", "StepText", "Teaching", "LayerFitError", "LAYER_TYPES", "layer_class", "shape_text",
           "shape_size", "REQUIRED", "Weighted", "window_output", "Kept"]

#: Marks a field the JSON must give (no default).
REQUIRED = object()

#: name -> Layer subclass, filled as the type modules are imported.
LAYER_TYPES: dict[str, type["Layer"]] = {}


@dataclass(frozen=True)
class Field:
    """One JSON key of a layer type.

    ``kind`` is ``"count"`` (a positive integer), ``"pair"`` (an int or ``[h, w]``,
    stored as ``[h, w]``) or ``"activation"`` (a name from ``activations.TABLE``).
    ``default`` is the value when the key is absent: a constant, :data:`REQUIRED`,
    or a function ``(parsed_so_far, is_last) -> value``. ``minimum`` is checked
    on parsing; ``maximum`` bounds the Build editor's spin box. ``new`` is what a
    layer added in the editor starts with; a field with ``follows`` set keeps the
    value of that other field in the editor while the two are equal (a pooling
    stride follows its window size).
    """
    key: str
    kind: str
    column: str
    tooltip: str
    default: object = REQUIRED
    minimum: int = 1
    maximum: int = 28
    new: object = None
    follows: str | None = None

    def default_for(self, parsed: dict, is_last: bool):
        return self.default(parsed, is_last) if callable(self.default) else self.default


@dataclass(frozen=True)
class StepText:
    """A trace step as a layer type writes it: equation, explanation and the parts it shows."""
    equation: str
    explanation: str
    parts: tuple


@dataclass(frozen=True)
class Teaching:
    """What a layer type can teach; the readers ask this, never the type's name or its fields.

    ``predict``: step kind (``"forward"``, ``"backward"``) -> the kinds of predict-mode question
    its steps ask (names in :data:`cnncore.predict.KINDS`). ``loops``: step kind -> the slides'
    loops shown beside the step (:class:`cnncore.pseudocode.Listing`, each shown for the specs
    it fits). ``examples``: the worked examples (:data:`cnncore.examples.EXAMPLE_TYPES` keys) the
    type appears in; the ``"pooling"`` example takes any type with a ``size`` and ``stride``
    window whose :meth:`Layer.explain` gives ``y`` and ``dx``.
    """
    predict: dict = field(default_factory=dict)
    loops: dict = field(default_factory=dict)
    examples: tuple = ()


class LayerFitError(ValueError):
    """A layer does not fit its input. ``what`` names the layer as the message should
    (``"conv 7×7, padding 1"``); the message is the rest of the sentence."""

    def __init__(self, what: str, message: str):
        super().__init__(message)
        self.what = what


def layer_class(name) -> type["Layer"]:
    """The registered class of layer type ``name``; ``ValueError`` for any other name."""
    cls = LAYER_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown layer type {name!r}; choose one of {', '.join(LAYER_TYPES)}")
    return cls


def window_output(in_shape: tuple, kernel, stride, padding, what: str) -> tuple[int, int]:
    """``(Ho, Wo)`` of a window swept over maps ``in_shape (C, H, W)`` (:func:`cnncore.shapes.conv_output_size`);
    :class:`LayerFitError` naming the layer as ``what`` and the smallest input that fits."""
    H, W = in_shape[1:]
    try:
        return conv_output_size((H, W), kernel, stride, padding)
    except ShapeError:
        need = (max(kernel[0] - 2 * padding[0], 1), max(kernel[1] - 2 * padding[1], 1))
        raise LayerFitError(what, f"needs an input of at least {need[0]}×{need[1]} but gets {H}×{W}") from None


def shape_size(shape) -> int:
    """Values in one array of ``shape`` (no batch axis)."""
    n = 1
    for s in shape:
        n *= int(s)
    return n


def shape_text(shape) -> str:
    """``"2 maps of 4×4"`` or ``"a flat vector of 64"`` (no batch axis)."""
    if len(shape) == 1:
        return f"a flat vector of {shape[0]}"
    return f"{shape[0]} map{'s' if shape[0] != 1 else ''} of {shape[1]}×{shape[2]}"


class Kept:
    """What a layer keeps as ``x``, ``y``, ``dx`` or ``dy``. A fused pair (:mod:`cnncore.layers.pairs`)
    may keep an array it never needed written as a deferred value (an object with ``array()``: a
    2×2 max-pool's ``dx`` its convolution took from the pool's ``dy`` and winners, or in a compiled
    step the activations ``y`` the pool took plane by plane from scratch): reading it writes the
    array then."""

    def __set_name__(self, owner, name):
        self.slot = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__.get(self.slot)
        return value.array() if hasattr(value, "array") else value

    def __set__(self, obj, value):
        obj.__dict__[self.slot] = value


class Layer:
    """Base class. ``index`` counts from 0; ``in_shape``/``out_shape`` exclude the batch axis.

    After :meth:`forward` a layer keeps what its backward pass and the trace need
    (``x``, ``y`` and the parts in :attr:`records`); after :meth:`backward` it keeps
    ``dy``, ``dx`` and the gradients. Gradients are overwritten by each backward pass.
    """

    #: The JSON name; a subclass that sets it is registered in LAYER_TYPES.
    type = ""
    #: The words the Build editor's menu uses.
    title = ""
    fields: tuple = ()
    has_params = False
    #: Arrays the trace keeps for this layer besides x, y, dy and dx.
    records: tuple = ()
    #: Recorded parts that hold positions, not numbers a breakdown adds up (maxpool's argmax).
    positions: tuple = ()
    #: Concept-check tags per step kind ("forward", "backward").
    quiz_tags: dict = {}
    #: Predict-mode questions, the slides' loops and worked examples of this type (nothing by default).
    teaching = Teaching()
    #: True where the app's textbook-identities view applies (a convolution's gradients).
    identities = False
    #: What this layer and a convolution right after it make together, for the identities view.
    before_conv_note = ""
    #: Its input and output and their gradients (a fused pair may keep some deferred, written when read).
    x = Kept()
    y = Kept()
    dy = Kept()
    dx = Kept()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "type" in cls.__dict__ and cls.type:
            LAYER_TYPES[cls.type] = cls

    def __init__(self, index: int, spec: dict, in_shape: tuple, out_shape: tuple, dtype):
        self.index = index
        self.spec = spec
        self.in_shape = tuple(in_shape)
        self.out_shape = tuple(out_shape)
        self.dtype = np.dtype(dtype)
        self.activation = spec.get("activation")
        self.W = self.b = self.dW = self.db = None
        self._gW = self._gb = None  # set by Network: views into its flat gradient buffer
        self.clear()

    # ------------------------------------------------------------ what the type is
    @classmethod
    def describe(cls, spec: dict) -> str:
        """A short text for a normalized layer, e.g. ``conv 8 5×5 s1 p0 relu``."""
        return cls.type

    @classmethod
    def brief(cls, spec: dict) -> str:
        """A few letters for a status line (``conv8``)."""
        return cls.type

    @classmethod
    def build_note(cls, spec: dict) -> str:
        """A short remark the Build editor adds to the layer's row ("" for none)."""
        return ""

    @classmethod
    def caution(cls, spec: dict, is_last: bool) -> str:
        """Why the layer as set hurts learning though it is allowed ("" for none): the Build editor adds it
        to the layer's row and says it below the table. Here, an activation on the output layer that
        cannot give what logits need (its own words: :attr:`cnncore.activations.Activation.on_output`)."""
        name = spec.get("activation")
        words = activations.get(name).on_output if is_last and name else ""
        return f"With {name} on the output layer, {words}. The output layer usually has no activation (none)." \
            if words else ""

    @classmethod
    def output_shape(cls, spec: dict, in_shape: tuple) -> tuple:
        """The output shape for ``in_shape`` (no batch axis); :class:`LayerFitError` when it does not fit."""
        raise NotImplementedError

    @classmethod
    def cost(cls, spec: dict, in_shape: tuple, out_shape: tuple) -> tuple[int, int]:
        """``(parameters, multiply-adds of one image's forward pass)``; a layer without weights
        counts the values it reads or writes instead (a pool's every window member, a resampling's
        every copy), so no layer is free however large it is."""
        return 0, shape_size(out_shape)

    @classmethod
    def work(cls, spec: dict, in_shape: tuple, out_shape: tuple) -> int:
        """The steps the kernels take for one image's forward pass (what the time limit
        :data:`cnncore.limits.MAX_WORK` counts): the multiply-adds of :meth:`cost`, unless the
        kernels compute more than the arithmetic needs (a strided convolution)."""
        return cls.cost(spec, in_shape, out_shape)[1]

    @classmethod
    def memory(cls, spec: dict, in_shape: tuple, out_shape: tuple) -> int:
        """Values (of the network's float type) one image's training pass holds for this layer:
        what its forward pass keeps and its backward pass makes, transients included. This
        default is ``y``, a temporary of its size and ``dx``; the memory limits of
        :mod:`cnncore.limits` add these up (a test holds them to the measured peak)."""
        return 2 * shape_size(out_shape) + shape_size(in_shape)

    @classmethod
    def params_alone(cls, spec: dict, in_shape) -> int:
        """The parameter count when the layer does not fit (only what its spec and input decide)."""
        return 0

    @classmethod
    def needs_maps(cls, spec: dict, in_shape: tuple) -> None:
        if len(in_shape) != 3:
            raise LayerFitError(cls.type, f"needs maps (channels×height×width) but gets {shape_text(in_shape)}; "
                                          "spatial layers must come before flatten")

    # ------------------------------------------------------------ trace and explain
    @classmethod
    def forward_step(cls, spec: dict, s_in: tuple, s_out: tuple, is_last: bool) -> StepText:
        raise NotImplementedError

    @classmethod
    def backward_step(cls, spec: dict, s_in: tuple, s_out: tuple, has_dx: bool) -> StepText:
        raise NotImplementedError

    @classmethod
    def explain(cls, spec: dict, part: str, index: tuple, arrays: Callable, keys: dict):
        """The breakdown of element ``index`` of this layer's ``part`` (``"y"``, ``"dx"``…) or ``None``
        when the part is not computed here. ``arrays(part)`` gives one sample of a recorded
        array (no batch axis; parameters as they are); ``keys`` maps roles to trace keys."""
        return None

    # ------------------------------------------------------------ the computation
    def clear(self):
        """Forget the arrays kept from the last forward and backward pass (and the kernel plans)."""
        self.x = self.z = self.y = self.argmax = None
        self.dy = self.dz = self.dx = None
        self._plans = {}

    def _make_plan(self, batch: int):
        """The prepared kernels (:mod:`cnncore.plans`) of this layer for ``batch`` samples;
        only layer types that run kernels define it."""
        raise NotImplementedError

    def _plan_for(self, *arrays):
        """The plan for these arrays' batch size (made on first use), or ``None`` when one
        of them is not C-contiguous in the layer's dtype: the checked kernels take those.

        A training pass (``keep=True``) runs the plan, so the arrays the layer keeps
        are the plan's buffers, overwritten by the next pass; inference
        (``keep=False``) calls the checked kernel functions, which allocate fresh
        arrays, so it may run in another thread while this layer trains."""
        for a in arrays:
            if a.dtype != self.dtype or not a.flags.c_contiguous:
                return None
        batch = arrays[0].shape[0]
        plan = self._plans.get(batch)
        if plan is None:
            if len(self._plans) >= 2:      # the training batch and the epoch's short last one
                self._plans.clear()
            plan = self._plans[batch] = self._make_plan(batch)
        return plan

    @property
    def layers(self) -> tuple:
        """What this layer runs as a stage of a training pass (:func:`cnncore.layers.pairs.stages`): itself."""
        return (self,)

    def compile_forward(self, step, x):
        """This layer's forward pass as ops of a compiled training step (:mod:`cnncore.step`), on plans
        of its own, reading ``x`` (an array an earlier op writes, or ``cnncore.step.BATCH``); returns
        the array its ``y`` is in, or None when the type has no compiled form (the default)."""
        return None

    def compile_backward(self, step, dy, need_dx: bool):
        """The backward pass as ops of a compiled step (after :meth:`compile_forward`): the array its
        ``dx`` is in (None without ``need_dx``). Both say what the layer keeps (``step.keep``)."""
        raise NotImplementedError

    def forward(self, x: np.ndarray, keep: bool = True) -> np.ndarray:
        """``y`` for a batch ``x``; with ``keep=False`` nothing is stored on the layer
        (inference: safe to run from another thread while this layer trains)."""
        raise NotImplementedError

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def init_params(self, rng: np.random.Generator):
        """Draw the initial weights (layers without parameters have nothing to draw)."""

    # ------------------------------------------------------------ export (cnncore.export)
    #: Source text of a small ``nn.Module`` class that :meth:`torch_modules` uses ("" for none).
    torch_helper = ""

    @classmethod
    def torch_modules(cls, spec: dict, in_shape: tuple) -> tuple[str, ...]:
        """This layer as PyTorch modules, as source text for an exported ``model.py``
        (``"nn.Flatten()"``); a layer with weights gives its affine module first."""
        raise NotImplementedError

    @classmethod
    def onnx_nodes(cls, spec: dict, in_shape: tuple, graph, x: str, params: dict) -> str:
        """Add this layer's ONNX nodes to ``graph`` (a :class:`cnncore.export.OnnxGraph`), reading
        the tensor named ``x``; ``params`` holds ``W`` and ``b`` of a layer with weights.
        Returns the name of the layer's output."""
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} L{self.index} {self.in_shape} -> {self.out_shape}>"


class Weighted(Layer):
    """A layer with weights, a bias and an activation: ``z`` is the affine map, ``y = f(z)``.

    The trace keeps ``z``, ``dz``, the parameters and their gradients; a click on
    ``y`` or ``dz`` is explained by the activation table.
    """

    has_params = True
    records = ("z", "dz", "W", "b", "dW", "db")

    @classmethod
    def memory(cls, spec, in_shape, out_shape):
        # z, dz and two temporaries of their size (the affine map's sum, f'(z) of an activation)
        return super().memory(spec, in_shape, out_shape) + 4 * shape_size(out_shape)

    def init_params(self, rng):
        fan_in, fan_out = self.fans()
        std = activations.init_std(self.activation, fan_in, fan_out)
        self.W[...] = rng.standard_normal(self.W.shape) * std
        self.b[...] = 0

    def fans(self) -> tuple[int, int]:
        """``(fan_in, fan_out)`` of one output and one input for the initial weights."""
        raise NotImplementedError

    def activate(self, x, z, keep: bool):
        y = activations.apply(self.activation, z)
        if keep:
            self.x, self.z, self.y = x, z, y
        return y

    def activation_grad(self, dy):
        """``dz = dy ⊙ f′(z)`` (kept with ``dy`` for the trace)."""
        self.dy = dy
        self.dz = activations.backward(self.activation, dy, self.z, self.y)
        return self.dz

    @classmethod
    def torch_affine(cls, spec: dict, in_shape: tuple) -> str:
        """The PyTorch module of ``z`` (``nn.Conv2d(...)``), as source text."""
        raise NotImplementedError

    @classmethod
    def onnx_affine(cls, spec: dict, graph, x: str, W: str, b: str) -> str:
        """The ONNX node of ``z`` reading ``x`` and the constants ``W``, ``b``; returns its output."""
        raise NotImplementedError

    @classmethod
    def torch_modules(cls, spec, in_shape):
        f = activations.get(spec["activation"]).torch
        return (cls.torch_affine(spec, in_shape),) + ((f,) if f else ())

    @classmethod
    def onnx_nodes(cls, spec, in_shape, graph, x, params):
        z = cls.onnx_affine(spec, graph, x, graph.constant("W", params["W"]), graph.constant("b", params["b"]))
        f = activations.get(spec["activation"]).onnx
        return graph.node(f[0], [z], **f[1]) if f else z

    @classmethod
    def explain_activation(cls, spec, part, index, arrays, keys):
        if part == "y":
            return activation_forward_terms(arrays("z"), spec["activation"], index, keys=keys)
        if part == "dz":
            return activation_backward_terms(arrays("dy"), arrays("z"), spec["activation"], index, keys=keys)
        return None
