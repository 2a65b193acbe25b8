"""Architecture files: parse, check, describe.

An architecture is a small JSON document the user can edit, save and open::

    {"input": [1, 28, 28],
     "layers": [
       {"type": "conv", "filters": 8, "kernel": 5, "stride": 1, "padding": 0, "activation": "relu"},
       {"type": "maxpool", "size": 2, "stride": 2},
       {"type": "flatten"},
       {"type": "dense", "units": 10, "activation": "none"}]}

Each layer type declares its keys, their defaults (as in PyTorch) and its
shape rule in its own module of :mod:`cnncore.layers`; this module only reads
those declarations (``LAYER_TYPES``). Window sizes, strides and paddings take
an int or ``[h, w]``; activations are the names in ``cnncore.activations``.
Layers are counted from 0, as in the trace keys ``L0.x``, ``L1.x``, ...

Two kinds of problems are told apart:

* a *malformed* spec (unknown key or type, a value of the wrong kind) makes
  :func:`parse_architecture` raise :class:`ArchitectureError`;
* a well-formed spec whose shapes do not fit (a 5×5 kernel on a 4×4 map, a
  last layer that does not give 10 outputs) is reported per layer by
  :func:`summarize` and raised by :func:`infer_shapes` (so building a
  network fails with a message naming the layer and the numbers).
"""
from __future__ import annotations

import copy
import dataclasses
import json
import numbers
from dataclasses import dataclass
from pathlib import Path

from .activations import ACTIVATIONS
from .budget import FLOAT32, LayerCost, batch_problem, largest_training_batch, network_problem
from .layers import LAYER_TYPES as _REGISTRY
from .layers import REQUIRED, LayerFitError, layer_class, shape_text
from .limits import MAX_ACTIVATIONS, MAX_ARCH_TEXT, MAX_FIELD, MAX_INT_DIGITS, MAX_JSON_DEPTH, MAX_LAYERS, MAX_PARAMS

__all__ = [
    "ArchitectureError", "LayerSummary", "parse_architecture", "summarize", "infer_shapes",
    "to_json", "describe_layer", "PRESETS", "DEFAULT_PRESET", "preset", "preset_of", "NUM_CLASSES", "DIGIT_CLASSES",
    "UNUSED_CLASS", "DIGIT_SHAPE", "layer_costs", "check_batch", "max_batch",
]

NUM_CLASSES = 10
#: The class names of a network that learnt digits (every model file from before class names).
DIGIT_CLASSES = tuple(str(d) for d in range(NUM_CLASSES))
#: The name of an output no class uses (a folder of fewer than NUM_CLASSES classes); never a class's.
UNUSED_CLASS = "(unused)"
#: The input of the digit sources (MNIST's grey 28×28), and of an architecture that names none.
DIGIT_SHAPE = (1, 28, 28)

_TOP_KEYS = {"input", "layers", "name", "description"}
#: The layer types, in the order menus list them (each is a class in cnncore.layers).
LAYER_TYPES = tuple(_REGISTRY)


class ArchitectureError(ValueError):
    """An architecture is malformed or does not fit its input.

    ``layer`` is the index (from 0) of the layer at fault, or ``None`` when the
    problem is not in one layer (bad JSON, a bad ``input`` entry, ...).
    """

    def __init__(self, message: str, layer: int | None = None):
        super().__init__(message)
        self.layer = layer


@dataclass(frozen=True)
class LayerSummary:
    """One row of the architecture table.

    ``in_shape``/``out_shape`` are ``(C, H, W)`` for maps or ``(D,)`` for a flat
    vector, and ``None`` after a layer that does not fit. ``params`` counts
    weights and biases; ``macs`` the multiply-adds of one image's forward pass (for a layer
    without weights, the values it reads or writes); ``work`` the steps its kernels take for
    them and ``memory`` the values one image's training pass holds for it (``Layer.work``,
    ``Layer.memory``: what the limits of :mod:`cnncore.budget` add up). ``error`` says why the
    layer does not fit, or why the network as a whole is refused (on the layer that takes most).
    """
    index: int
    type: str
    text: str
    in_shape: tuple | None
    out_shape: tuple | None
    params: int
    macs: int
    error: str | None
    work: int = 0
    memory: int = 0


# ----------------------------------------------------------------------------- parsing

