"""Issue 25's state in the app, without Qt: the teacher's LessonRecorder, the student's LessonPlayer, the
element selected on a step, the same start again, the zoom (each tested on a Session, no display)."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from cnncore.architecture import preset
from cnncore.lesson import (ChoiceQuestion, Element, LessonFileError, PredictQuestion, Stop,
                            new_lesson, save_lesson)
from cnncore.modelio import save_model
from cnncore.network import Network
from cnncore.trace import trace
from cnnapp.state import LessonPlayer, LessonRecorder, Session, results_path_for
from cnnapp.state.lesson_recorder import choice_lines, choice_question
from cnnapp.state.zoom import LEVELS, Zoom


def _session(seed=1) -> Session:
    s = Session()
    s.set_network(Network(preset("lenet"), seed=seed), "LeNet", trained=False)
    s.take_sample(3)
    s.record()
    return s


def _loss_step(s) -> int:
    return next(k for k, st in enumerate(s.trace.steps) if st.kind == "loss")


# ----------------------------------------------------------------------------- the element

def test_the_selected_element_is_the_sessions_checked_and_dropped_with_its_step():
    s = _session()
    seen = []
    s.element_changed.connect(seen.append)
    s.select_element("L0.z", (0, 2, 3, 4))
    assert s.element == ("L0.z", (0, 2, 3, 4)) and seen == [("L0.z", (0, 2, 3, 4))]
    s.select_element("L0.z", [0, 2, 3, 4])                    # the same: no event
    assert len(seen) == 1
    for key, index in (("L0.z", (0, 8, 0, 0)), ("L0.z", (0, 0, 0)), ("L9.z", (0,)), ("probs", (0, -1))):
        with pytest.raises(ValueError, match="the trace has no element"):
            s.select_element(key, index)
    assert s.element == ("L0.z", (0, 2, 3, 4))
    s.stepper.index = 2                                       # another step: nothing selected
    assert s.element is None and seen[-1] is None
    s.select_element("probs", (0, 1))
    s.record()                                                # another trace
    assert s.element is None


# ----------------------------------------------------------------------------- the teacher

def test_a_recorder_captures_what_the_session_shows_and_keeps_one_network(tmp_path):
    s = _session()
    rec = LessonRecorder(s, "Softmax")
    assert rec.capture("backprop") == 0 and rec.stops[0] == Stop("backprop", 0, 0)
    loss = _loss_step(s)
    s.stepper.index = loss
    label = int(s.trace.label)
    s.select_element("probs", (0, label))
    k = rec.capture("backprop")
    assert rec.stops[k].element == Element("probs", (0, label)) and rec.stops[k].step == loss
    assert rec.predict_kinds(k) == [("softmax", "a softmax output")]
    s.stepper.index = 0
    s.take_sample(7)                                          # another picture: a second one in the lesson
    s.record()
    assert rec.capture("look") == 2 and rec.stops[2].picture == 1 and rec.stops[2].element is None
    s.network.params()["L0.W"][0, 0, 0, 0] += 1               # the network changed (a run went on)
    with pytest.raises(ValueError, match="the network changed since the first stop"):
        rec.capture("backprop")
    with pytest.raises(ValueError, match="a stop's tab is one of"):
        rec.capture("nowhere")
    assert len(rec.stops) == 3
    lesson = rec.lesson()
    assert lesson.pictures.shape == (2, 1, 28, 28) and list(lesson.labels) == [int(s.sample_set()[1][3]),
                                                                                 int(s.sample_set()[1][7])]
    assert lesson.source.key == "generated" and lesson.source.indices == (3, 7)
    assert not np.array_equal(lesson.model.flat_params, s.network.flat_params)     # the first stop's network
    np.testing.assert_array_equal(lesson.pictures[0, 0], np.round(s.sample_set()[0][3]).astype(np.uint8))
    assert rec.line(1).startswith("2. backprop · step ") and "probs[0, " in rec.line(1)


def test_a_stop_takes_a_picture_only_with_its_true_class_and_the_draw_tab_its_drawing(tmp_path):
    """A teacher's sketch got the network's answer as its true class (every student "right" with it),
    and F9 on the Draw tab took the Backprop tab's picture, not the drawing."""
    from cnnapp.state.picture import Picture
    s = _session()
    rec = LessonRecorder(s, "Pictures")
    assert rec.capture("backprop") == 0
    s.set_picture(Picture("sketch", np.zeros((1, 28, 28), np.float32), None, what="your sketch"))
    with pytest.raises(ValueError, match="your sketch has no true class yet: choose it") as refused:
        rec.capture("look")
    answer = s.class_name(s.true_label(s.picture))            # what the true-class box shows meanwhile
    assert f"the box shows the network's answer, {answer}, until you choose" in str(refused.value)
    s.take_sample(3)
    s.record()
    s.stepper.index = 2
    ink = np.zeros((56, 56), np.float32)
    ink[8:48, 26:30] = 1                                      # a "1" on the Draw tab's sheet
    s.drawing.set_ink(ink)
    with pytest.raises(ValueError, match="your drawing has no true class yet"):
        rec.capture("draw")                                   # (its digit is the network's guess)
    assert s.picture.origin == "sample" and s.trace is not None and s.stepper.index == 2   # refused: nothing changed
    s.drawing.choose_label(4)
    assert rec.capture("draw") == 1 and rec.stops[1] == Stop("draw", 1, 0)
    assert s.picture.origin == "drawing" and list(rec.lesson().labels) == [int(s.sample_set()[1][3]), 4]
    s.record()                                                # the drawing traced: F9 again keeps its step
    s.stepper.index = 3
    drawn = s.picture
    assert rec.capture("draw") == 2 and rec.stops[2] == Stop("draw", 1, 3) and s.picture is drawn
    rec.save(tmp_path / "l.cnnlesson")
    assert not rec.unsaved
    rec.move(0, -1)                                           # no move, no title change: nothing to save
    rec.set_title(rec.title)
    assert not rec.unsaved
    rec.move(1, -1)
    assert rec.unsaved


