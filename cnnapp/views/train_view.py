"""Train tab: choose the data and the optimizer, start / pause / stop, watch the plots live."""
from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
from cnncore.datasets.mnist import DOWNLOADS
from cnncore.datasets.sources import DRAWINGS_FILE
from cnncore.datasets.sources import source as source_of
from cnncore.limits import MAX_EPOCHS, MAX_LR, MIN_LR
from cnncore.network import network_maps
from PySide6 import QtCore, QtGui, QtWidgets

from ..settings import data_dir, set_clamped
from ..state import PAUSED, RUNNING, TrainingRun
from ..widgets.heatmap import MapGroup, MapGrid
from ..widgets.plots import AccuracyPlot, ConfusionPlot, LossPlot, SpeedPlot
from ..widgets.redraw import FramePacer
from ..workers import DownloadWorker, TrainWorker, start_in_thread
from .diagnostics_panel import DiagnosticsPanel, RunsPanel
from .state import a_class, classes_of

_ORPHANS: list = []   # download threads still blocked in a read when their window closed


def find_idx_pair(folder):
    """``(images, labels)`` paths of an IDX pair in ``folder`` (MNIST names; training files
    first), or None."""
    files = [p for p in sorted(Path(folder).iterdir()) if p.is_file()]
    images = [p for p in files if "idx3" in p.name or "images" in p.name]
    labels = [p for p in files if "idx1" in p.name or "labels" in p.name]
    if not images or not labels:
        return None

    def key(p):
        return (0 if "train" in p.name else 1, p.name)
    images.sort(key=key)
    for img in images:
        stem = img.name.replace("images", "labels").replace("idx3", "idx1")
        match = [lab for lab in labels if lab.name == stem]
        if match:
            return str(img), str(match[0])
    return str(images[0]), str(sorted(labels, key=key)[0])


