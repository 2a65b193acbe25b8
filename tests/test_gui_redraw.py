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


@pytest.fixture
def tiny_window(qtbot):
    """The main window, shown, with the tiny preset's network (quick runs); its training stops after."""
    from cnnapp.main_window import MainWindow
    from test_gui_app import _tiny_network
    w = MainWindow(load_settings=False)
    qtbot.addWidget(w)
    w.show()
    _tiny_network(w)
    yield w
    w.train.shutdown()
    w.close()


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


def test_train_tab_panels_hidden_while_training_are_drawn_when_shown(qtbot, tiny_window):
    w = tiny_window
    train = w.train
    w.tabs.setCurrentWidget(train)
    train.bottom_tabs.setCurrentWidget(train.live)
    train.count.setValue(600)
    train.epochs.setValue(2)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000):
        train.start()
    qtbot.waitUntil(lambda: not train.is_running(), timeout=10000)
    diag, runs = train.diagnostics, train.runs
    assert diag._unread                          # hidden: the reports were kept, not yet sorted
    assert diag.x and diag.paced.redraws == 0 and diag.paced.pending()
    assert runs.paced.pending() and runs.paced.redraws == 0
    train.bottom_tabs.setCurrentWidget(diag)
    assert diag.paced.redraws == 1 and diag.curves
    n = len(diag.x)
    assert all(len(c.getData()[0]) == n for c in diag.curves.values())
    train.bottom_tabs.setCurrentWidget(runs)
    record, loss, _ = runs._curves[-1]
    # the curve's own data (getData() is what the view clips to its range, None before the range is known)
    assert len(loss.getOriginalDataset()[0]) == len(record.batch_x) == n


def test_a_report_sent_as_the_run_starts_is_kept_by_the_runs_panel(qtbot, tiny_window, monkeypatch):
    """The panels take a run's worker before its thread starts: a report sent at that very moment
    (a run short enough reports before the window has done anything else) is in the run's record.
    (The diagnostics panel starts afresh when the run's data is in, before a real run's reports.)"""
    import cnnapp.run_control as run_control
    real = run_control.start_in_thread

    def report_first(worker, parent, name):
        worker.progress.emit(_report(0))
        return real(worker, parent, name)

    monkeypatch.setattr(run_control, "start_in_thread", report_first)
    train = tiny_window.train
    train.count.setValue(300)
    train.epochs.setValue(1)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000):
        train.start()
    qtbot.waitUntil(lambda: not train.is_running(), timeout=10000)
    first = _report(0)["x"]
    assert train.results.runs.current.batch_x[:len(first)] == first


def _report(i: int, n: int = 4) -> dict:
    x = [(i * n + k + 1) / 100 for k in range(n)]
    return {"x": x, "loss": [2.0 - 0.01 * v for v in x], "accuracy": [0.5] * n, "ips": [1000.0 + i] * n,
            "progress": x[-1] / 2, "epoch": 1, "batch": i * n + n, "batches": 100, "lr": 0.003, "elapsed": 1.0}


@pytest.fixture
def train_tab(qtbot):
    from cnnapp.main_window import MainWindow
    w = MainWindow(load_settings=False)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    w.tabs.setCurrentWidget(w.train)
    yield w.train
    w.close()


def test_progress_reports_are_shown_in_frames_not_one_repaint_each(qtbot, train_tab):
    train = train_tab
    train.run.start()
    for i in range(10):                              # ten reports arrive at once
        train._on_progress(_report(i))
    assert train.progress.value() == 0 and "Epoch" not in train.eta.text()   # nothing redrawn per report
    qtbot.waitUntil(lambda: train.progress.value() > 0, timeout=2000)
    assert train.progress.value() == int(round(1000 * _report(9)["progress"]))   # the latest one
    assert "batch 40 of 100" in train.eta.text() and "1,009 images/s" in train.eta.text()
    qtbot.waitUntil(lambda: train.speed_plot.point_count() == 40, timeout=2000)
    assert train.loss_plot.point_count() == 40       # every batch drawn, in a few frames
    train.run.finish()


