"""pyqtgraph plots of the app. Every plot item is created once and updated with ``setData``/``setOpts``."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from .plot_base import EPOCHS_COUNTED, EpochPlot, Plot, epoch_step  # noqa: F401  (epoch_step: as before)

ACCENT = (31, 119, 180)
ORANGE = (255, 127, 14)
GREY = (170, 180, 195)


#: A share's axis in per cent: 0, 50 and 100 % always labelled, 25 and 75 % where the axis is tall
#: enough (pyqtgraph labels a later level's ticks only while the labels fill little of the axis; one
#: level of five dropped the ends first, and a short plot showed 25–75 % without 0 and 100 %).
PERCENT_TICKS = [[(v, f"{v:.0%}") for v in (0, 0.5, 1.0)], [(v, f"{v:.0%}") for v in (0.25, 0.75)]]
#: The least width of a plot beside others (the Train tab's, Compare runs'): narrower, they show one at a
#: time, chosen by a tab (:class:`~cnnapp.widgets.one_at_a_time.OneAtATime`).
PLOT_WIDTH = 180


#: The most lines the names under the bars take turns on, before they are shortened.
NAME_ROWS = 3


def class_ticks(classes, spacing: float | None = None, text_width=len) -> tuple[list, int]:
    """Axis ticks naming the ten classes under bars ``spacing`` px apart (None: not known yet, two
    lines), and the lines they take. Digits stand side by side; longer names ("Ankle boot",
    "blue_stripe") take turns on as many lines as they need not to run into each other (up to
    :data:`NAME_ROWS`), shortened with "…" past that; the outputs no class uses
    (:data:`~cnncore.architecture.UNUSED_CLASS`) are left unnamed.
    ``text_width(name)``: its width in px."""
    from cnncore.architecture import UNUSED_CLASS
    names = ["" if str(c) == UNUSED_CLASS else str(c) for c in classes]
    if all(len(n) <= 2 for n in names):
        return [[(i, n) for i, n in enumerate(names)]], 1
    gap = 8
    widest = max(text_width(n) for n in names)
    rows = 2 if spacing is None else next((r for r in range(1, NAME_ROWS + 1) if widest + gap <= r * spacing),
                                         NAME_ROWS)
    room = None if spacing is None else rows * spacing - gap
    if room is not None and widest > room:
        names = [_shortened(n, room, text_width) for n in names]
    return [[(i, "\n" * (i % rows) + n) for i, n in enumerate(names)]], rows


def _shortened(name: str, room: float, text_width) -> str:
    """``name`` cut to fit ``room`` px, with "…" (at least its first character)."""
    if text_width(name) <= room:
        return name
    k = len(name)
    while k > 1 and text_width(name[:k] + "…") > room:
        k -= 1
    return name[:k] + "…"


def name_axis(axis: pg.AxisItem, ticks, classes, rows: int = 2) -> None:
    """Put class names on an axis, every one shown (the end ones may reach past the plot), with
    room for ``rows`` lines below or the longest name beside."""
    axis.setTicks(ticks)
    digits = is_digits(classes)
    axis.setStyle(hideOverlappingLabels=digits)
    if axis.orientation == "left":
        width = QtGui.QFontMetrics(axis.font()).horizontalAdvance(max(classes, key=len))
        axis.setWidth(None if digits else width + 34)
    else:
        axis.setHeight(None if digits else rows * QtGui.QFontMetrics(axis.font()).height() + 30)


def is_digits(classes) -> bool:
    return [str(c) for c in classes] == [str(i) for i in range(10)]


def _guides(plot: pg.PlotItem, values) -> None:
    """Light horizontal reference lines at fixed values (cheap, opaque)."""
    for v in values:
        line = pg.InfiniteLine(pos=v, angle=0, movable=False, pen=pg.mkPen((226, 230, 238), width=1))
        line.setZValue(-10)
        plot.addItem(line, ignoreBounds=True)


def _few_points_per_pixel(curve: pg.PlotDataItem, method: str) -> None:
    """A long run's curve is drawn with about one point per pixel (``method`` picks each pixel's
    value: "peak" keeps its lowest and highest, "mean" their mean), only over the visible epochs.
    pyqtgraph's default of five points per pixel made a noisy loss curve cost 9 ms a repaint."""
    curve.setDownsampling(auto=True, method=method)
    curve.setClipToView(True)
    curve.setData(autoDownsampleFactor=1.0)      # (an option setData takes; there is no setter)


