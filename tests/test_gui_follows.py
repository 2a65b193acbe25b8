"""Every view shows the session's network as it is now: a newcomer's tour found four that kept what an
earlier network, or the same network before a run, had shown (pytest-qt, offscreen)."""
from __future__ import annotations

from types import SimpleNamespace

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
from test_gui_app import _no_leaked_windows, _private_dirs, _tiny_network, window  # noqa: E402,F401
from test_gui_session import _train  # noqa: E402

pytestmark = [pytest.mark.gui,
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]


def _look(window, qtbot):
    """The Look tab, shown, once its saliency and Grad-CAM are in."""
    window.tabs.setCurrentWidget(window.look)
    look = window.look.ensure()
    look.inner.setCurrentWidget(look.where)
    qtbot.waitUntil(lambda: look.gradients is not None and not look.look_job.busy(), timeout=20000)
    return look


def _colour_model(window, tmp_path):
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    from cnncore.network import Network
    path = tmp_path / "colour.npz"
    save_model(path, Network(preset("cifar"), seed=1))
    window.confirm = lambda text: True
    assert window.open_model(path)


def test_the_look_tab_explains_the_weights_a_run_left(window, qtbot):
    """After a run the Look tab still said "answers 7, 39% sure" with the old maps: training changes the
    network in place, and the tab kept what it had computed for the same network object."""
    _tiny_network(window)
    look = _look(window, qtbot)
    before = look.gradients
    _train(qtbot, window, count=600, epochs=2)
    window.tabs.setCurrentWidget(window.look)
    qtbot.waitUntil(lambda: look.gradients is not before and not look.look_job.busy(), timeout=20000)
    net, x = window.session.network, look.current_input()
    now = net.predict_proba(x[None])[0]
    np.testing.assert_allclose(look.gradients[0].probabilities, now, rtol=1e-5, atol=1e-6)
    assert f"{now.max():.0%} sure" in look.answer.text()


def test_the_look_tab_keeps_nothing_of_a_network_it_no_longer_shows(window, qtbot, tmp_path):
    """After opening a colour network the Look tab still showed the grey digit, its saliency and two
    Grad-CAM maps of the old network beside "Open a picture…"."""
    look = _look(window, qtbot)
    assert look.where.seen.values is not None and any(p.isVisible() for p in look.where.cam_panels)
    _colour_model(window, tmp_path)
    window.tabs.setCurrentWidget(window.look)
    qtbot.wait(200)
    assert all(panel.values is None for panel in look.where.panels())
    assert not any(p.isVisible() for p in look.where.cam_panels)
    assert "Open a picture" in look.answer.text()


def test_the_backprop_tab_says_nothing_of_a_trace_it_dropped(window, qtbot, tmp_path):
    """After opening a colour network (no picture to trace yet) the Backprop tab's maps were empty but its
    words still described layer 0 of the old network ("conv 8 5×5 … slides over 1 map of 28×28")."""
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=10000)
    assert bp.explanation.text() and bp.title_label.text()
    _colour_model(window, tmp_path)
    qtbot.wait(200)
    assert bp.trace is None
    assert (bp.title_label.text(), bp.equation.text(), bp.explanation.text()) == ("", "", "")


def test_a_second_run_traces_a_picture_of_its_own_held_out_set(window, qtbot):
    """After a second run the Backprop tab traced the first run's sample 29 under the words "sample 29 of
    the held-out pictures of the last run, the one the network is least sure of"."""
    from cnncore.defaults import trace_example
    _tiny_network(window)
    s, bp = window.session, window.backprop
    _train(qtbot, window, count=600)
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=10000)
    first = s.picture
    _train(qtbot, window, count=400)
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: bp.trace is not None and s.trace_picture is s.picture, timeout=10000)
    X, y, _ = s.sample_set()
    assert len(X) == 60 and s.picture is not first and s.picture.picked
    assert s.picture.index == trace_example(s.network, X, y) == bp.sample_spin.value()
    np.testing.assert_array_equal(bp.trace.arrays["input"][0], X[s.picture.index].reshape(1, 28, 28) / np.float32(255))


