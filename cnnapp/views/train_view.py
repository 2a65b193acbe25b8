"""Train tab: the settings and Start / Pause / Stop on the left (:class:`TrainControls`), the loss,
accuracy and speed curves live, the maps, the result and the diagnostics below
(:class:`ResultsPanel`). The run itself is carried out by a :class:`cnnapp.run_control.RunController`;
whether one goes on, and its last result, are the session's."""
from __future__ import annotations

import numpy as np
from cnncore.network import network_maps
from PySide6 import QtCore, QtWidgets

from ..run_control import RunController, RunRefused, learnt_from
from ..state import RUNNING
from ..state.classes import shown_name
from ..widgets.confirm import confirm_discard
from ..widgets.one_at_a_time import OneAtATime
from ..widgets.plots import PLOT_WIDTH, AccuracyPlot, LossPlot, SpeedPlot
from ..widgets.redraw import FramePacer
from ..widgets.font_fit import follow_font
from ..widgets.scroll_area import scroll_area
from .train_controls import TrainControls
from .train_data import find_idx_pair  # noqa: F401  (for tests and scripts)
from .train_results import ResultsPanel, earlier_epochs, finished_text, run_settings, time_left


class TrainView(QtWidgets.QWidget):
    trainingStarted = QtCore.Signal()
    trainingFinished = QtCore.Signal(object)
    # The session's picture is a held-out mistake now: show it on "draw" or "backprop".
    openDigit = QtCore.Signal(str)
    saveModelRequested = QtCore.Signal()
    openModelRequested = QtCore.Signal()
    presetRequested = QtCore.Signal(str)       # a new network of this preset (the window asks the Build tab)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.run = session.run
        self.confirm = lambda text: confirm_discard(self, text)
        self.controller = RunController(session, self)
        self.controls = c = TrainControls(session)
        self.results = ResultsPanel(session)
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        self.splitter.setObjectName("trainSplitter")
        self.splitter.addWidget(_scrolled(c))
        self.splitter.addWidget(self._build_plots())
        self.splitter.setStretchFactor(1, 1)
        self.splitter.splitterMoved.connect(self._cap_controls)
        QtWidgets.QHBoxLayout(self).addWidget(self.splitter)
        # the panels' widgets, as the window, the settings and the tests reach them
        for name in ("source", "count", "holdout", "optimizer", "lr", "schedule", "batch", "epochs", "eta",
                     "progress", "download_bar", "start_button", "save_button", "open_button"):
            setattr(self, name, getattr(c, name))
        for name in ("live", "confusion", "gallery", "gallery_page", "diagnostics", "runs"):
            setattr(self, name, getattr(self.results, name))
        self.bottom_tabs = self.results
        # While training, the window is redrawn in frames, one part per frame (see FramePacer),
        # never as a report of the worker arrives.
        self.pacer = FramePacer(self, {"report": self._show_report, "loss": self._draw_loss,
                                       "speed": self._draw_speed, "epoch": self._draw_epochs,
                                       "maps": self._draw_maps})
        # What waits for its frame: the latest report, the epochs and the snapshot's maps; the
        # batches' loss and speed wait in the run (TrainingRun.take_loss_points, ...).
        self._report = None
        self._epochs = []
        self._maps = None
        self._bind()
        self._on_model_changed()        # the network the window starts with: its earlier epochs, its maps

    def _build_plots(self) -> QtWidgets.QSplitter:
        """Loss, accuracy and speed side by side above the per-epoch views (one at a time, chosen by a
        tab, where they would be narrower than :data:`PLOT_WIDTH`: a lesson's panel on a small screen)."""
        self.loss_plot, self.acc_plot, self.speed_plot = LossPlot(), AccuracyPlot(), SpeedPlot()
        top = self.plots = OneAtATime([("Loss", self.loss_plot), ("Accuracy", self.acc_plot),
                                       ("Speed", self.speed_plot)], PLOT_WIDTH, sizes=[420, 320, 240])
        self.plot_splitter = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        self.plot_splitter.setObjectName("trainPlotSplitter")
        self.plot_splitter.addWidget(top)
        self.plot_splitter.addWidget(self.results)
        self.plot_splitter.setSizes([330, 370])
        return self.plot_splitter

    def _bind(self) -> None:
        c, ctl, s = self.controls, self.controller, self.session
        c.startRequested.connect(lambda: self.start())
        c.againRequested.connect(lambda: self.start(same_start=True))
        c.stopRequested.connect(self.stop)
        c.pauseToggled.connect(self._on_pause)
        c.lrChanged.connect(self._on_lr)
        c.saveModelRequested.connect(self.saveModelRequested)
        c.openModelRequested.connect(self.openModelRequested)
        c.presetRequested.connect(self.presetRequested)
        c.data.archiveChosen.connect(lambda key, path: self.controller.download(key, local=path))
        self.results.openMistake.connect(lambda k, where: self.openDigit.emit(where))
        self.results.diagnostics.restartRequested.connect(self.restart_at)
        # the maps' sample is the Draw tab's digit: a digit drawn (or cleared) after the network came shows
        s.drawing.finished.connect(self._on_drawn)
        ctl.status.connect(c.eta.setText)
        ctl.started.connect(self._follow)
        ctl.ready.connect(self._on_ready)
        ctl.progress.connect(self._on_progress)
        ctl.epochEnded.connect(self._on_epoch)
        ctl.snapshot.connect(self._on_snapshot)
        ctl.finished.connect(self._on_finished)
        ctl.failed.connect(lambda text: s.say(text, 0))
        ctl.downloadProgress.connect(c.show_download)
        ctl.reading.connect(c.show_download)
        ctl.ready.connect(c.data.end_reading)
        ctl.finished.connect(lambda ev: c.data.end_reading())     # (a run that could not start never got ready)
        ctl.notes.connect(c.data.show_notes)
        ctl.folderRead.connect(c.data.show_read)
        ctl.downloaded.connect(c.show_downloaded)
        ctl.downloadFailed.connect(self._on_download_failed)
        s.model_changed.connect(self._on_model_changed)

    # ------------------------------------------------------- the model
    def _on_model_changed(self) -> None:
        """Another model: the curves, the result and the words of the old one's run go; the epochs a
        network trained before kept (its accuracy in each) are drawn, and said to be its."""
        self._clear_curves()
        points, words = earlier_epochs(self.session.network)
        if points:
            self.acc_plot.set_epochs(points[-1][0])
        for epoch, train_acc, val_acc in points:
            self.acc_plot.add_epoch(epoch, train_acc, val_acc)
        self.controls.eta.setText(words)
        self.controls.progress.setValue(0)
        self.show_network_maps()

    def _on_drawn(self, *_) -> None:
        if self.session.takes_drawings and not self.session.other_dataset:
            self.show_network_maps()

    def show_network_maps(self) -> None:
        """Filters and feature maps of the current network (when not training)."""
        net = self.session.network
        if net is None or self.session.training:
            return
        try:
            _, maps = network_maps(net, self._sample())
        except Exception as e:  # noqa: BLE001
            self.session.say(f"Could not draw the filters: {e}")
            return
        self.results.show_maps(maps)

    def _sample(self):
        """The input whose maps are shown: for a network of digits the drawing, else a generated digit;
        for any other, the session's picture when the network takes it, else its first sample (a grey
        28×28 network of other classes, with neither, the drawing; None: no picture yet, and a run then
        shows its first held-out picture)."""
        s = self.session
        if not s.takes_drawings or s.other_dataset:
            x = self._picture_or_sample()
            if x is not None or not s.takes_drawings:
                return x
        try:
            x = s.drawing.image()
        except Exception:  # noqa: BLE001 - preprocessing failed: a generated digit instead
            x = None
        if x is not None:
            return x
        try:
            from cnncore.datasets import generated_digits, to_input
            X, _ = generated_digits(1, seed=7)
            return to_input(X)[0, 0]
        except Exception:  # noqa: BLE001
            return None

    def _picture_or_sample(self):
        s = self.session
        if s.picture is not None and s.picture.shape == s.input_shape:
            return s.picture.image
        X, _, _ = s.sample_set()
        return np.asarray(X[0], dtype=np.float32) / 255 if len(X) and X.dtype == np.uint8 else None

    # ------------------------------------------------------------ settings
    def settings_dict(self) -> dict:
        return self.controls.settings_dict()

    def apply_settings(self, d: dict) -> None:
        self.controls.apply_settings(d)

    # -------------------------------------------------------------- running
    def is_running(self) -> bool:
        return self.session.training

    @property
    def worker(self):
        return self.controller.worker

    @property
    def dl_thread(self):
        return self.controller.dl_thread

    def set_idx_folder(self, folder) -> bool:
        return self.controls.set_idx_folder(folder)

    def open_misclassified(self, row: int, where: str) -> bool:
        """Make mistake ``row`` of the result the picture and show it on "draw" or "backprop"."""
        return self.results.open_mistake(row, where)

    def make_loader(self, same_start: bool = False):
        """A callable for the worker thread returning (X, y, X_val, y_val), chosen from the form; a set
        still to download starts the same run (from the same start too) once it is here."""
        return self.controller.loader(self.controls.choice(), then=lambda: self.start(same_start))

    def start(self, same_start: bool = False) -> bool:
        """Train with the form's settings; ``same_start``: from the weights the last run started from,
        shuffling as it did (:meth:`cnnapp.state.Session.restore_start`). Every refusal comes before the
        network changes: a start that cannot run leaves it as it was."""
        s = self.session
        if s.training:
            return False
        try:
            config, choice, loader, classes = self._run_parts(same_start)
            if not self._asked(same_start, classes):
                return False
            self.controls.data.show_notes("")              # the last folder's notes go
            if same_start:
                config.seed = s.restore_start().seed
            try:
                self._begin(loader, config, choice)
            except BaseException:
                s.cancel_again()                           # (the weights the same start replaced come back)
                raise
        except (RunRefused, ValueError) as e:
            s.say(f"Cannot train: {e}", 0)
            self.controls.eta.setText(f"Cannot train yet: {e}.")     # the last run's words go
            self.controls.failed_words = True
            return False
        self.controls.eta.setText("Starting…")
        self.trainingStarted.emit()
        return True

    def _begin(self, loader, config, choice) -> None:
        """The run, from the network as it is now."""
        s = self.session
        # where the run's weights start, read before it starts (once it runs, s.network is the
        # run's latest snapshot)
        self._run_settings = run_settings(config, s.network, self.controls.source.currentText()), s.network.seed
        # a run on pictures that are not digits shows its first held-out picture's maps, not a
        # digit drawn on the Draw tab (which a grey 28×28 network of shapes took for its sample)
        sample = self._sample() if _of_digits(choice.key) else None
        self.controller.start(loader, config, sample, choice)

    def _run_parts(self, same_start: bool):
        """``(config, data choice, loader, the classes it teaches)`` of the run the form asks for, or
        :class:`RunRefused` saying why it cannot run (a lesson followed, no start to go back to, a folder gone
        since it was chosen)."""
        s = self.session
        if s.lesson is not None:        # (its stops show its network as the teacher made it)
            raise RunRefused("a lesson is being followed, and its stops are about its network as it is: "
                             "close the lesson first (its answers are kept)")
        config = self.controls.config()
        if same_start and s.same_start() is None:
            raise RunRefused("no run of this network to start again from yet")
        loader = self.make_loader(same_start)   # (asks for files not chosen yet)
        choice = self.controls.choice(ask=False)
        classes = tuple(learnt_from(choice, s.network)[0])       # (a folder that gives none is refused now)
        return config, choice, loader, classes

    def _asked(self, same_start: bool, classes: tuple) -> bool:
        """What a start would discard, asked first: the unsaved weights the same start replaces, or what a
        trained network knew of classes it is to unlearn."""
        if not same_start:
            return self._may_relearn(classes)
        return not self.session.unsaved or self.confirm(
            "Training again from the same start puts back the weights the last run started from: the weights "
            "trained since have not been saved. Train again and discard them? (A run that makes no update "
            "gives them back.)")

    def _may_relearn(self, classes: tuple) -> bool:
        """A trained network learning other ``classes`` than its own is asked about first: its outputs take
        the new names (output 0, "Frösche", became "airplane" without a word)."""
        net = self.session.network
        if not self.session.trained or self.session.is_starter or classes == tuple(net.classes):
            return True                   # (the starter model as shipped: nothing of the learner's fades)
        return self.confirm(f"This network learnt {_named(net.classes)}; these pictures are of other classes "
                            f"({_named(classes)}). Its outputs will be taught those instead, and what it knew of "
                            "the old ones will fade. Train it on them?")

    def _follow(self, worker) -> None:
        """The panels take the new run's reports from its worker before its thread starts (the
        controller's ``started``): a run short enough to report while the runs panel was still
        setting up its record used to leave that record without its batches."""
        settings, seed = self._run_settings
        first = self.run.first_epoch          # (the run's epochs are numbered after the network's)
        self.results.diagnostics.follow(worker, first)
        self.results.runs.follow(worker, settings, seed, self.session.same_start().mark, first)

    def restart_at(self, lr: float) -> bool:
        """Train again at learning rate ``lr`` (from the weights the network has: after a blow-up,
        the last good ones)."""
        self.controls.lr.setValue(lr)
        return self.start()

    def _clear_curves(self) -> None:
        """The last run's curves go (another model came, or a new run has its data): the plots show no
        epochs, and their axes name none (not the form's, which are no run's)."""
        for plot in (self.loss_plot, self.acc_plot, self.speed_plot):
            plot.clear_data()

    def _on_ready(self) -> None:
        """The new run has its data: only now do the last run's curves go (a start that could not begin
        leaves them, and their axes), and the axes span the run's epochs, after those its network had."""
        self._clear_curves()
        if self.worker is not None:
            for plot in (self.loss_plot, self.acc_plot, self.speed_plot):
                plot.set_epochs(self.worker.config.epochs, self.run.first_epoch)

    def stop(self) -> None:
        if self.session.training:
            self.controller.stop()
            self.controls.eta.setText("Stopping after this batch…")

    def _on_pause(self, checked: bool) -> None:
        self.controller.pause(checked)
        if checked and self.session.training:
            self.controls.eta.setText("Paused. Press Resume to go on.")

    def _on_lr(self, value: float) -> None:
        try:
            if self.controller.set_lr(value):
                self.pacer.draw("loss")                # the mark goes after the batches so far
                self.loss_plot.mark_lr_change(value)
                self.session.say(f"Learning rate set to {value:g} for the next batches.", 3000)
        except ValueError as e:
            self.session.say(str(e))

    def download_mnist(self, mirrors=None, checksums=None, key: str = "mnist") -> None:
        """Fetch a downloadable set now (``mirrors``, ``checksums``: other servers and files, for tests)."""
        self.controller.download(key, mirrors=mirrors, checksums=checksums)

    def _on_download_failed(self, message: str) -> None:
        self.controls.show_download_failed(message)
        self.session.say(message, 0)

    # ------------------------------------------------------------ reports
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
        if self.run.phase == RUNNING:
            epoch = self.run.epoch_number(d["epoch"])       # (after the network's earlier epochs)
            self.controls.eta.setText(f"Epoch {epoch}, batch {d['batch']} of {d['batches']} · "
                                      f"{d['ips'][-1]:,.0f} images/s<br>{self._rate_text(d['lr'])}<br>"
                                      + time_left(self.run.seconds_left()))

    def _rate_text(self, lr: float) -> str:
        """The learning rate in use now, and how it relates to the box (never split from its value)."""
        now = f"learning rate (lr)&nbsp;now&nbsp;{lr:.2g}"
        if self.controls.schedule.currentData() == "cosine":
            return f"{now}: cosine schedule from&nbsp;{self.controls.lr.value():g} down&nbsp;to&nbsp;0"
        return now

    def _draw_loss(self) -> None:
        if self.run.has_loss_points():
            self.loss_plot.add_points(*self.run.take_loss_points())

    def _draw_speed(self) -> None:
        if self.run.has_speed_points():
            self.speed_plot.add_points(*self.run.take_speed_points())

    def _on_epoch(self, ev) -> None:
        self._epochs.append(ev)
        self.pacer.mark("epoch")

    def _draw_epochs(self) -> None:
        """The accuracies of the epochs ended since the last frame; the result's page."""
        epochs, self._epochs = self._epochs, []
        for ev in epochs:
            val = ev.val_accuracy if np.isfinite(ev.val_accuracy) else None
            self.acc_plot.add_epoch(self.run.epoch_at(ev.epoch), ev.train_accuracy, val)

    def _on_snapshot(self, maps) -> None:
        self._maps = maps
        self.pacer.mark("maps")

    def _draw_maps(self) -> None:
        """The latest snapshot's filters and maps (when their page shows)."""
        maps, self._maps = self._maps, None
        if maps is not None and self.results.wants_maps():
            self.results.show_maps(maps)

    def _on_finished(self, ev) -> None:
        """The run ended (the session knows already): its last frames, then its words."""
        try:
            self.pacer.flush()
        finally:         # said even if drawing the last frames failed
            text = finished_text(ev, "digits" if not self.session.other_dataset else "images")
            self.controls.eta.setText(text)
            self.controls.failed_words = not ev.changed and ev.evaluation is None     # (it could not start)
            self.session.say(text, 0 if ev.reason == "diverged" else 10000)
            self.trainingFinished.emit(ev)

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop training and the download and wait for their threads (window closing)."""
        return self.controller.shutdown(timeout_ms)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        QtCore.QTimer.singleShot(0, self, self._cap_controls)        # (after the splitter has shared it out)

    def _cap_controls(self, *_) -> None:
        """The splitter gave the settings their size hint (411 px at 1024 px with a lesson's panel beside
        the tab) beyond their widest, and left the rest empty: what they cannot take goes to the results."""
        sizes, widest = self.splitter.sizes(), self.splitter.widget(0).maximumWidth()
        if len(sizes) == 2 and sizes[0] > widest:
            self.splitter.setSizes([widest, sizes[0] + sizes[1] - widest])


def _of_digits(key: str) -> bool:
    """Whether source ``key``'s pictures are grey 28×28 digits (a drawing is then a sample of them)."""
    from cnncore.architecture import DIGIT_CLASSES, DIGIT_SHAPE
    from cnncore.datasets import SOURCES
    source = next((s for s in SOURCES if s.key == key), None)
    return source is not None and source.key != "folder" and source.shape == DIGIT_SHAPE and \
        source.classes == DIGIT_CLASSES


def _scrolled(column: QtWidgets.QWidget) -> QtWidgets.QScrollArea:
    """``column`` in a scroll area of its own width: on a small screen (1024×640) its rows (a folder's
    notes, the time left) scroll instead of making the window taller than the screen."""
    area = scroll_area(column, "trainControlsScroll", "training settings", focus=False,
                       kind=QtWidgets.QScrollArea)     # (its width: the column's, set here)
    bar = area.verticalScrollBar().sizeHint().width       # (again when a zoom sets the column's font:)
    follow_font(column, lambda: column.fit_width() or (area.setMinimumWidth(column.minimumWidth() + bar()),
                                                       area.setMaximumWidth(column.maximumWidth() + bar())))
    return area


def _named(classes) -> str:
    """A network's classes in a few words: "cat, dog, frog and 7 more" (the unused outputs left out)."""
    from cnncore.architecture import UNUSED_CLASS
    used = [shown_name(c) for c in classes if c != UNUSED_CLASS]
    return ", ".join(used[:4]) + (f" and {len(used) - 4} more" if len(used) > 4 else "")
