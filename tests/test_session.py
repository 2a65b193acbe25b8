"""The session (cnnapp.state.Session): one object without Qt holding what every tab shows, tested
without a display (tests/test_app_state.py checks that the package imports no Qt)."""
from pathlib import Path

import numpy as np
import pytest

from cnnapp.state import DRAWING, FILE, MISTAKE, SAMPLE, SKETCH, Picture, RunResult, Session

ROOT = Path(__file__).resolve().parents[1]
TINY = {"input": [1, 28, 28], "layers": [
    {"type": "conv", "filters": 2, "kernel": 5, "stride": 3, "activation": "relu"},
    {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "none"}]}


def _net(seed=0, spec=TINY):
    from cnncore.network import Network
    return Network(spec, seed=seed)


def _events(session):
    """Every event the session fires, in order, as ``(name, args)``."""
    seen = []
    for name in ("model_changed", "weights_changed", "training_changed", "result_changed", "picture_changed",
                 "trace_changed"):
        getattr(session, name).connect(lambda *a, name=name: seen.append((name, a)))
    return seen


def _names(seen):
    return [n for n, _ in seen]


def _result(session, n=20, wrong=(1, 4, 7), epoch=1, final=False):
    from cnncore.training import Evaluation
    rng = np.random.default_rng(0)
    images = (rng.random((n, 28, 28)) * 255).astype(np.uint8)
    labels = rng.integers(0, 10, n)
    wrong = np.asarray(wrong)
    predicted = (labels[wrong] + 1) % 10
    confusion = np.zeros((10, 10), np.int64)
    answers = labels.copy()
    answers[wrong] = predicted
    np.add.at(confusion, (labels, answers), 1)
    ev = Evaluation(0.5, 1 - len(wrong) / n, confusion, wrong, predicted)
    return session.result_of(ev, images, labels, epoch, final)


def test_the_model_says_what_it_takes_and_its_classes():
    s = Session()
    assert s.network is None and s.input_shape is None and s.view_network() is None
    net = _net()
    s.set_network(net, "a test", trained=False)
    assert s.input_shape == (1, 28, 28) and len(s.classes) == 10 and s.class_kind == "digit"
    net.learns([f"c{k}" for k in range(10)], "Toys")
    assert s.classes[3] == "c3" and s.class_kind == "class" and s.other_dataset == "Toys" and s.a_class(3) == "c3"


def test_one_answer_to_is_a_run_going_on_and_the_copy_the_window_runs():
    s = Session()
    seen = _events(s)
    with pytest.raises(RuntimeError):
        s.start_run()                              # no network
    net = _net()
    s.set_network(net, "a test", trained=False)
    seen.clear()
    s.start_run()
    assert s.training and s.run.active and s.view_network() is not net
    assert np.array_equal(s.view_network().flat_params, net.flat_params)
    s.run.pause()
    s.run.resume()                                 # pausing is no new answer to "is a run going on"
    assert _names(seen) == ["training_changed"] and seen[0][1] == (True,)
    with pytest.raises(RuntimeError):
        s.set_network(_net(1), "another", trained=False)     # the run owns the network
    snap = _net(5)
    s.set_snapshot(snap)
    assert s.view_network() is snap and _names(seen)[-1] == "weights_changed"
    s.end_run(done=False, changed_weights=True)
    assert not s.training and s.view_network() is net and s.trained and s.unsaved
    assert _names(seen)[-2:] == ["training_changed", "weights_changed"] and seen[-2][1] == (False,)
    s.set_snapshot(_net(6))                        # a late snapshot after the end changes nothing
    assert s.view_network() is net


def test_opening_another_model_clears_what_belonged_to_the_old_one():
    """Issue 21, item 1: after File → Open model the old run's result, mistakes and trace are gone; a
    picture that was the old model's mistake says so."""
    s = Session()
    s.set_network(_net(0), "first", trained=True)
    r = _result(s)
    s.set_result(r)
    assert s.result is r
    mistake = s.take_mistake(1)
    assert mistake.origin == MISTAKE and mistake.label == int(r.labels[4]) and "got wrong" in mistake.what
    s.record()
    assert s.trace is not None and s.stepper.count == len(s.trace.steps)
    seen = _events(s)
    s.set_network(_net(1), "opened from b.npz", trained=True)
    assert s.result is None and s.trace is None and s.stepper.count == 0
    assert s.picture.origin == MISTAKE and "previous network got wrong" in s.picture.what
    assert np.array_equal(s.picture.image, mistake.image) and s.picture.label == mistake.label
    assert _names(seen) == ["result_changed", "trace_changed", "picture_changed", "model_changed"]
    s.set_result(r)                               # a result made for the old model is never shown
    assert s.result is None
    assert s.source == "opened from b.npz" and not s.unsaved and s.model_id == 2