def test_a_recorders_edits_are_checked_as_the_file_will_be(tmp_path):
    s = _session()
    rec = LessonRecorder(s)
    rec.capture("backprop")                                   # step 0: no element
    with pytest.raises(ValueError, match="a predict question needs the stop's element"):
        rec.set_question(0, PredictQuestion("softmax"))
    with pytest.raises(ValueError, match="more than the 30,000 allowed"):
        rec.set_note(0, "x" * 30_001)
    assert rec.stops[0].note == "" and rec.stops[0].question is None
    t = s.trace
    back0 = max(k for k, st in enumerate(t.steps) if st.kind == "backward")      # layer 0: ReLU's zeros
    zero = next(ix for ix in np.ndindex(t.arrays["L0.dz"].shape) if t.arrays["L0.dz"][ix] == 0)
    s.stepper.index = back0
    s.select_element("L0.dz", zero)
    k = rec.capture("backprop")
    with pytest.raises(ValueError, match="makes no fair .* question on this picture"):
        rec.set_question(k, PredictQuestion("dz1"))
    with pytest.raises(ValueError, match="asks no 'softmax' question"):
        rec.set_question(k, PredictQuestion("softmax"))
    q = choice_question("Which layers have weights?", "* conv\n\nmaxpool\n*dense\n")
    assert q == ChoiceQuestion("Which layers have weights?", ("conv", "maxpool", "dense"), (0, 2))
    assert choice_question(q.text, choice_lines(q)) == q
    with pytest.raises(ValueError, match="mark the right choices"):
        choice_question("Which?", "a\nb")
    with pytest.raises(ValueError, match="needs 2 to 12 choices"):
        choice_question("Which?", "* a")
    rec.set_question(k, q)
    rec.set_note(0, "# First")
    assert rec.move(0, 5) == 1 and [st.note for st in rec.stops] == ["", "# First"]
    rec.remove(0)
    assert [st.question for st in rec.stops] == [None]
    assert rec.save(tmp_path / "one.cnnlesson") == tmp_path / "one.cnnlesson"
    with pytest.raises(ValueError, match="has no stops yet"):
        LessonRecorder(s).lesson()


