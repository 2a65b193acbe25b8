"""Workers that run off the GUI thread: training, MNIST download.

Each worker is a ``QObject`` moved to its own ``QThread`` (see :func:`start_in_thread`). Its
``run`` slot loops over the engine's generator; the GUI thread only receives throttled signals
and calls the engine's thread-safe knobs (``Trainer.pause/resume/stop/set_lr``) directly.
The kernels release the GIL, so the GUI keeps painting while a batch runs.
"""
from __future__ import annotations

import threading
import time

from PySide6 import QtCore

from cnncore.network import network_maps

UPDATE_HZ = 10.0        # most progress signals per second
SNAPSHOT_HZ = 2.0       # most weight snapshots (filters, feature maps, live predictions) per second


class _ThreadWorker(QtCore.QObject):
    """A worker whose ``run`` (started by :func:`start_in_thread`) does ``_run`` in its thread and
    then hands the object back to the GUI thread, where Python deletes it."""

    @QtCore.Slot()
    def run(self) -> None:
        try:
            self._run()
        finally:
            _home(self)

    def _run(self) -> None:
        raise NotImplementedError


class TrainWorker(_ThreadWorker):
    """Drives ``cnncore.training.Trainer.run()`` in a worker thread.

    ``load_data`` is a callable run in the worker thread that returns
    ``(X_train, y_train, X_val, y_val)``; loading (e.g. generating digits) then never blocks the GUI.

    Signals (all queued to the GUI thread):
        status(str): what the worker is doing ("preparing the data", ...).
        progress(dict): at most ``UPDATE_HZ`` per second: ``x`` (epochs as floats), ``loss``,
            ``accuracy``, ``ips`` lists of every batch since the last signal, plus ``progress``
            (0..1), ``epoch``, ``batch``, ``batches``, ``lr``, ``elapsed`` (s).
        epochDone(object): the engine's EpochEvent (every epoch, never dropped).
        snapshot(object, object): at most ``SNAPSHOT_HZ`` per second: a copy of the network (the GUI
            may use it freely) and ``{"sample": (28, 28), "L{i}.y": maps, "L0.W": filters}``.
        finished(object): the engine's FinishedEvent (always last, also after errors or a stop).
        failed(str): the run could not start or broke; the message says why.
        ready(): the data is loaded and the first batch comes next (a run that cannot start
            never sends it, so the GUI keeps the previous run's plots until then).
        diverged(object): the loss became NaN or infinite: a :class:`cnncore.diagnostics.Divergence`
            (sent before ``finished``).

    Each progress dict also carries ``diagnostics`` (per batch, :meth:`TrainingMonitor.observe`'s
    per-layer gradient norm, update ratio and dead ReLU share) and ``reading`` (one line).
    """

    status = QtCore.Signal(str)
    progress = QtCore.Signal(object)
    epochDone = QtCore.Signal(object)
    snapshot = QtCore.Signal(object, object)
    finished = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    ready = QtCore.Signal()
    diverged = QtCore.Signal(object)

    def __init__(self, net, load_data, config, sample=None):
        super().__init__()
        self.net = net
        self.load_data = load_data
        self.config = config
        self.sample = sample
        self.trainer = None
        self._stop_requested = False
        self._paused = False
        self._pending_lr = None
        self.X_val = None
        self.y_val = None

    # --------------------------------------------------------- GUI-thread API
    def stop(self) -> None:
        self._stop_requested = True
        t = self.trainer
        if t is not None:
            t.stop()

    def pause(self) -> None:
        self._paused = True
        if self.trainer is not None:
            self.trainer.pause()

    def resume(self) -> None:
        self._paused = False
        if self.trainer is not None:
            self.trainer.resume()

    def set_lr(self, lr: float) -> None:
        self._pending_lr = float(lr)
        if self.trainer is not None:
            self.trainer.set_lr(lr)

    # ------------------------------------------------------------ worker side
    def _run(self) -> None:
        from cnncore.training import FinishedEvent
        _be_nice()
        if not self._prepare():
            return
        try:
            finished = self._follow_run()
        except Exception as e:  # noqa: BLE001
            self.failed.emit(f"Training stopped by an error: {e}")
            finished = FinishedEvent("stopped", f"error: {e}")
        self._explain_failure()
        try:
            self._emit_snapshot()
        except Exception:  # noqa: BLE001
            pass
        self.finished.emit(finished or FinishedEvent("stopped", "the run ended early"))

    def _prepare(self) -> bool:
        """Load the data and make the trainer (with any pause, stop or rate asked for meanwhile).
        False when the run ends before its first batch (``finished`` is sent then)."""
        from cnncore.diagnostics import TrainingMonitor
        from cnncore.training import FinishedEvent, Trainer
        try:
            self.status.emit("Preparing the data…")
            X, y, Xv, yv = self.load_data()
            self.X_val, self.y_val = Xv, yv
            if self._stop_requested:
                self.finished.emit(FinishedEvent("stopped", "stopped before the first batch"))
                return False
            self.trainer = Trainer(self.net, X, y, Xv, yv, self.config)
            self.monitor = TrainingMonitor(self.net)
            if self._pending_lr is not None:
                self.trainer.set_lr(self._pending_lr)
            if self._paused:
                self.trainer.pause()
            if self._stop_requested:
                self.trainer.stop()
            self.status.emit(f"Training on {len(X):,} images"
                             + (f", {len(Xv):,} held out" if Xv is not None and len(Xv) else "") + "…")
            self.ready.emit()
            return True
        except Exception as e:  # noqa: BLE001 - reported in the window
            self.failed.emit(f"Could not start training: {e}")
            self.finished.emit(FinishedEvent("stopped", f"could not start: {e}"))
            return False

    def _follow_run(self):
        """Pass the trainer's events on: batches gathered into progress reports (``UPDATE_HZ``),
        snapshots (``SNAPSHOT_HZ``), epochs as they come. Returns the run's FinishedEvent."""
        from cnncore.training import BatchEvent, EpochEvent, FinishedEvent
        t_start = time.perf_counter()
        last_emit = last_snap = 0.0
        buf = {"x": [], "loss": [], "accuracy": [], "ips": [], "diagnostics": []}
        last = finished = None
        try:
            for ev in self.trainer.run():
                now = time.perf_counter()
                if isinstance(ev, BatchEvent):
                    last = ev
                    for k, v in (("x", ev.epoch - 1 + ev.batch / ev.batches_per_epoch), ("loss", ev.loss),
                                 ("accuracy", ev.accuracy), ("ips", ev.images_per_second),
                                 ("diagnostics", self.monitor.observe(self.net))):
                        buf[k].append(v)
                    if now - last_emit >= 1.0 / UPDATE_HZ:
                        self._emit_progress(buf, last, now - t_start)
                        buf, last_emit = {k: [] for k in buf}, now
                    if now - last_snap >= 1.0 / SNAPSHOT_HZ:
                        self._emit_snapshot()
                        last_snap = time.perf_counter()
                elif isinstance(ev, EpochEvent):
                    if buf["x"]:
                        self._emit_progress(buf, last, now - t_start)
                        buf = {k: [] for k in buf}
                    self.epochDone.emit(ev)
                elif isinstance(ev, FinishedEvent):
                    finished = ev
        finally:   # the batches since the last report, also after an error
            if buf["x"] and last is not None:
                self._emit_progress(buf, last, time.perf_counter() - t_start)
        return finished

    def _emit_progress(self, buf, ev, elapsed) -> None:
        d = dict(buf)
        d.update(progress=ev.progress, epoch=ev.epoch, batch=ev.batch, batches=ev.batches_per_epoch,
                 lr=getattr(ev, "lr", float("nan")), elapsed=elapsed, reading=self.monitor.reading())
        self.progress.emit(d)

    def _explain_failure(self) -> None:
        """After a NaN or infinite loss: which layer blew up and what to change (``diverged``)."""
        failure = getattr(self.trainer, "failure", None)
        if failure is None:
            return
        from cnncore.diagnostics import explain_divergence
        try:
            self.diverged.emit(explain_divergence(self.net, failure))
        except Exception as e:  # noqa: BLE001 - the finished message still says what happened
            self.failed.emit(f"Could not work out where the values blew up: {e}")

    def _emit_snapshot(self) -> None:
        # Between batches the generator is suspended, so the weights are consistent here.
        snap, maps = network_maps(self.net, self.sample)
        self.snapshot.emit(snap, maps)


