"""The data sources the app's Train tab and the ``cnnapp`` command line both offer, in one table,
and the one rule that splits a source into training and held-out digits.

* :data:`SOURCES`: every source, with the words the app shows for it, and whether the app offers
  it (``app``).
* :func:`available_sources`: the sources this installation can offer. The shared 8,000-digit subset
  exists only in a developer checkout (``../shared/data/mnist`` beside the project); anywhere else it
  is left out, never offered and never mentioned.
* :func:`load_labelled`: a source's pictures with their labels and class names (:class:`Labelled`);
  :func:`load_source`: ``(X uint8, y uint8 (N,), description)`` of a source, the same pictures. The
  digit sources give ``X (N, 28, 28)``, CIFAR-10 ``(N, 3, 32, 32)``, a folder of pictures
  ``(N, C, H, W)`` at the input shape asked for.
* :func:`source_files`: the files a source reads (or keeps, for a downloaded set), found without
  reading or downloading anything, which nothing the app or the command line writes may replace.
* :func:`held_out_split`: the held-out rule. A fixed shuffle (seed 0, whatever the training seed)
  picks ``round(N · fraction)`` digits to hold out; both parts keep file order. A fixed shuffle,
  not the end of the file, because files are often sorted (one's own drawings are usually drawn
  digit by digit) and the end of a sorted file would hold out one digit only. A class whose every
  picture was picked keeps its first one for training (a folder with one pear among 19 apples held
  the pear out, and the network never saw a pear).

Every failure is a :class:`SourceError` (a ``ValueError``) with a sentence for the user.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..architecture import DIGIT_CLASSES, DIGIT_SHAPE
from ..limits import pictures_problem
from ..plurals import plural
from .cifar import CIFAR10
from .mnist import DOWNLOADS

__all__ = ["DataSource", "SOURCES", "SourceError", "DRAWINGS_FILE", "available_sources", "source",
           "load_source", "load_labelled", "DRAWINGS_TO_TRAIN", "numbered", "input_problem", "source_files", "Labelled", "held_out_split", "ARCHIVES"]

#: The sources downloaded as one archive of pictures (not MNIST's four files).
ARCHIVES = {CIFAR10.key: CIFAR10}

#: The user's own labelled drawings, in the user data folder.
DRAWINGS_FILE = "my_digits.npz"
#: The fewest of one's own drawings a network is trained on (a lesson or a trace needs only the one it shows).
DRAWINGS_TO_TRAIN = 10


class SourceError(ValueError):
    """A source cannot give digits (none drawn yet, files missing, ...); the message says why."""


@dataclass(frozen=True)
class DataSource:
    key: str        # the value of ``--data`` and of the app's settings
    label: str      # what the app's menu shows
    help: str       # one phrase for ``cnnapp ... --help``
    files: bool = False     # the user names the files (IDX images and labels, or a folder of pictures)
    #: Offered by the app's Train tab (False: the command line's only).
    app: bool = True
    #: The ``(C, H, W)`` of its pictures; None: whatever the network takes (a folder's are fitted to it).
    shape: tuple | None = DIGIT_SHAPE

    @property
    def download(self):
        """The :class:`~cnncore.datasets.mnist.Download` or :class:`~cnncore.datasets.cifar.Archive`
        behind a downloaded source, else ``None``."""
        return DOWNLOADS.get(self.key) or ARCHIVES.get(self.key)

    @property
    def classes(self) -> tuple[str, ...]:
        """The name of each label 0..9 (digits, but for the downloaded sets; a folder's are its own)."""
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
    DataSource("cifar10", "CIFAR-10 (download, 50,000 colour pictures)",
               "32×32 colour pictures of ten kinds of animals and vehicles (a 162 MB download, once)",
               shape=CIFAR10.shape),
    DataSource("folder", "A folder of pictures…", "your own pictures, one subfolder per class", files=True,
               shape=None),
)


def source(key: str) -> DataSource:
    for s in SOURCES:
        if s.key == key:
            return s
    raise SourceError(f"no data source {key!r} (sources: {', '.join(s.key for s in available_sources())})")


def input_problem(key: str, input_shape, reader: str = "this network") -> str | None:
    """Why a network of input ``input_shape`` ``(C, H, W)`` cannot read source ``key``'s pictures
    (:attr:`DataSource.shape`), said before any is read or downloaded: ``"CIFAR-10's pictures are colour
    (RGB) 32×32; this network takes grey 28×28 ones"`` (``reader``: what takes them). None where it can
    (a folder's pictures are fitted to any input)."""
    from ..signature import Signature
    src = source(key)
    if src.shape is None or tuple(input_shape) == tuple(src.shape):
        return None
    what = f"{src.dataset}'s pictures are" if src.dataset else "the digits are"
    return f"{what} {Signature(tuple(src.shape)).brief()}; {reader} takes {Signature(tuple(input_shape)).brief()} ones"


def _shared_dir():
    from .paths import shared_mnist_dir
    return shared_mnist_dir()


