"""Training in a child process (issue 9, the window that never stutters): the Train tab's worker runs
the trainer in a process of its own, so the window's Python never waits for the training's. The
weights come back bit for bit, the controls reach it, and a process that dies leaves the window
working with the weights it had (pytest-qt, headless)."""
from __future__ import annotations

import multiprocessing
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]


def _digits(count=320):
    from cnncore.datasets import generated_digits
    X, y = generated_digits(count, seed=1)
    return X, y


def _start(qtbot, worker, parent):
    from cnnapp.workers import start_in_thread
    ends = []
    worker.finished.connect(ends.append)
    thread = start_in_thread(worker, parent, "test-training")
    return thread, ends


def _finish(qtbot, thread, ends):
    qtbot.waitUntil(lambda: bool(ends), timeout=60000)
    assert thread.wait(20000)
    return ends[0]


def _training_children():
    return [p for p in multiprocessing.active_children() if p.name == "cnnlab-training"]


def test_a_run_trains_in_a_child_process_and_hands_back_the_same_weights_as_a_thread(qtbot):
    from PySide6 import QtCore
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.training import TrainConfig
    from cnnapp.workers import TrainWorker
    parent = QtCore.QObject()
    X, y = _digits()
    config = TrainConfig(epochs=2, batch_size=32)
    nets, children = {}, []
    for in_process in (True, False):
        net = Network(preset("tiny"), seed=3)
        worker = TrainWorker(net, lambda: (X[:256], y[:256], X[256:], y[256:]), config, in_process=in_process)
        worker.set_lr(0.002)                      # given before the run exists: it still reaches it
        worker.pause()                            # held before its first batch, while we look
        ready = []
        worker.ready.connect(lambda: ready.append(1))
        thread, ends = _start(qtbot, worker, parent)
        qtbot.waitUntil(lambda: bool(ready), timeout=60000)
        qtbot.wait(100)
        children.append((in_process, len(_training_children())))
        worker.resume()
        assert _finish(qtbot, thread, ends).reason == "done"
        nets[in_process] = net
    assert {c for p, c in children if p} == {1} and {c for p, c in children if not p} == {0}
    assert not _training_children()                 # the process ended with its run
    a, b = nets[True], nets[False]
    assert np.array_equal(a.flat_params, b.flat_params) and not np.array_equal(
        a.flat_params, Network(preset("tiny"), seed=3).flat_params)
    assert len(a.history) == len(b.history) == 2 and a.history[1]["val_accuracy"] == b.history[1]["val_accuracy"]
    assert float(a.optimizer_state["lr"]) == float(b.optimizer_state["lr"]) == pytest.approx(0.002)
    assert set(a.optimizer_state) == set(b.optimizer_state)


def test_a_training_process_that_dies_leaves_the_network_and_the_window_as_they_were(qtbot):
    from PySide6 import QtCore
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.training import TrainConfig
    from cnnapp.workers import TrainWorker
    parent = QtCore.QObject()
    X, y = _digits(2000)
    net = Network(preset("tiny"), seed=0)
    before = net.flat_params.copy()
    worker = TrainWorker(net, lambda: (X, y, None, None), TrainConfig(epochs=50))
    failures, snaps = [], []
    worker.failed.connect(failures.append)
    worker.snapshot.connect(lambda snap, maps: snaps.append(snap))
    thread, ends = _start(qtbot, worker, parent)
    qtbot.waitUntil(lambda: bool(snaps), timeout=60000)
    assert snaps[0].flat_params.shape == net.flat_params.shape       # a network the window can use
    (child,) = _training_children()
    child.kill()                                                        # the engine dies mid-run
    finished = _finish(qtbot, thread, ends)
    assert finished.reason == "stopped" and "ended unexpectedly" in finished.message
    assert failures and "ended unexpectedly" in failures[-1] and "weights it had before" in failures[-1]
    assert np.array_equal(net.flat_params, before) and net.history == []


def test_stop_pause_and_resume_reach_the_training_process(qtbot):
    from PySide6 import QtCore
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.training import TrainConfig
    from cnnapp.workers import TrainWorker
    parent = QtCore.QObject()
    X, y = _digits(2000)
    net = Network(preset("tiny"), seed=0)
    worker = TrainWorker(net, lambda: (X, y, None, None), TrainConfig(epochs=50))
    reports = []
    worker.progress.connect(reports.append)
    thread, ends = _start(qtbot, worker, parent)
    qtbot.waitUntil(lambda: bool(reports), timeout=60000)
    worker.pause()
    qtbot.wait(400)                                  # the batch running and its report land
    n = len(reports)
    qtbot.wait(400)
    assert len(reports) == n                         # paused: no more batches
    worker.resume()
    qtbot.waitUntil(lambda: len(reports) > n, timeout=10000)
    worker.stop()
    finished = _finish(qtbot, thread, ends)
    assert finished.reason == "stopped" and "as you asked" in finished.message and not _training_children()
    assert net.optimizer_state is not None           # the stopped run's weights came back


def test_a_training_process_that_cannot_start_leaves_the_run_to_the_thread(qtbot, monkeypatch):
    import sys
    from PySide6 import QtCore
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.training import TrainConfig
    import cnnapp.workers as workers
    # the child runs sys.exit(conn, controls): it ends at once, having said nothing
    monkeypatch.setattr(workers, "child_main", sys.exit)
    parent = QtCore.QObject()
    X, y = _digits()
    net = Network(preset("tiny"), seed=3)
    before = net.flat_params.copy()
    worker = workers.TrainWorker(net, lambda: (X, y, None, None), TrainConfig(epochs=1))
    worker.set_lr(0.002)                       # given to the process that died: the thread gets it too
    failures = []
    worker.failed.connect(failures.append)
    thread, ends = _start(qtbot, worker, parent)
    assert _finish(qtbot, thread, ends).reason == "done"
    assert worker.ran_in == "thread" and failures == []
    assert not np.array_equal(net.flat_params, before) and len(net.history) == 1
    assert float(net.optimizer_state["lr"]) == pytest.approx(0.002)
