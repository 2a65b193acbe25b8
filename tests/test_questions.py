"""The concept checks load, each has exactly one correct answer, and they cover the required topics."""
import json

import pytest

from cnnapp.learn.questions import QuestionFileError, load_questions, parse_questions, questions_path


def test_questions_load_and_have_one_correct_answer():
    qs = load_questions()
    assert len(qs) >= 15
    assert len({q.id for q in qs}) == len(qs)
    for q in qs:
        n = sum(a.correct for a in q.answers)
        assert n == 1 or (q.select_all and 1 <= n < len(q.answers))
        assert q.answers[q.correct_index].correct
        assert all(a.feedback and a.feedback != "Incorrect please try again" for a in q.answers)
        assert len(q.answers) >= 3


def test_questions_cover_the_texts_polls_and_every_step_type():
    qs = {q.id: q for q in load_questions()}
    for needed in ("learning-rate", "pooling-parameters", "filter-channels", "filters-vs-output-maps",
                   "input-gradient-recipe", "filter-gradient-recipe"):
        assert needed in qs
    steps = {q.step for q in qs.values() if q.step}
    for needed in ("forward conv", "activation backward", "maxpool backward", "avgpool backward",
                   "flatten", "dense backward", "loss", "backward conv", "update"):
        assert needed in steps, needed


def test_no_verbatim_quiz_text_from_the_texts():
    raw = questions_path().read_text(encoding="utf-8")
    for quoted in ("What is the purpose of the learning rate in a neural network?",
                   "What is the parameter of pooling operation?",
                   "Incorrect please try again",
                   "The number of \u201cchannels\u201d in any filter equals the number of input maps"):
        assert quoted not in raw


@pytest.mark.parametrize("broken,message", [
    ({"questions": []}, "no questions"),
    ({"questions": [{"id": "a", "topic": "t", "question": "q", "answers": [
        {"text": "x", "correct": True, "feedback": "f"}, {"text": "y", "correct": True, "feedback": "f"}]}]},
     "exactly one"),
    ({"questions": [{"id": "a", "topic": "t", "question": "q", "answers": [
        {"text": "x", "correct": True, "feedback": "f"}, {"text": "y", "correct": False, "feedback": ""}]}]},
     "feedback"),
    ({"questions": [{"id": "a", "topic": "t", "question": "q", "answers": [
        {"text": "x", "correct": True, "feedback": "f"}, {"text": "y", "correct": False, "feedback": "g"}]},
        {"id": "a", "topic": "t", "question": "q", "answers": [
        {"text": "x", "correct": True, "feedback": "f"}, {"text": "y", "correct": False, "feedback": "g"}]}]},
     "twice"),
])
def test_broken_files_are_rejected(broken, message):
    with pytest.raises(QuestionFileError, match=message):
        parse_questions(broken)


def test_unreadable_file(tmp_path):
    p = tmp_path / "q.json"
    p.write_text("{not json", encoding="utf-8")
    with pytest.raises(QuestionFileError):
        load_questions(p)
    with pytest.raises(QuestionFileError):
        load_questions(tmp_path / "missing.json")
    p.write_text(json.dumps({"questions": "nope"}), encoding="utf-8")
    with pytest.raises(QuestionFileError):
        load_questions(p)


def test_every_backprop_step_kind_has_a_question():
    from cnnapp.learn.questions import questions_for_step
    qs = load_questions()
    for kind, layer_type in [("forward", "conv"), ("backward", "conv"), ("backward", "dense"),
                             ("forward", "maxpool"), ("backward", "maxpool"), ("backward", "avgpool"),
                             ("backward", "flatten"), ("loss", "softmax"), ("update", "conv")]:
        found = questions_for_step(qs, kind, layer_type)
        assert found, (kind, layer_type)
    with pytest.raises(ValueError, match="unknown layer type 'nonsense'"):  # never taken for another type
        questions_for_step(qs, "forward", "nonsense")


# ------------------------------------------------------------------ issue 10: new checks, select-all

def test_the_new_concept_checks_load_with_the_right_answers():
    qs = {q.id: q for q in load_questions()}
    want = {
        "conv-layer-select-all": {0, 3},
        "input-gradient-select-all": {0, 1, 2},
        "input-gradient-size": {0},
        "rot180-vs-correlation": {0},
        "pooling-output-size": {0},
        "stride-is-downsampling": {0},
        "l2pool-gradient": None,
        "downsample-gradient": None,
        "upsample-transposed": None,
    }
    for qid, right in want.items():
        assert qid in qs, qid
        if right is not None:
            assert qs[qid].correct_set == frozenset(right), qid
    assert qs["conv-layer-select-all"].select_all and qs["input-gradient-select-all"].select_all
    assert not qs["input-gradient-size"].select_all
    assert "12×12" in qs["input-gradient-size"].answers[0].text
    assert qs["pooling-output-size"].answers[0].text == "4×4"          # (9 − 3)/2 + 1
    q = qs["conv-layer-select-all"]
    assert q.is_right([3, 0]) and not q.is_right([0]) and not q.is_right([0, 1, 3])


@pytest.mark.parametrize("answers,select,message", [
    ([True, True], "all", "one correct and one wrong"),
    ([False, False], "all", "one correct and one wrong"),
    ([True, False], "some", "'select' must be"),
])
def test_select_all_rules(answers, select, message):
    data = {"questions": [{"id": "a", "topic": "t", "question": "q", "select": select, "answers": [
        {"text": f"x{k}", "correct": c, "feedback": "f"} for k, c in enumerate(answers)]}]}
    with pytest.raises(QuestionFileError, match=message):
        parse_questions(data)


def test_a_colour_question_is_asked_first_about_a_step_over_a_colour_picture():
    """Issue 23: the multi-channel sum checked on R, G and B, first for the first conv of a colour network."""
    from cnnapp.learn.questions import questions_for_step
    qs = load_questions()
    colour = [q for q in qs if q.colour]
    assert [q.id for q in colour] == ["colour-planes-sum"] and colour[0].step == "forward conv"
    q = colour[0]
    assert q.select_all and [a.correct for a in q.answers] == [True, True, False, False]
    assert "27 products" in q.answers[0].text and "9 from each of the R, G and B planes" in q.answers[0].text
    assert questions_for_step(qs, "forward", "conv", colour=True)[0] is q
    grey = questions_for_step(qs, "forward", "conv")
    assert grey[-1] is q and grey[0] is not q and len(grey) > 1


def test_a_question_s_picture_is_colour_or_left_out():
    base = {"id": "q", "topic": "t", "question": "?", "answers": [
        {"text": "a", "correct": True, "feedback": "f"}, {"text": "b", "correct": False, "feedback": "f"}]}
    assert parse_questions({"questions": [dict(base, picture="colour")]})[0].colour
    assert not parse_questions({"questions": [base]})[0].colour
    with pytest.raises(QuestionFileError, match="'picture' must be \"colour\""):
        parse_questions({"questions": [dict(base, picture="grey")]})
