"""Reading MNIST's IDX files (raw or gzip-compressed), with checks.

The IDX format is a big-endian header followed by raw values:

* images: ``magic 2051`` (``0x00000803``: two zero bytes, dtype byte ``0x08`` =
  unsigned byte, 3 dimensions), then ``N, rows, cols`` as uint32, then
  ``N * rows * cols`` uint8 pixels, row-major;
* labels: ``magic 2049`` (``0x00000801``, 1 dimension), then ``N``, then ``N``
  uint8 labels.

Every problem with a file raises :class:`IDXError` with a message that says
which file and what is wrong, so the app can show it to the user as is.
"""
from __future__ import annotations

import contextlib
import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .._safeio import UnreadableFile, open_regular, why_unreadable
from ..limits import MAX_IDX_BYTES

__all__ = ["IDXError", "read_idx", "load_idx_pair", "IMAGES_MAGIC", "LABELS_MAGIC"]

IMAGES_MAGIC = 2051  # 0x00000803: uint8, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: uint8, 1 dimension
_GZIP_MAGIC = b"\x1f\x8b"
_UBYTE = 0x08
_CHUNK = 1 << 22
_DTYPE_NAMES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short",
                0x0C: "int", 0x0D: "float", 0x0E: "double"}


class IDXError(ValueError):
    """An IDX file is missing, unreadable, or does not hold what it claims."""


@contextlib.contextmanager
def _stream(path: Path):
    """The file's content as a stream, decompressed on the fly when it starts with the gzip
    magic bytes (so only as much is inflated as is read). Regular files only."""
    try:
        f = open_regular(path)
    except FileNotFoundError:
        raise IDXError(f"{path}: file not found") from None
    except (OSError, UnreadableFile) as exc:
        raise IDXError(f"{path}: {why_unreadable(exc)}") from None
    with f:
        magic = f.read(2)
        if not magic:
            raise IDXError(f"{path}: the file is empty")
        f.seek(0)
        if magic == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=f, mode="rb") as g:
                yield g, True
        else:
            yield f, False


def _read(stream, n: int, path: Path) -> bytes:
    """At most ``n`` bytes (``n`` small: a header, or the probe for trailing data)."""
    return _read_array(stream, n, path).tobytes()


def _read_array(stream, n: int, path: Path) -> np.ndarray:
    """At most ``n`` bytes as a uint8 array, read chunk by chunk as far as the stream goes: memory
    grows with what the file holds, not with what its header claims (one ``read(n)`` reserved all
    ``n`` bytes at once), and the data is held twice at most, while the chunks are joined.
    Damaged gzip data becomes IDXError."""
    parts, got = [], 0
    try:
        while got < n:
            part = np.empty(min(_CHUNK, n - got), dtype=np.uint8)
            view, k = memoryview(part), 0
            while k < len(part) and (r := stream.readinto(view[k:])):
                k += r
            parts.append(part[:k])
            got += k
            if k < len(part):
                break
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXError(f"{path}: the gzip data is corrupt or truncated ({exc})") from None
    return parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.empty(0, np.uint8)


def _header(stream, path: Path, gz: bool) -> tuple[int, ...]:
    """The dimensions the header declares, after checking the magic number."""
    head = _read(stream, 4, path)
    if gz and not head:
        raise IDXError(f"{path}: the file is empty once decompressed")
    if len(head) < 4:
        raise IDXError(f"{path}: only {len(head)} bytes, too short for an IDX header")
    zero1, zero2, dtype_code, ndim = head
    magic = struct.unpack(">I", head)[0]
    if zero1 != 0 or zero2 != 0:
        raise IDXError(f"{path}: not an IDX file (magic number {magic} / 0x{magic:08x}; "
                       f"expected {IMAGES_MAGIC} for images or {LABELS_MAGIC} for labels)")
    if dtype_code != _UBYTE:
        kind = _DTYPE_NAMES.get(dtype_code, f"unknown type 0x{dtype_code:02x}")
        raise IDXError(f"{path}: holds {kind} values (type byte 0x{dtype_code:02x}); "
                       "only unsigned bytes (0x08) are supported")
    if magic not in (IMAGES_MAGIC, LABELS_MAGIC):
        raise IDXError(f"{path}: magic number {magic} has {ndim} dimensions; expected "
                       f"{IMAGES_MAGIC} (images, 3 dimensions) or {LABELS_MAGIC} (labels, 1 dimension)")
    rest = _read(stream, 4 * ndim, path)
    if len(rest) < 4 * ndim:
        raise IDXError(f"{path}: truncated header ({4 + len(rest)} bytes, the header needs {4 + 4 * ndim})")
    dims = struct.unpack(f">{ndim}I", rest)
    if any(d == 0 for d in dims):
        raise IDXError(f"{path}: the header declares a zero-sized dimension {dims}")
    return dims


