"""``cnnapp lesson new|show|report`` (issue 25): a lesson to edit from a model and a picture, its stops in
one line each, the class's table; bad arguments and another version's results are one line, exit 2."""
from __future__ import annotations

import csv
import json
import os
from datetime import datetime, timezone

import numpy as np
import pytest

from cnncore.architecture import preset
from cnncore.lesson import ChoiceQuestion, LessonRun, Stop, load_lesson, save_lesson
from cnncore.modelio import save_model
from cnncore.network import Network
from cnnapp.cli import main


@pytest.fixture
def model(tmp_path):
    save_model(tmp_path / "m.npz", Network(preset("lenet"), seed=1))
    return tmp_path / "m.npz"


def _one_line_refusal(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and all(w in err for w in words), err
    return err


def test_new_makes_one_stop_per_step_and_show_prints_them(model, tmp_path, capsys):
    from cnncore.trace import build_steps
    out = tmp_path / "seven.cnnlesson"
    assert main(["lesson", "new", str(model), "--data", "generated", "--count", "20", "--index", "7",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    lesson = load_lesson(out)
    n = len(build_steps(lesson.model.spec))
    assert f"wrote {out}: {n} stops on picture 7 of generated" in printed and "File → Edit a lesson" in printed
    assert [s.step for s in lesson.stops] == list(range(n)) and lesson.source.indices == (7,)
    from cnncore.datasets import generated_digits
    X, y = generated_digits(20, seed=1)
    np.testing.assert_array_equal(lesson.pictures[0, 0], X[7])          # --data-seed's default: the app's digits
    assert main(["lesson", "show", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("m: picture 7 of generated · id ") and f"{n} stops, 0 asking a question" in lines[1]
    assert len(lines) == 2 + n and lines[2].startswith(f"1. backprop · step 1 of {n} (Layer 0 · conv")
    assert f"({'an' if y[7] == 8 else 'a'} {y[7]})" in lines[2]


def test_new_makes_a_lesson_of_a_picture_of_ones_own_folder(tmp_path, capsys):
    """A teacher with a model of a folder's pictures could not make a lesson of one from the command
    line: ``lesson new`` took no --folder."""
    from PIL import Image
    for name, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for k in range(2):
            Image.new("RGB", (40, 36), colour).save(tmp_path / "pics" / name / f"{k}.png")
    (tmp_path / "pics" / "blue" / "0.png").write_bytes(b"not a picture")     # numbered all the same
    net = Network(preset("cifar"), seed=0)
    net.learns(("blue", "red") + ("(unused)",) * 8, "my pictures")
    save_model(tmp_path / "c.npz", net)
    made = {}
    for index in (1, 2):
        out = tmp_path / f"{index}.cnnlesson"
        assert main(["lesson", "new", str(tmp_path / "c.npz"), "--folder", str(tmp_path / "pics"), "--index",
                     str(index), "--out", str(out)]) == 0
        made[index] = load_lesson(out)
        assert f"picture {index} of folder (a {('blue', 'red')[index - 1]})" in capsys.readouterr().out
        assert main(["trace", str(tmp_path / "c.npz"), "--folder", str(tmp_path / "pics"), "--index", str(index),
                     "--out", str(tmp_path / f"{index}.npz")]) == 0                # the picture trace numbers so
        assert capsys.readouterr().out.startswith(str(tmp_path / "pics" / {1: "blue/1.png", 2: "red/0.png"}[index]))
        from cnncore.trace import Trace
        np.testing.assert_array_equal(Trace.load(tmp_path / f"{index}.npz").arrays["input"][0] * 255,
                                      made[index].pictures[0].astype(np.float32))
    assert made[2].pictures.shape == (1, 3, 32, 32) and int(made[2].labels[0]) == 1
    assert tuple(made[2].pictures[0, :, 5, 5]) == (220, 30, 30) and tuple(made[1].pictures[0, :, 5, 5]) == (30, 30, 220)
    _one_line_refusal(capsys, ["lesson", "new", str(tmp_path / "c.npz"), "--folder", str(tmp_path / "pics"),
                               "--data", "generated", "--index", "0", "--out", str(out)], "give --data SOURCE, --folder")
    _one_line_refusal(capsys, ["lesson", "new", str(tmp_path / "c.npz"), "--folder", str(tmp_path / "pics"),
                               "--count", "2", "--index", "0", "--out", str(out)], "no --count")
    _one_line_refusal(capsys, ["lesson", "new", str(tmp_path / "c.npz"), "--folder", str(tmp_path / "pics"),
                               "--index", "0", "--out", str(out)], "0.png")                      # the broken one


def test_a_lesson_is_made_of_ones_only_drawing_and_none_is_said_plainly(model, tmp_path, capsys, monkeypatch):
    """A tour: `lesson new --data drawings --index 0` asked for "at least 10" drawings, the rule for
    training on them; a lesson needs only the picture it shows. One drawing makes a lesson (and a trace);
    none says so and how to add one; training still asks for 10."""
    from cnncore.datasets import DRAWINGS_FILE, DrawingsDataset
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "drawn.cnnlesson"
    err = _one_line_refusal(capsys, ["lesson", "new", str(model), "--data", "drawings", "--index", "0", "--out",
                                     str(out)], "no drawings of your own yet", "Draw tab")
    assert "at least" not in err and not out.exists()
    ds = DrawingsDataset(tmp_path / "data" / DRAWINGS_FILE)
    ds.append(np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8), 4)
    assert main(["lesson", "new", str(model), "--data", "drawings", "--index", "0", "--out", str(out)]) == 0
    lesson = load_lesson(out)
    assert lesson.labels == [4] and lesson.source.key == "drawings" and lesson.source.indices == (0,)
    np.testing.assert_array_equal(lesson.pictures[0, 0], ds.images[0])
    assert main(["trace", str(model), "--data", "drawings", "--index", "0", "--out", str(tmp_path / "t.npz")]) == 0
    _one_line_refusal(capsys, ["lesson", "new", str(model), "--data", "drawings", "--index", "1", "--out",
                               str(out)], "picture 1 is out of range (drawings has 1 picture, number 0)")
    _one_line_refusal(capsys, ["train", "--arch", "tiny", "--data", "drawings", "--epochs", "1", "--out",
                               str(tmp_path / "trained.npz")], "you have 1 drawing of your own", "at least 10")


def test_new_and_show_refuse_in_one_line(model, tmp_path, capsys):
    out = str(tmp_path / "x.cnnlesson")
    _one_line_refusal(capsys, ["lesson", "new", str(model), "--data", "generated", "--count", "5", "--index", "5",
                               "--out", out], "picture 5 is out of range", "0..4")
    _one_line_refusal(capsys, ["lesson", "new", str(model), "--index", "0", "--out", out], "give --data SOURCE")
    _one_line_refusal(capsys, ["lesson", "new", str(model), "--data", "generated", "--index", "0", "--out",
                               str(model)], "--out", "same file")
    _one_line_refusal(capsys, ["lesson", "show", str(model)], "not a lesson file")
    _one_line_refusal(capsys, ["lesson"], "give a subcommand")
    assert not (tmp_path / "x.cnnlesson").exists() and model.exists()


def _results(tmp_path, lesson, student, answers):
    clock = iter(datetime(2025, 5, 6, 9, k, tzinfo=timezone.utc) for k in range(60))
    run = LessonRun(lesson, student, tmp_path / f"{student}.json", clock=lambda: next(clock))
    for stop, given in answers:
        while run.position < stop:
            assert run.next()
        assert run.answer(given).valid
    return tmp_path / f"{student}.json"


def test_report_turns_the_classes_results_into_one_table_and_refuses_another_version(model, tmp_path, capsys):
    assert main(["lesson", "new", str(model), "--data", "generated", "--count", "5", "--index", "1",
                 "--out", str(tmp_path / "l.cnnlesson")]) == 0
    base = load_lesson(tmp_path / "l.cnnlesson")
    q = ChoiceQuestion("=Which layers have weights?", ("conv", "maxpool", "dense"), (0, 2))
    lesson = base.replace(stops=[Stop("build", 0, 0, "", None, q), Stop("backprop", 0, 1, "Look.")])
    save_lesson(tmp_path / "l.cnnlesson", lesson)
    ada = _results(tmp_path, lesson, "Ada", [(0, [0, 2])])
    bob = _results(tmp_path, lesson, "Bob", [(0, 1)])
    table = tmp_path / "class.csv"
    capsys.readouterr()
    assert main(["lesson", "report", str(ada), str(bob), "--out", str(table)]) == 0
    assert capsys.readouterr().out == f"wrote {table}: 2 students, 1 question\n"
    rows = list(csv.reader(table.read_text(encoding="utf-8-sig").splitlines()))
    assert rows == [["student", "stop 1", "right (of 1)"], ["Ada", "right: choices 1, 3", "1"],
                    ["Bob", "wrong: choice 2", "0"]]
    assert main(["lesson", "report", str(ada), str(bob), "--lesson", str(tmp_path / "l.cnnlesson"),
                 "--out", str(table)]) == 0
    rows = list(csv.reader(table.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0][1] == "stop 1: =Which layers have weights?" and rows[1][1] == "right: conv + dense"
    edited = lesson.replace(title="edited")                   # another version of the lesson
    eve = _results(tmp_path, edited, "Eve", [(0, [0, 2])])
    before = table.read_bytes()
    err = _one_line_refusal(capsys, ["lesson", "report", str(ada), str(eve), "--out", str(table)],
                            str(eve), "another lesson or another version of it")
    assert "report each lesson's results apart" in err and table.read_bytes() == before
    _one_line_refusal(capsys, ["lesson", "report", str(eve), "--lesson", str(tmp_path / "l.cnnlesson"),
                               "--out", str(table)], "another lesson or another version")
    _one_line_refusal(capsys, ["lesson", "report", str(ada), "--out", str(ada)], "--out", "same file")
    (tmp_path / "junk.json").write_text("{")
    _one_line_refusal(capsys, ["lesson", "report", str(tmp_path / "junk.json"), "--out", str(table)],
                      "not a results file")
    link = tmp_path / "ada-again.json"                       # a student twice: by the same name, or a link
    os.symlink(ada, link)
    for again in (ada, link):
        _one_line_refusal(capsys, ["lesson", "report", str(ada), str(bob), str(again), "--out", str(table)],
                          str(again), "given twice")
    assert table.read_bytes() == before
    (tmp_path / "b").mkdir()                                  # two students named Ada: which row is whose
    other_ada = _results(tmp_path / "b", lesson, "Ada", [(0, 1)])
    assert main(["lesson", "report", str(ada), str(other_ada), "--out", str(table)]) == 0
    assert [r[0] for r in _rows_of(table)[1:]] == [f"Ada ({ada})", f"Ada ({other_ada})"]
    before = table.read_bytes()
    tampered = json.loads(bob.read_text(encoding="utf-8"))    # a choice its question does not have
    tampered["answers"][0]["answer"] = [9]
    (tmp_path / "Cy.json").write_text(json.dumps({**tampered, "student": "Cy"}), encoding="utf-8")
    _one_line_refusal(capsys, ["lesson", "report", str(tmp_path / "Cy.json"), "--lesson",
                               str(tmp_path / "l.cnnlesson"), "--out", str(table)],
                      "stop 1's answer is choice 10, but its question has 3 choices")
    assert table.read_bytes() == before


def test_a_model_whose_sums_overflow_makes_no_lesson(tmp_path, capsys):
    """Weights of 3e38 (finite, so the model loads): eval, predict and trace refused it, but `lesson
    new` wrote a lesson whose every trace the students would have met as NaN."""
    net = Network(preset("tiny"), seed=0)
    net.layers[0].W[...] = 3e38
    save_model(tmp_path / "huge.npz", net)
    out = tmp_path / "l.cnnlesson"
    assert main(["lesson", "new", str(tmp_path / "huge.npz"), "--data", "generated", "--count", "20", "--index", "0",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not a number" in err and err.count("\n") == 1 and not out.exists()


def _rows_of(table):
    return list(csv.reader(table.read_text(encoding="utf-8-sig").splitlines()))
