"""The data sources the app's Train tab and the ``cnnapp`` command line both offer, in one table,
and the one rule that splits a source into training and held-out digits.

* :data:`SOURCES`: every source, with the words the app shows for it.
* :func:`available_sources`: the sources this installation can offer. The shared 8,000-digit subset
  exists only in a developer checkout (``../shared/data/mnist`` beside the project); anywhere else it
  is left out, never offered and never mentioned.
* :func:`load_source`: ``(X uint8 (N, 28, 28), y uint8 (N,), description)`` of a source.
* :func:`held_out_split`: the held-out rule. A fixed shuffle (seed 0, whatever the training seed)
  picks ``round(N · fraction)`` digits to hold out; both parts keep file order. A fixed shuffle,
  not the end of the file, because files are often sorted (one's own drawings are usually drawn
  digit by digit) and the end of a sorted file would hold out one digit only.

Every failure is a :class:`SourceError` (a ``ValueError``) with a sentence for the user.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..architecture import DIGIT_CLASSES
from ..limits import pictures_problem
from .mnist import DOWNLOADS

__all__ = ["DataSource", "SOURCES", "SourceError", "DRAWINGS_FILE", "available_sources", "source",
           "load_source", "held_out_split"]

#: The user's own labelled drawings, in the user data folder.
DRAWINGS_FILE = "my_digits.npz"


class SourceError(ValueError):
    """A source cannot give digits (none drawn yet, files missing, ...); the message says why."""


@dataclass(frozen=True)
class DataSource:
    key: str        # the value of ``--data`` and of the app's settings
    label: str      # what the app's menu shows
    help: str       # one phrase for ``cnnapp ... --help``
    files: bool = False     # the user names the files (IDX images and labels)

    @property
    def download(self):
        """The :class:`~cnncore.datasets.mnist.Download` behind a downloaded source, else ``None``."""
        return DOWNLOADS.get(self.key)

    @property
    def classes(self) -> tuple[str, ...]:
        """The name of each label 0..9 (digits, but for Fashion-MNIST and Kuzushiji-MNIST)."""
        return self.download.classes if self.download else DIGIT_CLASSES

    @property
    def dataset(self) -> str:
        """The data set's name for a model trained on it ("" for digits of no particular set)."""
        return self.download.title if self.download else ""


SOURCES: tuple[DataSource, ...] = (
    DataSource("generated", "Generated digits (offline)", "handwriting-like digits made on the spot (offline)"),
    DataSource("drawings", "My drawings", "the digits you drew and labelled on the Draw tab"),
    DataSource("shared", "MNIST subset beside the project", "the 8,000 real digits of ../shared (checkout only)"),
    DataSource("mnist", "MNIST (download, 60,000 digits)", "the full MNIST training set (downloaded once)"),
    DataSource("fashion", "Fashion-MNIST (download, 60,000 clothes)",
               "Zalando's 28×28 pictures of clothes and shoes in ten classes (downloaded once)"),
    DataSource("kmnist", "Kuzushiji-MNIST (download, 60,000 characters)",
               "ten cursive Japanese hiragana from old books (downloaded once)"),
    DataSource("idx", "IDX folder…", "an images file and a labels file in MNIST's IDX format", files=True),
)


def source(key: str) -> DataSource:
    for s in SOURCES:
        if s.key == key:
            return s
    raise SourceError(f"no data source {key!r} (sources: {', '.join(s.key for s in available_sources())})")


def _shared_dir():
    from .paths import shared_mnist_dir
    return shared_mnist_dir()


def available_sources() -> list[DataSource]:
    """The sources this installation can offer (the shared subset only where it exists)."""
    return [s for s in SOURCES if s.key != "shared" or _shared_dir() is not None]


def _load_files(key: str, files, progress):
    from .idx import load_idx_pair
    if files is not None:
        images, labels = files
        for p in (images, labels):
            if not Path(p).is_file():
                raise SourceError(f"{p}: no such file")
        return load_idx_pair(images, labels), f"{Path(images).name}"
    if key == "shared":
        from .paths import SHARED_MNIST_IMAGES, SHARED_MNIST_LABELS
        folder = _shared_dir()
        if folder is None:
            raise SourceError("no data source 'shared' in this installation")
        return load_idx_pair(folder / SHARED_MNIST_IMAGES, folder / SHARED_MNIST_LABELS), "the shared MNIST subset"
    if key in DOWNLOADS:
        from .. import datasets   # looked up on the package, where tests may stand in for it
        title = DOWNLOADS[key].title
        try:
            return datasets.load_download(key, "train", progress=progress), f"{title} (training set)"
        except OSError as e:
            raise SourceError(f"could not get {title}: {e}") from None
    raise SourceError("name the IDX images and labels files")


def load_source(key: str, *, count: int | None = None, seed: int = 0, files=None, drawings=None,
                progress=None):
    """``(X, y, description)`` of source ``key``.

    ``count``: how many digits to generate ("generated", default :func:`cnncore.defaults.run_defaults`'s,
    the app's 6,000), or at most how many to
    use, the first in file order (every other source; default all). ``seed``: the generated
    digits' seed. ``files``: ``(images, labels)`` paths for "idx", or the already fetched files of
    a downloaded set ("mnist", "fashion", "kmnist"). ``drawings``: the drawings file (default
    :data:`DRAWINGS_FILE` in the user data folder). ``progress``: download progress (see
    :func:`cnncore.datasets.fetch_download`).
    """
    source(key)
    if key == "generated":
        from .generated import generated_digits
        from ..defaults import run_defaults
        n = run_defaults("generated").count if count is None else count
        problem = pictures_problem(n, 28 * 28)         # asked before a digit is drawn
        if problem:
            raise SourceError(f"generated digits: {problem}")
        X, y = generated_digits(n, seed=seed)
        return X, y, f"{n} generated digits"
    if key == "drawings":
        from .drawings import DrawingsDataset
        from .paths import user_data_dir
        ds = DrawingsDataset(Path(drawings) if drawings is not None else user_data_dir() / DRAWINGS_FILE)
        if len(ds) < 10:
            raise SourceError(f"you have {len(ds)} drawings of your own; add at least 10 on the Draw tab")
        X, y, what = ds.images, ds.labels, f"{len(ds)} of your drawings"
    else:
        (X, y), what = _load_files(key, files, progress)
    if count is not None and count < len(X):
        X, y, what = X[:count], y[:count], f"the first {count} of {what}"
    return X, y, what


def held_out_split(X, y, fraction: float):
    """``(X_train, y_train, X_held_out, y_held_out)``: the one held-out rule (see the module doc)."""
    n = len(X)
    n_val = int(round(n * float(fraction)))
    held = np.zeros(n, dtype=bool)
    held[np.random.default_rng(0).permutation(n)[:n_val]] = True
    return X[~held], y[~held], X[held], y[held]
