"""Train tab panels: how each layer is doing while a run goes on (and why it blew up), and two kept
runs compared. The numbers come from :mod:`cnncore.diagnostics`, computed in the training worker."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ..widgets.one_at_a_time import OneAtATime
from ..widgets.plot_base import EPOCHS_COUNTED, EpochAxis, Plot
from ..widgets.plots import PERCENT_TICKS, PLOT_WIDTH, DecadeAxis
from ..widgets.redraw import PacedRedraw

_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
_PLOTS = (("grad", "Gradient ‖∂L/∂θ‖", True),
          ("update", "Update ‖Δw‖/‖w‖", True),
          ("dead", "Dead ReLUs", False))


def _plot(title: str, log: bool, legend: bool = True, whole_epochs: bool = False) -> Plot:
    """A small plot over epochs, its title as large as the text around it."""
    axes = {"bottom": EpochAxis(whole=whole_epochs)}
    if log:
        axes["left"] = DecadeAxis("left")
    p = Plot(title, "", "epoch", axisItems=axes, title_scale=1.0, legend_scale=0.9)
    p.setAccessibleName(title)
    p.setLogMode(y=log)
    p.showGrid(x=True, y=True, alpha=0.2)
    p.setMouseEnabled(x=False, y=False)
    if legend:
        p.add_legend()
    return p


def _never_widens(w: QtWidgets.QWidget) -> None:
    """A page of the Train tab's lower tabs must not make the plot side wider than it was: the
    user's splitter position is restored exactly."""
    w.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)


