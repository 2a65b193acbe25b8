"""One of the user's pictures brought to a model's input (a folder of them: :mod:`.folder`).

A picture (:func:`read_picture`), PNG, JPEG, BMP or WebP, read by Pillow, becomes the model's
``(C, H, W)`` input (:class:`~cnncore.signature.Signature` ``shape``) by one rule:

1. turned upright as its EXIF orientation says (phone photos);
2. made grey (``C = 1``) or RGB (``C = 3``): transparent parts are laid over white paper (black where
   nothing would show on white: a white drawing on a transparent sheet), 16-bit
   levels scaled to 8 bits, palette and CMYK pictures converted;
3. scaled, keeping its proportions, until it covers ``H×W`` (its shorter side, relative to the
   input's, fits exactly), and the centre ``H×W`` cut out. Shrinking averages (anti-aliased
   bilinear), so a large photo does not alias.

A JPEG is decoded at a reduced scale when it is much larger than the input (Pillow's draft
mode), so a 48-megapixel photo costs a few megabytes; every picture's decoded size is checked
against :data:`~cnncore.limits.MAX_PICTURE_DECODED_BYTES` before its pixels are decoded.

:func:`picture_input` applies a model's own fitting rule (MNIST's recipe for a digit model).
"""
from __future__ import annotations

import io
import math
import threading
import warnings
from contextlib import contextmanager

import numpy as np

from ..architecture import DIGIT_SHAPE
from .fitting import Fitting, crop_box
from .._safeio import UnreadableFile, open_regular, why_unreadable
from ..limits import MAX_PICTURE_FILE_BYTES, MAX_PICTURE_DECLARED_PIXELS, MAX_PICTURE_DECODED_BYTES

__all__ = ["PICTURE_SUFFIXES", "PictureError", "read_picture", "picture_input", "picture_bytes_input", "read_grey",
           "check_shape", "picture_kind", "fitted_input", "fitted_bytes_input", "Fitting", "OTHER_PICTURE_SUFFIXES",
           "save_as"]

#: The file names read as pictures (case does not matter), and the decoders Pillow may use for them.
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
_FORMATS = ["PNG", "JPEG", "BMP", "WEBP"]
# A photo's damaged EXIF block (read for its orientation) made Pillow print "…/TiffImagePlugin.py:982:
# UserWarning: Corrupt EXIF data" with no file named; the picture itself decodes, upright or not.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")


class PictureError(ValueError):
    """One picture cannot be used (missing, not a picture, damaged, too large); the text names it."""


# ----------------------------------------------------------------------------- one picture

_PILLOW_LIMIT = threading.Lock()


@contextmanager
def _declared_pixel_limit():
    """Pillow's decompression-bomb bound set to ours while a picture's header is read (our own
    check, on decoded memory, comes after); its warnings below that bound are ours to judge."""
    from PIL import Image

    with _PILLOW_LIMIT, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        before = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = MAX_PICTURE_DECLARED_PIXELS // 2        # Pillow refuses past twice this
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = before


def read_picture(path, shape, fit: str = "picture") -> np.ndarray:
    """The picture at ``path`` as a model's input of ``shape (C, H, W)``: uint8 ``(C, H, W)``
    (C 1 or 3), made by the model's fitting rule ``fit``: ``"picture"``, the rule of the module
    text; ``"digit"``, MNIST's recipe (:func:`picture_input`'s levels, rounded to the nearest), so a
    folder's pictures reach a digit model as ``cnnapp predict`` brings each. Raises
    :class:`PictureError` (and nothing else) naming the file and what is wrong."""
    C, H, W = check_shape(shape)
    if fit == "picture":                       # (its levels exactly, not a round trip through floats)
        return _read(path, lambda im, name: _to_input(im, C, H, W, name))[0]
    x, _ = _fitted(lambda convert: _read(path, convert), (C, H, W), fit, str(path))
    return np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8)


def picture_input(path, signature) -> np.ndarray:
    """A picture file as one input of the model whose :class:`~cnncore.signature.Signature` is given:
    float32 ``(C, H, W)`` in [0, 1], made by the model's fitting rule (``"digit"``: MNIST's recipe,
    :func:`~cnncore.datasets.preprocess.digit_from_picture`; ``"picture"``: :func:`read_picture`).
    Raises :class:`PictureError`."""
    return fitted_input(path, signature)[0]


def fitted_input(path, signature) -> tuple[np.ndarray, Fitting]:
    """:func:`picture_input`, and how the picture was brought to the input (:class:`Fitting`)."""
    return _fitted(lambda convert: _read(path, convert), signature.shape, signature.fit, str(path))