def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _where(i: int | None, layer: dict | None = None) -> str:
    if i is None:
        return "architecture"
    t = layer.get("type") if isinstance(layer, dict) else None
    return f"layer {i} ({t})" if isinstance(t, str) and t in _REGISTRY else f"layer {i}"


def _pair_value(value, key: str, i: int, layer: dict, minimum: int) -> list[int]:
    if _is_int(value):
        out = [int(value), int(value)]
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) for v in value):
        out = [int(value[0]), int(value[1])]
    else:
        raise ArchitectureError(
            f"{_where(i, layer)}: '{key}' must be an integer or a pair [h, w] of integers, "
            f"not {json.dumps(value) if _jsonable(value) else repr(value)}", i)
    if min(out) < minimum:
        raise ArchitectureError(
            f"{_where(i, layer)}: '{key}' must be at least {minimum}, got {json.dumps(value)}", i)
    return out


def _jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False


def _positive_int(value, key: str, i: int, layer: dict) -> int:
    if not _is_int(value):
        raise ArchitectureError(
            f"{_where(i, layer)}: '{key}' must be a positive integer, "
            f"not {json.dumps(value) if _jsonable(value) else repr(value)}", i)
    if value < 1:
        raise ArchitectureError(f"{_where(i, layer)}: '{key}' must be at least 1, got {value}", i)
    return int(value)


def _activation(value, i: int, layer: dict) -> str:
    if not isinstance(value, str) or value not in ACTIVATIONS:
        raise ArchitectureError(
            f"{_where(i, layer)}: unknown activation {json.dumps(value) if _jsonable(value) else repr(value)}; "
            f"choose one of {', '.join(ACTIVATIONS)}", i)
    return value


_PARSERS = {
    "count": lambda value, f, i, layer: _positive_int(value, f.key, i, layer),
    "pair": lambda value, f, i, layer: _pair_value(value, f.key, i, layer, f.minimum),
    "activation": lambda value, f, i, layer: _activation(value, i, layer),
}


def _layer_type(i: int, layer):
    """The class of ``layer``'s type, or ArchitectureError when it is not a known one."""
    if not isinstance(layer, dict):
        raise ArchitectureError(
            f"layer {i}: each layer must be an object like {{\"type\": \"{LAYER_TYPES[0]}\", ...}}, "
            f"not {type(layer).__name__}", i)
    if "type" not in layer:
        raise ArchitectureError(f"layer {i}: missing 'type' (one of {', '.join(LAYER_TYPES)})", i)
    t = layer["type"]
    if not isinstance(t, str) or t not in _REGISTRY:
        raise ArchitectureError(
            f"layer {i}: unknown layer type {json.dumps(t) if _jsonable(t) else repr(t)}; "
            f"choose one of {', '.join(LAYER_TYPES)}", i)
    return layer_class(t)


def _parse_layer(i: int, layer, is_last: bool) -> dict:
    cls = _layer_type(i, layer)
    t = cls.type
    allowed_keys = {"type"} | {f.key for f in cls.fields}
    unknown = sorted(str(k) for k in layer if k not in allowed_keys)
    if unknown:
        allowed = ", ".join(sorted(allowed_keys - {"type"})) or "none"
        raise ArchitectureError(
            f"layer {i} ({t}): unknown key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(k) for k in unknown)} (allowed: {allowed})", i)
    for f in cls.fields:
        if f.default is REQUIRED and f.key not in layer:
            raise ArchitectureError(f"layer {i} ({t}): missing '{f.key}'", i)
    out: dict = {"type": t}
    for f in cls.fields:
        value = layer[f.key] if f.key in layer else f.default_for(out, is_last)
        out[f.key] = _PARSERS[f.kind](value, f, i, layer)
    _check_ints(out, _where(i, layer), i)
    return out


def _check_ints(values: dict, where: str, i: int | None) -> None:
    """Every integer of a parsed entry is at most :data:`MAX_FIELD` (Qt's spin boxes and the
    kernels take C ints): the one bound for every field of every layer type."""
    for key, v in values.items():
        items = v if isinstance(v, list) else [v]
        if any(_is_int(x) and x > MAX_FIELD for x in items):
            raise ArchitectureError(f"{where}: '{key}' is {_show(v)}, beyond the largest number accepted "
                                    f"({MAX_FIELD:,})", i)


def _show(v) -> str:
    text = json.dumps(v) if _jsonable(v) else repr(v)
    return text if len(text) <= 40 else text[:40] + "…"


