"""Issue 25, the same start again: "Train again from the same start" puts back the weights the last run
began with and shuffles as it did, so two runs differ only in what the learner changed; Compare runs
says so (pytest-qt, offscreen, real training runs)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
from PySide6 import QtCore  # noqa: E402
from test_gui_app import _no_leaked_windows, _private_dirs, _tiny_network, window  # noqa: E402,F401

pytestmark = [pytest.mark.gui,
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]


def _run(qtbot, window, lr, again=False):
    train = window.train
    train.lr.setValue(lr)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000):
        if again:
            qtbot.keyClick(window, QtCore.Qt.Key_F5, QtCore.Qt.ControlModifier)       # Ctrl+F5
        else:
            assert train.start()
    qtbot.waitUntil(lambda: not train.is_running(), timeout=10000)
    return train.runs.records[-1]


def test_train_again_from_the_same_start_differs_only_in_what_was_changed(window, qtbot):
    _tiny_network(window)
    train, s = window.train, window.session
    window.tabs.setCurrentWidget(train)
    train.count.setValue(400)
    train.epochs.setValue(1)
    assert not train.controls.again_button.isEnabled()                 # no run to start again from yet
    first_weights = s.network.flat_params.copy()
    run1 = _run(qtbot, window, 0.003)
    trained = s.network.flat_params.copy()
    assert train.controls.again_button.isEnabled() and not np.array_equal(trained, first_weights)
    asked = []
    train.confirm = lambda text: asked.append(text) or False                # unsaved: asked first, Cancel
    train.controls.again_button.click()
    assert "have not been saved" in asked[0] and not train.is_running()
    assert np.array_equal(s.network.flat_params, trained)
    train.confirm = lambda text: True
    run2 = _run(qtbot, window, 0.01, again=True)
    assert run2.start == run1.start and run2.settings["start"] == run1.settings["start"]
    # the first batch is scored before any update: from the same weights and the same first batch,
    # the same loss, whatever the learning rate
    assert run2.batch_loss[0] == run1.batch_loss[0]
    text = train.runs.differences.text()
    assert text.startswith("run 1 → run 2, from the same start") and "only lr: 0.003 → 0.01 changed" in text
    run3 = _run(qtbot, window, 0.01)                                     # Start: on from run 2's weights
    assert run3.start != run2.start and run3.batch_loss[0] != run2.batch_loss[0]
    assert "from the same start" not in train.runs.differences.text()
    s.set_network(s.network.copy(), "another model", trained=True)      # another model: no start to go back to
    assert not train.controls.again_button.isEnabled() and s.same_start() is None


def test_a_run_from_the_same_start_stopped_before_its_first_batch_gives_the_weights_back(window, qtbot):
    """A tour: Train again from the same start, stopped at once ("Stopped before the first batch"), left the
    first weights (114 of 1,200 right) while the Train tab still showed the trained network's result, and
    the trained weights, never saved, were gone."""
    _tiny_network(window)
    train, s = window.train, window.session
    train.count.setValue(400)
    train.epochs.setValue(2)
    _run(qtbot, window, 0.003)
    trained, history, result = s.network.flat_params.copy(), list(s.network.history), s.result
    train.confirm = lambda text: True
    with qtbot.waitSignal(train.trainingFinished, timeout=60000):
        assert train.start(same_start=True)
        train.stop()
    qtbot.waitUntil(lambda: not train.is_running(), timeout=10000)
    assert np.array_equal(s.network.flat_params, trained) and s.network.history == history
    assert s.result is result and s.unsaved and s.source == "trained here"


def test_train_again_that_cannot_start_or_blows_up_keeps_what_it_should(window, qtbot, tmp_path):
    """A review: Train again from the same start put back the first weights before a refusal (a folder
    gone since), losing the trained, unsaved ones; and a run of it that blew up after some updates had the
    weights from before it put back without a word, beside "stopped at the last weights that gave a
    finite loss"."""
    import shutil

    from test_gui_colour import _tiny_colour
    from PIL import Image
    _tiny_colour(window)
    train, s = window.train, window.session
    folder = tmp_path / "pictures"
    rng = np.random.default_rng(0)
    for k, name in enumerate(("red", "blue")):
        (folder / name).mkdir(parents=True)
        for i in range(12):
            a = rng.integers(0, 60, (32, 32, 3), dtype=np.uint8)
            a[..., 2 * k] = 200
            Image.fromarray(a).save(folder / name / f"{i}.png")
    train.source.setCurrentIndex(train.source.findData("folder"))
    assert train.controls.set_picture_folder(folder)
    train.epochs.setValue(1)
    _run(qtbot, window, 0.003)
    trained = s.network.flat_params.copy()
    train.confirm = lambda text: True
    shutil.rmtree(folder)
    assert not train.start(same_start=True) and "no such folder" in train.controls.eta.text()
    assert np.array_equal(s.network.flat_params, trained) and s.unsaved
    s.set_network(s.network.copy(), "trained here", trained=True, unsaved=True)       # (a fresh start record)
    _tiny_network(window)
    train.source.setCurrentIndex(train.source.findData("generated"))
    train.count.setValue(400)
    _run(qtbot, window, 0.003)
    trained = s.network.flat_params.copy()
    finished = []
    train.controller.finished.connect(finished.append)
    train.lr.setValue(1000.0)                                           # blows up after a few updates
    with qtbot.waitSignal(train.trainingFinished, timeout=60000):
        assert train.start(same_start=True)
    qtbot.waitUntil(lambda: not train.is_running(), timeout=10000)
    ev = finished[-1]
    assert ev.reason == "diverged" and ev.changed        # the last weights with a finite loss stay (asked first)
    assert not np.array_equal(s.network.flat_params, trained) and s.unsaved and s.source == "trained here"
    assert s._before_again is None


def test_a_start_that_could_not_begin_is_no_start_to_go_back_to(window, qtbot):
    """A tour: a run on "My drawings" with one drawing could not begin ("at least 10"), and "Train again
    from the same start" was enabled though no weight had moved from that start. It is enabled only where a
    run made updates; after a run that did, a start that cannot begin leaves that run's start to go back to."""
    from cnncore.datasets import DRAWINGS_FILE, DrawingsDataset

    from cnnapp.settings import data_dir
    _tiny_network(window)
    train, s = window.train, window.session
    DrawingsDataset(data_dir() / DRAWINGS_FILE).append(np.zeros((28, 28), np.float32), 3)
    train.source.setCurrentIndex(train.source.findData("drawings"))
    finished = []
    train.controller.finished.connect(finished.append)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000):
        assert train.start()
    qtbot.waitUntil(lambda: not train.is_running(), timeout=10000)
    assert not finished[-1].changed and "at least 10" in train.controls.eta.text()
    assert not train.controls.again_button.isEnabled() and s.same_start() is None
    train.source.setCurrentIndex(train.source.findData("generated"))
    train.count.setValue(400)
    train.epochs.setValue(1)
    run = _run(qtbot, window, 0.003)
    assert train.controls.again_button.isEnabled() and s.same_start().mark == run.start
    train.source.setCurrentIndex(train.source.findData("drawings"))
    with qtbot.waitSignal(train.trainingFinished, timeout=60000):
        assert train.start()
    qtbot.waitUntil(lambda: not train.is_running(), timeout=10000)
    assert not finished[-1].changed
    assert train.controls.again_button.isEnabled() and s.same_start().mark == run.start      # the run's, still