def test_a_lesson_opened_to_be_edited_saves_the_same_lesson_until_it_changes(tmp_path):
    save_model(tmp_path / "m.npz", Network(preset("lenet"), seed=2))
    lesson = new_lesson(tmp_path / "m.npz", "generated", 4, count=6, title="made by the command line")
    s = Session()
    rec = LessonRecorder.from_lesson(s, lesson)
    assert s.picture.origin == "lesson" and np.array_equal(s.network.flat_params, lesson.model.flat_params)
    assert rec.lesson().id == lesson.id                          # nothing changed: the same lesson
    rec.set_note(2, "A pooled map.")
    assert rec.lesson().id != lesson.id and rec.lesson().source == lesson.source
    s.record()                                                   # stops go on from its own trace
    s.stepper.index = 3
    assert rec.capture("backprop") == len(lesson.stops) and rec.lesson().pictures.shape[0] == 1


# ----------------------------------------------------------------------------- the student

def _lesson_file(tmp_path, name="l.cnnlesson"):
    save_model(tmp_path / "m.npz", Network(preset("lenet"), seed=3))
    base = new_lesson(tmp_path / "m.npz", "generated", 5, count=10)
    t = trace(base.model, base.pictures[0], int(base.labels[0]))
    loss = next(k for k, st in enumerate(t.steps) if st.kind == "loss")
    label = int(base.labels[0])
    lesson = base.replace(title="Two stops", stops=[
        Stop("draw", 0, 0, "Start here."),
        Stop("backprop", 0, loss, "Predict!", Element("probs", (0, label)), PredictQuestion("softmax"))])
    save_lesson(tmp_path / name, lesson)
    return tmp_path / name, lesson, t


def test_a_player_puts_the_lesson_in_the_session_and_reveals_a_step_after_its_answer(tmp_path):
    path, lesson, t = _lesson_file(tmp_path)
    s = _session(seed=9)
    old_id = s.model_id
    player = LessonPlayer.open(s, path, "Ada")
    assert s.model_id == old_id and s.lesson is None                 # nothing changes before begin()
    player.begin()
    s.follow_lesson(player)
    assert s.model_id == old_id + 1 and np.array_equal(s.network.flat_params, lesson.model.flat_params)
    assert s.picture is player.pictures[0] and player.tab == "draw" and s.stepper.index == 0
    assert s.trace.loss == pytest.approx(t.loss)
    moves = []
    player.changed.connect(lambda: moves.append(player.position))
    assert player.next() and player.must_answer and s.element is None and moves == [1]
    assert not player.next() and player.position == 1
    s.network.params()["L0.W"][:] = 0                                # the student changes the network…
    player.back()
    player.next()
    assert s.trace.loss == pytest.approx(t.loss)                     # …the stop shows the lesson's numbers
    s.start_run()
    s.end_run(done=True, changed_weights=True)                       # …and trains it: the same
    assert s.trace.loss == pytest.approx(t.loss)
    verdict = player.answer(repr(float(t.probs[t.label])))
    assert verdict.right and s.element == ("probs", (0, int(t.label)))
    saved = json.loads(player.results_path.read_text())
    assert saved["student"] == "Ada" and saved["answers"][0]["stop"] == 1
    s.set_network(Network(preset("lenet"), seed=1), "another", trained=False)    # another model ends it
    assert s.lesson is None


