"""Model files: one ``.npz`` with the architecture, the weights and the training history.

Keys::

    format        "cnnlab-model-1"
    architecture  the normalized architecture as JSON text
    L{i}.W        conv (F, C, KH, KW) or dense (units, inputs), as in PyTorch
    L{i}.b        (F,) or (units,)
    history       JSON text: a list of per-epoch records (may be "[]")
    classes       optional JSON text: the names of the 10 classes (absent: the digits 0–9)
    dataset       optional text: the data set the classes come from ("Fashion-MNIST"; absent: "")
    input_mean    optional float64 (C,): with input_std, the normalisation the engine applies to
    input_std     every [0, 1] input, (x − mean) / std per channel (absent: none; see cnncore.signature)
    input_fit     optional text: how a picture is fitted to the input, "digit" or "picture"
                  (absent: "digit" for a 1×28×28 input, else "picture")
    trained_on    optional uint64 (N,): the fingerprints of the pictures its runs learnt from, distinct and
                  in increasing order (cnncore.learnt; absent: none for a model with no history, else
                  not known: a model of an older version)
    opt.*         optional optimizer state (written when an optimizer is passed)

Files are read with ``allow_pickle=False`` and written to a temporary file that
is then moved over the target, so a failed save leaves the old file intact.
Every problem reading a file raises :class:`ModelFileError` with a message that
says what is wrong.
"""
from __future__ import annotations

import json
import re

import numpy as np

from ._atomic import atomic_savez
from ._safeio import UnreadableFile, member_text, read_json, read_member, reading, unknown_format, user_archive
from .learnt import NOTHING, checked_trained_on
from .limits import MAX_ARCH_TEXT, MAX_CLASSES_TEXT, MAX_HISTORY_TEXT, MAX_LAYERS, MAX_PARAMS, MAX_TRAINED_ON
from .architecture import DIGIT_CLASSES, ArchitectureError, to_json
from .network import Network
from .optim import check_state
from .signature import NORMALISATION_ENTRIES, classes_entry, classes_from, normalisation_entries, normalisation_from

__all__ = ["save_model", "model_arrays", "load_model", "model_from_members", "a_model_file", "not_a_model_file",
           "ModelFileError", "FORMAT"]

FORMAT = "cnnlab-model-1"
_PARAM_KEY = re.compile(r"L\d+\.[Wb]")   # whole name: "$" would let "L0.W\n" through


class ModelFileError(ValueError):
    """A model file is missing, truncated, corrupt or does not match its architecture."""


def save_model(path, net: Network, history=None, optimizer=None) -> None:
    """Write ``net`` (architecture and weights) to ``path`` atomically, with the one writer:
    ``path`` may be a :class:`cnncore.Output` naming the files it must not replace. The arrays
    are :func:`model_arrays`; the name is used as given (no ``.npz`` is appended)."""
    atomic_savez(path, model_arrays(net, history, optimizer))


def model_arrays(net: Network, history=None, optimizer=None) -> dict[str, np.ndarray]:
    """The arrays of ``net``'s model file (the keys above): what :func:`save_model` writes, and what a
    lesson (:mod:`cnncore.lesson`) embeds.

    ``history`` defaults to ``net.history`` (a list of JSON-able dicts).
    ``optimizer`` (an :class:`cnncore.optim.Optimizer`) adds its state as ``opt.*``; without
    one, the state the network keeps from its last training run (``net.optimizer_state``) is written.
    """
    history = net.history if history is None else history
    try:
        history_text = json.dumps(history, allow_nan=True)
    except (TypeError, ValueError) as e:
        raise ValueError(f"history must be JSON-serialisable: {e}") from None
    arrays = {"format": np.array(FORMAT), "architecture": np.array(to_json(net.spec)),
              "history": np.array(history_text)}
    if tuple(net.classes) != DIGIT_CLASSES or net.dataset:
        arrays["classes"] = classes_entry(net.classes)
        arrays["dataset"] = np.array(net.dataset)
    if net.signature.fit != net.signature.default_fit:
        arrays["input_fit"] = np.array(net.signature.fit)
    arrays.update(normalisation_entries(net.signature))
    if net.trained_on is not None and (len(net.trained_on) or history):
        arrays["trained_on"] = np.asarray(net.trained_on, dtype=np.uint64)
    for k, v in net.params().items():
        arrays[k] = np.array(v, copy=True)
    state = getattr(net, "optimizer_state", None)
    if optimizer is not None:
        state = {"name": np.array(optimizer.name), **optimizer.state_dict()}
    for k, v in (state or {}).items():
        arrays["opt." + k] = np.asarray(v)
    return arrays


