"""The Train tab's plots say what they show: their epoch axes span the epochs drawn, not the form's count
of a run that never began (pytest-qt, offscreen, real training runs)."""
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
    assert shown == [(0, 2)] * 3 and all(_numbered(p) for p in (train.loss_plot, train.acc_plot))
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
