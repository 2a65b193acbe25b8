"""Heatmaps of every map a backprop step touches, one ``pyqtgraph.ImageItem`` per map.

:class:`MapGrid` lays out groups of maps (one group per array, e.g. ``L0.z``) in pixel
coordinates inside a scrolling :class:`pyqtgraph.GraphicsView`. Items are pooled: they are
created once and then only updated with ``setImage`` and ``setRect``, so stepping is cheap.

Colour maps are the app's (:mod:`cnnapp.widgets.colour_scales`); every group carries its own colour
bar with its scale. The numbers behind the pictures, the keyboard, one map alone and the zoom are
:class:`cnnapp.widgets.map_tools.MapGridTools`'.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from .colour_scales import (DIV_LUT, DIVERGING, DIVERGING_SCALES, SEQ_LUT, SEQUENTIAL, diverging_name,  # noqa: F401
                            diverging_words, fmt_level, levels_for, lut_for, rgb_image, set_diverging)
from .map_tiles import (_BAR_W, _GAP, _GROUP_GAP, _TITLE_H, MapGroup, _add_winner_corners, title_lines,  # noqa: F401
                        _GridView, _GroupLayout, _Tile, _Used, plan_tiles, plane_cell, zoom_for)
from .map_marks import MapGridMarks
from .map_tools import MapGridTools


class MapGrid(MapGridTools, MapGridMarks, QtWidgets.QScrollArea):
    """All heatmaps of one step. ``set_groups([MapGroup, ...])`` replaces what is shown.

    Signals:
        hovered(key, index, value): the mouse is over one element (key None when over nothing).
        elementClicked(key, index): an element was clicked; ``index`` indexes the full array.
    """

    hovered = QtCore.Signal(object, object, object)
    elementClicked = QtCore.Signal(str, object)
    laidOut = QtCore.Signal()        # the tiles were placed anew (new maps, or a resize)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("mapGrid")
        self.setAccessibleName("Heatmaps of the current step")
        self.setToolTip("Every map this step reads or writes. Hover a pixel for its value;\n"
                        "click it to see how that number was computed.")
        self.setWidgetResizable(False)
        # (maps wider than the view, zoomed for a projector or in a narrow column, scroll across: they were cut)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAsNeeded)
        self.setAlignment(QtCore.Qt.AlignHCenter | QtCore.Qt.AlignTop)
        self.view = _GridView()
        self.setWidget(self.view)
        self._images: list[pg.ImageItem] = []
        self._bars: list[pg.ImageItem] = []
        self._texts: list[QtWidgets.QGraphicsSimpleTextItem] = []
        self._marks: list[QtWidgets.QGraphicsPathItem] = []
        self._groups: list[MapGroup] = []
        self._tiles: list[_Tile] = []
        self._arrays: dict[str, np.ndarray] = {}
        self._n_images = 0
        self._highlight = _TwoToneRect()
        self._highlight.setZValue(20)
        self._highlight.hide()
        self.view.scene().addItem(self._highlight)
        self._source_marks = QtWidgets.QGraphicsPathItem()
        self._source_marks.setPen(pg.mkPen((255, 140, 0), width=1.5))
        self._source_marks.setZValue(15)
        self._target_mark = QtWidgets.QGraphicsPathItem()
        self._target_mark.setPen(pg.mkPen((255, 140, 0), width=3.5))
        self._target_mark.setZValue(16)
        self._window_mark = QtWidgets.QGraphicsPathItem()     # a sliding filter's window:
        self._window_mark.setPen(pg.mkPen((20, 20, 20), width=4.5))   # dark rim, orange core,
        self._window_mark.setZValue(17)                                  # seen on every colour map
        self._window_core = QtWidgets.QGraphicsPathItem()
        self._window_core.setPen(pg.mkPen((255, 140, 0), width=2))
        self._window_core.setZValue(18)
        self.view.scene().addItem(self._window_core)
        self.view.scene().addItem(self._source_marks)
        self.view.scene().addItem(self._target_mark)
        self.view.scene().addItem(self._window_mark)
        self._by_key: dict = {}
        self._by_prefix: dict = {}
        self._marked = (None, None)
        self._group_recs: list = []
        self.view.hovered.connect(self._on_hover)
        self.view.clicked.connect(self._on_click)
        self._relayout_timer = QtCore.QTimer(self, singleShot=True, interval=60)
        self._relayout_timer.timeout.connect(self._layout)
        self._last_width = 0
        #: One cell size for every plane (set by views that compare maps of different sizes, so a
        #: zero-padded map is drawn larger than the map it pads, never smaller).
        self.uniform_cells = False
        #: Tiles this many times their usual size (a view with few maps draws them larger).
        self.tile_scale = 1.0
        self._init_tools()
        self._make_fonts()                # (the titles' and numbers': again for another font or zoom)

    # ------------------------------------------------------------------ public
    def set_groups(self, groups: list[MapGroup]) -> None:
        same = self._same_layout(groups)
        self._groups = list(groups)
        self._marked = (None, None)
        self.cursor = self.cursor if same else None
        self._arrays = {g.key: np.asarray(g.array) for g in self._groups}
        if same:
            self._update_in_place()     # e.g. live maps while training: new numbers, same shapes
            self.mark_elements(None, None)   # outlines belonged to the old numbers
        else:
            self._layout()

    def _same_layout(self, groups) -> bool:
        recs = self._group_recs
        if not groups or len(groups) != len(recs):
            return False
        for g, r in zip(groups, recs):
            if (g.key != r["key"] or np.shape(g.array) != r["shape"] or g.diverging != r["diverging"]
                    or g.marks is not None or r["marks"] or (g.title or g.key) != r["title"]
                    or (g.colour is not None) != r["colour"]):
                return False
        return True

    def _update_in_place(self) -> None:
        fm = QtGui.QFontMetricsF(self._small_font)
        for g, r in zip(self._groups, self._group_recs):
            a = np.asarray(g.array, dtype=np.float32)
            levels = g.levels or levels_for(a, g.diverging)
            lut = lut_for(g.diverging)
            lo_s, hi_s = fmt_level(levels[0]), fmt_level(levels[1])
            self._texts[r["lo"]].setText(lo_s)
            bx = r["tx"] + fm.horizontalAdvance(lo_s) + 6
            if bx != r["bx"]:
                self._bars[r["bar"]].setRect(QtCore.QRectF(bx, r["y"] + 5, _BAR_W, 10))
                self._texts[r["hi"]].setPos(bx + _BAR_W + 6, r["y"] + 3)
                r["bx"] = bx
            self._texts[r["hi"]].setText(hi_s)
            for i in range(*r["tiles"]):
                t = self._tiles[i]
                if t.kind == "colour":
                    self._images[i].setImage(rgb_image(g.colour[t.prefix[0]]), levels=(0, 255), autoLevels=False)
                    continue
                if t.kind == "plane":
                    img = a[t.prefix]
                elif t.kind == "matrix":
                    img = a
                else:
                    flat = a.reshape(-1)
                    img = np.full(t.data.size, np.nan, dtype=np.float32)
                    img[:flat.size] = flat
                    img = img.reshape(t.data.shape)
                t.data = img
                self._images[i].setImage(img, levels=levels, lut=lut, autoLevels=False)

    def groups(self) -> list[MapGroup]:
        return list(self._groups)

    def map_items(self) -> list[pg.ImageItem]:
        """The ImageItems that currently show a map (one per map)."""
        return self._images[: self._n_images]

    def map_count(self) -> int:
        return self._n_images

    def tiles(self) -> list[_Tile]:
        return list(self._tiles)

    def grab_image(self) -> QtGui.QImage:
        """The whole grid as drawn now."""
        return self.view.grab().toImage()

    # ------------------------------------------------------------------ layout
    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        if abs(self.viewport().width() - self._last_width) > 8:
            self._relayout_timer.start()

    def _item(self, pool: list, factory, i: int):
        while len(pool) <= i:
            it = factory()
            self.view.scene().addItem(it)
            pool.append(it)
        it = pool[i]
        it.show()
        return it

    def _new_image(self):
        it = pg.ImageItem(axisOrder="row-major")
        it.setZValue(1)
        return it

    def _new_text(self):
        it = QtWidgets.QGraphicsSimpleTextItem()
        it.setZValue(2)
        return it

    def _new_mark(self):
        it = QtWidgets.QGraphicsPathItem()
        it.setPen(QtGui.QPen(QtCore.Qt.NoPen))
        it.setBrush(QtGui.QColor(255, 140, 0))
        it.setZValue(3)
        return it

    def _text(self, i: int, s: str, x: float, y: float, font, color=(30, 30, 30)):
        t = self._item(self._texts, self._new_text, i)
        t.setFont(font)
        t.setBrush(QtGui.QColor(*color))
        t.setText(s)
        t.setPos(x, y)
        return t

    def _layout(self) -> None:
        """Place every group top-down: its title line, then its tiles; hide what is left over."""
        avail = max(240, self.viewport().width() - 2 * _GAP)
        self._last_width = self.viewport().width()
        self._tiles = []
        self._group_recs = []
        used = _Used()
        y = float(_GAP)
        zoom = zoom_for(avail) * self.tile_scale * self.zoom
        title_h = max(_TITLE_H, QtGui.QFontMetricsF(self._title_font).height() + 6)
        common = self._common_cell(zoom) if self.uniform_cells else None
        alone = self._alone_plan()
        for g in self._groups if alone is None else [alone[0]]:
            a = np.asarray(g.array, dtype=np.float32)
            if alone is not None:
                common = self.alone_cell(*alone[1][1].shape, title_h, _GAP)
            lay = _GroupLayout(g, a, g.levels or levels_for(a, g.diverging), lut_for(g.diverging),
                               avail, zoom, common)
            rec = self._lay_title(lay, y, used, title_h)
            y += rec["height"]
            plan = plan_tiles(g.key, a, g.colour, g.channels) if alone is None else [alone[1]]
            if plan[0][0] in ("plane", "colour"):
                y = self._lay_planes(lay, plan, y, used)
            elif plan[0][0] == "matrix":
                y = self._lay_matrix(lay, y, used)
            else:
                y = self._lay_vector(lay, y, used)
            rec["tiles"] = (rec.pop("start"), used.images)
            self._group_recs.append(rec)
            y += _GROUP_GAP
        self._hide_unused(used)
        self._index_tiles()
        # Outlines survive a re-layout (resize) of the same maps; set_groups() drops them.
        target, sources = self._marked
        self.mark_elements(target, sources)
        right = max((t.rect.right() for t in self._tiles), default=0.0) + _GAP
        width = max(avail + 2 * _GAP, 240, math.ceil(right))
        height = max(int(y), 60)
        rect = QtCore.QRectF(0, 0, width, height)
        self.view.setFixedSize(int(width), int(height))
        self.view.setRange(rect, padding=0, lockAspect=True)
        self.laidOut.emit()

    def _lay_title(self, lay: "_GroupLayout", y: float, used: "_Used", title_h: float) -> dict:
        """The group's title with its colour bar and the bar's two ends: on one line, or, when the
        title leaves the bar no room, the bar on a line of its own under it (a title wider than the
        maps takes as many lines as it needs: zoomed, cut in the middle, it read "sa…8)"). The record's
        ``height`` is the lines'."""
        g, levels = lay.group, lay.levels
        fm, tfm = QtGui.QFontMetricsF(self._small_font), QtGui.QFontMetricsF(self._title_font)
        lo_s, hi_s = fmt_level(levels[0]), fmt_level(levels[1])
        bar_w = 16 + fm.horizontalAdvance(lo_s) + 6 + _BAR_W + 6 + fm.horizontalAdvance(hi_s)
        full = g.title or g.key
        text, height, by = full, title_h, y
        if tfm.horizontalAdvance(full) + bar_w > lay.avail:
            text = "\n".join(title_lines(full, tfm, lay.avail))
            below = title_h + text.count("\n") * tfm.lineSpacing()
            height, by = below + max(16.0, fm.height() + 2), y + below - 4
        title = self._text(used.next("texts"), text, _GAP, y, self._title_font)
        title.setToolTip(full if text.replace("\n", " ") != full else "")
        tx = _GAP + title.boundingRect().width() + 16 if by == y else _GAP
        lo_i = used.next("texts")
        self._text(lo_i, lo_s, tx, by + 3, self._small_font, (80, 80, 80))
        bx = tx + fm.horizontalAdvance(lo_s) + 6
        bar_i = used.next("bars")
        bar = self._item(self._bars, self._new_image, bar_i)
        bar.setImage(np.linspace(0.0, 1.0, 256, dtype=np.float32)[None, :], levels=(0.0, 1.0), lut=lay.lut)
        bar.setRect(QtCore.QRectF(bx, by + 5, _BAR_W, 10))
        hi_i = used.next("texts")
        self._text(hi_i, hi_s, bx + _BAR_W + 6, by + 3, self._small_font, (80, 80, 80))
        return {"key": g.key, "shape": lay.array.shape, "diverging": g.diverging, "marks": g.marks is not None,
                "colour": g.colour is not None,
                "title": full, "lo": lo_i, "hi": hi_i, "bar": bar_i,
                "tx": tx, "bx": bx, "y": by, "height": height, "start": used.images}

    def _lay_planes(self, lay: "_GroupLayout", plan: list, y: float, used: "_Used") -> float:
        """2-D planes side by side, wrapping; a filter bank one line per filter. Returns the next y."""
        g = lay.group
        h, w = plan[0][1].shape[:2]
        s = lay.common or plane_cell(h, w, g.marks is not None, lay.zoom)
        tw, th = w * s, h * s
        grid = plan[0][4] is not None
        per_row = max(1, int((lay.avail + _GAP) // (tw + _GAP)))
        mark_path = QtGui.QPainterPath() if g.marks is not None else None
        marks = np.asarray(g.marks) if g.marks is not None else None
        across = max(e[4][1] for e in plan) + 1 if grid else 0      # tiles in a filter's line
        # filters of a few tiles each (a colour patch and R, G, B) side by side, a tile's gap between
        side_by_side = max(1, (per_row + 1) // (across + 1)) if grid and g.colour is not None else 1
        rows_used = 0
        for k, (kind, img, prefix, label, pos) in enumerate(plan):
            if side_by_side > 1:
                f, ch = pos
                r, c = f // side_by_side, (f % side_by_side) * (across + 1) + ch
            elif grid:   # one line per filter; wrap when it has too many channels, in even lines (12 + 12,
                f, ch = pos                                   # not 21 + 3)
                lines = (across + per_row - 1) // per_row
                per_line = (across + lines - 1) // lines
                r, c = f * lines + ch // per_line, ch % per_line
            else:               # wrapped in even lines too (4 + 4 filters, not 7 + 1)
                r, c = divmod(k, -(-len(plan) // -(-len(plan) // per_row)))
            rows_used = max(rows_used, r + 1)
            rect = QtCore.QRectF(_GAP + c * (tw + _GAP), y + r * (th + _GAP), tw, th)
            if kind == "colour":        # a colour picture: its levels drawn as they are
                self._set_image(used.next("images"), img, rect, (0, 255), None)
                self._tiles.append(_Tile(g.key, img.mean(axis=2) / 255.0, rect, "colour", prefix=prefix, label=label))
                continue
            self._set_image(used.next("images"), img, rect, lay.levels, lay.lut)
            self._tiles.append(_Tile(g.key, img, rect, "plane", prefix=prefix, label=label))
            if mark_path is not None and marks.ndim == lay.array.ndim:
                _add_winner_corners(mark_path, marks[prefix], rect, s)
        if mark_path is not None:
            self._item(self._marks, self._new_mark, used.next("marks")).setPath(mark_path)
        return y + rows_used * (th + _GAP)

    def _lay_matrix(self, lay: "_GroupLayout", y: float, used: "_Used") -> float:
        """A dense layer's weights as one image. Returns the next y."""
        a = lay.array
        h, w = a.shape
        s = min(12.0 * lay.zoom, lay.avail / w)   # may go below 1 px per cell for wide matrices
        if h * s > 400:
            s = 400.0 / h
        rect = QtCore.QRectF(_GAP, y, w * s, h * s)
        self._set_image(used.next("images"), a, rect, lay.levels, lay.lut)
        self._tiles.append(_Tile(lay.group.key, a, rect, "matrix", label="matrix"))
        return y + h * s + _GAP

    def _lay_vector(self, lay: "_GroupLayout", y: float, used: "_Used") -> float:
        """A vector in rows of cells; a short one (logits, biases) large, with each index below."""
        a = lay.array
        flat = a.reshape(-1)
        n = flat.size
        s = (26.0 if n <= 16 else 10.0) * lay.zoom
        cols = max(1, min(n, int(lay.avail // s), 40 if n > 40 else n))
        rows = (n + cols - 1) // cols
        img = np.full(rows * cols, np.nan, dtype=np.float32)
        img[:n] = flat
        img = img.reshape(rows, cols)
        rect = QtCore.QRectF(_GAP, y, cols * s, rows * s)
        self._set_image(used.next("images"), img, rect, lay.levels, lay.lut)
        self._tiles.append(_Tile(lay.group.key, img, rect, "vector", shape=a.shape, cols=cols))
        if n <= 16:   # small vectors: print the index under each cell
            fm = QtGui.QFontMetricsF(self._small_font)
            for i in range(n):
                label = str(i)
                self._text(used.next("texts"), label, _GAP + i * s + (s - fm.horizontalAdvance(label)) / 2,
                           y + s, self._small_font, (110, 110, 110))
            y += fm.height()
        return y + rows * s + _GAP

    def _hide_unused(self, used: "_Used") -> None:
        for pool, n in ((self._images, used.images), (self._bars, used.bars), (self._texts, used.texts),
                        (self._marks, used.marks)):
            for it in pool[n:]:
                it.hide()
        self._n_images = used.images
        self._highlight.hide()
        self.show_windows(None)

    def _index_tiles(self) -> None:
        self._by_key, self._by_prefix = {}, {}
        for t in self._tiles:
            self._by_key.setdefault(t.key, []).append(t)
            if t.kind == "plane":
                self._by_prefix[(t.key, tuple(t.prefix))] = t

    def _common_cell(self, zoom: float) -> float | None:
        """The cell size that fits the largest plane of all groups (``uniform_cells``)."""
        sides = [max(np.shape(g.array)[-2:]) for g in self._groups if np.ndim(g.array) >= 3]   # planes
        return plane_cell(max(sides), max(sides), False, zoom) if sides else None

    def _set_image(self, i, img, rect, levels, lut):
        it = self._item(self._images, self._new_image, i)
        img = np.asarray(img, dtype=np.ubyte if lut is None else np.float32)     # no table: RGB levels
        same_shape = it.image is not None and it.image.shape == img.shape
        it.setImage(img, levels=levels, lut=lut, autoLevels=False)
        if not (same_shape and getattr(it, "_cnn_rect", None) == rect):
            it.setRect(rect)      # moving an item is costly in pyqtgraph: only when it changed
            it._cnn_rect = QtCore.QRectF(rect)

    # ------------------------------------------------------------------- mouse
    def _tile_at(self, p: QtCore.QPointF):
        for t in self._tiles:
            if t.rect.contains(p):
                h, w = t.data.shape
                c = int((p.x() - t.rect.x()) / t.rect.width() * w)
                r = int((p.y() - t.rect.y()) / t.rect.height() * h)
                r, c = min(max(r, 0), h - 1), min(max(c, 0), w - 1)
                idx = t.index_at(r, c)
                if idx is None:
                    return None
                return t, r, c, idx
        return None

    def _on_hover(self, p):
        hit = self._tile_at(p) if p is not None else None
        if hit is None:
            self._highlight.hide()
            self.hovered.emit(None, None, None)
            return
        t, r, c, idx = hit
        h, w = t.data.shape
        cw, ch = t.rect.width() / w, t.rect.height() / h
        self._highlight.setRect(t.rect.x() + c * cw, t.rect.y() + r * ch, cw, ch)
        self._highlight.show()
        arr = self._arrays.get(t.key)
        value = float(arr[idx]) if arr is not None else float("nan")
        self.hovered.emit(t.key, idx, value)

    def _on_click(self, p):
        hit = self._tile_at(p)
        if hit is not None:
            self.elementClicked.emit(hit[0].key, hit[3])


class _TwoToneRect(QtWidgets.QGraphicsRectItem):
    """The element under the pointer or the keyboard's cursor: dark dashes on a white line, seen on the
    darkest and the lightest colours of every scale (dark dashes alone vanished on viridis's purple)."""

    def __init__(self) -> None:
        super().__init__()
        self._under = pg.mkPen((255, 255, 255), width=3.0)
        self._over = pg.mkPen((20, 20, 20), width=1.5, style=QtCore.Qt.DashLine)
        self.setPen(self._under)                # (its width sets the item's bounds)

    def paint(self, painter, option, widget=None) -> None:
        for pen in (self._under, self._over):
            painter.setPen(pen)
            painter.drawRect(self.rect())
