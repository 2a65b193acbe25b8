"""The held-out pictures a session keeps for the next launch of the app.

A run's held-out pictures are the samples the Backprop, Look and Inspect tabs offer its network.
Pictures of a folder or of a downloaded set would otherwise be gone after a restart (until the
next run): :func:`save_kept` writes the first :data:`MAX_KEPT` beside the session's model, and
:func:`load_kept` reads them back for that model only.

::

    pictures.npy   uint8 (N, C, H, W): as the model reads them
    labels.npy     int64 (N,): their true classes, indices into classes
    classes.npy    unicode (K,): the class names the labels index (the model's)
    name.npy       unicode (): what the set is ("held-out pictures of CIFAR-10")

It is the app's own file, read as any file is: headers checked before the data, no objects.
"""
from __future__ import annotations

import numpy as np

from .._atomic import atomic_savez
from .._safeio import member_text, read_member, user_archive
from ..limits import MAX_CLASS_NAME

__all__ = ["MAX_KEPT", "KeptFileError", "save_kept", "load_kept"]

#: Pictures kept at most (3×32×32 colour pictures: 3 MB).
MAX_KEPT = 1000
_MEMBERS = ("pictures", "labels", "classes", "name")
_NAME_CHARS = 200


class KeptFileError(ValueError):
    """The kept pictures cannot be read, or are not for this model."""


def save_kept(path, X, y, classes, name: str) -> bool:
    """Write the first :data:`MAX_KEPT` of ``X`` (uint8 ``(N, C, H, W)``, or ``(N, H, W)`` grey) and
    their classes ``y`` to ``path``, atomically; False (nothing written) for pictures that are not
    uint8 or an empty set."""
    X, y = np.asarray(X)[:MAX_KEPT], np.asarray(y)[:MAX_KEPT]
    if X.ndim == 3:
        X = X[:, None]
    if X.dtype != np.uint8 or X.ndim != 4 or not len(X) or y.shape != (len(X),):
        return False
    atomic_savez(path, {"pictures": X, "labels": y.astype(np.int64), "classes": np.array(list(classes), dtype=str),
                        "name": np.array(str(name))})
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
        p, lab, cl, nm = (members[k] for k in _MEMBERS)
        if p.dtype != np.uint8 or tuple(p.shape[1:]) != (C, H, W) or not 1 <= p.shape[0] <= MAX_KEPT \
                or lab.shape != (p.shape[0],) or lab.dtype.kind not in "iu" \
                or cl.dtype.kind != "U" or cl.shape != (len(net.classes),) or nm.dtype.kind != "U" or nm.shape != ():
            raise KeptFileError(f"{path}: its pictures are not ones this model takes")
        names = read_member(zf, cl)
        classes = tuple(member_text(names[k, ...], "classes") for k in range(len(names)))
        if classes != tuple(net.classes):
            raise KeptFileError(f"{path}: its pictures are of other classes than this model's")
        name = member_text(read_member(zf, nm), "name")
        X, y = read_member(zf, p), read_member(zf, lab).astype(np.int64)
    if ((y < 0) | (y >= len(classes))).any() or len(name) > _NAME_CHARS or not name.isprintable():
        raise KeptFileError(f"{path}: its labels or its name are not what the app writes")
    return X, y, classes, name
