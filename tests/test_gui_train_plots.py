"""The Train tab's plots say what they show: their epoch axes span the epochs drawn (not the form's count of
a run that never began), a run from weights trained before numbers its epochs after theirs on every plot
and in Compare runs, and their text is set in the tab's font, zoomed and changed with it (pytest-qt,
offscreen, real training runs)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402
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


def _sizes(plot) -> tuple:
    """The point sizes of a plot's title, axis name, axis numbers and legend."""
    p = plot.getPlotItem()
    axis = p.getAxis("bottom")
    legend = p.legend.items[0][1].opts["size"] if p.legend is not None and p.legend.items else None
    return (p.titleLabel.opts["size"], axis.label.font().pointSizeF(), axis.style["tickFont"].pointSizeF(), legend)


def test_the_plots_text_follows_the_tab_zoom_and_the_app_font(window, qtbot):
    """Ctrl+= drew the Train tab's labels larger and left the plots' titles, axes and legends as they were,
    and a larger font for the app left them at pyqtgraph's 11 pt titles; a zoomed tab shown again after the
    app's font changed put its text back at the old size."""
    from cnnapp.widgets.plot_base import Plot
    train, app = window.train, QtWidgets.QApplication.instance()
    window.tabs.setCurrentWidget(train)
    plots = train.findChildren(Plot)
    assert {"lossPlot", "accuracyPlot", "speedPlot", "confusionPlot"} <= {p.objectName() for p in plots}
    assert len(plots) >= 9                                                # (and Diagnostics, Compare runs)
    base = app.font().pointSizeF()
    loss = train.loss_plot
    assert _sizes(loss) == (f"{1.2 * base:.1f}pt", base, base, f"{base:.1f}pt")
    for _ in range(2):
        qtbot.keyClick(window, QtCore.Qt.Key_Equal, QtCore.Qt.ControlModifier)
    qtbot.waitUntil(lambda: window.zoomer.factor() == 1.5, timeout=3000)
    assert all(p.font().pointSizeF() == pytest.approx(1.5 * base) for p in plots)
    assert _sizes(loss) == (f"{1.8 * base:.1f}pt", 1.5 * base, 1.5 * base, f"{1.5 * base:.1f}pt")
    qtbot.keyClick(window, QtCore.Qt.Key_0, QtCore.Qt.ControlModifier)
    qtbot.waitUntil(lambda: window.zoomer.factor() == 1.0, timeout=3000)
    assert not loss.testAttribute(QtCore.Qt.WA_SetFont)                  # the app's font again, and its changes
    old = QtGui.QFont(app.font())
    try:
        bigger = QtGui.QFont(old)
        bigger.setPointSizeF(2 * base)
        app.setFont(bigger)
        qtbot.waitUntil(lambda: loss.font().pointSizeF() == 2 * base, timeout=3000)
        assert _sizes(loss)[:3] == (f"{2.4 * base:.1f}pt", 2 * base, 2 * base)
        window.tabs.setCurrentWidget(window.draw)
        window.tabs.setCurrentWidget(train)                              # (put the old size back before)
        assert loss.font().pointSizeF() == 2 * base and train.eta.font().pointSizeF() == 2 * base
        qtbot.keyClick(window, QtCore.Qt.Key_Equal, QtCore.Qt.ControlModifier)
        qtbot.waitUntil(lambda: loss.font().pointSizeF() == pytest.approx(2.5 * base), timeout=3000)
        assert train.eta.font().pointSizeF() == pytest.approx(2.5 * base)
    finally:
        app.setFont(old)
        window.zoomer.reset()


def test_plots_side_by_side_are_never_narrower_than_their_text_asks(window, qtbot):
    """At 1024 × 640, zoomed to 200 %, the accuracy and speed plots were cut off at their right edge (their
    axes and titles asked for more room than the splitter gave them): each side by side now has the room
    its text asks for, or they are shown one at a time."""
    train = window.train
    window.resize(1024, 640)
    window.tabs.setCurrentWidget(train)
    for _ in range(4):
        qtbot.keyClick(window, QtCore.Qt.Key_Equal, QtCore.Qt.ControlModifier)
    qtbot.waitUntil(lambda: window.zoomer.factor() == 2.0, timeout=3000)
    row = train.plots

    def fitted() -> bool:
        shown = [w for w in row.widgets if w.isVisible()]
        return all(w.width() + 1 >= w.least_width() for w in shown) and (row.one or len(shown) == 3)
    qtbot.waitUntil(fitted, timeout=3000)
    assert max(w.least_width() for w in row.widgets) > 1.3 * row.least       # (the zoom asked for more room)
    window.zoomer.reset()
