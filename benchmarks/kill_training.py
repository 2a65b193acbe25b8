"""Kill the training process at random times and check what the window keeps (not part of CI).

    python benchmarks/kill_training.py [--kills 100] [--epochs 20] [--seed 0]

Runs the app's :class:`cnnapp.train_worker.TrainWorker` headless (a Qt event loop, no window) on a tiny
network and generated digits, over and over, and SIGKILLs its training process at a random moment of
each run: before it takes the run, while it starts, mid-epoch, between epochs, or after it ended. Each
time it checks, against the same run done by the engine in this process (every epoch's weights,
bit for bit):

- ``finished`` arrives, no exception escapes (sys and threading hooks), the run stayed in a process;
- the network holds the weights of the last epoch ``epochDone`` brought (the initial weights when
  none came; the last epoch's when the run finished first), with that many epochs of history;
- the message names that epoch ("after epoch N of M"), or says no epoch ended.

Prints where the kills landed and every failed check; exits 1 if any check failed.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from _machine import cpu_name, load_average  # noqa: E402

SEED = 3


def data_and_config(epochs: int):
    from cnncore.datasets import generated_digits
    from cnncore.training import TrainConfig
    X, y = generated_digits(1500, seed=1)
    return (X[:1200], y[:1200], X[1200:], y[1200:]), TrainConfig(epochs=epochs, batch_size=32, seed=0)


def reference(data, config) -> list[np.ndarray]:
    """The flat weights ``(P,)`` before the run (index 0) and at the end of each epoch (index k)."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.training import EpochEvent, Trainer
    net = Network(preset("tiny"), seed=SEED)
    weights = [net.flat_params.copy()]
    for ev in Trainer(net, *data, config).run():
        if isinstance(ev, EpochEvent):
            weights.append(net.flat_params.copy())
    return weights


class Run:
    """One TrainWorker run in a thread, followed from this (GUI) thread's event loop."""

    def __init__(self, data, config):
        from PySide6 import QtCore
        from cnncore.architecture import preset
        from cnncore.network import Network
        from cnnapp.train_worker import TrainWorker
        from cnnapp.workers import start_in_thread
        self.net = Network(preset("tiny"), seed=SEED)
        self.worker = TrainWorker(self.net, lambda: data, config)
        self.epochs, self.failures, self.finished = [], [], None
        self.ready = False
        self.seconds = float("nan")     # from the start to ``finished``
        self.worker.epochDone.connect(self.epochs.append)
        self.worker.failed.connect(self.failures.append)
        self.worker.ready.connect(self._on_ready)
        self.loop = QtCore.QEventLoop()
        self.worker.finished.connect(self._on_finished)
        self.parent = QtCore.QObject()
        self.started = time.perf_counter()
        self.thread = start_in_thread(self.worker, self.parent, "kill-training")
        # (the thread quits on a call queued to this thread's loop: the loop runs until it has)
        self.thread.finished.connect(self.loop.quit)

    def _on_ready(self):
        self.ready = True

    def _on_finished(self, ev):
        self.finished = ev
        self.seconds = time.perf_counter() - self.started

    def wait(self, timeout_s: float = 120.0) -> None:
        """Run this thread's event loop until the worker's thread has ended (``timeout_s`` at most)."""
        from PySide6 import QtCore
        if self.thread.isRunning():
            QtCore.QTimer.singleShot(int(timeout_s * 1000), self.loop.quit)
            self.loop.exec()
        if not self.thread.wait(20000):
            raise SystemExit("the worker's thread would not end: stopped here")


def kill_at(run: Run, delay_s: float, landed: dict):
    """SIGKILL ``run``'s training process ``delay_s`` after its start (as soon as it exists, if later);
    notes in ``landed["where"]`` where the run was at that moment. The timer (stop it once the run is over)."""
    from PySide6 import QtCore
    timer = QtCore.QTimer()
    timer.setSingleShot(True)

    def fire():
        proc = run.worker.process
        if run.finished is not None:
            return
        if proc is None:                    # not spawned yet: kill it as soon as it is
            timer.start(1)
            return
        landed["where"] = ("after an epoch" if run.epochs else
                           "after ready, before an epoch" if run.ready else "before ready")
        proc.kill()
    timer.timeout.connect(fire)
    timer.start(int(delay_s * 1000))
    return timer


def check(run: Run, refs: list, epochs: int, escaped: list) -> list[str]:
    """What went wrong with a killed run (empty when it kept what it should)."""
    wrong = [f"an exception escaped: {e}" for e in escaped]
    ev = run.finished
    if ev is None:
        return wrong + ["finished never came"]
    if run.worker.ran_in != "process":
        wrong.append(f"the run went to the {run.worker.ran_in}")
    n = len(run.epochs)
    if not np.array_equal(run.net.flat_params, refs[n]):
        match = [k for k, w in enumerate(refs) if np.array_equal(run.net.flat_params, w)]
        wrong.append(f"{n} epochs received, the network holds the weights of epoch {match or 'none'}")
    if len(run.net.history) != n:
        wrong.append(f"{n} epochs received, the history has {len(run.net.history)}")
    if ev.reason != "done":
        said = run.failures[-1] if run.failures else ""
        want = f"after epoch {n} of {epochs}" if n else "before its first epoch ended"
        if want not in said:
            wrong.append(f"the message does not say {want!r}: {said!r}")
    return wrong


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=100, help="runs to kill (>= 100 for a full run)")
    ap.add_argument("--epochs", type=int, default=20, help="epochs of each run")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    args = ap.parse_args(argv)
    from PySide6 import QtCore
    app = QtCore.QCoreApplication.instance() or QtCore.QCoreApplication([])  # noqa: F841
    escaped = []
    sys.excepthook = lambda t, e, tb: escaped.append(f"{t.__name__}: {e}")
    threading.excepthook = lambda a: escaped.append(f"{a.exc_type.__name__}: {a.exc_value}")
    data, config = data_and_config(args.epochs)
    refs = reference(data, config)
    whole = Run(data, config)
    whole.wait()
    span = whole.seconds
    problems = check(whole, refs, args.epochs, escaped)
    print(f"{cpu_name()}, load {load_average()}; a whole run of {args.epochs} epochs takes {span:.2f} s "
          f"(with the process's start){'; ' + '; '.join(problems) if problems else ''}")
    rng = np.random.default_rng(args.seed)
    counts, failures, t0 = {}, 0, time.perf_counter()
    for i in range(args.kills):
        escaped.clear()
        run, landed = Run(data, config), {}
        timer = kill_at(run, float(rng.uniform(0, 1.05 * span)), landed)
        run.wait()
        timer.stop()
        where = landed.get("where", "after the run ended")
        counts[where] = counts.get(where, 0) + 1
        wrong = check(run, refs, args.epochs, escaped)
        if wrong:
            failures += 1
            print(f"kill {i + 1} ({where}, {len(run.epochs)} epochs received): " + "; ".join(wrong))
    took = time.perf_counter() - t0
    print(f"{args.kills} kills in {took:.0f} s ({took / max(args.kills, 1):.2f} s each): "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"{failures} of {args.kills} runs did not keep what they should"
          + ("" if failures else "; every run kept the weights of the last epoch it reported"))
    return 1 if failures or problems else 0


if __name__ == "__main__":
    sys.exit(main())
