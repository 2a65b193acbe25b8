"""Prepared kernel plans: bit for bit the checked functions, buffers reused safely."""
import numpy as np
import pytest

import cnncore
from cnncore import layers
from cnncore.architecture import preset
from cnncore.network import Network, softmax_cross_entropy
from cnncore.plans import AvgPoolPlan, ConvPlan, L2PoolPlan, MaxPoolPlan
from cnncore.shapes import ShapeError


def _conv_cases(count=40, seed=99):
    """Random conv layers: non-square kernels, strides and paddings, several filter blocks."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        N, C, F = (int(v) for v in rng.integers(1, [5, 4, 10]))
        KH, KW = (int(v) for v in rng.integers(1, 6, size=2))
        S = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        P = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        H, W = (int(v) for v in rng.integers(1, 14, size=2))
        if KH <= H + 2 * P[0] and KW <= W + 2 * P[1]:
            cases.append((N, C, H, W, F, (KH, KW), S, P, [np.float32, np.float64][len(cases) % 2]))
    return cases


@pytest.mark.parametrize("case", _conv_cases(), ids=str)
def test_conv_plan_is_bit_for_bit_the_checked_functions(case):
    N, C, H, W, F, K, S, P, dt = case
    plan = ConvPlan(N, (C, H, W), F, K, S, P, dt)
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    own_dw, own_db = np.empty((F, C) + K, dt), np.empty(F, dt)
    for call in range(3):     # reused buffers: every call must start from a clean slate
        x = rng.standard_normal((N, C, H, W)).astype(dt)
        w = rng.standard_normal((F, C) + K).astype(dt)
        b = rng.standard_normal(F).astype(dt)
        z = plan.forward(x, w, b)
        assert plan.out_shape == z.shape[1:]
        assert np.array_equal(z, cnncore.conv2d_forward(x, w, b, S, P))
        dz = rng.standard_normal(z.shape).astype(dt)
        need_dx = call != 1
        out = dict(dw=own_dw, db=own_db) if call == 2 else {}
        got = plan.backward(dz, x, w, need_dx, **out)
        want = cnncore.conv2d_backward(dz, x, w, S, P, need_dx=need_dx)
        if not need_dx:
            assert got[0] is None and want[0] is None
        for g, e in zip(got, want):
            if e is not None:
                assert g.dtype == e.dtype and np.array_equal(g, e)
        if out:
            assert got[1] is own_dw and got[2] is own_db
    assert np.array_equal(z, cnncore.conv2d_forward(x, w, b, S, P)), "backward must leave z alone"


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("size,stride", [(2, None), (3, 2), ((2, 3), (1, 2)), (3, 1)])
def test_pool_plans_are_bit_for_bit_the_checked_functions(size, stride, dt):
    rng = np.random.default_rng(3)
    shape = (3, 2, 9, 8)
    mp = MaxPoolPlan(shape[0], shape[1:], size, stride, dt)
    ap = AvgPoolPlan(shape[0], shape[1:], size, stride, dt)
    lp = L2PoolPlan(shape[0], shape[1:], size, stride, dt)
    for _ in range(3):
        x = rng.standard_normal(shape).astype(dt)
        y, argmax = mp.forward(x)
        y_c, argmax_c = cnncore.maxpool2d_forward(x, size, stride)
        assert np.array_equal(y, y_c) and np.array_equal(argmax, argmax_c)
        dy = rng.standard_normal(y.shape).astype(dt)
        assert np.array_equal(mp.backward(dy), cnncore.maxpool2d_backward(dy, argmax_c, shape))
        assert np.array_equal(ap.forward(x), cnncore.avgpool2d_forward(x, size, stride))
        assert np.array_equal(ap.backward(dy), cnncore.avgpool2d_backward(dy, shape, size, stride))
        y2 = lp.forward(x)
        assert np.array_equal(y2, cnncore.l2pool2d_forward(x, size, stride))
        assert np.array_equal(lp.backward(dy), cnncore.l2pool2d_backward(dy, x, y2, size, stride))


def test_plans_check_everything_once_and_the_arrays_on_every_call():
    with pytest.raises(ShapeError):
        ConvPlan(1, (1, 4, 4), 2, 5)
    with pytest.raises(ValueError, match="stride"):
        ConvPlan(1, (1, 8, 8), 2, 3, stride=0)
    with pytest.raises(ValueError, match="batch"):
        MaxPoolPlan(0, (1, 4, 4), 2)
    with pytest.raises(ValueError, match="in_shape"):
        AvgPoolPlan(1, (4, 4), 2)
    with pytest.raises(TypeError, match="dtype"):
        ConvPlan(1, (1, 8, 8), 2, 3, dtype=np.int32)
    plan = ConvPlan(2, (1, 8, 8), 2, 3)
    w, b = np.zeros((2, 1, 3, 3), np.float32), np.zeros(2, np.float32)
    with pytest.raises(ValueError, match="x must be a float32 array of shape"):
        plan.forward(np.zeros((3, 1, 8, 8), np.float32), w, b)             # another batch size
    with pytest.raises(ValueError, match="x must be"):
        plan.forward(np.zeros((2, 1, 8, 8)), w, b)                         # float64
    with pytest.raises(ValueError, match="w must be"):
        plan.forward(np.zeros((2, 1, 8, 8), np.float32), w[:, :, :2], b)
    mp = MaxPoolPlan(1, (1, 4, 4), 2)
    with pytest.raises(ValueError, match="forward pass first"):
        mp.backward(np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(ValueError, match="outside the 4×4 input plane"):
        mp.backward(np.ones((1, 1, 2, 2), np.float32), np.full((1, 1, 2, 2), 16, np.int64))


BATCHES = [4, 4, 3, 4, 1, 2]


def _train(spec, dtype, batches):
    net = Network(spec, seed=5, dtype=dtype)
    rng = np.random.default_rng(11)
    record = []
    for n in batches:
        x = rng.random((n,) + net.input_shape)
        labels = rng.integers(0, 10, n)
        loss, probs = net.loss_and_grads(x, labels)
        record.append((loss, probs.copy(), net.flat_grads.copy()))
        net.flat_params -= 0.01 * net.flat_grads
    return net, record


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec", [
    preset("lenet"), preset("wide"),
    {"input": [2, 13, 11], "layers": [
        {"type": "conv", "filters": 5, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0],
         "activation": "tanh"},
        {"type": "avgpool", "size": [2, 3], "stride": [1, 2]},
        {"type": "l2pool", "size": 2, "stride": 1},
        {"type": "conv", "filters": 3, "kernel": 2, "activation": "sigmoid"},
        {"type": "maxpool", "size": 2, "stride": 1},
        {"type": "flatten"}, {"type": "dense", "units": 10}]},
], ids=["lenet", "wide", "odd"])
def test_network_with_plans_trains_bit_for_bit_as_with_the_checked_functions(spec, dtype, monkeypatch):
    lean, got = _train(spec, dtype, BATCHES)
    assert any(layer._plans for layer in lean.layers)       # the plans did run
    monkeypatch.setattr(layers.Layer, "_plan_for", lambda self, *arrays: None)
    checked, want = _train(spec, dtype, BATCHES)
    for (l1, p1, g1), (l2, p2, g2) in zip(got, want):
        assert l1 == l2 and np.array_equal(p1, p2) and np.array_equal(g1, g2)
    assert np.array_equal(lean.flat_params, checked.flat_params)


def test_inference_never_touches_the_training_buffers(rng):
    """predict (keep=False, e.g. from the GUI thread) between a training forward and backward
    pass, with the same batch size, leaves the gradients exactly as without it."""
    x, labels = rng.random((4, 1, 28, 28)), np.array([1, 2, 3, 4])
    a, b = Network(preset("lenet"), seed=2), Network(preset("lenet"), seed=2)
    a.loss_and_grads(x, labels)             # plans made
    b.loss_and_grads(x, labels)
    logits = a.forward(x)
    kept = {i: np.array(layer.y, copy=True) for i, layer in enumerate(a.layers)}
    a.predict_proba(rng.random((4, 1, 28, 28)))
    for i, layer in enumerate(a.layers):
        assert np.array_equal(layer.y, kept[i])
    a.backward(softmax_cross_entropy(logits, labels)[2])
    b.loss_and_grads(x, labels)
    assert np.array_equal(a.flat_grads, b.flat_grads)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_all_finite_sees_every_nan_and_inf(dt):
    """The check that sends a conv's dw to the exact path when a NaN or inf is about."""
    from cnncore._dispatch import _kernels
    a = np.linspace(-1, 1, 1001).astype(dt)
    a[3], a[4], a[5] = np.finfo(dt).max, -np.finfo(dt).max, np.finfo(dt).tiny / 8    # large and subnormal
    assert _kernels.all_finite(a) and _kernels.all_finite(a[:0])
    for bad in (np.nan, np.inf, -np.inf):
        for where in (0, 500, 1000):
            b = a.copy()
            b[where] = bad
            assert not _kernels.all_finite(b), (bad, where)
