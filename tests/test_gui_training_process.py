"""Training in a child process (issue 9, the window that never stutters): the Train tab's worker runs
the trainer in a process of its own, so the window's Python never waits for the training's. The
weights come back bit for bit, the controls reach it, and a process that dies leaves the window
working with the weights of the last epoch it reported, or those it had when none ended; only a
system that cannot start a process trains in the window's thread, and says so (pytest-qt,
headless)."""
from __future__ import annotations

import multiprocessing
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from test_gui_app import _no_leaked_windows, _private_dirs, _tiny_network, window  # noqa: E402,F401

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]


def _digits(count=320):
    from cnncore.datasets import generated_digits
    X, y = generated_digits(count, seed=1)
    return X, y


_RUNS = []      # (worker, thread, parent) of the runs started, kept alive until their test is over


@pytest.fixture(autouse=True)
def _no_run_outlives_its_test(qtbot):
    """A test that fails mid-run still ends its run and waits for it: a QThread destroyed while it
    runs aborts the whole session."""
    yield
    while _RUNS:
        worker, thread, parent = _RUNS.pop()
        worker.stop()
        for p in _training_children():
            p.kill()
        qtbot.waitUntil(thread.isFinished, timeout=60000)


def _start(qtbot, worker, parent):
    from cnnapp.workers import start_in_thread
    ends = []
    worker.finished.connect(ends.append)
    thread = start_in_thread(worker, parent, "test-training")
    _RUNS.append((worker, thread, parent))
    return thread, ends


def _finish(qtbot, thread, ends):
    # (the thread quits on a call queued to this thread: the events run until it has, no blocking wait)
    qtbot.waitUntil(lambda: bool(ends) and thread.isFinished(), timeout=60000)
    return ends[0]


def _training_children():
    return [p for p in multiprocessing.active_children() if p.name == "cnnlab-training"]


def test_a_run_trains_in_a_child_process_and_hands_back_the_same_weights_as_a_thread(qtbot):
    from PySide6 import QtCore
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.training import TrainConfig
    from cnnapp.train_worker import TrainWorker
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