def picture_bytes_input(data: bytes, signature, name: str = "the picture") -> np.ndarray:
    """:func:`picture_input` of a picture file's bytes (say, a picture on the clipboard, encoded as
    PNG), named ``name`` in messages; at most :data:`~cnncore.limits.MAX_PICTURE_FILE_BYTES` of them.
    Raises :class:`PictureError`."""
    return fitted_bytes_input(data, signature, name)[0]


def fitted_bytes_input(data: bytes, signature, name: str = "the picture") -> tuple[np.ndarray, Fitting]:
    """:func:`picture_bytes_input`, and how the picture was brought to the input (:class:`Fitting`)."""
    data = bytes(data)
    if len(data) > MAX_PICTURE_FILE_BYTES:
        raise PictureError(f"{name}: {len(data):,} bytes is more than the {MAX_PICTURE_FILE_BYTES:,} a picture "
                           "file may have")
    return _fitted(lambda convert: _decode(io.BytesIO(data), name, convert), signature.shape, signature.fit, name)


def _fitted(read, shape, fit: str, name: str) -> tuple[np.ndarray, Fitting]:
    """The model's fitting rule on one picture, float32 ``(C, H, W)`` in [0, 1], and how: ``read(convert)``
    decodes it and returns ``convert``'s result, ``(levels, the facts of the picture)``. A picture a digit
    model finds blank is a :class:`PictureError`: any network gives it an answer that means nothing
    (the app traced an empty input while the command line refused it)."""
    C, H, W = check_shape(shape)
    if fit == "digit":
        from .preprocess import digit_from_picture
        if (C, H, W) != DIGIT_SHAPE:
            raise PictureError(f"MNIST's recipe makes grey 28×28 digits, not {C}×{H}×{W} inputs")
        grey, facts = read(_grey)
        x = digit_from_picture(grey)[None]
        if not x.any():
            raise PictureError(f"{name}: the picture is blank (nothing drawn on it), so there is no digit to read")
        return x, Fitting(shape=(C, H, W), fit=fit, **facts)
    if fit != "picture":
        raise ValueError(f"a picture is fitted by the rule 'picture' or 'digit', not {fit!r}")
    x, facts = read(lambda im, name: _to_input(im, C, H, W, name))
    return x.astype(np.float32) / np.float32(255), Fitting(shape=(C, H, W), fit=fit, **facts)


#: The longest side a picture of a digit is read at (MNIST's box is 20 pixels: plenty to spare).
_DIGIT_READ_SIDE = 560


def read_grey(path) -> np.ndarray:
    """A picture's grey levels in [0, 1], float64 ``(h, w)``, transparent parts over paper (:func:`_plain_mode`),
    shrunk (keeping its proportions) to at most 560 pixels a side. Raises :class:`PictureError`."""
    return _read(path, _grey)[0]


def _grey(im, name: str) -> tuple[np.ndarray, dict]:
    from PIL import Image

    side = _DIGIT_READ_SIDE
    size = im.size
    if im.format == "JPEG":
        im.draft(None, (min(im.size[0], side), min(im.size[1], side)))
    im, facts = _decoded(im, name, 1, size)
    im.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.float64) / 255, facts


def check_shape(shape) -> tuple[int, int, int]:
    """``(C, H, W)`` of a model's input that pictures can give (C 1 or 3), else :class:`PictureError`."""
    C, H, W = (int(s) for s in shape)
    if C not in (1, 3):
        raise PictureError(f"the model takes {C}-channel inputs; pictures give 1 (grey) or 3 (colour) channels")
    return C, H, W


def _read(path, convert):
    """``convert(image, name)`` of the picture file at ``path``, opened only when it is a regular file
    of at most :data:`~cnncore.limits.MAX_PICTURE_FILE_BYTES`; every failure a :class:`PictureError`."""
    try:
        f = open_regular(path, MAX_PICTURE_FILE_BYTES)
    except (OSError, UnreadableFile) as e:
        raise PictureError(f"{path}: {why_unreadable(e)}") from None
    with f:
        return _decode(f, str(path), convert)


def _decode(source, name: str, convert):
    from PIL import Image

    try:
        with _declared_pixel_limit():
            im = Image.open(source, formats=_FORMATS)
        with im:
            return convert(im, name)
    except PictureError:
        raise
    except MemoryError:
        raise PictureError(f"{name}: not enough memory to decode this picture") from None
    # Pillow raises many types for damaged data (OSError, SyntaxError, ValueError, struct.error,
    # zlib.error, EOFError, DecompressionBombError, ...): the input is untrusted bytes and each
    # means the same, so every Exception here is this picture's error.
    except Exception as e:  # noqa: BLE001 - see above
        raise PictureError(f"{name}: {_why_undecodable(e, source)}") from None


