"""The user's own labelled drawings, kept in one ``.npz`` file.

The file holds two arrays, ``images`` uint8 ``(N, 28, 28)`` and ``labels``
uint8 ``(N,)``. Every change (append, insert, remove, clear) rewrites it
atomically: a temporary file beside it, then ``os.replace``, so a crash never
leaves a half-written file. A file that cannot be read is never overwritten:
opening it raises :class:`DrawingsFileError`, or, with ``recover=True``, moves
it aside to ``<name>.corrupt-<timestamp>`` and starts an empty dataset.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from .._atomic import atomic_savez
from .._safeio import UnreadableFile, npz_members, open_regular, read_member
from ..limits import MAX_DRAWINGS
from .paths import user_data_dir

__all__ = ["DrawingsDataset", "DrawingsFileError", "DEFAULT_DRAWINGS_NAME"]

DEFAULT_DRAWINGS_NAME = "drawings.npz"


class DrawingsFileError(ValueError):
    """The drawings file exists but is not a valid drawings dataset."""


def _as_image(image) -> np.ndarray:
    """An image (28, 28), uint8 as is or float in [0, 1] scaled to 0-255, as uint8."""
    a = np.asarray(image)
    if a.shape != (28, 28):
        raise ValueError(f"a drawing must be 28x28 pixels, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a.copy()
    if a.dtype.kind not in "fiub":
        raise TypeError(f"a drawing must be uint8 or float in [0, 1], got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError("a drawing must not contain NaN or infinite values")
    if a.min() < 0.0 or a.max() > 1.0:
        raise ValueError(f"a float drawing must have values in [0, 1], got {a.min():g} to {a.max():g}")
    return np.rint(a * 255.0).astype(np.uint8)


def _as_label(label) -> int:
    try:
        value = int(label)
    except (TypeError, ValueError):
        raise TypeError(f"a label must be a digit 0-9, got {label!r}") from None
    if value != label or not 0 <= value <= 9:
        raise ValueError(f"a label must be a digit 0-9, got {label!r}")
    return value


def _check_headers(path, members):
    """The members' headers, checked: uint8 images (N, 28, 28) and labels (N,), N at most MAX_DRAWINGS."""
    if not {"images", "labels"} <= set(members):
        raise DrawingsFileError(f"{path}: not a drawings file (it holds {sorted(members)}, "
                                "expected 'images' and 'labels').")
    images, labels = members["images"], members["labels"]
    shape = images.shape
    if images.dtype != np.uint8 or len(shape) != 3 or shape[1:] != (28, 28):
        raise DrawingsFileError(f"{path}: 'images' should be uint8 (N, 28, 28), found {images.dtype} {shape}.")
    if shape[0] > MAX_DRAWINGS:
        raise DrawingsFileError(f"{path}: declares {shape[0]:,} drawings, more than the {MAX_DRAWINGS:,} allowed.")
    if labels.dtype != np.uint8 or labels.shape != (shape[0],):
        raise DrawingsFileError(f"{path}: 'labels' should be uint8 ({shape[0]},), "
                                f"found {labels.dtype} {labels.shape}.")
    return images, labels