def test_a_new_progress_text_repaints_only_itself_while_training(qtbot, train_tab):
    from PySide6 import QtCore, QtGui
    train = train_tab
    train.run.start()
    train._on_progress(_report(0))
    train._show_report()
    qtbot.wait(300)                                  # the run's start is laid out and painted
    eta = train.eta.geometry()
    shown = QtGui.QRegion(eta) + QtGui.QRegion(train.progress.geometry())   # what a report changes
    wider = []

    class Paints(QtCore.QObject):
        def eventFilter(self, obj, ev):
            if ev.type() == QtCore.QEvent.Paint and not (QtGui.QRegion(ev.rect()) - shown).isEmpty():
                wider.append(ev.rect())
            return False
    paints = Paints()
    train.controls.installEventFilter(paints)
    for i in range(6):
        train._on_progress(_report(i, n=1 + 7 * i))   # texts of different lengths
        train._show_report()
        qtbot.wait(30)
    train.controls.removeEventFilter(paints)
    assert "Epoch 1" in train.eta.text()
    assert wider == []           # a label free to resize made the whole column (and window) repaint
    assert train.eta.geometry() == eta
    train.run.finish()
    assert train.eta.maximumHeight() > 10000     # between runs the text takes the height it needs


# ------------------------------------------------------------------ one part per frame

@pytest.fixture
def pacer(qtbot):
    from PySide6 import QtWidgets
    from cnnapp.widgets.redraw import FramePacer
    w = QtWidgets.QWidget()
    qtbot.addWidget(w)
    w.show()
    drawn = []
    parts = {name: (lambda n=name: drawn.append(n)) for name in ("a", "b", "c")}
    return FramePacer(w, parts, interval_ms=20), drawn, w


def test_marked_parts_are_drawn_one_per_frame_in_turn(qtbot, pacer):
    p, drawn, _ = pacer
    for name in ("c", "a", "b", "a"):
        p.mark(name)
    assert drawn == []                               # nothing drawn inside mark
    qtbot.waitUntil(lambda: len(drawn) == 1, timeout=2000)
    assert drawn == ["a"] and p.frames_drawn == 1    # one part in a frame, the first in order
    qtbot.waitUntil(lambda: len(drawn) == 3, timeout=2000)
    assert drawn == ["a", "b", "c"] and p.frames_drawn == 3 and p.marked() == set()
    with pytest.raises(KeyError):
        p.mark("d")


def test_the_turn_goes_on_after_the_part_drawn_last(qtbot, pacer):
    """Parts marked on every report ("a") must not starve the others ("c")."""
    p, drawn, _ = pacer
    p.mark("a")
    qtbot.waitUntil(lambda: drawn == ["a"], timeout=2000)
    p.mark("a")
    p.mark("c")
    qtbot.waitUntil(lambda: len(drawn) == 3, timeout=2000)
    assert drawn == ["a", "c", "a"]                  # c before a: a was drawn last


def test_nothing_is_drawn_while_the_view_is_hidden(qtbot, pacer):
    p, drawn, w = pacer
    w.hide()
    p.mark("b")
    p.mark("a")
    qtbot.wait(120)
    assert drawn == [] and p.marked() == {"a", "b"}
    w.show()
    qtbot.waitUntil(lambda: len(drawn) == 2, timeout=2000)
    assert drawn == ["a", "b"]


def test_a_part_that_fails_does_not_keep_the_others_from_the_last_flush(qtbot, pacer):
    from cnnapp.widgets.redraw import FramePacer
    _, drawn, w = pacer

    def broken():
        raise RuntimeError("drawing failed")
    p = FramePacer(w, {"a": broken, "b": lambda: drawn.append("b")}, interval_ms=20)
    p.mark("a")
    p.mark("b")
    with pytest.raises(RuntimeError):
        p.flush()
    assert drawn == ["b"] and p.marked() == set()


def test_flush_draws_every_marked_part_at_once(qtbot, pacer):
    p, drawn, _ = pacer
    p.mark("b")
    p.mark("a")
    p.flush()
    assert drawn == ["a", "b"] and p.marked() == set()
    p.draw("c")                                      # drawn now, marked or not
    assert drawn == ["a", "b", "c"]
    qtbot.wait(80)
    assert drawn == ["a", "b", "c"]                  # nothing left for a frame


