"""CIFAR-10: 60,000 colour pictures of 32×32 pixels in ten classes, from its authors' binary archive.

:func:`fetch_cifar10` downloads ``cifar-10-binary.tar.gz`` (162 MB, :data:`CIFAR10`) once into
``user_data_dir() / "cifar-10"``, showing progress, and checks it against the published md5 sum.
The download is resumable: the bytes arrive in ``cifar-10-binary.tar.gz.part`` beside the final
name, and a later call that finds that file asks the server for the rest only (an HTTP ``Range``
request; a server that ignores it sends the whole file again, which is then written from the
start). Only a complete file with the right checksum is moved to the final name, so a half
file is never read as the archive.

:func:`install_cifar10` keeps a copy of the archive found on this computer instead (the same checks, no
network).

:func:`read_cifar10` reads the pictures straight out of the archive, never extracting anything
to disk: it reads only the members it expects (``cifar-10-batches-bin/data_batch_1.bin`` … ``5``,
``test_batch.bin``), each a regular file of exactly 10,000 records, and refuses any other shape.
Each record is 3,073 bytes: the label (0–9), then 1,024 red, 1,024 green and 1,024 blue values,
each plane row by row (:func:`parse_records`).

CIFAR-10: Alex Krizhevsky, Vinod Nair and Geoffrey Hinton; "Learning Multiple Layers of Features
from Tiny Images", Alex Krizhevsky, 2009.
"""
from __future__ import annotations

import contextlib
import http.client
import itertools
import os
import stat
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._safeio import UnreadableFile, open_regular, why_unreadable
from .mnist import _CHUNK, _USER_AGENT, FetchError, Progress, _md5_of, _new_md5, stream_body
from .paths import user_data_dir

__all__ = ["CIFAR10", "Archive", "fetch_cifar10", "install_cifar10", "read_cifar10", "load_cifar10", "parse_records",
           "CifarError", "RECORD_BYTES"]

#: Bytes of one record: a label byte and 3 planes of 32×32.
RECORD_BYTES = 1 + 3 * 32 * 32
_BATCH_RECORDS = 10_000
_MEMBER_LIMIT = 64          # entries looked at in the archive (it has 8)


@dataclass(frozen=True)
class Archive:
    """One downloadable archive of pictures: where it is, its checksum and what it holds."""
    key: str                        # its source key
    title: str                      # "CIFAR-10"
    folder: str                     # where it is kept, under user_data_dir()
    filename: str
    urls: tuple[str, ...]           # tried in order
    md5: str
    size: int                       # bytes, as published
    members: dict                   # split -> member names inside the archive
    classes: tuple[str, ...]
    credit: str
    shape: tuple = (3, 32, 32)      # each picture's (C, H, W)


CIFAR10 = Archive(
    "cifar10", "CIFAR-10", "cifar-10", "cifar-10-binary.tar.gz",
    ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
    "c32a1d4ab5d03f1284b67883e8d87530", 170_052_171,
    {"train": tuple(f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)),
     "test": ("cifar-10-batches-bin/test_batch.bin",)},
    ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    "Alex Krizhevsky, Vinod Nair and Geoffrey Hinton (Learning Multiple Layers of Features from Tiny Images, 2009)")


class CifarError(ValueError):
    """The archive (or a records file) is damaged or not CIFAR-10's; the message says what is wrong."""


# ----------------------------------------------------------------------------- download

def fetch_cifar10(cache_dir=None, progress: Progress | None = None, urls=None, *, md5: str | None = None,
                  timeout: float = 30.0) -> Path:
    """The path of the checked archive, downloaded (or its download resumed) when not cached yet.

    ``cache_dir``: the folder (default ``user_data_dir() / "cifar-10"``; created). ``progress`` is
    called as ``progress(done_bytes, total_bytes, file_name)`` (``total_bytes`` 0 when the server
    does not say), and once as ``progress(size, size, file_name)`` for an archive already cached;
    an exception it raises stops the download, keeping what arrived for the next call to resume.
    ``urls`` (default the authors' page) are tried in order; ``md5`` defaults to the published sum.
    Raises :class:`~cnncore.datasets.FetchError` naming each URL's failure.
    """
    a = CIFAR10
    target, md5, kept = _kept_archive(_archive_folder(cache_dir), md5, progress)
    if kept:
        return target
    part = target.with_name(a.filename + ".part")
    failures = []
    for url in tuple(a.urls if urls is None else urls):
        try:
            _resume(url, part, md5, a.filename, progress, timeout)
        except _WrongSum as e:
            failures.append(f"{url}: wrong checksum ({e}); the download will start again from the beginning")
        except urllib.error.HTTPError as e:
            failures.append(f"{url}: HTTP {e.code} {e.reason}")
        except urllib.error.URLError as e:
            failures.append(f"{url}: {e.reason}")
        except (OSError, ValueError, http.client.HTTPException) as e:
            failures.append(f"{url}: {type(e).__name__}: {e}")
        else:
            os.replace(part, target)
            return target
    kept = _size(part)
    resume = f" ({kept / 1e6:.1f} MB kept; the next try resumes from there)" if kept else ""
    raise FetchError(f"could not download {a.filename}{resume} (is the computer online?): " + "; ".join(failures))


