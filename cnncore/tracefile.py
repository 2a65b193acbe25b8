"""Reading a trace file (``.npz``, written by :meth:`cnncore.trace.Trace.save`) without trusting it.

Nothing is read before it is known to belong, and nothing is shown before it is known to be
this pass:

1. the ``architecture`` and ``optimizer`` entries, as text of bounded length, each checked
   (:func:`cnncore.architecture.parse_architecture` with its limits, :func:`cnncore.update.read_settings`);
2. every other entry's header, against the shape and type that architecture and update rule
   give it: an entry such a trace does not have is refused unread, so a small file whose
   unused member inflates to gigabytes costs nothing;
3. the arrays, which must be finite numbers (a pass that overflowed explains nothing) and be
   what this engine computes from the trace's own input, label, weights and optimizer state:
   an ``avgpool`` layer whose recorded ``y`` are L2 norms is refused, not explained as averages.

Every problem is a :class:`~cnncore.trace.TraceFileError` of one line.
"""
from __future__ import annotations

import numpy as np

from ._safeio import UnreadableFile, member_text, read_member, user_archive
from .architecture import DIGIT_CLASSES, describe_layer, parse_architecture
from .layers import layer_class
from .limits import MAX_ARCH_TEXT, MAX_CLASSES_TEXT, MAX_LAYERS, MAX_OPTIMIZER_TEXT
from .network import Network
from .signature import NORMALISATION_ENTRIES, Signature, classes_entry, classes_from, normalisation_entries, normalisation_from
from .trace import TraceFileError, expected_keys, expected_shapes, trace
from .tracekeys import layer_key, split_key
from .update import HYPER, read_settings, state_parts