class DrawingsDataset:
    """The user's drawings with their labels, saved at once on every change.

    ``DrawingsDataset(path)`` opens the ``.npz`` file at ``path`` or, when there
    is none yet, starts empty (the file and its folder are created by the first
    change). ``recover=True`` moves an unreadable file aside instead of raising;
    then ``.recovered_from`` is the new name of the bad file and ``.message``
    says what happened (both None otherwise).

    Attributes: ``images`` uint8 ``(N, 28, 28)`` and ``labels`` uint8 ``(N,)``
    (read-only views: change the dataset through its methods); ``len(ds)`` = N.
    """

    def __init__(self, path, *, recover: bool = False):
        self.path = Path(path)
        self.recovered_from: Path | None = None
        self.message: str | None = None
        self._images = np.zeros((0, 28, 28), dtype=np.uint8)
        self._labels = np.zeros((0,), dtype=np.uint8)
        if self.path.exists() or self.path.is_symlink():
            try:
                self._images, self._labels = self._read(self.path)
            except DrawingsFileError as exc:
                if not recover:
                    raise
                self.recovered_from = self._move_aside()
                self.message = (f"{exc} It was moved aside to {self.recovered_from.name}; "
                                "starting with an empty set of drawings.")

    @classmethod
    def default(cls, *, recover: bool = False) -> "DrawingsDataset":
        """The dataset in the user's data folder (``user_data_dir() / "drawings.npz"``)."""
        return cls(user_data_dir() / DEFAULT_DRAWINGS_NAME, recover=recover)

    # -- reading and writing -------------------------------------------------
    @staticmethod
    def _read(path: Path) -> tuple[np.ndarray, np.ndarray]:
        """The two arrays, or :class:`DrawingsFileError` (and nothing else) for any bad file.

        Shapes and types are checked from the arrays' headers before their data is read,
        so a small file that declares gigabytes is refused without inflating it.
        """
        try:
            with open_regular(path) as f:
                zf, members = npz_members(f, max_members=8, max_bytes=MAX_DRAWINGS * 785)
                with zf:
                    images, labels = _check_headers(path, members)
                    images, labels = read_member(zf, images), read_member(zf, labels)
        except DrawingsFileError:
            raise
        except UnreadableFile as exc:
            raise DrawingsFileError(f"{path}: the drawings file is damaged and cannot be read: it {exc}.") from None
        except (OSError, MemoryError) as exc:
            raise DrawingsFileError(f"{path}: the drawings file cannot be read "
                                    f"({type(exc).__name__}: {exc}).") from None
        if labels.size and labels.max() > 9:
            raise DrawingsFileError(f"{path}: a label is {labels.max()}, not a digit 0-9.")
        return images, labels

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        k = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{k}")
            k += 1
        os.replace(self.path, target)
        return target

    def _save(self, images: np.ndarray, labels: np.ndarray) -> None:
        """Write the arrays atomically, then adopt them (memory changes only if the file did)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_savez(self.path, {"images": images, "labels": labels}, compressed=True)
        self._images, self._labels = images, labels

    # -- the data -------------------------------------------------------------
    @property
    def images(self) -> np.ndarray:
        """uint8 ``(N, 28, 28)``, read-only."""
        v = self._images.view()
        v.flags.writeable = False
        return v

    @property
    def labels(self) -> np.ndarray:
        """uint8 ``(N,)``, read-only."""
        v = self._labels.view()
        v.flags.writeable = False
        return v

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        """``(image uint8 (28, 28), label int)`` of one drawing."""
        return self._images[index].copy(), int(self._labels[index])

    def counts(self) -> np.ndarray:
        """How many drawings of each digit: int64 ``(10,)``."""
        return np.bincount(self._labels, minlength=10)

    # -- changes (each saved at once) ----------------------------------------
    def append(self, image, label) -> int:
        """Add a drawing (uint8 (28, 28), or float in [0, 1]) and its label; returns its index."""
        return self.insert(len(self), image, label)

    def insert(self, index: int, image, label) -> int:
        """Put a drawing at ``index`` (0..N; undoes :meth:`remove`); returns the index."""
        img, lab = _as_image(image), _as_label(label)
        n = len(self)
        if not 0 <= index <= n:
            raise IndexError(f"insert index {index} out of range 0..{n}")
        self._save(np.insert(self._images, index, img, axis=0),
                   np.insert(self._labels, index, np.uint8(lab)))
        return index

    def remove(self, index: int) -> tuple[np.ndarray, int]:
        """Delete the drawing at ``index`` (negative counts from the end) and return
        ``(image, label)``, so that ``insert(index, image, label)`` can undo it."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"drawing index {index} out of range for {n} drawings")
        index %= n
        removed = self[index]
        self._save(np.delete(self._images, index, axis=0), np.delete(self._labels, index))
        return removed

    def relabel(self, index: int, label) -> int:
        """Change a drawing's label; returns the old label (for undo)."""
        lab = _as_label(label)
        old = int(self._labels[index])
        labels = self._labels.copy()
        labels[index] = lab
        self._save(self._images, labels)
        return old

    def clear(self) -> tuple[np.ndarray, np.ndarray]:
        """Delete every drawing; returns the old ``(images, labels)``."""
        old = (self._images, self._labels)
        self._save(self._images[:0].copy(), self._labels[:0].copy())
        return old

    def __repr__(self) -> str:
        return f"DrawingsDataset({str(self.path)!r}, {len(self)} drawings)"
