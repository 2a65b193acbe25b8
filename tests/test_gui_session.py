"""Issue 21: one session the whole window shows. Each test is a learner's scenario that went wrong
when every tab kept its own copy of the model, the picture, the run or the trace (pytest-qt, offscreen)."""
from __future__ import annotations

import os
import re

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtWidgets  # noqa: E402
from test_gui_app import _no_leaked_windows, _private_dirs, _tiny_network, stroke, window  # noqa: E402,F401

pytestmark = [pytest.mark.gui,
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]

ONE = [(0.5, 0.18 + 0.64 * k / 20) for k in range(21)]          # a stroke that reads as a "1"


def _train(qtbot, window, count=600, epochs=1, holdout=0.15):
    train = window.train
    window.tabs.setCurrentWidget(train)     # the plots draw while their tab shows
    train.count.setValue(count)
    train.epochs.setValue(epochs)
    train.holdout.setValue(holdout)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000) as blocker:
        assert train.start()
    return blocker.args[0]


def _said_right(text: str) -> int:
    return int(re.search(r"answers ([\d,]+) correctly", text).group(1).replace(",", ""))


def test_1_opening_another_model_clears_the_old_runs_curves_result_and_mistakes(window, qtbot, tmp_path):
    """Item 1: after File → Open model the Train tab showed the old run's curves, "answers 882 correctly"
    and its mistakes; a mistake then traced under "got wrong: true digit 4, network says 4"."""
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    from cnncore.network import Network
    _tiny_network(window)
    train, bp = window.train, window.backprop
    _train(qtbot, window)
    train.bottom_tabs.setCurrentWidget(train.gallery_page)
    assert train.loss_plot.point_count() > 0 and "correctly" in train.eta.text() and train.gallery.count() > 0
    r = window.session.result
    assert train.open_misclassified(0, "backprop")            # the same model: its own mistake
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=5000)
    _, true, answer, _ = r.mistake(0)
    assert bp.trace.label == true != bp.trace.prediction == answer and "got wrong" in bp.info.text()
    other = tmp_path / "other.npz"
    save_model(other, Network(preset("tiny"), seed=5))
    window.confirm = lambda text: True
    window.tabs.setCurrentWidget(train)
    assert window.open_model(other)
    assert (train.loss_plot.point_count(), train.acc_plot.point_count(), train.speed_plot.point_count()) == (0, 0, 0)
    assert "correctly" not in train.eta.text() and train.gallery.count() == 0
    train.bottom_tabs.setCurrentWidget(train.confusion)
    assert train.confusion.matrix().sum() == 0
    assert not train.open_misclassified(0, "backprop") and window.tabs.currentWidget() is train
    window.tabs.setCurrentWidget(bp)             # the picture stays, said to be the old network's mistake
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=5000)
    assert "previous network got wrong" in bp.info.text()


def test_2_both_look_pages_show_the_picture_drawn_last(window, qtbot):
    """Item 2: "Fooling it" kept the old 7 after a 1 was drawn on "Where it looks", until ε moved."""
    window.tabs.setCurrentWidget(window.look)
    look = window.look.ensure()
    look.inner.setCurrentIndex(1)
    qtbot.waitUntil(lambda: look.attack_result is not None and not look.attack_job.busy(), timeout=20000)
    first = look.attack_result
    look.inner.setCurrentIndex(0)
    look.canvas.clear()
    stroke(look.canvas, ONE)
    qtbot.waitUntil(lambda: look.gradients is not None and not look.look_job.busy()
                    and "answers <b>1</b>" in look.answer.text(), timeout=10000)
    look.inner.setCurrentIndex(1)
    qtbot.waitUntil(lambda: look.attack_result is not first and not look.attack_job.busy(), timeout=20000)
    np.testing.assert_allclose(look.attack_result.original, look.current_input(), atol=1e-6)
    assert look.attack_result.original_predicted == 1