def _why_undecodable(e: Exception, source) -> str:
    """Pillow's error in the app's words: an empty file, a file cut short, a damaged picture of a kind
    its first bytes name, or not a picture of ours."""
    from PIL import Image

    text = " ".join(str(e).split())[:120] or type(e).__name__
    try:
        source.seek(0)
        head = source.read(12)
    except (AttributeError, OSError, ValueError):
        head = None
    if head == b"":
        return "an empty file (0 bytes)"
    kind = _kind_of(head or b"")
    other = _other_kind(head or b"")
    if other is not None:
        return f"a {other} picture, which this app does not read: {save_as()}"
    if kind is None:
        return "not a PNG, JPEG, BMP or WebP picture" if isinstance(e, Image.UnidentifiedImageError) else text
    if isinstance(e, Image.UnidentifiedImageError):     # (Pillow names its file object, not the file)
        return f"a {kind} file cut short or damaged: it ends, or goes wrong, before the picture does"
    if "truncated" in text.lower() or isinstance(e, EOFError) or kind == "WebP":
        return f"a {kind} file cut short or damaged: it ends, or goes wrong, before the picture does ({text})"
    return f"a damaged {kind} file ({text})"


def picture_kind(path) -> str | None:
    """The kind of picture the file at ``path`` begins as (``"PNG"``, ``"JPEG"``, ``"BMP"``, ``"WebP"``), by
    its first bytes only; None for any other file, or one that cannot be read (reading it says why)."""
    try:
        with open_regular(path) as f:
            return _kind_of(f.read(12))
    except (OSError, UnreadableFile, ValueError):
        return None


def save_as(many: bool = False) -> str:
    """What to do with pictures of a kind this app does not read (a GIF, a phone's HEIC photo)."""
    them = "them" if many else "it"
    return f"save {them} as PNG or JPEG (a picture viewer's Save as…) to use {them}"


#: Pictures of kinds this app does not read, by their file names' endings (a phone's HEIC photos, GIFs).
OTHER_PICTURE_SUFFIXES = (".gif", ".tif", ".tiff", ".heic", ".heif", ".avif", ".jxl")


def _other_kind(head: bytes) -> str | None:
    """The kind of picture, of those this app does not read, a file's first bytes name (None: not one)."""
    if head[:4] in (b"GIF8",):
        return "GIF"
    if head[:4] in (b"II*\0", b"MM\0*"):
        return "TIFF"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heif", b"hevc"):
        return "HEIC"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "AVIF"
    return None


def _kind_of(head: bytes) -> str | None:
    """The kind of picture a file's first bytes name (None: none of ours)."""
    if head.startswith(b"\x89PNG"):
        return "PNG"
    if head.startswith(b"\xff\xd8"):
        return "JPEG"
    if head.startswith(b"BM"):
        return "BMP"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


def _decoded(im, name: str, C: int, size) -> tuple:
    """The picture decoded (after its size was checked), upright, as "L" (C = 1) or "RGB", and the facts
    of it a :class:`Fitting` keeps: ``size``, the file's (width, height) before a JPEG was decoded at a
    smaller scale, upright; whether it shows colours, was turned; the paper its transparent parts were laid on."""
    from PIL import ImageOps

    w, h = im.size
    need = w * h * _bytes_per_pixel(im)
    if need > MAX_PICTURE_DECODED_BYTES:
        raise PictureError(f"{name}: a {w:,}×{h:,} picture takes {need / 1e6:,.0f} MB decoded, more than the "
                           f"{MAX_PICTURE_DECODED_BYTES / 1e6:,.0f} MB one picture may take; make it smaller first")
    im.load()
    turn = 1
    if "exif" in im.info:                     # a phone photo may be stored on its side
        turn = im.getexif().get(0x0112, 1)
        im = ImageOps.exif_transpose(im) or im
    colour = _shows_colour(im)
    im, paper = _plain_mode(im, C)
    upright = tuple(size)[::-1] if turn in (5, 6, 7, 8) else tuple(size)
    return im, {"size": upright, "turned": turn in range(2, 9), "transparent": paper, "colour": colour}


#: How far apart a pixel's red, green and blue may be and it still count as grey (a grey JPEG's noise).
_GREY_SPREAD = 24


