"""Issue 13 (a student's first hour), part A: what misled or stopped a newcomer (pytest-qt, headless)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtWidgets  # noqa: E402
from test_gui_app import _no_leaked_windows, _private_dirs, _tiny_network, stroke, window  # noqa: E402,F401

pytestmark = [pytest.mark.gui,
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]


def _show_result(window, X, y, misclassified, predicted):
    """The session's result: a pass over ``X`` that got ``misclassified`` wrong, answering ``predicted``."""
    from cnncore.training import Evaluation
    answers = np.asarray(y).astype(np.int64)
    answers[np.asarray(misclassified, dtype=int)] = predicted
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (np.asarray(y, dtype=int), answers), 1)
    ev = Evaluation(0.6, 1 - len(misclassified) / len(y), confusion, np.asarray(misclassified),
                    np.asarray(predicted))
    s = window.session
    s.set_result(s.result_of(ev, X, y, 1, final=False))
    window.train.bottom_tabs.setCurrentWidget(window.train.gallery_page)


def test_gallery_shows_the_answers_of_the_pass_that_found_the_mistakes(window):
    """Item 3: the gallery never re-predicts with other (later) weights."""
    from cnncore.datasets import generated_digits
    X, y = generated_digits(20, seed=5)
    wrong = np.array([2, 7, 11])
    train = window.train
    # Answers neither the true digit nor what the app's network says now (a gallery that asked
    # the network again would show its answers, often "d → d").
    now = window.session.network.predict(X[wrong][:, None] / 255.0)
    answers = np.array([next(d for d in range(10) if d not in (t, p)) for t, p in zip(y[wrong], now)])
    _show_result(window, X, y, wrong, answers)
    texts = [train.gallery.item(k).text() for k in range(train.gallery.count())]
    assert texts == [f"{int(t)} → {int(p)}" for t, p in zip(y[wrong], answers)]
    assert all(a != b for a, b in (t.split(" → ") for t in texts))


def test_a_mistake_opens_on_the_draw_or_the_backprop_tab(window, qtbot):
    """Item 10: clicking a misclassified digit offers the Draw and Backprop tabs."""
    from cnncore.datasets import generated_digits
    X, y = generated_digits(20, seed=5)
    train = window.train
    window.tabs.setCurrentWidget(train)
    _show_result(window, X, y, [4], [(int(y[4]) + 3) % 10])
    train.open_misclassified(0, "draw")
    assert window.tabs.currentWidget() is window.draw
    assert window.draw.label_combo.currentIndex() == int(y[4])
    seen = window.draw.network_input()
    assert seen is not None and np.corrcoef(seen.ravel(), X[4].ravel())[0, 1] > 0.8
    window.tabs.setCurrentWidget(train)
    train.open_misclassified(0, "backprop")
    assert window.tabs.currentWidget() is window.backprop
    tr = window.backprop.trace
    assert tr is not None and tr.label == int(y[4])
    assert np.allclose(np.asarray(tr.arrays["input"])[0, 0], X[4] / 255.0, atol=1e-6)
    assert "got wrong" in window.backprop.info.text()


def _evaluation(right, n):
    from cnncore.training import Evaluation
    confusion = np.zeros((10, 10), np.int64)
    confusion[0, 0], confusion[0, 1] = right, n - right
    return Evaluation(0.1, right / n, confusion, np.arange(n - right), np.ones(n - right, np.int64))


def test_the_end_of_a_run_says_the_held_out_accuracy_in_words():
    from cnncore.training import FinishedEvent

    from cnnapp.views.train_view import finished_text
    text = finished_text(FinishedEvent("done", "trained 3 epochs (114 batches) in 2.00 s", 2.0, 868 / 900, 900,
                                       _evaluation(868, 900)))
    assert text.startswith("Finished: trained 3 epochs")
    assert "868" in text and "900 held-out digits" in text and "96.4%" in text
    text = finished_text(FinishedEvent("stopped", "stopped in epoch 2, before batch 5 of 38, as you asked",
                                       1.0, 0.5, 10, _evaluation(5, 10)))
    assert text.startswith("Stopped in epoch 2") and "Stopped: stopped" not in text and "5 correctly" in text
    assert "held-out" not in finished_text(FinishedEvent("done", "trained 1 epoch", 1.0))


