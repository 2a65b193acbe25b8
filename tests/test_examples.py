"""The worked examples reproduce the texts' formulas, number for number, after any edit."""
import numpy as np
import pytest

from cnncore.examples import (MultiChannelExample, PoolingExample, StridedConvExample,
                              identity_maps, worked_examples)


def _a(ex, k):  # the text's a_k, 1-based row-major
    return ex.params["a"].reshape(-1)[k - 1]


def _w(ex, k):
    return ex.params["w"].reshape(-1)[k - 1]


def _check_strided(ex):
    a, w = _a, _w
    z = ex.results["z"].reshape(-1)
    # the text's four equations, written out by hand (0-based z index, 1-based a/w numbers)
    rows = {1: (1, 2, 3, 6, 7, 8, 11, 12, 13), 2: (3, 4, 5, 8, 9, 10, 13, 14, 15),
            3: (11, 12, 13, 16, 17, 18, 21, 22, 23), 4: (13, 14, 15, 18, 19, 20, 23, 24, 25)}
    for k, idx in rows.items():
        assert [t[1] for t in ex.z_terms(k)] == list(idx)
        assert z[k - 1] == pytest.approx(sum(w(ex, i + 1) * a(ex, n) for i, n in enumerate(idx)))
    dz = ex.results["dz"].reshape(-1)
    dw = ex.results["dw"].reshape(-1)
    # ∂L/∂w_1 = a_1 ∂L/∂z_1 + a_3 ∂L/∂z_2 + a_11 ∂L/∂z_3 + a_13 ∂L/∂z_4 and likewise for w_2
    assert ex.dw_terms(1) == [(1, 1), (3, 2), (11, 3), (13, 4)]
    assert ex.dw_terms(2) == [(2, 1), (4, 2), (12, 3), (14, 4)]
    assert dw[0] == pytest.approx(a(ex, 1) * dz[0] + a(ex, 3) * dz[1] + a(ex, 11) * dz[2] + a(ex, 13) * dz[3])
    assert dw[1] == pytest.approx(a(ex, 2) * dz[0] + a(ex, 4) * dz[1] + a(ex, 12) * dz[2] + a(ex, 14) * dz[3])
    for i in range(1, 10):
        assert dw[i - 1] == pytest.approx(sum(a(ex, p) * dz[k - 1] for p, k in ex.dw_terms(i)))
    # prediction, loss, chain rule ∂L/∂z_k = (ŷ − t) v_k and the update rule
    p = ex.params
    yhat = z @ p["v"] + p["c"]
    assert ex.results["yhat"] == pytest.approx(yhat)
    assert ex.results["loss"] == pytest.approx(0.5 * (yhat - p["t"]) ** 2)
    assert np.allclose(dz, (yhat - p["t"]) * p["v"])
    assert np.allclose(ex.results["w_new"], p["w"] - p["alpha"] * ex.results["dw"])
    # the text's closing remark: input convolved (stride 1) with the dilated output gradient
    assert ex.results["dz_dilated"].shape == (3, 3)
    assert ex.results["dz_dilated"][1].tolist() == [0, 0, 0]
    assert np.allclose(ex.results["dw_identity"], ex.results["dw"], atol=1e-12)


def test_strided_conv_defaults_and_edits():
    ex = StridedConvExample()
    assert ex.results["z"].shape == (2, 2)
    _check_strided(ex)
    rng = np.random.default_rng(0)
    for _ in range(20):
        name = rng.choice(["a", "w", "v", "c", "t", "alpha"])
        shape = np.shape(ex.params[name])
        idx = tuple(int(rng.integers(0, s)) for s in shape)
        ex.set_value(name, idx, float(rng.integers(-5, 6)) / 2)
        _check_strided(ex)


def test_strided_conv_edit_changes_downstream():
    ex = StridedConvExample()
    before = ex.results["z"].copy()
    ex.set_value("a", (0, 0), _a(ex, 1) + 1.0)  # a_1 only feeds z_1, through w_1
    diff = ex.results["z"] - before
    assert diff[0, 0] == pytest.approx(_w(ex, 1))
    assert diff[0, 1] == diff[1, 0] == diff[1, 1] == 0
    ex.reset()
    assert np.array_equal(ex.results["z"], before)


def test_strided_conv_lines_use_text_numbering():
    ex = StridedConvExample()
    text = "\n".join(ex.lines())
    assert "z1 = w1·a1 + w2·a2 + w3·a3 + w4·a6" in text
    assert "∂L/∂w1 = a1·∂L/∂z1 + a3·∂L/∂z2 + a11·∂L/∂z3 + a13·∂L/∂z4" in text


