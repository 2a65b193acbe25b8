"""The downloadable data sets in MNIST's format (60,000 training + 10,000 test images of 28×28,
ten classes), fetched on request: MNIST itself, Fashion-MNIST and Kuzushiji-MNIST (:data:`DOWNLOADS`).

:func:`fetch_download` downloads a set's four ``.gz`` files from the first of its mirrors that
serves them, checks each against its published md5 sum and keeps it in
``user_data_dir() / <its folder>``. Files already there with the right checksum are not downloaded
again. A file is written to a temporary name beside its final one and moved into place only once
its checksum is right, so a failed or interrupted download never leaves a partial file behind.
:func:`fetch_mnist` and :func:`load_mnist` are the same for MNIST.

The mirrors and md5 sums are the ones the data sets' authors publish (and torchvision uses):

* MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges (CC BY-SA 3.0);
* Fashion-MNIST by Han Xiao, Kashif Rasul and Roland Vollgraf, Zalando Research (MIT licence);
* Kuzushiji-MNIST by Tarin Clanuwat et al., ROIS-DS Center for Open Data in the Humanities,
  from the Kuzushiji data set of the National Institute of Japanese Literature (CC BY-SA 4.0).
"""
from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from .._atomic import atomic_write
from ..architecture import DIGIT_CLASSES
from .idx import load_idx_pair
from .paths import user_data_dir

__all__ = ["MNIST_MIRRORS", "MNIST_MD5", "MNIST_FILES", "FetchError", "fetch_mnist", "load_mnist",
           "mnist_cache_dir", "Download", "DOWNLOADS", "fetch_download", "load_download", "download_cache_dir"]

MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: Short name -> file name on every mirror.
MNIST_FILES: dict[str, str] = {
    "train-images": "train-images-idx3-ubyte.gz",
    "train-labels": "train-labels-idx1-ubyte.gz",
    "t10k-images": "t10k-images-idx3-ubyte.gz",
    "t10k-labels": "t10k-labels-idx1-ubyte.gz",
}

#: Published md5 sums of the ``.gz`` files.
MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}



@dataclass(frozen=True)
class Download:
    """One downloadable set: four files named as :data:`MNIST_FILES`, on every mirror."""
    key: str                    # its source key ("mnist", "fashion", "kmnist")
    title: str                  # "Fashion-MNIST"
    folder: str                 # where its files are kept, under user_data_dir()
    mirrors: tuple[str, ...]
    md5: dict                   # file name -> published md5
    classes: tuple[str, ...]    # the name of each label 0..9
    credit: str


