"""How a map group is cut into tiles and how large they are drawn: :func:`plan_tiles`, :class:`MapGroup`,
the tiles' records and the graphics view that reports the mouse (the pieces :class:`cnnapp.widgets.heatmap.MapGrid`
lays out)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

_GAP = 6          # px between tiles
_GROUP_GAP = 14   # px between groups
_TITLE_H = 22     # px for a group's title line
_BAR_W = 120      # px, colour bar length
_BASE_WIDTH = 640  # px of room at which tiles have their base size; wider views draw them larger


def title_lines(text: str, metrics: QtGui.QFontMetricsF, width: float) -> list[str]:
    """``text`` broken between words into lines no wider than ``width`` px (a word wider than that alone
    on its line, cut in the middle)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and metrics.horizontalAdvance(lines[-1] + " " + word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return [line if metrics.horizontalAdvance(line) <= width else
            metrics.elidedText(line, QtCore.Qt.ElideMiddle, width) for line in lines]


def zoom_for(avail: float) -> float:
    """How much larger than the base size tiles are drawn in a view ``avail`` px wide (1 to 2.5)."""
    return max(1.0, min(2.5, avail / _BASE_WIDTH))


def plane_cell(h: int, w: int, marked: bool, zoom: float) -> float:
    """Screen pixels per element of an ``h × w`` plane: a ~72 px tile at zoom 1 (~150 px when
    max-pool winners are marked on it, so the marks stay legible), whole pixels, 1 to 16."""
    target = (150.0 if marked else 72.0) * zoom
    return float(max(1, min(16, round(target / max(h, w)))))


@dataclass
class MapGroup:
    """One array to draw: ``key`` (e.g. ``"L1.dz"``), the array, a title, its colour map kind
    and optionally a boolean mask (same shape) of cells to mark (max-pool winners).

    A ``(N, 3, H, W)`` array of a colour picture's planes (or of first-layer filters over them) may
    carry ``colour``: ``(N, 3, H, W)`` levels in [0, 1] drawn as one colour picture before each
    row's three planes (:func:`~cnnapp.widgets.colour_scales.rgb_image`); ``channels`` then names
    the planes ("R", "G", "B")."""
    key: str
    array: np.ndarray
    title: str = ""
    diverging: bool = False
    marks: np.ndarray | None = None
    levels: tuple[float, float] | None = None
    colour: np.ndarray | None = None
    channels: tuple | None = None


@dataclass
class _Used:
    """How many pooled scene items a layout has used so far, per pool."""
    images: int = 0
    bars: int = 0
    texts: int = 0
    marks: int = 0

    def next(self, pool: str) -> int:
        """The index of the next free item of ``pool``, counted as used."""
        i = getattr(self, pool)
        setattr(self, pool, i + 1)
        return i


@dataclass
class _GroupLayout:
    """What the layout of one group needs: the group, its array, colour levels and table, the
    room across, the zoom and the common cell size (None: each plane its own)."""
    group: MapGroup
    array: np.ndarray
    levels: tuple
    lut: np.ndarray
    avail: float
    zoom: float
    common: float | None


def _add_winner_corners(path: QtGui.QPainterPath, mask, rect: QtCore.QRectF, s: float) -> None:
    """An orange corner on each winner of ``mask`` in the tile at ``rect`` (cells of ``s`` px),
    as in the Learn tab."""
    for rr, cc in zip(*np.nonzero(mask)):
        x0, y0, k = rect.x() + cc * s, rect.y() + rr * s, max(2.0, s * 0.55)
        path.addPolygon(QtGui.QPolygonF([QtCore.QPointF(x0, y0), QtCore.QPointF(x0 + k, y0),
                                         QtCore.QPointF(x0, y0 + k)]))
        path.closeSubpath()


@dataclass
class _Tile:
    key: str
    data: np.ndarray               # 2-D display image
    rect: QtCore.QRectF
    kind: str                      # "plane", "colour" (a picture of three planes), "vector" or "matrix"
    prefix: tuple = ()
    shape: tuple = ()              # original array shape (vector tiles)
    cols: int = 1
    label: str = ""

    def index_at(self, r: int, c: int):
        if self.kind == "colour":           # a colour picture: three numbers, not one (its planes give them)
            return None
        if self.kind == "vector":
            flat = r * self.cols + c
            n = int(np.prod(self.shape)) if self.shape else 1
            if flat >= n:
                return None
            return tuple(int(i) for i in np.unravel_index(flat, self.shape)) if self.shape else ()
        return tuple(self.prefix) + (int(r), int(c))


def plan_tiles(key: str, array: np.ndarray, colour=None,
               channels=None) -> list[tuple[str, np.ndarray | None, tuple, str, tuple]]:
    """How an array is cut into 2-D heatmaps: a list of (kind, image|None, prefix, label, grid pos).

    * ``(1, C, H, W)`` maps -> C planes; ``(F, C, KH, KW)`` filters -> F x C planes (one row per
      filter; a single row when C == 1); ``(C, H, W)`` -> C planes;
    * ``(1, n)``, ``(n,)`` and scalars -> one vector strip; other 2-D arrays -> one matrix.
    The grid position is (row, col) for filters and None for maps that simply wrap. With
    ``colour`` (levels in [0, 1] of the 4-D array's shape), each row of planes starts with a
    ``"colour"`` entry, its image uint8 ``(H, W, 3)``; ``channels`` names the planes in the labels.
    """
    from .colour_scales import rgb_image
    a = np.asarray(array)
    out = []
    if a.ndim == 4:
        n0, c = a.shape[0], a.shape[1]
        first = 1 if colour is not None else 0
        for f in range(n0):
            if colour is not None:
                out.append(("colour", rgb_image(colour[f]), (f,), "colour" if n0 == 1 else f"filter {f}, colour",
                            (f, 0) if n0 > 1 else None))
            for ch in range(c):
                name = f"channel {ch}" + (f" ({channels[ch]})" if channels is not None else "")
                if n0 == 1:
                    label, pos = name, None
                elif c == 1 and colour is None:
                    label, pos = f"filter {f}", None
                else:
                    label, pos = f"filter {f}, {name}", (f, ch + first)
                out.append(("plane", a[f, ch], (f, ch), label, pos))
    elif a.ndim == 3:
        for ch in range(a.shape[0]):
            out.append(("plane", a[ch], (ch,), f"channel {ch}", None))
    elif a.ndim == 2 and a.shape[0] != 1:
        out.append(("matrix", a, (), "", None))
    else:
        out.append(("vector", None, (), "", None))
    return out


class _GridView(pg.GraphicsView):
    hovered = QtCore.Signal(object)   # scene QPointF or None
    clicked = QtCore.Signal(object)
    doubleClicked = QtCore.Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.setFocusPolicy(QtCore.Qt.NoFocus)       # the grid around it takes the keyboard
        self.setMouseTracking(True)
        self.enableMouse(False)

    def mouseMoveEvent(self, ev):
        self.hovered.emit(self.mapToScene(ev.position().toPoint()))
        ev.accept()

    def leaveEvent(self, ev):
        self.hovered.emit(None)
        super().leaveEvent(ev)

    def mousePressEvent(self, ev):
        if ev.button() == QtCore.Qt.LeftButton:
            self.clicked.emit(self.mapToScene(ev.position().toPoint()))
        ev.accept()

    def mouseReleaseEvent(self, ev):
        ev.accept()

    def mouseDoubleClickEvent(self, ev):
        if ev.button() == QtCore.Qt.LeftButton:
            self.doubleClicked.emit(self.mapToScene(ev.position().toPoint()))
        ev.accept()

    def wheelEvent(self, ev):
        ev.ignore()  # let the scroll area scroll
