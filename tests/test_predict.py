"""Predict mode (issue 10 part 1): questions from the learner's own trace, judged against its numbers."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cnncore import predict
from cnncore.architecture import preset
from cnncore.explain import breakdown
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


RESAMPLED = {"input": [1, 8, 8], "layers": [
    {"type": "conv", "filters": 2, "kernel": 3, "padding": 1, "activation": "relu"},
    {"type": "upsample", "factor": 2},
    {"type": "conv", "filters": 2, "kernel": 3, "stride": 2, "activation": "relu"},
    {"type": "downsample", "factor": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 10}]}


@pytest.fixture(scope="module")
def resampled():
    return trace(Network(RESAMPLED, seed=1), np.random.default_rng(0).random((8, 8)).astype(np.float32), 1)


def test_every_kind_is_asked_from_the_trace(tr, resampled):
    kinds = {q.kind for q in _all_questions(tr) + _all_questions(resampled)}
    assert kinds == set(KINDS), set(KINDS) - kinds


#: Where each resampling step copies from, written from the layers' equations: (type, step kind) ->
#: whether element (i, j) of the asked array comes from element (a, b) of its source, factor S.
_COPIES = {("upsample", "forward"): lambda i, j, a, b, S: (a * S, b * S) == (i, j),
           ("downsample", "forward"): lambda i, j, a, b, S: (a, b) == (i * S, j * S),
           ("upsample", "backward"): lambda i, j, a, b, S: (a, b) == (i * S, j * S),
           ("downsample", "backward"): lambda i, j, a, b, S: (a * S, b * S) == (i, j)}


def test_an_up_or_downsampling_step_asks_where_each_value_is_copied_from(resampled):
    """Every element of every resampling step: the one right choice is the place its layer's equation
    names, holding the same number, or "none" exactly where the element is a 0 put there; every other
    choice is judged wrong (before, these types asked nothing: no declaration)."""
    from cnncore.predict_makers import NOTHING_COPIED
    tr, seen = resampled, set()
    for k, st in enumerate(tr.steps):
        if st.layer_type not in ("upsample", "downsample") or st.kind not in ("forward", "backward"):
            continue
        kind = "copied" if st.kind == "forward" else "copied_dx"
        assert predict.kinds_for(st) == [kind]
        S = tr.spec["layers"][st.layer]["factor"]
        source = "x" if kind == "copied" else "dy"
        key = predict.element_key(st, kind)
        src = tr.arrays[f"L{st.layer}.{source}"][0]
        for idx in np.ndindex(tr.arrays[key].shape):
            q = predict.question_at(tr, k, kind, idx)
            _, m, i, j = idx
            names = [(a, b) for a in range(src.shape[1]) for b in range(src.shape[2])
                     if _COPIES[st.layer_type, st.kind](i, j, a, b, S)]
            right = q.choices[q.answer]
            if names:
                (a, b), = names
                assert right == f"{source}({m},{a},{b})" and src[m, a, b] == tr.arrays[key][idx]
            else:
                assert right == NOTHING_COPIED and tr.arrays[key][idx] == 0
            assert all(not judge(q, w).right for w in range(len(q.choices)) if w != q.answer)
            assert len(q.choices) >= 2 and len(set(q.choices)) == len(q.choices)
            seen.add((st.layer_type, st.kind, right == NOTHING_COPIED))
    assert seen == {("upsample", "forward", True), ("upsample", "forward", False), ("downsample", "forward", False),
                    ("upsample", "backward", False), ("downsample", "backward", True),
                    ("downsample", "backward", False)}


def test_number_answers_are_the_traces_own_numbers(tr):
    for q in _all_questions(tr):
        if q.is_choice:
            continue
        assert q.answer == float(tr.arrays[q.key][q.index]), q
        bd = breakdown(tr, q.key, q.index, tr.steps[q.step])
        assert q.tolerance == pytest.approx(tolerance_for(q.answer, [t.value for t in bd.terms]
                                                          if bd.combine == "sum" else ()))
        assert q.tolerance <= 0.1 * abs(q.answer)
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
    assert tolerance_for(1.0, [0.6, -0.4, 0.8]) == pytest.approx(0.02)     # the terms' rounding is smaller
    assert tolerance_for(0.05, [3.0, -2.95]) == pytest.approx(0.02975)     # 0.5% of the terms that cancel
    assert tolerance_for(3.4e-6, [3.4e-6]) == pytest.approx(6.8e-8)        # never the rest of the map


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
        assert judge(q, str(int(q.answer) + q.first)).right                # typed as it is listed
        assert q.numbered()[int(q.answer)].startswith(f"{int(q.answer) + q.first}. ")
    for q in (q for q in qs if q.kind == "sign"):
        v = float(tr.arrays[q.key][q.index])
        assert q.choices[int(q.answer)] == ("positive" if v > 0 else "negative" if v < 0 else "zero")
    for q in (q for q in qs if q.kind == "filter_map"):
        assert q.choices[int(q.answer)] == f"z map {q.index[1]}"
        # the number typed is the map's: filter 17's answer was "18" (typing 17 chose z map 16, counted wrong)
        assert judge(q, str(q.index[1])).right and q.numbered()[q.index[1]] == f"{q.index[1]}. z map {q.index[1]}"
        assert q.numbers_text() == f"0–{len(q.choices) - 1}"
    sign = next(q for q in qs if q.kind == "sign")                    # other choices still count from 1
    assert q.first == 0 and sign.first == 1 and sign.numbered()[0].startswith("1. ")


def test_a_chosen_element_is_asked_as_predict_mode_asks_it(tr):
    """question_at (a lesson's stop) builds the very question ask() makes about that element; an
    element that makes no fair question gives None, a kind the step does not ask is an error."""
    qs = _all_questions(tr, seed=2)
    for q in (q for q in qs if q.kind not in ("winner", "filter_map")):
        assert predict.question_at(tr, q.step, q.kind, q.index) == q
    for q in (q for q in qs if q.kind == "filter_map"):
        n = q.index[1]
        assert predict.question_at(tr, q.step, "filter_map", (n, 0, 1, 2)) == q
    k = _steps(tr, "backward", "maxpool")[0]
    dy = tr.arrays[f"L{tr.steps[k].layer}.dy"]
    asked = [predict.question_at(tr, k, "winner", (0, *ix)) for ix in np.ndindex(dy.shape[1:])]
    assert any(asked) and all(q is None or q.kind == "winner" for q in asked)
    zero = next(ix for ix in np.ndindex(tr.arrays["L0.dz"].shape) if tr.arrays["L0.dz"][ix] == 0)
    back0 = _steps(tr, "backward", "conv")[-1]
    assert predict.question_at(tr, back0, "dz1", zero) is None            # 0 is the sign question's
    assert predict.question_at(tr, back0, "sign", zero).choices[2] == "zero"
    with pytest.raises(ValueError, match="asks no 'pool' question"):
        predict.question_at(tr, back0, "pool", zero)
    with pytest.raises(ValueError, match="outside its shape"):
        predict.question_at(tr, back0, "sign", (0, 99, 0, 0))


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
            assert 0 < len(q.given) <= predict.MAX_TERMS + 1          # and the zero products in one line
            assert all(" = " in g for g in q.given if not g.startswith("the other "))


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


def test_a_sentence_writes_a_negative_number_plainly_and_an_equation_brackets_it_after_an_operator(tr):
    """A tour: a verdict read "the value is (−0.141288), you said (−0.1413)", the brackets of an equation's
    factor ``3·(−0.2)`` inside a sentence. A sentence writes ``−0.141288``; brackets stay where an operator
    comes before the number."""
    from cnncore.terms import Breakdown, Ref, Term, num, operand
    q = Question("z", 0, "L0.z", (0, 0, 0, 0), "?", (), (), -0.141288, 0.001)
    message = judge(q, "-0.1413").message
    assert message.startswith("Right: the value is −0.141288; you said −0.1413 (off by") and "(−" not in message
    assert num(-0.25) == "−0.25" and operand(-0.25) == "(−0.25)" and operand(0.25) == "0.25"
    terms = [Term("a", (-0.5,), -0.5, ()), Term("b·c", (3.0, -0.2), -0.6, ()), Term("d", (-0.1,), -0.1, ())]
    bd = Breakdown("z", "", Ref("z", (0,)), terms, -1.2, -1.2, "sum", [])
    assert bd.written_out() == "−0.5 + 3·(−0.2) + (−0.1) = −1.2"
    assert terms[0].written() == "−0.5" and terms[1].written(sep=" · ") == "3 · (−0.2)"
    given = [line for q in _all_questions(tr) if q.kind == "dz1" for line in q.given if line.startswith("dy = ")]
    assert any("−" in line for line in given) and not any("(−" in line for line in given)   # "dy = −0.3"
    verdicts = [judge(q, q.answer).message for q in _all_questions(tr) if not q.is_choice and q.answer < 0]
    assert verdicts and not any("(−" in v for v in verdicts)


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


# ------------------------------------------------------------ issue 22: a predict mode that cannot be gamed

LENET = preset("lenet")
# padding, stride 2, avgpool, l2pool, upsample, downsample: the issue's second trace
NINE = {"input": [1, 28, 28], "layers": [
    {"type": "conv", "filters": 6, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"},
    {"type": "avgpool", "size": 2},
    {"type": "conv", "filters": 8, "kernel": 3, "stride": 2, "padding": 1, "activation": "relu"},
    {"type": "upsample", "factor": 2},
    {"type": "conv", "filters": 8, "kernel": 3, "padding": 0, "activation": "tanh"},
    {"type": "l2pool", "size": 2, "stride": 1},
    {"type": "downsample", "factor": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "none"}]}


@pytest.fixture(scope="module")
def issue_traces():
    """LeNet after two Adam steps, the nine-layer net after two SGD-momentum steps with weight decay,
    each traced on two generated digits (blank background, as the issue's traces)."""
    from cnncore.datasets import generated_digits
    from cnncore.training import TrainConfig, Trainer
    X, y = generated_digits(64, seed=2)
    out = []
    for spec, cfg in ((LENET, TrainConfig(epochs=1, augment=0)),
                      (NINE, TrainConfig(optimizer="sgd", momentum=0.9, weight_decay=1e-3, epochs=1, augment=0))):
        net = Network(spec, seed=0)
        for _ in Trainer(net, X, y, config=cfg).run():
            pass
        out += [trace(net, X[k], int(y[k])) for k in (0, 5)]
    assert {t.settings["name"] for t in out} == {"adam", "sgd"} and out[-1].settings["weight_decay"] > 0
    return out


@pytest.fixture(scope="module")
def drawn(issue_traces):
    return _draw(issue_traces)


def _draw(traces, n=1000, seed=0):
    """``n`` questions over every step of the traces, the learner at each of the three levels."""
    rng = np.random.default_rng(seed)
    scores = (Score(), _mastered(1), _mastered(1, 2))
    out = []
    while len(out) < n:
        t = traces[int(rng.integers(len(traces)))]
        k = int(rng.integers(len(t.steps)))
        q = ask(t, k, scores[int(rng.integers(3))], rng)
        if q is not None:
            out.append((t, q))
    return out


def test_typing_zero_or_a_wild_number_does_not_pass(drawn):
    """Issue 22 items 10 and 13: over 1,000 drawn questions typing 0 passes at most 5% of them (it passed
    44% of layer-0 z questions), and an answer 10,000 times too big is never right (a dense dW of
    3.4e-06 accepted ±0.05)."""
    numbers = [q for _, q in drawn if not q.is_choice]
    types = {t.steps[q.step].layer_type for t, q in drawn}
    assert {"conv", "maxpool", "avgpool", "l2pool", "dense", "softmax"} <= types
    assert {q.kind for q in numbers} >= {"z", "dx", "dz1", "dw1", "pool", "softmax"}
    zero = sum(judge(q, "0").right for q in numbers)
    assert zero <= 0.05 * len(drawn), zero
    for q in numbers:
        assert not judge(q, repr(q.answer * 1e4)).right, q
        assert not judge(q, repr(q.answer / 2)).right, q
        assert judge(q, repr(q.answer * 1.019)).right                         # 2% of the answer always passes


def test_no_sum_is_a_bias_alone(drawn):
    """Issue 22 item 10: on blank background z = b (52% of layer-0 questions); every sum asked has a
    product that is not 0."""
    for t, q in drawn:
        if q.kind in ("z", "dW", "dx"):
            bd = breakdown(t, q.key, q.index, t.steps[q.step])
            assert any(len(term.factors) > 1 and term.value != 0 for term in bd.terms), q.prompt


def test_a_tied_window_is_never_asked_which_input_wins(drawn):
    """Issue 22 item 9: a quarter of LeNet's first windows tie at relu(b); the question was judged by
    the one cell the kernel happened to keep."""
    winners = [(t, q) for t, q in drawn if q.kind == "winner"]
    assert len(winners) > 20
    for t, q in winners:
        values = [float(c.split(" = ")[1].strip("()").replace("−", "-")) for c in q.choices]
        assert values.count(max(values)) == 1, q.choices
        assert values[int(q.answer)] == max(values)
        i = int(q.key[1:].split(".")[0])
        W = t.arrays[f"L{i}.x"].shape[-1]
        assert q.index[2] * W + q.index[3] in t.arrays[f"L{i}.argmax"][0, q.index[1]]


def test_4_prompt_reveal_and_update_write_a_filter_index_the_same_way():
    """Issue 22 item 4: predict asked dW(1,0,0,0) and revealed dW(0,1,0,0); the update said
    new w(3,5,2,1) where the dx breakdown said w(5,3,2,1). All now write w(m,n,i,j)."""
    import re
    from cnncore.pseudocode import CONV_LOOPS
    spec = {"input": [3, 5, 5], "layers": [
        {"type": "conv", "filters": 2, "kernel": 3, "activation": "tanh"},
        {"type": "conv", "filters": 4, "kernel": 2, "activation": "tanh"},
        {"type": "flatten"}, {"type": "dense", "units": 10}]}
    t = trace(Network(spec, seed=3), np.random.default_rng(1).random((3, 5, 5)), 2)
    k = next(k for k, s in enumerate(t.steps) if s.kind == "backward" and s.layer == 0)
    rng = np.random.default_rng(0)
    seen = 0
    for _ in range(200):
        q = ask(t, k, _mastered(1, 2), rng)
        if q.kind != "dW" or q.index[0] == q.index[1]:
            continue
        n, m, i, j = q.index
        asked = re.search(r"dW\((\d+),(\d+),(\d+),(\d+)\)", q.prompt).groups()
        assert tuple(map(int, asked)) == (m, n, i, j)
        assert breakdown(t, q.key, q.index, t.steps[q.step]).title.endswith(f"dW({m},{n},{i},{j})")
        seen += 1
    assert seen
    upd = next(s for s in t.steps if s.kind == "update" and s.layer == 1)
    assert breakdown(t, "L1.W", (3, 1, 0, 1), upd).title == "Update: new w(1,3,0,1)"
    dx = breakdown(t, "L1.dx", (0, 1, 1, 1), None)
    assert any(term.label.endswith("w(1,3,0,0)") for term in dx.terms)            # w(m,n,i,j), m = 1, n = 3
    lit = [lst for lst in CONV_LOOPS["backward"] if lst.lit("dW", (3, 1, 0, 1), t.spec["layers"][1],
                                                            (2, 3, 3), (4, 2, 2))]
    assert all("m = 1, n = 3, i = 0, j = 1" in lst.lit("dW", (3, 1, 0, 1), t.spec["layers"][1], (2, 3, 3),
                                                       (4, 2, 2)).words for lst in lit) and lit


@pytest.fixture(scope="module")
def digit_trace():
    """LeNet after a little training, on a generated digit: inputs and units that are 0 abound."""
    from cnncore.datasets import generated_digits, to_input
    from cnncore.training import TrainConfig, Trainer
    X, y = generated_digits(200, seed=3)
    net = Network(preset("lenet"), seed=0)
    for _ in Trainer(net, X, y, None, None, TrainConfig(epochs=1)).run():
        pass
    return trace(net, to_input(X[:1])[0, 0], int(y[0]))


def _first_conv_dW(tr):
    return next(k for k, st in enumerate(tr.steps) if "dW" in predict.kinds_for(st) and st.layer == 0)


def test_a_filter_gradient_sum_is_asked_where_few_of_its_products_are_not_0(digit_trace):
    """A conv dW sums one product per output position (LeNet's first layer: 576); most are 0 where
    the input is background or the unit is off, and only those that are not count against the
    learner's limit (none of 1,849 elements was askable when every product counted)."""
    from cnncore.predict import question_at
    tr, step = digit_trace, _first_conv_dW(digit_trace)
    W = tr.arrays["L0.dW"]
    asked = [q for idx in np.ndindex(*W.shape) if (q := question_at(tr, step, "dW", idx)) is not None]
    assert asked, "no filter gradient of the first layer is askable"
    q = asked[0]
    bd = breakdown(tr, "L0.dW", q.index, tr.steps[step])
    zeros = sum(1 for t in bd.terms if t.value == 0)
    assert len(q.given) <= predict.MAX_TERMS + 1 and zeros and f"the other {zeros:,} products" in q.given[-1]


def test_why_an_element_makes_no_question_names_the_rule_it_breaks(digit_trace):
    from cnncore.predict import question_at, why_not_asked
    tr, step = digit_trace, _first_conv_dW(digit_trace)
    W = tr.arrays["L0.dW"]
    refused = [idx for idx in np.ndindex(*W.shape) if question_at(tr, step, "dW", idx) is None]
    reasons = {why_not_asked(tr, step, "dW", idx) for idx in refused}
    assert refused and any("products that are not 0, more than the 30" in r for r in reasons), reasons