def test_a_result_keeps_its_images_and_its_mistakes_together():
    s = Session()
    s.set_network(_net(), "t", trained=True)
    r = _result(s, wrong=(2, 5))
    assert r.mistakes == 2 and r.evaluation.right == 18
    img, true, answer, i = r.mistake(1)
    assert i == 5 and img.shape == (1, 28, 28) and img.dtype == np.float32 and img.max() <= 1
    assert true == int(r.labels[5]) and answer == (true + 1) % 10
    from cnncore.training import Evaluation
    with pytest.raises(ValueError):
        RunResult(r.evaluation, r.images[:3], r.labels, 1, False, s.model_id)
    assert s.result_of(None, r.images, r.labels, 1, True) is None
    seen = _events(s)
    s.set_result(r)
    s.set_result(r)                                # no change, no event
    assert _names(seen) == ["result_changed"]
    assert isinstance(r.evaluation, Evaluation)


def test_pictures_validate_and_copy_their_pixels():
    img = np.zeros((28, 28))
    p = Picture(SAMPLE, img, 3, index=2)
    img[0, 0] = 1
    assert p.image.shape == (1, 28, 28) and p.image[0, 0, 0] == 0 and not p.image.flags.writeable
    assert p.what == "a data set sample" and p.with_label(5).label == 5 and p.label == 3
    for bad in (dict(origin="camera", image=img), dict(origin=SAMPLE, image=np.zeros(5)),
                dict(origin=SAMPLE, image=np.full((28, 28), np.nan)), dict(origin=SAMPLE, image=img, label=-1),
                dict(origin=SAMPLE, image=img, label=2.5)):
        with pytest.raises(ValueError):
            Picture(**bad)


def test_a_picture_must_fit_the_network_and_its_classes():
    s = Session()
    s.set_network(_net(), "t", trained=False)
    with pytest.raises(ValueError, match="1 × 28 × 28"):
        s.set_picture(Picture(SAMPLE, np.zeros((32, 32)), 1))
    with pytest.raises(ValueError, match="10 classes"):
        s.set_picture(Picture(SAMPLE, np.zeros((28, 28)), 12))
    s.set_picture(Picture(FILE, np.zeros((32, 32)), 1))          # a trace file's input, shown as it is
    assert s.picture.origin == FILE
    with pytest.raises(ValueError, match="28"):
        s.record()                                               # but this network cannot trace it


def test_the_default_picture_is_the_one_the_network_is_least_sure_of():
    """Issue 21, item 11: the first trace is of a picture the network gets wrong or is unsure of."""
    from cnncore.defaults import trace_example
    s = Session()
    net = _net(3)
    s.set_network(net, "t", trained=True)
    p = s.ensure_picture()
    X, y, _ = s.sample_set()
    probs = net.predict_proba(X[:100, None] / 255.0)[np.arange(100), y[:100]]
    assert p.origin == SAMPLE and p.picked and p.index == int(np.argmin(probs)) == trace_example(net, X, y)
    assert p.label == int(y[p.index]) and "least sure" in p.what
    tr = s.record()
    assert tr.label == p.label and s.trace_picture is p
    assert tr.probs[tr.label] == pytest.approx(probs.min(), rel=1e-5)
    s.set_network(_net(4), "another", trained=False)             # a picked picture is picked again
    assert s.picture is None


def test_a_class_the_learner_gives_to_the_apps_pick_makes_the_picture_theirs():
    """A sample the app picked, given another true class by the learner, is the learner's: a run that
    changes the weights and keeps the sample set keeps it (and its class) instead of picking again, and
    its words no longer say why the app picked it. (A run that brings a new held-out set gives the
    learner's number the new set's picture and class: another picture.)"""
    s = Session()
    s.set_network(_net(3), "t", trained=True)
    p = s.ensure_picture()
    assert p.picked and "least sure" in p.what
    other = (p.label + 1) % len(s.classes)
    s.set_label(other)
    q = s.picture
    assert q.label == other and q.index == p.index and not q.picked
    assert "least sure" not in q.what and q.what.startswith(f"sample {p.index} of the ")
    s.start_run()
    s.network.flat_params[:] *= 0.5
    s.end_run(done=True, changed_weights=True)
    assert s.picture.index == p.index and s.picture.label == other and not s.picture.picked