def test_results_go_beside_the_lesson_go_on_and_never_replace_another_versions(tmp_path):
    path, lesson, t = _lesson_file(tmp_path)
    assert results_path_for(path, " Ada / Lovelace: 1 ") == tmp_path / "l - Ada_Lovelace_1.results.json"
    assert results_path_for(path, "../..") == tmp_path / "l - student.results.json"
    first = LessonPlayer.open(Session(), path, "Ada")
    first.begin()
    first.next()
    first.answer("0.5")
    again = LessonPlayer.open(Session(), path, "Ada")                 # the same student: goes on
    assert again.results_path == first.results_path and again.position == 1 and again.answered() is not None
    namesake = LessonPlayer.open(Session(), path, "Ada?")             # another student, the same file name
    assert results_path_for(path, "Ada?") == first.results_path
    assert namesake.results_path == tmp_path / "l - Ada (2).results.json" and namesake.answered() is None
    assert namesake.student == "Ada?" and namesake.position == 0
    namesake.begin()
    namesake.next()
    namesake.answer("0.25")
    back = LessonPlayer.open(Session(), path, "Ada?")                 # …who goes on from their own file
    assert back.results_path == namesake.results_path and back.position == 1 and back.answered() is not None
    assert LessonPlayer.open(Session(), path, "Ada").results_path == first.results_path
    changed = lesson.replace(title="Two stops, edited")               # another version, saved over it
    save_lesson(path, changed)
    other = LessonPlayer.open(Session(), path, "Ada")
    assert other.results_path == tmp_path / "l - Ada (3).results.json" and other.answered() is None
    assert json.loads(first.results_path.read_text())["lesson"] == lesson.id      # kept as it was
    with pytest.raises(LessonFileError, match="not a lesson file"):
        LessonPlayer.open(Session(), tmp_path / "m.npz", "Ada")
    with pytest.raises(ValueError, match="the student's name is empty"):
        LessonPlayer.open(Session(), path, "  ")


# ----------------------------------------------------------------------------- the same start

def test_the_same_start_puts_back_the_first_weights_and_names_the_shuffles():
    from cnncore.diagnostics import RunRecord, compare_runs, start_mark
    s = _session()
    assert s.same_start() is None
    before = s.network.copy()
    s.start_run(seed=5)
    start = s.same_start()
    assert start.seed == 5 and start.mark == start_mark(before.flat_params, 5)
    s.network.params()["L0.W"][:] += 1                                 # what the run did
    s.network.history.append({"epoch": 1})
    s.end_run(done=True, changed_weights=True)
    assert not np.array_equal(s.network.flat_params, before.flat_params)
    assert s.restore_start() is start
    np.testing.assert_array_equal(s.network.flat_params, before.flat_params)
    assert s.network.history == [] and s.unsaved
    assert start_mark(before.flat_params, 5) != start_mark(before.flat_params, 6)
    a = RunRecord("run 1", {"lr": 0.003, "seed": 5}, 1, start.mark)
    b = RunRecord("run 2", {"lr": 0.03, "seed": 5}, 1, start.mark)
    assert compare_runs(a, b) == ("run 1 → run 2, from the same start (the same initial weights, the images in the "
                                  "same order): only lr: 0.003 → 0.03 changed, so that is all that makes them differ.")
    assert "should match number for number" in compare_runs(a, replace(a, name="run 3"))
    assert compare_runs(a, replace(b, start="0" * 16)) == "run 1 → run 2: lr: 0.003 → 0.03"
    s.set_network(Network(preset("lenet"), seed=2), "another", trained=False)
    assert s.same_start() is None
    with pytest.raises(RuntimeError, match="no run of this network"):
        s.restore_start()


# ----------------------------------------------------------------------------- the zoom

def test_each_tab_has_its_own_zoom_in_steps_kept_as_plain_numbers():
    z = Zoom()
    seen = []
    z.changed.connect(lambda tab, f: seen.append((tab, f)))
    assert z.zoom_in("backprop") == 1.25 and z.zoom_in("backprop") == 1.5 and z.factor("draw") == 1.0
    assert z.zoom_out("draw") == 0.8 and z.zoom_out("draw") == 0.8 and seen[-1] == ("draw", 0.8)
    for _ in range(20):
        z.zoom_in("learn")
    assert z.factor("learn") == LEVELS[-1]
    assert z.reset("learn") == 1.0
    assert z.to_dict() == {"backprop": 1.5, "draw": 0.8}
    other = Zoom()
    other.read({"backprop": 1.6, "draw": True, "look": "2", "train": 1e9, 3: 2.0})
    assert other.to_dict() == {"backprop": 1.5}
