"""Lessons (issue 25, the Qt-free core): the .cnnlesson file, a student's walk and results, the class's table.

One lesson is made here from a LeNet model and one generated digit, with predict questions (a
softmax output, the sign of a dz, a max-pool window's winner) and the teacher's multiple choice
(one and two right answers); students answer it through :class:`LessonRun`.
"""
from __future__ import annotations

import csv
import io
import json
import pickle
import re
import struct
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import numpy as np
import pytest

from cnncore import predict
from cnncore.architecture import preset
from cnncore.lesson import (ChoiceQuestion, Element, Lesson, LessonFileError, LessonRun, PredictQuestion, Source, Stop,
                            describe, judge_answer, load_lesson, load_results, new_lesson, report, save_lesson, write_report)
from cnncore.modelio import save_model
from cnncore.network import Network
from cnncore.trace import trace
from test_hostile_inputs import MB, peak_mb

# ----------------------------------------------------------------------------- the lesson


def _step(lesson, kind, layer_type=None):
    return next(k for k, s in enumerate(lesson.steps)
                if s.kind == kind and (layer_type is None or s.layer_type == layer_type))


def _stops(base):
    """Stops of every kind on ``base``'s picture: elements chosen where the question is fair."""
    t = trace(base.model, base.pictures[0], int(base.labels[0]))
    loss, dense, pool = _step(base, "loss"), _step(base, "backward", "dense"), _step(base, "backward", "maxpool")
    label = int(base.labels[0])
    dz = t.arrays["L5.dz"][0]
    k = int(np.flatnonzero(dz)[0])
    dy = t.arrays["L3.dy"]
    window = next(ix for ix in np.ndindex(dy.shape) if predict.question_at(t, pool, "winner", ix) is not None)
    return (
        Stop("backprop", 0, 0, "# Forward\n\nLook at **L0.z**: each map is one filter's answer."),
        Stop("backprop", 0, loss, "Before the maps: predict.", Element("probs", (0, label)), PredictQuestion("softmax")),
        Stop("backprop", 0, dense, "", Element("L5.dz", (0, k)), PredictQuestion("sign")),
        Stop("backprop", 0, pool, "Which cell?", Element("L3.dy", window), PredictQuestion("winner")),
        Stop("build", 0, 2, "", None, ChoiceQuestion("Which layers have weights?", ("conv", "maxpool", "dense"), (0, 2))),
        Stop("backprop", 0, len(base.steps) - 1, "After the update…", None,
             ChoiceQuestion("Which way does this picture's loss go?", ("down", "up"), (0,))),
    )


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("lesson")
    save_model(d / "model.npz", Network(preset("lenet"), seed=1))
    base = new_lesson(d / "model.npz", "generated", 3, count=8)
    lesson = base.replace(stops=_stops(base), title="Backprop, step by step")
    path = d / "backprop.cnnlesson"
    save_lesson(path, lesson)
    return SimpleNamespace(dir=d, base=base, lesson=lesson, path=path)


def test_new_lesson_has_one_stop_per_step_of_the_pictures_trace(made):
    base = made.base
    t = trace(base.model, base.pictures[0], int(base.labels[0]))
    assert [s.step for s in base.stops] == list(range(len(t.steps))) and all(s.tab == "backprop" for s in base.stops)
    assert base.pictures.shape == (1, 1, 28, 28) and base.pictures.dtype == np.uint8
    assert base.source == Source("generated", 0, (3,))
    lines = describe(base)
    assert len(lines) == len(t.steps) and lines[1].startswith(f"2. backprop · step 2 of {len(t.steps)} (Layer 1 · maxpool")


def test_a_lesson_round_trips_with_both_kinds_of_question(made):
    back, lesson = load_lesson(made.path), made.lesson
    assert back.stops == lesson.stops and back.title == lesson.title and back.source == lesson.source
    np.testing.assert_array_equal(back.pictures, lesson.pictures)
    np.testing.assert_array_equal(back.labels, lesson.labels)
    for key, value in lesson.model.params().items():
        np.testing.assert_array_equal(back.model.params()[key], value)
    assert {type(s.question) for s in back.stops if s.question} == {PredictQuestion, ChoiceQuestion}
    assert back.id == lesson.id and len(back.id) == 64
    with zipfile.ZipFile(made.path) as z:
        names = z.namelist()
        assert json.loads(z.read("lesson.json"))["id"] == lesson.id
    assert "lesson.json" in names and all(n == "lesson.json" or n.endswith(".npy") for n in names)
    lines = describe(back)
    assert "asks: a softmax output" in lines[1] and "note: Forward: Look at L0.z" in lines[0]
    assert "asks: Which layers have weights? (3 choices)" in lines[4]