def _bounded_int(text: str) -> int:
    """``json.loads``'s integer parser, refusing numbers of absurd length (Python's own limit
    raises a ValueError past 4,300 digits, and far smaller ones are already meaningless here)."""
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ArchitectureError(f"architecture: the number {text[:20]}… has {len(text.lstrip('-')):,} digits; "
                                f"no field accepts more than {MAX_FIELD:,}")
    return int(text)


def _check_depth(spec) -> None:
    """Refuse JSON nested deeper than :data:`MAX_JSON_DEPTH` (ours is 4 deep) or with more
    than a million values, walking it without recursion."""
    stack, seen = [(spec, 1)], 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if depth > MAX_JSON_DEPTH or seen > 1_000_000:
            raise ArchitectureError(f"architecture: nested {'too deeply' if depth > MAX_JSON_DEPTH else 'too large'} "
                                    f"to be an architecture (at most {MAX_JSON_DEPTH} levels)")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend((v, depth + 1) for v in node)


def _decode(spec):
    """The JSON text (or a file's bytes) as Python values; a dict or list is returned as is. Bytes that
    are no architecture's text say what they seem to be (the app and ``--arch`` read a file so)."""
    if isinstance(spec, (bytes, bytearray)):
        if bytes(spec[:2]) == b"PK":
            raise ArchitectureError("is a zip archive (a model file?), not an architecture: give an "
                                    "architecture's JSON file")
        try:
            spec = bytes(spec).decode("utf-8-sig")     # (a byte order mark, as Notepad writes, is no text)
        except UnicodeDecodeError:
            raise ArchitectureError("is not text (a picture?), not an architecture: give an architecture's "
                                    "JSON file") from None
    if isinstance(spec, str):
        if len(spec) > MAX_ARCH_TEXT:
            raise ArchitectureError(f"architecture: {len(spec):,} characters of JSON, more than the "
                                    f"{MAX_ARCH_TEXT:,} an architecture can need")
        try:
            spec = json.loads(spec, parse_int=_bounded_int)
        except json.JSONDecodeError as e:
            raise ArchitectureError(f"architecture is not valid JSON: {e.msg} at line {e.lineno}, "
                                    f"column {e.colno}") from None
        except RecursionError:
            raise ArchitectureError(f"architecture: nested too deeply to be an architecture "
                                    f"(at most {MAX_JSON_DEPTH} levels)") from None
    _check_depth(spec)
    return spec


def parse_architecture(spec) -> dict:
    """Check an architecture and return it normalized (a new dict; ``spec`` is not changed).

    ``spec`` is a dict or its JSON text. Defaults are filled in and every
    ``kernel``/``stride``/``padding``/``size`` becomes ``[h, w]``. Raises
    :class:`ArchitectureError`, and nothing else, for bad JSON, unknown keys or layer
    types, values of the wrong kind, and sizes past :mod:`cnncore.limits` (JSON text
    longer than ``MAX_ARCH_TEXT`` or nested deeper than ``MAX_JSON_DEPTH``, more than
    ``MAX_LAYERS`` layers, an integer above ``MAX_FIELD``, an input of more than
    ``MAX_ACTIVATIONS`` values). Shapes are not checked here: see
    :func:`infer_shapes` and :func:`summarize`.
    """
    spec = _decode(spec)
    if not isinstance(spec, dict):
        raise ArchitectureError(
            f"an architecture must be a JSON object with 'input' and 'layers', not {type(spec).__name__}")
    unknown = sorted(str(k) for k in spec if k not in _TOP_KEYS)
    if unknown:
        raise ArchitectureError(
            f"architecture: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(k) for k in unknown)} "
            f"(allowed: {', '.join(sorted(_TOP_KEYS))})")
    inp = spec.get("input", list(DIGIT_SHAPE))
    if not (isinstance(inp, (list, tuple)) and len(inp) == 3 and all(_is_int(v) and v >= 1 for v in inp)):
        raise ArchitectureError(
            f"architecture: 'input' must be [channels, height, width] with positive integers, "
            f"not {_show(inp)}")
    _check_ints({"input": list(inp)}, "architecture", None)
    if inp[0] * inp[1] * inp[2] > MAX_ACTIVATIONS:
        raise ArchitectureError(f"architecture: an input of {inp[0]}×{inp[1]}×{inp[2]} values is more than "
                                f"the {MAX_ACTIVATIONS:,} this app handles")
    if "layers" not in spec:
        raise ArchitectureError("architecture: missing 'layers' (a list of layer objects)")
    layers = spec["layers"]
    if not isinstance(layers, (list, tuple)):
        raise ArchitectureError(f"architecture: 'layers' must be a list, not {type(layers).__name__}")
    if not layers:
        raise ArchitectureError("architecture: 'layers' is empty; the last layer must give the 10 logits")
    if len(layers) > MAX_LAYERS:
        raise ArchitectureError(f"architecture: {len(layers):,} layers, more than the {MAX_LAYERS} allowed")
    out = {"input": [int(v) for v in inp],
           "layers": [_parse_layer(i, layer, i == len(layers) - 1) for i, layer in enumerate(layers)]}
    for key in ("name", "description"):
        if key in spec:
            if not isinstance(spec[key], str):
                raise ArchitectureError(f"architecture: '{key}' must be a string")
            out[key] = spec[key]
    return copy.deepcopy(out)


