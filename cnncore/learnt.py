"""Which pictures a network learnt from: a fingerprint of every picture its runs trained on.

A network keeps them in ``Network.trained_on`` (and its model file in ``trained_on``): the sorted,
distinct 64-bit fingerprints of the pictures of every run that updated its weights, or None for a
network whose past is not known (a model file of an older version that was trained). With them a
score can say how many of the pictures it was made on are ones the network learnt from
(:func:`learnt_count`): those score better than new pictures, whoever chose them. A run counts all of
its pictures from its first update on (one stopped after a batch, or put back after a blow-up, saw only
some): the count errs on the side of "learnt from", which is the side a score's reader needs.

A picture's fingerprint is a hash of its pixels as the network takes them, each rounded to one of 256
steps (the steps of an 8-bit picture): the same picture read from an IDX file, a PNG or a drawing has
the same fingerprint. Two different pictures share one with a chance of about 2⁻⁶⁴ (a million pictures
checked against a million learnt: one false match in about 18 million such checks).
"""
from __future__ import annotations

import hashlib

import numpy as np

from .limits import MAX_TRAINED_ON

__all__ = ["fingerprints", "remember", "learnt_count", "how_many", "checked_trained_on", "NOTHING"]

#: The fingerprints of a network that learnt from no picture yet.
NOTHING = np.zeros(0, np.uint64)
NOTHING.setflags(write=False)


def fingerprints(X) -> np.ndarray:
    """``(N,)`` uint64: one fingerprint for each picture of ``X`` (``(N, C, H, W)`` or ``(N, H, W)``,
    uint8 or floats in [0, 1] as :func:`cnncore.training.as_network_input` gives them)."""
    X = np.asarray(X)
    if X.ndim == 3:
        X = X[:, None]
    shape = ("x".join(str(d) for d in X.shape[1:]) + ":").encode()
    out = np.empty(len(X), np.uint64)
    for start in range(0, len(X), _CHUNK):
        _hash_into(out[start:start + _CHUNK], _steps(X[start:start + _CHUNK]), shape)
    return out


#: Pictures rounded to 8 bits at once (a few MB).
_CHUNK = 4096


def _steps(X) -> np.ndarray:
    """Pictures as 8-bit steps, contiguous (a value k/255 is step k)."""
    if X.dtype == np.uint8:
        return np.ascontiguousarray(X)
    Y = np.clip(X, 0.0, 1.0) * np.float32(255)
    Y += 0.5
    return Y.astype(np.uint8)


def _hash_into(out, X, prefix: bytes) -> None:
    size = X[0].nbytes if len(X) else 0
    data = memoryview(X.reshape(-1))
    for i in range(len(X)):
        h = hashlib.blake2b(prefix, digest_size=8)
        h.update(data[i * size:(i + 1) * size])
        out[i] = int.from_bytes(h.digest(), "little")


def remember(net, prints: np.ndarray) -> None:
    """Add pictures (their :func:`fingerprints`) to those ``net`` learnt from (a network whose past is not
    known stays so: its earlier pictures are still unknown; so does one that learnt from more than
    :data:`cnncore.limits.MAX_TRAINED_ON`)."""
    if net.trained_on is not None:
        kept = np.union1d(net.trained_on, prints).astype(np.uint64, copy=False)
        kept.setflags(write=False)
        net.trained_on = kept if len(kept) <= MAX_TRAINED_ON else None


def learnt_count(net, X=None, prints: np.ndarray | None = None) -> int | None:
    """How many pictures of ``X`` (or of their ``prints``, :func:`fingerprints`) are ones ``net`` learnt
    from; None when its past is not known."""
    if X is None and prints is None:
        raise TypeError("learnt_count needs the pictures X or their prints")
    if net.trained_on is None:
        return None
    if prints is None:
        if not len(net.trained_on) or not len(X):
            return 0
        prints = fingerprints(X)
    if not len(net.trained_on) or not len(prints):
        return 0
    at = np.searchsorted(net.trained_on, prints).clip(max=len(net.trained_on) - 1)
    return int(np.count_nonzero(net.trained_on[at] == prints))


def how_many(count: int, total: int) -> str:
    """``count`` of ``total`` pictures in words: "all" where it is every one, else the number ("1,204")."""
    return "all" if count == total else f"{count:,}"


def checked_trained_on(values) -> np.ndarray:
    """``values`` as a network's fingerprints (read only), or ValueError saying what is wrong: a 1-D
    uint64 array of distinct values in increasing order, at most :data:`cnncore.limits.MAX_TRAINED_ON`."""
    a = np.asarray(values)
    if a.dtype != np.uint64 or a.ndim != 1:
        raise ValueError(f"must be a list of 64-bit fingerprints, not {a.dtype} of shape {a.shape}")
    if len(a) > MAX_TRAINED_ON:
        raise ValueError(f"holds {len(a):,} fingerprints, more than the {MAX_TRAINED_ON:,} allowed")
    if len(a) > 1 and not (a[1:] > a[:-1]).all():
        raise ValueError("its fingerprints must be distinct and in increasing order")
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a