def test_the_id_follows_the_content_not_the_file(made, tmp_path):
    lesson = made.lesson
    again = tmp_path / "again.cnnlesson"
    save_lesson(again, load_lesson(made.path))
    assert again.read_bytes() == made.path.read_bytes()          # the same lesson, the same bytes
    assert load_lesson(again).id == lesson.id
    model = lesson.model.copy()
    model.params()["L0.W"][0, 0, 0, 0] += 1e-3
    pictures = lesson.pictures.copy()
    pictures[0, 0, 14, 14] ^= 1
    stops = list(lesson.stops)
    stops[0] = replace(stops[0], note=stops[0].note + ".")
    mc = list(lesson.stops)
    mc[4] = replace(mc[4], question=ChoiceQuestion("Which layers have weights?", ("conv", "maxpool", "dense"), (0,)))
    changed = [lesson.replace(title=lesson.title + "!"), lesson.replace(stops=stops), lesson.replace(stops=mc),
               lesson.replace(pictures=pictures), lesson.replace(labels=(lesson.labels + 1) % 10),
               lesson.replace(model=model), lesson.replace(source=Source("generated", 1, (3,)))]
    ids = [c.id for c in changed]
    assert len(set(ids)) == len(ids) and lesson.id not in ids


def test_colour_pictures_travel_in_the_lesson_as_the_model_reads_them(tmp_path):
    """3×H×W pictures (issue 23's colour models) are kept as uint8 (N, 3, H, W); a picture from no
    data source (a folder, a drawing) has no index."""
    spec = {"input": [3, 12, 12], "layers": [{"type": "conv", "filters": 4, "kernel": 3, "padding": 1},
                                             {"type": "maxpool", "size": 2}, {"type": "flatten"},
                                             {"type": "dense", "units": 10}]}
    X = np.random.default_rng(0).integers(0, 256, (2, 3, 12, 12)).astype(np.uint8)
    stops = [Stop("backprop", 1, 0, "", Element("L0.W", (3, 2, 2, 2)), PredictQuestion("filter_map"))]
    lesson = Lesson(Network(spec, seed=0), X, [1, 2], stops, Source("folder", 0, (None, None)), "colour")
    save_lesson(tmp_path / "c.cnnlesson", lesson)
    back = load_lesson(tmp_path / "c.cnnlesson")
    np.testing.assert_array_equal(back.pictures, X)
    assert back.source.indices == (None, None) and back.id == lesson.id
    run = LessonRun(back, "Ada")
    assert run.question.kind == "filter_map" and run.answer(3).right        # filter 3 makes z map 3
    with pytest.raises(ValueError, match=r"the model reads uint8 \(N, 3, 12, 12\)"):
        Lesson(Network(spec, seed=0), X[:, :1], [1, 2], stops, Source("folder", 0, (None, None)))


# ----------------------------------------------------------------------------- following it