def _shows_colour(im) -> bool:
    """Whether a decoded picture shows colours (not only greys: a drawing saved as RGB shows none), by
    64×64 of its pixels: more than 2 % of them with red, green and blue further apart than a grey
    JPEG's noise."""
    from PIL import Image

    if im.mode in ("1", "L", "LA", "La", "F") + _WIDE_MODES:
        return False
    w, h = im.size
    small = im.resize((min(w, 64), min(h, 64)), Image.Resampling.NEAREST).convert("RGB")
    a = np.asarray(small, dtype=np.int16)
    return bool(np.mean(a.max(axis=2) - a.min(axis=2) > _GREY_SPREAD) > 0.02)


def _to_input(im, C: int, H: int, W: int, name: str) -> tuple[np.ndarray, dict]:
    from PIL import Image

    w, h = size = im.size
    scale = max(W / w, H / h)                 # the shorter side (relative to the input's) fits
    if im.format == "JPEG":                   # decode at 1/2, 1/4 or 1/8 when that still leaves 2× the detail
        # (in its own colours: a colour photo decoded as grey could not say it had colours)
        im.draft(None, (max(1, math.ceil(2 * w * scale)), max(1, math.ceil(2 * h * scale))))
    im, facts = _decoded(im, name, C, size)
    w, h = im.size
    if (w, h) != (W, H):
        im = im.resize((W, H), Image.Resampling.BILINEAR, box=crop_box(w, h, W, H), reducing_gap=3.0)
    a = np.asarray(im, dtype=np.uint8)
    return np.ascontiguousarray(a[None] if C == 1 else a.transpose(2, 0, 1)), facts


_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_ALPHA_MODES = ("LA", "PA", "RGBA", "La", "RGBa")


def _has_alpha(im) -> bool:
    return im.mode == "P" or im.mode in _ALPHA_MODES or "transparency" in im.info


def _bytes_per_pixel(im) -> int:
    """The most bytes a pixel of ``im`` takes at once on its way to 8-bit "L" or "RGB": 16-bit levels
    2 + 2 (the picture, its levels as an array) + 1 (the result), 32-bit ones 4 + 4 + 1; a picture
    with transparency 4 for itself and 4 for each of its RGBA copy, the white paper and the two laid
    together; else 4; and 4 more where it has EXIF data, which may turn it (a turned copy; its
    header alone is read here: getexif() would read a PNG whole)."""
    turned = 4 if "exif" in im.info else 0
    if im.mode in _WIDE_MODES:
        return (9 if im.mode == "I" else 5) + turned
    return (16 if _has_alpha(im) else 4) + turned


def _eight_bit(im):
    """A 16-bit (or 32-bit integer) grey picture as "L": levels scaled by 255/65535 where any is
    above 255 (else kept), rounded to the nearest (never a tie: 255·a/65535 = a/257 is no half),
    clipped to 0..255; band by band, so no array of the whole picture is wider than 4 bytes a
    pixel (the float64 arrays of before took 40)."""
    from PIL import Image

    a = np.asarray(im)
    hi = 65535 if a.max() > 255 else 255
    out = np.empty(a.shape, dtype=np.uint8)
    rows = max(1, (1 << 16) // max(1, a.shape[1]))     # bands of about 65,536 levels
    for r in range(0, a.shape[0], rows):
        v = a[r:r + rows].astype(np.int64) * 255
        out[r:r + rows] = np.clip((v + hi // 2) // hi, 0, 255)
    return Image.fromarray(out, "L")


def _plain_mode(im, C: int):
    """The picture as "L" (C = 1) or "RGB" (C = 3), alpha laid on paper, 16-bit scaled to 8 bits; and the
    paper its transparent parts were laid on ("" where it has none): white, or black where nothing would
    show on white (a white drawing on a transparent sheet vanished)."""
    from PIL import Image

    if im.mode in _WIDE_MODES:
        im = _eight_bit(im)                   # (Pillow's own "L" would clip the 16-bit levels)
    paper = ""
    if _has_alpha(im):
        rgba = im.convert("RGBA")
        lo, hi = rgba.getchannel("A").getextrema()
        paper = "white" if lo < 255 else ""
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        # all but white, though some of it is drawn: nothing of it shows on white
        if paper and hi > _GREY_SPREAD and im.convert("L").getextrema()[0] > 255 - _GREY_SPREAD:
            paper, im = "black", None                 # (one picture laid on paper at a time: the memory counted)
            im = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    return im.convert("L" if C == 1 else "RGB"), paper
