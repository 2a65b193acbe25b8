"""Issue 10 part 3: the texts said exactly. Each test reads the text the app shows."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from cnncore import explain
from cnncore.examples import MultiChannelExample, PoolingExample, StridedConvExample
from cnncore.network import Network
from cnncore.notation import LEGEND, TEXT_TITLES
from cnncore.trace import build_steps, trace
from cnnapp.learn.questions import questions_path

SPEC = {"input": [1, 12, 12], "layers": [
    {"type": "conv", "filters": 2, "kernel": 3, "stride": 1, "padding": 0, "activation": "relu"},
    {"type": "conv", "filters": 3, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"},
    {"type": "conv", "filters": 2, "kernel": 3, "stride": 2, "padding": 1, "activation": "relu"},
    {"type": "maxpool", "size": 2, "stride": 1},
    {"type": "avgpool", "size": 2, "stride": 1},
    {"type": "l2pool", "size": 2, "stride": 1},
    {"type": "upsample", "factor": 2},
    {"type": "downsample", "factor": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "none"}]}

# an index pair (x, y) or a row written xS: the input/output letters doing double duty as indices
DOUBLE_DUTY = re.compile(r"\(\s*\w+\s*,\s*x\s*,\s*y\s*\)|xS|yS|\by\(l−1|dY")


def _steps():
    return build_steps(SPEC)


def test_legend_defines_both_symbols_and_the_links_the_texts_make():
    assert "a ⋆ w" in LEGEND and "correlation" in LEGEND
    assert "a ∗ w" in LEGEND and "true convolution" in LEGEND and "eq. 2" in LEGEND
    assert "z = rot180(w) ∗ a + b" in LEGEND and "z = a ⋆ w + b" in LEGEND
    assert "∂C/∂w = rot180(δ) ∗ a" in LEGEND and "dW = a ⋆ dz" in LEGEND


def test_no_equation_uses_a_letter_for_two_things():
    for s in _steps():
        assert not DOUBLE_DUTY.search(s.equation), (s.title, s.equation)


def test_conv_steps_use_correlation_for_forward_and_dW_and_say_the_dx_recipe():
    by = {(s.kind, s.layer): s for s in _steps()}
    fwd = by[("forward", 0)].equation
    assert "x(m, rS+i−P, cS+j−P)" in fwd and "z = x ⋆ W + b" in fwd and "∗" not in fwd
    back = by[("backward", 1)]
    assert "dW(m,n) = pad_P(x(m)) ⋆ dilate(dz(n))" in back.equation
    assert "dx = unpad_P(pad_K−1(dilate(dz)) ⋆ rot180(W)ᵀ)" in back.equation
    # layer 1: 10×10 input, padding 1, 10×10 dz maps: padded by K−1 = 2 → 12×12, border deleted → 10×10
    assert "10×10 dz maps are padded with K − 1 zeros" in back.explanation
    assert "gives 12×12 maps ((H+K−1)×(W+K−1)" in back.explanation and "the size of the padded input" in back.explanation
    assert "1-wide border that belongs to the forward padding is deleted, leaving 10×10" in back.explanation
    strided = by[("backward", 2)].explanation
    assert "dilated by the stride to 9×9" in strided and "gives 11×11 maps" in strided
    unpadded = [s for s in _steps() if s.kind == "backward" and s.layer == 0][0]
    assert "first layer" in unpadded.explanation


def test_a_strided_layer_with_a_one_by_one_output_is_not_called_stride_1():
    """A stride-2 convolution whose dz is 1×1 was said to correlate "its dz map as it is (1×1,
    stride 1)": dilating a 1×1 map changes nothing, but the stride is 2."""
    from cnncore.layers.conv import dw_words
    spec = {"kernel": (3, 3), "stride": (2, 2), "padding": (0, 0)}
    words = dw_words(spec, (1, 3, 3), (2, 1, 1))
    assert "(1×1, stride 1)" not in words and "S = 2, which leaves a 1×1 map as it is" in words
    assert "as it is (3×3, stride 1)" in dw_words({**spec, "stride": (1, 1)}, (1, 5, 5), (2, 3, 3))
    assert "dilated by the stride to 3×3" in dw_words(spec, (1, 7, 7), (2, 2, 2))