def to_json(spec, indent: int | None = 1) -> str:
    """The normalized architecture as JSON text (what model and trace files store)."""
    return json.dumps(parse_architecture(spec), indent=indent, ensure_ascii=False)


# ----------------------------------------------------------------------------- shapes

def describe_layer(layer: dict) -> str:
    """A short text for a normalized layer, e.g. ``conv 8 5×5 s1 p0 relu``."""
    return layer_class(layer["type"]).describe(layer)


def _layer_step(i: int, layer: dict, in_shape: tuple, is_last: bool):
    """``(out_shape, macs, LayerCost)`` for one layer, or raise ArchitectureError."""
    cls = layer_class(layer["type"])
    try:
        out = tuple(cls.output_shape(layer, in_shape))
    except LayerFitError as e:
        raise ArchitectureError(f"layer {i} ({e.what}) {e}", i) from None
    except (ValueError, OverflowError) as e:     # sizes past what shapes.py computes with (C ints)
        raise ArchitectureError(f"layer {i} ({describe_layer(layer)}): {e}", i) from None
    params, macs = cls.cost(layer, in_shape, out)
    _check_budget(i, layer, out, params)
    if is_last and out != (NUM_CLASSES,):
        got = f"{out[0]}" if len(out) == 1 else shape_text(out)
        raise ArchitectureError(
            f"layer {i} ({describe_layer(layer)}) is the last layer, so it must give {NUM_CLASSES} outputs "
            f"(one logit per class), but it gives {got}", i)
    cost = LayerCost(i, describe_layer(layer), params, cls.work(layer, in_shape, out),
                     cls.memory(layer, in_shape, out))
    return out, macs, cost


def _check_budget(i: int, layer: dict, out: tuple, params: int) -> None:
    values = 1
    for s in out:
        values *= s
    if values > MAX_ACTIVATIONS:
        raise ArchitectureError(f"layer {i} ({describe_layer(layer)}) gives {values:,} values per image, more than "
                                f"the {MAX_ACTIVATIONS:,} this app handles", i)
    if params > MAX_PARAMS:
        raise ArchitectureError(f"layer {i} ({describe_layer(layer)}) has {params:,} parameters, more than "
                                f"the {MAX_PARAMS:,} this app handles", i)


def summarize(spec) -> list[LayerSummary]:
    """One :class:`LayerSummary` per layer: shapes, parameter and multiply-add counts.

    A layer that does not fit gets its ``error`` set (and its ``out_shape`` and
    every later layer's shapes are ``None``); this never raises for that.
    Raises :class:`ArchitectureError` only for a malformed ``spec``.
    """
    spec = parse_architecture(spec)
    rows = []
    shape: tuple | None = tuple(spec["input"])
    n = len(spec["layers"])
    for i, layer in enumerate(spec["layers"]):
        text = describe_layer(layer)
        if shape is None:
            rows.append(LayerSummary(i, layer["type"], text, None, None, _params_only(layer, None), 0, None))
            continue
        try:
            out, macs, cost = _layer_step(i, layer, shape, i == n - 1)
            rows.append(LayerSummary(i, layer["type"], text, shape, out, cost.params, macs, None, cost.work,
                                     cost.memory))
            shape = out
        except ArchitectureError as e:
            rows.append(LayerSummary(i, layer["type"], text, shape, None, _params_only(layer, shape), 0, str(e)))
            shape = None
    if shape is not None:              # every layer fits: the network as a whole may still be too much
        problem = network_problem([LayerCost(r.index, r.text, r.params, r.work, r.memory) for r in rows])
        if problem is not None:
            rows[problem[1]] = dataclasses.replace(rows[problem[1]], error=problem[0])
    return rows