def test_a_network_trained_before_shows_the_epochs_it_kept(window, qtbot, tmp_path):
    """After a restart (or opening a trained model) the Train tab's plots were empty and nothing said the
    network had been trained: its file keeps each epoch's accuracy, drawn now and said to be its."""
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    from cnncore.network import Network
    net = Network(preset("tiny"), seed=2)
    net.history = [{"epoch": k + 1, "train_accuracy": 0.5 + 0.1 * k, "val_accuracy": 0.45 + 0.1 * k}
                   for k in range(3)]
    save_model(tmp_path / "trained.npz", net)
    window.confirm = lambda text: True
    train = window.train
    window.tabs.setCurrentWidget(train)
    assert window.open_model(tmp_path / "trained.npz")
    assert train.acc_plot.point_count() == 3 and train.loss_plot.point_count() == 0
    assert "Trained before for 3 epochs, 65.0% of its held-out pictures right" in train.eta.text()
    _colour_model(window, tmp_path)
    assert train.acc_plot.point_count() == 0 and train.eta.text() == ""
    from cnnapp import settings as st                    # a restart: the window starts with the network
    from cnnapp.main_window import MainWindow
    save_model(st.session_model_path(), net)
    again = MainWindow(load_settings=True)
    qtbot.addWidget(again)
    assert again.session.network.history == net.history and again.train.acc_plot.point_count() == 3
    assert "Trained before for 3 epochs, 65.0% of its held-out pictures right" in again.train.eta.text()
    again.train.shutdown()


def test_a_model_stopped_within_an_epoch_says_so_when_reopened():
    from cnnapp.views.train_results import earlier_epochs, trained_for
    history = [{"epoch": 1, "train_accuracy": 0.4, "val_accuracy": 0.443},
               {"epoch": 2, "train_accuracy": 0.5, "val_accuracy": 0.507, "batches": [14, 54]}]
    points, words = earlier_epochs(SimpleNamespace(history=history))
    assert len(points) == 2
    assert words.startswith("Trained before for 1 epoch and 14 of the 54 batches of one more, 50.7% of its "
                            "held-out pictures when it stopped.")
    assert trained_for(history[1:]) == "14 of the 54 batches of an epoch" and trained_for(history[:1]) == "1 epoch"
    # a stop within the history, not only at its end: each part counted as a part, on the plot too
    history = [{"epoch": k + 1, "train_accuracy": 0.5, "val_accuracy": 0.5} for k in range(5)] + [
        {"epoch": 6, "train_accuracy": 0.6, "val_accuracy": 0.6, "batches": [68, 80]},
        {"epoch": 7, "train_accuracy": 0.7, "val_accuracy": 0.7, "batches": [40, 80]}]
    points, words = earlier_epochs(SimpleNamespace(history=history))
    assert words.startswith("Trained before for 5 epochs and 68 and 40 of the 80 batches of 2 more, 70.0%")
    assert [x for x, _, _ in points] == pytest.approx([1, 2, 3, 4, 5, 5.85, 6.35])
    assert trained_for(history[:5] + history[5:6] + [{"epoch": 7, "train_accuracy": 0.7}]) == \
        "6 epochs and 68 of the 80 batches of one more"


def test_the_source_list_names_every_source_whole_and_an_error_line_keeps_its_width(window, qtbot, tmp_path):
    """At 1024 × 640 the Train tab's list cut "CIFAR-10 (download, 50,000 colour picture…", and the Backprop
    tab's message that a colour network has no pictures yet ran down a column two words wide."""
    window.resize(1024, 640)
    src = window.train.controls.data.source
    widest = max(src.fontMetrics().horizontalAdvance(src.itemText(k)) for k in range(src.count()))
    assert src.view().minimumWidth() >= widest
    _colour_model(window, tmp_path)
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: "no pictures" in bp.info.text(), timeout=5000)
    qtbot.wait(100)
    assert bp.info.width() >= 300 and bp.info.height() < 100
