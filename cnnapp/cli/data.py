"""Where a command's pictures come from: the data sources' arguments, the labelled pictures they give,
one picture of them, or one picture file.

``--data SOURCE`` (the sources of :mod:`cnncore.datasets.sources`, the app's too), ``--images`` and
``--labels`` (IDX files) or ``--folder DIR`` (one subfolder per class, :mod:`cnncore.datasets.folder`);
at most one of them. A picture file (PNG, JPEG, BMP, WebP) is brought to the model's own input
(:mod:`cnncore.signature`). Everything that reads is in :mod:`cnncore.datasets`; here the user's
arguments become its calls, and its errors one :class:`~cnnapp.cli.args.CliError` line.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .args import CliError, fraction, nonneg_int, positive_int

if TYPE_CHECKING:
    import numpy as np

__all__ = ["data_arguments", "seed_alias", "holdout_argument", "holdout", "source_key", "one_source", "data", "reads",
           "archive", "as_input", "one_picture", "picture", "fitted_picture", "read_png", "load_pair"]


# ----------------------------------------------------------------------------- arguments

def data_arguments(p, default: str | None = None, folder: bool = True) -> None:
    """``--images/--labels``, ``--data`` (the sources of cnncore.datasets this installation has) or,
    with ``folder``, ``--folder`` (a folder of pictures)."""
    from cnncore.datasets import available_sources
    from cnncore.defaults import run_defaults, uses_whole

    offered = [s for s in available_sources() if not s.files]
    whole = [s.key for s in offered if uses_whole(s.key)]
    p.add_argument("--images", metavar="F", help="IDX images file (.gz or raw)")
    p.add_argument("--labels", metavar="F", help="IDX labels file (.gz or raw)")
    p.add_argument("--data", choices=[s.key for s in offered],
                   help="; ".join(f"{s.key}: {s.help}" for s in offered) + (f" (default {default})" if default else ""))
    if folder:
        p.add_argument("--folder", metavar="DIR",
                       help="a folder of your own pictures (PNG, JPEG, BMP, WebP), one subfolder per class, classes in "
                            "the sorted order of the subfolders' names; each picture is brought to the model's input "
                            "by scaling its shorter side to fit and cutting out the centre, unreadable ones are "
                            "skipped and named")
    if any(s.key == "cifar10" for s in offered):
        p.add_argument("--archive", metavar="FILE",
                       help="with --data cifar10: a copy of CIFAR-10's archive (cifar-10-binary.tar.gz) on this "
                            "computer, checked against its published md5 sum and kept where the download is kept "
                            "(nothing is downloaded)")
    d = run_defaults("generated")
    p.add_argument("--count", type=positive_int, default=None,
                   help=f"generated: how many (default {d.count}, the app's); other sources and --images/--labels: "
                        f"the first this many (default {d.count}; {', '.join(whole + ['the files you name'])}: all "
                        "of them); a --folder is always used whole")
    p.add_argument("--data-seed", type=nonneg_int, default=d.data_seed, metavar="N",
                   help=f"the generated digits' seed (default {d.data_seed}: the digits the app trains on)")


def seed_alias(p) -> None:
    """``--seed``: the generated digits' seed, as ``--data-seed`` (kept for older scripts)."""
    p.add_argument("--seed", type=nonneg_int, dest="data_seed", default=argparse.SUPPRESS,
                   help="the same as --data-seed")


def holdout_argument(p, text: str) -> None:
    from cnncore.defaults import differences
    p.add_argument("--holdout", type=fraction, default=None,
                   help=f"{text} (default {differences('holdout')}, the app's; a fixed shuffle picks "
                        "them, the app uses the same rule)")


def holdout(args) -> float:
    """``--holdout``, or the default of the data source (the app's)."""
    from cnncore.defaults import run_defaults
    return args.holdout if args.holdout is not None else run_defaults(source_key(args)).holdout


def source_key(args) -> str:
    """The data source named on the command line: a key of cnncore.datasets.SOURCES ("idx" for files
    the user names, "generated" when none is named)."""
    if getattr(args, "folder", None) is not None:
        return "folder"
    return "idx" if args.images is not None else args.data or "generated"