def _reference(config, X, y, Xv, yv, epochs: int):
    """A tiny network (seed 3) trained by the engine in this thread, stopped after ``epochs`` of the
    run ``config`` describes: what a training process has after that epoch."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.training import EpochEvent, Trainer
    net = Network(preset("tiny"), seed=3)
    run = Trainer(net, X, y, Xv, yv, config).run()
    seen = 0
    for ev in run:
        seen += isinstance(ev, EpochEvent)
        if seen == epochs:
            break
    run.close()                      # the engine leaves its optimizer state, as a run that ends does
    return net


def test_a_training_process_killed_mid_run_leaves_the_weights_of_the_last_epoch_it_reported(qtbot):
    from PySide6 import QtCore
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.training import TrainConfig
    from cnnapp.views.train_view import finished_text
    from cnnapp.train_worker import TrainWorker
    parent = QtCore.QObject()
    X, y = _digits()
    data = (X[:256], y[:256], X[256:], y[256:])
    config = TrainConfig(epochs=40, batch_size=32)
    net = Network(preset("tiny"), seed=3)
    before = net.flat_params.copy()
    worker = TrainWorker(net, lambda: data, config)
    epochs, failures, snaps = [], [], []
    worker.epochDone.connect(epochs.append)
    worker.failed.connect(failures.append)
    worker.snapshot.connect(lambda snap, maps: snaps.append(snap))
    # (waited for on the list, not with qtbot.waitSignal: a second epoch's signal, queued from the
    # worker's thread before the blocker let go of it, reached the gone blocker and crashed the tests)
    thread, ends = _start(qtbot, worker, parent)
    qtbot.waitUntil(lambda: bool(epochs), timeout=60000)
    worker.process.kill()                                               # the engine dies mid-run
    finished = _finish(qtbot, thread, ends)
    n = len(epochs)                                    # every epoch sent before it died, in order
    assert 1 <= n < 40 and worker.ran_in == "process"
    ref = _reference(config, *data, n)
    assert np.array_equal(net.flat_params, ref.flat_params) and not np.array_equal(net.flat_params, before)
    assert [h["val_accuracy"] for h in net.history] == [ev.val_accuracy for ev in epochs]
    assert set(net.optimizer_state) == set(ref.optimizer_state) and all(
        np.array_equal(net.optimizer_state[k], ref.optimizer_state[k]) for k in ref.optimizer_state)
    assert np.array_equal(snaps[-1].flat_params, net.flat_params)       # the maps shown are of them
    assert len(failures) == 1 and f"after epoch {n} of 40" in failures[0] and f"end of epoch {n}" in failures[0]
    # the accuracy said is that of the weights kept: the last epoch's
    assert finished.reason == "stopped" and finished.val_accuracy == epochs[-1].val_accuracy
    assert f"{epochs[-1].val_accuracy:.1%}" in finished_text(finished) and "\n" not in finished_text(finished)


def test_a_training_process_that_dies_before_an_epoch_ends_leaves_the_network_as_it_was(qtbot):
    from PySide6 import QtCore
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.training import TrainConfig
    from cnnapp.train_worker import TrainWorker
    parent = QtCore.QObject()
    X, y = _digits(2000)
    net = Network(preset("tiny"), seed=0)
    before = net.flat_params.copy()
    worker = TrainWorker(net, lambda: (X, y, None, None), TrainConfig(epochs=50))
    worker.pause()                                          # held before its first batch
    failures, snaps = [], []
    worker.failed.connect(failures.append)
    worker.snapshot.connect(lambda snap, maps: snaps.append(snap))
    with qtbot.waitSignal(worker.ready, timeout=60000):
        thread, ends = _start(qtbot, worker, parent)
    worker.process.kill()
    finished = _finish(qtbot, thread, ends)
    assert finished.reason == "stopped" and "ended unexpectedly" in finished.message
    assert len(failures) == 1 and "SIGKILL" in failures[0] and "before its first epoch ended" in failures[0]
    assert "weights it had before" in failures[0]
    assert np.array_equal(net.flat_params, before) and net.history == [] and net.optimizer_state is None
    assert np.array_equal(snaps[-1].flat_params, before)                 # a network the window can use


def test_stop_pause_and_resume_reach_the_training_process(qtbot):
    from PySide6 import QtCore
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.training import TrainConfig
    from cnnapp.train_worker import TrainWorker
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


def test_a_training_process_that_dies_at_once_is_reported_not_run_again_in_the_thread(qtbot, monkeypatch):
    import sys
    from PySide6 import QtCore
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.training import TrainConfig
    import cnnapp.train_worker as workers
    # the child runs sys.exit(conn, controls): it ends at once, having said nothing
    monkeypatch.setattr(workers, "child_main", sys.exit)
    parent = QtCore.QObject()
    X, y = _digits()
    net = Network(preset("tiny"), seed=3)
    before = net.flat_params.copy()
    worker = workers.TrainWorker(net, lambda: (X, y, None, None), TrainConfig(epochs=1))
    failures, notices = [], []
    worker.failed.connect(failures.append)
    worker.notice.connect(notices.append)
    thread, ends = _start(qtbot, worker, parent)
    finished = _finish(qtbot, thread, ends)
    assert finished.reason == "stopped" and worker.ran_in == "process" and notices == []
    assert len(failures) == 1 and "ended unexpectedly (exit code 1) before its first epoch ended" in failures[0]
    assert np.array_equal(net.flat_params, before) and net.history == []


def test_a_system_that_cannot_start_a_process_trains_in_the_thread_and_says_so(qtbot, monkeypatch):
    import multiprocessing.context
    from PySide6 import QtCore
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.training import TrainConfig
    from cnnapp.train_worker import TrainWorker

    def refuse(self):
        raise OSError(11, "Resource temporarily unavailable")
    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", refuse)
    parent = QtCore.QObject()
    X, y = _digits()
    net = Network(preset("tiny"), seed=3)
    before = net.flat_params.copy()
    worker = TrainWorker(net, lambda: (X, y, None, None), TrainConfig(epochs=1))
    worker.set_lr(0.002)                       # given before the run exists: the thread's run gets it
    failures, notices = [], []
    worker.failed.connect(failures.append)
    worker.notice.connect(notices.append)
    thread, ends = _start(qtbot, worker, parent)
    assert _finish(qtbot, thread, ends).reason == "done"
    assert worker.ran_in == "thread" and worker.process is None and failures == []
    assert len(notices) == 1 and "could not start a training process" in notices[0]
    assert "Resource temporarily unavailable" in notices[0]
    assert not np.array_equal(net.flat_params, before) and len(net.history) == 1
    assert float(net.optimizer_state["lr"]) == pytest.approx(0.002)


def _window_run(train, epochs: int) -> None:
    train.count.setValue(1500)
    train.epochs.setValue(epochs)
    train.batch.setValue(32)
    train.holdout.setValue(0.2)
    assert train.start()


def test_the_window_keeps_the_last_epoch_of_a_killed_run_and_says_so(qtbot, window):
    _tiny_network(window)
    train, state = window.train, window.session
    net = state.network
    before = net.flat_params.copy()
    said = []
    state.message.connect(lambda text, ms: said.append(text))
    _window_run(train, 40)
    qtbot.waitSignal(train.worker.epochDone, timeout=60000).wait()
    with qtbot.waitSignal(train.trainingFinished, timeout=60000) as ended:
        train.worker.process.kill()
    n = len(net.history)                       # the epochs the window was told of, all kept
    assert 1 <= n < 40 and state.network is net and not np.array_equal(net.flat_params, before)
    assert not state.training and state.view_network() is net
    text = said[-1]
    assert text == train.eta.text() and "ended unexpectedly" in text and f"after epoch {n} of 40" in text
    assert f"{net.history[-1]['val_accuracy']:.1%}" in text     # the accuracy said is the kept weights'
    assert ended.args[0].val_accuracy == net.history[-1]["val_accuracy"]


def test_the_window_says_when_it_trains_in_its_own_thread(qtbot, window, monkeypatch):
    import multiprocessing.context

    def refuse(self):
        raise OSError(11, "Resource temporarily unavailable")
    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", refuse)
    _tiny_network(window)
    train, state = window.train, window.session
    said = []
    state.message.connect(lambda text, ms: said.append(text))
    with qtbot.waitSignal(train.trainingFinished, timeout=60000):
        _window_run(train, 1)
    assert len([t for t in said if "could not start a training process" in t]) == 1
    assert len(state.network.history) == 1
