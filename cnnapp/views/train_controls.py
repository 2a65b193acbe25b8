"""The Train tab's left column: which data, the learning settings, Start / Pause / Stop, the progress
and what the run says, the model files. The values a run starts with come from here; whether a run
goes on is the session's (the buttons follow its phase)."""
from __future__ import annotations

from pathlib import Path

from cnncore.datasets.mnist import DOWNLOADS
from cnncore.defaults import run_defaults
from cnncore.limits import MAX_EPOCHS, MAX_LR, MIN_LR
from PySide6 import QtCore, QtGui, QtWidgets

from ..run_control import DataChoice
from ..settings import data_dir, set_clamped
from ..state import PAUSED


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


class TrainControls(QtWidgets.QWidget):
    """Signals: ``startRequested()``, ``againRequested()`` (train again from the last run's start),
    ``stopRequested()``, ``pauseToggled(bool)``, ``lrChanged(float)``, ``saveModelRequested()``,
    ``openModelRequested()``."""
    startRequested = QtCore.Signal()
    againRequested = QtCore.Signal()
    stopRequested = QtCore.Signal()
    pauseToggled = QtCore.Signal(bool)
    lrChanged = QtCore.Signal(float)
    saveModelRequested = QtCore.Signal()
    openModelRequested = QtCore.Signal()

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setObjectName("trainControls")
        ll = QtWidgets.QVBoxLayout(self)
        ll.addWidget(self._build_data_box())
        ll.addWidget(self._build_learning_box())
        ll.addLayout(self._build_run_buttons())
        self.progress = QtWidgets.QProgressBar()
        self.progress.setObjectName("trainProgress")
        self.progress.setToolTip("Share of the planned batches done")
        self.progress.setRange(0, 1000)
        self.progress.setFormat("%p%")
        self.eta = QtWidgets.QLabel("")
        self.eta.setObjectName("trainEta")
        self.eta.setWordWrap(True)
        self.eta.setAlignment(QtCore.Qt.AlignTop | QtCore.Qt.AlignLeft)
        ll.addWidget(self.progress)
        ll.addWidget(self.eta)
        ll.addStretch(1)
        ll.addLayout(self._build_model_buttons())
        self.setMinimumWidth(300)
        self.setMaximumWidth(380)
        self._defaults_for_source()
        run = session.run
        run.phase_changed.connect(self._show_phase)
        session.model_changed.connect(lambda: self._show_phase(run.phase))
        run.progress_changed.connect(lambda p: self.progress.setValue(int(round(1000 * p))))
        self._show_phase(run.phase)

    # ------------------------------------------------------------ builders
    def _build_data_box(self) -> QtWidgets.QGroupBox:
        """Which digits, how many, how many held out; the IDX folder and the download bar."""
        from cnncore.datasets import available_sources
        data_box = QtWidgets.QGroupBox("Data")
        form = QtWidgets.QFormLayout(data_box)
        self.source = QtWidgets.QComboBox()
        self.source.setObjectName("trainSource")
        for src in available_sources(for_app=True):
            self.source.addItem(src.label, src.key)
        self.source.setToolTip("Which digits to learn from (choosing one sets its usual count and share held out)")
        self.count = QtWidgets.QSpinBox()
        self.count.setObjectName("trainCount")
        self.count.setRange(100, 60000)
        self.count.setSingleStep(1000)
        self.count.setToolTip("How many digits to generate (or use at most from the data set)")
        self.holdout = QtWidgets.QDoubleSpinBox()
        self.holdout.setObjectName("trainHoldout")
        self.holdout.setRange(0.0, 0.5)
        self.holdout.setSingleStep(0.05)
        self.holdout.setToolTip("Share of the digits kept aside to measure accuracy on unseen data")
        self.download_bar = QtWidgets.QProgressBar()
        self.download_bar.setObjectName("downloadProgress")
        self.download_bar.setToolTip("Download progress")
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
        self.source.currentIndexChanged.connect(self._defaults_for_source)
        return data_box

    def _build_learning_box(self) -> QtWidgets.QGroupBox:
        """Optimizer, learning rate and its schedule, batch size, epochs."""
        from cnncore.optim import DEFAULT_LR
        d = run_defaults("generated")
        opt_box = QtWidgets.QGroupBox("Learning")
        of = QtWidgets.QFormLayout(opt_box)
        self.optimizer = self._combo("trainOptimizer", "How the gradients turn into weight changes",
                                     (("Adam", "adam"), ("SGD with momentum", "sgd")), d.optimizer)
        self.optimizer.currentIndexChanged.connect(
            lambda *_: self.lr.setValue(DEFAULT_LR[self.optimizer.currentData()]))
        self.lr = QtWidgets.QDoubleSpinBox()
        self.lr.setObjectName("trainLearningRate")
        self.lr.setDecimals(5)
        self.lr.setRange(MIN_LR, MAX_LR)             # the bounds every run accepts
        self.lr.setSingleStep(0.0005)
        self.lr.setValue(DEFAULT_LR[d.optimizer])
        self.lr.setToolTip("Learning rate at the start of the run: the size of each step. With the cosine "
                           "schedule it is lowered\nalong a half cosine to 0 by the last batch. It may be "
                           "changed while training runs.")
        self.lr.valueChanged.connect(self.lrChanged)
        self.schedule = self._combo(
            "trainSchedule", "How the learning rate changes over the run. Cosine: it starts at the rate above and "
            "falls\nsmoothly to 0 by the end, which lets the weights settle. Constant: it stays as set.",
            (("Cosine: glide to 0", "cosine"), ("Constant", "constant")), d.schedule)
        self.batch = self._spin("trainBatchSize", "Images per gradient step", 1, 1024, d.batch_size)
        self.epochs = self._spin("trainEpochs", "Passes over the training digits", 1, MAX_EPOCHS, d.epochs)
        for label, w in (("Optimizer", self.optimizer), ("Learning rate", self.lr), ("Schedule", self.schedule),
                         ("Batch size", self.batch), ("Epochs", self.epochs)):
            of.addRow(label, w)
        return opt_box

    @staticmethod
    def _combo(name, tip, items, current) -> QtWidgets.QComboBox:
        box = QtWidgets.QComboBox()
        box.setObjectName(name)
        box.setToolTip(tip)
        for text, data in items:
            box.addItem(text, data)
        box.setCurrentIndex(box.findData(current))
        return box

    @staticmethod
    def _spin(name, tip, lo, hi, value) -> QtWidgets.QSpinBox:
        box = QtWidgets.QSpinBox()
        box.setObjectName(name)
        box.setToolTip(tip)
        box.setRange(lo, hi)
        box.setValue(value)
        return box

    def _build_run_buttons(self) -> QtWidgets.QGridLayout:
        """Start, Pause, Stop; Train again from the same start."""
        SP = QtWidgets.QStyle.StandardPixmap
        self.start_button = QtWidgets.QPushButton(self.style().standardIcon(SP.SP_MediaPlay), "Start")
        self.start_button.setObjectName("trainStartButton")
        self.start_button.setToolTip("Train the current network (F5)")
        self.start_button.setShortcut(QtGui.QKeySequence("F5"))
        self.start_button.clicked.connect(self.startRequested)
        self.pause_button = QtWidgets.QPushButton(self.style().standardIcon(SP.SP_MediaPause), "Pause")
        self.pause_button.setObjectName("trainPauseButton")
        self.pause_button.setToolTip("Hold after the current batch; press again to go on (F6)")
        self.pause_button.setShortcut(QtGui.QKeySequence("F6"))
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self.pauseToggled)
        self.stop_button = QtWidgets.QPushButton(self.style().standardIcon(SP.SP_MediaStop), "Stop")
        self.stop_button.setObjectName("trainStopButton")
        self.stop_button.setToolTip("Stop after the current batch and keep the weights learned so far (Shift+F5)")
        self.stop_button.setShortcut(QtGui.QKeySequence("Shift+F5"))
        self.stop_button.clicked.connect(self.stopRequested)
        self.again_button = QtWidgets.QPushButton("Train again from the same start")
        self.again_button.setObjectName("trainAgainButton")
        self.again_button.setToolTip("Put back the weights the last run started from and train with the settings "
                                     "above, the images shuffled in the same order: the two runs then differ only in "
                                     "what you changed (Ctrl+F5; Compare runs says so)")
        self.again_button.setShortcut(QtGui.QKeySequence("Ctrl+F5"))
        self.again_button.clicked.connect(self.againRequested)
        buttons = QtWidgets.QGridLayout()
        for k, b in enumerate((self.start_button, self.pause_button, self.stop_button)):
            buttons.addWidget(b, 0, k)
        buttons.addWidget(self.again_button, 1, 0, 1, 3)
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
    def _defaults_for_source(self, *_) -> None:
        """The source's usual count and share held out (:func:`cnncore.defaults.run_defaults`)."""
        key = self.source.currentData()
        d = run_defaults(key)
        if d.count is not None:
            self.count.setValue(d.count)
        self.holdout.setValue(d.holdout)
        self._show_source()

    def _show_source(self) -> None:
        key = self.source.currentData()
        self.idx_button.setVisible(key == "idx")
        self.count.setEnabled(key != "drawings" and not self.session.training)

    def choice(self, ask=True) -> DataChoice:
        """The data of the next run (for an IDX folder not chosen yet, asked for first)."""
        key = self.source.currentData()
        if key == "idx" and not self.idx_files and ask:
            self.choose_idx()
        return DataChoice(key, self.count.value(), self.holdout.value(), self.idx_files if key == "idx" else None)

    def config(self):
        """The run's settings; ``ValueError`` when a batch of this size would not fit (said before the
        data is loaded)."""
        from cnncore.architecture import check_batch
        from cnncore.training import TrainConfig
        config = TrainConfig(optimizer=self.optimizer.currentData(), lr=float(self.lr.value()),
                             batch_size=self.batch.value(), epochs=self.epochs.value(), seed=0,
                             schedule=self.schedule.currentData())
        net = self.session.network
        if net is not None:
            check_batch(net.spec, config.batch_size, net.dtype.itemsize)
        return config

    @property
    def idx_files(self):
        """The IDX images and labels files picked (the session keeps them, :meth:`Session.choose_files`)."""
        return self.session.data_files.get("idx")

    def choose_idx(self):
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Folder with IDX files (images and labels, .gz or raw)", str(data_dir()))
        if folder:
            self.set_idx_folder(folder)

    def set_idx_folder(self, folder) -> bool:
        """Use the images and labels files of an IDX folder (training files preferred)."""
        found = find_idx_pair(folder)
        if found is None:
            self.session.say(f"No pair of IDX images and labels files in {folder}", 0)
            return False
        self.session.choose_files("idx", found)
        self.idx_button.setText(f"{Path(folder).name}/{Path(found[0]).name}")
        self.idx_button.setToolTip(f"Images: {found[0]}\nLabels: {found[1]}\nClick to choose another folder")
        self.session.say(f"Will train on {Path(found[0]).name} with {Path(found[1]).name}")
        return True

    def show_download(self, done, total, name) -> None:
        """A download's progress (``done`` None: it is starting)."""
        self.download_bar.show()
        if done is None:
            self.download_bar.setRange(0, 0)
            self.download_bar.setFormat("connecting…")
        elif total:
            self.download_bar.setRange(0, 1000)
            self.download_bar.setValue(int(1000 * done / total))
            self.download_bar.setFormat(f"{name}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self.download_bar.setFormat(f"{name}: {done / 1e6:.1f} MB")

    def show_downloaded(self, key: str) -> None:
        self.download_bar.setRange(0, 1)
        self.download_bar.setValue(1)
        self.download_bar.setFormat(f"{DOWNLOADS[key].title} is ready")

    def show_download_failed(self, message: str) -> None:
        """In full, in the column (the status bar may cut it), with the ways to train without a network."""
        self.download_bar.hide()
        self.progress.setValue(0)
        self.eta.setText(f"<span style='color:#b00020'>{message.rstrip('.')}.</span><br>Without a connection, "
                         "choose <b>IDX folder…</b> as the source and pick a folder that holds MNIST's files "
                         "(e.g. copied from another computer), or train on <b>Generated digits</b>.")

    # ---------------------------------------------------------------- phase
    def _show_phase(self, phase: str) -> None:
        """Buttons and settings as the run's phase allows (idle, running, paused)."""
        running = self.session.run.active
        self.start_button.setEnabled(not running)
        self.again_button.setEnabled(not running and self.session.same_start() is not None)
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
            self._show_source()

    def _hold_eta_size(self, hold: bool) -> None:
        """While a run goes on, the text under the progress bar keeps one size (the column's width,
        room for six lines): each new text of a label free to change size lays out and repaints the
        whole window. Between runs it takes the height its text needs."""
        lines = self.eta.fontMetrics().lineSpacing()
        if hold:
            self.eta.setFixedSize(self._eta_width(self.width()), max(6 * lines, self.eta.sizeHint().height()))
        else:
            self.eta.setMinimumSize(0, 3 * lines)
            self.eta.setMaximumSize(16777215, 16777215)          # QWIDGETSIZE_MAX: no limit

    def _eta_width(self, column_width: int) -> int:
        m = self.layout().contentsMargins()
        return max(1, column_width - m.left() - m.right())

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if self.session.run.active:
            self.eta.setFixedWidth(self._eta_width(ev.size().width()))    # the column was resized
