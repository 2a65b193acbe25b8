"""The slides' loops beside a conv step, with the line and loop indices of the clicked element (issue 10)."""
from __future__ import annotations

import numpy as np
import pytest

from cnncore import explain
from cnncore.architecture import infer_shapes
from cnncore.network import Network
from cnncore.pseudocode import CONV_LOOPS, RULES, listings_for
from cnncore.trace import trace

SPEC = {"input": [2, 9, 9], "layers": [
    {"type": "conv", "filters": 3, "kernel": 3, "stride": 2, "padding": 1, "activation": "relu"},
    {"type": "flatten"}, {"type": "dense", "units": 10}]}


@pytest.fixture(scope="module")
def tr():
    return trace(Network(SPEC, seed=0), np.random.default_rng(0).random((2, 9, 9)), 1)


def _hl(tr, kind, part, index, which=0):
    from cnncore.layers import Conv
    s_in, s_out = infer_shapes(tr.spec)[0]
    return listings_for(Conv.teaching, kind, tr.spec["layers"][0])[which].lit(part, index, tr.spec["layers"][0],
                                                                             s_in, s_out)


def _lines(kind, which=0):
    return CONV_LOOPS[kind][which].lines


def test_the_two_rules_are_the_slides_and_sit_on_the_backward_lines():
    assert RULES == ("dL/dx += w · dL/dz", "dL/dw += x · dL/dz")       # the slides' y is the input x here
    back = _lines("backward")
    assert "dL/dx += w·dL/dz" in back[10] and back[10].lstrip().startswith("dx(")
    assert "dL/dw += x·dL/dz" in back[11] and back[11].lstrip().startswith("dW(")
    assert "padding zero" in back[9] and "padding zero" in _lines("forward")[7]


def test_forward_element_lights_the_sum_line_with_its_indices(tr):
    h = _hl(tr, "forward", "z", (2, 1, 3))
    lines = [_lines("forward")[k] for k in h.lines]
    assert any("z(n,r,c) += w(m,n,i,j) · x(m, rS+i−P, cS+j−P)" in l for l in lines)
    assert "r = 1, c = 3, n = 2" in h.words and "2×3×3 = 18 products" in h.words
    assert "row 1·2−1 = 1, column 5" in h.words
    # the loops' product count is the breakdown's term count
    assert len(explain.breakdown(tr, "L0.z", (2, 1, 3)).terms) == 18 + 1        # and the bias
    # the stride-2 layer also shows the slides' convolution with downsampling, u = rS
    h = _hl(tr, "forward", "z", (2, 1, 3), which=1)
    assert "u = 1·2 = 2, v = 3·2 = 6" in h.words and "for u in 0, S, 2S" in _lines("forward", 1)[1]


def test_backward_elements_light_the_rule_that_made_them(tr):
    back = _lines("backward")
    h = _hl(tr, "backward", "dW", (1, 0, 2, 2))
    assert [back[k] for k in h.lines][0].lstrip().startswith("dW(m,n,i,j) +=") and "m = 0, n = 1, i = 2, j = 2" in h.words
    Ho, Wo = tr.arrays["L0.z"].shape[2:]
    assert f"{Ho}×{Wo} = {Ho * Wo} positions" in h.words
    assert len(explain.breakdown(tr, "L0.dW", (1, 0, 2, 2)).terms) == Ho * Wo
    h = _hl(tr, "backward", "dz", (0, 1, 1))
    assert back[h.lines[0]].lstrip().startswith("dz(n,r,c) = dy(n,r,c) · f′(z(n,r,c))")
    assert back[_hl(tr, "backward", "db", (2,)).lines[0]].lstrip().startswith("db(n) +=")
    h = _hl(tr, "backward", "dx", (1, 4, 4))
    assert back[h.lines[0]].lstrip().startswith("dx(") and "over all 3 filters" in h.words
    assert _hl(tr, "backward", "x", (0, 0, 0)) is None
    # the vector notation: dxpad from dzpad and Wflip, dW as a dot product of d and xpad
    h = _hl(tr, "backward", "dx", (1, 4, 4), which=1)
    assert "dxpad(m,r,c) = Σ Wflip" in _lines("backward", 1)[h.lines[0]] and "r = 4+1 = 5" in h.words
    h = _hl(tr, "backward", "dW", (1, 0, 2, 2), which=2)
    assert "dW(m,n,i,j) = Σ d(n,:,:) ⊙ xpad" in _lines("backward", 2)[h.lines[0]]