def available_sources(*, for_app: bool = False) -> list[DataSource]:
    """The sources this installation can offer (the shared subset only where it exists);
    ``for_app``: only those the app's Train tab offers (``DataSource.app``)."""
    return [s for s in SOURCES if (s.key != "shared" or _shared_dir() is not None) and (s.app or not for_app)]


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
            raise SourceError(f"could not get {title}: {_said(e)}") from None
    raise SourceError("name the IDX images and labels files")


@dataclass(frozen=True)
class Labelled:
    """A source's pictures and what they are: ``X`` uint8 ``(N, 28, 28)`` (digits) or ``(N, C, H, W)``,
    ``y`` uint8 ``(N,)``, the name of each of a network's outputs (``classes``, the label's index),
    the data set's name (``dataset``, "" for digits of no particular set), a description
    (``what``), ``notes`` (one line each: a folder's skipped pictures and ignored files) and, for a
    folder, each picture's file (``paths``: the pictures that could be read, in order) and how many
    of its pictures could not be (``skipped``)."""
    X: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    classes: tuple
    dataset: str
    what: str
    notes: tuple = ()
    paths: tuple = field(default=(), repr=False)
    skipped: int = 0


def load_labelled(key: str, *, count: int | None = None, seed: int = 0, files=None, drawings=None,
                  progress=None, shape=None, classes=None, training: bool = False, fit: str = "picture") -> Labelled:
    """The pictures of source ``key`` with their labels and class names.

    ``count``: how many digits to generate ("generated", default :func:`cnncore.defaults.run_defaults`'s,
    the app's 6,000), or at most how many to
    use, the first in file order (every other source; default all). ``seed``: the generated
    digits' seed. ``files``: ``(images, labels)`` paths for "idx", the folder for "folder", or the
    already fetched files of a downloaded set ("mnist", "fashion", "kmnist"; "cifar10": its archive).
    ``drawings``: the drawings file (default :data:`DRAWINGS_FILE` in the user data folder). ``progress``: download
    progress (see :func:`cnncore.datasets.fetch_download`), or a folder's pictures read.
    ``shape`` (C, H, W) and ``classes``: the input and class names of the model a folder's
    pictures are for (:func:`cnncore.datasets.folder.load_folder`; without ``classes`` the
    subfolders are the classes); ``fit``, that model's rule for bringing a picture to its input
    (MNIST's recipe, ``"digit"``, for a digit model's eval; training learns by the picture rule).
    ``training``: the pictures are to train on (one's own drawings:
    at least :data:`DRAWINGS_TO_TRAIN`; else at least one).
    """
    src = source(key)
    if key == "folder":
        if count is not None:          # the first N in class order would leave whole classes out
            raise SourceError("a folder's pictures are used whole (no count): make a folder of fewer pictures")
        got = _load_folder(files, shape, classes, progress, fit)
    elif key in ARCHIVES:
        got = _load_archive(key, files, progress)
    else:
        X, y, what = _load_digits(key, count, seed, files, drawings, progress, training)
        got = Labelled(X, y, src.classes, src.dataset, what)
    if count is not None and count < len(got.X) and key != "generated":
        got = Labelled(got.X[:count], got.y[:count], got.classes, got.dataset, f"the first {count} of {got.what}",
                       got.notes)
    return got


def load_source(key: str, *, count: int | None = None, seed: int = 0, files=None, drawings=None,
                progress=None):
    """``(X, y, description)`` of source ``key`` (:func:`load_labelled`, which also names the classes)."""
    got = load_labelled(key, count=count, seed=seed, files=files, drawings=drawings, progress=progress)
    return got.X, got.y, got.what


def source_files(key: str, *, files=None, drawings=None) -> list[Path]:
    """The files :func:`load_labelled` reads for source ``key`` given the same ``files`` and ``drawings``
    (and, for a downloaded set, every file its download keeps), found without reading a picture or
    downloading anything: the drawings file, the IDX images and labels named, the pictures of a
    folder (listed as :func:`~cnncore.datasets.folder.scan_folder` lists them; none when it cannot be
    listed, which loading it then says), the shared subset's two files, a download's files in the user
    data folder. ``[]`` for generated digits and for files not named yet. A writer given these as its
    inputs (:class:`cnncore.Output`) never replaces them."""
    source(key)                          # an unknown key is a SourceError, as for load_labelled
    if key == "drawings":
        return [Path(drawings)] if drawings is not None else _in_data_folder(DRAWINGS_FILE)
    if key == "folder":
        return _folder_files(files)
    if key == "shared":
        from .paths import SHARED_MNIST_IMAGES, SHARED_MNIST_LABELS
        folder = _shared_dir()
        return [folder / SHARED_MNIST_IMAGES, folder / SHARED_MNIST_LABELS] if folder is not None else []
    named = [Path(p) for p in files or () if p is not None]
    if key in DOWNLOADS:
        return named + _in_data_folder(*(f"{DOWNLOADS[key].folder}/{name}" for name in DOWNLOADS[key].md5))
    if key in ARCHIVES:
        return named + _in_data_folder(f"{ARCHIVES[key].folder}/{ARCHIVES[key].filename}")
    return named                         # "idx": the two files named; "generated": none