class DiagnosticsPanel(QtWidgets.QWidget):
    """Per layer: gradient norm, update-to-weight ratio and dead ReLUs, the one-line reading and,
    after a NaN loss, which layer blew up with a button to restart at a lower rate.

    Signals: ``restartRequested(float)``: start again from the last good weights at this rate."""

    restartRequested = QtCore.Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        _never_widens(self)
        self.reading = QtWidgets.QLabel("Start training to see how each layer is doing.")
        self.reading.setObjectName("diagnosticsReading")
        self.reading.setWordWrap(True)
        # one legend for the three, above them (inside a plot it lay over the curves)
        self.legend = QtWidgets.QLabel("")
        self.legend.setObjectName("diagnosticsLegend")
        self.plots = {key: _plot(title, log, legend=False) for key, title, log in _PLOTS}
        for key, tip in (("grad", "How large the gradient of each layer's weights and biases is, batch by batch"),
                         ("update", "How much each step changes a layer's weights, as a share of their size: "
                                    "about 10⁻³ is a good pace"),
                         ("dead", "The share of a ReLU layer's units that gave 0 for every image of the last "
                                  "20 batches")):
            self.plots[key].setToolTip(tip)
        self.plots["dead"].setYRange(0, 1)
        self.blowup = QtWidgets.QLabel("")
        self.blowup.setObjectName("divergenceText")
        self.blowup.setWordWrap(True)
        self.blowup.setStyleSheet("color: #a40000;")
        self.restart = QtWidgets.QPushButton("")
        self.restart.setObjectName("restartLowerButton")
        self.restart.setAccessibleName("Restart from the last good weights at a lower learning rate")
        self.restart.setToolTip("Train again from the last weights that gave a finite loss, at the lower rate")
        self.restart.clicked.connect(lambda: self.restartRequested.emit(self._suggested))
        self._suggested = 0.0
        row = QtWidgets.QHBoxLayout()
        for key, _, _ in _PLOTS:
            row.addWidget(self.plots[key])
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(self.reading)
        lay.addWidget(self.legend)
        lay.addLayout(row, 1)
        lay.addWidget(self.blowup)
        lay.addWidget(self.restart, 0, QtCore.Qt.AlignLeft)
        # drawn a few times a second while shown, once when shown again: never for a hidden tab
        self.paced = PacedRedraw(self, self._redraw)
        self._first = 0.0                 # the network's epochs before the run followed
        self.clear()

    def clear(self) -> None:
        """Forget the last run (a new one is starting)."""
        self._x: list = []
        self._values: dict = {}           # (key, layer) -> list, aligned with x (NaN where absent)
        self._unread: list = []           # reports taken but not yet sorted into the series
        self.curves: dict = {}
        for p in self.plots.values():
            p.clear()
        self.legend.setText("")
        self.blowup.setVisible(False)
        self.restart.setVisible(False)

    def follow(self, worker, first: float = 0.0) -> None:
        """Take a :class:`~cnnapp.train_worker.TrainWorker`'s signals from now on, of a run whose epochs
        come after the network's ``first`` (:attr:`cnnapp.state.TrainingRun.first_epoch`)."""
        self._first = first
        worker.ready.connect(self.clear)
        worker.progress.connect(self.add_progress)
        worker.diverged.connect(self.show_divergence)
        worker.finished.connect(self.paced.flush)

    def add_progress(self, d: dict) -> None:
        """A progress dict of the worker: ``x`` and ``diagnostics`` per batch, ``reading``. Its
        numbers are sorted into the series when they are needed (drawn, or read), not here: a
        hidden panel costs the window nothing while a run goes on."""
        self._unread.append(([self._first + x for x in d["x"]], d.get("diagnostics", ())))
        if "reading" in d:
            self.reading.setText(d["reading"])
        self.paced.request()

    @property
    def x(self) -> list:
        """Where each batch reported so far is, in the network's epochs."""
        self._read()
        return self._x

    @property
    def values(self) -> dict:
        """``(key, layer) -> list`` aligned with :attr:`x` (NaN where a layer has no such number)."""
        self._read()
        return self._values

    def _read(self) -> None:
        unread, self._unread = self._unread, []
        for xs, diagnostics in unread:
            for x, per_layer in zip(xs, diagnostics):
                n = len(self._x)
                self._x.append(x)
                for i, values in per_layer.items():
                    for key, v in values.items():
                        series = self._values.setdefault((key, i), [np.nan] * n)
                        series.append(v if v > 0 or key == "dead" else np.nan)   # log plots: no zeros
                for series in self._values.values():
                    series.extend([np.nan] * (len(self._x) - len(series)))

    def _redraw(self) -> None:
        x = np.asarray(self.x)
        for (key, i), series in self.values.items():
            curve = self.curves.get((key, i))
            if curve is None:
                pen = pg.mkPen(_COLOURS[i % len(_COLOURS)], width=1.5)
                curve = self.curves[(key, i)] = self.plots[key].plot(name=f"layer {i}", pen=pen, connect="finite")
            curve.setData(x, np.asarray(series, dtype=float))
        layers = sorted({i for _, i in self.curves})
        self.legend.setText("&nbsp;&nbsp;".join(
            f"<span style='color:{_COLOURS[i % len(_COLOURS)]}'>━━</span> layer {i}" for i in layers))

    def show_divergence(self, div) -> None:
        """A :class:`cnncore.diagnostics.Divergence`: the explanation and the restart button."""
        self._suggested = float(div.suggested_lr)
        self.blowup.setText(div.message)
        self.restart.setText(f"Restart from the last good weights at learning rate {div.suggested_lr:g}")
        self.blowup.setVisible(True)
        self.restart.setVisible(True)