def test_2_the_look_tab_opens_on_the_picture_the_backprop_tab_traced(window, qtbot):
    """The picture is one for both tabs: the Look tab, built later, shows the one traced already."""
    bp, s = window.backprop, window.session
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=5000)
    window.tabs.setCurrentWidget(window.look)
    look = window.look.ensure()
    assert not look.canvas.is_empty() and look.sample_spin.value() == s.picture.index
    qtbot.waitUntil(lambda: look.gradients is not None and not look.look_job.busy(), timeout=10000)
    assert f"(it is {s.picture.label})" in look.answer.text()
    np.testing.assert_array_equal(look.current_input(), bp.trace.arrays["input"][0])


def test_3_a_run_stopped_mid_epoch_tells_one_story(window, qtbot):
    """Item 3: after Stop the text said 882 correct, the confusion matrix 889 and the gallery 11 mistakes."""
    _tiny_network(window)
    train = window.train
    window.tabs.setCurrentWidget(train)
    train.count.setValue(3000)
    train.epochs.setValue(50)
    train.holdout.setValue(0.3)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000) as blocker:
        assert train.start()
        qtbot.waitUntil(lambda: train.acc_plot.point_count() >= 1, timeout=30000)
        n = train.loss_plot.point_count()
        qtbot.waitUntil(lambda: train.loss_plot.point_count() > n + 5, timeout=30000)   # into the next epoch
        train.stop()
    ev = blocker.args[0]
    assert ev.reason == "stopped", ev.message        # (mid-epoch nearly always: an epoch is 66 batches)
    right = _said_right(train.eta.text())
    train.bottom_tabs.setCurrentWidget(train.confusion)
    m = train.confusion.matrix()
    assert m.sum() == 900 and int(np.trace(m)) == right
    train.bottom_tabs.setCurrentWidget(train.gallery_page)
    assert train.gallery.count() == min(60, 900 - right)
    assert window.session.result.final and window.session.result.evaluation.right == right


def test_4_the_true_digit_box_names_the_class_of_the_traced_picture(window, qtbot):
    """Item 4: the box showed 5 for a traced 9 and 3 for a traced 4."""
    _tiny_network(window)
    _train(qtbot, window)
    bp, train, s = window.backprop, window.train, window.session
    train.bottom_tabs.setCurrentWidget(train.gallery_page)
    wrong = s.result.mistake(0)
    bp.label_combo.setCurrentIndex((wrong[1] + 5) % 10)          # what the box said before
    assert train.open_misclassified(0, "backprop")
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=5000)
    assert bp.trace.label == wrong[1] == bp.label_combo.currentIndex()
    bp.source.setCurrentIndex(2)                                 # a data set sample …
    bp.sample_spin.setValue(7)                                   # … and another one
    qtbot.waitUntil(lambda: bp.trace is not None and bp.trace.label == int(s.sample_set()[1][7]), timeout=5000)
    assert bp.label_combo.currentIndex() == bp.trace.label
    np.testing.assert_allclose(bp.trace.arrays["input"][0, 0], s.sample_set()[0][7] / 255, atol=1e-6)


def test_5_a_step_with_nothing_to_ask_keeps_nothing_of_the_last_question(window, qtbot):
    """Item 5: predict mode on an update step still showed the last question's "±0.053" and "0.5"."""
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=5000)
    bp.predict_button.setChecked(True)
    number = None
    for k in range(bp.step_count()):
        bp.go(k)
        q = bp.predict.question
        if q is not None and not q.is_choice:
            number = k
            break
    assert number is not None
    assert "±" in bp.predict.answer_label.text()
    bp.predict.answer.setText("0.5")
    update = next(k for k, st in enumerate(bp.trace.steps) if st.kind == "update")
    bp.go(update)
    assert bp.predict.question is None and "Nothing to predict" in bp.predict.prompt.text()
    assert bp.predict.answer.text() == "" and "±" not in bp.predict.answer_label.text()
    assert bp.predict.given.text() == "" and bp.predict.verdict.text() == ""


