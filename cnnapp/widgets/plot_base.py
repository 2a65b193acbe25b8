"""What every plot of the app shares: a white page whose text is set in the font of the tab around it
(:class:`Plot`), its legend under it (:class:`RowLegend`), and an epoch axis that names the epochs the plot shows and no others
(:class:`EpochAxis`, :class:`EpochPlot`)."""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6 import QtCore, QtGui

#: A title's size, as a share of the plot's font.
TITLE_SCALE = 1.2
#: How the epochs of the plots are counted, in a tooltip's words.
EPOCHS_COUNTED = ("Epochs count the network's whole training: a run from weights trained before numbers its "
                  "epochs after theirs.")


def style_plot(plot: pg.PlotItem, title: str, left: str, bottom: str) -> None:
    """Dark text and axes on the white page (the sizes are the font's: :meth:`Plot.follow_font`)."""
    plot.setTitle(title, color="#222")
    for name, text in (("left", left), ("bottom", bottom)):
        ax = plot.getAxis(name)
        ax.setLabel(text, color="#333")
        ax.setPen(pg.mkPen("#888"))
        ax.setTextPen(pg.mkPen("#333"))
    # No pyqtgraph grid: its translucent lines across the whole plot make every repaint about
    # six times dearer, and these plots repaint while training runs. Fixed reference lines
    # (_guides) are drawn where a scale is known in advance.
    plot.setMenuEnabled(False)


def point_size(font: QtGui.QFont) -> float:
    """``font``'s size in points (also of a font set in pixels)."""
    return font.pointSizeF() if font.pointSizeF() > 0 else QtGui.QFontInfo(font).pointSizeF()


def scaled(font: QtGui.QFont, scale: float) -> QtGui.QFont:
    """``font`` ``scale`` times as large."""
    out = QtGui.QFont(font)
    out.setPointSizeF(point_size(font) * scale)
    return out


class Plot(pg.PlotWidget):
    """A plot on a white page titled ``title``, its axes named ``left`` and ``bottom``. Its text (the title,
    the axes' names and numbers, the legend, the labels drawn inside) is set in the widget's font, the one
    the text around it on its tab uses, and set again whenever that changes: another font for the app, or
    the tab's zoom (:mod:`cnnapp.widgets.zoom` scales it as it scales the tab's labels). ``title_scale``
    and ``legend_scale``: the title's and the legend's size as shares of the font's."""

    #: Its parts were laid out again (another size, font or width of the axes' numbers): the width its text
    #: asks for (:meth:`least_width`) may have changed.
    laidOut = QtCore.Signal()

    def __init__(self, title: str, left: str, bottom: str, parent=None, axisItems=None,
                 title_scale: float = TITLE_SCALE, legend_scale: float = 1.0):
        super().__init__(parent, background="w", axisItems=axisItems)
        self._scales = (title_scale, legend_scale)
        style_plot(self.getPlotItem(), title, left, bottom)
        self.follow_font()
        self.getPlotItem().vb.sigResized.connect(self.laidOut)

    def add_legend(self, **opts) -> RowLegend:
        """A legend in the plot's font, in a row under the plot (:class:`RowLegend`; ``opts``:
        :class:`pyqtgraph.LegendItem`'s)."""
        p = self.getPlotItem()
        p.legend = RowLegend(labelTextSize=self._legend_size(), **opts)
        p.layout.addItem(p.legend, 4, 1)              # (under the bottom axis: rows 0-3 are pyqtgraph's)
        p.legend.shown.connect(self.updateGeometry)
        return p.legend

    def _legend_size(self) -> str:
        return f"{point_size(self.font()) * self._scales[1]:.1f}pt"

    def least_width(self) -> int:
        """The width its text asks for: the title, the axes' numbers and names (narrower, pyqtgraph cuts the
        plot off: a larger font asks for more)."""
        return math.ceil(self.getPlotItem().effectiveSizeHint(QtCore.Qt.MinimumSize).width()) + 2 * self.frameWidth()

    def least_height(self) -> int:
        """The height its text asks for: the title, the bottom axis, the legend, and the left axis's name
        along the plot (lower, pyqtgraph cut "probability" to "bility")."""
        p = self.getPlotItem()
        least = p.effectiveSizeHint(QtCore.Qt.MinimumSize).height()
        left = p.getAxis("left")
        if left.isVisible() and left.label.isVisible():
            along = QtGui.QFontMetricsF(left.label.font()).horizontalAdvance(left.labelText) + 12
            least += max(0.0, along - p.vb.effectiveSizeHint(QtCore.Qt.MinimumSize).height())
        return math.ceil(least) + 2 * self.frameWidth()

    def minimumSizeHint(self) -> QtCore.QSize:
        hint = super().minimumSizeHint()
        return QtCore.QSize(max(hint.width(), self.least_width()), max(hint.height(), self.least_height()))

    def changeEvent(self, ev) -> None:
        super().changeEvent(ev)
        if ev.type() == QtCore.QEvent.FontChange and hasattr(self, "_scales"):
            self.follow_font()

    def follow_font(self) -> None:
        """Set the plot's text in the widget's font (a plot with text of its own sets that too)."""
        p, font = self.getPlotItem(), self.font()
        _title_font(p, scaled(font, self._scales[0]))
        for name in ("left", "bottom"):
            _axis_font(p.getAxis(name), font)
        if p.legend is not None:
            _legend_font(p.legend, self._legend_size())
            if isinstance(p.legend, RowLegend):
                p.legend.fit_samples(scaled(font, self._scales[1]))
        self.updateGeometry()                 # (the height its text asks for: least_height)
        for item in p.items:
            label = item if isinstance(item, pg.TextItem) else getattr(item, "label", None)
            if isinstance(label, pg.TextItem):       # (a text in the plot, a line's label)
                label.setFont(font)