class RunsPanel(QtWidgets.QWidget):
    """Every run of this session kept (settings, seed, curves); two of them overlaid, with the
    settings that differ named."""

    def __init__(self, parent=None):
        super().__init__(parent)
        _never_widens(self)
        self.records: list = []
        self.current = None
        self.a = QtWidgets.QComboBox()
        self.a.setObjectName("compareRunA")
        self.a.setAccessibleName("First run to compare")
        self.a.setToolTip("The first run to compare (drawn dashed)")
        self.b = QtWidgets.QComboBox()
        self.b.setObjectName("compareRunB")
        self.b.setAccessibleName("Second run to compare")
        self.b.setToolTip("The second run to compare (drawn solid)")
        for box in (self.a, self.b):
            box.currentIndexChanged.connect(self.redraw)
        self.differences = QtWidgets.QLabel("Each training run is kept here; start two to compare them.")
        self.differences.setObjectName("runDifferences")
        self.differences.setWordWrap(True)
        self.loss = _plot("Loss per batch", False)
        self._curves: list = []       # (record, loss curve, accuracy curve) of the runs compared
        self.accuracy = _plot("Accuracy per epoch", False, legend=False, whole_epochs=True)
        self.accuracy.setToolTip("Held-out accuracy after each epoch (training accuracy for a run without "
                                 "held-out digits).\n" + EPOCHS_COUNTED)
        self.loss.setToolTip("The loss of every batch of the two runs.\n" + EPOCHS_COUNTED)
        # (a gridded plot draws no tick label past its view: 0 % and 100 % lie a label's height inside)
        self.accuracy.setYRange(0, 1, padding=0.12)
        # in per cent, as the accuracy plot above
        self.accuracy.getPlotItem().getAxis("left").setTicks(PERCENT_TICKS)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Compare"))
        top.addWidget(self.a)
        top.addWidget(QtWidgets.QLabel("with"))
        top.addWidget(self.b)
        top.addStretch(1)
        # side by side, or one at a time where each would be narrower than the Train tab's plots may be
        self.plots = OneAtATime([("Loss per batch", self.loss), ("Accuracy per epoch", self.accuracy)], PLOT_WIDTH)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.differences)
        lay.addWidget(self.plots, 1)
        self.paced = PacedRedraw(self, self._fill)

    def begin(self, settings: dict, seed: int, start: str = "", first: float = 0.0):
        """A new run with these settings, from ``start`` (:func:`cnncore.diagnostics.start_mark`) of a
        network trained for ``first`` epochs: kept, and compared with the one before it."""
        from cnncore.diagnostics import RunRecord
        record = RunRecord(f"run {len(self.records) + 1}", dict(settings), int(seed), start, float(first))
        self.records.append(record)
        for box in (self.a, self.b):
            box.blockSignals(True)
            box.addItem(record.name)
            box.blockSignals(False)
        self.a.setCurrentIndex(max(len(self.records) - 2, 0))
        self.b.setCurrentIndex(len(self.records) - 1)
        self.redraw()
        return record

    def follow(self, worker, settings: dict, seed: int, start: str = "", first: float = 0.0) -> None:
        """Keep the run a :class:`~cnnapp.train_worker.TrainWorker` is starting (from ``start``, after the
        network's ``first`` epochs)."""
        self.current = self.begin(settings, seed, start, first)
        # bound methods: Qt delivers the worker's signals in this widget's (the GUI) thread
        worker.progress.connect(self._on_progress)
        worker.epochDone.connect(self._on_epoch)
        worker.finished.connect(self._on_finished)

    def _on_progress(self, d) -> None:
        self.current.add_batches(d["x"], d["loss"], d["accuracy"])
        if self.current in self.selected():
            self.paced.request()

    def _on_epoch(self, ev) -> None:
        self.current.add_epoch(ev)
        if self.current in self.selected():
            self.paced.request()

    def _on_finished(self, ev) -> None:
        self.current.outcome = ev.reason
        self.paced.flush()

    def selected(self):
        pick = [self.a.currentIndex(), self.b.currentIndex()]
        return [self.records[i] if 0 <= i < len(self.records) else None for i in pick]

    def redraw(self) -> None:
        """The two runs picked: their curves made anew, and what differs between them named."""
        from cnncore.diagnostics import compare_runs
        self.loss.clear()
        self.accuracy.clear()
        self._curves = []
        a, b = self.selected()
        for record, style in ((a, QtCore.Qt.DashLine), (b, QtCore.Qt.SolidLine)):
            if record is None:
                continue
            pen = pg.mkPen("#1f77b4" if style == QtCore.Qt.DashLine else "#d62728", width=1.5, style=style)
            loss = self.loss.plot([], [], pen=pen, name=record.name)
            loss.setDownsampling(auto=True, method="peak")     # long runs: about one point per pixel
            loss.setClipToView(True)
            acc = self.accuracy.plot([], [], pen=pen, symbol="o", symbolSize=6, symbolBrush=pen.color(),
                                     name=record.name)
            self._curves.append((record, loss, acc))
        self.paced.request()
        self.paced.flush()
        if a is None or b is None or a is b:
            self.differences.setText("Pick two different runs to see what changed between them.")
            return
        self.differences.setText(compare_runs(a, b))

    def _fill(self) -> None:
        """The compared runs' curves as far as they got (a run going on grows them)."""
        for record, loss, acc in self._curves:
            loss.setData(record.batch_x, record.batch_loss)
            ep = [e["epoch"] for e in record.epochs]
            acc.setData(ep, [e["val_accuracy"] if np.isfinite(e["val_accuracy"]) else e["train_accuracy"]
                             for e in record.epochs])