def test_9_an_offline_download_is_said_whole_in_the_train_tab_with_a_way_out(window, qtbot):
    """Item 9: offline, MNIST → Start said only a status-bar line cut at "(is the comput…", no word of
    IDX files, and the left panel kept the previous result."""
    train = window.train
    window.tabs.setCurrentWidget(train)
    train.eta.setText("Finished: trained 3 epochs. On 900 held-out digits it never trained on, the network now "
                      "answers 882 correctly: 98.0%.")
    train.source.setCurrentIndex(train.source.findData("mnist"))
    real = train.controller.download
    train.controller.download = lambda key, **kw: real(key, mirrors=["http://127.0.0.1:9/"])   # nothing there
    assert not train.start()
    qtbot.waitUntil(lambda: train.dl_thread is None, timeout=20000)
    text = train.eta.text()
    assert "Could not download MNIST" in text and "IDX folder" in text and "Generated digits" in text, text
    assert "882" not in text and not train.download_bar.isVisible()
    assert train.eta.wordWrap() and train.eta.isVisible()


def test_10_predict_and_the_loops_at_1024_by_640_keep_the_window_on_the_screen(window, qtbot):
    """Item 10: Backprop → Predict + L, answer a question: the window grew to 636 px, ran off a 640 px
    screen, the maps shrank to ~80 px and choices 8–9 were hidden; it stayed that size."""
    window.resize(1024, 640)
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=5000)
    bp.predict_button.setChecked(True)
    conv = next(k for k, st in enumerate(bp.trace.steps) if st.kind == "forward" and st.layer_type == "conv")
    for k in range(conv, bp.step_count()):
        bp.go(k)
        if not bp.loops_button.isHidden():
            bp.loops_button.setChecked(True)
        q = bp.predict.question
        if q is None:
            continue
        assert (window.width(), window.height()) == (1024, 640), bp.trace.steps[k].title
        assert window.minimumSizeHint().height() <= 610
        right = str(int(q.answer) + q.first) if q.is_choice else str(q.answer)
        bp.predict.answer.setText(right)
        bp.predict.submit()
        qtbot.waitUntil(lambda: bp.map_stack.isVisible(), timeout=2000)
        assert (window.width(), window.height()) == (1024, 640), bp.trace.steps[k].title
        assert bp.map_stack.height() >= 150                      # the maps keep room to be read
        if q.is_choice:                                          # every choice can be scrolled to
            area = bp.maps.predict_area
            assert area.widget() is bp.predict and q.numbered()[-1] in bp.predict.given.text()
    assert window.minimumSizeHint().height() <= 610


def test_10_worked_examples_at_1024_by_640_leave_room_for_the_formula_and_the_terms(window, qtbot):
    """Item 10: the Learn tab's worked example cut the formula mid-line and showed no row of terms."""
    window.resize(1024, 640)
    window.tabs.setCurrentWidget(window.learn)
    panel = window.learn.ensure()
    panel.tabs.setCurrentIndex(0)
    page = panel.examples.stack.currentWidget()
    qtbot.waitUntil(lambda: page.isVisible() and page.arithmetic.table.isVisible(), timeout=2000)
    lines, table = page.lines, page.arithmetic.table
    assert lines.height() >= 6 * lines.fontMetrics().lineSpacing()           # 5 before
    assert table.height() >= table.horizontalHeader().height() + 2 * 22        # no row before
    assert (window.width(), window.height()) == (1024, 640)


def test_11_the_first_trace_is_of_a_picture_the_network_is_unsure_of(window, qtbot):
    """Item 11: the app's first trace was a digit the network is sure of (loss about 2e-5, every gradient
    about 0)."""
    from cnncore.defaults import trace_example
    bp, s = window.backprop, window.session
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=5000)
    X, y, _ = s.sample_set()
    assert s.trace_picture.index == trace_example(s.network, X, y) and bp.source.currentIndex() == 0
    assert bp.trace.loss > 0.1 and np.abs(bp.trace.arrays["L0.dW"]).max() > 1e-3
    assert bp.trace.label == bp.label_combo.currentIndex()