def _be_nice(increment: int = 10) -> None:
    """Lower this thread's CPU priority (Linux: per-thread nice), so that on a busy machine the
    GUI thread wins the CPU when it needs it and the training takes what is left."""
    try:
        import os
        import threading
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + increment))
    except (AttributeError, OSError):  # not Linux, or not allowed: keep the default priority
        pass


class _Cancelled(Exception):
    pass


class DownloadWorker(_ThreadWorker):
    """Fetches a downloadable set (``key``: MNIST, Fashion-MNIST, Kuzushiji-MNIST) with
    ``cnncore.datasets.fetch_download`` (checksums, cache in the data folder)."""

    progress = QtCore.Signal(object, object, str)    # done bytes, total bytes (or None), file name
    finished = QtCore.Signal(object)                  # dict name -> path
    failed = QtCore.Signal(str)

    def __init__(self, cache_dir=None, mirrors=None, checksums=None, key: str = "mnist"):
        super().__init__()
        self.key = key
        self.cache_dir = cache_dir
        self.mirrors = mirrors
        self.checksums = checksums
        self._last = 0.0
        self._cancelled = False

    def cancel(self) -> None:
        """Stop at the next chunk (thread-safe); fetch_download then removes the partial file."""
        self._cancelled = True

    def _run(self) -> None:
        try:
            from cnncore.datasets import fetch_download
            kw = {"cache_dir": self.cache_dir, "progress": self._progress}
            if self.mirrors is not None:
                kw["mirrors"] = self.mirrors
            if self.checksums is not None:
                kw["checksums"] = self.checksums
            paths = fetch_download(self.key, **kw)
        except Exception as e:  # noqa: BLE001
            from cnncore.datasets import DOWNLOADS
            self.failed.emit(f"Could not download {DOWNLOADS[self.key].title}: {e}")
            return
        self.finished.emit(paths)

    def _progress(self, done, total, name) -> None:
        if self._cancelled:
            raise _Cancelled("the download was cancelled")
        now = time.perf_counter()
        if now - self._last >= 1.0 / UPDATE_HZ or (total and done >= total):
            self._last = now
            self.progress.emit(done, total, str(name))


