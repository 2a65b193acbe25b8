"""Predict mode (issue 10 part 1): questions from the learner's own trace, judged against its numbers."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cnncore import predict
from cnncore.network import Network
from cnncore.predict import KINDS, Question, Score, ask, judge, parse_number, tolerance_for
from cnncore.trace import trace

SPEC = {"input": [1, 12, 12], "layers": [
    {"type": "conv", "filters": 3, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"},
    {"type": "maxpool", "size": 2, "stride": 2},
    {"type": "conv", "filters": 2, "kernel": 3, "stride": 1, "padding": 0, "activation": "tanh"},
    {"type": "avgpool", "size": 2, "stride": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "none"}]}


@pytest.fixture(scope="module")
def tr():
    net = Network(SPEC, seed=5)
    return trace(net, np.random.default_rng(2).random((12, 12)).astype(np.float32), 4)


def _steps(tr, kind, layer_type=None):
    return [k for k, s in enumerate(tr.steps) if s.kind == kind and (layer_type is None or s.layer_type == layer_type)]


def _all_questions(tr, seed=0, rounds=6):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(len(tr.steps)):
        for level_score in (Score(), _mastered(1), _mastered(1, 2)):
            for _ in range(rounds):
                q = ask(tr, k, level_score, rng)
                if q is not None:
                    out.append(q)
    return out


def _mastered(*levels):
    s = Score()
    for lv in levels:
        k = next(k for k, v in KINDS.items() if v.level == lv)
        for _ in range(predict.LEVEL_UP):
            s.record(k, True)
    return s


def test_every_kind_is_asked_from_the_trace(tr):
    kinds = {q.kind for q in _all_questions(tr)}
    assert kinds == set(KINDS), set(KINDS) - kinds


def test_number_answers_are_the_traces_own_numbers(tr):
    for q in _all_questions(tr):
        if q.is_choice:
            continue
        assert q.answer == float(tr.arrays[q.key][q.index]), q
        assert q.tolerance == pytest.approx(tolerance_for(q.answer, np.abs(tr.arrays[q.key]).max()))
        assert judge(q, repr(q.answer)).right


def test_tolerance_edges(tr):
    k = _steps(tr, "backward", "conv")[0]
    q = ask(tr, k, Score(), np.random.default_rng(3))
    while q.is_choice:
        q = ask(tr, k, Score(), np.random.default_rng(int(np.random.default_rng().integers(1000))))
    v, tol = q.answer, q.tolerance
    assert tol > 0
    assert judge(q, v + tol).right and judge(q, v - tol).right               # the edge itself counts
    assert not judge(q, v + tol * 1.001 + 1e-12).right and not judge(q, v - tol * 1.001 - 1e-12).right
    assert "accepted within ±" in judge(q, v + 2 * tol).message


def test_tolerance_rule():
    assert tolerance_for(10.0) == pytest.approx(0.2)                       # 2% of the value
    assert tolerance_for(0.0, scale=0.5) == pytest.approx(0.005)           # 1% of the map near zero
    assert tolerance_for(0.001, scale=0.0) == pytest.approx(2e-5)


def test_choice_questions_are_judged_against_the_trace(tr):
    qs = _all_questions(tr, seed=4)
    win = [q for q in qs if q.kind == "winner"]
    assert win
    for q in win:
        i = int(q.key[1:].split(".")[0])
        m, r, c = q.index[1:]
        W = tr.arrays[f"L{i}.x"].shape[-1]
        assert (r * W + c) in tr.arrays[f"L{i}.argmax"][0, m]          # the right choice won a window
        assert f"x({m},{r},{c})" in q.choices[int(q.answer)]
        values = [float(ch.split(" = ")[1].strip("()").replace("−", "-")) for ch in q.choices]
        assert values[int(q.answer)] == pytest.approx(max(values), abs=1e-3)
        wrong = (int(q.answer) + 1) % len(q.choices)
        assert judge(q, int(q.answer)).right and not judge(q, wrong).right
        assert judge(q, str(int(q.answer) + 1)).right                      # typed 1-based number
    for q in (q for q in qs if q.kind == "sign"):
        v = float(tr.arrays[q.key][q.index])
        assert q.choices[int(q.answer)] == ("positive" if v > 0 else "negative" if v < 0 else "zero")
    for q in (q for q in qs if q.kind == "filter_map"):
        assert q.choices[int(q.answer)] == f"z map {q.index[1]}"


def test_easy_kinds_come_first_then_sums(tr):
    k = _steps(tr, "backward", "conv")[0]
    rng = np.random.default_rng(0)
    first = {ask(tr, k, Score(), rng).kind for _ in range(20)}
    assert first <= {"dz1", "sign"}
    later = {ask(tr, k, _mastered(1), rng).kind for _ in range(20)}
    assert later <= {"dW", "dx"} and later


def test_one_term_dz_is_dy_times_the_slope(tr):
    k = _steps(tr, "backward", "conv")[-1]
    q = next(q for q in (ask(tr, k, Score(), np.random.default_rng(s)) for s in range(40)) if q.kind == "dz1")
    i = int(q.key[1:].split(".")[0])
    dy, z = tr.arrays[f"L{i}.dy"][q.index], tr.arrays[f"L{i}.z"][q.index]
    assert q.answer == pytest.approx(float(dy) * (1.0 if z > 0 else 0.0), abs=1e-7)
    assert any(g.startswith("dy = ") for g in q.given) and any(g.startswith("z = ") for g in q.given)


def test_sums_give_their_terms_not_the_total(tr):
    for q in _all_questions(tr, seed=8):
        if q.kind in ("z", "dW", "dx"):
            assert 0 < len(q.given) <= predict.MAX_TERMS
            assert all(" = " in g for g in q.given)


def test_no_question_for_an_update_step(tr):
    for k in _steps(tr, "update"):
        assert ask(tr, k, Score(), np.random.default_rng(0)) is None


def test_bad_answers_are_not_counted():
    q = Question("z", 0, "L0.z", (0, 0, 0, 0), "?", (), (), 1.5, 0.03)
    for bad in ("", "abc", "nan", "inf", "1.2.3"):
        v = judge(q, bad)
        assert not v.valid and "Type a number" in v.message
    assert judge(q, "1,5").right and judge(q, "−1.5").valid and not judge(q, "−1.5").right
    c = Question("sign", 0, "L0.dz", (0, 0, 0, 0), "?", (), ("positive", "negative", "zero"), 1, 0.0)
    assert not judge(c, 7).valid and not judge(c, "maybe").valid and judge(c, "negative").right
    assert parse_number("2e-3") == 0.002 and parse_number(" − 4 ") == -4.0


def test_score_is_kept_as_plain_values():
    s = Score()
    s.record("dz1", True)
    s.record("dz1", False)
    s.record("winner", True)
    text = json.dumps(s.to_dict())
    back = Score.from_dict(json.loads(text))
    assert back.to_dict() == {"dz1": [1, 2], "winner": [1, 1]}
    assert "one-term dz = dy·f′(z): 1/2" in back.summary()
    junk = Score.from_dict({"dz1": [3, 1], "nope": [1, 1], "sign": "x", "winner": [True, 2], "z": [1, 2]})
    assert junk.to_dict() == {"z": [1, 2]}
    assert Score.from_dict("garbage").to_dict() == {}
