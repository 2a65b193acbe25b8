"""A conv layer's filter sliding over its input, one output element at a time (as in CNN Explainer).

On a conv forward step of the Backprop tab, :class:`FilterSlideView` draws the layer's input maps,
one filter and that filter's output map in its own :class:`~cnnapp.widgets.heatmap.MapGrid`,
frames the filter's window on every input map and fills the output in, element by element, in
reading order. Each tick moves one frame and redraws one small map, so it costs next to
nothing; it can be paused and resumed.
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from cnncore.plurals import plural

from .heatmap import MapGrid, MapGroup, levels_for


def _filled(full: np.ndarray, k: int) -> np.ndarray:
    """``full`` with the elements after the ``k``-th (reading order) blanked (NaN)."""
    out = np.full(full.shape, np.nan, dtype=np.float32)
    out.reshape(-1)[:k + 1] = full.reshape(-1)[:k + 1]
    return out


class FilterSlideView(QtWidgets.QWidget):
    """Signals: ``moved(text)`` after each position (what is being computed), ``finished()``."""

    moved = QtCore.Signal(str)
    finished = QtCore.Signal()

    #: About this many ticks for a whole map (large maps move several positions a tick).
    TICKS = 160

    def __init__(self, parent=None, interval_ms: int = 45):
        super().__init__(parent)
        self.setObjectName("filterSlide")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.caption = QtWidgets.QLabel("")
        self.caption.setWordWrap(True)
        lay.addWidget(self.caption)
        self.grid = MapGrid()
        self.grid.setObjectName("filterSlideMaps")
        self.grid.uniform_cells = True      # the output is as much smaller than the input as it is
        lay.addWidget(self.grid, 1)
        self.timer = QtCore.QTimer(self, interval=interval_ms)
        self.timer.timeout.connect(self.advance)
        self._job = None            # kept after the end, so a re-layout (resize) can redraw it
        self._done = False
        self.position = -1
        self.grid.laidOut.connect(self._redraw)

    # ------------------------------------------------------------------ control
    def start(self, arrays: dict, layer_index: int, layer: dict, filter_index: int = 0) -> None:
        """Begin sliding filter ``filter_index`` of conv layer ``layer_index`` (spec ``layer``)."""
        L, n = f"L{layer_index}.", int(filter_index)
        x = np.asarray(arrays[L + "x"])
        z = np.asarray(arrays[L + "z"])[:, n:n + 1]
        w = np.asarray(arrays[L + "W"])[n:n + 1]
        (KH, KW), (SH, SW), (PH, PW) = layer["kernel"], layer["stride"], layer["padding"]
        self._job = {"L": L, "n": n, "z": z[0, 0], "channels": x.shape[1],
                     "kernel": (KH, KW), "stride": (SH, SW), "padding": (PH, PW)}
        self.caption.setText(
            f"Filter {n} of layer {layer_index} slides over the {plural(x.shape[1], 'input map')} with stride "
            f"{SH}" + (f" over a zero border of {PH}" if PH or PW else "") + ": at each stop the framed "
            f"numbers are multiplied by the filter's and summed, plus the bias, into one element of z.")
        self.grid.tile_scale = 1.5 if x.shape[1] <= 2 else 1.0     # few maps: draw them large
        self.grid.set_groups([
            MapGroup(L + "x", x, f"input x ({' × '.join(map(str, x.shape[1:]))})", False),
            MapGroup(L + "W", w, f"filter {n} ({' × '.join(map(str, w.shape[1:]))})", True),
            MapGroup(L + "z", _filled(z, -1), f"z of filter {n}, filled in as the window moves", True,
                     levels=levels_for(z, True)),
        ])
        self.position = -1
        self._done = False
        self.timer.start()

    def pause(self) -> None:
        self.timer.stop()

    def resume(self) -> None:
        if self.active():
            self.timer.start()

    def running(self) -> bool:
        return self.timer.isActive()

    def active(self) -> bool:
        """Started and not yet finished or stopped (running or paused)."""
        return self._job is not None and not self._done

    def stop(self) -> None:
        self.timer.stop()
        self._job = None
        self.position = -1
        self.grid.show_windows(None)

    def _redraw(self) -> None:
        """Put the progress back after the grid placed its tiles anew (they show the start)."""
        if self._job is not None and self.position >= 0:
            self._draw(self._job, self.position)
            if self._done:
                self.grid.show_windows(None)

    # --------------------------------------------------------------------- ticks
    def advance(self) -> None:
        job = self._job
        if not self.active():
            return
        total = job["z"].size
        self.position = min(total - 1, self.position + max(1, total // self.TICKS))
        self._draw(job, self.position)
        if self.position >= total - 1:
            self.timer.stop()
            self._done = True
            self.grid.show_windows(None)
            self.finished.emit()

    def _draw(self, job, k: int) -> None:
        r, c = divmod(k, job["z"].shape[1])
        (KH, KW), (SH, SW), (PH, PW) = job["kernel"], job["stride"], job["padding"]
        top, left = r * SH - PH, c * SW - PW
        L, C, g = job["L"], job["channels"], self.grid
        H, W = job["z"].shape
        g.show_windows([g.cells_rect(L + "x", (0, ch), top, left, KH, KW) for ch in range(C)]
                       + [g.cells_rect(L + "W", (0, ch), 0, 0, KH, KW) for ch in range(C)]
                       + [g.cells_rect(L + "z", (0, 0), r, c), g.cells_rect(L + "z", (0, 0), 0, 0, H, W)])
        g.set_plane(L + "z", (0, 0), _filled(job["z"], k))
        self.moved.emit(f"Filter {job['n']} at output row {r}, column {c}: its {KH}×{KW} window starts at "
                        f"input row {top}, column {left}; z = Σ window · W + b = {job['z'][r, c]:.6g}")