_MEMBER_LIMIT = 4 * MAX_LAYERS + 16               # L*.W/b, opt.m/v.*, and the few text entries
_BYTES_LIMIT = 4 * MAX_PARAMS * 8 + MAX_HISTORY_TEXT * 4 + MAX_ARCH_TEXT * 4 + MAX_TRAINED_ON * 8
_TEXT_LIMITS = {"format": 64, "architecture": MAX_ARCH_TEXT, "history": MAX_HISTORY_TEXT, "opt.name": 64,
                "classes": MAX_CLASSES_TEXT, "dataset": 200, "input_fit": 20}
#: Nesting of a model's training history (a list of one flat record per epoch, and the lists of
#: the diagnostics it may hold).
_JSON_DEPTH = 8


def _text(path, zf, members, key: str, default: str | None = None) -> str | None:
    """A text entry (a 0-d unicode array) read after checking its declared size."""
    info = members.get(key)
    if info is None:
        return default
    if info.dtype.kind != "U" or info.shape != ():
        raise ModelFileError(f"{path}: {key!r} must be text")
    if info.dtype.itemsize // 4 > _TEXT_LIMITS[key]:
        raise ModelFileError(f"{path}: {key!r} is {info.dtype.itemsize // 4:,} characters long, "
                             f"more than the {_TEXT_LIMITS[key]:,} allowed")
    return member_text(read_member(zf, info), key)


def _check_entries(path, members) -> None:
    if "architecture" not in members:
        hint = " (it looks like a backprop trace)" if "input" in members and "probs" in members else ""
        raise ModelFileError(f"{path}: no 'architecture' entry, so this is not a model file{hint}")
    allowed = {"format", "architecture", "history", "classes", "dataset", "input_fit", "trained_on"} | set(NORMALISATION_ENTRIES)
    unexpected = sorted(k for k in members if k not in allowed and not _PARAM_KEY.fullmatch(k) and not k.startswith("opt."))
    if unexpected:
        hint = " (it looks like a backprop trace, not a model)" if "probs" in members else ""
        raise ModelFileError(f"{path}: unexpected entries {', '.join(_short(k) for k in unexpected[:6])}{hint}")


def _short(name: str) -> str:
    """A name from a file, fit for a one-line message."""
    return name if name.isprintable() and len(name) <= 60 else repr(name[:60])


def _network(path, zf, members) -> Network:
    """The file's architecture as a network, built before any weight is read."""
    fmt = _text(path, zf, members, "format", FORMAT)
    if fmt != FORMAT:
        raise ModelFileError(f"{path}: {unknown_format('model', fmt, (FORMAT,))}")
    arch = _text(path, zf, members, "architecture")
    params = {k: v for k, v in members.items() if _PARAM_KEY.fullmatch(k)}
    dtypes = {v.dtype.newbyteorder("=") for v in params.values()}      # (a big-endian float32 is float32)
    if any(dt not in (np.dtype(np.float32), np.dtype(np.float64)) for dt in dtypes):
        raise ModelFileError(f"{path}: weights must be float32 or float64, found {sorted(str(d) for d in dtypes)}")
    dtype = np.float64 if np.dtype(np.float64) in dtypes else np.float32
    try:
        return Network(arch, seed=0, dtype=dtype)
    except ArchitectureError as e:
        raise ModelFileError(f"{path}: its architecture is not valid: {e}") from None