def test_the_true_class_box_and_the_trace_can_never_disagree():
    """Issue 21, item 4: the trace is always of the picture with its true class; a new class or a new
    picture drops the trace of the old one."""
    s = Session()
    s.set_network(_net(), "t", trained=True)
    s.take_sample(3)
    tr = s.record()
    assert tr.label == s.picture.label
    seen = _events(s)
    s.set_label((tr.label + 4) % 10)
    assert s.trace is None and s.picture.label == (tr.label + 4) % 10
    assert _names(seen) == ["trace_changed", "picture_changed"]
    tr = s.record()
    assert tr.label == s.picture.label
    np.testing.assert_array_equal(tr.arrays["input"][0], s.picture.image)
    s.take_sample(4)
    assert s.trace is None
    with pytest.raises(ValueError):
        s.set_label(10)


def test_the_drawing_is_one_picture_with_one_true_digit():
    """The Draw tab's digit is the drawing's true digit on the Backprop tab too, both ways."""
    s = Session()
    s.set_network(_net(), "t", trained=True)
    with pytest.raises(ValueError, match="empty"):
        s.take_drawing()
    ink = np.zeros((280, 280), np.float32)
    ink[60:220, 130:150] = 1.0                      # a "1"
    s.drawing.set_ink(ink)
    s.drawing.suggest_label(1)
    p = s.take_drawing()
    assert p.origin == DRAWING and p.label is None        # (the network's guess is no true digit)
    s.set_label(7)                                  # said on the Backprop tab: chosen on the Draw tab too
    assert s.drawing.label == 7 and s.drawing.label_chosen and s.picture.label == 7
    s.drawing.choose_label(4)                       # said on the Draw tab
    assert s.picture.label == 4
    ink2 = ink.copy()
    ink2[60:80, 100:180] = 1.0                      # a "7"-ish stroke more; the stroke ends
    s.drawing.set_ink(ink2)
    s.drawing.finish()
    assert s.picture.origin == DRAWING and not np.array_equal(s.picture.image, p.image)
    s.take_sample(0)
    s.drawing.finish()                              # a sample no longer follows the drawing
    assert s.picture.origin == SAMPLE


def test_a_drawing_nobody_labelled_has_no_true_digit():
    """A tour: an X scribbled on the Draw tab, its digit box left at the network's guess (4), was "true
    digit 4" on the Backprop tab and "(it is 4)" on the Look tab: the network's own answer called the
    truth. Until the learner chooses its digit a drawing has none (a trace's loss takes the answer and
    says so); once chosen, even the digit the network guessed, it is the drawing's."""
    s = Session()
    s.set_network(_net(), "t", trained=True)
    ink = np.zeros((280, 280), np.float32)
    ink[40:240, 40:60] = ink[40:60, 40:240] = 1.0
    s.drawing.set_ink(ink)
    s.drawing.suggest_label(4)                      # what the Draw tab does with the network's answer
    p = s.take_drawing()
    assert s.drawing.label == 4 and p.label is None
    assert s.true_label() == int(np.argmax(s.network.predict_proba(p.image[None])[0]))
    s.drawing.choose_label(4)                       # the learner says it: the same digit, now true
    assert s.picture.origin == DRAWING and s.picture.label == 4
    s.drawing.set_ink(np.zeros((280, 280), np.float32))      # wiped, and drawn again
    s.drawing.set_ink(ink)
    s.drawing.suggest_label(2)
    s.drawing.finish()
    assert s.picture.origin == DRAWING and s.picture.label is None


def test_a_drawing_wiped_and_drawn_again_or_undone_is_looked_at_again():
    """A tour: Clear, then Undo, brought the drawing back on the sheet while the Backprop tab stayed on a
    sample picked for it; so did a new digit drawn after Clear."""
    s = Session()
    s.set_network(_net(), "t", trained=True)
    ink = np.zeros((280, 280), np.float32)
    ink[60:220, 130:150] = 1.0
    s.drawing.set_ink(ink)
    s.take_drawing()
    s.drawing.set_ink(np.zeros_like(ink))             # Clear
    assert s.picture is None
    s.set_picture(Picture(SAMPLE, np.zeros((28, 28)), 3, index=3, picked=True))     # picked to record
    s.drawing.set_ink(ink)                            # Undo (or a new digit), and its stroke ends
    s.drawing.finish()
    assert s.picture.origin == DRAWING
    s.drawing.set_ink(np.zeros_like(ink))
    s.take_sample(0)                                  # a sample chosen after Clear: the next drawing waits
    s.drawing.set_ink(ink)
    s.drawing.finish()
    assert s.picture.origin == SAMPLE