def test_strided_conv_explain_matches_results():
    ex = StridedConvExample()
    for idx in np.ndindex(2, 2):
        assert ex.explain("z", idx).total == pytest.approx(ex.results["z"][idx])
    for idx in np.ndindex(3, 3):
        bd = ex.explain("dw", idx)
        assert len(bd.terms) == 4
        assert bd.total == pytest.approx(ex.results["dw"][idx])
        assert ex.explain("w_new", idx).total == pytest.approx(ex.results["w_new"][idx])


def test_pooling_max_forward_backward():
    ex = PoolingExample()
    x = ex.params["x"]
    assert ex.results["y"].shape == (2, 2)  # (4 − 2)/2 + 1
    for oy in range(2):
        for ox in range(2):
            win = x[2 * oy:2 * oy + 2, 2 * ox:2 * ox + 2]
            assert ex.results["y"][oy, ox] == win.max()
    dy, dx = ex.params["dy"], ex.results["dx"]
    # every gradient lands on its window's winner only; the rest of the window is 0
    for oy in range(2):
        for ox in range(2):
            win = x[2 * oy:2 * oy + 2, 2 * ox:2 * ox + 2]
            r, c = np.unravel_index(np.argmax(win), (2, 2))
            g = dx[2 * oy:2 * oy + 2, 2 * ox:2 * ox + 2]
            assert g[r, c] == dy[oy, ox]
            assert np.count_nonzero(g) == 1
    assert dx.sum() == pytest.approx(dy.sum())
    for idx in np.ndindex(4, 4):
        assert ex.explain("dx", idx).total == pytest.approx(dx[idx])


def test_pooling_mean_and_overlap():
    ex = PoolingExample()
    ex.set_setting("type", "avgpool")
    x = ex.params["x"]
    assert ex.results["y"][0, 0] == pytest.approx(x[:2, :2].mean())
    assert ex.results["dx"][0, 0] == pytest.approx(ex.params["dy"][0, 0] / 4)
    ex.set_setting("type", "maxpool")
    ex.set_setting("stride", 1)
    assert ex.results["y"].shape == (3, 3) and ex.params["dy"].shape == (3, 3)
    ex.set_value("x", (1, 1), 100.0)  # wins all four windows that contain it
    assert ex.results["dx"][1, 1] == pytest.approx(ex.params["dy"][:2, :2].sum())
    bd = ex.explain("dx", (1, 1))
    assert sum(t.chosen for t in bd.terms) == 4
    with pytest.raises(ValueError):
        ex.set_setting("stride", 7)


def test_multichannel_slide_numbers():
    ex = MultiChannelExample()
    p = ex.params
    # the slides' first window: binary map under [[1,0,1],[0,1,0],[1,0,1]] gives 4
    assert (p["y0"][0, :3, :3] * p["w"][0, 0]).sum() == 4
    z = ex.results["z"]
    # z(l,n,x,y) = Σ_m Σ_i Σ_j w_l(m,n,i,j) y(l−1,m,x+i,y+j) + b_l(n), written as loops
    for n in range(2):
        for x in range(3):
            for y in range(3):
                s = p["b"][n]
                for m in range(2):
                    for i in range(3):
                        for j in range(3):
                            s += p["w"][n, m, i, j] * p["y0"][m, x + i, y + j]
                assert z[n, x, y] == pytest.approx(s)
    dz = ex.results["dz"]
    assert np.allclose(dz, p["dy"] * (z > 0))
    # dDiv/dY(l−1,m,x,y) = Σ_n Σ_x′y′ dz(n,x′,y′) w(m,n,x−x′,y−y′)
    dy0 = ex.results["dy0"]
    for m in range(2):
        for x in range(5):
            for y in range(5):
                s = sum(dz[n, a, c] * p["w"][n, m, x - a, y - c]
                        for n in range(2) for a in range(3) for c in range(3)
                        if 0 <= x - a < 3 and 0 <= y - c < 3)
                assert dy0[m, x, y] == pytest.approx(s)
    # dDiv/dw(m,n,i,j) = Σ_xy dz(n,x,y) y(l−1,m,x+i,y+j)
    dw = ex.results["dw"]
    for n, m, i, j in np.ndindex(2, 2, 3, 3):
        assert dw[n, m, i, j] == pytest.approx((dz[n] * p["y0"][m, i:i + 3, j:j + 3]).sum())
    assert np.allclose(ex.results["db"], dz.sum(axis=(1, 2)))


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 0), (2, 1)])
def test_multichannel_identities_and_explain(stride, padding):
    ex = MultiChannelExample()
    ex.set_setting("stride", stride)
    ex.set_setting("padding", padding)
    r = ex.results
    assert np.abs(r["dx_diff"]).max() < 1e-12 and np.abs(r["dw_diff"]).max() < 1e-12
    for name in ("z", "y", "dz", "dy0", "dw", "db"):
        for idx in np.ndindex(*r[name].shape):
            bd = ex.explain(name, idx)
            assert bd.total == pytest.approx(r[name][idx], abs=1e-12), (name, idx)
    assert any("dW(0,0,1,2)" in line for line in ex.lines())


