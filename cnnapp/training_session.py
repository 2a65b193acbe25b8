"""A training run as the Train tab follows it, without Qt, so that it can run in a process of its own.

:class:`TrainingSession` drives :meth:`cnncore.training.Trainer.run` and says what happens through
``send(kind, *args)``: ``status``, ``ready``, ``progress`` (batches gathered, at most ``UPDATE_HZ`` a
second), ``snapshot`` (weights and maps, at most ``SNAPSHOT_HZ``), ``epochDone``, ``failed``,
``diverged`` (the kinds are :class:`cnnapp.train_worker.TrainWorker`'s signal names). :meth:`run` returns
the run's FinishedEvent.

:func:`child_main` runs a session in a child process (``multiprocessing``, spawned): the window's
Python then never waits for the training's. Its messages go up a pipe as ``(kind, args)``; a network
travels as :func:`network_parts` (its layers' weights are views into one flat buffer, which a plain
pickle would not keep); each ``("epochDone", (event, parts))`` carries the weights, history and
optimizer state the epoch ended with (those its held-out accuracy is of: what the window keeps if
the process dies later), then ``("trained", parts)`` with the weights the run ends with and
``("finished", event)`` last. It takes ``stop``, ``pause``, ``resume`` and ``("lr", rate)`` on a
second pipe and stops when that pipe closes (the window went away).
"""
from __future__ import annotations

import threading
import time

import numpy as np

from cnncore.learnt import checked_trained_on
from cnncore.network import Network, network_maps

UPDATE_HZ = 10.0        # most progress reports per second
SNAPSHOT_HZ = 2.0       # most weight snapshots (filters, feature maps, live predictions) per second

_BATCH_KEYS = ("x", "loss", "accuracy", "ips", "diagnostics")


class TrainingSession:
    """One run of ``net`` on ``data = (X, y, X_val, y_val)`` with ``config``, reported through ``send``.

    :meth:`control` (any thread) takes ``"stop"``, ``"pause"``, ``"resume"`` and ``("lr", rate)``,
    also before the trainer exists (they are applied when it does)."""

    def __init__(self, net, data, config, sample, send):
        self.net = net
        self.data = data
        self.config = config
        self.sample = sample
        self.send = send
        self.trainer = None
        self.monitor = None
        self._lock = threading.Lock()
        self._stop = self._paused = False
        self._lr = None

    def control(self, kind: str, value=None) -> None:
        with self._lock:
            if kind == "stop":
                self._stop = True
            elif kind in ("pause", "resume"):
                self._paused = kind == "pause"
            elif kind == "lr":
                self._lr = float(value)
            else:
                raise ValueError(f"unknown training control {kind!r}")
            if self.trainer is not None:
                self._apply(kind)

    def _apply(self, kind: str) -> None:
        t = self.trainer
        if kind == "stop":
            t.stop()
        elif kind == "pause":
            t.pause()
        elif kind == "resume":
            t.resume()
        elif kind == "lr":
            t.set_lr(self._lr)

    def run(self):
        """Train; returns the FinishedEvent (the run's, or one saying why it never started)."""
        from cnncore.training import FinishedEvent
        started = self._prepare()
        if isinstance(started, FinishedEvent):
            return started
        try:
            finished = self._follow_run()
        except Exception as e:  # noqa: BLE001
            self.send("failed", f"Training stopped by an error: {e}")
            finished = FinishedEvent("stopped", f"error: {e}", changed=True)     # (updates may have come)
        self._explain_failure()
        try:
            self._send_snapshot()
        except Exception:  # noqa: BLE001
            pass
        return finished or FinishedEvent("stopped", "the run ended early", changed=True)

    def _prepare(self):
        """Make the trainer with any pause, stop or rate asked for meanwhile; a FinishedEvent when
        the run cannot start."""
        from cnncore.diagnostics import TrainingMonitor
        from cnncore.training import FinishedEvent, Trainer
        X, y, Xv, yv = self.data
        try:
            trainer = Trainer(self.net, X, y, Xv, yv, self.config)
            self.monitor = TrainingMonitor(self.net)
        except Exception as e:  # noqa: BLE001 - reported in the window
            self.send("failed", f"Could not start training: {e}")
            return FinishedEvent("stopped", f"could not start: {e}")
        with self._lock:
            self.trainer = trainer
            for kind, wanted in (("lr", self._lr is not None), ("pause", self._paused), ("stop", self._stop)):
                if wanted:
                    self._apply(kind)
        self.send("status", f"Training on {len(X):,} images"
                  + (f", {len(Xv):,} held out" if Xv is not None and len(Xv) else "") + "…")
        self.send("ready")
        return True

    def _follow_run(self):
        """Pass the trainer's events on: batches gathered into progress reports (``UPDATE_HZ``),
        snapshots (``SNAPSHOT_HZ``), epochs as they come. Returns the run's FinishedEvent."""
        from cnncore.training import BatchEvent, EpochEvent, FinishedEvent
        t_start = time.perf_counter()
        last_emit = last_snap = 0.0
        buf = {k: [] for k in _BATCH_KEYS}
        last = finished = None
        try:
            for ev in self.trainer.run():
                now = time.perf_counter()
                if isinstance(ev, BatchEvent):
                    last = ev
                    for k, v in zip(_BATCH_KEYS, (ev.epoch - 1 + ev.batch / ev.batches_per_epoch, ev.loss,
                                                  ev.accuracy, ev.images_per_second, self.monitor.observe(self.net, ev.lr))):
                        buf[k].append(v)
                    paused = self.trainer.paused     # (the next batch waits: the window shows where it is)
                    if paused or now - last_emit >= 1.0 / UPDATE_HZ:
                        self._send_progress(buf, last, now - t_start)
                        buf, last_emit = {k: [] for k in buf}, now
                    if paused or now - last_snap >= 1.0 / SNAPSHOT_HZ:
                        self._send_snapshot()
                        last_snap = time.perf_counter()
                elif isinstance(ev, EpochEvent):
                    if buf["x"]:
                        self._send_progress(buf, last, now - t_start)
                        buf = {k: [] for k in buf}
                    self.send("epochDone", ev)
                elif isinstance(ev, FinishedEvent):
                    finished = ev
        finally:   # the batches since the last report, also after an error
            if buf["x"] and last is not None:
                self._send_progress(buf, last, time.perf_counter() - t_start)
        return finished

    def _send_progress(self, buf, ev, elapsed) -> None:
        d = dict(buf)
        d.update(progress=ev.progress, epoch=ev.epoch, batch=ev.batch, batches=ev.batches_per_epoch,
                 lr=getattr(ev, "lr", float("nan")), elapsed=elapsed, reading=self.monitor.reading())
        self.send("progress", d)

    def _explain_failure(self) -> None:
        """After a NaN or infinite loss: which layer blew up and what to change (``diverged``)."""
        failure = getattr(self.trainer, "failure", None)
        if failure is None:
            return
        from cnncore.diagnostics import explain_divergence
        try:
            self.send("diverged", explain_divergence(self.net, failure))
        except Exception as e:  # noqa: BLE001 - the finished message still says what happened
            self.send("failed", f"Could not work out where the values blew up: {e}")

    def _send_snapshot(self) -> None:
        # Between batches the generator is suspended, so the weights are consistent here.
        snap, maps = network_maps(self.net, self.sample)
        self.send("snapshot", snap, maps)


