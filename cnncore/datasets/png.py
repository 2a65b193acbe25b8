"""Reading a PNG image as grey levels, for ``cnnapp predict`` (no Qt needed).

The declared size in the ``IHDR`` chunk is checked against :mod:`cnncore.limits` before
anything is inflated, and the pixels are decoded by Pillow (C code, with its own
decompression-bomb checks), so neither a small file that expands to gigabytes nor a
large image with expensive row filters can stall the command. Before Pillow sees it, the
file must hold what its header promises: every row (Pillow fills missing ones with 0) and,
for a palette image, its palette (Pillow reads one without as black).
"""
from __future__ import annotations

import struct
import warnings
import zlib

import numpy as np

from .._safeio import UnreadableFile, read_regular, why_unreadable
from ..limits import MAX_PNG_BYTES, MAX_PNG_PIXELS, MAX_PNG_SIDE

__all__ = ["PNGError", "read_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


class PNGError(ValueError):
    """A PNG file that is missing, not a regular file, too large, damaged or not a PNG."""


def _declared_size(path, data: bytes) -> tuple[int, int]:
    """Width and height from ``IHDR``, checked against the limits."""
    if data[:8] != _SIGNATURE:
        raise PNGError(f"{path}: not a PNG image")
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise PNGError(f"{path}: truncated PNG (no image header)")
    W, H, depth, color = struct.unpack(">IIBB", data[16:26])
    if color not in _CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise PNGError(f"{path}: damaged PNG header (colour type {color}, bit depth {depth})")
    if not (1 <= W <= MAX_PNG_SIDE and 1 <= H <= MAX_PNG_SIDE) or W * H > MAX_PNG_PIXELS:
        raise PNGError(f"{path}: a {W}×{H} PNG; expected 1 to {MAX_PNG_SIDE} pixels a side and at most "
                       f"{MAX_PNG_PIXELS:,} pixels")
    return W, H


def read_png(path) -> np.ndarray:
    """Grey levels in [0, 1], float64 ``(H, W)``, of a PNG (any bit depth, grey, grey+alpha,
    RGB, RGBA or palette, interlaced or not). Transparent pixels count as white paper.

    Raises :class:`PNGError` (and nothing else) for a missing or unreadable file, one that
    is not a regular file, a file over ``MAX_PNG_BYTES``, a declared size over the limits
    (checked before decoding), and damaged or truncated image data.
    """
    try:
        data = read_regular(path, MAX_PNG_BYTES)
    except (OSError, UnreadableFile) as e:
        raise PNGError(f"{path}: {why_unreadable(e)}") from None
    W, H = _declared_size(path, data)
    _check_complete(path, data, W, H)
    grey, alpha = _decode(path, data)
    if grey.shape != (H, W):
        raise PNGError(f"{path}: damaged PNG (its pixels do not match its {W}×{H} header)")
    if alpha is not None:
        grey = grey * alpha + (1 - alpha)               # over white paper
    return grey


#: Adam7's passes: first column and row, column and row step.
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _row_bytes(W: int, H: int, bits: int, interlaced: bool) -> int:
    """Bytes of the filtered rows a ``W×H`` image of ``bits`` per pixel inflates to (a filter
    byte per row; each Adam7 pass has rows of its own)."""
    if not interlaced:
        return H * (1 + (W * bits + 7) // 8)
    total = 0
    for x0, y0, dx, dy in _ADAM7:
        w, h = -(-(W - x0) // dx), -(-(H - y0) // dy)
        if w > 0 and h > 0:
            total += h * (1 + (w * bits + 7) // 8)
    return total


def _check_complete(path, data: bytes, W: int, H: int) -> None:
    """PNGError for a palette image without a ``PLTE`` chunk, or image data (``IDAT``) that
    inflates to fewer bytes than its rows need: counted while inflating, never kept."""
    depth, color, interlace = data[24], data[25], data[28]
    pos, plte, idat = 8, False, []
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"PLTE":
            plte = True
        elif kind == b"IDAT":
            idat.append(data[pos + 8:pos + 8 + n])
        elif kind == b"IEND":
            break
        pos += 12 + n
    if color == 3 and not plte:
        raise PNGError(f"{path}: damaged PNG (a palette image without its palette, the PLTE chunk)")
    need = _row_bytes(W, H, _CHANNELS[color] * depth, interlace == 1)
    got, stream, inflate = 0, b"".join(idat), zlib.decompressobj()
    try:
        while stream and got < need:
            got += len(inflate.decompress(stream, 1 << 20))
            stream = inflate.unconsumed_tail
    except zlib.error as e:
        raise PNGError(f"{path}: damaged PNG (its image data does not inflate: {e})") from None
    if got < need:
        raise PNGError(f"{path}: damaged PNG (its image data holds {got:,} of the {need:,} bytes its {H} rows need)")


def _decode(path, data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey levels and alpha in [0, 1] (float64), decoded by Pillow; every Pillow error
    becomes PNGError."""
    import io

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG"]) as im:
                im.load()
                return _grey_alpha(im)
    # Pillow raises many types for damaged data (OSError, SyntaxError, ValueError,
    # struct.error, zlib.error, EOFError, DecompressionBombError/Warning, ...): the input is
    # untrusted bytes and each means the same, so every Exception is this file's error.
    except MemoryError:
        raise PNGError(f"{path}: not enough memory to decode this PNG") from None
    except Exception as e:  # noqa: BLE001 - see above
        text = " ".join(str(e).split())[:120] or type(e).__name__
        raise PNGError(f"{path}: damaged or unsupported PNG ({text})") from None


def _grey_alpha(im) -> tuple[np.ndarray, np.ndarray | None]:
    if im.mode.startswith("I"):                     # 16-bit grey: Pillow's "L" would clip it
        return np.asarray(im.convert("I")).astype(np.float64) / 65535, None
    if "transparency" in im.info and im.mode not in ("LA", "RGBA", "PA"):
        im = im.convert("RGBA")                     # palette or colour-key transparency
    la = np.asarray(im.convert("LA"))
    alpha = la[..., 1] / 255 if la[..., 1].min() < 255 else None
    return la[..., 0] / 255, alpha