def test_a_sketch_without_a_label_takes_the_networks_answer():
    s = Session()
    net = _net(2)
    s.set_network(net, "t", trained=True)
    from cnncore.datasets import generated_digits
    X, _ = generated_digits(1, seed=4)
    s.set_picture(Picture(SKETCH, X[0] / 255.0, None, what="drawn on the Look tab"))
    answer = int(np.argmax(net.predict_proba(X[:1, None] / 255.0)[0]))
    assert s.true_label() == answer and s.record().label == answer


def test_an_opened_trace_file_is_its_own_picture():
    s = Session()
    s.set_network(_net(), "t", trained=True)
    s.take_sample(2)
    tr = s.record()
    seen = _events(s)
    s.open_trace(tr, "t.npz")
    assert s.picture.origin == FILE and s.picture.label == tr.label and s.trace is tr
    assert s.trace_picture is s.picture and "t.npz" in s.picture.what
    assert _names(seen) == ["trace_changed", "picture_changed"]


def test_sample_set_prefers_the_data_the_train_tab_loaded():
    from cnncore.architecture import DIGIT_CLASSES
    s = Session()
    X, y, name = s.sample_set()
    assert name == "generated digits" and len(X) == 100
    s.set_network(_net(), "t", trained=False)
    changed = []
    s.samples.changed.connect(lambda: changed.append(1))
    s.samples.keep_held_out(np.zeros((5, 28, 28), np.uint8), np.arange(5), DIGIT_CLASSES, "my set")
    assert changed and s.sample_set()[2] == "held-out pictures of my set"
    p = s.take_sample(7)                            # wraps around the set
    assert p.index == 2 and p.label == 2 and "my set" in p.what and p.shape == (1, 28, 28)
    s.samples.keep_held_out(np.zeros((5, 28, 28), np.uint8), np.arange(5), ("a", "b"), "other classes")
    assert s.sample_set()[2] == "generated digits"  # pictures of classes the network does not know: not its samples


def test_messages_go_to_whoever_listens():
    s = Session()
    said = []
    s.message.connect(lambda text, ms: said.append((text, ms)))
    s.say("hello", 0)
    assert said == [("hello", 0)]


def test_no_view_module_is_longer_than_a_newcomer_can_hold():
    """Issue 21: TrainView (833 lines) and BackpropView (853) became panels; no view module is over 450."""
    long = {p.name: n for p in (ROOT / "cnnapp" / "views").glob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450}
    assert not long, long


def test_one_answer_to_is_a_run_going_on_in_the_app():
    """``AppState.training``, ``TrainingRun.phase`` and ``TrainView.thread`` each answered it; now only the
    session's run does (no view or window keeps a flag of its own)."""
    import re
    for p in list((ROOT / "cnnapp" / "views").glob("*.py")) + [ROOT / "cnnapp" / "main_window.py"]:
        text = p.read_text(encoding="utf-8")
        assert not re.search(r"self\.(training|_training|thread)\s*=", text), p.name
    assert not (ROOT / "cnnapp" / "views" / "state.py").exists()


def test_the_learn_tab_checks_the_trace_or_else_the_picture():
    """The gradient check runs on the one picture of the window: the trace's input while the trace is
    of this network, else the picture (picked when none is chosen)."""
    s = Session()
    s.set_network(_net(), "t", trained=True)
    image, label, what = s.checked_input()
    assert s.picture.picked and np.array_equal(image, s.picture.image) and label == s.picture.label
    s.take_sample(5)
    tr = s.record()
    image, label, what = s.checked_input()
    assert label == tr.label and np.array_equal(image, tr.arrays["input"][0]) and "Backprop" in what
    s.open_trace(__import__("cnncore.trace", fromlist=["trace"]).trace(_net(0, TINY | {"input": [1, 20, 20]}),
                                                                       np.zeros((20, 20)), 3), "other.npz")
    with pytest.raises(ValueError):
        s.checked_input()          # a trace of another network, of a picture this one cannot take


