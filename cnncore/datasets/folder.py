"""A folder of the user's own pictures, one subfolder per class (:func:`load_folder`).

The folder follows torchvision's ``ImageFolder`` rule: one subfolder per class, classes in the
sorted order of the subfolders' names (hidden ones, whose names start with ".", left out), the
pictures of a class anywhere below its subfolder. Files whose names do not end in a picture
suffix are ignored and counted; pictures that cannot be read are skipped, each named with the
reason. Links are followed within the folder only: a link to a place outside it (a folder someone
shared with a link to ``~/Pictures`` or to ``/``) is skipped and named, so a folder never brings in
pictures from elsewhere on the computer; and a folder is never read twice, so a link that loops is
skipped by name. Each picture is brought to the model's input by :func:`cnncore.datasets.pictures.read_picture`.
Everything is listed and checked (the classes, the counts, the memory the pictures will take)
before the first picture is read, so a folder that cannot be used fails before any work.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .._safeio import why_unreadable
from ..architecture import NUM_CLASSES, UNUSED_CLASS
from ..limits import MAX_CLASS_NAME, MAX_FOLDER_DEPTH, MAX_FOLDER_ENTRIES, MAX_FOLDER_PICTURES, pictures_problem
from .pictures import OTHER_PICTURE_SUFFIXES, PICTURE_SUFFIXES, PictureError, check_shape, read_picture, save_as

__all__ = ["FolderError", "FolderScan", "scan_folder", "check_trainable", "FolderPictures", "load_folder",
           "picture_at", "model_classes", "class_name", "UNUSED_CLASS"]

Progress = Callable[[int, int, str], None]


class FolderError(ValueError):
    """A folder cannot give labelled pictures (no class subfolders, one class, ...); the text says why."""


@dataclass
class FolderScan:
    """A folder listed: ``classes`` (the sorted subfolder names, as class names), ``files`` (every
    picture's path and class index, class by class, each class's in sorted order), the files
    ``ignored`` because their names are not pictures', and ``skipped`` (path, reason) for what was
    not read at all (a link back to a folder already read or out of the folder, a folder nested too
    deep)."""
    root: Path
    folders: list
    classes: tuple
    files: list = field(default_factory=list)
    ignored: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    #: Pictures lying beside the class folders: of no class, left out.
    loose: list = field(default_factory=list)

    def counts(self) -> list[int]:
        n = [0] * len(self.classes)
        for _, label in self.files:
            n[label] += 1
        return n


def class_name(folder: str) -> str:
    """A folder's name as a class name: printable, at most MAX_CLASS_NAME characters."""
    text = "".join(c if c.isprintable() else "?" for c in folder).strip() or "?"
    return text if len(text) <= MAX_CLASS_NAME else text[:MAX_CLASS_NAME - 1] + "…"


def _is_picture(name: str) -> bool:
    return name.lower().endswith(PICTURE_SUFFIXES)