def test_learning_rate_changes_are_marked_and_the_schedule_is_named(window, qtbot):
    """Items 7 and 10: the lr box is the start of a named schedule; a change mid-run leaves a marker."""
    _tiny_network(window)
    train = window.train
    window.tabs.setCurrentWidget(train)     # the plots draw while their tab shows
    train.count.setValue(1500)
    train.epochs.setValue(100)            # long enough to be running still when the rate changes
    assert "cosine" in train.schedule.currentText().lower()
    with qtbot.waitSignal(train.trainingFinished, timeout=60000) as blocker:
        train.start()
        qtbot.waitUntil(lambda: train.loss_plot.point_count() > 5, timeout=30000)
        qtbot.waitUntil(lambda: "lr" in train.eta.text(), timeout=10000)
        status = train.eta.text()
        train.lr.setValue(0.001)
        marks = train.loss_plot.lr_marks()
        train.stop()
    assert "cosine schedule from&nbsp;0.003" in status and "(lr)&nbsp;now&nbsp;" in status, status
    assert len(marks) == 1 and 0 < marks[0] <= 100
    ev = blocker.args[0]
    assert ev.val_count > 0 and f"{ev.val_count:,} held-out digits" in train.eta.text()


def test_a_run_that_cannot_start_keeps_the_last_runs_plots(window, qtbot):
    _tiny_network(window)
    train = window.train
    train.loss_plot.add_points([0.1, 0.2], [2.0, 1.5])
    train.acc_plot.add_epoch(1, 0.5, 0.4)
    train.source.setCurrentIndex(train.source.findData("drawings"))   # none drawn: cannot start
    with qtbot.waitSignal(train.trainingFinished, timeout=30000):
        train.start()
    assert train.loss_plot.point_count() == 2 and train.acc_plot.point_count() == 1
    assert "could not start" in train.eta.text().lower()


def test_loss_axis_reads_in_plain_units(window, qtbot):
    train = window.train
    train.loss_plot.add_points(np.linspace(0, 1, 50), np.linspace(0.6, 0.001, 50))
    train.loss_plot.getPlotItem().setYRange(0, 0.6)
    axis = train.loss_plot.getPlotItem().getAxis("left")
    qtbot.wait(50)
    assert axis.autoSIPrefixScale == 1.0 and "x0.001" not in axis.labelString()


def test_article_and_shortcuts(window):
    from cnnapp.state import a_digit
    assert a_digit(8) == "an 8" and a_digit(3) == "a 3"
    window.show_shortcuts()
    from cnnapp.widgets.help_boxes import HelpBox
    box = [w for w in QtWidgets.QApplication.topLevelWidgets()
           if isinstance(w, HelpBox) and w.windowTitle() == "Keyboard shortcuts"][0]
    text = box.text()
    box.close()
    assert "<b>T</b>" in text and "<b>Q</b>" in text


def test_the_draw_tab_says_the_network_must_pick_a_digit_and_asks_for_larger_drawings(window, qtbot):
    """Items 9 and 10."""
    draw = window.draw
    window.tabs.setCurrentWidget(draw)
    note = window.findChild(QtWidgets.QLabel, "alwaysPicksNote")
    assert note is not None and note.isVisible() and "not a digit" in note.text()
    canvas = draw.canvas
    stroke(canvas, [(0.1, 0.1 + 0.15 * k / 10) for k in range(11)])          # a tiny "1" in a corner
    draw.update_prediction()
    assert draw.drawing.is_small() and "draw it larger" in draw.answer.text()
    canvas.clear()
    stroke(canvas, [(0.5, 0.15 + 0.7 * k / 20) for k in range(21)])          # a full-height "1"
    draw.update_prediction()
    assert not draw.drawing.is_small() and "larger" not in draw.answer.text()


def test_a_drawing_whose_digit_nobody_chose_is_not_called_the_true_digit(window, qtbot):
    """A tour: an X scribbled on the Draw tab (its box left at the network's guess, 4) was "true digit 4"
    on the Backprop tab, in its loss step's words, and "(it is 4)" on the Look tab. Until the learner
    chooses the digit, every tab says that none was given; chosen, every tab names it."""
    draw, bp = window.draw, window.backprop
    stroke(draw.canvas, [(0.2, 0.2), (0.8, 0.8)])
    stroke(draw.canvas, [(0.8, 0.2), (0.2, 0.8)])
    draw.update_prediction()
    guess = draw.label_combo.currentIndex()              # the box follows the network's answer
    look = window.look.ensure()
    window.tabs.setCurrentWidget(window.look)
    look.take_drawing()
    qtbot.waitUntil(lambda: "answers" in look.answer.text(), timeout=5000)
    assert "(it is" not in look.answer.text()
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=5000)
    assert "no true digit given" in bp.info.text() and "true digit <b>" not in bp.info.text()
    bp.go(next(k for k, st in enumerate(bp.trace.steps) if st.kind == "loss"))
    assert "No true digit given" in bp.explanation.text() and "True digit:" not in bp.explanation.text()
    draw.label_combo.activated.emit(guess)               # the learner says: it is that digit
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=5000)
    assert f"true digit <b>{guess}</b>" in bp.info.text()
    window.tabs.setCurrentWidget(window.look)
    qtbot.waitUntil(lambda: f"(it is {guess})" in look.answer.text(), timeout=5000)