DOWNLOADS: dict[str, Download] = {d.key: d for d in (
    Download("mnist", "MNIST", "mnist", MNIST_MIRRORS, MNIST_MD5, DIGIT_CLASSES,
             "Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0)"),
    Download("fashion", "Fashion-MNIST", "fashion-mnist",
             ("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
              "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
             {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
              "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
              "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
              "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
             ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
              "Ankle boot"),
             "Han Xiao, Kashif Rasul and Roland Vollgraf, Zalando Research (MIT licence)"),
    Download("kmnist", "Kuzushiji-MNIST", "kmnist",
             ("https://codh.rois.ac.jp/kmnist/dataset/kmnist/", "https://storage.googleapis.com/kuzushiji-mnist/"),
             {"train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
              "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
              "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
              "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134"},
             # one cursive hiragana per row of the syllabary: お き す つ な は ま や れ を
             ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
             "CODH (ROIS-DS), after the Kuzushiji data set of the National Institute of Japanese Literature "
             "(CC BY-SA 4.0)"),
)}

_CHUNK = 1 << 16
_USER_AGENT = "cnnlab/0.1 (+data set fetch)"

Progress = Callable[[int, int, str], None]


class FetchError(OSError):
    """No mirror could deliver a file with the right checksum."""


class _ChecksumMismatch(Exception):
    pass


def download(key: str) -> Download:
    """The entry of :data:`DOWNLOADS` for ``key``; ``ValueError`` naming the choices otherwise."""
    if key not in DOWNLOADS:
        raise ValueError(f"no downloadable data set {key!r} (choose {', '.join(DOWNLOADS)})")
    return DOWNLOADS[key]


def download_cache_dir(key: str = "mnist") -> Path:
    """Where :func:`fetch_download` keeps a set's files by default: ``user_data_dir() / <folder>``."""
    return user_data_dir() / download(key).folder


def mnist_cache_dir() -> Path:
    """Where :func:`fetch_mnist` keeps the files by default: ``user_data_dir() / "mnist"``."""
    return download_cache_dir("mnist")


def _short_name(filename: str) -> str:
    """``train-images-idx3-ubyte.gz`` -> ``train-images`` (other names stay as they are)."""
    return filename.split("-idx")[0] if "-idx" in filename else filename


def _new_md5():
    # md5 here checks integrity, not security (FIPS builds need the flag to allow it).
    return hashlib.md5(usedforsecurity=False)


def _md5_of(path: Path) -> str:
    h = _new_md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def stream_body(response, f, h, done: int, total: int, name: str, progress: Progress | None) -> int:
    """Copy an HTTP response's body to ``f``, feeding the hash ``h`` and calling
    ``progress(done, total, name)`` first and after each block; returns the bytes done (counting
    from ``done``, what a resumed download already had)."""
    if progress is not None:
        progress(done, total, name)
    while True:
        block = response.read(_CHUNK)
        if not block:
            return done
        f.write(block)
        h.update(block)
        done += len(block)
        if progress is not None:
            progress(done, total, name)


def _download(url: str, target: Path, expected_md5: str, name: str, progress: Progress | None,
              timeout: float) -> None:
    """Stream ``url`` into ``target`` atomically, verifying the md5 before it is moved into place."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})

    def write(f):
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else 0
            h = _new_md5()
            done = stream_body(response, f, h, 0, total, name, progress)
            if total and done != total:
                raise OSError(f"connection closed after {done} of {total} bytes")
            digest = h.hexdigest()
            if digest != expected_md5.lower():
                raise _ChecksumMismatch(f"md5 {digest}, expected {expected_md5.lower()}")

    atomic_write(target, write)


def fetch_mnist(cache_dir=None, progress: Progress | None = None,
                mirrors: Sequence[str] | None = None, *,
                checksums: Mapping[str, str] | None = None,
                timeout: float = 30.0) -> dict[str, Path]:
    """:func:`fetch_download` of MNIST."""
    return fetch_download("mnist", cache_dir, progress, mirrors, checksums=checksums, timeout=timeout)


def fetch_download(key: str, cache_dir=None, progress: Progress | None = None,
                   mirrors: Sequence[str] | None = None, *,
                   checksums: Mapping[str, str] | None = None,
                   timeout: float = 30.0) -> dict[str, Path]:
    """Download the files of set ``key`` (:data:`DOWNLOADS`) that are not cached yet; return
    ``{short name: path}``.

    ``cache_dir``: folder for the files (default ``user_data_dir() / <the set's folder>``; created).
    ``progress``: called as ``progress(done_bytes, total_bytes, file_name)`` while a
    file downloads (``total_bytes`` is 0 when the server does not say), and once as
    ``progress(size, size, file_name)`` for a file already cached. An exception
    raised by ``progress`` cancels the download (nothing partial is left) and
    propagates.
    ``mirrors``: base URLs tried in order (default: the set's own); the file
    name is appended to each.
    ``checksums``: ``{file name: md5}`` of the files to fetch (default: the set's published sums).

    Returns e.g. ``{"train-images": Path(...), "train-labels": ..., "t10k-images": ...,
    "t10k-labels": ...}`` (the file name up to ``-idx``). Raises :class:`FetchError`
    naming every mirror's failure when no mirror delivers a file with the right md5.
    """
    d = download(key)
    folder = Path(cache_dir) if cache_dir is not None else download_cache_dir(key)
    folder.mkdir(parents=True, exist_ok=True)
    mirrors = tuple(d.mirrors if mirrors is None else mirrors)
    if not mirrors:
        raise ValueError("mirrors must name at least one base URL")
    checksums = dict(d.md5 if checksums is None else checksums)
    result: dict[str, Path] = {}
    for filename, md5 in checksums.items():
        target = folder / filename
        if target.is_file() and _md5_of(target) == md5.lower():
            if progress is not None:
                size = target.stat().st_size
                progress(size, size, filename)
            result[_short_name(filename)] = target
            continue
        failures = []
        for base in mirrors:
            url = base if base.endswith("/") else base + "/"
            url += filename
            try:
                _download(url, target, md5, filename, progress, timeout)
            except urllib.error.HTTPError as exc:
                failures.append(f"{url}: HTTP {exc.code} {exc.reason}")
            except urllib.error.URLError as exc:
                failures.append(f"{url}: {exc.reason}")
            except _ChecksumMismatch as exc:
                failures.append(f"{url}: wrong checksum ({exc})")
            except (OSError, ValueError, http.client.HTTPException) as exc:
                # timeouts, resets, truncated bodies, garbled responses, bad URLs
                failures.append(f"{url}: {type(exc).__name__}: {exc}")
            else:
                break
        else:
            raise FetchError(f"could not download {filename} from any mirror "
                             "(is the computer online?): " + "; ".join(failures))
        result[_short_name(filename)] = target
    return result


def load_mnist(split: str = "train", cache_dir=None, progress: Progress | None = None,
               mirrors: Sequence[str] | None = None, *,
               checksums: Mapping[str, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`load_download` of MNIST."""
    return load_download("mnist", split, cache_dir, progress, mirrors, checksums=checksums)


def load_download(key: str, split: str = "train", cache_dir=None, progress: Progress | None = None,
                  mirrors: Sequence[str] | None = None, *,
                  checksums: Mapping[str, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Set ``key``'s ``split`` ("train": 60,000 images, "test": 10,000), fetched if needed.

    Returns ``(X uint8 (N, 28, 28), y uint8 (N,))``. Downloads only the split's two
    files, and only when they are not cached yet (see :func:`fetch_download`, which
    also explains ``cache_dir``, ``progress``, ``mirrors`` and ``checksums``).
    """
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    table = download(key).md5 if checksums is None else checksums
    wanted = {MNIST_FILES[f"{prefix}-{k}"]: table[MNIST_FILES[f"{prefix}-{k}"]] for k in ("images", "labels")}
    paths = fetch_download(key, cache_dir, progress, mirrors, checksums=wanted)
    return load_idx_pair(paths[f"{prefix}-images"], paths[f"{prefix}-labels"])