def _in_data_folder(*names) -> list[Path]:
    """``names`` in the user data folder (none when there is no such folder: no home folder at all)."""
    from .paths import user_data_dir
    try:
        folder = user_data_dir()
    except (OSError, RuntimeError, KeyError):
        return []
    return [folder / name for name in names]


def _folder_files(folder) -> list[Path]:
    from .folder import FolderError, scan_folder
    if folder is None:
        return []
    try:
        return [path for path, _ in scan_folder(folder).files]
    except FolderError:
        return []


def _load_digits(key, count, seed, files, drawings, progress, training):
    if key == "generated":
        from .generated import generated_digits
        from ..defaults import run_defaults
        n = run_defaults("generated").count if count is None else count
        problem = pictures_problem(n, 28 * 28)         # asked before a digit is drawn
        if problem:
            raise SourceError(f"generated digits: {problem}")
        X, y = generated_digits(n, seed=seed)
        return X, y, f"{n:,} generated digits"
    if key == "drawings":
        from .drawings import DrawingsDataset
        from .paths import user_data_dir
        ds = DrawingsDataset(Path(drawings) if drawings is not None else user_data_dir() / DRAWINGS_FILE)
        _enough_drawings(len(ds), training)
        return ds.images, ds.labels, f"{len(ds)} of your drawings"
    (X, y), what = _load_files(key, files, progress)
    return X, y, what


def _enough_drawings(n: int, training: bool) -> None:
    """A :class:`SourceError` where ``n`` drawings are too few: none for anything, fewer than
    :data:`DRAWINGS_TO_TRAIN` to train on."""
    if n == 0:
        raise SourceError("you have no drawings of your own yet: draw a digit on the Draw tab and add it to My "
                          "digits (Ctrl+D)")
    if training and n < DRAWINGS_TO_TRAIN:
        raise SourceError(f"you have {plural(n, 'drawing')} of your own; a network is trained on at least "
                          f"{DRAWINGS_TO_TRAIN}: add more on the Draw tab")


def numbered(n: int, noun: str = "picture") -> str:
    """How many there are and the numbers an index takes: ``"5 pictures, 0..4"``, ``"1 picture, number 0"``."""
    return f"{plural(n, noun)}, " + ("number 0" if n == 1 else f"0..{n - 1}")


def _load_archive(key: str, files, progress) -> Labelled:
    """The archive's training pictures: from ``files`` (the archive, already fetched), else fetched first."""
    from .. import datasets   # looked up on the package, where tests may stand in for it
    from .cifar import CifarError
    archive = ARCHIVES[key]
    try:
        X, y = (datasets.read_cifar10(files, "train") if files is not None
                else datasets.load_cifar10("train", progress=progress))
    except (OSError, CifarError) as e:
        raise SourceError(f"could not get {archive.title}: {_said(e) if isinstance(e, OSError) else e}") from None
    return Labelled(X, y, archive.classes, archive.title, f"{archive.title} (training set)")


def _load_folder(folder, shape, classes, progress, fit: str) -> Labelled:
    from .folder import FolderError, class_name, load_folder, model_classes
    if folder is None or shape is None:
        raise SourceError("name the folder of pictures and the input they are for")
    try:
        got = load_folder(folder, shape, classes=classes, progress=progress, fit=fit)
        names = model_classes(got.classes)
    except FolderError as e:
        raise SourceError(str(e)) from None
    kinds = len(got.classes) if classes is None else len(set(got.y.tolist()))
    what = f"{len(got.X):,} pictures of {kinds} classes in {folder}"
    return Labelled(got.X, got.y, names, class_name(Path(folder).resolve().name), what, tuple(got.notes()),
                    tuple(got.paths), len(got.skipped))


def held_out_split(X, y, fraction: float):
    """``(X_train, y_train, X_held_out, y_held_out)``: the one held-out rule (see the module doc)."""
    n = len(X)
    n_val = int(round(n * float(fraction)))
    held = np.zeros(n, dtype=bool)
    held[np.random.default_rng(0).permutation(n)[:n_val]] = True
    labels = np.asarray(y)
    for c in np.unique(labels[held]):
        mine = labels == c
        if held[mine].all():
            held[np.flatnonzero(mine)[0]] = False
    return X[~held], y[~held], X[held], y[held]


def _said(e: OSError) -> str:
    """An error of the file system in words ("…/data/mnist: not a directory", not "[Errno 20] Not a
    directory: '…/data/mnist'"); any other (a download's) as it says itself."""
    if getattr(e, "filename", None) and e.strerror:
        return f"{e.filename}: {e.strerror[:1].lower()}{e.strerror[1:]}"
    return str(e)
