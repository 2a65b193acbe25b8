"""Prepared kernel plans: bit for bit the checked functions, buffers reused safely."""
import numpy as np
import pytest

import cnncore
from cnncore import layers
from cnncore.architecture import preset
from cnncore.network import Network, softmax_cross_entropy
from cnncore.layers.avgpool import AvgPoolPlan
from cnncore.layers.conv_plan import ConvPlan
from cnncore.layers.l2pool import L2PoolPlan
from cnncore.layers.maxpool import MaxPoolPlan
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


KEPT = ("x", "z", "y", "argmax", "dy", "dz", "dx")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_kept_array_after_each_step_is_the_checked_functions(dtype):
    """What the trace and the app read from the layers after a training step (views of plan
    buffers, a pool's dx and a convolution's dy written only when read, argmax widened from
    codes) is bit for bit what the same network keeps on the checked functions alone, step
    after step with the batch size changing. The pairs: ReLU conv → 2×2 pool with odd rows and
    rows of 14 windows (one fused pass each way), conv without activation, stride 2 → 2×2 pool
    of 3 windows a row, sigmoid conv → 3×3/2 pool."""
    spec = {"input": [1, 27, 29], "layers": [
        {"type": "conv", "filters": 5, "kernel": [3, 2], "padding": [1, 0], "activation": "relu"},
        {"type": "maxpool", "size": 2},
        {"type": "conv", "filters": 6, "kernel": 3, "stride": 2, "padding": 1, "activation": "none"},
        {"type": "maxpool", "size": 2},
        {"type": "conv", "filters": 3, "kernel": 1, "activation": "sigmoid"},
        {"type": "maxpool", "size": 3, "stride": 2},
        {"type": "flatten"}, {"type": "dense", "units": 10}]}
    lean, checked = Network(spec, seed=5, dtype=dtype), Network(spec, seed=5, dtype=dtype)
    for layer in checked.layers:
        layer._plan_for = lambda *arrays: None
    rng = np.random.default_rng(12)
    for n in (3, 1, 3, 2):
        x = rng.random((n,) + lean.input_shape)
        labels = rng.integers(0, 10, n)
        assert lean.loss_and_grads(x, labels)[0] == checked.loss_and_grads(x, labels)[0]
        for a, b in zip(lean.layers, checked.layers):
            for part in KEPT:
                got, want = getattr(a, part, None), getattr(b, part, None)
                assert (got is None) == (want is None), (a, part)
                if want is not None:
                    assert got.shape == want.shape and np.array_equal(got, want), (a, part, n)
    assert any(layer._plans for layer in lean.layers)       # the plans did run


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


# ----------------------------------------------------------- the passes around the loops

def _specials(rng, shape, dt):
    """Random numbers with ±0, NaN of either sign and ±inf sprinkled in."""
    a = rng.standard_normal(shape).astype(dt)
    special = np.array([0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf], dtype=dt)
    pick = rng.random(shape) < 0.2
    a[pick] = rng.choice(special, size=int(pick.sum()))
    return a