def test_the_backprop_tab_shows_the_loops_and_lights_the_clicked_line(qtbot):
    from cnnapp.views.backprop_view import BackpropView
    from cnnapp.state import Session
    state = Session()
    view = BackpropView(state)
    qtbot.addWidget(view)
    t = trace(Network(SPEC, seed=0), np.random.default_rng(0).random((2, 9, 9)), 1)
    state.open_trace(t, "a test image")
    k = next(k for k, s in enumerate(t.steps) if s.kind == "backward" and s.layer_type == "conv")
    view.go(k)
    assert view.loops.isHidden() and not view.loops_button.isHidden()      # off until asked for
    view.loops_button.setChecked(True)
    assert not view.loops.isHidden() and view.loops.kind == "backward"
    view._on_click("L0.dW", (1, 0, 2, 2))
    assert view.loops.lit == {0: (11,), 2: (6,)}
    assert "background:#ffe08a'>              dW(m,n,i,j) +=" in view.loops.text()
    assert "dL/dw += x · dL/dz" in view.loops.text() and "dL/dy +=" not in view.loops.text()
    view.go(next(k for k, s in enumerate(t.steps) if s.kind == "forward" and s.layer_type == "dense"))
    assert view.loops.isHidden() and view.loops_button.isHidden()


POOLS = {"input": [1, 8, 8], "layers": [
    {"type": "conv", "filters": 2, "kernel": 3, "padding": 1, "activation": "relu"},
    {"type": "maxpool", "size": 3, "stride": 2},          # overlapping windows: 8×8 → 3×3
    {"type": "avgpool", "size": 2, "stride": 1},          # 3×3 → 2×2
    {"type": "l2pool", "size": 2},                        # 2×2 → 1×1
    {"type": "flatten"}, {"type": "dense", "units": 10}]}


def test_pooling_steps_show_the_slides_pooling_loops_with_the_producing_line_lit(qtbot):
    """Issue 22: the slides' max-pool loops (pidx, += for overlapping windows) and mean pooling, with
    downsampling; the loops panel showed only on conv steps."""
    from cnnapp.views.backprop_view import BackpropView
    from cnnapp.state import Session
    session = Session()
    view = BackpropView(session)
    qtbot.addWidget(view)
    t = trace(Network(POOLS, seed=0), np.random.default_rng(0).random((8, 8)), 1)
    session.open_trace(t, "a test image")
    view.loops_button.setChecked(True)
    step = {(s.kind, s.layer): k for k, s in enumerate(t.steps)}
    view.go(step[("forward", 1)])
    assert not view.loops.isHidden() and "max pooling" in view.loops.text()
    view._on_click("L1.y", (0, 1, 2, 1))
    lit = [view.loops.listings[0].lines[n] for n in view.loops.lit[0]]
    assert any("pidx(m,r,c) = where the largest" in line for line in lit)
    assert any("y(m,r,c) = x(m, pidx(m,r,c))" in line for line in lit)
    assert "u = 2·2 = 4, v = 1·2 = 2" in view.loops.text()
    view.go(step[("backward", 1)])
    view._on_click("L1.dx", (0, 0, 2, 2))              # rows 0–2 and 2–4: in 2×2 = 4 windows
    (line,) = [view.loops.listings[0].lines[n] for n in view.loops.lit[0]]
    assert "dx(m, pidx(m,r,c)) += dy(m,r,c)" in line and "overlapping" in line
    assert "4 windows hold it (r in 0…1, c in 0…1)" in view.loops.text()
    assert "+=" in view.loops.listings[0].note and "overlapping windows" in view.loops.listings[0].note
    view.go(step[("forward", 2)])
    view._on_click("L2.y", (0, 0, 1, 1))
    assert "mean of x(m, u … u+K−1" in view.loops.listings[0].lines[view.loops.lit[0][-1]]
    view.go(step[("backward", 2)])
    view._on_click("L2.dx", (0, 1, 1, 1))
    assert "dy(m,r,c) / K²" in view.loops.listings[0].lines[view.loops.lit[0][0]]
    view.go(step[("backward", 3)])
    view._on_click("L3.dx", (0, 0, 0, 1))
    assert "x(m, rS+i, cS+j) / y(m,r,c)" in view.loops.listings[0].lines[view.loops.lit[0][0]]
    assert "slides' style" in view.loops.listings[0].title      # ours: the slides give none for L2