def one_source(args, command: str) -> None:
    """At most one of --images/--labels (both), --data and --folder."""
    given = [f for f, v in (("--images/--labels", args.images), ("--data", args.data), ("--folder", args.folder))
             if v is not None]
    if (args.images is None) != (args.labels is None):
        raise CliError(f"{command}: --images and --labels go together")
    if len(given) > 1:
        raise CliError(f"{command}: give one of {' or '.join(given)}, not both")
    if getattr(args, "archive", None) is not None and args.data != "cifar10":
        raise CliError(f"{command}: --archive goes with --data cifar10")


# ----------------------------------------------------------------------------- labelled pictures

def load_pair(images: str, labels: str):
    """``(X uint8 (N, 28, 28), y uint8 (N,))`` of two IDX files."""
    from cnncore.datasets import load_idx_pair

    for name, p in (("--images", images), ("--labels", labels)):
        if not Path(p).is_file():
            raise CliError(f"{name} {p}: no such file")
    try:
        return load_idx_pair(images, labels)
    except (ValueError, OSError) as e:
        raise CliError(str(e)) from None


def data(args, command: str, net):
    """The labelled pictures (:class:`cnncore.datasets.Labelled`) of ``--images/--labels``, ``--data``
    or ``--folder`` (the sources of :mod:`cnncore.datasets.sources`, the same the app offers). A
    folder's pictures are brought to ``net``'s input; outside training, its subfolders must be named
    as ``net``'s classes. Notes on a folder's skipped or ignored files are printed."""
    from cnncore.architecture import DIGIT_CLASSES
    from cnncore.datasets import Labelled, SourceError, load_labelled
    from cnncore.defaults import run_defaults

    one_source(args, command)
    if args.images is None and args.data is None and args.folder is None and command != "train":
        raise CliError(f"{command}: give --images and --labels, --data or --folder")
    key = source_key(args)
    reads(key, net, command)
    if args.images is not None:
        X, y = load_pair(args.images, args.labels)
        what = args.images
        if args.count is not None and args.count < len(X):          # (it was left unsaid that it was ignored)
            X, y, what = X[:args.count], y[:args.count], f"the first {args.count:,} of {args.images}"
        return Labelled(X, y, DIGIT_CLASSES if command == "train" else net.classes, "", what)
    count = args.count if args.count is not None else run_defaults(key).count
    progress = _Progress(key, sys.stderr.isatty() and not getattr(args, "quiet", False))
    try:
        archive(args, command, progress)
        got = load_labelled(key, count=count, seed=args.data_seed, progress=progress, files=args.folder,
                            shape=net.input_shape, classes=None if command == "train" else net.classes,
                            training=command == "train", fit="picture" if command == "train" else net.signature.fit)
    except SourceError as e:
        raise CliError(f"{command}: {e}") from None
    finally:
        progress.done()
    for note in got.notes:
        print(f"note: {note}", flush=True)
    return got


def reads(key: str, net, command: str) -> None:
    """A :class:`CliError` where ``net`` cannot read source ``key``'s pictures (their channels or size,
    :func:`cnncore.datasets.sources.input_problem`), before anything is read or downloaded."""
    from cnncore.datasets.sources import input_problem
    from cnncore.defaults import default_preset

    problem = input_problem(key, net.input_shape, "this network" if command == "train" else "the model")
    if problem:
        raise CliError(f"{command}: {problem}" + (f": use --arch {default_preset(key)}" if command == "train" else ""))


def archive(args, command: str, progress=None) -> None:
    """``--archive``: CIFAR-10's archive from a copy on this computer, kept where its download would be."""
    if getattr(args, "archive", None) is not None:
        _install_archive(args.archive, command, progress)


def _install_archive(path: str, command: str, progress) -> None:
    """CIFAR-10's archive from ``path`` (``--archive``), kept where its download would be."""
    from cnncore.datasets import CifarError, install_cifar10
    from cnncore.datasets.cifar import CIFAR10

    try:
        install_cifar10(path, progress=progress)
    except CifarError as e:
        raise CliError(f"{command}: --archive {e}") from None
    except OSError as e:
        said = f"{path}: {e.strerror}" if e.strerror else str(e)
        raise CliError(f"{command}: --archive {said}") from None
    print(f"using the copy of {CIFAR10.title} in {path} (checked; kept in the data folder)", flush=True)