def test_11_the_app_trains_and_holds_out_the_set_the_command_line_scores(window):
    """Item 11: the app trained 6,000 digits with 0.15 held out, the command line 10,000 with 0.1."""
    from cnncore.datasets import held_out_split, load_source
    from cnncore.defaults import run_defaults
    train = window.train
    train.source.setCurrentIndex(train.source.findData("generated"))
    d = run_defaults("generated")
    assert (train.count.value(), train.holdout.value(), train.epochs.value()) == (d.count, d.holdout, d.epochs)
    X, y, _ = load_source("generated", count=d.count, seed=d.data_seed)
    expected = held_out_split(X, y, d.holdout)
    got = train.make_loader()()
    assert all(np.array_equal(a, b) for a, b in zip(got, expected)) and len(got[2]) == 900


def test_12_the_small_things(window, qtbot, tmp_path):
    """Item 12: the Draw hint that stayed, "1 digits", the 100% cut above the bars at 1024, a kernel box
    that turned 30 into 3 without a word."""
    from cnnapp.widgets.plots import DecadeAxis
    draw = window.draw
    window.resize(1024, 640)
    window.tabs.setCurrentWidget(draw)
    draw.show_example()
    assert draw.hint.text() == draw.EXAMPLE_HINT and draw.canvas.showing_example()
    example = draw.canvas.array()
    stroke(draw.canvas, ONE)
    assert draw.hint.text() == draw.HINT
    # the first stroke wipes the example: a 1 drawn on a first launch is read as a 1, not as the 3 under it
    ink = draw.canvas.array()
    assert not draw.canvas.showing_example() and not np.array_equal(ink, example)
    assert draw.canvas.undo() and draw.canvas.showing_example() and draw.hint.text() == draw.EXAMPLE_HINT
    np.testing.assert_array_equal(draw.canvas.array(), example)
    draw.canvas.clear()
    stroke(draw.canvas, ONE)                              # the same stroke on a clean sheet
    np.testing.assert_array_equal(draw.canvas.array(), ink)
    draw.label_combo.setCurrentIndex(1)
    draw.label_combo.activated.emit(1)                    # (the learner chose it in the box)
    assert draw.add_to_my_digits()
    assert "you now have 1 digit of your own" in window.statusBar().currentMessage()
    draw.probs.set_probabilities(np.eye(10)[4])
    text, vb = draw.probs._text, draw.probs.getPlotItem().vb
    assert vb.sceneBoundingRect().contains(text.mapRectToScene(text.boundingRect()))       # not cut
    # a typed 30 in a box that takes at most 28 is shown, then cut to 28 and said
    window.tabs.setCurrentWidget(window.build)
    t = window.build.editor.table
    col = next(c for c in range(t.columnCount()) if "Kernel" in t.horizontalHeaderItem(c).text())
    box = t.open_cell(t.model().index(0, col))             # the cell's box (Enter, F2 or typing opens it)
    assert isinstance(box, QtWidgets.QSpinBox)
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "30")
    assert box.text() == "30"
    qtbot.keyClick(box, QtCore.Qt.Key_Return)
    assert box.value() == box.maximum() and "30" in window.statusBar().currentMessage()
    # the update plot's log axis: powers of ten only, never a column of 0.01 … 0.006
    axis = window.train.diagnostics.plots["update"].getPlotItem().getAxis("left")
    assert isinstance(axis, DecadeAxis)
    levels = axis.tickValues(np.log10(0.006), np.log10(0.01), 200)
    values = [v for _, vs in levels for v in vs]
    assert len(values) <= 2 and set(axis.tickStrings(values, 1, 1)) <= {"0.006", "0.01", "10⁻²"}
    assert axis.tickStrings([-3.0, -2.0], 1, 1) == ["10⁻³", "10⁻²"]
    assert window.train.diagnostics.plots["grad"].getPlotItem().legend is None       # not over the curves