def read_idx(path, max_bytes: int = MAX_IDX_BYTES, check=None) -> np.ndarray:
    """Read one IDX file of unsigned bytes (``.gz`` or raw; gzip is sniffed).

    Returns a uint8 array of the shape its header declares: ``(N, rows, cols)``
    for an images file (magic 2051), ``(N,)`` for a labels file (magic 2049).
    Raises :class:`IDXError` (and nothing else) for a missing, empty or not regular
    file, corrupt gzip data, a wrong magic number or element type, zero-sized
    dimensions, a header declaring more than ``max_bytes`` of data (checked before
    anything is allocated or inflated), or a file whose size does not match its
    header (truncated or with trailing bytes). Compressed data is inflated only up
    to the size the header declares (and one byte more, to see trailing data).
    ``check(dims)``, where given, is called with the header's dimensions before any
    data is read, and may raise IDXError (a file of the wrong kind or shape is then
    refused from its header).
    """
    path = Path(path)
    with _stream(path) as (stream, gz):
        dims = _header(stream, path, gz)
        expected = math.prod(dims)          # Python ints: four 2^32-1 sizes do not overflow
        shape = " x ".join(map(str, dims))
        if expected > max_bytes:
            raise IDXError(f"{path}: the header declares {shape} = {expected:,} bytes of data, "
                           f"more than the {max_bytes:,} this app reads")
        if check is not None:
            check(dims)
        data = _read_array(stream, expected, path)
        if len(data) < expected:
            raise IDXError(f"{path}: truncated: the header declares {shape} = "
                           f"{expected} bytes of data but the file holds only {len(data)}")
        extra = len(_read(stream, 1 << 20, path))
        if extra:
            more = "" if extra < 1 << 20 else "at least "
            raise IDXError(f"{path}: {more}{extra} unexpected bytes after the {shape} values the header declares")
    return data.reshape(dims)


def load_idx_pair(images, labels) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file and its labels file and check they belong together.

    Returns ``(X, y)``: ``X`` uint8 ``(N, 28, 28)`` with 0 = background and 255 =
    ink, ``y`` uint8 ``(N,)`` with values 0-9. Raises :class:`IDXError` when a
    file is bad, when the images are not 28x28, when the counts differ, or when
    a label is not a digit.
    """
    X = read_idx(images, check=lambda dims: _images_header(dims, images))
    y = read_idx(labels, check=lambda dims: _labels_header(dims, labels, images, len(X)))
    bad = np.flatnonzero(y > 9)
    if bad.size:
        raise IDXError(f"{labels}: {bad.size} labels are not digits 0-9 "
                       f"(first: entry {bad[0]} = {y[bad[0]]})")
    return X, y


def _images_header(dims: tuple, images) -> None:
    """Refuse, from its header, an images file that does not hold N x 28 x 28 digits."""
    if len(dims) != 3:
        raise IDXError(f"{images}: expected an images file (magic {IMAGES_MAGIC}, N x 28 x 28) "
                       f"but it holds {len(dims)}-dimensional data of shape {dims}")
    if dims[1:] != (28, 28):
        raise IDXError(f"{images}: images are {dims[1]}x{dims[2]} pixels; expected 28x28")


def _labels_header(dims: tuple, labels, images, count: int) -> None:
    """Refuse, from its header, a labels file that is not one label for each of the ``count`` images."""
    if len(dims) != 1:
        raise IDXError(f"{labels}: expected a labels file (magic {LABELS_MAGIC}, N entries) "
                       f"but it holds {len(dims)}-dimensional data of shape {dims}")
    if dims[0] != count:
        raise IDXError(f"the labels file says it holds {dims[0]:,} labels but the images file has {count:,} "
                       f"pictures: one label a picture ({os.fspath(labels)} / {os.fspath(images)})")
