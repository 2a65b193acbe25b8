"""Issue 22: the texts, exactly (part 2). Each test reads the words, numbers or judgement the learner
sees, checked against the texts (the blog post, the book chapter, the lecture slides) and against
arithmetic done here."""
from __future__ import annotations

import json
import os
import re

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cnncore.examples import MultiChannelExample, PoolingExample, StridedConvExample, identity_maps  # noqa: E402
from cnncore.kernels import conv2d_backward  # noqa: E402
from cnncore.network import Network  # noqa: E402
from cnncore.notation import LEGEND  # noqa: E402
from cnncore.trace import build_steps, trace  # noqa: E402
from cnnapp.learn.questions import load_questions  # noqa: E402

SPEC = {"input": [1, 10, 10], "layers": [
    {"type": "conv", "filters": 2, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"},
    {"type": "conv", "filters": 3, "kernel": 3, "stride": 2, "padding": 1, "activation": "relu"},
    {"type": "upsample", "factor": 2},
    {"type": "conv", "filters": 2, "kernel": 3, "stride": 1, "padding": 0, "activation": "relu"},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "none"}]}


def _step(kind, layer, spec=SPEC):
    return next(s for s in build_steps(spec) if s.kind == kind and s.layer == layer)


def _questions():
    return {q.id: q for q in load_questions()}


def _rot(a):
    return a[::-1, ::-1]


def _corr(a, k):
    """The legend's ``(a ⋆ k)(r,c) = Σ_i Σ_j a(r+i, c+j)·k(i,j)``, valid part only."""
    K = k.shape[0]
    n = a.shape[0] - K + 1
    return np.array([[np.sum(a[r:r + K, c:c + K] * k) for c in range(n)] for r in range(n)])


# ---------------------------------------------------------------------------------------- wrong

def test_1_every_recipe_that_gives_dx_is_marked_right():
    """"Flip dz instead of the filters, then flip the result back" gives dx too: it may not be marked
    wrong. Each recipe of the check is computed here and compared with the kernels' dx."""
    rng = np.random.default_rng(0)
    x, w, dz = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal((1, 3, 4, 4))
    dx = conv2d_backward(dz, x, w, 1, 0)[0][0, 1]
    pad = [np.pad(dz[0, n], 2) for n in range(3)]
    turned_filters = sum(_corr(pad[n], _rot(w[n, 1])) for n in range(3))
    turned_dz_back = _rot(sum(_corr(_rot(pad[n]), w[n, 1]) for n in range(3)))
    turned_dz_kept = sum(_corr(_rot(pad[n]), w[n, 1]) for n in range(3))
    assert np.allclose(turned_filters, dx) and np.allclose(turned_dz_back, dx) and not np.allclose(turned_dz_kept, dx)
    q = _questions()["input-gradient-recipe"]
    by_text = {a.text: a for a in q.answers}
    back = [a for t, a in by_text.items() if "dz maps" in t and "instead" in t and re.search(r"\bback\b", t)]
    assert back and all(a.correct for a in back), "turning dz and the result back is a right recipe"
    kept = [a for t, a in by_text.items() if "dz maps" in t and "instead" in t and a not in back]
    assert all(not a.correct for a in kept)
    assert q.select_all and len(q.correct_set) == 2


def test_2_dW_with_padding_correlates_the_padded_input():
    """5×5 ⋆ 5×5 gives 1×1: dW needs pad_P(x), as the slides say for an input padded going forward."""
    back = _step("backward", 0)
    assert "dW(m,n) = pad_P(x(m)) ⋆ dilate(dz(n))" in back.equation
    assert "zero-padded by P = 1 as in the forward pass (12×12" in back.explanation
    strided = _step("backward", 1)          # 10×10 input, P = 1, S = 2: 12×12 ⋆ 9×9 gives 4×4, cut to 3×3
    assert "cut to K×K" in strided.equation and "gives 4×4, of which the first 3×3 is dW" in strided.explanation
    ex = MultiChannelExample()
    ex.set_setting("padding", 1)
    assert "dW = pad_P(x) ⋆ dilate(dz)" in "\n".join(ex.lines())
    assert "dW = x ⋆ dilate(dz)" not in "\n".join(ex.lines())
    from cnnapp.learn.identity_view import _groups
    maps = identity_maps(ex.results["dz"], ex.params["y0"], ex.params["w"], 1, 1)
    steps = _groups(maps, ex.results["dz"], ex.params["w"], "dw")
    assert "pad_P(x(m))" in steps[0].title and steps[0].array.shape == (2, 7, 7)       # 5×5 padded by 1
    assert "pad_P(x(m)) ⋆ dilate(dz(n))" in steps[3].title
    # the drawn step 1 correlated with the drawn step 3 is the drawn step 4 (and the kernels' dW)
    for n in range(2):
        for m in range(2):
            assert np.allclose(_corr(steps[0].array[m], steps[2].array[n])[:3, :3], steps[3].array[n, m])
    assert np.allclose(maps["dw_identity"], maps["dw_kernel"])


def test_3_pooling_output_size_rounds_down_and_says_what_is_left_out():
    ex = PoolingExample()
    ex.set_setting("size", 3)                    # stride 2: (4 − 3)/2 = 0.5
    first = ex.lines()[0]
    assert "⌊(4 − 3)/2⌋ + 1 = 1" in first and "(4 − 3)/2 + 1 = 1 " not in first
    assert "last row and column" in first and "never" in first
    assert ex.results["y"].shape == (1, 1)


# ----------------------------------------------------------------------------------- misleading