class _Series:
    """Columns of floats (an epoch, then values) that grow at the end, read as views: adding a few
    points costs the same at the end of a long run as at its start. The buffer holds column ``k``
    in its row ``k`` and doubles when full.

    The views handed out are never written again: :meth:`extend` writes only past them, and a full
    buffer is replaced, not resized in place. (So there is no ``clear``: start a new series.)"""

    def __init__(self, columns: int, capacity: int = 1024):
        self._buf = np.empty((columns, capacity))
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def extend(self, *columns) -> None:
        """Append the same number of values to every column."""
        k = len(columns[0])
        if self._n + k > self._buf.shape[1]:
            grown = np.empty((self._buf.shape[0], max(2 * self._buf.shape[1], self._n + k)))
            grown[:, :self._n] = self._buf[:, :self._n]
            self._buf = grown
        for row, values in zip(self._buf, columns):
            row[self._n:self._n + k] = values
        self._n += k

    def columns(self) -> list:
        """Every column so far, as read-only-by-agreement views."""
        return [row[:self._n] for row in self._buf]

    def last(self, column: int, default: float) -> float:
        """The latest value of ``column`` (``default`` while the series is empty)."""
        return float(self._buf[column, self._n - 1]) if self._n else float(default)


class DecadeAxis(pg.AxisItem):
    """A log axis labelled at whole powers of ten only ("10⁻³"), at most one label per 30 px. pyqtgraph
    labels every minor tick, and on a plot spanning less than a decade they stack into an unreadable
    column ("0.01 0.009 0.008 … 0.006"). With no power of ten in view, the two ends are labelled."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        lo, hi = math.ceil(minVal - 1e-9), math.floor(maxVal + 1e-9)
        step = max(1, math.ceil((hi - lo + 1) / max(1.0, size / 30)))
        majors = [float(v) for v in range(lo, hi + 1, step)]
        if not majors:
            majors = [minVal, maxVal] if size >= 60 else [minVal]
        return [(None, majors)]

    def logTickStrings(self, values, scale, spacing):
        from cnncore.diagnostics import power_of_ten
        return [power_of_ten(10.0 ** round(v)) if abs(v - round(v)) < 1e-6 else f"{10.0 ** v:.1g}"
                for v in values]


class ProbabilityPlot(Plot):
    """The ten class probabilities as bars; the most likely class in the accent colour."""

    def __init__(self, parent=None):
        super().__init__("What the network thinks", "probability", "digit", parent)
        self.setObjectName("probabilityPlot")
        self.setAccessibleName("Class probabilities")
        self.setToolTip("How sure the network is about each digit (softmax probabilities).")
        p = self.getPlotItem()
        p.setMouseEnabled(False, False)
        p.hideButtons()
        p.setYRange(0, 1.12, padding=0)   # room for the percentage above the tallest bar
        p.setXRange(-0.6, 9.6, padding=0)
        p.getAxis("bottom").setTicks([[(i, str(i)) for i in range(10)]])
        p.getAxis("left").setTicks(PERCENT_TICKS)
        _guides(p, (0.25, 0.5, 0.75, 1.0))
        self._bars = pg.BarGraphItem(x=np.arange(10), height=np.zeros(10), width=0.7,
                                     brushes=[pg.mkBrush(GREY)] * 10, pen=pg.mkPen(None))
        p.addItem(self._bars)
        # dark on a white box: readable over the bar and beside it ("100%" is wider than a bar)
        self._text = pg.TextItem("", color=(40, 40, 40), anchor=(0.5, 1.0), fill=pg.mkBrush(255, 255, 255, 225))
        p.addItem(self._text)
        self._probs = np.zeros(10)
        self._shown = list(range(10))       # the outputs that have a bar: those a class uses
        self._classes, self._named_at = None, None
        p.vb.sigResized.connect(lambda *_: (self._name_bars(), self._style_label()))
        self.follow_font()

    def follow_font(self) -> None:
        """The text in the widget's font, the names under the bars on as many lines as it asks now."""
        super().follow_font()
        if hasattr(self, "_text"):
            self._named_at = None
            self._name_bars()
            self._style_label()

    def set_classes(self, classes, kind: str | None = None, note: str = "") -> None:
        """Name the bars (the digits, or another data set's classes, as shown); ``kind`` "digit" or "class"
        (None: "digit" for the names 0–9); ``note`` what a spelled name was, for the tooltip. The outputs
        no class uses get no bar: a network of three classes shows three, each with the room of a third of
        the plot for its name."""
        from cnncore.architecture import UNUSED_CLASS
        classes = tuple(str(c) for c in classes)
        kind = kind or ("digit" if is_digits(classes) else "class")
        self.setToolTip(f"How sure the network is about each {kind} (softmax probabilities)."
                        + (f"\n{note}" if note else ""))
        if (classes, kind) == getattr(self, "_classes", None):
            return
        self._classes = (classes, kind)
        self._shown = [k for k, c in enumerate(classes) if c != UNUSED_CLASS] or list(range(len(classes)))
        self._named_at = None
        p = self.getPlotItem()
        p.getAxis("bottom").setLabel(kind, color="#333")
        edge = 0.6 if is_digits(classes) else 1.1      # room for the end names
        p.setXRange(-edge, len(self._shown) - 1 + edge, padding=0)
        self.set_probabilities(None)
        self._name_bars()

    def _name_bars(self) -> None:
        """The class names under the bars, on as many lines as the bars' spacing asks (again when
        the plot's width changes)."""
        if self._classes is None:
            return
        p = self.getPlotItem()
        (lo, hi), width = p.vb.viewRange()[0], p.vb.width()
        spacing = width / (hi - lo) if width > 0 else None
        if self._named_at is not None and spacing is not None and abs(spacing - self._named_at) < 1:
            return
        self._named_at = spacing
        classes = [self._classes[0][k] for k in self._shown]
        metrics = QtGui.QFontMetrics(p.getAxis("bottom").font())
        ticks, rows = class_ticks(classes, spacing, metrics.horizontalAdvance)
        name_axis(p.getAxis("bottom"), ticks, classes, rows)


    def set_probabilities(self, probs) -> None:
        """The bars of ``probs`` (one per output; None: none), the most likely in the accent colour
        with its percentage."""
        x = np.arange(len(self._shown))
        if probs is None:
            self._probs = np.zeros(10)
            self._bars.setOpts(x=x, height=np.zeros(len(x)), brushes=[pg.mkBrush(GREY)] * len(x))
            self._text.setText("")
            self._text.setVisible(False)
            return
        p = np.asarray(probs, dtype=float).reshape(-1)
        self._probs = p
        best = int(np.argmax(p))
        heights = np.array([p[k] if k < len(p) else 0.0 for k in self._shown])
        bar = self._shown.index(best) if best in self._shown else None   # (an unused output: no bar)
        self._bars.setOpts(x=x, height=heights,
                           brushes=[pg.mkBrush(ACCENT if i == bar else GREY) for i in range(len(x))])
        self._text.setText("" if bar is None else f"{p[best]:.0%}")
        self._text.setVisible(bar is not None)          # (an empty text still draws its white box)
        # Above a short bar; inside a tall one: above it, the text would run past the top of a low
        # plot (a 1024×640 screen) and be cut.
        inside = p[best] > 0.5
        self._text.setAnchor((0.5, 0.0) if inside else (0.5, 1.0))
        self._text.setPos(0 if bar is None else bar, p[best] - 0.01 if inside else p[best] + 0.01)
        self._style_label()

    def _style_label(self) -> None:
        """White on the bar where the percentage fits inside it (a white box there read as a label laid
        over the bar's top), else dark on a white box, which may be wider than the bar ("100%")."""
        vb = self.getPlotItem().vb
        (lo, hi), width = vb.viewRange()[0], vb.width()
        bar_px = 0.7 * width / (hi - lo) if width > 0 else 0.0
        text_px = QtGui.QFontMetrics(self._text.textItem.font()).horizontalAdvance(self._text.toPlainText()) + 4
        on_bar = self._text.anchor.y() == 0.0 and text_px <= bar_px
        self._text.setColor((255, 255, 255) if on_bar else (40, 40, 40))
        self._text.fill = pg.mkBrush(None) if on_bar else pg.mkBrush(255, 255, 255, 225)
        self._text.update()

    def probabilities(self) -> np.ndarray:
        return self._probs.copy()