def _same_bits(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _same_numbers(a, b):
    """The same bits wherever either is a number, NaN at the same places (a NaN's sign and payload
    are C's to choose: where a build without FMA adds a NaN and a product of another NaN, the
    compiler may put either first, and two inlined copies of one tile need not agree)."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    nan = np.isnan(a)
    return (a.shape == b.shape and a.dtype == b.dtype and np.array_equal(nan, np.isnan(b))
            and a[~nan].tobytes() == b[~nan].tobytes())


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_conv_activation_pass_is_numpys_relu_bit_for_bit(dt):
    """The pass after the convolution loops gives z (a copy of the loops' outputs, strided or
    not) and y = relu(z) exactly as np.maximum(z, 0): NaN passes, −0 becomes +0."""
    from cnncore._dispatch import _kernels
    rng = np.random.default_rng(31)
    for shape, step in [((3, 5, 7, 9), 1), ((2, 4, 6, 30), 1), ((2, 3, 5, 8), 2)]:
        src = _specials(rng, shape[:3] + (shape[3] * step + 3,), dt)[..., :shape[3] * step:step]
        z, y = np.empty(shape, dt), np.empty(shape, dt)
        _kernels.conv_activate(src, z, y, 1, 1)
        assert _same_bits(z, np.ascontiguousarray(src))
        with np.errstate(invalid="ignore"):
            assert _same_bits(y, np.maximum(src, 0))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_pooled_convolution_pass_is_the_convolution_then_the_pooled_activation_pass(dt, threads):
    """conv_wide_pooled, which activates and pools each block of filters' planes as soon as the
    loops have written them: the loops' outputs, y = relu(z), the pooled maps and the winners'
    codes bit for bit conv_wide followed by conv_activate (a NaN's sign aside: :func:`_same_numbers`),
    whether y keeps every plane or is one scratch plane a thread, written only there (odd map sizes, NaN, ±inf and ±0 in x, filters
    that do not fill a block of the tiles; z strided as a stride-2 layer picks it). A y of
    neither shape, codes of another shape and no activation are refused."""
    from cnncore._dispatch import _kernels
    from cnncore.plans import _Padded, _WideConv, _scratch_planes, _slack
    rng = np.random.default_rng(33)
    for N, C, H, W, F, K in [(3, 2, 9, 11, 6, 3), (2, 1, 12, 12, 8, 5), (5, 3, 7, 30, 3, 2)]:
        src = _Padded((N, C, H, W), dt, _slack(K), slice(0, H), slice(0, W))
        src.inner[...] = _specials(rng, (N, C, H, W), dt)
        wt = rng.standard_normal((F, C * K * K)).astype(dt)
        b = rng.standard_normal(F).astype(dt)
        Ho, Wo = H - K + 1, W - K + 1
        ref = _WideConv(src, F, K, K)
        z = ref.run(wt, b, threads)
        y, pooled = np.empty(z.shape, dt), np.empty((N, F, Ho // 2, Wo // 2), dt)
        codes = np.empty(pooled.shape, np.uint8)
        _kernels.conv_activate(z, None, y, 1, threads)
        _kernels.maxpool2x2_codes(y, pooled, codes, threads)
        for keep in (True, False):
            conv = _WideConv(src, F, K, K)
            planes = np.full(((N * F if keep else threads) + 1, Ho, Wo), 7, dt)      # (and a guard plane)
            pooled2, codes2 = np.full_like(pooled, 7), np.full_like(codes, 7)
            z2 = conv.run(wt, b, threads, (conv.result, planes[:-1], 1, pooled2, codes2))
            assert _same_numbers(conv.out, ref.out) and _same_numbers(z2, z)
            assert _same_numbers(pooled2, pooled) and _same_bits(codes2, codes), (N, C, H, W, F, K, keep)
            assert (planes[-1] == 7).all()
            if keep:
                assert _same_numbers(planes[:-1].reshape(y.shape), y)
        roomy = _scratch_planes(threads, Ho, Wo, dt)        # (planes with room after each: the pool reads on)
        pooled2, codes2 = np.full_like(pooled, 7), np.full_like(codes, 7)
        conv.run(wt, b, threads, (conv.result, roomy, 1, pooled2, codes2))
        assert _same_numbers(pooled2, pooled) and _same_bits(codes2, codes)
        strided = conv.result[:, :, ::2, ::2]               # (what a stride-2 layer keeps of the outputs)
        Hs, Ws = strided.shape[2:]
        ys, ps = np.empty((N, F, Hs, Ws), dt), np.empty((N, F, Hs // 2, Ws // 2), dt)
        cs = np.empty(ps.shape, np.uint8)
        _kernels.conv_activate(strided, None, ys, 1, threads)
        _kernels.maxpool2x2_codes(ys, ps, cs, threads)
        ps2, cs2 = np.empty_like(ps), np.empty_like(cs)
        conv.run(wt, b, threads, (strided, np.empty((threads, Hs, Ws), dt), 1, ps2, cs2))
        assert _same_numbers(ps2, ps) and _same_bits(cs2, cs)
        y2 = np.empty((N * F, Ho, Wo), dt)
        for bad in [(conv.result, np.empty((N * F, Ho, Wo + 1), dt), 1, pooled2, codes2),
                    (conv.result, y2, 1, pooled2, codes2[:, :, :-1]),
                    (conv.result, y2, 0, pooled2, codes2),
                    (conv.result[1:], y2[F:], 1, pooled2[1:], codes2[1:])]:
            with pytest.raises(ValueError):
                conv.run(wt, b, threads, bad)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 0), ((1, 2), (2, 1))])
def test_activated_conv_plan_is_the_plain_plan_after_numpys_activation(stride, padding, dt):
    """forward_activated/backward_activated: z, y, dz bit for bit NumPy's relu and its slope
    dy·(z > 0); dx, dw, db those of backward(dz); and 'none' hands dy through as dz."""
    rng = np.random.default_rng(32)
    N, C, H, W, F = 3, 2, 9, 8, 6
    plan = ConvPlan(N, (C, H, W), F, 3, stride, padding, dt)
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = rng.standard_normal((F, C, 3, 3)).astype(dt)
    b = rng.standard_normal(F).astype(dt)
    z, y = (a.copy() for a in plan.forward_activated(x, w, b, 1))
    assert np.array_equal(z, plan.forward(x, w, b)) and _same_bits(y, np.maximum(z, 0))
    z = _specials(rng, z.shape, dt)                   # any z: the slope must match NumPy's
    dy = _specials(rng, z.shape, dt)
    dz = plan.backward_activated(dy, z, 1, x, w)[0].copy()
    with np.errstate(invalid="ignore"):
        assert _same_bits(dz, dy * (z > 0))
    dz = np.where(np.isfinite(dz), dz, 0).astype(dt)   # finite, to compare the gradients exactly
    dz_got, dx, dw, db = (a.copy() for a in plan.backward_activated(dz, z, 0, x, w))
    want = plan.backward(dz, x, w)
    assert _same_bits(dz_got, dz)
    for got, expected in zip((dx, dw, db), want):
        assert _same_bits(got, expected)
    np.testing.assert_allclose(db, dz.sum(axis=(0, 2, 3)), rtol=1e-5)


def test_gradient_pass_sums_db_in_one_order_whatever_the_threads(monkeypatch):
    monkeypatch.setattr(cnncore._threads, "_PARALLEL_MIN_WORK", 0)
    rng = np.random.default_rng(33)
    x = rng.standard_normal((8, 3, 12, 12)).astype(np.float32)
    w = rng.standard_normal((10, 3, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((8, 10, 12, 12)).astype(np.float32)
    z = rng.standard_normal((8, 10, 12, 12)).astype(np.float32)
    before, results = cnncore.get_num_threads(), []
    try:
        for n in (1, 2, 3):
            cnncore.set_num_threads(n)
            plan = ConvPlan(8, (3, 12, 12), 10, 3, 1, 1, np.float32)
            results.append([a.copy() for a in plan.backward_activated(dy, z, 1, x, w)])
    finally:
        cnncore.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert _same_bits(a, b)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (3, 2, 7, 9), (1, 2, 5, 40), (2, 1, 2, 2)])
def test_maxpool_2x2_backward_writes_what_routing_into_zeros_gives(shape, dt):
    """The plan's own 2×2 winners: dx written in one pass (no zeroing) is bit for bit the
    general routing (+= into zeros), odd sizes' unused last row and column included."""
    rng = np.random.default_rng(34)
    plan = MaxPoolPlan(shape[0], shape[1:], 2, None, dt)
    for _ in range(2):                      # the second pass writes over the first one's dx
        x = rng.integers(-2, 3, shape).astype(dt)
        y, argmax = plan.forward(x)
        dy = _specials(rng, y.shape, dt)
        fast = plan.backward(dy).copy()
        routed = plan.backward(dy, argmax.copy())         # not the plan's own: routed
        assert _same_bits(fast, routed)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("N,D,K,act", [(1, 33, 7, "relu"), (5, 37, 10, "none"), (64, 1568, 64, "relu"),
                                       (3, 16, 5, "sigmoid"), (2, 3, 1, "relu")])
def test_dense_plan_is_the_matrix_products_and_the_same_on_any_thread_count(N, D, K, act, dt, dense_products,
                                                                           monkeypatch):
    """A dense layer's compiled products: z = x·Wᵀ + b, dW = dzᵀ·x, db, dx = dz·W (within rounding of
    NumPy's), the activation and its slope bit for bit NumPy's, and the same bits on 1 and 3 threads
    (tails of fewer than a vector's lanes, one unit, a batch of one), by the BLAS and by the tiles."""
    monkeypatch.setattr(cnncore._threads, "_PARALLEL_MIN_WORK", 0)     # every product may use threads
    from cnncore import activations
    from cnncore.layers.dense import DensePlan
    rng = np.random.default_rng(35)
    x, w, b = (rng.standard_normal(s).astype(dt) for s in ((N, D), (K, D), (K,)))
    dy = rng.standard_normal((N, K)).astype(dt)
    before, runs = cnncore.get_num_threads(), []
    try:
        for nt in (1, 3):
            cnncore.set_num_threads(nt)
            plan = DensePlan(N, D, K, act, dt)
            z, y = (a.copy() for a in plan.forward(x, w, b))
            runs.append((z, y) + tuple(a.copy() for a in plan.backward(dy, z, y, x, w)))
    finally:
        cnncore.set_num_threads(before)
    for a, c in zip(*runs):
        assert _same_bits(a, c)
    z, y, dz, dx, dw, db = runs[0]
    tol = dict(rtol=1e-5, atol=1e-4) if dt == np.float32 else dict(rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(z, x @ w.T + b, **tol)
    f = activations.get(act)
    assert _same_bits(y, f.f(z, None)) and _same_bits(dz, np.asarray(f.grad(dy, z, y), dtype=dt))
    np.testing.assert_allclose(dw, dz.T @ x, **tol)
    np.testing.assert_allclose(dx, dz @ w, **tol)
    np.testing.assert_allclose(db, dz.sum(axis=0), **tol)


@pytest.mark.parametrize("which", ["x", "w", "dy", "dw"])
def test_a_dense_plan_refuses_an_array_of_another_shape(which):
    """The compiled products index by the plan's sizes: an array of another shape is a ValueError,
    never a read or write past its end."""
    from cnncore.layers.dense import DensePlan
    rng = np.random.default_rng(37)
    plan = DensePlan(2, 33, 7, "relu")
    good = {"x": (2, 33), "w": (7, 33), "dy": (2, 7), "dw": (7, 33)}
    arrays = {k: rng.standard_normal(v).astype(np.float32) for k, v in good.items()}
    arrays[which] = rng.standard_normal((3, 40)).astype(np.float32)
    b = np.zeros(7, np.float32)
    with pytest.raises(ValueError):
        z, y = plan.forward(arrays["x"], arrays["w"], b)
        plan.backward(arrays["dy"], z, y, arrays["x"], arrays["w"], True, arrays["dw"])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (3, 2, 7, 9), (1, 2, 5, 40), (2, 1, 2, 2), (4, 3, 28, 28)])
def test_maxpool_codes_are_the_argmax_and_route_the_same(shape, dt):
    """forward_lean keeps each 2×2 winner as a byte: y is forward's, winners() widens the codes
    to forward's argmax bit for bit, and backward from the codes is routing into zeros."""
    rng = np.random.default_rng(36)
    lean = MaxPoolPlan(shape[0], shape[1:], 2, None, dt)
    for widen_first in (False, True, False):
        x = rng.integers(-2, 3, shape).astype(dt)
        x[rng.random(shape) < 0.05] = np.nan
        y = lean.forward_lean(x).copy()
        y_c, argmax_c = cnncore.maxpool2d_forward(x, 2)
        assert _same_bits(y, y_c)
        if widen_first:
            assert np.array_equal(lean.winners(), argmax_c)
        dy = _specials(rng, y.shape, dt)
        got = lean.backward(dy).copy()
        assert _same_bits(got, cnncore.maxpool2d_backward(dy, argmax_c, shape))
        assert np.array_equal(lean.winners(), argmax_c)


def test_a_trained_maxpool_layer_shows_the_argmax_of_its_pass(rng):
    """The Backprop tab and the trace read a max-pool layer's argmax after a training pass:
    widened from the plan's codes, it is the checked function's argmax."""
    net = Network(preset("lenet"), seed=3)
    x = rng.random((5, 1, 28, 28))
    net.loss_and_grads(x, np.array([1, 2, 3, 4, 5]))
    for layer in net.layers:
        if layer.type == "maxpool":
            want = cnncore.maxpool2d_forward(layer.x, layer.size, layer.stride)[1]
            assert layer.argmax.dtype == np.int64 and np.array_equal(layer.argmax, want)


def test_a_pool_hands_its_gradient_to_the_convolution_before_it(rng, monkeypatch):
    """conv → 2×2 max-pool: the conv forms dz from the pool's gradient and winners in its own
    pass (the pool's dx is never written during training), bit for bit as when the pool
    writes dx first; the pool's dx and the conv's dy are still there when read."""
    from cnncore.layers import pairs
    x, labels = rng.random((6, 1, 28, 28)), rng.integers(0, 10, 6)
    used = []
    real = ConvPlan.backward_pooled
    monkeypatch.setattr(ConvPlan, "backward_pooled", lambda self, *a, **k: used.append(1) or real(self, *a, **k))
    fused = Network(preset("wide"), seed=4)
    fused.loss_and_grads(x, labels)
    assert len(used) == 2                                 # 28×28 → 14×14 and 14×14 → 7×7
    used.clear()
    Network(preset("lenet"), seed=4).loss_and_grads(x, labels)
    assert len(used) == 2                                 # 24×24 → 12×12 and 8×8 → 4×4
    again = Network(preset("wide"), seed=4)
    again.loss_and_grads(x, labels)
    again.forward(x)                      # unread until a new pass replaced the winners: gone
    assert again.layers[1].dx is None and again.layers[0].dy is None
    monkeypatch.setattr(pairs, "PAIRS", ())       # the two layers one after the other
    plain = Network(preset("wide"), seed=4)
    assert all(stage in plain.layers for stage in plain.stages)
    plain.loss_and_grads(x, labels)
    assert _same_bits(fused.flat_grads, plain.flat_grads)
    for a, b in zip(fused.layers, plain.layers):
        for part in ("dy", "dx", "dz"):
            got, want = getattr(a, part, None), getattr(b, part, None)
            assert (got is None) == (want is None), (a, part)
            if got is not None:
                assert np.array_equal(got, want), (a, part)
    pool, conv = fused.layers[1], fused.layers[0]
    assert np.array_equal(pool.dx, conv.dy)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("hw,act", [((8, 8), 1), ((14, 14), 1), ((28, 28), 1), ((9, 26), 1), ((28, 28), 0)])
def test_conv_gradient_from_a_pending_pool_gradient_is_the_written_one(hw, act, dt):
    """backward_pooled (both the vector and the narrow-row way, odd sizes, with and without an
    activation) gives bit for bit what backward_activated gives from the pool's written dx."""
    from cnncore.layers.maxpool import PendingUnpool
    rng = np.random.default_rng(37)
    N, C, F = 3, 2, 5
    plan = ConvPlan(N, (C,) + hw, F, 3, 1, 1, dt)
    x = rng.standard_normal((N, C) + hw).astype(dt)
    w = rng.standard_normal((F, C, 3, 3)).astype(dt)
    z, y = plan.forward_activated(x, w, rng.standard_normal(F).astype(dt), act)
    pool = MaxPoolPlan(N, (F,) + hw, 2, None, dt)
    pool.forward_lean(np.ascontiguousarray(y))
    dy = _specials(rng, pool.y_shape, dt)
    dy[~np.isfinite(dy)] = 1.5
    got = [a.copy() for a in plan.backward_pooled(PendingUnpool(pool, dy), z, act, x, w)]
    want = plan.backward_activated(pool.backward(dy).copy(), z, act, x, w)
    for g, e in zip(got, want):
        assert _same_bits(g, np.ascontiguousarray(e))


@pytest.mark.parametrize("spec", [preset("lenet"), preset("wide")], ids=["lenet", "wide"])
def test_a_convolution_pools_its_maps_in_the_pass_that_makes_them(spec, rng, monkeypatch):
    """conv (ReLU) → 2×2 max-pool forward as one pass: every kept array (x, z, y, argmax) and
    the logits bit for bit as when the pool reads the conv's y afterwards."""
    from cnncore.layers.pairs import ConvMaxPool
    x = rng.random((4, 1, 28, 28))
    used = []
    real = ConvPlan.forward_pooled
    monkeypatch.setattr(ConvPlan, "forward_pooled", lambda self, *a: used.append(1) or real(self, *a))
    fused = Network(spec, seed=6)
    got = fused.forward(x).copy()
    assert len(used) == 2
    monkeypatch.setattr(ConvMaxPool, "of", classmethod(lambda cls, first, second: None))
    plain = Network(spec, seed=6)
    assert _same_bits(got, plain.forward(x))
    for a, b in zip(fused.layers, plain.layers):
        for part in ("x", "z", "y", "argmax"):
            g, e = getattr(a, part, None), getattr(b, part, None)
            assert (g is None) == (e is None) and (g is None or _same_bits(np.ascontiguousarray(g),
                                                                           np.ascontiguousarray(e))), (a, part)