def test_13_the_draw_tab_names_a_network_in_training_as_such(window, qtbot):
    """During a run the Draw tab said "Network: the starter model … train it on the Train tab to
    make it better" while it answered with the run's weights."""
    s, draw = window.session, window.draw
    assert "starter model" in draw.model_label.text() and "in training" not in draw.model_label.text()
    s.start_run()
    assert "in training on the Train tab" in draw.model_label.text()
    assert "make it better" not in draw.model_label.text()
    s.end_run(done=False, changed_weights=True)
    assert draw.model_label.text().startswith("Network: trained here.")


def test_13_the_train_column_scrolls_on_a_small_screen_instead_of_growing_the_window(window, qtbot):
    """At 1024×640 a folder's notes and a run's words made the window 684 px tall (the screen is 640)
    and it stayed so: the Save and Open buttons and the status bar were off the screen."""
    window.resize(1024, 640)
    window.tabs.setCurrentWidget(window.train)
    controls = window.train.controls
    controls.data.show_notes("Skipped 1 picture that could not be read: red_circle/broken.png: not a PNG, "
                             "JPEG, BMP or WebP picture.")
    controls.data.fit_note.setText("Pictures of any size are scaled so the shorter side fits and cut to "
                                   "the input's size.\nAnother line.\nAnd another.")
    controls.data.fit_note.show()
    controls.eta.setText("Finished: trained 1 epoch (5 batches) in 0.07 s. On 27 held-out images it never "
                         "trained on, the network now answers 10 correctly: 37.0%.")
    qtbot.wait(50)
    assert window.minimumSizeHint().height() <= 610
    assert (window.width(), window.height()) == (1024, 640)
    area = window.findChild(QtWidgets.QScrollArea, "trainControlsScroll")
    assert area.widget() is controls and area.verticalScrollBar().maximum() > 0
    area.ensureWidgetVisible(controls.save_button)
    qtbot.wait(20)
    assert area.viewport().rect().contains(controls.save_button.mapTo(area.viewport(), QtCore.QPoint(2, 2)))
    assert controls.data.notes.isVisibleTo(controls)
    controls.source.setCurrentIndex(controls.source.findData("drawings"))     # another source: the notes go
    assert not controls.data.notes.isVisibleTo(controls) and controls.data.notes.text() == ""


