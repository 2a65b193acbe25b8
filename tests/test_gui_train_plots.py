"""The Train tab's plots say what they show: their epoch axes span the epochs drawn (not the form's count of
a run that never began), and a run from weights trained before numbers its epochs after theirs on every
plot and in Compare runs (pytest-qt, offscreen, real training runs)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
from test_gui_app import _no_leaked_windows, _private_dirs, window  # noqa: E402,F401 - fixtures

pytestmark = [pytest.mark.gui,
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]


def _run(qtbot, train, epochs: int, again: bool = False) -> None:
    """A short run on generated digits, waited for."""
    train.source.setCurrentIndex(train.source.findData("generated"))
    train.count.setValue(600)
    train.epochs.setValue(epochs)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000):
        assert train.start(same_start=again), train.eta.text()
    qtbot.waitUntil(lambda: not train.is_running() and train.controller.thread is None, timeout=10000)


def _numbered(plot) -> bool:
    """Whether the plot's epoch axis names any epoch where it is now."""
    axis = plot.getPlotItem().getAxis("bottom")
    lo, hi = axis.range
    return any(ticks for _, ticks in axis.tickValues(lo, hi, axis.geometry().width() or 300))


def test_the_epoch_axes_span_what_the_plots_show_also_after_a_refused_start(window, qtbot, tmp_path):
    """The loss and speed plots of a network trained before spanned the form's 6 epochs with nothing drawn
    (the accuracy plot its 4 epochs), and kept that after a start that was refused: an axis spans the
    epochs its plot shows (the last run's while they are shown), and an empty plot's names none."""
    train = window.train
    window.tabs.setCurrentWidget(train)
    assert len(window.session.network.history) == 4                       # the starter model's epochs
    assert train.acc_plot.epochs() == (0, 4) and _numbered(train.acc_plot)
    for plot in (train.loss_plot, train.speed_plot):
        assert plot.epochs() is None and not _numbered(plot), plot        # nothing drawn: no epochs named
    train.epochs.setValue(20)
    train.batch.setMaximum(100000)
    train.batch.setValue(100000)                                          # a setting refused at Start
    assert not train.start() and "Cannot train" in train.eta.text()
    assert train.loss_plot.epochs() is None and train.acc_plot.epochs() == (0, 4)
    train.batch.setValue(32)
    _run(qtbot, train, 2)
    shown = [p.epochs() for p in (train.loss_plot, train.acc_plot, train.speed_plot)]
    assert shown == [(4, 6)] * 3 and all(_numbered(p) for p in (train.loss_plot, train.acc_plot))
    window.session.choose_files("folder", str(_empty_classes(tmp_path)))  # a folder with no pictures left
    train.source.setCurrentIndex(train.source.findData("folder"))
    train.epochs.setValue(9)
    train.confirm = lambda text: True                                     # (its classes are not the digits)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000):
        assert train.start()                                              # refused as its data is read
    qtbot.waitUntil(lambda: train.controller.thread is None, timeout=10000)
    assert "could not start" in train.eta.text()
    assert [p.epochs() for p in (train.loss_plot, train.acc_plot, train.speed_plot)] == shown
    assert train.acc_plot.point_count() == 2                              # (the last run's curves, still)


def _empty_classes(tmp_path):
    """A folder of two classes without a picture (emptied since it was chosen)."""
    folder = tmp_path / "no pictures"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
    return folder


def test_a_run_from_trained_weights_numbers_its_epochs_after_theirs_everywhere(window, qtbot):
    """The starter model "trained before for 4 epochs", trained on: its accuracy plot numbered the new
    epochs 1 and 2. Now the loss, accuracy and diagnostics plots, the status line, the time-left line and
    Compare runs number them 5 and 6, where the model's history puts them when it is opened again."""
    from cnnapp.views.train_results import earlier_epochs
    train, s = window.train, window.session
    window.tabs.setCurrentWidget(train)
    said = []
    s.message.connect(lambda text, ms: said.append(text))
    progress = []
    train.controller.progress.connect(lambda d: progress.append(train.run.epoch_number(d["epoch"])))
    _run(qtbot, train, 2)
    assert train.acc_plot._e == [5.0, 6.0] == [x for x, _, _ in earlier_epochs(s.network)[0][-2:]]
    x = train.loss_plot._points.columns()[0]
    assert 4 < x.min() and x.max() == pytest.approx(6) and train.loss_plot.epochs() == (4, 6)
    assert 4 < min(train.diagnostics.x) and max(train.diagnostics.x) == pytest.approx(6)
    assert any(t.startswith("Epoch 5: training accuracy") for t in said) and set(progress) == {5, 6}
    record = train.runs.current
    assert [e["epoch"] for e in record.epochs] == [5, 6] and 4 < min(record.batch_x)
    assert record.settings["start"] == "weights already trained for 4 epochs"
    assert "Epochs count the network's whole training" in train.acc_plot.toolTip()
    train.confirm = lambda text: True
    _run(qtbot, train, 2, again=True)                                     # from the same start: 5 and 6 again
    assert train.acc_plot._e == [5.0, 6.0] and train.runs.current.epochs[0]["epoch"] == 5
    _run(qtbot, train, 1)                                                 # on from there: 7
    assert train.acc_plot._e == [7.0] and train.loss_plot.epochs() == (6, 7)