def _fresh_y(p) -> None:
    """A plot emptied for a new run or another model: no longer the old run's range of values, and
    the new run's values set it again."""
    p.setYRange(0, 1, padding=0)
    p.enableAutoRange(axis="y")


class LossPlot(EpochPlot):
    """Loss per batch (thin, light) and an exponentially smoothed curve (bold) over epochs.

    Each batch's weight in the smoothed curve shrinks by ``smoothing`` per batch after it, or
    faster where the run is short: by exp(−Δ/τ) over Δ epochs with τ = :attr:`SPAN` of the run's
    epochs, so the curve follows a run of 15 batches instead of lagging a third of it behind."""

    #: The smoothing's time constant, as a share of the run's epochs.
    SPAN = 0.05

    def __init__(self, parent=None, smoothing: float = 0.9):
        super().__init__("Loss", "cross-entropy", parent=parent)       # (sets the smoothing's time constant)
        self._alpha = smoothing
        self.setObjectName("lossPlot")
        self.setAccessibleName("Training loss")
        self.setToolTip("Cross-entropy loss of every batch (light) and its smoothed trend (bold).\n" + EPOCHS_COUNTED)
        p = self.getPlotItem()
        p.getAxis("left").enableAutoSIPrefix(False)   # plain units: a loss of 0.6 reads 0.6, not 600 (x0.001)
        self.add_legend(labelTextColor="#333")
        self._raw = p.plot([], [], pen=pg.mkPen((150, 190, 225), width=1), name="per batch")
        self._smooth = p.plot([], [], pen=pg.mkPen(ACCENT, width=2), name="smoothed")
        for c in (self._raw, self._smooth):
            _few_points_per_pixel(c, "peak")
        self.clear_data()

    def clear_data(self) -> None:
        self._points = _Series(3)        # epoch, loss, smoothed loss of every batch
        self._ema, self._weight = 0.0, 0.0    # the smoothing's running sum (from 0) and sum of weights
        self._raw.setData([], [])
        self._smooth.setData([], [])
        _fresh_y(self.getPlotItem())
        for line in getattr(self, "_lr_marks", []):
            self.getPlotItem().removeItem(line)
        self._lr_marks: list[pg.InfiniteLine] = []
        self.set_epochs(None)

    def mark_lr_change(self, lr: float) -> None:
        """A dashed vertical line after the latest batch, labelled with the new learning rate."""
        x = self._points.last(0, default=(self.epochs() or (0.0,))[0])
        line = pg.InfiniteLine(pos=x, angle=90, movable=False, pen=pg.mkPen(ORANGE, width=1, style=QtCore.Qt.DashLine),
                               label=f"lr {lr:g}", labelOpts={"position": 0.92, "color": ORANGE, "anchors": [(0, 0.5), (0, 0.5)]})
        line.label.setFont(self.font())
        self.getPlotItem().addItem(line, ignoreBounds=True)
        self._lr_marks.append(line)

    def lr_marks(self) -> list[float]:
        """Where the learning rate was changed, in epochs."""
        return [float(line.value()) for line in self._lr_marks]

    def add_points(self, xs, ys) -> None:
        """Append batches (epoch, loss); a loss that is not finite is left out."""
        x, y = np.asarray(xs, dtype=float).reshape(-1), np.asarray(ys, dtype=float).reshape(-1)
        keep = np.isfinite(y)
        x, y = x[keep], y[keep]
        if y.size == 0:
            return
        # An average of the batches so far that weighs the latest most, divided by the weights' sum:
        # from the first batch on it lies among the points (started at the first loss instead, it
        # stayed near that high start for dozens of batches, above every later point)
        s = np.empty_like(y)
        prev = self._points.last(0, default=x[0])
        for i, (t, v) in enumerate(zip(x.tolist(), y.tolist())):   # a few batches per call: the start is kept
            a = min(self._alpha, math.exp(-(t - prev) / self._tau)) if t > prev else self._alpha
            self._ema, self._weight, prev = a * self._ema + (1 - a) * v, a * self._weight + (1 - a), t
            s[i] = self._ema / self._weight
        self._points.extend(x, y, s)
        epochs, loss, smooth = self._points.columns()
        self._raw.setData(epochs, loss)
        self._smooth.setData(epochs, smooth)

    def point_count(self) -> int:
        return len(self._points)

    def set_epochs(self, epochs: float | None, first: float = 0.0) -> None:
        """The x axis over the run (:meth:`EpochPlot.set_epochs`); the smoothing follows its length."""
        super().set_epochs(epochs, first)
        self._tau = self.SPAN * max(1, epochs or 1)