def install_cifar10(path, cache_dir=None, progress: Progress | None = None, *, md5: str | None = None) -> Path:
    """Keep a copy of CIFAR-10's archive found on this computer (a download made elsewhere, a
    teacher's USB stick) where :func:`fetch_cifar10` keeps its download, so that no download is
    needed: the path of the kept archive. It is read as a download is (with ``progress``), from a
    ``file:`` URL, into a file of its own beside the target (a download's ``.part`` is left as it
    is), and kept only when its md5 is the published sum (``md5``, for tests; the published size is
    checked first, so that no other large file is copied). The file given is always checked, even
    where a kept archive is there already. :class:`CifarError` (one line) for a file that is not that
    archive; ``OSError`` for one that cannot be read. Nothing is left behind by a refusal."""
    a = CIFAR10
    source = Path(path)
    try:
        with open_regular(source) as f:      # never a folder, a FIFO or a device
            size = os.fstat(f.fileno()).st_size
    except UnreadableFile as e:
        raise CifarError(f"{source}: {e}") from None
    if md5 is None and size != a.size:
        raise CifarError(f"{source} is not {a.title}'s binary archive ({a.filename}): it holds {size:,} bytes, "
                         f"the archive {a.size:,}")
    folder = _archive_folder(cache_dir)
    made = list(itertools.takewhile(lambda d: not d.exists(), (folder, *folder.absolute().parents)))
    target, md5, kept = _kept_archive(folder, md5, None)
    if kept and _same(source, target):
        return _whole(target, progress)
    copy = target.with_name(a.filename + ".copy")
    try:
        _resume(source.resolve().as_uri(), copy, md5, a.filename, progress, 30.0)
        os.replace(copy, target)
    except _WrongSum as e:
        raise CifarError(f"{source} is not {a.title}'s binary archive ({a.filename}): {e}") from None
    except urllib.error.URLError as e:
        raise OSError(f"{source}: {e.reason}") from None
    finally:
        copy.unlink(missing_ok=True)
        if not target.exists():
            with contextlib.suppress(OSError):
                for d in made:               # the folders made for it, deepest first (only empty ones go)
                    d.rmdir()
    return target


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _whole(target: Path, progress: Progress | None) -> Path:
    """``target``, with ``progress`` told once that it is whole."""
    if progress is not None:
        size = target.stat().st_size
        progress(size, size, target.name)
    return target


def _archive_folder(cache_dir) -> Path:
    """The folder the archive is kept in: ``cache_dir``, or the data folder's ``cifar-10``."""
    return Path(cache_dir) if cache_dir is not None else user_data_dir() / CIFAR10.folder


def _kept_archive(folder: Path, md5: str | None, progress: Progress | None) -> tuple[Path, str, bool]:
    """``(target, md5, kept)``: where the archive is kept in ``folder`` (made), the sum it must have,
    and whether it is there with that sum (then ``progress`` hears once that it is whole)."""
    a = CIFAR10
    folder.mkdir(parents=True, exist_ok=True)
    md5 = (md5 or a.md5).lower()
    target = folder / a.filename
    kept = target.is_file() and _md5_of(target) == md5
    if kept:
        _whole(target, progress)
    return target, md5, kept


class _WrongSum(Exception):
    pass


def _size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0


