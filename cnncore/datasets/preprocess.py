"""Bring a drawing to MNIST's convention, and images to the network's input.

MNIST's recipe (LeCun, Cortes and Burges): the digit's bounding box is scaled,
keeping its aspect ratio, so that the longer side is 20 pixels, with
anti-aliasing that produces grey levels; the result is placed in a 28x28 field
so that its centre of mass lands on the field's centre. :func:`preprocess_drawing`
does the same to a canvas, so a digit drawn in the app looks like the digits
the network was trained on.
"""
from __future__ import annotations

import numpy as np

__all__ = ["preprocess_drawing", "to_input", "resample", "digit_from_picture"]

_OUT = 28
_BOX = 20
_CENTRE = 14.0        # MNIST's centre of mass, in pixel indices (row, column)
_INK_MIN = 0.5 / 255  # a pixel counts as ink when it would not round to 0 in uint8


def _resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Weights ``R`` (n_out, n_in): ``R @ v`` resamples a row of ``n_in`` pixels to ``n_out``.

    Shrinking (or keeping the size) averages the input over each output pixel's
    footprint, exactly by area. Enlarging interpolates linearly between input
    pixel centres (area averaging would give blocky nearest-neighbour pixels).
    Each row of ``R`` sums to 1, so a uniform row stays uniform.
    """
    scale = n_out / n_in
    R = np.zeros((n_out, n_in))
    if scale <= 1.0:
        edges = np.arange(n_out + 1) / scale                   # footprints in input units
        lo, hi = edges[:-1, None], edges[1:, None]
        j = np.arange(n_in)[None, :]
        R = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
    else:
        centre = (np.arange(n_out) + 0.5) / scale - 0.5         # output centres in input indices
        centre = np.clip(centre, 0.0, n_in - 1)
        j0 = np.floor(centre).astype(int)
        j1 = np.minimum(j0 + 1, n_in - 1)
        f = centre - j0
        R[np.arange(n_out), j0] += 1.0 - f
        R[np.arange(n_out), j1] += f
    return R / R.sum(axis=1, keepdims=True)


def resample(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a 2-D float image to ``shape`` (rows, cols), anti-aliased (see
    :func:`_resample_matrix`); returns float64 of that shape."""
    rows, cols = int(shape[0]), int(shape[1])
    if rows < 1 or cols < 1:
        raise ValueError(f"target shape must be at least 1x1, got {shape}")
    image = np.asarray(image, dtype=np.float64)
    return _resample_matrix(image.shape[0], rows) @ image @ _resample_matrix(image.shape[1], cols).T


def preprocess_drawing(canvas, ink: float = 1) -> np.ndarray:
    """A drawing as MNIST would have stored it: float32 ``(28, 28)`` in [0, 1].

    ``canvas`` is a 2-D array of any size with values in [0, 1] (out-of-range
    values are clipped); ``ink`` is the value of the pen: 1 for light ink on a
    dark canvas (MNIST's own convention), 0 for dark ink on a light canvas.

    Steps: crop to the bounding box of the ink, scale it (keeping the aspect
    ratio, anti-aliased) so that its longer side is 20 pixels, and paste it into
    a 28x28 field shifted by whole pixels so that its centre of mass falls on
    pixel (14, 14), as MNIST did. A canvas without ink gives all zeros.
    """
    a = np.asarray(canvas, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"canvas must be a 2-D array, got shape {a.shape}")
    if ink not in (0, 1):
        raise ValueError(f"ink must be 1 (light on dark) or 0 (dark on light), got {ink!r}")
    a = np.nan_to_num(a, nan=0.0 if ink == 1 else 1.0)
    a = np.clip(a, 0.0, 1.0)
    if ink == 0:
        a = 1.0 - a
    out = np.zeros((_OUT, _OUT), dtype=np.float32)
    rows = np.flatnonzero((a >= _INK_MIN).any(axis=1))
    cols = np.flatnonzero((a >= _INK_MIN).any(axis=0))
    if rows.size == 0:
        return out
    a = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = a.shape
    scale = _BOX / max(h, w)
    nh = max(1, min(_BOX, int(round(h * scale))))
    nw = max(1, min(_BOX, int(round(w * scale))))
    small = np.clip(resample(a, (nh, nw)), 0.0, 1.0)
    total = small.sum()
    if not total > 0:  # only possible for ink below _INK_MIN after resampling
        return out
    cy = (small.sum(axis=1) * np.arange(nh)).sum() / total
    cx = (small.sum(axis=0) * np.arange(nw)).sum() / total
    top = int(np.rint(_CENTRE - cy))
    left = int(np.rint(_CENTRE - cx))
    # Paste, cutting off whatever would fall outside the field (only for very
    # lopsided digits whose centre of mass is near one edge of their box).
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + nh, _OUT), min(left + nw, _OUT)
    out[r0:r1, c0:c1] = small[r0 - top:r1 - top, c0 - left:c1 - left]
    return out


