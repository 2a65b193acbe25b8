"""Train tab diagnostics panels (issue 11): live per-layer numbers from a real training worker, the
explanation of a NaN loss with a restart at a lower rate, two runs compared (pytest-qt, headless)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]

BOUNDED_FIRST = {"input": [1, 28, 28], "layers": [
    {"type": "conv", "filters": 4, "kernel": 5, "stride": 3, "activation": "tanh"},
    {"type": "flatten"},
    {"type": "dense", "units": 16, "activation": "leaky_relu"},
    {"type": "dense", "units": 10}]}
WITH_RELU = BOUNDED_FIRST | {"layers": BOUNDED_FIRST["layers"][:2] + [
    {"type": "dense", "units": 16, "activation": "relu"}, {"type": "dense", "units": 10}]}


def _train(qtbot, panels, config, spec=BOUNDED_FIRST, count=300):
    """Run a real TrainWorker in its thread, the panels following it; returns the FinishedEvent."""
    from cnncore.datasets import generated_digits
    from cnncore.network import Network
    from cnnapp.train_worker import TrainWorker
    from cnnapp.workers import start_in_thread
    X, y = generated_digits(count, seed=1)
    worker = TrainWorker(Network(spec, seed=0), lambda: (X, y, None, None), config)
    diag, runs = panels
    diag.follow(worker)
    runs.follow(worker, config.to_dict(), 0)
    done = []
    worker.finished.connect(done.append)
    thread = start_in_thread(worker, diag, "test-training")
    qtbot.waitUntil(lambda: bool(done), timeout=60000)
    thread.wait(10000)
    qtbot.wait(50)
    return done[0]


@pytest.fixture
def panels(qtbot):
    from cnnapp.views.diagnostics_panel import DiagnosticsPanel, RunsPanel
    diag, runs = DiagnosticsPanel(), RunsPanel()
    for w in (diag, runs):
        qtbot.addWidget(w)
        w.resize(900, 400)
        w.show()
    return diag, runs


def test_live_diagnostics_and_a_nan_explained_with_a_restart(qtbot, panels):
    from cnncore.training import TrainConfig
    diag, runs = panels
    ok = _train(qtbot, panels, TrainConfig(optimizer="sgd", lr=0.05, momentum=0.0, epochs=1, augment=0),
                spec=WITH_RELU)
    assert ok.reason == "done"
    assert len(diag.x) == 10                                        # 300 images, batches of 32
    assert {k for k, _ in diag.curves} == {"grad", "update", "dead"}
    assert {i for _, i in diag.curves} == {0, 2, 3}                 # the layers with weights
    assert ("dead", 2) in diag.curves and ("dead", 0) not in diag.curves   # only the ReLU layer
    assert diag.reading.text().endswith(".") and diag.reading.text() != "Start training to see how each layer is doing."
    assert not diag.blowup.isVisible()
    bad = _train(qtbot, panels, TrainConfig(optimizer="sgd", lr=1e3, momentum=0.0, epochs=2, augment=0,
                                            schedule="constant"))
    assert bad.reason == "diverged"
    assert diag.blowup.isVisible() and "Layer 2 (dense 16 leaky_relu) blew up first" in diag.blowup.text()
    asked = []
    diag.restartRequested.connect(asked.append)
    diag.restart.click()
    assert asked and asked[0] <= 100 and f"{asked[0]:g}" in diag.restart.text()
    # both runs kept; the second against the first names the setting that changed
    assert [r.name for r in runs.records] == ["run 1", "run 2"]
    assert runs.records[0].outcome == "done" and runs.records[1].outcome == "diverged"
    assert "lr: 0.05 → 1000.0" in runs.differences.text() and "epochs: 1 → 2" in runs.differences.text()
    assert runs.records[0].epochs and len(runs.records[0].batch_loss) == 10
    runs.b.setCurrentIndex(0)
    assert "Pick two different runs" in runs.differences.text()


def test_train_tab_shows_diagnostics_keeps_runs_and_restarts_at_a_lower_rate(qtbot):
    from PySide6 import QtWidgets
    from cnnapp.main_window import MainWindow
    from test_gui_app import _tiny_network
    w = MainWindow(load_settings=False)
    qtbot.addWidget(w)
    w.show()
    try:
        _tiny_network(w)
        train = w.train
        train.count.setValue(400)
        train.epochs.setValue(1)
        train.lr.setValue(0.004)
        with qtbot.waitSignal(train.trainingFinished, timeout=60000):
            w.findChild(QtWidgets.QPushButton, "trainStartButton").click()
        qtbot.waitUntil(lambda: not train.is_running(), timeout=10000)
        w.tabs.setCurrentWidget(train)                            # a hidden panel is drawn when shown
        train.bottom_tabs.setCurrentWidget(train.diagnostics)
        assert train.diagnostics.x and train.diagnostics.curves
        assert train.diagnostics.reading.text().endswith(".")
        first = train.runs.records[0]
        assert first.settings["lr"] == pytest.approx(0.004) and "conv" in first.settings["architecture"]
        # what the explanation's button asks for: the same network trained on at a lower rate
        with qtbot.waitSignal(train.trainingFinished, timeout=60000):
            train.diagnostics.restartRequested.emit(0.0004)
        qtbot.waitUntil(lambda: not train.is_running(), timeout=10000)
        assert train.lr.value() == pytest.approx(0.0004)
        assert [r.name for r in train.runs.records] == ["run 1", "run 2"]
        assert "lr: 0.004 → 0.0004" in train.runs.differences.text()
        # the second run went on from the first one's weights, and the comparison says so
        assert first.settings["start"].startswith("new weights from seed")
        assert "start: new weights from seed 0 → weights already trained for 1 epoch" in train.runs.differences.text()
        assert train.bottom_tabs.indexOf(train.diagnostics) >= 0 and train.bottom_tabs.indexOf(train.runs) >= 0
    finally:
        w.train.shutdown()
        w.close()
