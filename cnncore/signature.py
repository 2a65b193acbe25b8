"""What a model takes and what it gives, in one place: its :class:`Signature`.

A network keeps one (``net.signature``); every data source, export and command that feeds it or
names its answers reads it from there instead of assuming MNIST's 28×28 grey digits:

* ``shape``: the input ``(C, H, W)``. ``C`` is 1 for grey pictures and 3 for colour (R, G, B
  planes, in that order); pictures are brought to ``H×W`` by :mod:`cnncore.datasets.pictures`.
* ``classes``: the name of each output, in order, and ``dataset``, the data set they come from
  ("" for digits of no particular set).
* ``mean`` and ``std``: an optional normalisation of the input, one number per channel. The
  engine (:meth:`cnncore.network.Network.forward`) takes pictures with values in [0, 1] and
  hands the first layer ``(x − mean) / std``; a model file keeps the numbers and both exports
  apply them, so every form of a model takes the same [0, 1] pictures.
* ``fit``: how a picture of any size becomes an input (:func:`cnncore.datasets.pictures.picture_input`):
  ``"digit"``, MNIST's recipe for a grey 28×28 digit model (the ink found, fitted into 20×20 and
  centred by its mass, dark ink on light paper turned round), or ``"picture"``, the shorter side
  scaled to fit and the centre cut out (every other model, and one trained on a folder of pictures).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace

import numpy as np

from ._safeio import UnreadableFile, read_json
from .architecture import DIGIT_CLASSES, DIGIT_SHAPE, NUM_CLASSES, UNUSED_CLASS
from .limits import MAX_CLASS_NAME

__all__ = ["Signature", "channel_statistics", "channel_names", "FITS", "NORMALISATION_ENTRIES", "normalisation_entries",
           "normalisation_from", "classes_entry", "classes_from"]

_CHANNEL_WORDS = {1: "grey", 3: "colour (RGB)"}
#: What each input channel of a picture is: one grey plane, or the red, green and blue planes.
_CHANNEL_NAMES = {1: ("grey",), 3: ("R", "G", "B")}
#: The rules that bring a picture to a model's input (see the module text).
FITS = ("digit", "picture")


@dataclass(frozen=True)
class Signature:
    """A model's input shape ``(C, H, W)``, its class names and its input normalisation.

    ``mean`` and ``std`` are both ``None`` (no normalisation) or ``C`` finite numbers each,
    every ``std`` > 0. Raises ``ValueError`` for anything else, or for a number of class
    names other than :data:`~cnncore.architecture.NUM_CLASSES`.
    """
    shape: tuple[int, int, int]
    classes: tuple[str, ...] = DIGIT_CLASSES
    dataset: str = ""
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    fit: str | None = None             # None: "digit" for the digit sources' input, else "picture"

    def __post_init__(self):
        shape = tuple(int(s) for s in self.shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"an input shape is (channels, height, width), got {self.shape}")
        object.__setattr__(self, "shape", shape)
        classes = tuple(str(c) for c in self.classes)
        if len(classes) != NUM_CLASSES:
            raise ValueError(f"a network has {NUM_CLASSES} classes, not {len(classes)}")
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "dataset", str(self.dataset))
        if (self.mean is None) != (self.std is None):
            raise ValueError("an input normalisation needs both a mean and a standard deviation per channel")
        if self.mean is not None:
            mean, std = _per_channel(self.mean, shape[0], "mean"), _per_channel(self.std, shape[0], "std")
            if not all(_STD_RANGE[0] <= v <= _STD_RANGE[1] for v in std):
                raise ValueError(f"every channel's standard deviation must be from {_STD_RANGE[0]:g} to "
                                 f"{_STD_RANGE[1]:g} (the levels are in [0, 1]), got {_shown(std)}")
            object.__setattr__(self, "mean", mean)
            object.__setattr__(self, "std", std)
        fit = self.default_fit if self.fit is None else self.fit
        if fit not in FITS or (fit == "digit" and shape != DIGIT_SHAPE):
            raise ValueError(f"the rule that fits a picture to the input must be 'picture' (or 'digit' for a "
                             f"{'×'.join(map(str, DIGIT_SHAPE))} input), not {self.fit!r}")
        object.__setattr__(self, "fit", fit)

    # ------------------------------------------------------------------ what it is
    @property
    def channels(self) -> int:
        return self.shape[0]

    @property
    def channel_names(self) -> tuple[str, ...]:
        """What each input channel is (:func:`channel_names`): ``("R", "G", "B")`` for colour."""
        return channel_names(self.channels)

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)``."""
        return self.shape[1], self.shape[2]

    @property
    def normalises(self) -> bool:
        return self.mean is not None

    @property
    def default_fit(self) -> str:
        """The fitting rule of a model that does not name one (every file from before the rule)."""
        return "digit" if self.shape == DIGIT_SHAPE else "picture"

    def words(self) -> str:
        """``"3×32×32: colour (RGB) pictures of 32×32 pixels"``, for messages and exports."""
        C, H, W = self.shape
        kind = _CHANNEL_WORDS.get(C, f"{C}-channel")
        return f"{C}×{H}×{W}: {kind} pictures of {H}×{W} pixels"

    def brief(self) -> str:
        """``"colour (RGB) 32×32"``, ``"grey 28×28"``: the input in a few words, for a short note."""
        C, H, W = self.shape
        return f"{_CHANNEL_WORDS.get(C, f'{C}-channel')} {H}×{W}"

    def normalisation_words(self) -> str:
        """How the engine scales its input: one line ("" without normalisation)."""
        if not self.normalises:
            return ""
        pairs = ", ".join(f"{m:.4g}/{s:.4g}" for m, s in zip(self.mean, self.std))
        return f"each channel c becomes (x_c − mean_c) / std_c with mean/std {pairs}"

    # ------------------------------------------------------------------ changed copies
    def learns(self, classes, dataset: str = "") -> "Signature":
        """This signature with other class names."""
        return replace(self, classes=tuple(classes), dataset=dataset)

    def fitted(self, fit: str) -> "Signature":
        """This signature with another rule for fitting pictures to the input (:data:`FITS`)."""
        return replace(self, fit=fit)

    def normalised(self, mean, std) -> "Signature":
        """This signature with the normalisation ``(mean, std)`` (both ``None``: none)."""
        return replace(self, mean=None if mean is None else tuple(mean), std=None if std is None else tuple(std))

    # ------------------------------------------------------------------ the arithmetic
    def normalise(self, x: np.ndarray) -> np.ndarray:
        """``(x − mean) / std`` per channel of ``x (N, C, H, W)`` (a new array in ``x``'s float
        type), or ``x`` itself without normalisation."""
        if not self.normalises:
            return x
        m, s = (np.asarray(v, dtype=x.dtype).reshape(1, -1, 1, 1) for v in (self.mean, self.std))
        return (x - m) / s

    def input_gradient(self, d: np.ndarray) -> np.ndarray:
        """The gradient with respect to the [0, 1] input from the one with respect to the first
        layer's (normalised) input ``d (N, C, H, W)``: ``d / std`` (chain rule), or ``d`` itself."""
        if not self.normalises:
            return d
        return d / np.asarray(self.std, dtype=d.dtype).reshape(1, -1, 1, 1)