def _clock():
    start = datetime(2025, 3, 4, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    ticks = iter(range(1000))
    return lambda: start + timedelta(minutes=next(ticks))


def test_a_student_walks_answers_and_the_results_are_saved_and_read_again(made, tmp_path):
    lesson, out = made.lesson, tmp_path / "ada.json"
    run = LessonRun(lesson, "Ada", out, clock=_clock())
    assert run.position == 0 and run.question is None and not run.must_answer and not run.back()
    assert run.next() and run.position == 1
    q = run.question
    assert q.kind == "softmax" and q.answer == pytest.approx(float(trace(
        lesson.model, lesson.pictures[0], int(lesson.labels[0])).probs[lesson.labels[0]]))
    assert run.must_answer and not run.next() and run.position == 1        # the step waits for the answer
    bad = run.answer("a lot")
    assert not bad.valid and run.must_answer and not out.exists()          # not counted, nothing written
    verdict = run.answer(repr(q.answer))
    assert verdict == predict.judge(q, repr(q.answer)) and verdict.right and not run.must_answer
    assert json.loads(out.read_text())["answers"] == [{"stop": 1, "answer": repr(q.answer), "right": True,
                                                       "time": "2025-03-04T10:00:00+01:00"}]
    with pytest.raises(ValueError, match="answered already"):
        run.answer("0.5")
    assert run.next() and run.question.kind == "sign"
    assert not run.answer((int(run.question.answer) + 1) % 3).right          # the other sign
    assert run.next() and run.question.kind == "winner"
    assert run.answer(int(run.question.answer)).right
    assert run.next() and run.answer([2, 0]).right                         # both right ones, in any order
    assert run.back() and run.position == 3 and not run.must_answer and run.next()
    assert run.next() and not run.answer(1).right and not run.next()       # "up"; the last stop
    assert run.score() == (3, 5)
    saved = load_results(out, lesson)
    assert saved.student == "Ada" and saved.lesson == lesson.id
    assert [(a.stop, a.right) for a in saved.answers] == [(1, True), (2, False), (3, True), (4, True), (5, False)]
    assert saved.answers[3].answer == (0, 2) and saved.answers[4].time == "2025-03-04T10:04:00+01:00"
    resumed = LessonRun.resume(lesson, out)
    assert resumed.position == 5 and resumed.results.answers == saved.answers


def test_a_predict_question_with_no_fair_answer_cannot_be_saved_or_followed(made, tmp_path):
    lesson = made.lesson
    t = trace(lesson.model, lesson.pictures[0], int(lesson.labels[0]))
    back0 = max(k for k, s in enumerate(lesson.steps) if s.kind == "backward")     # layer 0's: ReLU's zeros
    zero = next(ix for ix in np.ndindex(t.arrays["L0.dz"].shape) if t.arrays["L0.dz"][ix] == 0)
    stops = lesson.stops + (Stop("backprop", 0, back0, "", Element("L0.dz", zero), PredictQuestion("dz1")),)
    unfair = lesson.replace(stops=stops)                              # a lesson may hold it…
    with pytest.raises(ValueError, match="stop 7: L0.dz.* makes no fair 'dz1' question"):
        save_lesson(tmp_path / "unfair.cnnlesson", unfair)              # …but is not written
    assert not (tmp_path / "unfair.cnnlesson").exists()
    with pytest.raises(LessonFileError, match=r"cannot be followed \(ask your teacher for a new copy of the "
                                              r"lesson\): stop 7"):
        LessonRun(unfair, "Ada")


def test_a_lesson_whose_weights_overflow_names_its_file_and_what_a_student_can_do(made, tmp_path, monkeypatch):
    """A tour: a lesson whose weights overflow was refused with "retrain it or open another model",
    which a student cannot do, and without the file's name; a lesson with no question crashed the app.
    It names the file and says to ask the teacher for a new copy, whether its stops ask or not."""
    from cnncore.lesson import lessonfile
    huge = made.lesson.model.copy()
    huge.layers[0].W[...] = 3e38
    with monkeypatch.context() as m:            # written as an old or damaged copy would be: unchecked
        m.setattr(lessonfile, "lesson_questions", lambda lesson: {})
        for name, stops in (("asks", made.lesson.stops), ("looks", [Stop("backprop", 0, 0, "Look")])):
            save_lesson(tmp_path / f"{name}.cnnlesson", made.lesson.replace(model=huge, stops=stops))
    for name in ("asks", "looks"):
        with pytest.raises(LessonFileError) as e:
            LessonRun(load_lesson(tmp_path / f"{name}.cnnlesson"), "Ada")
        said = str(e.value)
        assert said.startswith(f"{name}.cnnlesson cannot be followed (ask your teacher for a new copy of the "
                               "lesson): the network's output is not a number") and "the sums overflow" in said
        assert "retrain" not in said and "nothing to trace" not in said, said


def test_a_lesson_of_many_pictures_opens_without_tracing_them_all_and_keeps_a_few_traces(made, monkeypatch):
    """A review: opening a lesson traced every stop's picture and kept every trace (256 colour pictures:
    9 s and 430 MB before the lesson showed). Opening passes them all through the model once and traces
    none that asks nothing; a lesson keeps its last KEPT_TRACES traces, and one made again is the same."""
    from cnncore.lesson import content
    from cnncore import trace as trace_module
    n = content.KEPT_TRACES + 4
    pictures = np.repeat(made.base.pictures, n, axis=0)
    pictures[:, 0, 0, :n] = np.eye(n, dtype=np.uint8) * 255          # (each picture its own)
    many = made.base.replace(pictures=pictures, labels=np.full(n, made.base.labels[0]),
                             source=Source("generated", 0, tuple(range(n))), stops=[Stop("backprop", k, 0, "Look") for k in range(n)])
    made_traces = []
    real = trace_module.trace
    monkeypatch.setattr(trace_module, "trace", lambda *a, **k: made_traces.append(a[1]) or real(*a, **k))
    run = LessonRun(many, "Ada")
    assert made_traces == [] and run.position == 0
    first = many.trace_of(0)
    for k in range(1, n):
        many.trace_of(k)
    assert len(many.__dict__["_traces"]) == content.KEPT_TRACES and len(made_traces) == n
    again = many.trace_of(0)                                         # (made again: it was the oldest)
    assert again is not first and len(made_traces) == n + 1
    assert all(np.array_equal(again.arrays[key], first.arrays[key]) for key in first.arrays)
    assert many.trace_of(0) is again and len(made_traces) == n + 1   # (the newest is kept)


# ----------------------------------------------------------------------------- the class's table

def _answer(made, path, student, answers):
    run = LessonRun(made.lesson, student, path, clock=_clock())
    for stop, given in answers.items():
        while run.position < stop:
            assert run.next()
        given = given(run.question) if callable(given) else given
        assert run.answer(given).valid
    return path


def test_two_students_results_make_the_table_expected(made, tmp_path):
    right = lambda q: repr(q.answer)  # noqa: E731
    ada = _answer(made, tmp_path / "ada.json", "Ada", {1: right, 2: lambda q: int(q.answer), 3: lambda q: int(q.answer),
                                                     4: [0, 2], 5: [0]})
    other = lambda q: (int(q.answer) + 1) % len(q.choices)  # noqa: E731
    bob = _answer(made, tmp_path / "bob.json", "=Bob", {1: "-0.5", 2: other, 3: other})     # and stops there
    qs = LessonRun(made.lesson, "x").questions
    sign, cells = qs[2].choices, [c[:30] for c in qs[3].choices]
    rows = report([ada, bob], made.lesson)
    assert rows == [
        ["student", "stop 2: a softmax output", "stop 3: sign of a dz", "stop 4: which max-pool input gets the gradient",
         "stop 5: Which layers have weights?", "stop 6: Which way does this picture's loss go?", "right (of 5)"],
        ["Ada", f"right: {repr(qs[1].answer)}", f"right: {sign[int(qs[2].answer)]}",
         f"right: {cells[int(qs[3].answer)]}", "right: conv + dense", "right: down", "5"],
        ["=Bob", "wrong: -0.5", f"wrong: {sign[other(qs[2])]}", f"wrong: {cells[other(qs[3])]}", "", "", "0"]]
    table = write_report(tmp_path / "class.csv", rows)
    with open(table, newline="", encoding="utf-8-sig") as f:
        read = list(csv.reader(f))
    assert read[0] == rows[0] and read[1] == rows[1]
    assert read[2][0] == "'=Bob" and read[2][1:] == rows[2][1:]        # a spreadsheet shows it, never runs it
    # the lesson judges: a results file that says "right" to a wrong answer does not change the table
    forged = json.loads(bob.read_text())
    forged["answers"][0]["right"] = True
    bob.write_text(json.dumps(forged))
    assert report([bob], made.lesson)[1][1] == "wrong: -0.5"
    assert report([bob])[1][1] == "right: -0.5"                        # without the lesson, the file's word


def test_results_of_another_version_of_the_lesson_are_refused_with_the_reason(made, tmp_path):
    ada = _answer(made, tmp_path / "ada.json", "Ada", {1: "0.1"})
    stops = list(made.lesson.stops)
    stops[0] = replace(stops[0], note="A new first note.")
    v2 = made.lesson.replace(stops=stops)
    carol = tmp_path / "carol.json"
    run = LessonRun(v2, "Carol", carol)
    run.next()
    run.answer("0.1")
    for call in (lambda: report([ada, carol], made.lesson), lambda: report([ada, carol]),
                 lambda: load_results(carol, made.lesson)):
        with pytest.raises(LessonFileError) as e:
            call()
        msg = str(e.value)
        assert msg.startswith(str(carol)) and "another version" in msg and "\n" not in msg
    assert report([carol], v2)[1][0] == "Carol"


def _copy(path, dst):
    dst.write_bytes(path.read_bytes())
    return dst


def test_a_students_answers_never_replace_the_lesson_they_follow(made, tmp_path):
    """LessonRun(lesson, name, results_path=<the lesson file>) wrote the results over the lesson."""
    path = _copy(made.path, tmp_path / "l.cnnlesson")
    before = path.read_bytes()
    lesson = load_lesson(path)
    for other in (path, tmp_path / "." / "l.cnnlesson"):
        with pytest.raises(LessonFileError, match="the answers cannot go there: .* same file as the input") as e:
            run = LessonRun(lesson, "Ada", other)
            assert run.next() and run.answer(repr(run.question.answer)).right
        assert "\n" not in str(e.value) and path.read_bytes() == before
    run = LessonRun(lesson, "Ada", None, clock=_clock())
    assert run.next() and run.answer(repr(run.question.answer)).right
    (tmp_path / "link.json").symlink_to(path)
    for other in (path, tmp_path / "link.json"):
        with pytest.raises(LessonFileError, match="same file"):
            run.save_as(other)
    assert run.results_path is None and path.read_bytes() == before and load_lesson(path).id == made.lesson.id
    assert run.save_as(tmp_path / "ada.json") == tmp_path / "ada.json"
    assert load_results(tmp_path / "ada.json", lesson).answers == run.results.answers
    assert lesson.file == path and lesson.replace(title="edited").file is None     # an edited copy is no file


def test_the_class_table_never_replaces_a_file_it_was_read_from(made, tmp_path):
    """write_report over a results file that report() read destroyed it: the table knows its inputs."""
    from cnncore import OutputRefused
    path = _copy(made.path, tmp_path / "l.cnnlesson")
    lesson = load_lesson(path)
    ada = _answer(made, tmp_path / "ada.json", "Ada", {1: "0.1"})
    rows = report([ada], lesson)
    for target in (ada, path):
        before = target.read_bytes()
        with pytest.raises(OutputRefused, match="same file as the input"):
            write_report(target, rows)
        assert target.read_bytes() == before
    assert set(rows.inputs) == {ada, path}
    assert write_report(tmp_path / "class.csv", rows).read_text(encoding="utf-8-sig").startswith("student,")


# ----------------------------------------------------------------------------- bad files

def _entries(path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _zip(dst, entries: dict, compress=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(dst, "w", compress) as z:
        for name, data in entries.items():
            z.writestr(name, data)


def _with_text(made, dst, edit):
    entries = _entries(made.path)
    obj = json.loads(entries["lesson.json"])
    edit(obj)
    entries["lesson.json"] = json.dumps(obj).encode()
    _zip(dst, entries)


def _npy(a, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


def _note_of_100_mb(made, dst):
    """lesson.json holding a 100 MB note, deflated (100 kB), written without holding it in memory."""
    head = json.dumps({"format": "cnnlab-lesson-1", "id": "0" * 64, "title": "", "stops": [{"note": ""}]})
    before, after = head.split('"note": "')
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("lesson.json", "w", force_zip64=True) as m:
            m.write((before + '"note": "').encode())
            for _ in range(100):
                m.write(b"a" * MB)
            m.write(after.encode())
        for name, data in _entries(made.path).items():
            if name != "lesson.json":
                z.writestr(name, data)


def _declared_smaller(made, dst):
    """lesson.json whose deflated data inflates to 2 MB where its zip entry declares 200 bytes."""
    text = _entries(made.path)["lesson.json"] + b" " * (2 * MB)          # trailing spaces: still valid JSON
    entries = _entries(made.path)
    entries["lesson.json"] = text
    _zip(dst, entries)
    data = bytearray(dst.read_bytes())
    with zipfile.ZipFile(dst) as z:
        zi = z.getinfo("lesson.json")
    struct.pack_into("<I", data, zi.header_offset + 22, 200)             # local header: uncompressed size
    central = data.index(b"PK\x01\x02")
    while data[central + 46:central + 46 + len(b"lesson.json")] != b"lesson.json":
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, 200)                      # central directory: the same
    dst.write_bytes(bytes(data))


def _element_out_of_range(obj):
    obj["stops"][1]["element"]["index"] = [0, 99]


BAD = {
    "truncated": (lambda made, dst: dst.write_bytes(made.path.read_bytes()[:made.path.stat().st_size // 2]),
                  "truncated or corrupt, not a readable zip archive"),        # (not "an .npz archive")
    "not a zip": (lambda made, dst: dst.write_bytes(b"just some text\n"), "not a lesson file"),
    "pickle entry": (lambda made, dst: _zip(dst, {**_entries(made.path), "stops.pkl": pickle.dumps([1, 2])}),
                     "entry 'stops.pkl' is not a NumPy array"),
    "pickled array": (lambda made, dst: _zip(dst, {**_entries(made.path),
                                                   "pictures.npy": _npy(np.array([{}], dtype=object), True)}),
                      "holds Python objects (pickles)"),
    "model mismatch": (lambda made, dst: _zip(dst, {**_entries(made.path),
                                                    "model/L0.W.npy": _npy(np.zeros((8, 1, 3, 3), np.float32))}),
                       "'s model: L0.W has shape (8, 1, 3, 3) but the architecture needs (8, 1, 5, 5)"),
    "pictures of another size": (lambda made, dst: _zip(dst, {**_entries(made.path),
                                                              "pictures.npy": _npy(np.zeros((1, 1, 32, 32), np.uint8))}),
                                 "the model reads uint8 (N, 1, 28, 28)"),
    "10,000 stops": (lambda made, dst: _with_text(made, dst, lambda o: o.update(stops=o["stops"][:1] * 10_000)),
                     "it has 10,000 stops, more than the 1,000"),
    "100 MB note": (_note_of_100_mb, "entry 'lesson.json' declares 104,857,"),
    "inflates past its size": (_declared_smaller, "entry 'lesson.json' holds more data than the 200 bytes it declares"),
    "element out of range": (lambda made, dst: _with_text(made, dst, _element_out_of_range),
                             "stop 2: element probs[0, 99] is outside probs, whose shape is (1, 10)"),
    "step out of range": (lambda made, dst: _with_text(made, dst, lambda o: o["stops"][0].update(step=99)),
                          "stop 1: step 99 is out of range (the model's trace has 16 steps"),
    "question on another array": (lambda made, dst: _with_text(made, dst, lambda o: o["stops"][2]["question"].update(
        kind="dw1")), "stop 3: a 'dw1' question is about an element of L5.dW, not of L5.dz"),
    "question the step does not ask": (lambda made, dst: _with_text(made, dst, lambda o: o["stops"][2]["question"].update(
        kind="pool")), "stop 3: step 7 (Layer 5 · dense 10 none — backward) asks no 'pool' question"),
    "a boolean for a number": (lambda made, dst: _with_text(made, dst, lambda o: o["stops"][0].update(picture=True)),
                               "stop 1: 'picture' has the wrong type (bool)"),
    "edited after saving": (lambda made, dst: _with_text(made, dst, lambda o: o["stops"][0].update(note="Changed.")),
                            "its id does not match its content"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_lesson_files_give_one_line_quickly_and_within_memory(made, tmp_path, case):
    make, expected = BAD[case]
    bad = tmp_path / f"{case.replace(' ', '_')}.cnnlesson"
    make(made, bad)
    out, peak = peak_mb(load_lesson, bad)
    assert isinstance(out, LessonFileError), repr(out)
    msg = str(out)
    assert msg.startswith(str(bad)) and "\n" not in msg and expected in msg, msg
    assert peak < 32, f"{peak:.0f} MB traced while refusing the file"


def test_question_ordering_is_spelled_the_same_by_the_file_and_by_the_stop(made):
    """A stop read from the file is the stop written: question choices, right answers, elements."""
    raw = json.loads(_entries(made.path)["lesson.json"])
    assert raw["stops"][4]["question"] == {"type": "choice", "text": "Which layers have weights?",
                                           "choices": ["conv", "maxpool", "dense"], "right": [0, 2]}
    assert raw["stops"][1]["element"] == {"key": "probs", "index": [0, int(made.lesson.labels[0])]}


@pytest.mark.parametrize("bad", [
    lambda: Stop("nowhere", 0, 0),
    lambda: Stop("backprop", -1, 0),
    lambda: Stop("backprop", 0, 0, "x" * 30_001),
    lambda: Stop("backprop", 0, 0, "", None, PredictQuestion("dz1")),
    lambda: PredictQuestion("guess"),
    lambda: ChoiceQuestion("?", ("a",), (0,)),
    lambda: ChoiceQuestion("?", ("a", "b"), ()),
    lambda: ChoiceQuestion("?", ("a", "b"), (2,)),
    lambda: ChoiceQuestion("?", ("a", "a"), (0,)),
    lambda: Element("L0.z\n", (0,)),
    lambda: Element("L0.z", (0, True)),
    lambda: Stop("look", 0, 0, page="identities"),
    lambda: Stop("backprop", 0, 0, page="where"),
])
def test_a_stop_checks_itself_when_made(bad):
    with pytest.raises(ValueError):
        bad()


def test_a_stops_page_is_written_only_where_it_has_one_and_read_back():
    """A stop names the page of the Look or Learn tab it shows; a stop without one is written as
    before (a lesson of an earlier version reads the same, and has the same id)."""
    from cnncore.lesson.stops import stop_from_json
    plain, paged = Stop("backprop", 0, 2), Stop("look", 0, 0, "See **this**", page="fool")
    assert "page" not in plain.to_json() and paged.to_json()["page"] == "fool"
    assert stop_from_json(plain.to_json(), 0) == plain and stop_from_json(paged.to_json(), 1) == paged
    with pytest.raises(ValueError, match="stop 2: a stop's page on the look tab must be one of where, fool, dream"):
        stop_from_json(dict(paged.to_json(), page="elsewhere"), 1)


@pytest.mark.parametrize("text", ["Regardez\u00a0: la carte", "Valeur\u202f!", "soft\xadhyphen", "zw\u200bsp",
                                  "emoji \U0001F600", "a\ttab"])
def test_text_pasted_from_the_web_or_a_word_processor_is_a_note(text):
    assert Stop("backprop", 0, 0, text).note == text
    assert ChoiceQuestion(text, ("yes", "no")).text == text


def test_windows_line_ends_become_newlines_and_control_characters_stay_out():
    assert Stop("backprop", 0, 0, "one\r\ntwo\rthree").note == "one\ntwo\nthree"
    for bad in ("bell\x07", "nul\x00", "esc\x1b[31m"):
        with pytest.raises(ValueError, match="control characters"):
            Stop("backprop", 0, 0, bad)
    with pytest.raises(ValueError, match="line breaks"):        # a one-line text keeps to one line
        ChoiceQuestion("which?", ("a\u2028b", "c"))


@pytest.mark.parametrize("text", ["\u202eevil.exe", "a \u2067right to left", "\u202bembedded\u2069 not closed by a PDI",
                                  "closed\u2066 inner\u202d\u2069 \u202etoo late"])
def test_a_change_of_direction_left_open_is_refused_as_it_would_reorder_what_follows(text):
    """A right-to-left override in a title made `lesson show` and the app print the text after it reversed."""
    from cnncore.lesson.stops import check_text
    with pytest.raises(ValueError, match="writing direction"):
        check_text(text, "the title", 200)
    with pytest.raises(ValueError, match="writing direction"):
        Stop("backprop", 0, 0, "fine\n" + text)          # each line closes its own


@pytest.mark.parametrize("text", ["\u2067\u05e9\u05dc\u05d5\u05dd\u2069 and hello", "\u202eabc\u202c def",
                                  "\u2066a\u202db\u2069 c", "stray closers \u202c\u2069", "\u200fmark \u061c"])
def test_right_to_left_words_with_their_direction_closed_are_text(text):
    from cnncore.lesson.stops import check_text
    assert check_text(text, "the title", 200) == text


def test_a_typed_number_is_reported_as_it_was_judged():
    """A student's "1,5" (a decimal comma, read as 1.5 and judged so) stood in the report as "1,5"."""
    from cnncore.lesson.report import _answer_text
    assert _answer_text("1,5", None) == "1.5" and _answer_text("−0.25", None) == "-0.25"
    assert _answer_text("0.0129104265", None) == "0.0129104265"             # as typed where Python reads it


def test_a_stop_visited_again_says_what_it_said_when_it_was_answered(made, tmp_path):
    """Back at an answered stop, or after a restart, the panel said only "Not right.": the right answer,
    said when the question was answered, was gone."""
    lesson, out = made.lesson, tmp_path / "ada.json"
    run = LessonRun(lesson, "Ada", out, clock=_clock())
    said = {}
    while True:
        if run.must_answer:
            q = run.question
            assert run.verdict() is None
            given = [len(q.choices) - 1] if isinstance(q, ChoiceQuestion) else len(q.choices) - 1 if q.is_choice \
                else "0.5"
            said[run.position] = run.answer(given)
        if not run.next():
            break
    assert said and any(not v.right for v in said.values())
    for k, verdict in said.items():
        assert run.verdict(k) == verdict
    again = LessonRun.resume(lesson, out)
    assert {k: again.verdict(k) for k in said} == said
    assert run.verdict(0) is None                  # (a stop that asks nothing)


def test_three_right_choices_are_listed_as_a_sentence_lists_them():
    """A question of three right choices said "the right answers are conv and dense and flatten"."""
    q = ChoiceQuestion("Which?", ("conv", "maxpool", "dense", "flatten"), (0, 2, 3))
    assert judge_answer(q, [0])[0].message == "Not quite: the right answers are conv, dense and flatten."
    two = ChoiceQuestion("Which?", ("conv", "maxpool", "dense"), (0, 2))
    assert judge_answer(two, [1])[0].message == "Not quite: the right answers are conv and dense."
    one = ChoiceQuestion("Which?", ("conv", "maxpool"), (1,))
    assert judge_answer(one, [0])[0].message == "Not quite: the right answer is maxpool."


def test_a_drawing_in_a_lesson_is_not_said_to_come_from_a_data_source(made):
    """``lesson show`` said "1 picture from generated" of a lesson of the teacher's drawing: the source's
    name was that of the samples the app offered, and the drawing has no place among them."""
    from cnncore.lesson.make import pictures_words
    base = made.base
    assert pictures_words(base) == "1 picture from generated"
    drawn = base.replace(source=Source("generated", 0, (None,)))
    assert pictures_words(drawn) == "1 picture of the teacher's (drawn, opened or picked in the app)"
    both = base.replace(pictures=np.concatenate([base.pictures] * 2), labels=[base.labels[0]] * 2,
                        source=Source("generated", 0, (3, None)))
    assert pictures_words(both) == "2 pictures: 1 from generated, 1 of the teacher's (drawn, opened or picked in the app)"


def test_a_file_of_a_newer_version_says_to_update_cnnlab(made, tmp_path):
    """A lesson of a later format said "unknown lesson format 'cnnlab-lesson-3'": a student could not
    tell that a newer cnnlab opens it. Model and results files say it by the same rule."""
    from cnncore._safeio import unknown_format
    with zipfile.ZipFile(made.path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    text = json.loads(entries["lesson.json"])
    for fmt, said in (("cnnlab-lesson-3", "written by a newer version of cnnlab (lesson format 'cnnlab-lesson-3'; "
                                          "this version reads 'cnnlab-lesson-1' and 'cnnlab-lesson-2'): update cnnlab"),
                      ("keras-7", "unknown lesson format 'keras-7'")):
        path = tmp_path / f"{fmt}.cnnlesson"
        with zipfile.ZipFile(path, "w") as z:
            for n, data in entries.items():
                z.writestr(n, json.dumps({**text, "format": fmt}) if n == "lesson.json" else data)
        with pytest.raises(LessonFileError, match=re.escape(said)):
            load_lesson(path)
    assert "update cnnlab" in unknown_format("model", "cnnlab-model-2", ("cnnlab-model-1",))
    assert "update cnnlab" not in unknown_format("model", "cnnlab-lesson-2", ("cnnlab-model-1",))
    assert "update cnnlab" not in unknown_format("lesson", "cnnlab-lesson-1", ("cnnlab-lesson-1", "cnnlab-lesson-2"))
    assert "update cnnlab" in unknown_format("results", "cnnlab-lesson-results-2", ("cnnlab-lesson-results-1",))


def test_a_file_of_another_kind_is_named_as_what_it_is(made, tmp_path):
    """A lesson given where a model goes said "its entry 'lesson.json' is not a NumPy array (.npy)", a
    model given as a lesson "no 'lesson.json' entry", a lesson given as a student's answers "not UTF-8
    text": each now says what the file is."""
    from cnncore.modelio import ModelFileError, load_model
    with pytest.raises(ModelFileError, match=r"this is a lesson, \.cnnlesson"):
        load_model(made.path)
    with pytest.raises(LessonFileError, match="it is a model file: cnnapp lesson new"):
        load_lesson(made.path.parent / "model.npz")
    with pytest.raises(LessonFileError, match="not a results file \\(a zip archive, such as a lesson"):
        load_results(made.path)