class TrainView(QtWidgets.QWidget):
    trainingStarted = QtCore.Signal()
    trainingFinished = QtCore.Signal(object)
    # A held-out digit to look at elsewhere: image (28, 28) floats in [0, 1], true digit, "draw"/"backprop".
    openDigit = QtCore.Signal(object, int, str)
    saveModelRequested = QtCore.Signal()
    openModelRequested = QtCore.Signal()

    def __init__(self, state, run: TrainingRun | None = None, parent=None):
        super().__init__(parent)
        self.state = state
        self.run = run if run is not None else TrainingRun()
        self.worker = None
        self.thread = None
        self.dl_thread = None
        self.dl_worker = None
        self._idx_files = None
        self._val_images = None

        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        self.splitter.setObjectName("trainSplitter")
        self.splitter.addWidget(self._build_controls())
        self.splitter.addWidget(self._build_plots())
        self.splitter.setStretchFactor(1, 1)
        lay = QtWidgets.QHBoxLayout(self)
        lay.addWidget(self.splitter)
        # While training, the window is redrawn in frames, one part per frame (see FramePacer),
        # never as a report of the worker arrives.
        self.pacer = FramePacer(self, {"report": self._show_report, "loss": self._draw_loss,
                                       "speed": self._draw_speed, "epoch": self._draw_epochs,
                                       "maps": self._draw_maps})
        # What waits for its frame: here the latest report, the epochs and the snapshot's maps;
        # the batches' loss and speed wait in self.run (TrainingRun.take_loss_points, ...).
        self._report = None          # the worker's latest progress report, not shown yet
        self._epochs = []            # the epochs ended since the last one drawn
        self._maps = None            # the latest snapshot's filters and maps, not drawn yet
        self._gc_frozen = False      # see _pause_full_collections
        self._on_source()
        self.run.phase_changed.connect(self._show_phase)
        self.run.progress_changed.connect(lambda p: self.progress.setValue(int(round(1000 * p))))
        self._show_phase(self.run.phase)
        self.state.networkChanged.connect(self.show_network_maps)
        self.show_network_maps()

    # ------------------------------------------------------------ builders
    def _build_controls(self) -> QtWidgets.QWidget:
        """The left column: data, learning settings, start/pause/stop, progress, model files."""
        left = self.controls = QtWidgets.QWidget()
        left.setObjectName("trainControls")
        left.installEventFilter(self)
        ll = QtWidgets.QVBoxLayout(left)
        ll.addWidget(self._build_data_box())
        ll.addWidget(self._build_learning_box())
        ll.addLayout(self._build_run_buttons())
        self.progress = QtWidgets.QProgressBar()
        self.progress.setObjectName("trainProgress")
        self.progress.setToolTip("Share of the planned batches done")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        self.eta = QtWidgets.QLabel("")
        self.eta.setObjectName("trainEta")
        self.eta.setWordWrap(True)
        self.eta.setAlignment(QtCore.Qt.AlignTop | QtCore.Qt.AlignLeft)
        ll.addWidget(self.progress)
        ll.addWidget(self.eta)
        ll.addStretch(1)
        ll.addLayout(self._build_model_buttons())
        left.setMinimumWidth(300)
        left.setMaximumWidth(380)
        return left

    def _build_data_box(self) -> QtWidgets.QGroupBox:
        """Which digits, how many, how many held out; the IDX folder and the download bar."""
        data_box = QtWidgets.QGroupBox("Data")
        form = QtWidgets.QFormLayout(data_box)
        self.source = QtWidgets.QComboBox()
        self.source.setObjectName("trainSource")
        from cnncore.datasets import available_sources
        for src in available_sources():
            self.source.addItem(src.label, src.key)
        self.source.setToolTip("Which digits to learn from")
        self.source.currentIndexChanged.connect(self._on_source)
        self.count = QtWidgets.QSpinBox()
        self.count.setObjectName("trainCount")
        self.count.setRange(100, 60000)
        self.count.setSingleStep(1000)
        self.count.setValue(6000)
        self.count.setToolTip("How many digits to generate (or use at most from the data set)")
        self.holdout = QtWidgets.QDoubleSpinBox()
        self.holdout.setRange(0.0, 0.5)
        self.holdout.setSingleStep(0.05)
        self.holdout.setValue(0.15)
        self.holdout.setToolTip("Share of the digits kept aside to measure accuracy on unseen data")
        self.download_bar = QtWidgets.QProgressBar()
        self.download_bar.setObjectName("downloadProgress")
        self.download_bar.setToolTip("MNIST download progress")
        self.download_bar.setTextVisible(True)
        self.download_bar.hide()
        self.idx_button = QtWidgets.QPushButton("Choose IDX folder…")
        self.idx_button.setToolTip("Pick a folder holding an images file and a labels file in MNIST's IDX "
                                   "format (.gz or raw)")
        self.idx_button.clicked.connect(self.choose_idx)
        self.idx_button.hide()
        form.addRow("Source", self.source)
        form.addRow("Digits", self.count)
        form.addRow("Held out", self.holdout)
        form.addRow(self.idx_button)
        form.addRow(self.download_bar)
        return data_box

    def _build_learning_box(self) -> QtWidgets.QGroupBox:
        """Optimizer, learning rate and its schedule, batch size, epochs."""
        opt_box = QtWidgets.QGroupBox("Learning")
        of = QtWidgets.QFormLayout(opt_box)
        self.optimizer = QtWidgets.QComboBox()
        self.optimizer.setObjectName("trainOptimizer")
        self.optimizer.addItem("Adam", "adam")
        self.optimizer.addItem("SGD with momentum", "sgd")
        self.optimizer.setToolTip("How the gradients turn into weight changes")
        self.optimizer.currentIndexChanged.connect(self._on_optimizer)
        self.lr = QtWidgets.QDoubleSpinBox()
        self.lr.setObjectName("trainLearningRate")
        self.lr.setDecimals(5)
        self.lr.setRange(MIN_LR, MAX_LR)             # the bounds every run accepts
        self.lr.setSingleStep(0.0005)
        self.lr.setValue(0.003)
        self.lr.setToolTip("Learning rate at the start of the run: the size of each step. With the cosine "
                           "schedule it is lowered\nalong a half cosine to 0 by the last batch. It may be "
                           "changed while training runs.")
        self.lr.valueChanged.connect(self._on_lr)
        self.schedule = QtWidgets.QComboBox()
        self.schedule.setObjectName("trainSchedule")
        self.schedule.addItem("Cosine: glide to 0", "cosine")
        self.schedule.addItem("Constant", "constant")
        self.schedule.setToolTip("How the learning rate changes over the run. Cosine: it starts at the rate "
                                 "above and falls\nsmoothly to 0 by the end, which lets the weights settle. "
                                 "Constant: it stays as set.")
        self.batch = QtWidgets.QSpinBox()
        self.batch.setObjectName("trainBatchSize")
        self.batch.setRange(1, 1024)
        self.batch.setValue(32)
        self.batch.setToolTip("Images per gradient step")
        self.epochs = QtWidgets.QSpinBox()
        self.epochs.setObjectName("trainEpochs")
        self.epochs.setRange(1, MAX_EPOCHS)
        self.epochs.setValue(3)
        self.epochs.setToolTip("Passes over the training digits")
        for label, w in (("Optimizer", self.optimizer), ("Learning rate", self.lr), ("Schedule", self.schedule),
                         ("Batch size", self.batch), ("Epochs", self.epochs)):
            of.addRow(label, w)
        return opt_box

    def _build_run_buttons(self) -> QtWidgets.QHBoxLayout:
        """Start, Pause, Stop."""
        SP = QtWidgets.QStyle.StandardPixmap
        self.start_button = QtWidgets.QPushButton(self.style().standardIcon(SP.SP_MediaPlay), "Start")
        self.start_button.setObjectName("trainStartButton")
        self.start_button.setToolTip("Train the current network (F5)")
        self.start_button.setShortcut(QtGui.QKeySequence("F5"))
        self.start_button.clicked.connect(lambda: self.start())
        self.pause_button = QtWidgets.QPushButton(self.style().standardIcon(SP.SP_MediaPause), "Pause")
        self.pause_button.setObjectName("trainPauseButton")
        self.pause_button.setToolTip("Hold after the current batch; press again to go on (F6)")
        self.pause_button.setShortcut(QtGui.QKeySequence("F6"))
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._on_pause)
        self.stop_button = QtWidgets.QPushButton(self.style().standardIcon(SP.SP_MediaStop), "Stop")
        self.stop_button.setObjectName("trainStopButton")
        self.stop_button.setToolTip("Stop after the current batch and keep the weights learned so far (Shift+F5)")
        self.stop_button.setShortcut(QtGui.QKeySequence("Shift+F5"))
        self.stop_button.clicked.connect(self.stop)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        return buttons

    def _build_model_buttons(self) -> QtWidgets.QHBoxLayout:
        """Save model… and Open model…: the window does the work (it owns the File menu)."""
        self.save_button = QtWidgets.QPushButton("Save model…")
        self.save_button.setObjectName("saveModelButton")
        self.save_button.setToolTip("Save the network's architecture and weights as .npz (Ctrl+S)")
        self.save_button.clicked.connect(self.saveModelRequested)
        self.open_button = QtWidgets.QPushButton("Open model…")
        self.open_button.setObjectName("openModelButton")
        self.open_button.setToolTip("Open a model saved before (.npz) (Ctrl+O)")
        self.open_button.clicked.connect(self.openModelRequested)
        files = QtWidgets.QHBoxLayout()
        files.addWidget(self.save_button)
        files.addWidget(self.open_button)
        return files

    def _build_plots(self) -> QtWidgets.QSplitter:
        """Loss, accuracy and speed side by side above the per-epoch views."""
        self.loss_plot = LossPlot()
        self.acc_plot = AccuracyPlot()
        self.speed_plot = SpeedPlot()
        top = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        top.addWidget(self.loss_plot)
        top.addWidget(self.acc_plot)
        top.addWidget(self.speed_plot)
        top.setSizes([420, 320, 240])
        self.plot_splitter = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        self.plot_splitter.setObjectName("trainPlotSplitter")
        self.plot_splitter.addWidget(top)
        self.plot_splitter.addWidget(self._build_epoch_views())
        self.plot_splitter.setSizes([330, 370])
        return self.plot_splitter

    def _build_epoch_views(self) -> QtWidgets.QTabWidget:
        """Filters and feature maps, the confusion matrix, the misclassified digits."""
        self.live = MapGrid()
        self.live.setObjectName("liveMapGrid")
        self.live.setToolTip("The first layer's filters and one sample's feature maps, refreshed a few "
                             "times per second while training")
        self.confusion = ConfusionPlot()
        self.gallery = QtWidgets.QListWidget()
        self.gallery.setObjectName("misclassifiedGallery")
        self.gallery.setToolTip("Held-out digits the network got wrong after the last epoch "
                                "(true digit → its answer).\nClick one to open it on the Draw or the "
                                "Backprop tab.")
        self.gallery.setViewMode(QtWidgets.QListView.IconMode)
        self.gallery.setIconSize(QtCore.QSize(56, 56))
        self.gallery.setGridSize(QtCore.QSize(76, 84))
        self.gallery.setResizeMode(QtWidgets.QListView.Adjust)
        self.gallery.setMovement(QtWidgets.QListView.Static)
        self.gallery.itemClicked.connect(self._on_gallery_click)
        self.bottom_tabs = QtWidgets.QTabWidget()
        self.bottom_tabs.addTab(self.live, "Filters && feature maps")
        self.bottom_tabs.addTab(self.confusion, "Confusion matrix")
        self.bottom_tabs.addTab(self.gallery, "Misclassified")
        self.diagnostics, self.runs = DiagnosticsPanel(), RunsPanel()
        self.diagnostics.restartRequested.connect(self.restart_at)
        self.bottom_tabs.addTab(self.diagnostics, "Diagnostics")
        self.bottom_tabs.addTab(self.runs, "Compare runs")
        self.bottom_tabs.setToolTip("")
        self._epoch_views = None
        self._shown_confusion = self._shown_gallery = None
        self.bottom_tabs.currentChanged.connect(self._refresh_epoch_views)
        return self.bottom_tabs

    def show_network_maps(self) -> None:
        """Filters and feature maps of the current network (when not training)."""
        net = self.state.network
        if net is None or self.state.training:
            return
        try:
            _, maps = network_maps(net, self._sample())
        except Exception as e:  # noqa: BLE001
            self.state.say(f"Could not draw the filters: {e}")
            return
        self._show_maps(maps)

    # ------------------------------------------------------------ settings
    def settings_dict(self) -> dict:
        return {"source": self.source.currentData(), "count": self.count.value(),
                "holdout": self.holdout.value(), "optimizer": self.optimizer.currentData(),
                "lr": self.lr.value(), "batch": self.batch.value(), "epochs": self.epochs.value(),
                "schedule": self.schedule.currentData()}

    def apply_settings(self, d: dict) -> None:
        i = self.source.findData(d.get("source"))
        if i >= 0 and d.get("source") != "idx":
            self.source.setCurrentIndex(i)
        for combo, k in ((self.optimizer, "optimizer"), (self.schedule, "schedule")):
            i = combo.findData(d.get(k))
            if i >= 0:
                combo.setCurrentIndex(i)
        for w, k in ((self.count, "count"), (self.batch, "batch"), (self.epochs, "epochs"),
                     (self.holdout, "holdout"), (self.lr, "lr")):
            if k in d:
                set_clamped(w, d[k])

    # ---------------------------------------------------------------- data
    def _on_source(self, *_):
        key = self.source.currentData()
        self.idx_button.setVisible(key == "idx")
        self.count.setEnabled(key != "drawings")
        self.download_bar.setVisible(key in DOWNLOADS and self.dl_thread is not None)

    def _on_optimizer(self, *_):
        self.lr.setValue(0.003 if self.optimizer.currentData() == "adam" else 0.05)

    def choose_idx(self):
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Folder with IDX files (images and labels, .gz or raw)", str(data_dir()))
        if folder:
            self.set_idx_folder(folder)

    def set_idx_folder(self, folder) -> bool:
        """Use the images and labels files of an IDX folder (training files preferred)."""
        found = find_idx_pair(folder)
        if found is None:
            self.state.say(f"No pair of IDX images and labels files in {folder}", 0)
            return False
        self._idx_files = found
        self.idx_button.setText(f"{Path(folder).name}/{Path(found[0]).name}")
        self.idx_button.setToolTip(f"Images: {found[0]}\nLabels: {found[1]}\nClick to choose another folder")
        self.state.say(f"Will train on {Path(found[0]).name} with {Path(found[1]).name}")
        return True

    def make_loader(self):
        """A callable for the worker thread returning (X, y, X_val, y_val), chosen from the form."""
        key = self.source.currentData()
        n = self.count.value()
        frac = self.holdout.value()
        idx_files = self._idx_files
        files = None
        if key in DOWNLOADS:
            paths = self.state.datasets.get(f"{key}_paths")
            if paths is None:
                self._start_after_download = True
                self.download_mnist(key=key)
                raise RuntimeError(f"{DOWNLOADS[key].title} is being downloaded first; training starts when it "
                                   "is ready")
            files = (next(p for k, p in paths.items() if "train" in k and "image" in k),
                     next(p for k, p in paths.items() if "train" in k and "label" in k))
        elif key == "idx":
            if not idx_files:
                self.choose_idx()
                idx_files = self._idx_files
                if not idx_files:
                    raise RuntimeError("choose a folder with IDX images and labels files first")
            files = idx_files
        count = None if key == "drawings" else n
        drawings = data_dir() / DRAWINGS_FILE

        def load():
            from cnncore.datasets import held_out_split, load_source
            X, y, _ = load_source(key, count=count, seed=1, files=files, drawings=drawings)
            return held_out_split(X, y, frac)
        return load

    def download_mnist(self, mirrors=None, checksums=None, key: str = "mnist") -> None:
        """Fetch MNIST (or another set of ``cnncore.datasets.DOWNLOADS``: ``key``) in a worker thread
        (``mirrors``, ``checksums``: other servers and files, for tests)."""
        if self.dl_thread is not None:
            return
        self.dl_worker = DownloadWorker(mirrors=mirrors, checksums=checksums, key=key)
        self.dl_worker.progress.connect(self._on_download_progress)
        self.dl_worker.finished.connect(self._on_download_done)
        self.dl_worker.failed.connect(self._on_download_failed)
        self.download_bar.setRange(0, 0)
        self.download_bar.setFormat("connecting…")
        self.download_bar.show()
        self.dl_thread = start_in_thread(self.dl_worker, self, f"{key}-download")
        self.dl_thread.finished.connect(self._on_download_thread_end)

    def _on_download_progress(self, done, total, name):
        if total:
            self.download_bar.setRange(0, 1000)
            self.download_bar.setValue(int(1000 * done / total))
            self.download_bar.setFormat(f"{name}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self.download_bar.setFormat(f"{name}: {done / 1e6:.1f} MB")

    def _on_download_done(self, paths):
        key = self.dl_worker.key if self.dl_worker is not None else "mnist"
        title = DOWNLOADS[key].title
        self.state.datasets[f"{key}_paths"] = {str(k): str(v) for k, v in dict(paths).items()}
        self.download_bar.setRange(0, 1)
        self.download_bar.setValue(1)
        self.download_bar.setFormat(f"{title} is ready")
        self.state.say(f"{title} downloaded and checked.")
        if getattr(self, "_start_after_download", False):
            self._start_after_download = False
            if self.source.currentData() == key and self.thread is None:
                QtCore.QTimer.singleShot(0, self, self.start)

    def _on_download_failed(self, msg):
        self._start_after_download = False
        self.download_bar.hide()
        self.state.say(msg, 0)

    def _on_download_thread_end(self):
        if self.dl_thread is not None:
            self.dl_thread.deleteLater()
        self.dl_thread = None
        self.dl_worker = None

    # -------------------------------------------------------------- running
    def is_running(self) -> bool:
        return self.thread is not None

    def start(self) -> bool:
        if self.thread is not None:
            return False
        net = self.state.network
        if net is None:
            self.state.say("Build a network on the Build tab first.")
            return False
        try:
            from cnncore.architecture import check_batch
            from cnncore.training import TrainConfig
            config = TrainConfig(optimizer=self.optimizer.currentData(), lr=float(self.lr.value()),
                                 batch_size=self.batch.value(), epochs=self.epochs.value(), seed=0,
                                 schedule=self.schedule.currentData())
            check_batch(net.spec, config.batch_size, net.dtype.itemsize)     # before the data is loaded
            loader = self.make_loader()
        except Exception as e:  # noqa: BLE001
            self.state.say(f"Cannot train: {e}", 0)
            return False
        src = source_of(self.source.currentData())
        net.learns(src.classes, src.dataset)       # the classes of what it learns from now on
        sample = self._sample()
        self.state.snapshot = net.copy()
        self.state.training = True
        self._limit_threads()
        self.worker = TrainWorker(net, loader, config, sample)
        self.worker.status.connect(self._on_status)
        self.worker.ready.connect(self._clear_previous_run)
        self.worker.progress.connect(self._on_progress)
        self.worker.epochDone.connect(self._on_epoch)
        self.worker.snapshot.connect(self._on_snapshot)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.notice.connect(self.state.say)
        self.diagnostics.follow(self.worker)
        self.runs.follow(self.worker, run_settings(config, net, self.source.currentText()), net.seed)
        self.eta.setText("Starting…")
        self.thread = start_in_thread(self.worker, self, "training")
        self.thread.finished.connect(self._on_thread_end)
        self._pause_full_collections(True)
        self.run.start()
        self.trainingStarted.emit()
        return True

    def restart_at(self, lr: float) -> bool:
        """Train again at learning rate ``lr`` (from the weights the network has: after a blow-up,
        the last good ones)."""
        self.lr.setValue(lr)
        return self.start()

    def _clear_previous_run(self) -> None:
        """The new run has its data: only now do the last run's curves and mistakes go."""
        epochs = self.worker.config.epochs if self.worker is not None else self.epochs.value()
        self.loss_plot.clear_data()
        self.acc_plot.clear_data()
        self.speed_plot.clear_data()
        for plot in (self.loss_plot, self.speed_plot):
            plot.set_epochs(epochs)
        self.acc_plot.getPlotItem().setXRange(0.5, epochs + 0.5, padding=0)
        self.gallery.clear()
        self._epoch_views = None

    def _sample(self):
        x = self.state.current_drawing()
        if x is not None:
            return x
        try:
            from cnncore.datasets import generated_digits, to_input
            X, _ = generated_digits(1, seed=7)
            return to_input(X)[0, 0]
        except Exception:  # noqa: BLE001
            return None

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.eta.setText("Stopping after this batch…")

    def _on_pause(self, checked: bool) -> None:
        if self.worker is None:
            return
        if checked:
            self.worker.pause()
            self.run.pause()
            self.eta.setText("Paused. Press Resume to go on.")
        else:
            self.worker.resume()
            self.run.resume()

    def _on_lr(self, value: float) -> None:
        if self.worker is not None:
            try:
                self.worker.set_lr(value)
                self.pacer.draw("loss")                # the mark goes after the batches so far
                self.loss_plot.mark_lr_change(value)
                self.state.say(f"Learning rate set to {value:g} for the next batches.", 3000)
            except Exception as e:  # noqa: BLE001
                self.state.say(str(e))

    def _show_phase(self, phase: str) -> None:
        """Buttons and settings as the run's phase allows (idle, running, paused)."""
        running = self.run.active
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        for w in (self.source, self.count, self.holdout, self.optimizer, self.schedule, self.batch, self.epochs,
                  self.open_button, self.idx_button):
            w.setEnabled(not running)
        self._hold_eta_size(running)
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(phase == PAUSED)
        self.pause_button.blockSignals(False)
        self.pause_button.setText("Resume" if phase == PAUSED else "Pause")
        if not running:
            self._on_source()

    def _hold_eta_size(self, hold: bool) -> None:
        """While a run goes on, the text under the progress bar keeps one size (the column's width,
        room for six lines): each new text of a label free to change size lays out and repaints the
        whole window. Between runs it takes the height its text needs."""
        lines = self.eta.fontMetrics().lineSpacing()
        if hold:
            self.eta.setFixedSize(self._eta_width(self.controls.width()),
                                  max(6 * lines, self.eta.sizeHint().height()))
        else:
            self.eta.setMinimumSize(0, 3 * lines)
            self.eta.setMaximumSize(16777215, 16777215)          # QWIDGETSIZE_MAX: no limit

    def _eta_width(self, column_width: int) -> int:
        m = self.controls.layout().contentsMargins()
        return max(1, column_width - m.left() - m.right())

    def eventFilter(self, obj, ev) -> bool:
        if obj is self.controls and ev.type() == QtCore.QEvent.Resize and self.run.active:
            self.eta.setFixedWidth(self._eta_width(ev.size().width()))    # the column was resized
        return super().eventFilter(obj, ev)

    def _on_failed(self, text: str) -> None:
        self.state.say(text, 0)

    def _on_status(self, text: str) -> None:
        self.eta.setText(text)

    def _on_progress(self, d: dict) -> None:
        # Shown by the next frames: repainting is the costliest thing the GUI thread does while
        # training, and one repaint for several reports costs the same as for one.
        self.run.add_batches(d["x"], d["loss"], d["ips"])
        self._report = d
        for part in ("report", "loss", "speed"):
            self.pacer.mark(part)

    def _show_report(self) -> None:
        """The progress bar and the epoch, speed, rate and time left of the latest report."""
        d, self._report = self._report, None
        if d is None:
            return
        self.run.progress = d["progress"]
        left = self.run.seconds_left()
        if self.run.phase == RUNNING:
            self.eta.setText(f"Epoch {d['epoch']}, batch {d['batch']} of {d['batches']} · "
                             f"{d['ips'][-1]:,.0f} images/s<br>{self._rate_text(d['lr'])}<br>"
                             f"about {_duration(left)} left")

    def _rate_text(self, lr: float) -> str:
        """The learning rate in use now, and how it relates to the box (never split from its value)."""
        now = f"learning rate (lr)&nbsp;now&nbsp;{lr:.2g}"
        if self.schedule.currentData() == "cosine":
            return f"{now}: cosine schedule from&nbsp;{self.lr.value():g} down&nbsp;to&nbsp;0"
        return now

    def _draw_loss(self) -> None:
        """The batches received since the loss curve was drawn."""
        if self.run.has_loss_points():
            self.loss_plot.add_points(*self.run.take_loss_points())

    def _draw_speed(self) -> None:
        """The speeds received since the speed curve was drawn."""
        if self.run.has_speed_points():
            self.speed_plot.add_points(*self.run.take_speed_points())

    def _on_epoch(self, ev) -> None:
        self._epochs.append(ev)
        # The confusion matrix and the gallery are drawn when their tab is shown: rebuilding
        # them for a hidden tab after every epoch would only cost the GUI thread time.
        self._epoch_views = (ev, self.worker.X_val if self.worker is not None else None,
                             self.worker.y_val if self.worker is not None else None)
        self.pacer.mark("epoch")
        # (the status bar shows on every tab: said now, not when the Train tab draws)
        msg = f"Epoch {ev.epoch}: training accuracy {ev.train_accuracy:.1%}"
        if np.isfinite(ev.val_accuracy):
            msg += f", held-out accuracy {ev.val_accuracy:.1%}"
        self.state.say(msg, 8000)

    def _draw_epochs(self) -> None:
        """The accuracies of the epochs ended since the last frame, and the last one's views."""
        epochs, self._epochs = self._epochs, []
        for ev in epochs:
            val = ev.val_accuracy if np.isfinite(ev.val_accuracy) else None
            self.acc_plot.add_epoch(ev.epoch, ev.train_accuracy, val)
        self._refresh_epoch_views()

    def _refresh_epoch_views(self, *_) -> None:
        if self._epoch_views is None:
            return
        ev, Xv, yv = self._epoch_views
        current = self.bottom_tabs.currentWidget()
        if current is self.confusion and self._shown_confusion is not ev:
            if ev.confusion is not None and np.asarray(ev.confusion).sum() > 0:
                self.confusion.set_classes(classes_of(self.state.view_network()))
                self.confusion.set_matrix(ev.confusion)
            self._shown_confusion = ev
        elif current is self.gallery and self._shown_gallery is not ev:
            self._fill_gallery(ev, Xv, yv)
            self._shown_gallery = ev

    def _fill_gallery(self, ev, X_val, y_val) -> None:
        """The held-out mistakes of ``ev``, with the answers of the same pass (``ev.predicted``)."""
        self.gallery.clear()
        if X_val is None or len(ev.misclassified) == 0:
            return
        idx = np.asarray(ev.misclassified)[:60]
        preds = np.asarray(ev.predicted)[:60]
        Xv = np.asarray(X_val)[idx]
        yv = np.asarray(y_val)[idx]
        net = self.state.view_network()
        names = classes_of(net)
        for k in range(len(idx)):
            img = Xv[k]
            if img.dtype != np.uint8:
                img = (np.clip(np.asarray(img).reshape(28, 28), 0, 1) * 255).astype(np.uint8)
            img = np.ascontiguousarray(img.reshape(28, 28))
            q = QtGui.QImage(img.data, 28, 28, 28, QtGui.QImage.Format_Grayscale8).copy()
            pix = QtGui.QPixmap.fromImage(q.scaled(56, 56))
            it = QtWidgets.QListWidgetItem(QtGui.QIcon(pix), f"{names[int(yv[k])]} → {names[int(preds[k])]}")
            it.setToolTip(f"{a_class(net, yv[k])[:1].upper() + a_class(net, yv[k])[1:]} the network read as "
                          f"{names[int(preds[k])]}. "
                          "Click to open it on the Draw or the Backprop tab.")
            it.setData(QtCore.Qt.UserRole, (img, int(yv[k])))
            self.gallery.addItem(it)

    def _on_gallery_click(self, item) -> None:
        menu = QtWidgets.QMenu(self)
        menu.addAction("Open on the Draw tab", lambda: self.open_misclassified(self.gallery.row(item), "draw"))
        menu.addAction("Trace it on the Backprop tab",
                       lambda: self.open_misclassified(self.gallery.row(item), "backprop"))
        menu.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        menu.popup(QtGui.QCursor.pos())

    def open_misclassified(self, row: int, where: str) -> None:
        """Hand gallery item ``row`` to the Draw (``"draw"``) or Backprop (``"backprop"``) tab."""
        item = self.gallery.item(row)
        if item is None:
            return
        img, label = item.data(QtCore.Qt.UserRole)
        self.openDigit.emit(np.asarray(img, dtype=np.float32) / 255.0, label, where)

    def _on_snapshot(self, snap, maps) -> None:
        self.state.snapshot = snap
        self._maps = maps
        self.pacer.mark("maps")
        self.state.weightsChanged.emit()      # the other tabs (predictions) follow on their own

    def _draw_maps(self) -> None:
        """The latest snapshot's filters and maps (when their tab shows)."""
        maps, self._maps = self._maps, None
        if maps is not None and (self.bottom_tabs.currentWidget() is self.live or not self.live.map_count()):
            self._show_maps(maps)

    def _show_maps(self, maps) -> None:
        groups = []
        if "sample" in maps:
            groups.append(MapGroup("input", np.asarray(maps["sample"])[None, None], "sample input (28 × 28)"))
        for key, arr in maps.items():
            if key.endswith(".W"):
                groups.append(MapGroup(key, arr, f"{key} — first layer's filters", diverging=True))
        for key, arr in maps.items():
            if key.endswith(".y"):
                groups.append(MapGroup(key, arr, f"{key} — feature maps of the sample"))
        self.live.set_groups(groups)

    def _limit_threads(self) -> None:
        """Leave one core to the GUI thread while the worker trains (kernels use the others)."""
        try:
            import os

            import cnncore
            self._saved_threads = cnncore.get_num_threads()
            cnncore.set_num_threads(max(1, min(self._saved_threads, (os.cpu_count() or 2) - 1)))
        except Exception:  # noqa: BLE001
            self._saved_threads = None

    def _restore_threads(self) -> None:
        if getattr(self, "_saved_threads", None):
            try:
                import cnncore
                cnncore.set_num_threads(self._saved_threads)
            except Exception:  # noqa: BLE001
                pass
            self._saved_threads = None

    def _on_finished(self, ev) -> None:
        try:
            self.pacer.flush()
        finally:         # the run is over even if drawing its last frames failed
            self._end_run(ev)

    def _end_run(self, ev) -> None:
        self._restore_threads()
        self.state.training = False
        self.state.snapshot = None
        if ev.reason in ("done", "stopped") and "could not start" not in ev.message:
            self.state.mark_trained("trained here")
        self.run.finish(done=ev.reason == "done")
        text = finished_text(ev)
        self.eta.setText(text)
        self.state.say(text, 0 if ev.reason == "diverged" else 10000)
        self.state.weightsChanged.emit()
        self.trainingFinished.emit(ev)

    def _pause_full_collections(self, pause: bool) -> None:
        """During a run the garbage collector's full passes leave out the objects made before it.
        A full pass visits every object the window holds (52 ms here: the longest stutter while
        reports arrive); the garbage of earlier runs is collected first, in one pass as Start is
        pressed. Paired: nothing else in the app freezes the collector."""
        if pause and not self._gc_frozen:
            gc.collect()
            gc.freeze()
        elif not pause and self._gc_frozen:
            gc.unfreeze()
        self._gc_frozen = pause

    def _on_thread_end(self) -> None:
        self._pause_full_collections(False)
        self.run.finish()           # already so, unless the worker ended without a word
        if self.thread is not None:
            self.thread.deleteLater()
        self.thread = None
        self.worker = None

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop training and the download and wait for their threads (window closing)."""
        ok = True
        if self.worker is not None:
            self.worker.stop()
        if self.thread is not None:
            self.thread.quit()
            if not self.thread.wait(timeout_ms):
                # Still preparing data (the worker checks for stop once that is done): let it
                # end on its own rather than destroy a running thread with this widget.
                _ORPHANS.append((self.thread, self.worker))
                self.thread.setParent(None)
                ok = False
            # Deliver the worker's last queued signals (finished, ...) now, not after closing.
            QtCore.QCoreApplication.sendPostedEvents(self, QtCore.QEvent.MetaCall)
            if self.state.training:
                self.state.training = False
                self.state.snapshot = None
                self._restore_threads()
            self._pause_full_collections(False)
        if self.dl_thread is not None:
            if self.dl_worker is not None:
                self.dl_worker.cancel()          # stops at the next chunk, leaves nothing partial
            self.dl_thread.quit()
            if not self.dl_thread.wait(timeout_ms):
                # Stuck in a network read: let it finish on its own rather than destroy a
                # running thread with this widget.
                _ORPHANS.append((self.dl_thread, self.dl_worker))
                self.dl_thread.setParent(None)
                ok = False
        return ok


def run_settings(config, net, data: str) -> dict:
    """What a kept run is compared by: the training settings, the architecture, the data and where its
    weights started (new ones from the network's seed, or the weights earlier epochs left)."""
    from cnncore.architecture import describe_layer
    history = getattr(net, "history", None) or []
    start = (f"new weights from seed {net.seed}" if not history
             else f"weights already trained for {len(history)} epoch{'s' if len(history) != 1 else ''}")
    return config.to_dict() | {"architecture": " · ".join(describe_layer(l) for l in net.spec["layers"]),
                               "data": data, "start": start}


def finished_text(ev) -> str:
    """How a run ended, in words, with the held-out accuracy of the weights it ended with."""
    msg = ev.message
    if msg.startswith("stopped"):
        text = msg[0].upper() + msg[1:] + "."
    else:
        head = {"done": "Finished", "stopped": "Stopped", "diverged": "Diverged"}.get(ev.reason, ev.reason)
        text = f"{head}: {msg}" + ("" if msg.endswith(".") else ".")
    n = getattr(ev, "val_count", 0)
    acc = getattr(ev, "val_accuracy", float("nan"))
    if n and np.isfinite(acc):
        right = int(round(acc * n))
        text += (f" On {n:,} held-out digits it never trained on, the network now answers {right:,} "
                 f"correctly: {acc:.1%}.")
    return text


def _duration(s: float) -> str:
    if not np.isfinite(s):
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    return f"{m} min {s:02d} s"