def test_a_layer_without_padding_says_there_is_none_to_delete():
    spec = {"input": [1, 8, 8], "layers": [
        {"type": "conv", "filters": 1, "kernel": 3, "padding": 0},
        {"type": "conv", "filters": 1, "kernel": 3, "padding": 0},
        {"type": "flatten"}, {"type": "dense", "units": 10}]}
    back = next(s for s in build_steps(spec) if s.kind == "backward" and s.layer == 1)
    assert "6×6 dz maps" not in back.explanation and "4×4 dz maps are padded" in back.explanation
    assert "gives 6×6 maps" in back.explanation and "no forward padding to delete" in back.explanation


def test_breakdowns_name_the_input_x_and_its_gradient_dx():
    net = Network(SPEC, seed=1)
    t = trace(net, np.random.default_rng(0).random((12, 12)), 3)
    z = explain.breakdown(t, "L1.z", (0, 1, 2))
    assert z.terms[0].label.startswith("w(0,0,0,0) · x(0,") and "x(m, rS+i−P, cS+j−P)" in z.equation
    dx = explain.breakdown(t, "L1.dx", (0, 3, 3))
    assert dx.title.startswith("Backward to the input: dx(0,3,3)") and dx.equation.startswith("dx(m,r,c)")
    dw = explain.breakdown(t, "L1.dW", (0, 0, 1, 1))
    assert "· x(0," in dw.terms[0].label
    for key, idx in (("L3.y", (0, 1, 1)), ("L4.y", (0, 1, 1)), ("L5.y", (0, 1, 1))):
        bd = explain.breakdown(t, key, idx)
        assert bd.terms[0].label.startswith("x(") and not DOUBLE_DUTY.search(bd.equation), (key, bd.equation)


def test_max_pool_backward_marks_only_the_window_the_pixel_won():
    ex = PoolingExample()
    ex.set_setting("stride", 1)
    for r in range(4):
        for c in range(4):
            bd = ex.explain("dx", (r, c))
            for t in bd.terms:
                assert ("[winner]" in t.label) == t.chosen, (r, c, t.label)
    assert any("[lost]" in t.label for t in ex.explain("dx", (1, 1)).terms)


def test_pooling_example_uses_the_pages_names_and_a_title_that_follows_the_settings():
    ex = PoolingExample()
    bd = ex.explain("y", (0, 1))
    assert [t.label for t in bd.terms] == ["x13", "x14", "x23", "x24"] and bd.title.endswith("y12")
    assert "x13" in "\n".join(ex.lines())
    assert "winner is x24" in bd.notes[0] or "winner is x" in bd.notes[0]
    assert ex.heading() == "4×4 max pooling, 2×2 windows, stride 2"
    ex.set_setting("type", "avgpool")
    ex.set_setting("size", 3)
    ex.set_setting("stride", 1)
    assert ex.heading() == "4×4 average pooling, 3×3 windows, stride 1"
    back = ex.explain("dx", (0, 0))
    assert back.terms[0].label.startswith("dy11") and back.title.endswith("dx11")


def test_worked_examples_print_exact_zeros_as_zero_and_update_a_moving_weight():
    text = "\n".join(MultiChannelExample().lines())
    assert "e−17" not in text and "e-17" not in text and "e+00" not in text
    assert "dW(0,0,1,2) = " in text and text.split("dW(0,0,1,2) = ")[1].split("\n")[0].endswith("= 0")
    ex = StridedConvExample()
    line = next(l for l in ex.lines() if l.startswith("Update"))
    k = int(re.search(r"new w(\d)", line)[1])
    assert ex.results["dw"].reshape(-1)[k - 1] != 0
    ex.set_value("w", (0, 0), 5.0)
    line = next(l for l in ex.lines() if l.startswith("Update"))
    assert ex.results["dw"].reshape(-1)[int(re.search(r"new w(\d)", line)[1]) - 1] != 0


def test_strided_example_labels_say_correlation():
    labels = StridedConvExample.labels
    assert labels["z"] == "z = a ⋆ w (stride 2)" and labels["dw_identity"].startswith("a ⋆ ")