def _resume(url: str, part: Path, md5: str, name: str, progress: Progress | None, timeout: float) -> None:
    """Bring ``part`` to the whole file from ``url`` (asking for the missing bytes only), check it."""
    have = _size(part)
    headers = {"User-Agent": _USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code != 416 or not have:          # 416: what we have does not fit what is served
            raise
        part.unlink()
        return _resume(url, part, md5, name, progress, timeout)
    with response:
        start = 0
        if response.status == 206:              # the rest, as asked; anything else starts over
            if _range_start(response) != have:
                raise OSError(f"the server sent another range than the bytes {have:,} on that were asked for")
            start = have
        length = response.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else 0
        h = _new_md5()
        with _open_part(part, start) as f:
            if start:
                _hash_existing(f, h, start)
            _stream(response, f, h, start, total, name, progress)
    if h.hexdigest() != md5:
        part.unlink()
        raise _WrongSum(f"md5 {h.hexdigest()}, expected {md5}")


def _range_start(response) -> int | None:
    """The first byte a 206 response carries (``Content-Range: bytes S-E/T``), or None."""
    text = response.headers.get("Content-Range", "")
    try:
        unit, rest = text.split(" ", 1)
        return int(rest.split("-", 1)[0]) if unit == "bytes" else None
    except ValueError:
        return None


def _open_part(part: Path, start: int):
    """The partial file open for reading and writing at byte ``start`` (cut there; made if new);
    refused unless it is a regular file (never a link or a device)."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(part, flags, 0o644)
    f = os.fdopen(fd, "r+b")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{part} is not a regular file")
        f.truncate(start)
        f.seek(0)
    except BaseException:
        f.close()
        raise
    return f


def _hash_existing(f, h, start: int) -> None:
    done = 0
    while done < start:
        block = f.read(min(_CHUNK, start - done))
        if not block:
            raise OSError("the partial download shrank while it was read")
        h.update(block)
        done += len(block)


def _stream(response, f, h, done: int, total: int, name: str, progress: Progress | None) -> None:
    """Append the response's body to ``f`` (at its end), hashing it; flushed to disk even when
    the connection breaks, so the next call resumes after the last byte that arrived."""
    f.seek(done)
    try:
        done = stream_body(response, f, h, done, total, name, progress)
    finally:
        f.flush()
        os.fsync(f.fileno())
    if total and done != total:
        raise OSError(f"connection closed after {done:,} of {total:,} bytes")


# ----------------------------------------------------------------------------- reading

def parse_records(data: bytes, where: str = "records") -> tuple[np.ndarray, np.ndarray]:
    """``(X uint8 (N, 3, 32, 32), y uint8 (N,))`` of CIFAR-10 binary records (see the module text)."""
    if len(data) == 0 or len(data) % RECORD_BYTES:
        raise CifarError(f"{where}: {len(data):,} bytes is not a whole number of {RECORD_BYTES:,}-byte "
                         "CIFAR-10 records")
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    y = rec[:, 0].copy()
    if y.max() > 9:
        raise CifarError(f"{where}: a record has label {int(y.max())}; CIFAR-10's labels are 0 to 9")
    return rec[:, 1:].reshape(-1, 3, 32, 32).copy(), y


def read_cifar10(path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``(X uint8 (N, 3, 32, 32), y uint8 (N,))`` of ``split`` ("train": 50,000, "test": 10,000)
    read from the archive at ``path`` without extracting it. Raises :class:`CifarError` for a
    file that is not a regular file, not a gzip tar archive, or lacks the expected members (each a
    regular file of 10,000 records; a name seen twice is refused)."""
    wanted = CIFAR10.members.get(split)
    if wanted is None:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    try:
        f = open_regular(path)
    except (OSError, UnreadableFile) as e:
        raise CifarError(f"{path}: {why_unreadable(e)}") from None
    with f:
        try:
            found = _members(f, set(wanted), path)
        except tarfile.TarError as e:
            raise CifarError(f"{path}: not a readable CIFAR-10 archive ({e})") from None
        except (EOFError, OSError) as e:      # gzip's errors for a truncated or damaged stream
            raise CifarError(f"{path}: the archive is truncated or damaged ({e})") from None
    missing = [m for m in wanted if m not in found]
    if missing:
        raise CifarError(f"{path}: the archive lacks {', '.join(missing)}; is it cifar-10-binary.tar.gz?")
    parts = [parse_records(found[m], m) for m in wanted]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _members(f, wanted: set, path) -> dict:
    """``{name: bytes}`` of the wanted members, each checked before a byte of it is read."""
    found = {}
    with tarfile.open(fileobj=f, mode="r:gz") as tf:
        for k, info in enumerate(tf):
            if k >= _MEMBER_LIMIT:
                raise CifarError(f"{path}: more than {_MEMBER_LIMIT} entries; CIFAR-10's archive has 8")
            if info.name not in wanted:
                continue
            if info.name in found:
                raise CifarError(f"{path}: {info.name} appears twice in the archive")
            if not info.isreg() or info.size != _BATCH_RECORDS * RECORD_BYTES:
                raise CifarError(f"{path}: {info.name} is not a file of {_BATCH_RECORDS:,} records")
            data = tf.extractfile(info).read(info.size)
            if len(data) != info.size:
                raise CifarError(f"{path}: {info.name} is truncated")
            found[info.name] = data
    return found


def load_cifar10(split: str = "train", cache_dir=None, progress: Progress | None = None, urls=None, *,
                 md5: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10's ``split`` as ``(X uint8 (N, 3, 32, 32), y uint8 (N,))``, fetched first if needed
    (:func:`fetch_cifar10`)."""
    return read_cifar10(fetch_cifar10(cache_dir, progress, urls, md5=md5), split)
