"""The convolution register tiles on the shapes that reach each of their paths.

The forward tile splits a wide row into runs of up to 6 vectors; the filter-gradient
tile splits a channel's taps into calls of at most 30 taps and tiles of up to 6, and
takes the samples in chunks that fit in L1 (more samples per chunk when the planes
are small). Each path is checked against the NumPy twin and, with 1, 2 and 3 threads,
bit for bit against itself.
"""
import zlib

import numpy as np
import pytest

import cnncore
from cnncore import reference as ref
from cnncore.layers import conv_dx, conv_plan
from cnncore.layers.conv_plan import ConvPlan

TOL = {np.float32: dict(rtol=3e-5, atol=3e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
EPS32 = float(np.finfo(np.float32).eps)

CASES = [
    # N, C, H, W, F, kernel, stride, padding
    (40, 2, 5, 5, 5, 3, 1, 1),            # tiny planes: 25 (float32) samples per chunk, then 15
    (3, 2, 9, 8, 9, (6, 7), 1, 2),        # 42 taps a channel: two calls of 21, tiles 6+5+5+5
    (2, 1, 11, 13, 4, (7, 5), (2, 1), 3),  # padding past K − 1 on one side, stride 2
    (5, 3, 14, 14, 6, 3, 1, 1),           # wide rows of 14 vectors: 5 + 5 + 4
    (2, 1, 28, 28, 16, 3, 1, 1),          # the wide preset's first layer
    (2, 8, 12, 12, 16, 5, 1, 0),          # lenet's second layer
    # filters that fill every build's vectors (16): the filter gradient by vectors of filters where
    # the rule picks it (lenet's second layer, stride 2) and always with the rule 'filters':
    (17, 16, 14, 14, 32, 3, 1, 1),        # wide's second layer: rows of 3 taps, 8 a tile; 2 runs of samples
    (17, 8, 12, 12, 16, 5, 1, 0),         # lenet's second: rows of 5, 4 a tile (200 taps: 9 tiles); 2 runs
    (3, 2, 11, 9, 16, (4, 2), (2, 3), 1),  # rows of 2 taps: single taps a tile; strides, padding
    (1, 30, 6, 6, 16, 1, 1, 0),           # 1×1 kernels, 30 taps: two tiles of single taps
    (2, 1, 9, 9, 48, (3, 5), 2, 2),       # 3 vectors of filters, rows of 5, stride 2
]


def _run(case, dt, threads):
    N, C, H, W, F, K, S, P = case
    rng = np.random.default_rng(zlib.crc32(str(case).encode()))     # (str hashes change per process)
    KH, KW = (K, K) if isinstance(K, int) else K
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = rng.standard_normal((F, C, KH, KW)).astype(dt)
    b = rng.standard_normal(F).astype(dt)
    before = cnncore.get_num_threads()
    cnncore.set_num_threads(threads)
    try:
        z = cnncore.conv2d_forward(x, w, b, S, P)
        dz = rng.standard_normal(z.shape).astype(dt)
        dx, dw, db = cnncore.conv2d_backward(dz, x, w, S, P)
    finally:
        cnncore.set_num_threads(before)
    return (x, w, b, dz), (z, dx, dw, db)


@pytest.mark.parametrize("rule", ["measured", "filters"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_tiles_match_the_twin_and_any_thread_count(case, dt, rule, monkeypatch):
    monkeypatch.setattr(cnncore._threads, "_PARALLEL_MIN_WORK", 0)     # every call may use threads
    if rule == "filters":       # by vectors of filters wherever the filters fill them
        monkeypatch.setattr(conv_plan, "_ROWS_WASTE", 0.0)
    (x, w, b, dz), got = _run(case, dt, 1)
    S, P = case[6], case[7]
    want = (ref.conv2d_forward(*(a.astype(np.float64) for a in (x, w, b)), S, P),
            *ref.conv2d_backward(*(a.astype(np.float64) for a in (dz, x, w)), S, P))
    # each output's sum of |terms|: a sum's rounding grows with it, not with the sum itself
    scale = (ref.conv2d_forward(*(np.abs(a).astype(np.float64) for a in (x, w, b)), S, P),
             *ref.conv2d_backward(*(np.abs(a).astype(np.float64) for a in (dz, x, w)), S, P))
    for g, e, m in zip(got, want, scale):
        assert g.dtype == dt and g.shape == e.shape
        if dt == np.float64:
            np.testing.assert_allclose(g, e, **TOL[dt])
        else:
            np.testing.assert_array_less(np.abs(g - e), 3e-5 * (1 + np.abs(e)) + 16 * EPS32 * m)
    for threads in (2, 3):
        for g, e in zip(_run(case, dt, threads)[1], got):
            np.testing.assert_array_equal(g, e)          # each item owns its outputs


def _laid_out(plan):
    """``plan`` after a forward and a backward pass, so every buffer of its layout exists."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(plan.x_shape).astype(plan.dtype)
    w = rng.standard_normal(plan.w_shape).astype(plan.dtype)
    plan.forward(x, w, np.zeros(plan.w_shape[0], plan.dtype))
    plan.backward(rng.standard_normal(plan.z_shape).astype(plan.dtype), x, w)
    return plan


@pytest.mark.parametrize("batch, in_shape, filters, kernel, stride, padding, by_filters", [
    (64, (16, 14, 14), 32, 3, 1, 1, False),  # wide's second layer: 224 wide-row positions for 196
    (64, (24, 16, 16), 48, 3, 1, 1, False),  # cifar's second: 288 for 256
    (64, (8, 12, 12), 16, 5, 1, 0, True),    # lenet's second: 96 for 64
    (64, (1, 28, 28), 16, 5, 2, 0, True),    # stride 2: 656 for 144
    (1, (16, 14, 14), 32, 3, 1, 1, True),    # batch 1
    (64, (16, 14, 14), 20, 3, 1, 1, False),  # 20 filters fill no build's vectors
])
def test_the_filter_gradient_goes_by_vectors_of_filters_where_wide_rows_waste_work(
        batch, in_shape, filters, kernel, stride, padding, by_filters):
    plan = _laid_out(ConvPlan(batch, in_shape, filters, kernel, stride, padding, np.float32))
    assert plan._dw.by_filters is by_filters


def test_dx_wide_rows_cover_dx_and_not_the_forward_padding():
    """For a 3×3, padding-1 layer the padded dz that dx's convolution reads is H×W plus
    K − 1 − P a side, so its wide rows are as long as the forward pass's: 14 rows of 16."""
    plan = _laid_out(ConvPlan(2, (16, 14, 14), 32, 3, 1, 1, np.float32))
    assert plan._dx.dpad.view.shape == (2, 32, 16, 16)
    assert plan._dx.conv.out.shape[2] == plan._fwd[0].out.shape[2] == 14 * 16


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_wide_row_buffers_start_on_a_cache_line(dt):
    """The tiles' vector loads and stores are aligned only if every buffer they stream
    starts on a 64-byte line (NumPy's large buffers start 16 bytes past one)."""
    for batch in (8, 64):
        plan = _laid_out(ConvPlan(batch, (16, 14, 14), 32, 3, 1, 1, dt))
        dz = plan._dw.dzt if plan._dw.by_filters else plan._dw.dzw
        dpad = plan._dx.dpad
        if plan._dw.pad is dpad:       # dw reads dx's padded dz: each plane's dz starts a line
            assert dz.strides[1] % 64 == 0 and dz.strides[2] == dz.itemsize
            dz, padded = dz[:1, :1, :1], dpad.buf[dpad.first:]
        else:
            padded = dpad.buf
        for buf in (plan._xpad.buf, plan._fwd[0].out, dz, padded, plan._dx.conv.out):
            assert buf.ctypes.data % 64 == 0 and buf.dtype == dt and buf.flags.c_contiguous


def test_dx_rows_share_their_zero_padding_where_that_saves_work():
    """Lenet's second layer (8×8 dz, 5×5 filters, no padding) as a full convolution: the padded
    dz's rows are 12 wide, not 16, the right padding of one row doubling as the left of the next."""
    full = conv_dx._FullConvParts(ConvPlan(2, (8, 12, 12), 16, 5, 1, 0, np.float32))
    assert full.dpad.view.shape == (2, 16, 16, 12)
    assert full.conv.out.shape[2] == 12 * 12


@pytest.mark.parametrize("in_shape,filters,kernel,stride,padding,fold", [
    # lenet's second layer: 56 % of the full convolution's products pad (the scatter sums each
    # row of dx in registers: its adds cost a fifth of its multiply-adds, with any vector width)
    ((8, 12, 12), 16, 5, 1, 0, True),
    ((1, 28, 28), 8, 5, 2, 0, True),       # tiny's: dz dilated by the stride (and one channel)
    ((16, 14, 14), 32, 3, 1, 1, False),    # wide's second layer: the padding is a thin rim
    ((24, 16, 16), 48, 3, 1, 1, False),    # cifar's
])
def test_dx_goes_by_the_scatter_where_the_full_convolution_multiplies_mostly_padding(
        in_shape, filters, kernel, stride, padding, fold):
    """float32 layers; a float64 layer (the worked examples) keeps the textbook's full convolution."""
    assert conv_dx._by_scatter(ConvPlan(64, in_shape, filters, kernel, stride, padding, np.float32)) is fold
    assert not conv_dx._by_scatter(ConvPlan(64, in_shape, filters, kernel, stride, padding, np.float64))
    plan = _laid_out(ConvPlan(2, in_shape, filters, kernel, stride, padding, np.float32))
    assert isinstance(plan._dx, conv_dx._FoldParts if fold else conv_dx._FullConvParts)


@pytest.mark.parametrize("K", [2, 3, 5, (3, 5), (5, 2)])
@pytest.mark.parametrize("S", [1, 2, (1, 3)])
@pytest.mark.parametrize("P", [0, 1, (0, 2), (2, 0)])
def test_dx_with_shared_row_padding_matches_the_twin(K, S, P):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 9, 11))
    w = rng.standard_normal((3, 2) + ((K, K) if isinstance(K, int) else K))
    dz = rng.standard_normal(cnncore.conv2d_forward(x, w, np.zeros(3), S, P).shape)
    dx = cnncore.conv2d_backward(dz, x, w, S, P)[0]
    np.testing.assert_allclose(dx, ref.conv2d_backward(dz, x, w, S, P)[0], rtol=1e-12, atol=1e-12)


def _fold_in_order(cols, case):
    """dx of sample 0 from the scatter's products ``cols`` (R, Lr) in float32, one term at a
    time in ``cnn_fold_plane``'s order: from +0, taps j outer and i inner."""
    _, C, H, W, _, (KH, KW), (SH, SW), (PH, PW) = case
    dx = np.zeros((C, H, W), np.float32)
    Ho, Wo = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    for c in range(C):
        for j in range(KW):
            for i in range(KH):
                taps = cols[(c * KH + i) * KW + j, :Ho * Wo].reshape(Ho, Wo)
                for y in range(Ho):
                    for x in range(Wo):
                        r, s = y * SH + i - PH, x * SW + j - PW
                        if 0 <= r < H and 0 <= s < W:
                            dx[c, r, s] = np.float32(dx[c, r, s] + taps[y, x])
    return dx


def test_the_scatter_sums_dx_in_one_order_whatever_lies_beside_its_products():
    """The scatter's dx, sample by sample, against its own products added one at a time in the
    order of ``cnn_fold_plane`` (the stride-1 layers' register sums claim its bits), the
    products' scratch filled with NaN beforehand: a lane read beside a tap's row or in the slack
    past the last must add nothing. Shapes of every path: dx rows shorter and longer than a vector, 1 to 6 channels
    (the sums go 4, 2 and 1 channels at a time), padding past the kernel, strides."""
    rng = np.random.default_rng(17)
    cases = [(1, C, H, W, 3, K, S, P) for C, H, W, K, S, P in [
        (8, 12, 12, (5, 5), (1, 1), (0, 0)), (7, 9, 11, (3, 5), (1, 1), (1, 2)), (1, 5, 37, (2, 3), (1, 1), (0, 3)),
        (2, 16, 18, (3, 3), (1, 1), (1, 1)), (3, 4, 4, (4, 4), (1, 1), (3, 3)), (6, 13, 9, (3, 2), (2, 1), (1, 0)),
        (5, 7, 7, (1, 1), (1, 1), (0, 0)), (2, 11, 8, (3, 3), (1, 3), (2, 1))]]
    for case in cases:
        _, C, H, W, F, K, S, P = case
        plan = ConvPlan(1, (C, H, W), F, K, S, P, np.float32)
        parts = conv_dx._FoldParts(plan)
        cols = parts.cols(1)
        cols[...] = np.nan
        np.copyto(parts.dpad.inner, rng.standard_normal(plan.z_shape).astype(np.float32))
        dx = parts.run(rng.standard_normal(plan.w_shape).astype(np.float32), 1)
        R, Lr = parts.wt.shape[0], parts.geometry[3]
        products = cols[0, :R * Lr].reshape(R, Lr)
        np.testing.assert_array_equal(dx[0], _fold_in_order(products, case), err_msg=str(case))


def _random_case(rng):
    """A layer shape drawn with the extremes weighted in: H or W of 1, kernels of 1×1 and as large
    as the padded input, strides up to 4 with padding, filters and channels off the tile sizes."""
    N = int(rng.choice([1, 1, 2, 3, 17]))
    C, F = int(rng.integers(1, 8)), int(rng.integers(1, 11))
    H, W = (int(rng.choice([1, 2, 3, 5, 7, 9, 13, 16, 17, 28, 31])) for _ in range(2))
    P = (int(rng.integers(0, 4)), int(rng.integers(0, 4)))
    Hp, Wp = H + 2 * P[0], W + 2 * P[1]
    K = (int(rng.integers(1, min(Hp, 9) + 1)), int(rng.integers(1, min(Wp, 9) + 1)))
    K = (Hp, Wp) if rng.random() < 0.15 else (1, 1) if rng.random() < 0.1 else K
    S = (int(rng.integers(1, 5)), int(rng.integers(1, 5))) if rng.random() < 0.6 else (1, 1)
    return N, C, H, W, F, K, S, P


@pytest.mark.parametrize("dx_by", ["full convolution", "scatter"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_random_shapes_match_the_twin_and_any_thread_count(dt, dx_by, monkeypatch):
    """Every wide-row layout (the tiles read past the last plane into the buffers' slack) on
    40 drawn shapes, dx by either way: forward, dx, dw and db against the NumPy twin, bit for
    bit with 2 and 3 threads."""
    monkeypatch.setattr(cnncore._threads, "_PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(conv_dx, "_by_scatter", lambda plan: dx_by == "scatter")
    rng = np.random.default_rng(91 if dt == np.float32 else 92)
    for _ in range(40):
        case = _random_case(rng)
        (x, w, b, dz), got = _run(case, dt, 1)
        S, P = case[6], case[7]
        want = (ref.conv2d_forward(*(a.astype(np.float64) for a in (x, w, b)), S, P),
                *ref.conv2d_backward(*(a.astype(np.float64) for a in (dz, x, w)), S, P))
        for g, e in zip(got, want):
            assert g.dtype == dt and g.shape == e.shape, case
            # (sums of up to thousands of float32 terms: their rounding scales with the largest)
            scale = max(1.0, float(np.abs(e).max()))
            np.testing.assert_allclose(g, e, rtol=TOL[dt]["rtol"], atol=TOL[dt]["atol"] * scale,
                                       err_msg=str(case))
        for threads in (2, 3):
            for g, e in zip(_run(case, dt, threads)[1], got):
                np.testing.assert_array_equal(g, e, err_msg=f"{case}, {threads} threads")


def _backward_twice(plan):
    """``(dz, dx, dw, db)`` of two backward passes of ``plan`` (ReLU, then none) on fixed inputs."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(plan.x_shape).astype(plan.dtype)
    w = rng.standard_normal(plan.w_shape).astype(plan.dtype)
    z = plan.forward(x, w, rng.standard_normal(plan.w_shape[0]).astype(plan.dtype)).copy()
    out = []
    for act in (1, 0):
        dy = rng.standard_normal(plan.z_shape).astype(plan.dtype)
        out += [np.ascontiguousarray(a) for a in plan.backward_activated(dy, z, act, x, w)]
    return out


@pytest.mark.parametrize("batch, in_shape, filters, shared", [
    (64, (16, 14, 14), 32, True),     # wide's second layer: dz padded to 16 columns for dx and for dw
    (64, (24, 16, 16), 48, False),    # cifar's second: dx's rows share their padding, 17 wide, not 18
    (9, (3, 10, 10), 6, False),       # 6 filters: not whole blocks of the dw tiles
    (9, (4, 7, 9), 8, False),         # planes of 9×11: their dz would start off the cache lines
])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_dw_reads_the_padded_dz_of_dx_where_its_wide_rows_lie_there(batch, in_shape, filters, shared, dt,
                                                                     monkeypatch):
    """A stride-1, 3×3, padding-1 layer: the filter gradient's wide rows of dz (14 values and 2 zeros
    a row) are the rows of the padded dz that dx reads, one padded plane apart, so the gradient pass
    writes dz once, into that buffer; dz, dx, dw and db bit for bit those of a plan with two copies."""
    plan = ConvPlan(batch, in_shape, filters, 3, 1, 1, dt)
    got = _backward_twice(plan)
    assert (plan._dw.pad is plan._dx.dpad) == shared
    if shared:
        assert np.shares_memory(plan._dw.dzw, plan._dx.dpad.buf)
    monkeypatch.setattr(conv_dx, "shared_dz", lambda plan: None)
    monkeypatch.setattr(conv_plan, "shared_dz", lambda plan: None)
    apart = ConvPlan(batch, in_shape, filters, 3, 1, 1, dt)
    want = _backward_twice(apart)
    assert apart._dw.pad is None
    for a, b in zip(got, want):
        assert a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))
