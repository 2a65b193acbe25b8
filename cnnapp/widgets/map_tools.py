"""What a :class:`~cnnapp.widgets.heatmap.MapGrid` offers besides its pictures: the numbers behind them
(a context menu, Ctrl+C, a table), the keyboard (the arrows move a cursor over the elements, Return
selects one as a click would), one map shown alone as large as the view allows, and a zoom.

Keys while the maps have the focus: ← → ↑ ↓ move over a map's elements (on to the next map past its
edge), Return or Space selects the element, M shows its map alone (and every map again), Ctrl+C copies
the map's numbers, the menu key (or Shift+F10) opens the menu.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from .map_tiles import plan_tiles
from .picture_numbers import NumbersDialog, Plane, copy_key, copy_text, tsv, tsv_blocks

__all__ = ["MapGridTools", "ALONE_MAX_CELL"]

#: Screen pixels per element at most for a map shown alone (a 2×2 map stays a picture, not four walls).
ALONE_MAX_CELL = 64
_KEYS = {QtCore.Qt.Key_Left: (0, -1), QtCore.Qt.Key_Right: (0, 1), QtCore.Qt.Key_Up: (-1, 0),
         QtCore.Qt.Key_Down: (1, 0)}
_SELECT = (QtCore.Qt.Key_Return, QtCore.Qt.Key_Enter, QtCore.Qt.Key_Space)


class MapGridTools:
    """Mixed into :class:`~cnnapp.widgets.heatmap.MapGrid` (which calls :meth:`_init_tools`)."""

    def _init_tools(self) -> None:
        self.zoom = 1.0                 # the window's zoom (Ctrl+= / Ctrl+− / Ctrl+0)
        self.alone = None               # (key, prefix) of the map shown alone, or None
        self.cursor = None              # (tile index, row, column) of the keyboard's cursor
        self.setFocusPolicy(QtCore.Qt.StrongFocus)
        self.setAccessibleDescription("Arrow keys move over the numbers, Return selects one, M shows its map "
                                      "alone, Ctrl+C copies the map's numbers, the menu key offers the rest")
        copy_key(self, lambda: self.copy_numbers())
        self.view.doubleClicked.connect(self._on_double_click)

    # ------------------------------------------------------------ the numbers
    def _tile_for_copy(self):
        """The tile the keyboard's cursor is on, else the one of the element marked, else the first
        (a colour picture's tile gives way to its first plane: its numbers are its planes')."""
        tiles = [t for t in self.tiles() if t.kind != "colour"]
        if not tiles:
            return None
        if self.cursor is not None and self.cursor[0] < len(self.tiles()):
            return self._number_tile(self.tiles()[self.cursor[0]])
        target = self._marked[0]
        if target is not None:
            hit = next((t for t in tiles if t.key == target[0] and (t.kind != "plane" or
                        tuple(target[1][:len(t.prefix)]) == tuple(t.prefix))), None)
            if hit is not None:
                return hit
        return tiles[0]

    def _number_tile(self, tile):
        """``tile``, or for a colour picture's tile the first plane it is made of."""
        if tile is None or tile.kind != "colour":
            return tile
        return next(t for t in self.tiles() if t.key == tile.key and t.kind == "plane"
                    and tuple(t.prefix[:1]) == tuple(tile.prefix))

    def plane_of(self, tile) -> Plane:
        """The numbers of one tile: a plane, a matrix, or a vector in its own shape (one row)."""
        a = self._arrays.get(tile.key)
        name = f"{tile.key} {tile.label}".strip() if tile.kind == "plane" else tile.key
        if tile.kind == "vector":
            flat = np.asarray(a, dtype=np.float64).reshape(1, -1) if a is not None else tile.data
            return Plane(name, flat, tile.key, flat_shape=tuple(np.shape(a)))
        return Plane(name, tile.data, tile.key, tile.prefix)

    def copy_numbers(self, tile=None) -> str:
        """Put the numbers of ``tile`` (default: :meth:`_tile_for_copy`'s) on the clipboard, tab-separated."""
        tile = tile or self._tile_for_copy()
        if tile is None:
            return ""
        text = tsv(self.plane_of(tile).values)
        copy_text(text)
        return text

    def copy_group(self, key: str) -> str:
        """Every map of array ``key``, each under its name."""
        text = tsv_blocks([(p.name, p.values) for p in (self.plane_of(t) for t in self.tiles()
                                                         if t.key == key and t.kind != "colour")])
        copy_text(text)
        return text

    def show_numbers(self, tile=None) -> NumbersDialog | None:
        """A table of the numbers of ``tile``'s array (every plane of it to choose from); selecting an
        element there selects it here."""
        tile = tile or self._tile_for_copy()
        if tile is None:
            return None
        same = [t for t in self.tiles() if t.key == tile.key and t.kind != "colour"]
        dialog = NumbersDialog([self.plane_of(t) for t in same], same.index(tile), self.window())
        dialog.chosen.connect(self.elementClicked)
        dialog.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def contextMenuEvent(self, ev) -> None:
        hit = self._tile_at(self.view.mapToScene(self.view.mapFrom(self, ev.pos())))
        tile = (self._number_tile(hit[0]) if hit is not None and ev.reason() != QtGui.QContextMenuEvent.Keyboard
                else self._tile_for_copy())
        if tile is None:
            return
        m = QtWidgets.QMenu(self)
        m.addAction(f"Copy the numbers of {self.plane_of(tile).name}",
                    lambda: self.copy_numbers(tile)).setShortcut(QtGui.QKeySequence.Copy)
        if sum(t.key == tile.key and t.kind != "colour" for t in self.tiles()) > 1:
            m.addAction(f"Copy every map of {tile.key}", lambda: self.copy_group(tile.key))
        m.addAction("Show the numbers as a table…", lambda: self.show_numbers(tile))
        if tile.kind == "plane":
            alone = self.alone == (tile.key, tuple(tile.prefix))
            m.addAction("Show every map again" if alone else "Show this map alone (M)",
                        lambda: self.show_alone(None if alone else (tile.key, tuple(tile.prefix))))
        m.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        m.popup(ev.globalPos())

    # ------------------------------------------------------------ one map alone
    def show_alone(self, which) -> None:
        """Show only the plane ``which`` = ``(key, prefix)``, as large as the view allows (None: every map)."""
        self.alone = None if which is None else (str(which[0]), tuple(int(i) for i in which[1]))
        self.cursor = None
        self._layout()

    def _alone_plan(self):
        """``(group, its plan's entry)`` of the plane shown alone (:attr:`alone`), or None."""
        if self.alone is None:
            return None
        key, prefix = self.alone
        g = next((g for g in self._groups if g.key == key), None)
        if g is None:
            return None
        entry = next((e for e in plan_tiles(key, np.asarray(g.array)) if e[0] == "plane" and tuple(e[2]) == prefix),
                     None)
        if entry is None:
            return None
        return replace(g, title=f"{g.title or g.key} · {entry[3]} alone (M: every map)"), entry[:4] + (None,)

    def alone_cell(self, h: int, w: int, title_h: float, gap: float) -> float | None:
        """Pixels per element of an ``h × w`` plane shown alone, filling the view (None: not alone)."""
        room_w = self.viewport().width() - 2 * gap
        room_h = self.viewport().height() - title_h - 3 * gap
        return float(max(1, min(ALONE_MAX_CELL, int(min(room_w / w, room_h / h)))))

    def _on_double_click(self, p) -> None:
        hit = self._tile_at(p)
        if self.alone is not None:
            self.show_alone(None)
        elif hit is not None and hit[0].kind == "plane":
            self.show_alone((hit[0].key, tuple(hit[0].prefix)))

    # ------------------------------------------------------------------ zoom
    def set_zoom(self, factor: float) -> None:
        """Draw the maps and their titles ``factor`` times their size (the window's zoom; the grid's own
        font stays as made, :class:`~cnnapp.widgets.zoom.TabZoomer` keeps it so)."""
        factor = float(factor)
        if factor != self.zoom:
            self.zoom = factor
            self._fit_fonts()

    def _fit_fonts(self) -> None:
        """The titles and numbers in the grid's font times the zoom, and the maps laid out again for them;
        zoomed, room for a title and a row of maps at least (at 400 % on 1024×640 the Backprop tab's maps
        had 60 px: the page scrolls instead)."""
        self._make_fonts()
        least = QtGui.QFontMetricsF(self._title_font).height() + 100 * self.zoom if self.zoom > 1 else 0
        self.setMinimumHeight(int(least))
        self._layout()

    def _make_fonts(self) -> None:
        font = self.font()
        base = font.pointSizeF() if font.pointSizeF() > 0 else QtGui.QFontInfo(font).pointSizeF()
        self._title_font, self._small_font = QtGui.QFont(font), QtGui.QFont(font)
        self._title_font.setBold(True)
        self._title_font.setPointSizeF(base * self.zoom)
        self._small_font.setPointSizeF(max(7.0, base * 0.85) * self.zoom)

    def changeEvent(self, ev) -> None:
        super().changeEvent(ev)
        if ev.type() == QtCore.QEvent.FontChange and hasattr(self, "_small_font"):    # (another font for the app)
            self._fit_fonts()

    # -------------------------------------------------------------- keyboard
    def event(self, ev) -> bool:
        # the arrows, Return and Space are the maps' while they have the focus (the Backprop tab's
        # step keys are window shortcuts: they would take them first)
        if ev.type() == QtCore.QEvent.ShortcutOverride and ev.modifiers() in (QtCore.Qt.NoModifier,
                                                                              QtCore.Qt.KeypadModifier):
            if ev.key() in _KEYS or ev.key() in _SELECT or ev.key() == QtCore.Qt.Key_M:
                ev.accept()
                return True
        return super().event(ev)

    def keyPressEvent(self, ev) -> None:
        key = ev.key()
        if key in (QtCore.Qt.Key_Left, QtCore.Qt.Key_Right) and ev.modifiers() & QtCore.Qt.ControlModifier \
                and self.tiles():
            self._jump(1 if key == QtCore.Qt.Key_Right else -1)     # the next or previous map at once
        elif key in _KEYS and self.tiles():
            self._move_cursor(*_KEYS[key])
        elif key in _SELECT and self.cursor is not None:
            tile, r, c = self._cursor_tile()
            index = tile.index_at(r, c)
            if index is not None:
                self.elementClicked.emit(tile.key, index)
        elif key == QtCore.Qt.Key_M and self.tiles():
            tile = self._tile_for_copy()
            self.show_alone(None if self.alone is not None or tile.kind != "plane" else (tile.key, tuple(tile.prefix)))
        else:
            super().keyPressEvent(ev)

    def _cursor_tile(self):
        k, r, c = self.cursor
        return self.tiles()[k], r, c

    def _move_cursor(self, dr: int, dc: int) -> None:
        tiles = self.tiles()
        if self.cursor is None or self.cursor[0] >= len(tiles):
            self.cursor = (next((k for k, t in enumerate(tiles) if t.kind != "colour"), 0), 0, 0)
        else:
            k, r, c = self.cursor
            h, w = tiles[k].data.shape
            r, c = r + dr, c + dc
            if not (0 <= r < h and 0 <= c < w):          # past the edge: the next (or previous) map
                step = 1 if dr + dc > 0 else -1
                k = (k + step) % len(tiles)
                while tiles[k].kind == "colour" and any(t.kind != "colour" for t in tiles):
                    k = (k + step) % len(tiles)          # a colour picture holds no one number: its planes do
                h, w = tiles[k].data.shape
                r = min(max(r, 0), h - 1) if dc else (0 if dr > 0 else h - 1)
                c = min(max(c, 0), w - 1) if dr else (0 if dc > 0 else w - 1)
            self.cursor = (k, r, c)
        self._show_cursor()

    def _jump(self, step: int) -> None:
        """The cursor to the first element of the next (``step`` 1) or previous map (some seventy arrows
        from the input to the first z map otherwise)."""
        tiles = self.tiles()
        k = (-1 if step > 0 else 0) if self.cursor is None or self.cursor[0] >= len(tiles) else self.cursor[0]
        for _ in range(len(tiles)):
            k = (k + step) % len(tiles)
            if tiles[k].kind != "colour" or all(t.kind == "colour" for t in tiles):
                break
        self.cursor = (k, 0, 0)
        self._show_cursor()

    def focusInEvent(self, ev) -> None:
        super().focusInEvent(ev)
        self._show_focus(True)

    def focusOutEvent(self, ev) -> None:
        super().focusOutEvent(ev)
        self._show_focus(False)

    def _show_focus(self, on: bool) -> None:
        """The frame round the maps in the highlight colour while they have the keyboard's focus (nothing
        showed it), as wide as the usual frame (the maps do not move)."""
        if not hasattr(self, "_usual_frame"):
            self._usual_frame = (self.frameShape(), self.frameShadow(), self.lineWidth(), self.frameWidth())
        shape, shadow, line, width = self._usual_frame
        if on and width > 0:
            self.setFrameShape(QtWidgets.QFrame.Box)
            self.setFrameShadow(QtWidgets.QFrame.Plain)
            self.setLineWidth(width)
            pal = self.palette()
            pal.setColor(QtGui.QPalette.WindowText, pal.color(QtGui.QPalette.Highlight))
            self.setPalette(pal)
        else:
            self.setFrameShape(shape)
            self.setFrameShadow(shadow)
            self.setLineWidth(line)
            self.setPalette(QtGui.QPalette())       # (the window's again)

    def _show_cursor(self) -> None:
        tile, r, c = self._cursor_tile()
        h, w = tile.data.shape
        cw, ch = tile.rect.width() / w, tile.rect.height() / h
        rect = QtCore.QRectF(tile.rect.x() + c * cw, tile.rect.y() + r * ch, cw, ch)
        self._highlight.setRect(rect)
        self._highlight.show()
        self.ensureVisible(int(rect.center().x()), int(rect.center().y()), int(cw) + 20, int(ch) + 20)
        index = tile.index_at(r, c)
        arr = self._arrays.get(tile.key)
        if index is not None and arr is not None:
            self.hovered.emit(tile.key, index, float(arr[index]))
