"""The app's colour scales for maps, the same everywhere: activations (input, ``x``, ``y``,
probabilities) in a sequential scale (viridis) over [min, max]; signed quantities (gradients,
weights, ``z``) in a diverging scale centred on zero, with symmetric levels [-m, m].
:func:`set_diverging` switches every signed map to purple-white-orange, which readers with
red-green colour blindness tell apart as well (a setting on the Backprop tab)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

__all__ = ["SEQUENTIAL", "DIVERGING", "SEQ_LUT", "DIV_LUT", "DIVERGING_SCALES", "set_diverging", "diverging_name",
           "diverging_words", "levels_for", "lut_for", "fmt_level", "rgb_image", "colour_patches"]

SEQUENTIAL = pg.colormap.get("viridis")
DIVERGING = pg.ColorMap(
    pos=np.array([0.0, 0.25, 0.5, 0.75, 1.0]),
    color=np.array([[5, 48, 97], [67, 147, 195], [247, 247, 247], [214, 96, 77], [103, 0, 31]],
                   dtype=np.ubyte),
)
SEQ_LUT = SEQUENTIAL.getLookupTable(nPts=256, alpha=False)
DIV_LUT = DIVERGING.getLookupTable(nPts=256, alpha=False)

#: The diverging scales a user can choose: name -> (words, lookup table). The first is the default.
#: Purple-white-orange is ColorBrewer's PuOr, chosen to stay apart under the common colour-vision deficiencies.
DIVERGING_SCALES = {
    "blue-white-red": ("blue–white–red", DIV_LUT),
    "purple-white-orange": ("purple–white–orange (colour-blind safe)", pg.ColorMap(
        pos=np.array([0.0, 0.25, 0.5, 0.75, 1.0]),
        color=np.array([[45, 0, 75], [128, 115, 172], [247, 247, 247], [224, 130, 20], [127, 59, 8]],
                       dtype=np.ubyte)).getLookupTable(nPts=256, alpha=False)),
}
_diverging = {"name": "blue-white-red"}


def set_diverging(name: str) -> None:
    """Draw every signed map from now on with the scale ``name`` (a key of :data:`DIVERGING_SCALES`)."""
    if name not in DIVERGING_SCALES:
        raise ValueError(f"no colour scale {name!r}; choose one of {', '.join(DIVERGING_SCALES)}")
    _diverging["name"] = name


def diverging_name() -> str:
    return _diverging["name"]


def diverging_words() -> str:
    return DIVERGING_SCALES[_diverging["name"]][0]


#: Each diverging scale's colours of a positive and of a negative number, in words.
_SIGNS = {"blue-white-red": ("red", "blue"), "purple-white-orange": ("orange", "purple")}


def sign_words() -> tuple[str, str]:
    """``(positive, negative)``: the colours the chosen scale gives a positive and a negative number."""
    return _SIGNS[_diverging["name"]]

def levels_for(array: np.ndarray, diverging: bool) -> tuple[float, float]:
    """Display levels: symmetric around zero for signed maps, [min, max] otherwise."""
    a = np.asarray(array)
    finite = a[np.isfinite(a)] if a.size else a
    if finite.size == 0:
        return (-1.0, 1.0) if diverging else (0.0, 1.0)
    if diverging:
        m = float(np.max(np.abs(finite)))
        m = m if m > 0 else 1.0   # all zero: any symmetric scale shows white
        return (-m, m)
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        hi = lo + (abs(lo) if lo else 1.0)
    return (lo, hi)


def lut_for(diverging: bool) -> np.ndarray:
    return DIVERGING_SCALES[_diverging["name"]][1] if diverging else SEQ_LUT


def fmt_level(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 0.001:
        return f"{v:.2e}"
    return f"{v:.3g}"


def rgb_image(planes) -> np.ndarray:
    """A colour picture to draw: ``planes (3, H, W)``, the R, G and B levels in [0, 1] (clipped), as
    uint8 ``(H, W, 3)``."""
    a = np.clip(np.nan_to_num(np.asarray(planes, dtype=np.float64)), 0, 1)
    return np.ascontiguousarray((np.rint(a * 255)).astype(np.ubyte).transpose(1, 2, 0))


def colour_patches(filters) -> np.ndarray:
    """First-layer filters as colour patches: ``filters (F, 3, K, K)`` signed weights to levels in
    [0, 1], ``0.5 + 0.5·w / max|w|`` with the largest ``|w|`` of each filter, so grey is a weight of
    0 and each filter shows the colour it responds to most (however small its weights)."""
    w = np.asarray(filters, dtype=np.float64)
    m = np.abs(w).reshape(len(w), -1).max(axis=1).reshape(-1, 1, 1, 1)
    return 0.5 + 0.5 * w / np.where(m > 0, m, 1.0)