def _params_only(layer: dict, in_shape) -> int:
    # Parameter count when the input shape is unknown or wrong: only what the layer alone decides.
    return layer_class(layer["type"]).params_alone(layer, in_shape)


def infer_shapes(spec) -> list[tuple[tuple, tuple]]:
    """``[(in_shape, out_shape), ...]`` per layer.

    Raises :class:`ArchitectureError` (only) for a malformed ``spec``, at the first
    layer that does not fit, and for a network past :mod:`cnncore.limits` (more than
    ``MAX_PARAMS`` parameters, a layer of more than ``MAX_ACTIVATIONS`` values, more than
    ``MAX_WORK`` steps or ``MAX_PICTURE_BYTES`` of arrays for one image), so a
    :class:`~cnncore.network.Network` is never built too slow or too large for the memory.
    """
    return _walk(spec)[0]


def layer_costs(spec) -> list[LayerCost]:
    """What one image costs each layer (:class:`cnncore.budget.LayerCost`); raises as :func:`infer_shapes`."""
    return _walk(spec)[1]


def shapes_and_costs(spec) -> tuple[list[tuple[tuple, tuple]], list[LayerCost]]:
    """:func:`infer_shapes` and :func:`layer_costs` of ``spec`` from one walk over its layers."""
    return _walk(spec)


def _walk(spec) -> tuple[list, list[LayerCost]]:
    spec = parse_architecture(spec)
    shape = tuple(spec["input"])
    shapes, costs = [], []
    n = len(spec["layers"])
    for i, layer in enumerate(spec["layers"]):
        new, _, cost = _layer_step(i, layer, shape, i == n - 1)
        shapes.append((shape, new))
        costs.append(cost)
        shape = new
    problem = network_problem(costs)
    if problem is not None:
        raise ArchitectureError(*problem)
    return shapes, costs


def check_batch(spec, batch: int, itemsize: int = FLOAT32, images: int | None = None) -> None:
    """Raise :class:`ArchitectureError` when a training batch of ``batch`` images (over ``images``
    training images: the epoch's short last batch counts too) needs more memory than
    :data:`cnncore.limits.MAX_BATCH_BYTES`, saying which batch size fits; checked before any
    array of the run is made. ``itemsize``: bytes of the network's float type."""
    problem = batch_problem(layer_costs(spec), batch, itemsize, images)
    if problem is not None:
        raise ArchitectureError(problem)


def max_batch(spec, itemsize: int = FLOAT32) -> int:
    """The largest training batch :func:`check_batch` lets pass for any number of training images
    (0 when not one image fits): the most the app's batch box offers for this architecture."""
    return largest_training_batch(layer_costs(spec), itemsize)


# ----------------------------------------------------------------------------- presets

_PRESET_DIR = Path(__file__).resolve().parent / "presets"


def _load_presets() -> dict:
    presets = {}
    for path in sorted(_PRESET_DIR.glob("*.json")):
        presets[path.stem] = parse_architecture(path.read_text(encoding="utf-8"))
    return presets


#: name -> normalized spec ("tiny", "lenet", "wide"). Use :func:`preset` for a copy to edit.
PRESETS: dict[str, dict] = _load_presets()
#: The preset the app and ``cnnapp train`` use when none is given.
DEFAULT_PRESET = "lenet"


def preset_of(spec: dict) -> str | None:
    """The name of the preset whose input and layers ``spec`` (parsed) has, else None: an edited preset
    keeps the preset's name in its spec, and a file may name its network anything."""
    name = spec.get("name")
    if name not in PRESETS:
        return None
    own = parse_architecture(PRESETS[name])
    return name if (own["input"], own["layers"]) == (spec["input"], spec["layers"]) else None


def preset(name: str) -> dict:
    """A deep copy of a preset architecture; raises ArchitectureError for an unknown name."""
    if name not in PRESETS:
        raise ArchitectureError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    return copy.deepcopy(PRESETS[name])