#: The entries in which a model file and a trace file keep an input normalisation: both or neither,
#: each one float per input channel.
NORMALISATION_ENTRIES = ("input_mean", "input_std")


def normalisation_entries(signature: Signature) -> dict:
    """``{entry: float64 (C,)}`` of ``signature``'s normalisation for a file (empty without one)."""
    if not signature.normalises:
        return {}
    return {k: np.array(v, dtype=np.float64) for k, v in zip(NORMALISATION_ENTRIES, (signature.mean, signature.std))}


def normalisation_from(headers: dict, read, channels: int):
    """``(mean, std)`` from a file's entries, or None where it has neither. ``headers``: entry ->
    its header (``shape``, ``dtype``), read before any value; ``read(entry)``: its values.
    ``ValueError`` (a sentence without the file's name) for one without the other, or for
    anything but ``channels`` floats each; the values themselves are checked by
    :meth:`Signature.normalised`."""
    present = [k for k in NORMALISATION_ENTRIES if k in headers]
    if not present:
        return None
    if len(present) != 2:
        raise ValueError(f"it has {present[0]!r} without {(set(NORMALISATION_ENTRIES) - set(present)).pop()!r}")
    for k in NORMALISATION_ENTRIES:
        if headers[k].shape != (channels,) or headers[k].dtype.kind != "f":
            raise ValueError(f"{k!r} must hold one float per input channel ({channels})")
    return read("input_mean"), read("input_std")


