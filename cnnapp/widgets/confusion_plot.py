"""The held-out confusion matrix of the Train tab: :class:`ConfusionPlot`."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from cnncore.training import used_classes

from .heatmap import SEQ_LUT
from .picture_numbers import Plane, offer_numbers
from .plot_base import Plot, scaled
from .plots import is_digits, name_axis

__all__ = ["ConfusionPlot"]


class ConfusionPlot(Plot):
    """A confusion matrix (rows: true class, columns: the answer) with counts, of the classes in use
    (:func:`cnncore.training.used_classes`: a folder of two classes is a 2×2 matrix)."""

    def __init__(self, parent=None):
        super().__init__("Confusion matrix (held-out)", "true digit", "predicted digit", parent)
        self.setObjectName("confusionPlot")
        self.setAccessibleName("Confusion matrix")
        self.setToolTip("Rows: the true digit. Columns: what the network answered.\n"
                        "The diagonal holds the correct answers; everything else is a mistake.")
        p = self.getPlotItem()
        p.showGrid(x=False, y=False)
        p.setMouseEnabled(False, False)
        p.hideButtons()
        p.setMenuEnabled(False)          # the right button offers the numbers (offer_numbers)
        p.invertY(True)
        p.setAspectLocked(True)
        self._img = pg.ImageItem(axisOrder="row-major")
        p.addItem(self._img)
        self._labels = []          # a count label per cell shown, made on the first real matrix
        self._names = (tuple(str(i) for i in range(10)), "digit")
        self._shown = None         # the classes (rows and columns) shown
        self._m = np.zeros((10, 10), dtype=int)
        self._draw()
        offer_numbers(self, lambda: [Plane("confusion matrix (rows: true class, columns: answer)", self._m)])
        self.laidOut.connect(self._fit_counts)

    def follow_font(self) -> None:
        """The text in the widget's font, the names down the side with the room it asks now."""
        super().follow_font()
        if hasattr(self, "_shown"):
            self._shown = None
            self._draw()

    def set_classes(self, classes, kind: str | None = None, note: str = "") -> None:
        """Name the rows and columns (the digits, or another data set's classes, as shown); ``kind`` and
        ``note`` as the probability plot's."""
        classes = tuple(str(c) for c in classes)
        kind = kind or ("digit" if is_digits(classes) else "class")
        self.setToolTip(f"Rows: the true {kind}. Columns: what the network answered.\n"
                        "The diagonal holds the correct answers; everything else is a mistake."
                        + (f"\n{note}" if note else ""))
        if (classes, kind) != self._names:
            self._names, self._shown = (classes, kind), None
            self._draw()

    def set_matrix(self, m) -> None:
        self._m = np.asarray(m)
        self._draw()

    def _draw(self) -> None:
        classes, kind = self._names
        m = self._m
        shown = used_classes(classes, m)
        if shown != self._shown:
            self._shown = shown
            self._lay_out(classes, kind, shown)
        sub = m[np.ix_(shown, shown)]
        hi = max(1, int(sub.max(initial=0)))
        # Sequential colours on a square-root scale so the few mistakes stay visible.
        self._img.setImage(np.sqrt(sub.astype(np.float32)), levels=(0, np.sqrt(hi)), lut=SEQ_LUT)
        self._img.setRect(QtCore.QRectF(0, 0, len(shown), len(shown)))
        if not self._labels and sub.any():
            self._make_labels(len(shown))
        for k, t in enumerate(self._labels):
            v = int(sub.flat[k])
            text = str(v) if v else ""
            if t.textItem.toPlainText() != text:
                t.setText(text)
            # Dark text on the bright (yellow-green) end of viridis, white on the dark end.
            t.setColor((20, 20, 20) if v > 0.3 * hi else (255, 255, 255))
        self._fit_counts()

    def _lay_out(self, classes, kind: str, shown) -> None:
        """Ticks, range and count labels for the classes ``shown`` (each named with its own index)."""
        p, numbers, n = self.getPlotItem(), is_digits(classes), len(shown)
        named = [classes[k] if k < len(classes) else str(k) for k in shown]
        # names down the side ("3 Dress"); the columns, too narrow for names, are numbered alike
        names = [c if numbers else f"{k} {c}" for k, c in zip(shown, named)]
        name_axis(p.getAxis("left"), [[(j + 0.5, c) for j, c in enumerate(names)]], named)
        p.getAxis("bottom").setTicks([[(j + 0.5, str(k)) for j, k in enumerate(shown)]])
        p.getAxis("left").setLabel(f"true {kind}", color="#333")
        p.getAxis("bottom").setLabel(f"predicted {kind}" if numbers else "predicted class (numbered as the rows)",
                                     color="#333")
        p.setRange(xRange=(0, n), yRange=(0, n), padding=0.02)
        for t in self._labels:
            p.removeItem(t)
        self._labels = []

    def _make_labels(self, n: int) -> None:
        p = self.getPlotItem()
        for r in range(n):
            for c in range(n):
                t = pg.TextItem("", anchor=(0.5, 0.5), color=(255, 255, 255))
                t.setPos(c + 0.5, r + 0.5)
                p.addItem(t)
                self._labels.append(t)

    def _fit_counts(self) -> None:
        """The counts in the plot's font, or smaller where a cell is too small for the largest."""
        vb, n = self.getPlotItem().vb, max(1, len(self._shown or ()))
        cell = min(vb.width(), vb.height()) / n
        widest = "8" * len(str(int(self._m.max(initial=0))))
        font = scaled(self.font(), 1.0)              # (in points)
        while font.pointSizeF() > 6 and QtGui.QFontMetricsF(font).horizontalAdvance(widest) > cell - 2:
            font.setPointSizeF(font.pointSizeF() - 0.5)
        for t in self._labels:
            if t.textItem.font() != font:
                t.setFont(font)

    def matrix(self) -> np.ndarray:
        return self._m