def test_the_learners_answers_go_through_the_settings_store_and_come_back(tmp_path):
    """Issue 21: predict mode's score and the concept checks' progress are the session's, kept as plain
    values of the settings store: every value written comes back, nothing of it is refused."""
    from cnncore.predict import Score

    from cnnapp.state.settings_store import SettingsStore
    s = Session()
    seen = []
    s.scores.changed.connect(lambda: seen.append(1))
    s.scores.record_prediction("dz1", True)
    s.scores.record_prediction("dz1", False)
    s.scores.record_prediction("sign", True)
    s.scores.answer_quiz("step-loss", True, [1])
    s.scores.answer_quiz("step-loss", False, [0])             # once right, a question stays right
    s.scores.answer_quiz("conv/select all", False, [0, 2])    # any character in an id
    assert len(seen) == 6 and s.scores.quiz_status("step-loss") == "correct"
    store = SettingsStore(tmp_path)
    s.scores.write(store)                                      # the store refuses what is not plain
    assert store.save()
    again = Session()
    again.scores.read(SettingsStore.open(tmp_path))
    assert again.scores.predict.to_dict() == {"dz1": [1, 2], "sign": [1, 1]}
    assert again.scores.quiz_status("step-loss") == "correct" and again.scores.quiz_choice("step-loss") == [0]
    assert again.scores.quiz_status("conv/select all") == "wrong"
    assert again.scores.quiz_choice("conv/select all") == [0, 2]
    assert again.scores.quiz_status("never asked") is None and again.scores.quiz_choice("never asked") == []
    damaged = SettingsStore(tmp_path, {"backprop": {"predict_score": {"dz1": [5, 2], "sign": [1, 1]}},
                                       "learn": {"quiz": {"a": {"status": "maybe"}, "b": "x",
                                                          "c": {"status": "wrong", "choice": [-1]},
                                                          "d": {"status": "wrong", "choice": [3]}}}})
    again.scores.read(damaged)                                 # what is not one is left out
    assert again.scores.predict.to_dict() == {"sign": [1, 1]}
    assert [again.scores.quiz_status(q) for q in "abcd"] == [None, None, None, "wrong"]
    again.scores.reset_quiz()
    again.scores.set_predict(Score())
    again.scores.write(damaged)
    assert damaged.group("learn/quiz") == {} and damaged.get("backprop/predict_score", None, dict) == {}
    with pytest.raises(TypeError):
        again.scores.set_predict({"dz1": [1, 1]})


def test_a_picture_of_one_s_own_is_fitted_by_the_network_s_rule_and_looked_at(tmp_path):
    """Issue 23: Open a picture… (a file or the clipboard's bytes) for any network, its rule asked of cnncore."""
    from PIL import Image

    from cnncore.architecture import preset
    from cnncore.datasets.pictures import fitted_input, picture_input
    from cnncore.network import Network
    s = Session()
    with pytest.raises(ValueError, match="no network"):
        s.take_opened(lambda sig: None, "x")
    s.set_network(Network(preset("cifar"), seed=0), "colour", trained=False)
    path = tmp_path / "cat.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(path)
    seen = []
    s.picture_changed.connect(seen.append)
    p = s.take_opened(lambda sig: fitted_input(path, sig), "the picture cat.png")
    assert p.origin == "opened" and p.label is None and p.shape == (3, 32, 32) and seen == [p] and s.picture is p
    assert p.told == "the picture cat.png: the middle 50×50 of its 70×50 pixels, scaled down to 32×32"
    np.testing.assert_array_equal(p.image, picture_input(path, s.network.signature))
    assert s.true_label(p) == int(np.argmax(s.network.predict_proba(p.image[None])[0]))   # the loss takes its answer
    (tmp_path / "bad.png").write_bytes(b"no")
    with pytest.raises(ValueError, match="bad.png"):
        s.take_opened(lambda sig: fitted_input(tmp_path / "bad.png", sig), "the picture bad.png")
    assert s.picture is p