def test_the_app_offers_the_shared_subset_only_where_it_exists_and_splits_like_the_cli(qtbot, monkeypatch):
    """Item 2: a user's install has no ../shared, so the Train tab does not offer it; the held-out
    digits are those of the one rule (cnncore.datasets.held_out_split) the command line uses."""
    from cnncore.datasets import generated_digits, held_out_split, paths

    from cnnapp.state import Session
    from cnnapp.views.train_view import TrainView
    monkeypatch.setattr(paths, "shared_mnist_dir", lambda: None)
    view = TrainView(Session())
    qtbot.addWidget(view)
    keys = [view.source.itemData(i) for i in range(view.source.count())]
    assert "shared" not in keys and "generated" in keys
    assert not any("beside" in view.source.itemText(i) for i in range(view.source.count()))
    view.count.setValue(300)
    view.holdout.setValue(0.2)
    Xt, yt, Xv, yv = view.make_loader()()
    X, y = generated_digits(300, seed=1)
    expected = held_out_split(X, y, 0.2)
    assert all(np.array_equal(a, b) for a, b in zip((Xt, yt, Xv, yv), expected))


def test_no_max_pool_winners_on_an_all_zero_map(window):
    """Item 7: an all-zero map is all ties; it gets no winner corners (the others keep theirs)."""
    from cnnapp.views.backprop_maps import winner_mask
    argmax = np.zeros((1, 2, 2, 2), dtype=np.int64)
    argmax[0, :, :, :] = [[0, 2], [8, 10]]
    x = np.ones((1, 2, 4, 4))
    x[0, 1] = 0
    mask = winner_mask(argmax, (4, 4), x)
    assert mask[0, 0].sum() == 4 and mask[0, 1].sum() == 0
    bp = window.backprop
    bp.source.setCurrentIndex(2)
    assert bp.record()
    k = next(i for i, s in enumerate(bp.trace.steps) if s.kind == "forward" and s.layer_type == "maxpool")
    xkey = f"L{bp.trace.steps[k].layer}.x"
    bp.trace.arrays[xkey][0, 1] = 0.0              # as if the ReLU before it were off everywhere
    marks = next(g for g in bp.groups_for(bp.trace.steps[k]) if g.key == xkey).marks
    assert marks[0, 1].sum() == 0 and marks[0, 0].sum() > 0


def test_changing_the_true_digit_traces_again(window, qtbot):
    """Item 7: the shown trace never stays stale after the true digit changes."""
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    bp.source.setCurrentIndex(2)
    assert bp.record()
    before = bp.trace
    new = (before.label + 3) % 10
    bp.label_combo.setCurrentIndex(new)
    bp.label_combo.activated.emit(new)
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=5000)         # traced again as the tab shows
    after = bp.trace
    assert after is not before and after.label == new
    assert np.array_equal(after.arrays["input"], before.arrays["input"])
    assert after.loss != before.loss and f"true digit <b>{new}</b>" in bp.info.text()
    assert bp.record() and bp.trace.label == new      # Record keeps the digit chosen here


def test_a_filter_element_names_both_index_orders(window):
    """Item 7: dW(m,n,i,j) in the texts' order beside the array's [n, m, i, j] is explained."""
    bp = window.backprop
    bp.source.setCurrentIndex(2)
    assert bp.record()
    if bp.arithmetic is None:
        pytest.skip("no arithmetic panel in this build")
    k, st = next((i, s) for i, s in enumerate(bp.trace.steps)
                 if s.kind == "backward" and s.layer_type == "conv" and s.layer > 0)
    bp.go(k)
    key = f"L{st.layer}.dW"
    assert bp.trace.arrays[key].shape[:2] > (1, 1)
    bp._on_click(key, (0, 1, 1, 1))
    title = bp.arithmetic.title.text()
    assert "dW(1,0,1,1)" in title and f"{key}[0, 1, 1, 1]" in title and "same element" in title
    bp._on_click(key, (1, 1, 1, 1))
    assert "same element" not in bp.arithmetic.title.text()