def _epoch_event(epoch: int, acc: float):
    from cnncore.training import EpochEvent
    import numpy as np
    return EpochEvent(epoch=epoch, train_loss=0.5, train_accuracy=acc, val_loss=0.6, val_accuracy=acc - 0.1,
                      confusion=np.zeros((10, 10), dtype=int), misclassified=np.zeros(0, dtype=int),
                      predicted=np.zeros(0, dtype=int))


def test_train_tab_draws_reports_epochs_and_maps_in_separate_frames(qtbot, train_tab):
    from cnnapp.widgets.redraw import FramePacer
    train = train_tab
    train.run.start()
    train._clear_curves()   # as the run's data is ready (the starter model's earlier epochs go)
    painted = []            # (part, frame it was drawn in)
    draw = FramePacer.draw

    def noted(pacer, name):
        painted.append((name, pacer.frames_drawn))
        draw(pacer, name)
    FramePacer.draw = noted
    try:
        train._on_progress(_report(0))
        train._on_epoch(_epoch_event(1, 0.8))
        train._on_epoch(_epoch_event(2, 0.9))
        train.controller._on_snapshot(train.session.network, {})
        assert painted == [] and train.acc_plot.point_count() == 0   # nothing drawn as the signals come
        qtbot.waitUntil(lambda: len(painted) == 5, timeout=3000)
    finally:
        FramePacer.draw = draw
    assert [name for name, _ in painted] == ["report", "loss", "speed", "epoch", "maps"]
    assert [frame for _, frame in painted] == [1, 2, 3, 4, 5]       # each in a frame of its own
    assert train.acc_plot.point_count() == 2                        # no epoch lost when two came at once
    assert train.loss_plot.point_count() == 4 and train.speed_plot.point_count() == 4
    train.run.finish()


def test_the_collector_leaves_the_window_s_objects_alone_during_a_run(qtbot, tiny_window):
    import gc
    w = tiny_window
    train = w.train
    train.count.setValue(600)
    train.epochs.setValue(2)
    before = gc.get_freeze_count()
    with qtbot.waitSignal(train.trainingFinished, timeout=60000):
        assert train.start()
        frozen = gc.get_freeze_count()
    qtbot.waitUntil(lambda: not train.is_running(), timeout=10000)
    assert frozen > before + 1000           # the objects before the run: out of the full passes
    assert gc.get_freeze_count() == before  # after it, collected as before


def test_a_long_loss_curve_is_drawn_with_about_one_point_per_pixel(qtbot):
    import numpy as np
    from cnnapp.widgets.plots import LossPlot
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(500, 300)
    plot.show()
    plot.set_epochs(40)
    rng = np.random.default_rng(0)
    for k in range(40):                                   # 40 epochs of 1000 noisy batches
        plot.add_points(k + np.arange(1000) / 1000, 1 + rng.random(1000))
    qtbot.wait(50)
    width = plot.getPlotItem().vb.width()
    shown = len(plot._raw.curve.getData()[0])
    assert plot.point_count() == 40000
    assert plot._raw.opts["autoDownsampleFactor"] == 1.0 and plot._raw.opts["autoDownsample"]
    assert shown <= 2.5 * width                           # peak: a low and a high per pixel