def test_identity_maps_shapes():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 6))
    w = rng.standard_normal((3, 2, 3, 3))
    dz = rng.standard_normal((3, 2, 2))
    maps = identity_maps(dz, x, w, 2, 0)
    assert maps["dz_dilated"].shape == (3, 3, 3)
    assert maps["dz_padded"].shape == (3, 7, 7)
    assert maps["w_flipped"].shape == (2, 3, 3, 3)
    assert maps["w_flipped"][1, 2, 0, 0] == w[2, 1, 2, 2]
    assert np.abs(maps["dx_diff"]).max() < 1e-12


def test_every_example_builds_and_rejects_bad_edits():
    for cls in worked_examples():
        ex = cls()
        assert ex.title and ex.credit and ex.summary and ex.lines()
        for name in ex.editable:
            assert name in ex.params and name in ex.labels
        for name in ex.shown:
            assert name in ex.results and name in ex.labels
        with pytest.raises(KeyError):
            ex.set_value("nope", (0,), 1.0)
        name = ex.editable[0]
        with pytest.raises(ValueError):
            ex.set_value(name, (0,) * np.ndim(ex.params[name]), float("nan"))


def test_strided_conv_breakdowns_use_text_numbering():
    ex = StridedConvExample()
    bd = ex.explain("dw", (0, 0))
    assert [t.label for t in bd.terms] == ["∂L/∂z1 · a1", "∂L/∂z2 · a3", "∂L/∂z3 · a11", "∂L/∂z4 · a13"]
    assert bd.title.endswith("∂L/∂w1")
    bd = ex.explain("z", (1, 1))
    assert bd.terms[0].label == "w1 · a13" and bd.terms[-1].label == "w9 · a25"
    assert ex.explain("w_new", (0, 0)).terms[1].label == "−α · ∂L/∂w1"


def test_pooling_winners_are_marked():
    ex = PoolingExample()
    assert ex.chosen_cells() == {"x": {(1, 0), (1, 3), (2, 0), (2, 2)}}
    ex.set_setting("type", "avgpool")
    assert ex.chosen_cells() == {}


def test_strided_conv_chain_rule_and_dilation_breakdowns():
    ex = StridedConvExample()
    r = ex.results
    for idx in np.ndindex(2, 2):
        assert ex.explain("dz", idx).total == pytest.approx(r["dz"][idx])
    for idx in np.ndindex(3, 3):
        bd = ex.explain("dz_dilated", idx)
        assert bd.total == pytest.approx(r["dz_dilated"][idx])
    assert ex.explain("dz_dilated", (1, 0)).total == 0


def test_a_z_that_is_zero_by_hand_is_zero_before_relu_reads_its_sign():
    """z = 0.1 + 0.2 − 0.3 is 2.8e−17 in floats: the grids showed z = 0 and y = 0 (0 up to rounding) while
    the gradient passed as for a z above 0 (dz = 0.1). By hand z = 0, so f′(z) = 0 and dz = 0."""
    ex = MultiChannelExample()
    x, w, b = np.zeros_like(ex.params["y0"]), np.zeros_like(ex.params["w"]), np.zeros_like(ex.params["b"])
    x[0, 0, :3] = 1
    w[0, 0, 0] = [0.1, 0.2, -0.3]
    ex.params.update(y0=x, w=w, b=b)
    ex.recompute()
    assert 0.1 + 0.2 - 0.3 != 0                                     # (what the floats say)
    assert ex.results["z"][0, 0, 0] == 0 and ex.results["y"][0, 0, 0] == 0 and ex.results["dz"][0, 0, 0] == 0
    assert ex.explain("dz", (0, 0, 0)).written_out().endswith("= 0")
    w[0, 0, 0] = [0.1, 0.2, -0.25]                                  # a z of 0.05 stays 0.05
    ex.recompute()
    assert ex.results["z"][0, 0, 0] == pytest.approx(0.05) and ex.results["dz"][0, 0, 0] == ex.params["dy"][0, 0, 0]