def test_gradient_check_below_the_floor_is_not_called_a_one_in_a_million_match(qtbot):
    """Item 7: two gradients of ~0 have a meaningless relative error; the floor is stated."""
    from cnncore.gradcheck import GradCheckResult

    from cnnapp.learn.gradcheck_view import GradCheckView
    r = GradCheckResult("L0.W", (0, 0, 1, 1), 0.1, 0.0, 3e-13, 3e-13, 1.0, 1e-5, 2.3, 2.3, 2.3)
    assert r.agrees and r.below_floor
    view = GradCheckView()
    qtbot.addWidget(view)
    view._show(r)
    assert "one part in a million" not in view.verdict.text()
    assert f"{r.floor:.0e}" in view.verdict.text() and "its rounding alone is about 2e-11" in view.verdict.text()
    cells = [view.table.item(i, 1).text() for i in range(view.table.rowCount())]
    assert not any(c.startswith("1.000e+00") for c in cells)
    ok = GradCheckResult("L0.W", (0, 0, 1, 1), 0.1, 0.5, 0.5 + 1e-9, 1e-9, 2e-9, 1e-5, 2.3, 2.3, 2.3)
    assert ok.agrees and not ok.below_floor
    view._show(ok)
    assert "one part in a million" in view.verdict.text()


def test_build_updates_as_the_user_types_and_the_columns_stay_put(window, qtbot):
    """Item 9: no Enter needed; a ⚠ or "does not fit" shifts no column."""
    from cnncore.architecture import preset
    ed = window.build.editor
    window.tabs.setCurrentWidget(window.build)
    ed.set_spec(preset("lenet"))
    t = ed.table
    col = next(c for c in range(t.columnCount()) if t.horizontalHeaderItem(c).text().startswith("Kernel"))
    box = t.open_cell(t.model().index(2, col))
    assert isinstance(box, QtWidgets.QSpinBox)
    edges = [t.horizontalHeader().sectionViewportPosition(c) for c in range(t.columnCount())]
    header = t.verticalHeader().width()
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "13")                      # typed, no Enter: 13×13 on 12×12 maps
    assert not ed.valid() and t.verticalHeaderItem(2).text().startswith("⚠")
    assert ed.spec()["layers"][2]["kernel"] in (13, [13, 13])
    qtbot.wait(20)
    assert [t.horizontalHeader().sectionViewportPosition(c) for c in range(t.columnCount())] == edges
    assert t.verticalHeader().width() == header


def test_the_layers_below_one_that_does_not_fit_count_no_parameters_they_may_have(window):
    """A tour: a first conv of 30×30 on 28×28 pictures, and the Build table gave the 16-filter conv
    below it 0 parameters and every layer below 0 multiply-adds: numbers that were never computed (the
    conv has 3,216 once its input is known). Below a layer that does not fit the counts are unknown: —."""
    from cnnapp.widgets.arch_editor import C_MACS, C_OUT, C_PARAMS
    from cnncore.architecture import preset
    ed = window.build.editor
    spec = preset("lenet")
    spec["layers"][0]["kernel"] = 30
    ed.set_spec(spec)
    t = ed.table
    assert t.item(0, C_OUT).text() == "does not fit"
    below = {t.item(r, c).text() for r in range(1, t.rowCount()) for c in (C_OUT, C_PARAMS, C_MACS)}
    assert below == {"—"}
    ed.set_value(0, "kernel", 5)                    # fits again: every count is a number
    assert t.item(2, C_PARAMS).text() == "3,216" and t.item(1, C_PARAMS).text() == "0"


def test_a_picture_or_a_model_opened_as_an_architecture_is_named_so(window, tmp_path):
    """A tour: Build → Open… on a picture or a model file said "Could not open one.png: 'utf-8' codec can't
    decode byte 0x89 in position 0: invalid start byte"; it says what the file seems to be."""
    from PIL import Image

    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    from cnncore.network import Network
    Image.new("L", (8, 8), 255).save(tmp_path / "one.png")
    save_model(tmp_path / "m.npz", Network(preset("tiny"), seed=0))
    build = window.build
    before = build.editor.spec()
    for name, words in (("one.png", "is not text (a picture?)"), ("m.npz", "is a zip archive (a model file?)")):
        assert not build.open_file(tmp_path / name)
        assert build.status.text().startswith(f"Could not open {name}: {words}, not an architecture")
        assert "codec" not in build.status.text() and build.editor.spec() == before