# ------------------------------------------------------------------ networks across processes

def network_parts(net: Network, optimizer_state=None, learnt: bool = True) -> dict:
    """What rebuilds ``net`` in another process (:func:`network_from_parts`): architecture, seed,
    dtype, weights (``(P,)``, the live buffer: pickle or copy it at once), history, the pictures it learnt
    from, optimizer state (``optimizer_state`` when given, else the network's), signature (classes, input
    normalisation). Without ``learnt``, not the pictures it learnt from (a snapshot's: they only change
    at a run's first update, and may be megabytes)."""
    if optimizer_state is None:
        optimizer_state = net.optimizer_state
    parts = {"spec": net.spec, "seed": net.seed, "dtype": net.dtype.str, "params": net.flat_params,
             "history": net.history, "optimizer_state": optimizer_state, "signature": net.signature}
    if learnt:
        parts["trained_on"] = net.trained_on
    return parts


def network_from_parts(parts: dict, like: Network | None = None) -> Network:
    """The network ``parts`` describe; ``like``, a network of the same architecture, is copied
    rather than built anew (several times faster: no weights drawn only to be overwritten)."""
    net = like.copy() if like is not None else Network(parts["spec"], seed=parts["seed"],
                                                         dtype=np.dtype(parts["dtype"]))
    adopt_parts(net, parts)
    return net


def adopt_parts(net: Network, parts: dict) -> None:
    """Give ``net`` (the same architecture) the weights, history, pictures learnt from, optimizer state and
    signature of ``parts``."""
    np.copyto(net.flat_params, parts["params"])
    net.history = list(parts["history"])
    if "trained_on" in parts:               # (read only, as a network keeps them: copies share them)
        net.trained_on = None if parts["trained_on"] is None else checked_trained_on(parts["trained_on"])
    net.optimizer_state = parts["optimizer_state"]
    net.signature = parts["signature"]


# ------------------------------------------------------------------ the child process

def child_main(conn, controls) -> None:
    """A training process: reads ``(net parts, data, config, sample, threads)`` from ``conn``, trains,
    and sends the session's messages back on it (see the module's text)."""
    _lower_priority()
    try:
        parts, data, config, sample, threads = conn.recv()
    except EOFError:          # the window went away before sending the run
        return

    def send(kind, *args):
        if kind == "snapshot":
            args = (network_parts(args[0], learnt=False), args[1])
        elif kind == "epochDone":   # the weights this epoch's accuracy is of, sent while they are
            args = (args[0], network_parts(net, session.trainer.optimizer_state()))   # (the trainer waits)
        conn.send((kind, args))
    import cnncore
    cnncore.set_num_threads(threads)
    net = network_from_parts(parts)
    session = TrainingSession(net, data, config, sample, send)
    threading.Thread(target=_follow_controls, args=(controls, session), daemon=True).start()
    finished = session.run()
    conn.send(("trained", (network_parts(net),)))
    conn.send(("finished", (finished,)))
    conn.close()


def _follow_controls(controls, session: TrainingSession) -> None:
    while True:
        try:
            msg = controls.recv()
        except (EOFError, OSError):   # the window closed its end: stop after this batch
            session.control("stop")
            return
        kind, value = msg if isinstance(msg, tuple) else (msg, None)
        session.control(kind, value)


def _lower_priority(increment: int = 10) -> None:
    """Lower this process's CPU priority, so that on a busy machine the window wins the CPU when it
    needs it and the training takes what is left. Called before any other thread starts (on Linux a
    thread's priority is its own, and the threads it starts inherit it)."""
    import os
    try:
        os.nice(increment)
    except (AttributeError, OSError):  # not on this system, or not allowed: keep the default priority
        pass