def test_a_trace_of_weights_a_run_replaced_is_dropped_for_a_new_one():
    """The Backprop tab showed, after training, the pass recorded before it: the old loss, and "this
    network keeps no optimizer state" under the update of a network just trained with Adam. A run that
    made updates ends with the trace dropped (the tab records the picture again), and so does putting
    back the weights the run started from; a run that made none keeps it. The picture the app picked is
    picked again by the new weights ("the one it gets wrong or is least sure of" stays true)."""
    from cnncore.defaults import trace_example
    s = Session()
    s.set_network(_net(0), "a test", trained=False)
    picture = s.ensure_picture()
    X, y, _ = s.sample_set()
    s.record()
    kept = s.trace
    s.start_run()
    s.end_run(done=False, changed_weights=False)             # stopped before its first update
    assert s.trace is kept and s.picture is picture
    s.start_run()
    seen = _events(s)
    rng = np.random.default_rng(0)
    for _ in range(50):                     # new weights that pick another sample
        s.network.flat_params[:] += rng.standard_normal(s.network.flat_params.shape).astype(np.float32) * 0.3
        if trace_example(s.network, X, y) != picture.index:
            break
    now = trace_example(s.network, X, y)
    assert now != picture.index
    s.end_run(done=True, changed_weights=True)
    assert s.trace is None and s.stepper.count == 0 and s.picture.picked and s.picture.index == now
    assert _names(seen)[-3:] == ["weights_changed", "trace_changed", "picture_changed"] and seen[-2][1] == (None,)
    tr = s.record()
    assert tr.loss != kept.loss                                # recorded with the weights there are now
    seen.clear()
    s.restore_start()                                          # the weights the run started from
    assert s.trace is None and _names(seen) == ["weights_changed", "trace_changed", "picture_changed"]
    assert s.picture.index == picture.index                    # picked by those weights again
    assert s.record().loss == pytest.approx(kept.loss, rel=1e-6)


def test_a_sample_of_a_run_the_next_run_replaced_is_taken_from_the_new_one():
    """A tour found the Backprop tab tracing "sample 29 of the held-out pictures of the last run" after a
    second run: the first run's 29, while the box's 29 was another picture. New held-out pictures take
    the learner's sample number from the new set, and the app's pick is picked again from it."""
    from cnncore.defaults import trace_example
    s = Session()
    s.set_network(_net(0), "a test", trained=False)
    rng = np.random.default_rng(4)
    first = (rng.integers(0, 256, (40, 28, 28)).astype(np.uint8), rng.integers(0, 10, 40))
    second = (rng.integers(0, 256, (30, 28, 28)).astype(np.uint8), rng.integers(0, 10, 30))
    s.samples.keep_held_out(*first, s.network.classes, "")
    p = s.take_sample(29)
    np.testing.assert_array_equal(p.image[0], first[0][29] / np.float32(255))
    s.samples.keep_held_out(*second, s.network.classes, "")
    assert s.picture is not p and s.picture.index == 29 and not s.picture.picked
    np.testing.assert_array_equal(s.picture.image[0], second[0][29] / np.float32(255))
    s.samples.keep_held_out(*first, s.network.classes, "")
    s.set_picture(None)
    picked = s.ensure_picture()
    assert picked.picked and picked.index == trace_example(s.network, *first)
    s.samples.keep_held_out(*second, s.network.classes, "")
    assert s.picture.picked and s.picture.index == trace_example(s.network, *second)
    assert "gets wrong or is least sure of" in s.picture.what
    np.testing.assert_array_equal(s.picture.image[0], second[0][s.picture.index] / np.float32(255))


def test_a_run_that_made_no_update_is_no_start_to_go_back_to():
    """A start that could not begin (or stopped before its first batch) moved no weight from where it
    started: "the same start" is the last run's that made updates, or none."""
    s = Session()
    s.set_network(_net(0), "a test", trained=False)
    s.start_run(3)
    assert s.same_start().seed == 3                            # (while it runs: its own)
    s.end_run(done=False, changed_weights=False)
    assert s.same_start() is None
    s.start_run(4)
    first = s.same_start()
    s.network.flat_params[:] += 0.1
    s.end_run(done=True, changed_weights=True)
    assert s.same_start() is first
    s.start_run(5)
    s.end_run(done=False, changed_weights=False)
    assert s.same_start() is first and s.restore_start().seed == 4


def test_a_blank_picture_is_refused_for_a_digit_network_as_the_command_line_refuses_it(tmp_path):
    """Open a picture… of white paper (or a white digit on a transparent sheet, laid on white) traced an
    empty input for a digit network, whose answer means nothing; `cnnapp predict` refused it. The
    reader refuses it for both."""
    from PIL import Image

    from cnncore.architecture import preset
    from cnncore.datasets.pictures import fitted_input
    from cnncore.network import Network
    s = Session()
    s.set_network(Network(preset("tiny"), seed=0), "digits", trained=False)
    Image.new("RGBA", (60, 60), (255, 255, 255, 0)).save(tmp_path / "white.png")
    with pytest.raises(ValueError, match="white.png: the picture is blank \\(nothing drawn on it\\), so there is no "
                                         "digit to read"):
        s.take_opened(lambda sig: fitted_input(tmp_path / "white.png", sig), "the picture white.png")
    assert s.picture is None