class AccuracyPlot(EpochPlot):
    """Training and held-out accuracy after each epoch."""

    def __init__(self, parent=None):
        super().__init__("Accuracy", "accuracy", whole=True, parent=parent)
        self.setObjectName("accuracyPlot")
        self.setAccessibleName("Accuracy per epoch")
        self.setToolTip("Share of digits classified correctly after each epoch:\n"
                        "on the training data and on held-out digits the network never trained on.\n" + EPOCHS_COUNTED)
        p = self.getPlotItem()
        self.add_legend(labelTextColor="#333")
        p.setYRange(0, 1, padding=0.02)
        p.getAxis("left").setTicks(PERCENT_TICKS)
        _guides(p, (0.25, 0.5, 0.75, 1.0))
        self._train = p.plot([], [], pen=pg.mkPen(ACCENT, width=2), symbol="o", symbolSize=7,
                             symbolBrush=ACCENT, symbolPen=None, name="training")
        self._val = p.plot([], [], pen=pg.mkPen(ORANGE, width=2), symbol="s", symbolSize=7,
                           symbolBrush=ORANGE, symbolPen=None, name="held-out")
        self.clear_data()

    def clear_data(self) -> None:
        self._e: list[float] = []
        self._t: list[float] = []
        self._v: list[float] = []
        self._train.setData([], [])
        self._val.setData([], [])
        self.set_epochs(None)

    def add_epoch(self, epoch: float, train_acc: float, val_acc: float | None) -> None:
        self._e.append(float(epoch))
        self._t.append(float(train_acc))
        self._v.append(float("nan") if val_acc is None else float(val_acc))
        self._train.setData(self._e, self._t)
        v = np.asarray(self._v)
        ok = np.isfinite(v)
        self._val.setData(np.asarray(self._e)[ok], v[ok])

    def point_count(self) -> int:
        return len(self._e)


