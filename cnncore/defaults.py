"""The defaults of a training run, in one place for the app's Train tab and the ``cnnapp`` command line,
and the rule that picks the picture a trace shows first.

:func:`run_defaults` gives them per data source (and per preset, where one must differ). They are
the set learners meet in the app: 6,000 digits with 15 % held out (the fixed shuffle of
:func:`cnncore.datasets.held_out_split`), 3 epochs of Adam in batches of 32 on a cosine schedule,
the generated digits drawn with seed :data:`DATA_SEED`. So ``cnnapp eval model.npz --data
generated`` scores the very digits the app held out when it trained that model. Every downloaded
set is cut to its first 6,000 images too: the app trains on them in well under a minute.

:func:`trace_example` is the picture a trace starts with when none is chosen (the app's Backprop
tab, ``cnnapp trace`` without ``--index``): one the network gets wrong or is least sure of, so the
first gradients a learner sees are not all about 0 (on a digit it is sure of, the loss is about
1e-5 and so is every gradient).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["RunDefaults", "run_defaults", "DATA_SEED", "TRACE_CANDIDATES", "trace_example"]

#: The seed of the generated digits the app and the command line train on and hold out.
DATA_SEED = 1
#: How many of a set's first images :func:`trace_example` looks through.
TRACE_CANDIDATES = 100


@dataclass(frozen=True)
class RunDefaults:
    """What a run takes when nothing else is said.

    ``count``: images to generate ("generated") or to use at most, the first in file order (None:
    all of them); ``holdout``: the share held out; ``data_seed``: the generated digits' seed."""
    count: int | None = 6000
    holdout: float = 0.15
    data_seed: int = DATA_SEED
    epochs: int = 3
    batch_size: int = 32
    optimizer: str = "adam"
    schedule: str = "cosine"


_BASE = RunDefaults()
#: Where a source differs from the base: one's own drawings are few, every one of them is used.
_BY_SOURCE = {"drawings": replace(_BASE, count=None)}
#: Where a preset differs from its source's defaults (none so far; colour pictures will need theirs).
_BY_PRESET: dict = {}


def run_defaults(source: str, preset: str | None = None) -> RunDefaults:
    """The defaults of a run on data source ``source`` (a key of :data:`cnncore.datasets.SOURCES`,
    ``"idx"`` for files the user names) with architecture preset ``preset``."""
    d = _BY_SOURCE.get(source, _BASE)
    changes = _BY_PRESET.get(preset, {})
    return replace(d, **changes) if changes else d


def trace_example(net, X, y, candidates: int = TRACE_CANDIDATES) -> int:
    """The index, among the first ``candidates`` images of ``X``, of the one whose true class ``y``
    the network gives the lowest probability: a mistake when there is one, else the answer it is
    least sure of. ``X``: uint8 ``(N, H, W)`` or floats ``(N, C, H, W)`` in [0, 1]; ``y``: ``(N,)``."""
    from .training import as_network_input
    n = min(len(X), int(candidates))
    if n < 1:
        raise ValueError("there is no image to choose from")
    x = as_network_input(np.asarray(X[:n]), net.dtype)
    p = net.predict_proba(x)
    net.clear()
    return int(np.argmin(p[np.arange(n), np.asarray(y[:n], dtype=np.intp)]))