def scan_folder(root) -> FolderScan:
    """List a folder of pictures (see the module text) without opening a picture. Raises
    :class:`FolderError` when ``root`` is not a folder, has no class subfolders, or holds more
    than :data:`~cnncore.limits.MAX_FOLDER_PICTURES` pictures (or ``MAX_FOLDER_ENTRIES`` entries)."""
    root = Path(root)
    try:
        info = os.stat(root)
    except FileNotFoundError:
        raise FolderError(f"{root}: no such folder") from None
    except OSError as e:
        raise FolderError(f"{root}: {why_unreadable(e)}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise FolderError(f"{root}: not a folder; give a folder with one subfolder of pictures per class")
    entries = _entries(root)
    inside = _Inside(root)
    folders = sorted(e.name for e in entries if not e.name.startswith(".") and _is_dir(e) and inside(e))
    if not folders:
        away = [e.name for e in entries if not e.name.startswith(".") and _is_dir(e) and not inside(e)]
        if away:
            raise FolderError(f"{root}: its class folders ({', '.join(sorted(away)[:3])}"
                              f"{', …' if len(away) > 3 else ''}) are links to places outside it, which are never "
                              "read; copy the pictures into the folder instead")
        loose = sum(1 for e in entries if _is_picture(e.name))
        hint = f" (its {loose:,} pictures lie loose in it)" if loose else ""
        raise FolderError(f"{root}: no subfolders{hint}; put each class's pictures in a subfolder named after it, "
                          "e.g. cat/ and dog/")
    if len(folders) > NUM_CLASSES:          # (before the walk: a folder such as / has thousands below it)
        raise FolderError(f"{root}: {len(folders)} class folders; a network here has {NUM_CLASSES} outputs, so "
                          f"at most {NUM_CLASSES} classes")
    scan = FolderScan(root, folders, tuple(class_name(f) for f in folders))
    _check_distinct(root, folders, scan.classes)
    scan.skipped.extend((root / e.name, inside.why) for e in entries
                        if not e.name.startswith(".") and e.is_symlink() and not inside(e))
    scan.loose.extend(sorted(root / e.name for e in entries
                             if not e.name.startswith(".") and _is_picture(e.name) and not _is_dir(e) and inside(e)))
    seen, budget = {(info.st_dev, info.st_ino)}, [MAX_FOLDER_ENTRIES]
    for label, name in enumerate(folders):
        found: list = []
        _walk(root / name, 0, seen, found, scan, budget, inside)
        scan.files.extend((p, label) for p in sorted(found))
        if len(scan.files) > MAX_FOLDER_PICTURES:
            raise FolderError(f"{root}: more than {MAX_FOLDER_PICTURES:,} pictures; use a folder of fewer")
    return scan


def _check_distinct(root: Path, folders: list, classes: tuple) -> None:
    """FolderError when two class folders give the same class name (shortened or made printable),
    or one is named as the outputs no class uses (:data:`UNUSED_CLASS`)."""
    first: dict = {}
    for folder, name in zip(folders, classes):
        if name == UNUSED_CLASS:
            raise FolderError(f"{root}: {UNUSED_CLASS} names a network's outputs that no class uses, not a class; "
                              f"rename the class folder {folder!r}")
        if name in first:
            raise FolderError(f"{root}: the class folders {first[name]!r} and {folder!r} give the same class name "
                              f"{name!r} (at most {MAX_CLASS_NAME} printable characters); rename one")
        first[name] = folder


def _entries(folder: Path) -> list:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError as e:
        raise FolderError(f"{folder}: {why_unreadable(e)}") from None


def _is_dir(entry) -> bool:
    try:
        return entry.is_dir()            # follows links
    except OSError:
        return False


class _Inside:
    """Whether an entry of the folder stays inside it: not a link, or a link whose target (followed to
    the end) lies within the folder."""
    why = "a link to a place outside the folder (copy those pictures in instead)"

    def __init__(self, root: Path):
        self.root = os.path.realpath(root)

    def __call__(self, entry) -> bool:
        # (on Windows a junction, the link a user makes without being an administrator, is no symlink
        # to is_symlink(): a folder's own path is followed to the end there)
        if not entry.is_symlink() and not (os.name == "nt" and _is_dir(entry)):
            return True
        target = os.path.realpath(entry.path)
        return target == self.root or target.startswith(self.root.rstrip(os.sep) + os.sep)


def _walk(folder: Path, depth: int, seen: set, found: list, scan: FolderScan, budget: list, inside: _Inside) -> None:
    """Add the pictures under ``folder`` to ``found`` (links within the folder followed, each folder once)."""
    try:
        info = os.stat(folder)
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError as e:
        scan.skipped.append((folder, why_unreadable(e)))
        return
    key = (info.st_dev, info.st_ino)
    if key in seen:
        scan.skipped.append((folder, "a link back to a folder already read"))
        return
    seen.add(key)
    budget[0] -= len(entries)
    if budget[0] < 0:
        raise FolderError(f"{scan.root}: more than {MAX_FOLDER_ENTRIES:,} files and folders; use a smaller folder")
    for e in sorted(entries, key=lambda e: e.name):
        path = folder / e.name
        if e.name.startswith("."):
            continue
        if not inside(e):
            scan.skipped.append((path, inside.why))
        elif _is_dir(e):
            if depth + 1 > MAX_FOLDER_DEPTH:
                scan.skipped.append((path, f"nested more than {MAX_FOLDER_DEPTH} folders deep"))
            else:
                _walk(path, depth + 1, seen, found, scan, budget, inside)
        elif _is_picture(e.name):
            found.append(path)
        else:
            scan.ignored.append(path)


@dataclass
class FolderPictures:
    """The pictures of a folder at a model's input size: ``X`` uint8 ``(N, C, H, W)``, ``y`` uint8
    ``(N,)`` (indices into ``classes``), ``paths`` (each picture's file), and the scan's notes:
    ``skipped`` (path, reason) for every picture not read, ``ignored`` the files that are not pictures,
    ``folders_skipped`` (path, reason) for the folders not read (a link back to one already read) and
    the links out of the folder."""
    X: np.ndarray
    y: np.ndarray
    classes: tuple
    paths: list
    skipped: list
    ignored: list
    folders_skipped: list = field(default_factory=list)
    #: Pictures beside the class folders (of no class: left out).
    loose: list = field(default_factory=list)

    def notes(self, shown: int = 3) -> list[str]:
        """One line each for the skipped pictures (the first few named), the ignored files and the
        folders not read."""
        lines = []
        if self.skipped:
            names = "; ".join(f"{p}: {why}" for p, why in self.skipped[:shown])
            more = f" (and {len(self.skipped) - shown:,} more)" if len(self.skipped) > shown else ""
            lines.append(f"skipped {len(self.skipped):,} picture{'s' if len(self.skipped) != 1 else ''} "
                         f"that could not be read: {names}{more}")
        if self.ignored:
            names = ", ".join(str(p) for p in self.ignored[:shown])
            more = f" and {len(self.ignored) - shown:,} more" if len(self.ignored) > shown else ""
            one = len(self.ignored) == 1
            what = "file that is not a PNG, JPEG, BMP or WebP picture" if one else \
                "files that are not PNG, JPEG, BMP or WebP pictures"
            others = sum(str(p).lower().endswith(OTHER_PICTURE_SUFFIXES) for p in self.ignored)
            kind = "it is a picture" if one else f"{others:,} of them are pictures"
            hint = f"; {kind} of another kind: {save_as(others > 1)}" if others else ""
            lines.append(f"ignored {len(self.ignored):,} {what}: {names}{more}{hint}")
        if self.folders_skipped:
            n = len(self.folders_skipped)
            links = sum(why == _Inside.why for _, why in self.folders_skipped)
            what = " and ".join(f"{k:,} {word}{'s' if k != 1 else ''}"
                                for k, word in ((n - links, "folder"), (links, "link")) if k)
            names = "; ".join(f"{p}: {why}" for p, why in self.folders_skipped[:shown])
            more = f" (and {n - shown:,} more)" if n > shown else ""
            lines.append(f"did not read {what}: {names}{more}")
        if self.loose:
            n = len(self.loose)
            names = ", ".join(str(p) for p in self.loose[:shown]) + (f" and {n - shown:,} more" if n > shown else "")
            lines.append(f"left out {n:,} picture{'s' if n != 1 else ''} lying beside the class folders (a "
                         f"picture's class is the folder it is in): {names}")
        return lines


def model_classes(classes) -> tuple[str, ...]:
    """A folder's class names as a network's ``NUM_CLASSES`` outputs (the rest named ``(unused)``)."""
    classes = tuple(classes)
    if len(classes) > NUM_CLASSES:
        raise FolderError(f"{len(classes)} classes; a network here has {NUM_CLASSES} outputs, so at most "
                          f"{NUM_CLASSES} classes")
    return classes + (UNUSED_CLASS,) * (NUM_CLASSES - len(classes))


def check_trainable(scan: FolderScan) -> None:
    """Raise :class:`FolderError` unless a network can learn from the folder's classes: at least two,
    at most :data:`NUM_CLASSES`, each with a picture (checked when the folder is chosen to train on,
    and again when it is read)."""
    if len(scan.classes) < 2:
        raise FolderError(f"{scan.root}: only one class ({scan.classes[0]}); a network learns to tell at least "
                          "two apart: add a subfolder for each other class")
    if len(scan.classes) > NUM_CLASSES:
        raise FolderError(f"{scan.root}: {len(scan.classes)} class folders; a network here has {NUM_CLASSES} "
                          f"outputs, so at most {NUM_CLASSES} classes")
    empty = [f for f, n in zip(scan.folders, scan.counts()) if n == 0]
    if empty:
        raise FolderError(f"{scan.root}: the class folder {empty[0]} holds no pictures; add some or remove it")


def _labels_for(scan: FolderScan, classes) -> list:
    """Each subfolder's label: its index in ``classes`` (a model's), or its own order (training)."""
    if classes is None:
        check_trainable(scan)
        return list(range(len(scan.classes)))
    known = {c: i for i, c in enumerate(classes)}
    missing = [c for c in scan.classes if c not in known]
    if missing:
        raise FolderError(f"{scan.root}: the model has no class {missing[0]!r} (its classes: "
                          f"{', '.join(c for c in classes if c != UNUSED_CLASS)})")
    return [known[c] for c in scan.classes]


def load_folder(root, shape, *, classes=None, progress: Progress | None = None, fit: str = "picture") -> FolderPictures:
    """Every picture of a folder at input ``shape (C, H, W)``, fitted by the rule ``fit`` (a model's:
    :func:`read_picture`; training on a folder uses the picture rule).

    ``classes``: a model's class names; each subfolder must then be named as one of them (its
    pictures get that class's index; empty subfolders are fine). Without, the subfolders are the
    classes, in sorted order: there must be 2 to ``NUM_CLASSES`` of them, none empty.
    ``progress(done, total, "pictures")`` is called as pictures are read (on as many threads as
    the kernels use: Pillow decodes without holding Python's lock). Raises :class:`FolderError`
    for a folder that cannot give labelled pictures (naming why), including one whose every
    picture (or every picture of a class, when training) was skipped; a picture that cannot be
    read is skipped and noted.
    """
    C, H, W = check_shape(shape)
    scan = scan_folder(root)
    labels = _labels_for(scan, classes)
    problem = pictures_problem(len(scan.files), C * H * W)      # asked before a picture is read
    if problem:
        raise FolderError(f"{scan.root}: {problem}")
    X, y, paths, skipped = _read_all(scan, (C, H, W), fit, labels, progress)
    if not paths:
        every = scan.skipped + skipped
        why = f" ({len(every):,} could not be read, e.g. {every[0][0]}: {every[0][1]})" if every else ""
        raise FolderError(f"{scan.root}: no picture could be read{why}")
    if classes is None:                 # training: every class must keep pictures to learn from
        lost = [f for label, f in enumerate(scan.folders) if not np.any(y == label)]
        if lost:
            first = next((f"{p}: {why}" for p, why in scan.skipped + skipped
                          if Path(p).is_relative_to(scan.root / lost[0])), "")
            raise FolderError(f"{scan.root}: no picture of the class folder {lost[0]} could be read ({first})")
    names = scan.classes if classes is None else tuple(classes)
    return FolderPictures(X, y, names, paths, skipped, scan.ignored, scan.skipped, scan.loose)


def _read_all(scan: FolderScan, shape, fit: str, labels: list, progress):
    """``(X uint8 (n, C, H, W), y uint8 (n,), paths, skipped)`` of the pictures that could be read, in
    the scan's order, and (path, reason) for the others."""
    from concurrent.futures import ThreadPoolExecutor

    from .. import get_num_threads

    def read(path):
        try:
            return read_picture(path, shape, fit)
        except PictureError as e:
            return str(e).removeprefix(f"{path}: ")
    n = len(scan.files)
    X = np.empty((n,) + tuple(shape), dtype=np.uint8)
    y = np.empty(n, dtype=np.uint8)
    ok, paths, skipped = 0, [], []
    with ThreadPoolExecutor(max_workers=max(1, get_num_threads())) as pool:
        for k, ((path, label), got) in enumerate(zip(scan.files, pool.map(read, [p for p, _ in scan.files],
                                                                          chunksize=64))):
            if isinstance(got, str):
                skipped.append((path, got))
            else:
                X[ok], y[ok] = got, labels[label]
                paths.append(path)
                ok += 1
            if progress is not None and (k % 256 == 255 or k == n - 1):
                progress(k + 1, n, "pictures")
    if ok < n:
        X, y = X[:ok].copy(), y[:ok].copy()
    return X, y, paths, skipped


def picture_at(root, index: int, shape, classes, fit: str = "picture") -> tuple[np.ndarray, int, Path]:
    """Picture ``index`` of a folder (class by class, each class's files in sorted order, as
    :func:`load_folder` reads them) at input ``shape`` by the model's rule ``fit``: ``(uint8 (C, H, W),
    its class's index in the model's ``classes``, its path)``. Only that picture is read. Raises :class:`FolderError`
    for an index past the folder's pictures and :class:`~cnncore.datasets.pictures.PictureError`
    when that picture cannot be read."""
    scan = scan_folder(root)
    labels = _labels_for(scan, classes)
    if not 0 <= index < len(scan.files):
        from .sources import numbered
        raise FolderError(f"{scan.root}: --index {index} is out of range (it has "
                          f"{numbered(len(scan.files), 'picture file')})")
    path, label = scan.files[index]
    return read_picture(path, shape, fit), labels[label], path