def test_questions_and_credits_cite_texts_by_title_not_file():
    data = json.loads(questions_path().read_text(encoding="utf-8"))
    text = json.dumps(data, ensure_ascii=False)
    assert not re.search(r"\btext 00\d|\b00[012]_", text, re.I)
    assert "“Back propagation in CNN”" in text and "“Deep Neural Networks: Convolutional Networks III”" in text
    assert "rot180(δ) ∗ a" in text and "z = w ⋆ x + b" in text
    for cls in (StridedConvExample, PoolingExample, MultiChannelExample):
        assert not re.search(r"\btext 00\d", cls.credit), cls.credit


def test_about_box_credits_the_three_texts_by_title():
    from pathlib import Path
    about = (Path(__file__).resolve().parent.parent / "assets" / "about.html").read_text(encoding="utf-8")
    for title in ("Backpropagation In Convolutional Neural Networks", "Back propagation in CNN",
                  "Deep Neural Networks: Convolutional Networks III"):
        assert title in about
    assert len(TEXT_TITLES) == 3


def test_the_learn_tab_shows_the_legend(qtbot):
    from cnnapp.learn.learn_panel import LearnPanel
    panel = LearnPanel()
    qtbot.addWidget(panel)
    shown = panel.notation.shown_text()
    assert "a ⋆ w" in shown and "a ∗ w" in shown and "rot180(δ) ∗ a" in shown
    assert [panel.tabs.tabText(i) for i in range(panel.tabs.count())][-1] == "Notation"


def test_identity_view_titles_use_the_legend(qtbot):
    from cnnapp.learn.identity_view import _groups
    ex = MultiChannelExample()
    maps = ex.results
    titles = [g.title for g in _groups(maps, ex.results["dz"], ex.params["w"], "dx")]
    titles += [g.title for g in _groups(maps, ex.results["dz"], ex.params["w"], "dw")]
    joined = "\n".join(titles)
    assert "correlate (⋆)" in joined and "dz ∗ W" in joined and "pad_P(x(m)) ⋆ dilate(dz(n))" in joined
    assert "y(l−1, m)" in joined and "the slides'" in joined       # the slides' name, said as theirs


def test_the_dx_equation_says_which_rows_no_window_reached():
    """An audit: on a 12×12 input with K = 3, S = 2, P = 1 the equation's unpadded map is 11×11 against x's
    12×12; the words said so, the equation did not (and a first mend put the zeros in the input's last row,
    where dx is not 0). And ⋆ puts the map first, as the legend defines it."""
    from cnncore.layers.conv import Conv
    spec = {"type": "conv", "filters": 2, "kernel": (3, 3), "stride": (2, 2), "padding": (1, 1), "activation": "relu"}
    eq = Conv.backward_step(spec, (1, 12, 12), (2, 6, 6), True).equation
    assert eq.endswith(", the full map filled out with 0 to the padded input's 14×14 first (rows no window reached)")
    # (as cnncore.identities.dx_via_convolution has it, held to the kernels by tests/test_kernels.py: the
    # 13×13 full map filled out to 14×14, then unpadded, is the 12×12 dx)
    even = Conv.backward_step(spec, (1, 11, 11), (2, 6, 6), True).equation
    assert even.endswith("rot180(W)ᵀ)")
    assert "z = x ⋆ W + b" in Conv.forward_step(spec, (1, 12, 12), (2, 6, 6), False).equation


def test_mean_pooling_names_a_rectangular_windows_share():
    import numpy as np
    from cnncore.layers.avgpool import avgpool_backward_terms, avgpool_forward_terms
    x = np.arange(24, dtype=float).reshape(1, 4, 6)
    assert "(1/(KH·KW))" in avgpool_forward_terms(x, (2, 3), (2, 3), 0, 0, 0).equation
    assert "(1/K²)" in avgpool_forward_terms(x, 2, 2, 0, 0, 0).equation
    assert "(1/(KH·KW))" in avgpool_backward_terms(np.ones((1, 2, 2)), (4, 6), (2, 3), (2, 3), 0, 1, 1).equation
