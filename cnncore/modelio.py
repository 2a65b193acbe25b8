"""Model files: one ``.npz`` with the architecture, the weights and the training history.

Keys::

    format        "cnnlab-model-1"
    architecture  the normalized architecture as JSON text
    L{i}.W        conv (F, C, KH, KW) or dense (units, inputs), as in PyTorch
    L{i}.b        (F,) or (units,)
    history       JSON text: a list of per-epoch records (may be "[]")
    opt.*         optional optimizer state (written when an optimizer is passed)

Files are read with ``allow_pickle=False`` and written to a temporary file that
is then moved over the target, so a failed save leaves the old file intact.
Every problem reading a file raises :class:`ModelFileError` with a message that
says what is wrong.
"""
from __future__ import annotations

import json
import re
import zipfile
import zlib

import numpy as np

from ._atomic import atomic_savez
from .architecture import ArchitectureError, to_json
from .network import Network

__all__ = ["save_model", "load_model", "ModelFileError", "FORMAT"]

FORMAT = "cnnlab-model-1"
_PARAM_KEY = re.compile(r"^L\d+\.[Wb]$")


class ModelFileError(ValueError):
    """A model file is missing, truncated, corrupt or does not match its architecture."""


def save_model(path, net: Network, history=None, optimizer=None) -> None:
    """Write ``net`` (architecture and weights) to ``path`` atomically.

    ``history`` defaults to ``net.history`` (a list of JSON-able dicts).
    ``optimizer`` (an :class:`cnncore.optim.Optimizer`) adds its state as ``opt.*``.
    The name is used as given (no ``.npz`` is appended).
    """
    history = net.history if history is None else history
    try:
        history_text = json.dumps(history, allow_nan=True)
    except (TypeError, ValueError) as e:
        raise ValueError(f"history must be JSON-serialisable: {e}") from None
    arrays = {"format": np.array(FORMAT), "architecture": np.array(to_json(net.spec)),
              "history": np.array(history_text)}
    for k, v in net.params().items():
        arrays[k] = np.array(v, copy=True)
    if optimizer is not None:
        arrays["opt.name"] = np.array(optimizer.name)
        for k, v in optimizer.state_dict().items():
            arrays["opt." + k] = np.asarray(v)
    atomic_savez(path, arrays)


def _read(path) -> dict:
    try:
        with open(path, "rb") as f:  # our own handle: closed even when np.load fails half-way
            magic = f.read(4)
            if magic[:2] != b"PK":
                what = "is empty" if not magic else "is not a model file (not an .npz archive)"
                raise ModelFileError(f"{path}: {what}")
            f.seek(0)
            data = np.load(f, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ModelFileError(f"{path}: holds a single array, not a model (.npz archive)")
            with data:
                return {k: data[k] for k in data.files}
    except ModelFileError:
        raise
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, not a model file") from None
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied") from None
    except (zipfile.BadZipFile, EOFError) as e:
        raise ModelFileError(f"{path}: truncated or corrupt model file ({e})") from None
    except ValueError as e:
        if "pickle" in str(e):
            raise ModelFileError(f"{path}: contains Python objects (pickles), which model files never do") from None
        raise ModelFileError(f"{path}: not a readable model file ({e})") from None
    except (OSError, zipfile.LargeZipFile, KeyError, RuntimeError, zlib.error, NotImplementedError,
            MemoryError) as e:
        # damaged compressed data, an unknown compression method, an absurd size
        raise ModelFileError(f"{path}: not a readable model file ({type(e).__name__}: {e})") from None


def load_model(path) -> Network:
    """Read a model written by :func:`save_model`; returns a :class:`Network` with ``.history``.

    Raises :class:`ModelFileError` when the file is missing, truncated, corrupt,
    holds an invalid architecture, or its weights do not match the architecture
    (missing, extra, wrong shape, not finite). The network uses the file's
    float type (float32 or float64). Optimizer state, if present, is in
    ``net.optimizer_state``.
    """
    arrays = _read(path)
    if "architecture" not in arrays:
        hint = " (it looks like a backprop trace)" if "input" in arrays and "probs" in arrays else ""
        raise ModelFileError(f"{path}: no 'architecture' entry, so this is not a model file{hint}")
    fmt = str(arrays.get("format", FORMAT))
    if fmt != FORMAT:
        raise ModelFileError(f"{path}: unknown model format {fmt!r} (this version reads {FORMAT!r})")
    arch = arrays["architecture"]
    if arch.dtype.kind != "U" or arch.shape != ():
        raise ModelFileError(f"{path}: 'architecture' must be JSON text")
    allowed = {"format", "architecture", "history"}
    unexpected = sorted(k for k in arrays if k not in allowed and not _PARAM_KEY.match(k) and not k.startswith("opt."))
    if unexpected:
        hint = " (it looks like a backprop trace, not a model)" if "probs" in arrays else ""
        raise ModelFileError(f"{path}: unexpected entries {', '.join(unexpected[:6])}{hint}")
    params = {k: v for k, v in arrays.items() if _PARAM_KEY.match(k)}
    dtypes = {v.dtype for v in params.values()}
    if any(dt not in (np.dtype(np.float32), np.dtype(np.float64)) for dt in dtypes):
        raise ModelFileError(f"{path}: weights must be float32 or float64, found {sorted(str(d) for d in dtypes)}")
    dtype = np.float64 if np.dtype(np.float64) in dtypes else np.float32
    try:
        net = Network(str(arch), seed=0, dtype=dtype)
    except ArchitectureError as e:
        raise ModelFileError(f"{path}: its architecture is not valid: {e}") from None
    own = net.params()
    missing = sorted(set(own) - set(params))
    extra = sorted(set(params) - set(own))
    if missing:
        raise ModelFileError(f"{path}: the architecture needs {', '.join(missing)}, which the file lacks")
    if extra:
        raise ModelFileError(f"{path}: weights {', '.join(extra)} do not belong to any layer of its architecture")
    for k, v in params.items():
        if v.shape != own[k].shape:
            raise ModelFileError(f"{path}: {k} has shape {v.shape} but the architecture needs {own[k].shape}")
        if not np.all(np.isfinite(v)):
            raise ModelFileError(f"{path}: {k} contains NaN or infinite values")
    net.set_params(params)
    history = []
    if "history" in arrays:
        try:
            history = json.loads(str(arrays["history"]))
        except json.JSONDecodeError as e:
            raise ModelFileError(f"{path}: its training history is not valid JSON ({e.msg})") from None
        if not isinstance(history, list):
            raise ModelFileError(f"{path}: its training history must be a list")
    net.history = history
    net.optimizer_state = {k[4:]: v for k, v in arrays.items() if k.startswith("opt.")} or None
    return net