class _Progress:
    """A download's or a folder's progress, one line on a terminal redrawn in place."""

    def __init__(self, key: str, tty: bool):
        from cnncore.datasets import DOWNLOADS
        self.tty = tty
        self.shown = tty and (key in DOWNLOADS or key in ("cifar10", "folder"))

    def __call__(self, done, total, name) -> None:
        if self.tty:
            size = (f"{done:,}/{total:,}" if name == "pictures" else
                    f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB")
            print(f"\r\033[Kgetting {name}: {size}", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.shown:
            print("\r\033[K", end="", file=sys.stderr)


def as_input(data, net, command: str):
    """The pictures of ``data`` as ``(N, C, H, W)`` (uint8 or floats), after checking that they are
    what ``net`` takes."""
    X = data.X if data.X.ndim == 4 else data.X[:, None]
    if X.shape[1:] != net.input_shape:
        C, H, W = X.shape[1:]
        hint = " (--arch cifar takes colour pictures of 32×32)" if C == 3 and command == "train" else ""
        raise CliError(f"{command}: {data.what} are {C}×{H}×{W} pictures, the model takes "
                       f"{net.signature.words()}{hint}")
    return X


# ----------------------------------------------------------------------------- one picture

def one_picture(args, net, command: str):
    """``(x float32 (C, H, W) in [0, 1], label, where)``: picture ``--index`` of ``--folder``, ``--data``
    or ``--images/--labels``, as ``net`` takes it; without ``--index`` the one the app traces first
    (one the model gets wrong or is least sure of, :func:`cnncore.defaults.trace_example`)."""
    import numpy as np

    one_source(args, command)
    if args.folder is not None and args.index is not None:       # only that picture is read
        from cnncore.datasets.folder import FolderError, picture_at
        try:
            x, label, path = picture_at(args.folder, args.index, net.input_shape, net.classes, net.signature.fit)
        except (FolderError, ValueError) as e:
            raise CliError(f"{command}: {e}") from None
        return x.astype(np.float32) / np.float32(255), label, str(path)
    got = data(args, command, net)
    X = as_input(got, net, command)
    if args.index is not None and not 0 <= args.index < len(X):
        from cnncore.datasets.sources import numbered
        from cnncore.plurals import agrees
        raise CliError(f"{command}: --index {args.index} is out of range (there {agrees(len(X), 'is', 'are')} "
                       f"{numbered(len(X), 'image')})")
    if args.index is None:
        from cnncore.defaults import trace_example
        args.index = trace_example(net, X, got.y)
    x = X[args.index]
    x = x.astype(np.float32) / np.float32(255) if x.dtype == np.uint8 else x.astype(np.float32)
    label = int(got.y[args.index])
    if got.paths:               # a folder: the picture by its file, numbered as --index numbers them
        args.index, path = _file_number(args.folder, got.paths[args.index])
        return x, label, f"picture {args.index} of the folder ({path})"
    return x, label, f"image {args.index}"


def _file_number(folder, path) -> tuple[int, str]:
    """``path``'s number among the folder's picture files (as ``--index`` counts them, files that
    cannot be read included) and its name from the folder on."""
    from pathlib import Path

    from cnncore.datasets.folder import scan_folder

    scan = scan_folder(folder)
    k = next(i for i, (p, _) in enumerate(scan.files) if Path(p) == Path(path))
    return k, Path(path).relative_to(scan.root).as_posix()


def picture(path: str, net, command: str):
    """A picture file (PNG, JPEG, BMP or WebP) as ``net``'s input ``(C, H, W)``, by the model's own rule
    (:func:`cnncore.datasets.pictures.picture_input`); a :class:`CliError` for one that cannot be used
    (one a digit model finds blank among them)."""
    return fitted_picture(path, net, command)[0]


def fitted_picture(path: str, net, command: str):
    """:func:`picture`, and how it was brought to the input (:class:`cnncore.datasets.pictures.Fitting`)."""
    from cnncore.datasets.pictures import PictureError, fitted_input

    try:
        return fitted_input(path, net.signature)
    except PictureError as e:
        raise CliError(f"{command}: {e}") from None


def read_png(path) -> "np.ndarray":
    """Grey levels in [0, 1], shape ``(H, W)`` (:func:`cnncore.datasets.png.read_png`);
    a bad or oversized file is a :class:`CliError`."""
    from cnncore.datasets.png import PNGError, read_png as read

    try:
        return read(path)
    except PNGError as e:
        raise CliError(str(e)) from None
