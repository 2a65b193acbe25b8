"""Predict mode in the Backprop tab: keyboard only, judged against the trace, score kept."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

pytest.importorskip("pytestqt")
from test_gui_app import _no_leaked_windows, _private_dirs  # noqa: E402,F401 - a score is saved at each answer

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]


@pytest.fixture
def bp(qtbot):
    from cnnapp.main_window import MainWindow
    w = MainWindow(load_settings=False)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    w.tabs.setCurrentWidget(w.backprop)
    view = w.backprop
    view.source.setCurrentIndex(2)
    view.sample_spin.setValue(3)
    assert view.record()
    yield view
    w.train.shutdown()


def _to_question(bp, qtbot, kind_of_step="backward"):
    bp.predict_button.setChecked(True)
    k = next(k for k, s in enumerate(bp.trace.steps) if s.kind == kind_of_step and s.layer_type == "conv")
    bp.go(k)
    assert bp.predict.question is not None
    return bp.predict.question


def _type(qtbot, bp, text):
    bp.predict.answer.clear()
    qtbot.keyClicks(bp.predict.answer, text)
    qtbot.keyClick(bp.predict.answer, QtCore.Qt.Key_Return)


def test_a_right_answer_reveals_the_maps_and_its_arithmetic(bp, qtbot):
    q = _to_question(bp, qtbot)
    assert not bp.map_stack.isVisible() and bp.predict.isVisible()
    right = str(q.answer) if not q.is_choice else str(int(q.answer) + q.first)
    _type(qtbot, bp, right)
    assert bp.map_stack.isVisible()
    assert bp.predict.verdict.text().startswith("Right")
    assert bp.predict.score.to_dict()[q.kind] == [1, 1]
    assert bp.arithmetic.title.text()          # the breakdown of the element asked about


def test_a_wrong_answer_says_the_value_and_counts(bp, qtbot):
    q = _to_question(bp, qtbot)
    if q.is_choice:
        wrong = str((int(q.answer) + 1) % len(q.choices) + q.first)
    else:
        wrong = str(q.answer + 3 * q.tolerance + 1)
    _type(qtbot, bp, wrong)
    assert bp.predict.verdict.text().startswith("Not quite")
    assert bp.predict.score.to_dict()[q.kind] == [0, 1]
    assert bp.map_stack.isVisible()


def test_not_a_number_is_not_counted(bp, qtbot):
    q = _to_question(bp, qtbot)
    _type(qtbot, bp, "hello")
    assert not bp.map_stack.isVisible() and q.kind not in bp.predict.score.to_dict()
    assert "Type" in bp.predict.verdict.text() or "Choose" in bp.predict.verdict.text()


def test_the_score_is_the_sessions_and_saved_in_the_store_at_each_answer(bp, qtbot):
    from cnnapp import settings as st
    from cnnapp.state.settings_store import SettingsStore
    q = _to_question(bp, qtbot)
    _type(qtbot, bp, str(q.answer) if not q.is_choice else str(int(q.answer) + q.first))
    scores = bp.session.scores
    assert bp.predict.score is scores.predict and scores.predict.to_dict() == {q.kind: [1, 1]}
    on_disk = SettingsStore.open(st.config_folder())             # the file, read anew: saved already
    assert on_disk.get("backprop/predict_score", {}, dict) == {q.kind: [1, 1]}   # plain values
    assert "predict_score" not in bp.settings_dict()              # one home: the session's scores
    store = SettingsStore(st.config_folder(), {"backprop": {"predict_score": {"dz1": [2, 5]}}})
    scores.read(store)
    assert bp.predict.score.to_dict() == {"dz1": [2, 5]}
    for damaged in ("{not json", "[" * 1000, {"dz1": [5, 2]}, {"dz1": "x"}, [1, 2], None):
        scores.read(SettingsStore(st.config_folder(), {"backprop": {"predict_score": damaged}}))
        assert bp.predict.score.to_dict() == {}, damaged         # starts again from nothing


def test_predict_off_shows_the_maps(bp, qtbot):
    _to_question(bp, qtbot)
    bp.predict_button.setChecked(False)
    assert bp.map_stack.isVisible() and not bp.predict.isVisible()


def test_colour_blind_safe_scale_is_a_setting(bp, qtbot):
    from cnnapp.widgets import heatmap
    try:
        k = next(k for k, s in enumerate(bp.trace.steps) if s.kind == "backward" and s.layer_type == "conv")
        bp.go(k)
        signed = [it for it in bp.grid.map_items() if it.lut is not None and np.array_equal(it.lut, heatmap.DIV_LUT)]
        assert signed and "blue–white–red" in bp.legend.text()
        bp.colours.setCurrentIndex(1)
        safe = heatmap.DIVERGING_SCALES["purple-white-orange"][1]
        assert any(np.array_equal(it.lut, safe) for it in bp.grid.map_items())
        assert not any(np.array_equal(it.lut, heatmap.DIV_LUT) for it in bp.grid.map_items())
        assert "purple–white–orange (colour-blind safe)" in bp.legend.text()
        assert bp.settings_dict()["colours"] == "purple-white-orange"
        bp.apply_settings({"colours": "rainbow"})                  # not a scale: nothing changes
        assert heatmap.diverging_name() == "purple-white-orange"
        bp.apply_settings({"colours": "blue-white-red"})
        assert bp.colours.currentIndex() == 0 and heatmap.diverging_name() == "blue-white-red"
        with pytest.raises(ValueError):
            heatmap.set_diverging("rainbow")
    finally:
        heatmap.set_diverging("blue-white-red")


def test_a_network_trained_here_shows_its_own_adam_step(bp, qtbot):
    """The Backprop tab's update step is the trainer's optimizer, resumed from the state it left."""
    from cnncore.datasets import generated_digits
    from cnncore.training import TrainConfig, Trainer
    net = bp.session.network
    X, y = generated_digits(64, seed=2)
    for _ in Trainer(net, X, y, config=TrainConfig(epochs=1, batch_size=32, augment=0)).run():
        pass
    bp.session.set_network(net, "trained here", trained=True)
    assert bp.record()
    st = next(s for s in bp.trace.steps if s.kind == "update")
    assert bp.trace.settings["name"] == "adam" and bp.trace.settings["step"] == 2
    bp.go(bp.trace.steps.index(st))
    assert "Adam" in bp.explanation.text() and "β1" in bp.equation.text()
    assert any(g.key.endswith(".vW") for g in bp.groups_for(st))
    bp._on_click(f"L{st.layer}.W_next", (0, 0, 0, 0))
    assert "new w" in bp.arithmetic.title.text()


def test_number_grids_follow_the_colour_scale(qtbot):
    from cnnapp.learn.grids import _tint
    from cnnapp.widgets import heatmap
    try:
        assert _tint(0.0, 1.0).getRgb()[:3] == (255, 255, 255)
        red = _tint(1.0, 1.0).getRgb()[:3]
        assert red[0] > red[2]                               # positive: reddish on blue–white–red
        heatmap.set_diverging("purple-white-orange")
        orange = _tint(1.0, 1.0).getRgb()[:3]
        purple = _tint(-1.0, 1.0).getRgb()[:3]
        assert orange != red and orange[0] > orange[2] and purple[2] > purple[1]
    finally:
        heatmap.set_diverging("blue-white-red")
