"""The Train tab's left column: which data, the learning settings, Start / Pause / Stop, the progress
and what the run says, the model files. The values a run starts with come from here; whether a run
goes on is the session's (the buttons follow its phase)."""
from __future__ import annotations

from cnncore.defaults import run_defaults
from cnncore.limits import MAX_EPOCHS, MAX_LR, MIN_LR
from PySide6 import QtCore, QtGui, QtWidgets

from ..run_control import DataChoice
from ..settings import set_clamped
from ..state import PAUSED
from ..widgets.zoom import zoom_of
from .train_data import DataBox
from .train_results import earlier_epochs

#: The largest batch the app's box offers (less where the network's memory limit says so).
APP_MAX_BATCH = 1024


_START = "Train the current network (F5)"
#: Why Start is off while a lesson is followed.
_FOLLOWED = ("Off while a lesson is followed: its stops are about its network as the teacher made it. "
             "Close the lesson to train (its answers are kept).")

class TrainControls(QtWidgets.QWidget):
    """Signals: ``startRequested()``, ``againRequested()`` (train again from the last run's start),
    ``stopRequested()``, ``pauseToggled(bool)``, ``lrChanged(float)``, ``saveModelRequested()``,
    ``openModelRequested()``, ``presetRequested(str)`` (a new network of this preset, which takes the
    source's pictures)."""
    startRequested = QtCore.Signal()
    againRequested = QtCore.Signal()
    stopRequested = QtCore.Signal()
    pauseToggled = QtCore.Signal(bool)
    lrChanged = QtCore.Signal(float)
    saveModelRequested = QtCore.Signal()
    openModelRequested = QtCore.Signal()
    presetRequested = QtCore.Signal(str)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setObjectName("trainControls")
        self._learning = None          # the learning defaults last set (cnncore.defaults.RunDefaults.config_fields)
        self.failed_words = False      # the words below say why the chosen source failed (another source: they go)
        ll = QtWidgets.QVBoxLayout(self)
        ll.addWidget(self._build_data_box())
        self.learning_box = self._build_learning_box()
        ll.addWidget(self.learning_box)
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
        self.fit_width()
        self._defaults_for_source()
        self._cap_batch()
        run = session.run
        run.phase_changed.connect(self._show_phase)
        session.model_changed.connect(lambda: self._show_phase(run.phase))
        session.lesson_changed.connect(lambda *_: self._show_phase(run.phase))
        session.model_changed.connect(self._cap_batch)
        session.model_changed.connect(self._learning_defaults)         # another preset, other defaults
        run.progress_changed.connect(lambda p: self.progress.setValue(int(round(1000 * p))))
        self._show_phase(run.phase)

    # ------------------------------------------------------------ builders
    def _build_data_box(self) -> DataBox:
        """Which pictures, how many, how many held out (:class:`~cnnapp.views.train_data.DataBox`)."""
        self.data = DataBox(self.session)
        for name in ("source", "count", "holdout", "download_bar", "idx_button", "folder_button"):
            setattr(self, name, getattr(self.data, name))
        for name in ("choose_idx", "set_idx_folder", "choose_folder", "set_picture_folder", "show_download",
                     "show_downloaded"):
            setattr(self, name, getattr(self.data, name))
        self.data.sourceChanged.connect(self._defaults_for_source)
        self.data.sourceChanged.connect(self._forget_failure)
        self.data.presetRequested.connect(self.presetRequested)
        return self.data

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
        self.lr.setAccessibleName("Learning rate")
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
            (("Cosine to 0", "cosine"), ("Constant", "constant")), d.schedule)
        self.batch = self._spin("trainBatchSize", "Images per gradient step", 1, APP_MAX_BATCH, d.batch_size)
        self.epochs = self._spin("trainEpochs", "Passes over the training pictures", 1, MAX_EPOCHS, d.epochs)
        self.schedule.setAccessibleName("Learning rate schedule")
        rate = QtWidgets.QHBoxLayout()              # the rate and its schedule share a line: room for Augment
        rate.addWidget(self.lr, 1)
        rate.addWidget(self.schedule, 1)
        for label, w in (("Optimizer", self.optimizer), ("Learning rate", rate), ("Batch size", self.batch),
                         ("Epochs", self.epochs), ("Augment", self._build_augment(d))):
            of.addRow(label, w)
        return opt_box

    def _build_augment(self, d) -> QtWidgets.QWidget:
        """Random shifts of each training picture, and mirror images (for pictures of things)."""
        self.shift = self._spin("trainShift", "Shift each training picture by up to this many pixels at random, "
                                "in a new way every epoch: the network learns the thing, not its exact place",
                                0, 4, d.augment)
        self.shift.setSuffix(" px shifts")
        self.shift.setAccessibleName("Random shifts of each training picture, in pixels")
        self.flip = QtWidgets.QCheckBox("mirror images")
        self.flip.setObjectName("trainFlip")
        self.flip.setToolTip("Mirror a random half of each batch left to right: a mirrored cat is still a cat "
                             "(for pictures of things; a mirrored digit is not a digit)")
        self.flip.setChecked(d.flip)
        row = QtWidgets.QWidget()
        lay = QtWidgets.QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.shift)
        lay.addWidget(self.flip, 1)
        return row

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
        self.start_button.setToolTip(_START)
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
                "schedule": self.schedule.currentData(), "augment": self.shift.value(), "flip": self.flip.isChecked(),
                "folder": self.data.picture_folder or ""}

    def apply_settings(self, d: dict) -> None:
        """Saved plain values, checked here: the source (a folder of pictures with its folder, when it
        can still be used; an IDX folder is picked again), the learning settings."""
        key, i = d.get("source"), self.source.findData(d.get("source"))
        if i >= 0 and key != "idx":
            self.source.setCurrentIndex(i)          # (a folder gone since stays the source, with a note)
        if key == "folder" and isinstance(d.get("folder"), str) and d["folder"]:
            self.data.set_picture_folder(d["folder"], restored=True)
        for combo, k in ((self.optimizer, "optimizer"), (self.schedule, "schedule")):
            i = combo.findData(d.get(k))
            if i >= 0:
                combo.setCurrentIndex(i)
        for w, k in ((self.count, "count"), (self.batch, "batch"), (self.epochs, "epochs"),
                     (self.holdout, "holdout"), (self.lr, "lr"), (self.shift, "augment")):
            if k in d:
                set_clamped(w, d[k])
        if isinstance(d.get("flip"), bool):
            self.flip.setChecked(d["flip"])

    # ---------------------------------------------------------------- data
    def _defaults_for_source(self, *_) -> None:
        """The source's usual count and share held out, and its learning settings (:meth:`_learning_defaults`:
        CIFAR-10 with the cifar preset learns longer, with mirror images)."""
        d = self._defaults()
        if d.count is not None:
            self.count.setValue(d.count)
        self.holdout.setValue(d.holdout)
        self._learning_defaults()

    def _defaults(self):
        """:func:`cnncore.defaults.run_defaults` of the chosen source and the network's preset."""
        from cnncore.architecture import PRESETS
        net = self.session.network
        name = net.spec.get("name") if net is not None else None
        return run_defaults(self.source.currentData(), name if name in PRESETS else None)

    def _learning_defaults(self) -> None:
        """The learning settings of the source and the network's preset, where they differ from those
        set last (a learner's own settings stay while the defaults do not change)."""
        from cnncore.optim import DEFAULT_LR
        d = self._defaults()
        learning = d.config_fields()
        if learning != self._learning:
            self._learning = learning
            self.optimizer.setCurrentIndex(self.optimizer.findData(d.optimizer))
            self.lr.setValue(d.lr if d.lr is not None else DEFAULT_LR[d.optimizer])
            self.schedule.setCurrentIndex(self.schedule.findData(d.schedule))
            for box, value in ((self.batch, d.batch_size), (self.epochs, d.epochs), (self.shift, d.augment)):
                set_clamped(box, value)
            self.flip.setChecked(d.flip)
        self.data.show_source(self.session.training)

    def choice(self, ask=True) -> DataChoice:
        """The data of the next run (for a folder not chosen yet, asked for first)."""
        return self.data.choice(ask)

    def config(self):
        """The run's settings; ``ValueError`` when a batch of this size would not fit (said before the
        data is loaded)."""
        from cnncore.architecture import check_batch
        from cnncore.training import TrainConfig
        config = TrainConfig(optimizer=self.optimizer.currentData(), lr=float(self.lr.value()),
                             batch_size=self.batch.value(), epochs=self.epochs.value(), seed=0,
                             schedule=self.schedule.currentData(), augment=self.shift.value(),
                             flip=self.flip.isChecked())
        net = self.session.network
        if net is not None:
            check_batch(net.spec, config.batch_size, net.dtype.itemsize)
        return config

    def _cap_batch(self) -> None:
        """The batch box offers at most the largest batch the network's memory limit lets pass
        (:func:`cnncore.architecture.max_batch`), and the app's 1,024."""
        from cnncore.architecture import max_batch
        net = self.session.network
        top = APP_MAX_BATCH if net is None else max(1, min(APP_MAX_BATCH, max_batch(net.spec, net.dtype.itemsize)))
        self.batch.setMaximum(top)
        self.batch.setToolTip("Images per gradient step" + (f" (at most {top:,} for this network: a larger batch "
                                                             "would need more than 2 GB)" if top < APP_MAX_BATCH
                                                             else ""))

    def show_download_failed(self, message: str) -> None:
        """In full, in the column (the status bar may cut it), with the ways to train without a network."""
        self.progress.setValue(0)
        self.eta.setText(self.data.show_download_failed(message))
        self.failed_words = True

    def _forget_failure(self, *_) -> None:
        """Another source: the words of the last one's failure (a download, a start that could not begin)
        go, and the network's own come back (they told of Fashion-MNIST under Kuzushiji-MNIST)."""
        if self.failed_words and not self.session.training:
            self.failed_words = False
            self.eta.setText(earlier_epochs(self.session.network)[1])

    # ---------------------------------------------------------------- phase
    def _show_phase(self, phase: str) -> None:
        """Buttons and settings as the run's phase allows (idle, running, paused)."""
        running, followed = self.session.run.active, self.session.lesson is not None
        self.start_button.setEnabled(not running and not followed)      # (it looked ready, then refused)
        self.start_button.setToolTip(_FOLLOWED if followed else _START)
        self.again_button.setEnabled(not running and not followed and self.session.same_start() is not None)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        for w in (self.source, self.count, self.holdout, self.optimizer, self.schedule, self.batch, self.epochs,
                  self.shift, self.flip, self.open_button, self.idx_button, self.folder_button,
                  self.data.preset_button, self.data.archive_button):
            w.setEnabled(not running)
        self._hold_eta_size(running)
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(phase == PAUSED)
        self.pause_button.blockSignals(False)
        self.pause_button.setText("Resume" if phase == PAUSED else "Pause")
        if not running:
            self.data.show_source(running)

    def fit_width(self) -> None:
        """The column as wide as its widest line asks, in its font (the results beside it name their
        pages in full at 1024 px): at a 14 pt font 340 px cut "Learning rate" to "Learning r"; a tab
        zoomed for a projector widens it again."""
        widest = self.fontMetrics().horizontalAdvance(self.again_button.text())
        zoom = zoom_of(self)
        # zoomed, the settings' rows whole too (text grows and shrinks faster than the sizes it scales; unzoomed, the
        # results beside keep their page names at 1024 px with the Lesson dock open)
        rows = self.learning_box.minimumSizeHint().width() + 2 * self.layout().contentsMargins().left()
        self.setMinimumWidth(max(int(300 * zoom), widest + int(111 * zoom), rows if zoom != 1 else 0))
        self.setMaximumWidth(self.minimumWidth() + int(40 * zoom))

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
