"""Outlines on a :class:`~cnnapp.widgets.heatmap.MapGrid`'s maps: a clicked element and the numbers it
was computed from, a sliding filter's windows, and another image drawn on one plane (mixed into MapGrid)."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui

__all__ = ["MapGridMarks"]


class MapGridMarks:
    """Where elements are drawn (:meth:`scene_rect_of`, :meth:`cells_rect`) and the outlines on them."""

    def scene_rect_of(self, key: str, index: tuple) -> QtCore.QRectF | None:
        """Scene rectangle of one element ``array[index]`` (full index), or None when not shown."""
        index = tuple(int(i) for i in index)
        tiles = [t for t in self._by_key.get(key, ()) if t.kind != "colour"]    # (a colour patch holds no one number)
        if not tiles:
            return None
        t0 = tiles[0]
        if t0.kind == "plane":
            n = len(t0.prefix)
            if len(index) != n + 2:
                return None
            t = self._by_prefix.get((key, index[:n]))
            if t is None:
                return None
            r, c = index[n], index[n + 1]
        elif t0.kind == "matrix":
            if len(index) != 2:
                return None
            t, (r, c) = t0, index
        else:
            t = t0
            try:
                flat = int(np.ravel_multi_index(index, t.shape)) if t.shape else 0
            except ValueError:
                return None
            r, c = divmod(flat, t.cols)
        h, w = t.data.shape
        if not (0 <= r < h and 0 <= c < w):
            return None
        cw, ch = t.rect.width() / w, t.rect.height() / h
        return QtCore.QRectF(t.rect.x() + c * cw, t.rect.y() + r * ch, cw, ch)

    def mark_elements(self, target=None, sources: dict | None = None) -> int:
        """Outline one element ``(key, index)`` and the elements it was computed from
        (``{key: {index, ...}}``, e.g. ``Breakdown.sources()``). Returns how many were drawn."""
        self._marked = (target, sources)
        path = QtGui.QPainterPath()
        n = 0
        for key, indices in (sources or {}).items():
            for idx in indices:
                r = self.scene_rect_of(key, idx)
                if r is not None:
                    path.addRect(r.adjusted(0.5, 0.5, -0.5, -0.5))
                    n += 1
        self._source_marks.setPath(path)
        tpath = QtGui.QPainterPath()
        if target is not None:
            r = self.scene_rect_of(*target)
            if r is not None:
                tpath.addRect(r.adjusted(-1, -1, 1, 1))
        self._target_mark.setPath(tpath)
        return n

    def cells_rect(self, key: str, prefix: tuple, row: int, col: int, rows: int = 1,
                   cols: int = 1) -> QtCore.QRectF | None:
        """Scene rectangle of ``rows × cols`` cells from ``(row, col)`` of one plane, reaching past
        its edges where asked (a filter window over zero padding); None when not shown."""
        t = self._by_prefix.get((key, tuple(prefix)))
        if t is None:
            return None
        h, w = t.data.shape
        cw, ch = t.rect.width() / w, t.rect.height() / h
        return QtCore.QRectF(t.rect.x() + col * cw, t.rect.y() + row * ch, cols * cw, rows * ch)

    def show_windows(self, rects) -> None:
        """Frame these scene rectangles (a filter's window on each input map); none hides the frames."""
        path = QtGui.QPainterPath()
        for r in rects or ():
            if r is not None:
                path.addRect(r)
        self._window_mark.setPath(path)
        self._window_core.setPath(path)

    def set_plane(self, key: str, prefix: tuple, image: np.ndarray) -> bool:
        """Draw another image (same shape; NaN shows as blank) on one plane, keeping its colour scale."""
        t = self._by_prefix.get((key, tuple(prefix)))
        if t is None or np.shape(image) != t.data.shape:
            return False
        item = self._images[next(i for i, u in enumerate(self._tiles) if u is t)]
        item.setImage(np.asarray(image, dtype=np.float32), levels=item.getLevels(), autoLevels=False)
        return True