def _home(worker: QtCore.QObject) -> None:
    """Hand the worker back to the GUI thread when its run ends. Python owns the worker and
    deletes it there; a ``deleteLater`` in the ending thread would race that deletion."""
    app = QtCore.QCoreApplication.instance()
    if app is not None:
        worker.moveToThread(app.thread())


def start_in_thread(worker: QtCore.QObject, parent: QtCore.QObject, name: str) -> QtCore.QThread:
    """Move ``worker`` to a new QThread (a child of ``parent``) and run ``worker.run`` there.
    The thread quits when the worker says it is done; the caller keeps a reference to the
    worker until the thread's ``finished`` signal and then drops it."""
    thread = QtCore.QThread(parent)
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    if isinstance(worker, DownloadWorker):
        worker.failed.connect(thread.quit)
    thread.start()
    return thread


class JobWorker(_ThreadWorker):
    """Runs ``job()`` once in its thread: ``done(result)`` or ``failed(message)``, then ``finished``."""

    done = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    finished = QtCore.Signal()

    def __init__(self, job):
        super().__init__()
        self.job = job

    def _run(self) -> None:
        try:
            result = self.job()
        except Exception as e:  # noqa: BLE001 - reported in the window
            self.failed.emit(str(e))
        else:
            self.done.emit(result)
        finally:
            self.finished.emit()


class LatestJob(QtCore.QObject):
    """One job at a time in a worker thread, for a view that follows its input live: a job submitted
    while another runs waits, and a newer one replaces it (only the latest request matters).

    Signals (in the GUI thread): ``done(result)``, ``failed(message)``."""

    done = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    def __init__(self, parent: QtCore.QObject, name: str):
        super().__init__(parent)
        self.name = name
        self._pending = None
        self._thread = None
        self._worker = None
        self._closed = False

    def submit(self, job) -> None:
        """Run ``job`` (after the running one, replacing any waiting one); ignored after :meth:`shutdown`."""
        if self._closed:
            return
        self._pending = job
        if self._thread is None:
            self._start_next()

    def busy(self) -> bool:
        return self._thread is not None or self._pending is not None

    def _start_next(self) -> None:
        job, self._pending = self._pending, None
        if job is None:
            return
        self._worker = JobWorker(job)
        self._worker.done.connect(self.done)
        self._worker.failed.connect(self.failed)
        self._thread = start_in_thread(self._worker, self, self.name)
        self._thread.finished.connect(self._on_end)

    def _on_end(self) -> None:
        if self._thread is not None:
            self._thread.deleteLater()
        self._thread = self._worker = None
        self._start_next()

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Drop the waiting job, wait for the running one and take no more (window closing): a thread
        started later would be destroyed with its parent while still running."""
        self._closed = True
        self._pending = None
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait(timeout_ms)
            QtCore.QCoreApplication.sendPostedEvents(self, QtCore.QEvent.MetaCall)


class FramesWorker(_ThreadWorker):
    """Plays a generator of frames (``make_frames()``, called in the worker thread), one
    ``frame(object)`` signal at most every ``interval`` seconds so a learner sees it evolve;
    :meth:`stop` ends it at the next frame. ``failed(message)`` on an error, ``finished`` last."""

    frame = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    finished = QtCore.Signal()

    def __init__(self, make_frames, interval: float = 0.05):
        super().__init__()
        self.make_frames = make_frames
        self.interval = interval
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        _be_nice()
        try:
            for f in self.make_frames():
                self.frame.emit(f)
                if self._stop.wait(self.interval):
                    break
        except Exception as e:  # noqa: BLE001 - reported in the window
            self.failed.emit(str(e))
        finally:
            self.finished.emit()