def classes_entry(classes) -> np.ndarray:
    """The ``classes`` entry of a model or trace file: the names as JSON text (a 0-d unicode array)."""
    return np.array(json.dumps(list(classes), ensure_ascii=False))


def classes_from(text: str, count: int) -> tuple[str, ...]:
    """The class names of a file's ``classes`` entry (:func:`classes_entry`): ``count`` short printable
    names, none twice but the unused outputs'. ``ValueError`` (a sentence without the file's name)."""
    try:
        classes = read_json(text, 1)
    except UnreadableFile:
        classes = None
    if (not isinstance(classes, list) or len(classes) != count
            or not all(isinstance(c, str) and 0 < len(c) <= MAX_CLASS_NAME and c.isprintable() for c in classes)):
        raise ValueError(f"'classes' must list {count} short names")
    named = [c for c in classes if c != UNUSED_CLASS]
    if len(set(named)) != len(named):
        twice = next(c for c in named if named.count(c) > 1)
        raise ValueError(f"'classes' names {twice!r} twice; each output must be a class of its own")
    return tuple(classes)


def channel_names(channels: int) -> tuple[str, ...]:
    """The name of each of a picture's ``channels`` input planes, in order: ``("grey",)`` for one,
    ``("R", "G", "B")`` for three (red, green, blue: the order of every colour input here), and
    ``("channel 0", …)`` for any other count."""
    return _CHANNEL_NAMES.get(int(channels), tuple(f"channel {m}" for m in range(int(channels))))


#: The standard deviations a normalisation may divide by: of levels in [0, 1], at most 0.5 and, where a
#: channel varies at all, far above 1e-6 (a channel without spread gets 1). 1e-300 passed before, and
#: was 0 in float32: every input became inf or NaN.
_STD_RANGE = (1e-6, 1e6)


def _per_channel(values, channels: int, what: str) -> tuple[float, ...]:
    out = tuple(float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1))
    if len(out) != channels:
        raise ValueError(f"the input normalisation's {what} must be {channels} numbers, one per channel, "
                         f"got {len(out)}")
    if not all(math.isfinite(v) and abs(v) <= _STD_RANGE[1] for v in out):
        raise ValueError(f"the input normalisation's {what} must be finite numbers of at most {_STD_RANGE[1]:g}, "
                         f"got {_shown(out)}")
    return out


def _shown(values) -> str:
    return ", ".join(f"{v:.6g}" for v in values[:4]) + (", …" if len(values) > 4 else "")


def channel_statistics(X) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(mean, std)`` of each channel over pictures ``X (N, C, H, W)`` (uint8 0..255 or floats in
    [0, 1]), in the [0, 1] scale; a channel without spread gets std 1. Computed in chunks, so
    60,000 pictures need no float copy of them all."""
    X = np.asarray(X)
    if X.ndim != 4 or len(X) == 0:
        raise ValueError(f"pictures must be (N, C, H, W) with N ≥ 1, got {X.shape}")
    scale = 255.0 if X.dtype == np.uint8 else 1.0
    C = X.shape[1]
    total, squares, count = np.zeros(C), np.zeros(C), 0
    for s in range(0, len(X), 4096):
        chunk = X[s:s + 4096].astype(np.float64) / scale
        total += chunk.sum(axis=(0, 2, 3))
        squares += (chunk * chunk).sum(axis=(0, 2, 3))
        count += chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean * mean, 0))
    std = np.where(std > 1e-6, std, 1.0)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)