def _title_font(p: pg.PlotItem, font: QtGui.QFont) -> None:
    """The title in ``font``, in a row as tall as it needs (pyqtgraph's is 30 px for any size)."""
    label = p.titleLabel
    if not label.isVisible():
        return
    label.item.setFont(font)
    label.setText(label.text, size=f"{point_size(font):.1f}pt")   # (pyqtgraph's: 11pt)
    height = QtGui.QFontMetrics(font).height() + 12
    label.setMaximumHeight(height)
    p.layout.setRowFixedHeight(0, height)


def _axis_font(ax: pg.AxisItem, font: QtGui.QFont) -> None:
    """An axis's numbers and name in ``font``, with the room they need."""
    ax.setFont(font)                          # (what an axis measures its numbers with)
    ax.setTickFont(font)
    ax.label.setFont(font)
    ax.showLabel(ax.label.isVisible())        # room for the name
    ax.resizeEvent()                          # the name where it belongs


def _legend_font(legend: pg.LegendItem, size: str) -> None:
    legend.setLabelTextSize(size)
    for _, label in legend.items:             # (setLabelTextSize keeps it for the next ones only)
        label.setText(label.text)
    legend.updateSize()


class RowLegend(pg.LegendItem):
    """A legend under the plot, in the plot's layout: inside the plot it lay over the curves, larger still
    when zoomed. Its names stand in one row, or in as many rows as the plot's width needs. Shown only
    while a curve it names has points: an empty plot names no curves. Signal ``shown``: it was shown or
    hidden (the plot's height it asks changes)."""

    shown = QtCore.Signal()

    def __init__(self, **opts):
        super().__init__(**opts)
        self.setVisible(False)
        self._scale = 1.0           # its samples of the curves, as large as its names (pyqtgraph's: 20 px)

    def fit_samples(self, font: QtGui.QFont) -> None:
        """The samples of the curves as tall as a line of ``font``."""
        self._scale = max(1.0, QtGui.QFontMetricsF(font).height() / 16.0)
        for sample, _ in self.items:
            self._fit_sample(sample)
        self.updateGeometry()

    def _fit_sample(self, sample) -> None:
        sample.setTransform(QtGui.QTransform.fromScale(self._scale, self._scale))
        sample.setFixedWidth(20 * self._scale)
        sample.setFixedHeight(20 * self._scale)

    def _row_width(self, columns: int) -> float:
        """How wide its rows are with ``columns`` names a row (each with its sample of the curve)."""
        gap, (left, _, right, _) = self.layout.horizontalSpacing(), self.layout.getContentsMargins()
        widths = [sample.effectiveSizeHint(QtCore.Qt.PreferredSize).width() + gap +
                  label.effectiveSizeHint(QtCore.Qt.PreferredSize).width() + gap for sample, label in self.items]
        return max((sum(widths[k:k + columns]) for k in range(0, len(widths), columns)), default=0.0) + left + right

    def sizeHint(self, which, constraint=QtCore.QSizeF()) -> QtCore.QSizeF:
        hint = super().sizeHint(which, constraint)
        if which == QtCore.Qt.MinimumSize and self.items:      # (one name a row where the plot is narrow)
            return QtCore.QSizeF(self._row_width(1), hint.height())
        return hint

    def setGeometry(self, rect) -> None:
        super().setGeometry(rect)
        columns = max(len(self.items), 1)
        while columns > 1 and self._row_width(columns) > rect.width():
            columns -= 1
        if columns != self.columnCount:
            self.setColumnCount(columns)

    def addItem(self, item, name) -> None:
        super().addItem(item, name)
        self._fit_sample(self.items[-1][0])
        if hasattr(item, "sigPlotChanged"):
            item.sigPlotChanged.connect(self.follow_data)
        self.follow_data()

    def removeItem(self, item) -> None:
        super().removeItem(item)
        self.follow_data()

    def clear(self) -> None:
        super().clear()
        self.follow_data()

    def follow_data(self, *_) -> None:
        """Shown while one of its curves has points."""
        show = any(getattr(sample.item, "xData", None) is not None and len(sample.item.xData) > 0
                   for sample, _ in self.items)
        if show != self.isVisible():
            self.setVisible(show)
            self.shown.emit()

    def updateSize(self) -> None:
        self.updateGeometry()                 # (its place is the plot layout's: pyqtgraph's moved it to 0, 0)

    def mouseDragEvent(self, ev) -> None:
        ev.ignore()                           # (it stays in its row)


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


class EpochPlot(Plot):
    """A plot over epochs (an :class:`EpochAxis`, of ``whole`` epochs if asked) whose axis spans the epochs
    it shows, and names none while it shows nothing (:meth:`set_epochs`)."""

    def __init__(self, title: str, left: str, whole: bool = False, parent=None):
        super().__init__(title, left, "epoch", parent, axisItems={"bottom": EpochAxis(whole=whole)})
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