def test_build_edits_not_yet_in_use_are_never_lost_to_another_network(window, qtbot, tmp_path):
    """Opening a model (or training ending) replaced the Build tab's table: edits not yet used were gone."""
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    from cnncore.network import Network
    build = window.build
    window.tabs.setCurrentWidget(build)
    in_use = build.editor.spec()
    build.editor.remove_layer(0)                             # an edit, not used yet
    edits = build.editor.spec()
    assert edits != in_use and not build.back_button.isVisible()
    build._on_network()                                      # the same network again (a run ended): kept in place
    assert build.editor.spec() == edits and not build.back_button.isVisible()
    other = tmp_path / "other.npz"
    save_model(other, Network(preset("tiny"), seed=5))
    window.confirm = lambda text: True
    assert window.open_model(other)
    assert build.editor.spec()["name"] == "tiny" and build.back_button.isVisible()
    assert "Back to my edits" in build.status.text()
    build.editor.remove_layer(0)                             # edits to the new table since
    build.confirm = lambda text: False
    assert not build.back_to_edits() and build.back_button.isVisible()      # asked first: kept
    build.confirm = lambda text: "dropped" in text
    qtbot.mouseClick(build.back_button, QtCore.Qt.LeftButton)
    assert build.editor.spec() == edits and not build.back_button.isVisible() and "Back" not in build.status.text()
    build.confirm = lambda text: True
    assert build.apply() and not build.back_button.isVisible()   # now in use: nothing to go back to
    assert window.session.network.spec["layers"] == edits["layers"]
    build.editor.remove_layer(0)                             # edits, then the Train tab's "Use the cifar preset"
    edits = build.editor.spec()
    assert build.use_preset("cifar") and build.editor.spec()["name"] == "cifar" and build.back_button.isVisible()
    assert build.back_to_edits() and build.editor.spec() == edits
    build.confirm = lambda text: False                       # refused: the edits stay in the table
    window.session.set_network(window.session.network, "trained", trained=True)
    assert not build.use_preset("cifar") and build.editor.spec() == edits
    build.editor.set_spec(window.session.network.spec)       # no edits: refused, the table stays the network's
    chosen = build.preset_combo.currentText()
    assert not build.use_preset("cifar") and build.editor.spec() == build._applied
    assert build.preset_combo.currentText() == chosen
    build.confirm = lambda text: True
    build.editor.remove_layer(0)                             # edits kept by an opened model, then the preset
    edits = build.editor.spec()
    other = tmp_path / "other2.npz"
    save_model(other, Network(preset("tiny"), seed=7))
    assert window.open_model(other) and build.back_button.isVisible()
    assert build.use_preset("cifar") and build.back_button.isVisible()
    assert build.back_to_edits() and build.editor.spec() == edits
    twin = tmp_path / "twin.npz"                             # edits that are the opened network's own
    save_model(twin, Network(preset("tiny"), seed=6))
    build.editor.set_spec(preset("tiny"))
    assert window.open_model(twin) and not build.back_button.isVisible()


def test_the_sample_box_shows_no_number_beside_a_picture_that_is_not_a_sample(window, tmp_path):
    """A greyed "sample 5" stayed beside a picture the learner opened, the number of the last sample."""
    s, bp = window.session, window.backprop
    s.take_sample(5)
    assert bp.input_row.sample_spin.text() == "5"
    from cnnapp.state.picture import Picture
    s.set_picture(Picture("file", np.zeros((1, 28, 28), np.float32), 3, what="mine.png"))
    assert bp.input_row.sample_spin.text() == "—" and not bp.input_row.sample_spin.isEnabled()
    s.take_sample(2)
    assert bp.input_row.sample_spin.text() == "2" and bp.input_row.sample_spin.isEnabled()


def test_the_train_tabs_maps_follow_a_digit_drawn_after_the_network_came(window):
    """With the sheet empty the Train tab drew the maps of a generated 0; a 3 drawn on the Draw tab
    afterwards was not shown there (nor anywhere else as the maps' sample)."""
    s, live = window.session, window.train.live
    before = next(t.data.copy() for t in live.tiles() if t.key == "input")
    ink = np.zeros((280, 280), np.float32)
    ink[60:220, 130:150] = 1                                    # a "1"
    s.drawing.set_ink(ink)
    s.drawing.finish()
    after = next(t.data for t in live.tiles() if t.key == "input")
    assert not np.array_equal(after, before)
    np.testing.assert_allclose(after.reshape(-1), np.asarray(s.drawing.image()).reshape(-1), atol=1e-6)


def test_a_trace_recorded_during_a_run_says_its_weights_are_the_runs_of_then(window, qtbot):
    """A tour: Backprop said "network says 4 (78%), loss 0.2461" (epoch 1's weights) while the Draw tab,
    at epoch 47, said "4, 100% sure": the trace kept the weights of the moment it was recorded."""
    s, bp = window.session, window.backprop
    window.tabs.setCurrentWidget(bp)
    assert bp.record() and not s.trace_during_run and "during the run" not in bp.input_row.info.text()
    s.run.start()                                   # (a run's phase: the snapshot is the network here)
    try:
        assert s.training and bp.record()
        assert s.trace_during_run and "recorded during the run, with the weights it had then" in bp.input_row.info.text()
    finally:
        s.run.finish()
    assert bp.record() and "during the run" not in bp.input_row.info.text()
