"""The held-out pictures a session keeps for the next launch of the app.

A run's held-out pictures are the samples the Backprop, Look and Inspect tabs offer its network.
Pictures of a folder or of a downloaded set would otherwise be gone after a restart (until the
next run): :func:`save_kept` writes the first :data:`MAX_KEPT` beside the session's model, and
:func:`load_kept` reads them back for that model only (the same weights: :func:`weights_id`).

::

    pictures.npy   uint8 (N, C, H, W): as the model reads them
    labels.npy     int64 (N,): their true classes, indices into classes
    classes.npy    unicode (K,): the class names the labels index (the model's)
    name.npy       unicode (): what the set is ("held-out pictures of CIFAR-10")
    owner.npy      unicode (): the weights_id of the model they were kept for

It is the app's own file, read as any file is: headers checked before the data, no objects.
"""
from __future__ import annotations

import hashlib

import numpy as np

from .._atomic import atomic_savez
from .._safeio import member_text, read_member, user_archive
from ..architecture import UNUSED_CLASS
from ..limits import MAX_CLASS_NAME

__all__ = ["MAX_KEPT", "KeptFileError", "save_kept", "load_kept", "weights_id"]

#: Pictures kept at most (3×32×32 colour pictures: 3 MB).
MAX_KEPT = 1000
_MEMBERS = ("pictures", "labels", "classes", "name", "owner")
_NAME_CHARS = 200


class KeptFileError(ValueError):
    """The kept pictures cannot be read, or are not for this model."""


def weights_id(net) -> str:
    """A short digest of ``net``'s weights (as its model file keeps them, bit for bit): pictures kept
    for it are offered to it only, not to another network of the same input and classes."""
    flat = np.ascontiguousarray(net.flat_params)
    return hashlib.sha256(str(flat.shape).encode() + flat.tobytes()).hexdigest()[:32]


def save_kept(path, net, X, y, name: str) -> bool:
    """Write the first :data:`MAX_KEPT` of ``X`` (uint8 ``(N, C, H, W)``, or ``(N, H, W)`` grey) and
    their classes ``y`` (indices into ``net``'s classes) to ``path`` for ``net``, atomically; False
    (nothing written) for pictures that are not uint8, an empty set, or a name that is not one
    printable line of at most 200 characters (none is read back)."""
    X, y = np.asarray(X)[:MAX_KEPT], np.asarray(y)[:MAX_KEPT]
    if X.ndim == 3:
        X = X[:, None]
    if X.dtype != np.uint8 or X.ndim != 4 or not len(X) or y.shape != (len(X),) \
            or len(name) > _NAME_CHARS or not name.isprintable():
        return False
    atomic_savez(path, {"pictures": X, "labels": y.astype(np.int64), "name": np.array(str(name)),
                        "classes": np.array(list(net.classes), dtype=str), "owner": np.array(weights_id(net))})
    return True


def load_kept(path, net) -> tuple:
    """``(X uint8 (N, C, H, W), y int64 (N,), classes, name)`` kept at ``path`` for ``net``:
    :class:`KeptFileError` (one line) for a file that cannot be read, or whose pictures ``net``
    does not take (another input shape, other class names)."""
    C, H, W = net.input_shape
    limit = MAX_KEPT * (C * H * W + 8) + (len(net.classes) + 1) * 4 * max(MAX_CLASS_NAME, _NAME_CHARS) + 4096
    with user_archive(path, KeptFileError, kind="file of kept pictures", max_members=len(_MEMBERS),
                      max_bytes=limit) as (zf, members):
        if sorted(members) != sorted(_MEMBERS):
            raise KeptFileError(f"{path}: its entries are not {', '.join(_MEMBERS)}")
        p, lab, cl, nm = (members[k] for k in _MEMBERS[:4])
        if p.dtype != np.uint8 or tuple(p.shape[1:]) != (C, H, W) or not 1 <= p.shape[0] <= MAX_KEPT \
                or lab.shape != (p.shape[0],) or lab.dtype.kind not in "iu" \
                or cl.dtype.kind != "U" or cl.shape != (len(net.classes),) or nm.dtype.kind != "U" or nm.shape != ():
            raise KeptFileError(f"{path}: its pictures are not ones this model takes")
        names = read_member(zf, cl)
        classes = tuple(member_text(names[k, ...], "classes") for k in range(len(names)))
        if classes != tuple(net.classes):
            raise KeptFileError(f"{path}: its pictures are of other classes than this model's")
        if members["owner"].dtype.kind != "U" or members["owner"].shape != () \
                or member_text(read_member(zf, members["owner"]), "owner") != weights_id(net):
            raise KeptFileError(f"{path}: its pictures were kept for another network")
        name = member_text(read_member(zf, nm), "name")
        X, y = read_member(zf, p), read_member(zf, lab).astype(np.int64)
    used = np.array([c != UNUSED_CLASS for c in classes])
    if ((y < 0) | (y >= len(classes))).any() or not used[y].all() or len(name) > _NAME_CHARS \
            or not name.isprintable():
        raise KeptFileError(f"{path}: its labels or its name are not what the app writes")
    return np.ascontiguousarray(X), y, classes, name
