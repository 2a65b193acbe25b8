"""The slides' loops beside a conv step, with the line and loop indices of the clicked element (issue 10)."""
from __future__ import annotations

import numpy as np
import pytest

from cnncore import explain
from cnncore.architecture import infer_shapes
from cnncore.network import Network
from cnncore.pseudocode import RULES, highlight, loop_lines
from cnncore.trace import trace

SPEC = {"input": [2, 9, 9], "layers": [
    {"type": "conv", "filters": 3, "kernel": 3, "stride": 2, "padding": 1, "activation": "relu"},
    {"type": "flatten"}, {"type": "dense", "units": 10}]}


@pytest.fixture(scope="module")
def tr():
    return trace(Network(SPEC, seed=0), np.random.default_rng(0).random((2, 9, 9)), 1)


def _hl(tr, kind, part, index):
    s_in, s_out = infer_shapes(tr.spec)[0]
    return highlight(kind, part, index, tr.spec["layers"][0], s_in, s_out)


def test_the_two_rules_are_the_slides_and_sit_on_the_backward_lines():
    assert RULES == ("dL/dy += w · dL/dz", "dL/dw += y · dL/dz")
    back = loop_lines("backward")
    assert "dL/dy += w·dL/dz" in back[9] and back[9].lstrip().startswith("dx(")
    assert "dL/dw += y·dL/dz" in back[10] and back[10].lstrip().startswith("dW(")
    with pytest.raises(ValueError):
        loop_lines("update")


def test_forward_element_lights_the_sum_line_with_its_indices(tr):
    h = _hl(tr, "forward", "z", (2, 1, 3))
    lines = [loop_lines("forward")[k] for k in h.lines]
    assert any("z(n,r,c) += w(m,n,i,j) · x(m, rS+i−P, cS+j−P)" in l for l in lines)
    assert "r = 1, c = 3, n = 2" in h.words and "2×3×3 = 18 products" in h.words
    assert "row 1·2−1 = 1, column 5" in h.words
    # the loops' product count is the breakdown's term count
    assert len(explain.breakdown(tr, "L0.z", (2, 1, 3)).terms) == 18 + 1        # and the bias


def test_backward_elements_light_the_rule_that_made_them(tr):
    back = loop_lines("backward")
    h = _hl(tr, "backward", "dW", (1, 0, 2, 2))
    assert [back[k] for k in h.lines][0].lstrip().startswith("dW(m,n,i,j) +=") and "n = 1, m = 0, i = 2, j = 2" in h.words
    Ho, Wo = tr.arrays["L0.z"].shape[2:]
    assert f"{Ho}×{Wo} = {Ho * Wo} positions" in h.words
    assert len(explain.breakdown(tr, "L0.dW", (1, 0, 2, 2)).terms) == Ho * Wo
    h = _hl(tr, "backward", "dz", (0, 1, 1))
    assert back[h.lines[0]].lstrip().startswith("dz(n,r,c) = dy(n,r,c) · f′(z(n,r,c))")
    assert back[_hl(tr, "backward", "db", (2,)).lines[0]].lstrip().startswith("db(n) +=")
    h = _hl(tr, "backward", "dx", (1, 4, 4))
    assert back[h.lines[0]].lstrip().startswith("dx(") and "over all 3 filters" in h.words
    assert _hl(tr, "backward", "x", (0, 0, 0)) is None


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
    assert view.loops.lit == (10,) and "background:#ffe08a'>            dW(m,n,i,j) +=" in view.loops.text()
    assert "dL/dw += y · dL/dz" in view.loops.text()
    view.go(next(k for k, s in enumerate(t.steps) if s.kind == "forward" and s.layer_type == "dense"))
    assert view.loops.isHidden() and view.loops_button.isHidden()