#: Levels this close to the paper's are paper (a photo's grain, a JPEG's noise): a picture with no
#: ink further from its paper than that is blank.
_PAPER_NOISE = 24 / 255
#: Where ink starts, of the way from the paper's level to the strongest ink's: a shadow, the grey of
#: paper that is not white or a speck of a camera's noise stays paper (one speck of "ink" in a corner
#: made the digit's box the whole picture).
_INK_FROM = 1 / 3


def digit_from_picture(grey) -> np.ndarray:
    """A picture of a digit (grey levels in [0, 1], ``(H, W)``, either dark ink on light paper or
    light on dark) as MNIST would have stored it: float32 ``(28, 28)``. The paper is the border's
    usual level and the ink what lies furthest from it: ink darker than the paper is turned round
    (by the border's brightness alone, dark ink on dark grey paper was read as light ink on black).
    Paper of any shade becomes black and the strongest ink white (:func:`_ink_on_black`), as in
    MNIST (the grey paper of a photo was all taken for ink, and the digit came out a small mark in
    a grey box). A 28×28 picture of light ink is taken as it is; a picture of one grey level, or
    whose ink is no further from its paper than a photo's noise, is blank (all zeros)."""
    grey = np.asarray(grey, dtype=np.float64)
    if np.ptp(grey) < 1 / 255:                 # one grey level: nothing drawn, whatever its shade
        return np.zeros((_OUT, _OUT), np.float32)
    paper = float(np.median(_border(grey)))
    ink = 0 if paper - grey.min() > grey.max() - paper else 1          # the ink lies furthest from the paper
    if grey.shape == (_OUT, _OUT) and ink == 1:
        return grey.astype(np.float32)
    if ink == 0:
        grey, paper = 1.0 - grey, 1.0 - paper
    return preprocess_drawing(_ink_on_black(grey, paper), ink=1)


def _border(a: np.ndarray) -> np.ndarray:
    """The levels of a picture's outermost rows and columns, ``(2W + 2H,)``."""
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


def _ink_on_black(light: np.ndarray, paper: float) -> np.ndarray:
    """Light ink on paper of level ``paper`` (``light``: levels in [0, 1], the ink the lighter) as ink on
    black: the paper 0, the ink's usual level (the median of the levels past halfway from the paper to
    the lightest: a speck of noise is not the ink's level) 1, levels less than :data:`_INK_FROM` of the
    way from the paper to it 0; all zeros when the ink is no more than :data:`_PAPER_NOISE` from the paper."""
    strong = light[light > (paper + float(light.max())) / 2]
    ink = float(np.median(strong)) if strong.size else paper
    if ink - paper <= _PAPER_NOISE:
        return np.zeros_like(light)
    lo = paper + _INK_FROM * (ink - paper)
    return np.clip((light - lo) / (ink - lo), 0.0, 1.0)


def to_input(X) -> np.ndarray:
    """Images as the network's input: uint8 ``(N, 28, 28)`` -> float32 ``(N, 1, 28, 28)`` in [0, 1].

    Divides by 255 (the network's input convention). Also accepts uint8
    ``(N, 1, 28, 28)`` (already with the channel axis). Raises ``TypeError`` for
    another dtype and ``ValueError`` for another shape.
    """
    X = np.asarray(X)
    if X.dtype != np.uint8:
        raise TypeError(f"to_input expects uint8 images (0-255), got dtype {X.dtype}")
    if X.ndim == 3:
        X = X[:, None, :, :]
    if X.ndim != 4 or X.shape[1] != 1:
        raise ValueError(f"to_input expects images of shape (N, 28, 28) or (N, 1, H, W), got {X.shape}")
    return X.astype(np.float32) / np.float32(255.0)