def test_5_a_flip_then_correlate_is_never_called_convolving():
    qs = _questions()
    for qid in ("input-gradient-recipe", "input-gradient-select-all"):
        for a in qs[qid].answers:
            assert not re.search(r"\b[Cc]onvolve", a.text), a.text
            if a.correct and "dz" in a.text:
                assert "correlat" in a.text.lower()
    ex = StridedConvExample()
    assert "convolved" not in ex.lines()[-1] and "correlated (⋆)" in ex.lines()[-1]


def test_5_the_identities_view_says_correlate_where_the_learner_reads_it(qtbot):
    from cnnapp.learn.identity_view import IdentityView
    view = IdentityView()
    qtbot.addWidget(view)
    view.source.setCurrentIndex(0)
    view.dx_button.setChecked(True)
    view.refresh()
    shown = [view.dx_button.toolTip(), *(g.title for g in view._groups)]
    assert not any(re.search(r"\b[Cc]onvolve", t) for t in shown), shown
    assert "correlate (⋆) with the turned" in view.dx_button.toolTip()
    assert any(t.startswith("5. correlate (⋆) with the turned filters") for t in shown), shown


def test_6_the_legend_says_who_writes_which_sign(qtbot):
    from cnnapp.learn.notation_view import NotationView
    view = NotationView()
    qtbot.addWidget(view)
    shown = view.shown_text()
    intro = shown.splitlines()[0]
    assert "The texts use ∗" not in intro
    assert "blog post" in intro and "⊗" in intro and "book chapter" in intro
    assert "a ⊗ w" in LEGEND


def test_7_the_legend_states_the_shift_between_convolution_with_a_turned_filter_and_correlation():
    """(a ∗ rot180(w))(r,c) = Σ a(r−i, c−j)·w(K−1−i, K−1−j) is (a ⋆ w)(r−K+1, c−K+1)."""
    rng = np.random.default_rng(3)
    a, w = rng.standard_normal((6, 6)), rng.standard_normal((3, 3))
    K = 3
    rot = np.array([[w[K - 1 - i, K - 1 - j] for j in range(K)] for i in range(K)])
    conv = np.array([[sum(a[r - i, c - j] * rot[i, j] for i in range(K) for j in range(K))
                      for c in range(K - 1, 6)] for r in range(K - 1, 6)])
    corr = _corr(a, w)
    assert np.allclose(conv, corr)                           # (r, c) = (2, 2) of ∗ is (0, 0) of ⋆ ...
    assert not np.isclose(conv[0, 0], corr[2, 2])            # ... not (2, 2): equal only after the shift
    assert "rot180(w)(i,j) = w(K−1−i, K−1−j)" in LEGEND
    assert "shifted by K−1" in LEGEND and "so a ∗ rot180(w) = a ⋆ w." not in LEGEND


def test_11_the_update_step_says_it_is_a_batch_of_one_and_shows_the_mean_loss():
    net = Network(SPEC, seed=0)
    st = next(s for s in trace(net, np.random.default_rng(0).random((10, 10)), 1).steps if s.kind == "update")
    assert "makes next" not in st.explanation
    assert "batch of one" in st.explanation and "(1/T) Σ_t" in st.explanation
    assert "L = (1/T) Σ_t div_t" in st.equation
    q = _questions()["batch-mean-gradient"]                   # and a concept check on the update step
    assert q.step == "update" and "(1/T) Σ_t" in q.answers[q.correct_index].text


def test_14_the_learner_reads_the_legend_letters_and_no_code_names():
    """No y(m, x, y), z(n, x, y), dz(l, n) or (conv2d_backward) in what the learner reads."""
    raw = json.dumps([[q.question] + [a.text + " " + a.feedback for a in q.answers]
                      for q in load_questions()], ensure_ascii=False)
    from cnnapp.learn.identity_view import _groups
    ex = MultiChannelExample()
    maps = ex.results
    titles = [g.title for mode in ("dx", "dw") for g in _groups(maps, maps["dz"], ex.params["w"], mode)]
    shown = raw + "\n".join(titles) + "\n".join(s.explanation + s.equation for s in build_steps(SPEC))
    for bad in (r"\(m, x, y\)", r"\(n, x, y\)", r"dz\(l, n\)", r"conv2d_backward", r"\(x, y\)"):
        assert not re.search(bad, shown), bad


def test_15_upsampling_says_its_size_convention_and_the_slides_advice():
    up = _step("forward", 2)
    assert "(H − 1)·S + 1, not S·H" in up.explanation and "the slides" in up.explanation
    assert "pooling" in up.explanation and "last layer" in up.explanation


def test_padding_to_keep_the_size_is_said_where_padding_is_met():
    fwd = _step("forward", 0)
    assert "P = (K − 1)/2 = 1 keeps each map the size of its input" in fwd.explanation
    assert "P = (K − 1)/2 = 1 would keep the size" in _step("forward", 3).explanation
    assert "P = (K − 1)/2" in LEGEND and "centred" in LEGEND and "eq. 3" in LEGEND


def test_8_the_loops_use_x_for_the_input_say_they_count_from_0_and_skip_the_padding(qtbot):
    from cnnapp.widgets.loops_panel import LoopsPanel
    t = trace(Network(SPEC, seed=0), np.random.default_rng(0).random((10, 10)), 1)
    panel = LoopsPanel()
    qtbot.addWidget(panel)
    for kind in ("forward", "backward"):
        panel.show_step(t, next(s for s in t.steps if s.kind == kind and s.layer == 1))
        text = panel.text().replace("&#x27;", "'")
        assert "dL/dy" not in text and "y·dL/dz" not in text          # dy is the output's gradient here
        assert "count from 0" in text and "x + x′ − 1 is rS + i − P" in text
        assert "padding zero" in text
    assert "dL/dx += w · dL/dz" in text and "dL/dw += x · dL/dz" in text