def _weights(path, zf, members, net: Network) -> dict:
    """The weights, each checked against the architecture before it is read."""
    own = net.params()
    params = {k: v for k, v in members.items() if _PARAM_KEY.fullmatch(k)}
    missing = sorted(set(own) - set(params))
    extra = sorted(set(params) - set(own))
    if missing:
        raise ModelFileError(f"{path}: the architecture needs {', '.join(missing)}, which the file lacks")
    if extra:
        raise ModelFileError(f"{path}: weights {', '.join(extra)} do not belong to any layer of its architecture")
    out = {}
    for k, info in params.items():
        if info.shape != own[k].shape:
            raise ModelFileError(f"{path}: {k} has shape {info.shape} but the architecture needs {own[k].shape}")
        v = read_member(zf, info)
        if not np.all(np.isfinite(v)):
            raise ModelFileError(f"{path}: {k} contains NaN or infinite values")
        out[k] = v
    return out


def _optimizer_state(path, zf, members, net: Network) -> None:
    """``net.optimizer_state`` from the ``opt.*`` entries, checked (:func:`cnncore.optim.check_state`).

    A state this version cannot resume from is left out, and ``net.optimizer_note`` says why: the
    weights are still good, and only a trace's update step uses the state (it then shows plain
    gradient descent and says so), so refusing the whole model would lose it for nothing.
    """
    entries = {k: info for k, info in members.items() if k.startswith("opt.")}
    if not entries:
        return
    try:
        state = {k[4:]: _optimizer_entry(path, zf, members, k, info, net) for k, info in entries.items()}
        check_state(state, net.params())
    except UnreadableFile:                   # damaged bytes: the whole file is refused, as for any entry
        raise
    except ValueError as e:                  # (ModelFileError too: an entry that is not what it must be)
        reason = str(e).removeprefix(f"{path}: ")
        net.optimizer_note = f"the file's optimizer state was left out ({reason}); its weights are used as saved"
        return
    net.optimizer_state = state


def _optimizer_entry(path, zf, members, key: str, info, net: Network) -> np.ndarray:
    """One ``opt.*`` entry, read after checking its declared size against the network's."""
    if key == "opt.name":
        return np.array(_text(path, zf, members, key))
    limit = max(net.num_params(), 1)
    if info.size > limit:
        raise ValueError(f"{_short(key)} holds {info.size:,} values, more than the network's {limit:,} parameters")
    return read_member(zf, info)


def _history(path, zf, members) -> list:
    text = _text(path, zf, members, "history", "[]")
    try:
        history = read_json(text, _JSON_DEPTH)
    except UnreadableFile as e:
        raise ModelFileError(f"{path}: its training history {e}") from None
    if not isinstance(history, list):
        raise ModelFileError(f"{path}: its training history must be a list")
    return history


def _trained_on(path, zf, members, history) -> np.ndarray | None:
    """The fingerprints of the pictures the model learnt from; none for a model never trained, None (not
    known) for a trained model of an older version that did not keep them."""
    info = members.get("trained_on")
    if info is None:
        return None if history else NOTHING
    if info.dtype != np.uint64 or len(info.shape) != 1 or info.size > MAX_TRAINED_ON:
        raise ModelFileError(f"{path}: 'trained_on' must be at most {MAX_TRAINED_ON:,} 64-bit fingerprints, not "
                             f"{info.dtype} of shape {info.shape}")
    try:
        return checked_trained_on(read_member(zf, info))
    except ValueError as e:
        raise ModelFileError(f"{path}: 'trained_on' (the pictures it learnt from): {e}") from None


def _classes(path, zf, members, net: Network) -> None:
    """The class names and data set (digits and "" for a file from before they were saved)."""
    text = _text(path, zf, members, "classes")
    dataset = _text(path, zf, members, "dataset", "")
    if text is None:
        net.learns(DIGIT_CLASSES, dataset)
        return
    try:
        classes = classes_from(text, net.num_classes)
    except ValueError as e:
        raise ModelFileError(f"{path}: {e}") from None
    if not dataset.isprintable():
        raise ModelFileError(f"{path}: 'dataset' must be a line of text")
    net.learns(classes, dataset)