__all__ = ["read_trace"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
#: How far a recorded array may be from this engine's (relative to the array's largest value):
#: the same kernels give the same bits, so this only allows for another build's rounding.
_TOLERANCE = 1e-4


_UNFIT = "the arrays do not fit together"
#: The text entries of a trace: what its arrays are of, not arrays of its pass.
_TEXTS = ("architecture", "optimizer", "classes")


class _Refused(ValueError):
    """Why the file is not a trace this version shows (the message follows the file's name)."""


def read_trace(path) -> tuple[dict, dict]:
    """``(arrays, normalized architecture)`` of the trace file at ``path``; :class:`TraceFileError`
    (one line, naming the file) when it is not one to show."""
    with user_archive(path, TraceFileError, kind="trace file", max_members=64 * MAX_LAYERS, max_bytes=2 << 30,
                      refused=(_Refused,)) as (zf, members):
        return _read(zf, members)


def _read(zf, members) -> tuple[dict, dict]:
    if "architecture" not in members:
        raise _Refused("no 'architecture' entry, so this is not a trace file")
    if "format" in members and "probs" not in members:
        raise _Refused("this is a model file, not a trace (open it as a model)")
    try:
        spec = parse_architecture(_text(zf, members, "architecture", MAX_ARCH_TEXT))
        want = _expected(spec)
    except _Refused:
        raise
    except ValueError as e:
        raise _Refused(f"its architecture is not valid: {e}") from None
    try:
        settings = read_settings({"optimizer": _text(zf, members, "optimizer", MAX_OPTIMIZER_TEXT)})
    except _Refused:
        raise
    except ValueError as e:
        raise _Refused(f"its update step cannot be shown: {e}") from None
    want.update(_state_shapes(spec, settings, want))
    _check_headers(members, want)
    arrays = {"architecture": np.array(member_text(read_member(zf, members["architecture"]), "architecture"))}
    arrays["optimizer"] = np.array(member_text(read_member(zf, members["optimizer"]), "optimizer"))
    arrays.update(_normalisation(zf, members, spec))
    if "classes" in members:            # (the outputs' names: checked as a model file's)
        text = _text(zf, members, "classes", MAX_CLASSES_TEXT)
        try:
            arrays["classes"] = classes_entry(classes_from(text, want["probs"][0][1]))
        except ValueError as e:
            raise _Refused(str(e)) from None
    for key in want:
        arrays[key] = read_member(zf, members[key])
    _check_values(arrays, spec)
    _check_replay(arrays, spec, settings)
    return {k: arrays[k] for k in [*expected_keys(spec), *arrays] if k in arrays}, spec


def _text(zf, members, key: str, limit: int) -> str:
    """A text entry (0-d unicode), its length checked from the header before it is read."""
    info = members.get(key)
    if info is None:
        raise _Refused(f"no {key!r} entry")
    if info.dtype.kind != "U" or info.shape != ():
        raise _Refused(f"its {key!r} entry is not text")
    if info.dtype.itemsize // 4 > limit:
        raise _Refused(f"its {key!r} entry is {info.dtype.itemsize // 4:,} characters long, more than the "
                       f"{limit:,} a trace's can be")
    return member_text(read_member(zf, info), key)


def _normalisation(zf, members, spec: dict) -> dict:
    """The model's input normalisation the trace names, checked as a model file's (empty: none)."""
    try:
        found = normalisation_from(members, lambda k: read_member(zf, members[k]), spec["input"][0])
        if found is None:
            return {}
        return normalisation_entries(Signature(tuple(spec["input"]), DIGIT_CLASSES).normalised(*found))
    except UnreadableFile:
        raise
    except ValueError as e:
        raise _Refused(f"its input normalisation cannot be used: {e}") from None


def _expected(spec: dict) -> dict:
    """``key -> (shape, kinds)`` of every array a trace of this (parsed) architecture holds
    (:func:`cnncore.trace.expected_shapes`): ``kinds`` ``"f"`` for numbers (float32 or float64) and
    ``"i"`` for labels and positions."""
    positions = {layer_key(i, p) for i, layer in enumerate(spec["layers"])
                 for p in layer_class(layer["type"]).positions}
    return {k: (shape, "i" if k == "label" or k in positions else "f")
            for k, shape in expected_shapes(spec).items()}


def _state_shapes(spec: dict, settings: dict, want: dict) -> dict:
    """The optimizer's state before the step (``L{i}.mW``…) that the rule needs: its parameters' shapes."""
    out = {}
    for i, layer in enumerate(spec["layers"]):
        if layer_class(layer["type"]).has_params:
            for part in state_parts(settings):
                out[layer_key(i, part)] = (want[layer_key(i, part[1:])][0], "f")
    return out


def _check_headers(members: dict, want: dict) -> None:
    """Every entry the trace needs is there with its shape and type; no other entry is."""
    extra = sorted(k for k in members if k not in want and k not in _TEXTS + NORMALISATION_ENTRIES)
    if extra:
        raise _Refused(f"it holds {_names(extra)}, which a trace of its architecture does not have")
    missing = [k for k in want if k not in members]
    if missing:
        raise _Refused(f"missing {_names(missing)}")
    floats = members["input"].dtype if members["input"].dtype in _FLOATS else None     # the network's type
    for key, (shape, kind) in want.items():
        info = members[key]
        if info.shape != shape:
            raise _Refused(f"{_UNFIT}: {key} has shape {info.shape}, the architecture gives {shape}")
        if kind == "f" and key not in ("loss", "loss_next"):        # (the losses are float64 whatever the type)
            if info.dtype != floats:
                raise _Refused(f"{_UNFIT}: {key} holds {info.dtype} values, not the {floats or 'float32 or float64'} "
                               "numbers of its network")
        elif not ((info.dtype in _FLOATS) if kind == "f" else (info.dtype.kind in "iu" and info.dtype.isnative)):
            need = "float32 or float64 numbers" if kind == "f" else "integers"
            raise _Refused(f"{_UNFIT}: {key} holds {info.dtype} values, not {need}")


def _names(keys) -> str:
    shown = ", ".join(repr(k[:40]) if not k.isprintable() else k[:40] for k in keys[:5])
    return shown + (" …" if len(keys) > 5 else "")


def _check_values(arrays: dict, spec: dict) -> None:
    """Finite numbers, a label among the classes, positions inside their maps."""
    for key, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise _Refused(f"{key} holds NaN or infinite values: a pass that overflowed explains nothing; "
                           "record it again from a sound model (or with a smaller learning rate)")
    label, classes = int(arrays["label"][0]), arrays["probs"].shape[1]
    if not 0 <= label < classes:
        raise _Refused(f"{_UNFIT}: label {label} is not one of the {classes} classes")
    for i, layer in enumerate(spec["layers"]):
        for part in layer_class(layer["type"]).positions:      # flat indices into an input map
            arg, plane = arrays[layer_key(i, part)], arrays[layer_key(i, "x")].shape[2:]
            if arg.min() < 0 or arg.max() >= plane[0] * plane[1]:
                raise _Refused(f"{_UNFIT}: {layer_key(i, part)} points outside its input maps")


def _check_replay(arrays: dict, spec: dict, settings: dict) -> None:
    """The arrays are those this engine records from the trace's own input, label, weights and
    optimizer state (within :data:`_TOLERANCE`): else the first that is not, in pass order."""
    try:
        again = _replay(arrays, spec, settings)
    except ValueError as e:               # the trace's own weights give no numbers (trace() refuses them)
        raise _Refused(f"its pass cannot be made again: {e}") from None
    for key in _pass_order(arrays):
        a, b = arrays[key], again.get(key)
        if b is None:
            raise _Refused(f"it holds {key}, which the update rule it names does not keep")
        scale = float(np.max(np.abs(b), initial=0.0)) if b.dtype.kind == "f" else 0.0
        diff = np.max(np.abs(a.astype(np.float64) - b), initial=0.0)
        if diff > _TOLERANCE * max(scale, 1e-3):
            raise _Refused(_not_replayed(key, spec, diff, arrays))


def _not_replayed(key: str, spec: dict, diff: float, arrays: dict) -> str:
    """Why the trace's ``key`` is off by ``diff`` from the pass made again."""
    i, part = split_key(key)
    where = f"layer {i} ({describe_layer(spec['layers'][i])})" if i is not None else "the network"
    why = "its arrays do not belong to the architecture it names"
    if key == layer_key(0, "x") and NORMALISATION_ENTRIES[0] not in arrays:
        why = ("the first layer did not take the picture itself; if the model normalises its input, this trace is "
               "from a version that did not keep how: record it again")
    elif key == layer_key(0, "x"):
        why = "the input normalisation it names does not give its first layer's input"
    return f"{key} is not what {where} computes from the trace's own input and weights (off by {diff:.3g}): {why}"


def _pass_order(arrays: dict) -> list[str]:
    """The array keys in the order the pass makes them: each layer's forward parts, the loss, the
    rest (gradients, the update). So the first difference names the layer that made it."""
    forward = ("x", "z", "y", "argmax")
    first = sorted((k for k in arrays if split_key(k)[0] is not None and split_key(k)[1] in forward),
                   key=lambda k: (split_key(k)[0], forward.index(split_key(k)[1])))
    head = ["input", *first, "probs", "loss"]
    return head + [k for k in arrays if k not in head and k not in _TEXTS]


def _replay(arrays: dict, spec: dict, settings: dict) -> dict:
    """The arrays :func:`cnncore.trace.trace` records from the file's input, label, weights and state."""
    net = Network(spec, seed=0, dtype=arrays["input"].dtype)
    net.set_params({k: arrays[k] for k in net.params()})
    if NORMALISATION_ENTRIES[0] in arrays:
        net.normalises(*(arrays[k] for k in NORMALISATION_ENTRIES))
    lr = settings["lr"]
    if settings["source"] == "saved":          # the model's own optimizer, resumed from the state recorded
        lr = None
        state = {"name": np.array(settings["name"]), "t": np.array(settings["step"]),
                 **{k: np.array(settings[k]) for k in ("lr", "weight_decay", *HYPER[settings["name"]])}}
        for key, p in net.params().items():
            i, part = split_key(key)
            for m in ("m", "v") if settings["name"] == "adam" else ("v",):
                state[f"{m}.{key}"] = arrays.get(layer_key(i, m + part), np.zeros_like(p))
        net.optimizer_state = state
    return trace(net, arrays["input"], int(arrays["label"][0]), lr=lr).arrays
