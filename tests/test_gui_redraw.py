"""Paced redraws (issue 9, the window that never stutters): a panel that follows a training run draws
a few times a second while shown and not at all while hidden (pytest-qt, headless)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]


@pytest.fixture
def paced(qtbot):
    from PySide6 import QtWidgets
    from cnnapp.widgets.redraw import PacedRedraw
    w = QtWidgets.QWidget()
    qtbot.addWidget(w)
    drawn = []
    return w, PacedRedraw(w, lambda: drawn.append(1), interval_ms=50), drawn


def test_requests_while_shown_become_one_redraw(qtbot, paced):
    w, p, drawn = paced
    w.show()
    for _ in range(20):
        p.request()
    assert drawn == [] and p.pending()          # nothing drawn inside the request itself
    qtbot.waitUntil(lambda: bool(drawn), timeout=2000)
    qtbot.wait(150)
    assert len(drawn) == 1 and p.redraws == 1 and not p.pending()
    p.request()
    p.flush()                                   # a run ended: drawn at once
    assert len(drawn) == 2


def test_a_hidden_widget_is_drawn_once_when_shown(qtbot, paced):
    w, p, drawn = paced
    for _ in range(5):
        p.request()
    p.flush()
    qtbot.wait(150)
    assert drawn == [] and p.pending()          # hidden: nothing drawn, the data waits
    w.show()
    assert len(drawn) == 1 and not p.pending()  # drawn as it appears
    qtbot.wait(150)
    assert len(drawn) == 1


def test_train_tab_panels_hidden_while_training_are_drawn_when_shown(qtbot):
    from cnnapp.main_window import MainWindow
    from test_gui_app import _tiny_network
    w = MainWindow(load_settings=False)
    qtbot.addWidget(w)
    w.show()
    try:
        _tiny_network(w)
        train = w.train
        w.tabs.setCurrentWidget(train)
        train.bottom_tabs.setCurrentWidget(train.live)
        train.count.setValue(600)
        train.epochs.setValue(2)
        with qtbot.waitSignal(train.trainingFinished, timeout=60000):
            train.start()
        qtbot.waitUntil(lambda: not train.is_running(), timeout=10000)
        diag, runs = train.diagnostics, train.runs
        assert diag.x and diag.paced.redraws == 0 and diag.paced.pending()
        assert runs.paced.pending() and runs.paced.redraws == 0
        train.bottom_tabs.setCurrentWidget(diag)
        assert diag.paced.redraws == 1 and diag.curves
        n = len(diag.x)
        assert all(len(c.getData()[0]) == n for c in diag.curves.values())
        train.bottom_tabs.setCurrentWidget(runs)
        record, loss, _ = runs._curves[-1]
        assert len(loss.getData()[0]) == len(record.batch_x) == n
    finally:
        w.train.shutdown()
        w.close()