def test_a_sources_failure_goes_when_another_source_is_chosen(window, qtbot):
    """A tour: MNIST and Fashion-MNIST could not be downloaded (offline), then Kuzushiji-MNIST and CIFAR-10
    were chosen, and the column still said "Could not download Fashion-MNIST: … choose IDX folder… that
    holds MNIST's files"; "you have 0 drawings of your own" stayed under Generated digits too. Another
    source takes the last one's failure away: the network's own words come back."""
    train, c = window.train, window.train.controls
    window.tabs.setCurrentWidget(train)
    c.source.setCurrentIndex(c.source.findData("drawings"))        # none saved (a private data folder)
    assert train.start()
    qtbot.waitUntil(lambda: not train.is_running() and "drawings of your own" in c.eta.text(), timeout=20000)
    c.source.setCurrentIndex(c.source.findData("generated"))
    assert "drawings" not in c.eta.text() and "Trained before for 4 epochs" in c.eta.text()
    c.source.setCurrentIndex(c.source.findData("fashion"))
    train._on_download_failed("Could not download Fashion-MNIST: could not download train-images-idx3-ubyte.gz "
                              "from any mirror (is the computer online?)")
    assert "Fashion-MNIST" in c.eta.text()
    c.source.setCurrentIndex(c.source.findData("kmnist"))
    assert "Fashion-MNIST" not in c.eta.text() and "Trained before for 4 epochs" in c.eta.text()


def test_a_failed_download_names_the_files_of_its_own_set(window):
    """A tour: offline, Fashion-MNIST and Kuzushiji-MNIST could not be downloaded and the column advised a
    folder "that holds MNIST's files", the digits, not the clothes or the characters chosen."""
    c = window.train.controls
    for key, name in (("mnist", "MNIST"), ("fashion", "Fashion-MNIST"), ("kmnist", "Kuzushiji-MNIST")):
        c.source.setCurrentIndex(c.source.findData(key))
        c.show_download_failed(f"Could not download {name}: no connection")
        assert f"holds {name}'s files" in c.eta.text()


def test_two_exact_zeros_are_called_zero_too():
    from cnncore.gradcheck import GradCheckResult
    r = GradCheckResult("input", (0, 0, 0), 0.0, 0.0, 0.0, 0.0, 0.0, 1e-5, 2.3, 2.3, 2.3)
    assert r.agrees and r.below_floor


def test_a_dense_layers_small_gradients_are_not_called_zero_nor_blamed_on_a_relu(qtbot):
    """Issue 21, item 7: the verdict said "both are zero … it only feeds a ReLU that is off" for two
    gradients of about 7e-07 of a dense layer that has no ReLU."""
    from cnncore.architecture import preset
    from cnncore.gradcheck import GradCheckResult
    from cnncore.network import Network

    from cnnapp.learn.gradcheck_view import GradCheckView
    view = GradCheckView()
    qtbot.addWidget(view)
    net = Network(preset("lenet"), seed=0)
    dense = next(i for i, l in enumerate(net.spec["layers"]) if l["type"] == "dense" and l.get("activation") != "relu")
    view.set_network(net, None, 3, "a test")
    view._show(GradCheckResult(f"L{dense}.W", (3, 4), 0.01, 7.0e-7, 7.0003e-7, 3e-11, 4.3e-5, 1e-5, 0.1, 0.1, 0.1))
    text = view.verdict.text()
    assert "agree" in text and "both are zero" not in text and "ReLU" not in text and "7.0e-07" in text
    view._show(GradCheckResult(f"L{dense}.W", (3, 4), 0.01, 0.0, 0.0, 0.0, 0.0, 1e-5, 0.1, 0.1, 0.1))
    assert "both are zero" in view.verdict.text() and "ReLU" not in view.verdict.text()
    relu = next(i for i, l in enumerate(net.spec["layers"]) if l.get("activation") == "relu")
    view._show(GradCheckResult(f"L{relu}.W", (0, 0, 1, 1), 0.01, 0.0, 0.0, 0.0, 0.0, 1e-5, 0.1, 0.1, 0.1))
    assert "ReLU that is off" in view.verdict.text()


def test_the_help_boxes_fit_a_small_screen_and_scroll(window, qtbot):
    """About and Keyboard shortcuts were message boxes as tall as their text (770 and 674 pixels):
    on a 640-pixel screen their OK button was off the bottom."""
    from cnnapp.widgets.help_boxes import HelpBox
    room = window.screen().availableGeometry()
    for show in (window.show_about, window.show_shortcuts):
        show()
        box = [w for w in QtWidgets.QApplication.topLevelWidgets() if isinstance(w, HelpBox) and w.isVisible()][-1]
        qtbot.waitExposed(box)
        ok = box.findChild(QtWidgets.QDialogButtonBox)
        assert box.height() <= room.height() - 60 and ok.isVisible()
        assert box.page.document().size().height() > 100          # the text is there, scrolled if need be
        box.close()
        qtbot.waitUntil(lambda: not box.isVisible())
