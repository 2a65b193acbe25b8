"""What the app's plots share: their look on a white page (:func:`style_plot`), and an epoch axis that
names the epochs its plot shows and no others (:class:`EpochAxis`, :class:`EpochPlot`)."""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6 import QtGui

#: How the epochs of the plots are counted, in a tooltip's words.
EPOCHS_COUNTED = ("Epochs count the network's whole training: a run from weights trained before numbers its "
                  "epochs after theirs.")


def style_plot(plot: pg.PlotItem, title: str, left: str, bottom: str) -> None:
    plot.setTitle(title, color="#222", size="11pt")
    for name, text in (("left", left), ("bottom", bottom)):
        ax = plot.getAxis(name)
        ax.setLabel(text, color="#333")
        ax.setPen(pg.mkPen("#888"))
        ax.setTextPen(pg.mkPen("#333"))
    # No pyqtgraph grid: its translucent lines across the whole plot make every repaint about
    # six times dearer, and these plots repaint while training runs. Fixed reference lines
    # (_guides) are drawn where a scale is known in advance.
    plot.setMenuEnabled(False)


class EpochAxis(pg.AxisItem):
    """A bottom axis of epochs whose labels never run together: one level of ticks at 1, 2 or 5
    times a power of ten (whole epochs only if ``whole``), far enough apart for their labels.
    pyqtgraph's own spacing put "0.5", "1.0" and "1.5" side by side on a plot 150 pixels wide.
    Where its plot shows no epochs (:meth:`name_epochs`), it names none."""

    FIRST_GUESS_PX = 12      # the tightest spacing tried first: no label is narrower
    GAP = "  "               # the room left between two labels, in spaces

    def __init__(self, whole: bool = False):
        super().__init__("bottom")
        self.whole = whole
        self.named = True

    def name_epochs(self, named: bool) -> None:
        """Number the axis, or leave it without numbers (its plot shows no epochs)."""
        if named != self.named:
            self.named = named
            self.picture = None
            self.update()

    def tickSpacing(self, minVal: float, maxVal: float, size: float):
        """One level of ticks: the smallest 1-2-5 step whose labels, with a gap, fit between ticks."""
        span = abs(maxVal - minVal)
        if not self.named or not (math.isfinite(span) and math.isfinite(size)) or span <= 0 or size <= 0:
            return []
        metrics = QtGui.QFontMetricsF(self.font())
        step = epoch_step(span * self.FIRST_GUESS_PX / size, self.whole)
        while step > 0 and math.isfinite(step):
            ends = self.tickStrings([minVal, maxVal], 1.0, step)
            if step * size / span >= max(metrics.horizontalAdvance(t + self.GAP) for t in ends):
                return [(step, 0)]
            step = epoch_step(step * 1.5, self.whole)      # the next 1-2-5 step
        return []


def epoch_step(at_least: float, whole: bool = False) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``at_least`` (at least 1 if
    ``whole``); 0 for an ``at_least`` that is not a positive finite number."""
    if whole:
        at_least = max(at_least, 1.0)
    if not (math.isfinite(at_least) and at_least > 0):
        return 0.0
    power = 10.0 ** math.floor(math.log10(at_least))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * power >= at_least * (1 - 1e-9):
            return float(m * power)
    return float(10 * power)


class EpochPlot(pg.PlotWidget):
    """A plot over epochs titled ``title``, its values named ``left`` (an :class:`EpochAxis`, of ``whole``
    epochs if asked), whose axis spans the epochs it shows, and names none while it shows nothing
    (:meth:`set_epochs`)."""

    def __init__(self, title: str, left: str, whole: bool = False, parent=None):
        super().__init__(parent, background="w", axisItems={"bottom": EpochAxis(whole=whole)})
        style_plot(self.getPlotItem(), title, left, "epoch")
        self._span = None
        self.set_epochs(None)

    def set_epochs(self, epochs: float | None, first: float = 0.0) -> None:
        """Fix the x axis to the ``epochs`` epochs after the network's ``first`` (a run's, or a network's
        history), so it is not recomputed on every update; None: the plot shows no epochs, and its
        axis names none (not the epochs of a run that was set up and never began)."""
        p = self.getPlotItem()
        self._span = None if epochs is None else (float(first), float(first) + float(epochs))
        axis = p.getAxis("bottom")
        axis.name_epochs(self._span is not None)
        if self._span is None:
            p.enableAutoRange(axis="x")
            return
        lo, hi = self._span
        if axis.whole:          # points at the ends of whole epochs, half an epoch from the edges
            p.setXRange(lo + 0.5 * min(1.0, hi - lo), hi + 0.5, padding=0)
        else:
            p.setXRange(lo, max(hi, lo + 1.0), padding=0.02)

    def epochs(self) -> tuple[float, float] | None:
        """The epochs the axis spans, ``(first, last)``; None while the plot shows none."""
        return self._span