def test_loss_curve_smooths_as_one_call_whatever_the_reports(qtbot):
    import math

    import numpy as np
    from cnnapp.widgets.plots import LossPlot
    rng = np.random.default_rng(1)
    y = 1 + rng.random(300)
    y[[5, 77]] = np.nan                                   # a batch that blew up is left out
    x = np.arange(300) / 100
    whole, parts = LossPlot(), LossPlot()
    qtbot.addWidget(whole)
    qtbot.addWidget(parts)
    whole.add_points(x, y)
    for a in range(0, 300, 7):
        parts.add_points(x[a:a + 7], y[a:a + 7])
    keep = np.isfinite(y)
    expect, ema, weight, prev = [], 0.0, 0.0, x[keep][0]
    for t, v in zip(x[keep], y[keep]):
        # e_t = a e_(t-1) + (1 - a) y_t from e_0 = 0, divided by the weights' sum; a = 0.9 a batch, or
        # exp(-Δ/τ) over Δ epochs where that is smaller (τ = SPAN of a run of one epoch: 0.05)
        a = min(0.9, math.exp(-(t - prev) / (LossPlot.SPAN * 1))) if t > prev else 0.9
        ema, weight, prev = a * ema + (1 - a) * v, a * weight + (1 - a), t
        expect.append(ema / weight)
    seen = y[keep]
    assert all(seen[:k + 1].min() <= e <= seen[:k + 1].max() for k, e in enumerate(expect))
    for plot in (whole, parts):
        ex, ey = plot._raw.getData()
        sx, sy = plot._smooth.getData()
        assert np.array_equal(ex, x[keep]) and np.array_equal(ey, y[keep])
        assert np.array_equal(sy, np.asarray(expect))


def test_the_smoothed_loss_of_a_short_run_follows_it_and_a_long_run_s_is_as_smooth_as_before(qtbot):
    """On a run of 15 batches the bold curve (a batch's weight 0.9 per batch after it) lagged a third of
    the run behind, above every later point; its time constant is now a twentieth of the run at most."""
    import numpy as np
    from cnnapp.widgets.plots import LossPlot
    short, long = LossPlot(), LossPlot()
    for p in (short, long):
        qtbot.addWidget(p)
    short.set_epochs(3)
    x = np.arange(1, 16) / 5                                   # 3 epochs of 5 batches
    y = 2.0 * np.exp(-x)                                       # a loss falling all the way
    short.add_points(x, y)
    _, s = short._smooth.getData()
    assert np.all(s[5:] - y[5:] < 0.1 * (y[0] - y[-1]))        # never far behind the latest batch
    long.set_epochs(6)
    x = np.arange(1, 6 * 188 + 1) / 188
    y = 1 + np.random.default_rng(0).random(len(x))
    long.add_points(x, y)
    _, s = long._smooth.getData()
    a, e, w, want = 0.9, 0.0, 0.0, []
    for v in y:
        e, w = a * e + (1 - a) * v, a * w + (1 - a)
        want.append(e / w)
    np.testing.assert_allclose(s, want, rtol=1e-12)             # the app's usual run: 0.9 a batch, as before


def test_a_run_ends_even_if_drawing_its_last_frames_fails(qtbot, train_tab):
    from cnncore.training import FinishedEvent
    train = train_tab
    train.session.start_run()
    train.bottom_tabs.setCurrentWidget(train.live)

    def broken(groups):
        raise RuntimeError("drawing failed")
    train.live.set_groups = broken
    train.controller._on_snapshot(train.session.network, {"sample": __import__("numpy").zeros((28, 28))})
    with qtbot.waitSignal(train.trainingFinished, timeout=1000), qtbot.capture_exceptions() as raised:
        train.controller._on_finished(FinishedEvent("done", "finished"))
    assert raised and isinstance(raised[0][1], RuntimeError)
    assert not train.session.training and not train.run.active
    assert train.eta.text() == "Finished: finished."           # the end-of-run sentence is shown


def test_other_tabs_follow_a_run_while_the_train_tab_is_hidden(qtbot, tiny_window):
    """The Train tab draws nothing while hidden, but the Draw tab's predictions get the new weights
    and the status bar the epochs during the run, not only at its end."""
    w = tiny_window
    train = w.train
    w.tabs.setCurrentWidget(w.draw)
    train.count.setValue(1500)
    train.epochs.setValue(30)                        # a few seconds: snapshots come twice a second
    seen = []
    w.session.weights_changed.connect(lambda: seen.append("weights"))
    w.session.message.connect(lambda text, ms: seen.append("epoch") if text.startswith("Epoch") else None)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000):
        assert train.start()
        train.worker.epochDone.connect(lambda ev: seen.append("epochDone"))   # after the view's slot
    last = len(seen) - 1 - seen[::-1].index("epochDone")
    assert "weights" in seen[:last] and "epoch" in seen[:last], seen   # during the run, not at its end
    assert train.pacer.frames_drawn == 0            # the hidden tab drew nothing during the run