class SpeedPlot(EpochPlot):
    """Images per second while training."""

    def __init__(self, parent=None):
        super().__init__("Speed", "images / s", parent=parent)
        self.setObjectName("speedPlot")
        self.setAccessibleName("Training speed")
        self.setToolTip("Training speed in images per second (forward and backward pass).")
        p = self.getPlotItem()
        self._curve = p.plot([], [], pen=pg.mkPen((44, 160, 44), width=1.5))
        _few_points_per_pixel(self._curve, "mean")
        self.clear_data()

    def clear_data(self) -> None:
        self._points = _Series(2)        # epoch, images per second of every batch
        self._top = 0.0
        self._curve.setData([], [])
        _fresh_y(self.getPlotItem())
        self.set_epochs(None)

    def add_points(self, xs, ys) -> None:
        ys = np.asarray(ys, dtype=float).reshape(-1)
        self._points.extend(np.asarray(xs, dtype=float).reshape(-1), ys)
        self._curve.setData(*self._points.columns())
        top = float(np.max(ys[np.isfinite(ys)], initial=0.0))
        if top > self._top:          # from 0 up: a steady speed is a flat line, not 33781.4 … 33782.2
            self._top = top
            self.getPlotItem().setYRange(0, 1.1 * top, padding=0)

    def point_count(self) -> int:
        return len(self._points)

    def latest(self) -> float:
        """The speed of the last batch drawn (NaN before the first)."""
        return self._points.last(1, default=float("nan"))
