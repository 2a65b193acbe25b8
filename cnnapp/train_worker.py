"""The training worker: a ``QObject`` whose ``run`` goes in a ``QThread`` of its own (see
:func:`cnnapp.workers.start_in_thread`) and follows a child process that trains
(:mod:`cnnapp.training_session`): the Python between the kernels then never holds the window's GIL, so a
busy machine cannot keep the window waiting on it. The GUI thread only receives throttled signals; a
process killed mid-run leaves the window the weights of the last epoch it received.
"""
from __future__ import annotations

import math
import signal
import threading

import numpy as np
from PySide6 import QtCore

from cnncore.network import network_maps
from cnncore.training import epochs_done, numbered_from

from .training_session import TrainingSession, adopt_parts, child_main, network_from_parts, network_parts
from .workers import be_nice



class TrainWorker(QtCore.QObject):
    """Trains ``net`` for the window: loads the data in its thread, then trains in a child process
    (the Python and NumPy between the kernels then never hold the window's GIL, and a crash of the
    engine ends that process, not the window), or in its own thread with ``in_process=False`` or
    when this system cannot start a process (``notice`` says so). A process that dies is never
    replaced by a run in the thread: the run ends there (``failed``, then ``finished``).

    ``load_data`` is a callable run in the worker thread that returns
    ``(X_train, y_train, X_val, y_val)``; loading (e.g. generating digits) then never blocks the GUI.
    ``net`` ends with the weights, history and optimizer state the run leaves (a training process
    hands them back before ``finished``; if that process dies, ``net`` takes those of the last
    epoch it reported, whose accuracy the window shows, or keeps its own when no epoch ended).

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
        notice(str): something the status bar should say once (the run takes this thread because no
            process could be started).
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
    notice = QtCore.Signal(str)
    ready = QtCore.Signal()
    diverged = QtCore.Signal(object)

    def __init__(self, net, load_data, config, sample=None, in_process: bool = True):
        super().__init__()
        self.net = net
        self.load_data = load_data
        self.config = config
        self.sample = sample
        self.in_process = in_process
        #: Where the run went: "process", "thread", or None before it starts.
        self.ran_in = None
        self._stop_requested = False
        self._lock = threading.Lock()
        self._child = None            # the training process, once started
        self._session = None          # takes the controls once the run exists
        self._controls: list = []     # every control given, in order (a new session gets them all)
        self.X_val = None
        self.y_val = None
        self._first = 0               # the network's epochs before the run (a run's epoch k: _first + k)

    # --------------------------------------------------------- GUI-thread API
    def stop(self) -> None:
        self._stop_requested = True
        self._control("stop")

    def pause(self) -> None:
        self._control("pause")

    def resume(self) -> None:
        self._control("resume")

    def set_lr(self, lr: float) -> None:
        lr = float(lr)
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning rate must be a positive number, got {lr!r}")
        self._control("lr", lr)

    def _control(self, kind: str, value=None) -> None:
        with self._lock:
            self._controls.append((kind, value))
            if self._session is not None:
                self._session.control(kind, value)

    def _attach(self, session) -> None:
        """From now on the controls go to ``session`` (those given so far first, in order)."""
        with self._lock:
            self._session = session
            for kind, value in self._controls:
                session.control(kind, value)

    # ------------------------------------------------------------ worker side
    @QtCore.Slot()
    def run(self) -> None:
        child = self._start_process() if self.in_process else None
        try:
            data = self._load()
            finished = None if isinstance(data, tuple) else data     # a run that ended before training
            if finished is None:
                finished = self._train_in(child, data) if child is not None else self._train_here(data)
        finally:
            if child is not None:
                child.close()
        self.finished.emit(finished)

    @property
    def process(self):
        """The training process's ``multiprocessing.Process`` once started (None before, and for a
        run in this thread)."""
        child = self._child
        return child.proc if child is not None else None

    def _start_process(self):
        """The training process, started; None when this system cannot start one: the run then takes
        this thread, which the status bar is told (``notice``)."""
        try:
            self._child = _TrainingProcess.start()
        except Exception as e:  # noqa: BLE001 - no process on this system: train in the thread
            self.notice.emit(f"Training in the window's own thread: this system could not start a training "
                             f"process ({e}), so the window may answer slowly while it trains.")
            return None
        return self._child

    def _load(self):
        """``(X, y, X_val, y_val)``, or the FinishedEvent of a run that ends before its first batch."""
        from cnncore.training import FinishedEvent, as_network_input
        try:
            self.status.emit("Preparing the data…")
            X, y, Xv, yv = self.load_data()
        except Exception as e:  # noqa: BLE001 - reported in the window
            self.failed.emit(f"Could not start training: {e}")
            return FinishedEvent("stopped", f"could not start: {e}")
        self.X_val, self.y_val = Xv, yv
        if self.sample is None and Xv is not None and len(Xv):      # the maps of the first held-out picture
            self.sample = as_network_input(Xv[:1])[0]
        if self._stop_requested:
            return FinishedEvent("stopped", "stopped before the first batch")
        return X, y, Xv, yv

    def _train_here(self, data):
        self.ran_in = "thread"
        be_nice()
        session = TrainingSession(self.net, data, self.config, self.sample, self._emit)
        self._attach(session)
        return session.run()

    def _emit(self, kind: str, *args) -> None:
        getattr(self, kind).emit(*args)

    def _train_in(self, child, data):
        """Train in ``child`` and pass its messages on as signals; the FinishedEvent (the run's, or
        :meth:`_lost`'s when the process ends without one)."""
        import cnncore
        self.ran_in = "process"
        try:
            child.conn.send((network_parts(self.net), data, self.config, self.sample, cnncore.get_num_threads()))
        except (OSError, ValueError):    # it died before taking the run
            return self._lost(child, None, trained=False)
        self._attach(child)
        last_epoch, trained = None, False  # (EpochEvent, its network parts) of the last epoch received
        self._first = numbered_from(epochs_done(self.net.history))     # (the run's epochs count on from it)
        while True:
            try:
                kind, args = child.conn.recv()
            except (EOFError, OSError):
                return self._lost(child, last_epoch, trained)
            if kind == "finished":
                return args[0]
            if kind == "trained":
                adopt_parts(self.net, args[0])
                trained = True
                continue
            if kind == "epochDone":
                last_epoch = args
                args = args[:1]
            elif kind == "snapshot":     # held the GIL for as short a time as can be: copy, not build
                args = (network_from_parts(args[0], like=self.net), args[1])
            self._emit(kind, *args)

    def _lost(self, child, last_epoch, trained: bool):
        """The process ended without finishing the run: ``net`` takes the weights of the last epoch
        received (``last_epoch``: its EpochEvent and network parts), whose accuracy the window
        shows, or keeps its own when no epoch ended; ``failed`` says which. The run's FinishedEvent."""
        from cnncore.training import FinishedEvent
        how = _how_it_ended(child.wait())
        first, total = self._first, self.config.epochs
        if last_epoch is None:
            when = "before its first epoch ended"
        else:                             # (on the network's count of epochs, as the plots have it)
            k = last_epoch[0].epoch
            when = f"after epoch {first + k} " + (f"of {total}" if not first else f"({k} of the run's {total})")
        seconds, val_accuracy, val_count, evaluation = 0.0, float("nan"), 0, None
        if trained:                       # died after handing back its weights, before the last word
            kept = "the network keeps the weights the run ended with"
        elif last_epoch is not None:
            ev, parts = last_epoch
            adopt_parts(self.net, parts)
            kept = f"the network keeps the weights from the end of epoch {first + ev.epoch} (Start trains on from them)"
            seconds = ev.seconds
            if self.y_val is not None and len(self.y_val) and np.isfinite(ev.val_accuracy):
                val_accuracy, val_count = float(ev.val_accuracy), len(self.y_val)
                evaluation = ev.evaluation          # of the weights kept: the result the window shows
        else:
            kept = "the network keeps the weights it had before this run"
        if not trained:                   # the last snapshot came from later in the run
            self._resend_snapshot()
        message = f"the training process ended unexpectedly ({how}) {when}; {kept}."
        self.failed.emit(message[0].upper() + message[1:])
        return FinishedEvent("stopped", message, seconds, val_accuracy, val_count, evaluation,
                             changed=trained or last_epoch is not None)

    def _resend_snapshot(self) -> None:
        """A snapshot of the weights ``net`` now keeps."""
        try:
            self.snapshot.emit(*network_maps(self.net, self.sample))
        except Exception:  # noqa: BLE001 - only the pictures of the filters and maps miss it
            pass


def _how_it_ended(code) -> str:
    """A process's exit code in words: "signal SIGKILL", "exit code 1"."""
    if code is None:
        return "it would not end"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class _TrainingProcess:
    """A spawned process running :func:`cnnapp.training_session.child_main`: ``conn`` carries the run
    down and its messages up, ``control`` (stop, pause, resume, rate) goes down a pipe of its own."""

    def __init__(self, proc, conn, controls):
        self.proc = proc
        self.conn = conn
        self._controls = controls

    @classmethod
    def start(cls):
        """The process, started; raises what stopped this system from starting one."""
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        conn, child_conn = ctx.Pipe()
        controls_in, controls = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=child_main, args=(child_conn, controls_in), daemon=True,
                           name="cnnlab-training")
        try:
            proc.start()
        except BaseException:
            for c in (conn, child_conn, controls_in, controls):
                c.close()
            raise
        child_conn.close()
        controls_in.close()
        return cls(proc, conn, controls)

    def control(self, kind: str, value=None) -> None:
        try:
            self._controls.send((kind, value))
        except (OSError, ValueError):   # the process has ended: nothing left to control
            pass

    def wait(self, timeout: float = 5.0):
        """The exit code once the process ended (it is ended after ``timeout`` seconds)."""
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(timeout)
        return self.proc.exitcode

    def close(self) -> None:
        """Close the pipes (a process still training stops after its batch) and wait for it."""
        for c in (self._controls, self.conn):
            c.close()
        self.wait()