def _input_rules(path, zf, members, net: Network) -> None:
    """The fitting rule and the input normalisation, if the file has them (files from before them
    have neither)."""
    fit = _text(path, zf, members, "input_fit")
    if fit is not None:
        try:
            net.signature = net.signature.fitted(fit)
        except ValueError as e:
            raise ModelFileError(f"{path}: {e}") from None
    try:
        found = normalisation_from(members, lambda k: read_member(zf, members[k]), net.input_shape[0])
        if found is not None:
            net.normalises(*found)
    except ValueError as e:
        if isinstance(e, UnreadableFile):
            raise
        raise ModelFileError(f"{path}: {e}") from None


def load_model(path) -> Network:
    """Read a model written by :func:`save_model`; returns a :class:`Network` with ``.history``.

    Raises :class:`ModelFileError` (and nothing else) when the file is missing, not a
    regular file, truncated, corrupt, holds something other than ``.npy`` arrays,
    declares arrays larger than its architecture (or :data:`cnncore.limits.MAX_PARAMS`)
    allows, holds an invalid architecture, or its weights do not match it (missing,
    extra, wrong shape, not finite). Sizes are checked from the arrays' headers before
    any of their data is read. The network uses the file's float type (float32 or
    float64). Optimizer state, if present and usable, is in ``net.optimizer_state``; an unusable one
    is left out, and ``net.optimizer_note`` says why.
    """
    with user_archive(path, ModelFileError, kind="model file", max_members=_MEMBER_LIMIT,
                      max_bytes=_BYTES_LIMIT) as (zf, members):
        return model_from_members(path, zf, members)


def a_model_file(path) -> str | None:
    """``"a model file"`` when ``path`` holds a model's entries (an architecture and no trace's
    ``probs``), readable or not, else None: the test by which a trace or a probe's arrays, ``.npz``
    files too, spare a model (``Output(..., spare=a_model_file)``)."""
    try:
        with user_archive(path, ModelFileError, kind="model file", max_members=_MEMBER_LIMIT,
                          max_bytes=_BYTES_LIMIT) as (zf, members):
            return "a model file" if "architecture" in members and "probs" not in members else None
    except ModelFileError:
        return None


def not_a_model_file(path) -> str | None:
    """``"a NumPy archive that is not a model …"`` when ``path`` is a readable archive without a model's
    entries (a trace, a probe's arrays, arrays of the user's), else None (a model, an empty or
    damaged file): the test by which a model, saved where no one is asked first (``cnnapp train
    --out``), spares every other ``.npz`` (``Output(..., spare=not_a_model_file)``)."""
    try:
        with user_archive(path, ModelFileError, kind="model file", max_members=_MEMBER_LIMIT,
                          max_bytes=_BYTES_LIMIT) as (zf, members):
            if "architecture" in members and "probs" not in members:
                return None
            names = ", ".join(sorted(members)[:4]) + (", …" if len(members) > 4 else "")
            return f"a NumPy archive that is not a model (its arrays: {names or 'none'})"
    except ModelFileError:
        return None


def model_from_members(path, zf, members: dict) -> Network:
    """The model held by ``members`` (``name -> MemberInfo`` of :func:`cnncore._safeio.npz_members`,
    named as in a model file, here or inside another archive such as a lesson's ``model/`` folder),
    with every check of :func:`load_model`; ``path`` names it in the :class:`ModelFileError`."""
    if len(members) > _MEMBER_LIMIT or sum(m.nbytes for m in members.values()) > _BYTES_LIMIT:
        raise ModelFileError(f"{path}: holds {len(members)} arrays of {sum(m.nbytes for m in members.values()):,} "
                             f"bytes, more than a model of at most {MAX_PARAMS:,} parameters can")
    with reading(path, ModelFileError, "model file"):
        return _load(path, zf, members)


def _load(path, zf, members) -> Network:
    _check_entries(path, members)
    net = _network(path, zf, members)
    net.set_params(_weights(path, zf, members, net))
    net.history = _history(path, zf, members)
    net.trained_on = _trained_on(path, zf, members, net.history)
    _classes(path, zf, members, net)
    _input_rules(path, zf, members, net)
    _optimizer_state(path, zf, members, net)
    return net
