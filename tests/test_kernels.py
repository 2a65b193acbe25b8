"""The Cython kernels against the NumPy twin, central differences and the texts' examples."""
import threading

import numpy as np
import pytest

import cnncore
from cnncore import reference as ref
from cnncore.identities import dilate, dw_via_correlation, dx_via_convolution, flip_filters
from cnncore.shapes import pair

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _conv_cases(count=48, seed=1234):
    """Random layer shapes: 1–3 channels in and out, kernels 1–5 (non-square too),
    stride 1–3, padding 0–2, batch 1–4, kept to those where the kernel fits."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        N, C, F = (int(v) for v in rng.integers(1, [5, 4, 4]))
        KH, KW = (int(v) for v in rng.integers(1, 6, size=2))
        S = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if rng.random() < 0.3 else int(rng.integers(1, 4))
        P = (int(rng.integers(0, 3)), int(rng.integers(0, 3))) if rng.random() < 0.3 else int(rng.integers(0, 3))
        H, W = (int(v) for v in rng.integers(1, 12, size=2))
        PH, PW = pair(P, "p", minimum=0)
        if KH > H + 2 * PH or KW > W + 2 * PW:
            continue
        cases.append((N, C, H, W, F, (KH, KW) if KH != KW else KH, S, P))
    return cases


# the random cases plus the paths they rarely reach: several blocks of 4 filters
# (F = 4, 5, 9) and filter rows wider than one 7-column pass of the dw tile
CONV_CASES = _conv_cases() + [(2, 2, 9, 17, 4, 3, 1, 1), (1, 3, 8, 12, 5, (2, 8), 1, 0),
                              (2, 1, 6, 20, 9, (3, 15), (1, 2), (1, 2)), (1, 2, 5, 9, 9, (1, 8), 2, 0)]


def _data(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES, ids=[str(c) for c in CONV_CASES])
def test_conv_matches_reference(case, dtype):
    N, C, H, W, F, K, S, P = case
    KH, KW = pair(K, "k")
    rng = np.random.default_rng(hash(case) % 2**32)
    x = _data(rng, (N, C, H, W), dtype)
    w = _data(rng, (F, C, KH, KW), dtype)
    b = _data(rng, (F,), dtype)
    z = cnncore.conv2d_forward(x, w, b, S, P)
    z_ref = ref.conv2d_forward(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), S, P)
    assert z.dtype == dtype and z.shape == z_ref.shape
    np.testing.assert_allclose(z, z_ref, **TOL[dtype])

    dz = _data(rng, z.shape, dtype)
    dx, dw, db = cnncore.conv2d_backward(dz, x, w, S, P)
    dx_r, dw_r, db_r = ref.conv2d_backward(*(a.astype(np.float64) for a in (dz, x, w)), S, P)
    for got, want in ((dx, dx_r), (dw, dw_r), (db, db_r)):
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("case", CONV_CASES[:16], ids=[str(c) for c in CONV_CASES[:16]])
def test_conv_backward_is_the_textbook_convolutions(case):
    """dx = pad(dilate(dz)) convolved with the flipped filters, padding stripped;
    dw = the padded input correlated (stride 1) with dilate(dz)."""
    N, C, H, W, F, K, S, P = case
    KH, KW = pair(K, "k")
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, KH, KW))
    z = cnncore.conv2d_forward(x, w, np.zeros(F), S, P)
    dz = rng.standard_normal(z.shape)
    dx, dw, _ = cnncore.conv2d_backward(dz, x, w, S, P)
    np.testing.assert_allclose(dx, dx_via_convolution(dz, w, x.shape, S, P), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, dw_via_correlation(dz, x, (KH, KW), S, P), rtol=1e-12, atol=1e-12)


def test_need_dx_false_skips_dx_and_keeps_dw_db():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 1, 8, 8)), rng.standard_normal((3, 1, 3, 3))
    dz = rng.standard_normal((2, 3, 6, 6))
    dx, dw, db = cnncore.conv2d_backward(dz, x, w, need_dx=False)
    _, dw_full, db_full = cnncore.conv2d_backward(dz, x, w)
    assert dx is None
    np.testing.assert_array_equal(dw, dw_full)
    np.testing.assert_array_equal(db, db_full)


# ---------------------------------------------------------------- identities

def test_dilate_inserts_stride_minus_one_zeros():
    dz = np.arange(1, 7, dtype=float).reshape(2, 3)
    d = dilate(dz, (2, 3))
    assert d.shape == (3, 7)
    np.testing.assert_array_equal(d[::2, ::3], dz)
    assert d.sum() == dz.sum() and np.count_nonzero(d) == 6
    np.testing.assert_array_equal(dilate(dz, 1), dz)


def test_flip_filters_rotates_and_swaps_channels():
    w = np.arange(2 * 3 * 2 * 3, dtype=float).reshape(2, 3, 2, 3)
    fw = flip_filters(w)
    assert fw.shape == (3, 2, 2, 3)
    for f in range(2):
        for c in range(3):
            np.testing.assert_array_equal(fw[c, f], np.rot90(w[f, c], 2))


# ------------------------------------------------------- gradient checks

def _central_difference(fn, arr, eps=1e-6):
    grad = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        up = fn()
        arr[idx] = old - eps
        down = fn()
        arr[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("S,P,K", [(1, 0, 3), (2, 1, 3), (3, 2, (2, 4)), ((2, 1), (0, 1), (3, 2))])
def test_conv_gradients_match_central_differences(S, P, K):
    rng = np.random.default_rng(3)
    KH, KW = pair(K, "k")
    x = rng.standard_normal((2, 2, 7, 6))
    w = rng.standard_normal((3, 2, KH, KW))
    b = rng.standard_normal(3)
    g = rng.standard_normal(cnncore.conv2d_forward(x, w, b, S, P).shape)   # L = Σ g ⊙ z

    def loss():
        return float((cnncore.conv2d_forward(x, w, b, S, P) * g).sum())

    dx, dw, db = cnncore.conv2d_backward(g, x, w, S, P)
    np.testing.assert_allclose(dx, _central_difference(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, _central_difference(loss, w), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, _central_difference(loss, b), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("size,stride", [(2, None), (3, 2), ((2, 3), (1, 2))])
def test_pool_gradients_match_central_differences(size, stride):
    rng = np.random.default_rng(4)
    # distinct values far apart, so no max changes under the ± eps nudge
    x = rng.permutation(2 * 2 * 7 * 7).reshape(2, 2, 7, 7).astype(float) * 0.01
    y, argmax = cnncore.maxpool2d_forward(x, size, stride)
    g = rng.standard_normal(y.shape)
    dx = cnncore.maxpool2d_backward(g, argmax, x.shape)
    num = _central_difference(lambda: float((cnncore.maxpool2d_forward(x, size, stride)[0] * g).sum()), x)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-8)
    da = cnncore.avgpool2d_backward(g, x.shape, size, stride)
    num = _central_difference(lambda: float((cnncore.avgpool2d_forward(x, size, stride) * g).sum()), x)
    np.testing.assert_allclose(da, num, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------- pooling

POOL_CASES = [(2, None), (2, 1), (3, 2), (3, 3), ((2, 3), None), ((3, 1), (1, 2)), (1, 1), (3, 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size,stride", POOL_CASES)
def test_pools_match_reference(size, stride, dtype):
    rng = np.random.default_rng(5)
    for shape in [(1, 1, 4, 4), (3, 2, 7, 9), (2, 3, 11, 6)]:
        x = _data(rng, shape, dtype)
        y, argmax = cnncore.maxpool2d_forward(x, size, stride)
        y_r, a_r = ref.maxpool2d_forward(x, size, stride)
        np.testing.assert_array_equal(y, y_r)
        np.testing.assert_array_equal(argmax, a_r)
        assert argmax.dtype == np.int64 and y.dtype == dtype
        dy = _data(rng, y.shape, dtype)
        np.testing.assert_allclose(cnncore.maxpool2d_backward(dy, argmax, shape),
                                   ref.maxpool2d_backward(dy, a_r, shape), **TOL[dtype])
        np.testing.assert_allclose(cnncore.avgpool2d_forward(x, size, stride),
                                   ref.avgpool2d_forward(x, size, stride), **TOL[dtype])
        np.testing.assert_allclose(cnncore.avgpool2d_backward(dy, shape, size, stride),
                                   ref.avgpool2d_backward(dy, shape, size, stride), **TOL[dtype])


def test_maxpool_ties_go_to_the_first_in_row_major_order():
    x = np.array([[[[1, 3, 3, 0],
                    [3, 2, 0, 3],
                    [5, 5, 4, 4],
                    [5, 5, 4, 4]]]], dtype=np.float32)
    y, argmax = cnncore.maxpool2d_forward(x, 2)
    np.testing.assert_array_equal(y[0, 0], [[3, 3], [5, 4]])
    np.testing.assert_array_equal(argmax[0, 0], [[1, 2], [8, 10]])


def test_overlapping_windows_accumulate_gradients():
    """Size 3, stride 2: the centre column and row belong to two windows each."""
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 1.0                      # the winner of all four windows
    y, argmax = cnncore.maxpool2d_forward(x, 3, 2)
    assert (argmax == 12).all()
    dx = cnncore.maxpool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), argmax, x.shape)
    assert dx[0, 0, 2, 2] == 10.0 and dx.sum() == 10.0
    da = cnncore.avgpool2d_backward(np.ones((1, 1, 2, 2)), x.shape, 3, 2)
    assert da[0, 0, 2, 2] == pytest.approx(4 / 9) and da[0, 0, 0, 0] == pytest.approx(1 / 9)
    assert da[0, 0, 0, 2] == pytest.approx(2 / 9)


def test_wide_rows_are_pooled_in_chunks():
    """Rows of more than 256 outputs go through the 2×2 tile in several chunks."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, 2, 4, 1042)).astype(np.float32)
    y, argmax = cnncore.maxpool2d_forward(x, 2)
    y_r, a_r = ref.maxpool2d_forward(x, 2)
    np.testing.assert_array_equal(y, y_r)
    np.testing.assert_array_equal(argmax, a_r)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_2x2_maxpool_tile_at_every_width_with_ties_and_nans(dtype):
    """The vector tile of the 2×2 stride-2 case: rows narrower and wider than a vector, odd
    sizes (last row or column unused), many ties and NaNs, planes of every size in one batch;
    ties go to the first member in row-major order and a NaN wins, as np.argmax does."""
    rng = np.random.default_rng(21)
    for H in (2, 3, 5, 8):
        for W in list(range(2, 40)) + [63, 64, 65]:
            x = rng.integers(-2, 3, (3, 2, H, W)).astype(dtype)        # small integers: ties
            x[rng.random(x.shape) < 0.05] = np.nan
            x[rng.random(x.shape) < 0.02] = -np.inf
            y, argmax = cnncore.maxpool2d_forward(x, 2)
            y_r, a_r = ref.maxpool2d_forward(x, 2)
            np.testing.assert_array_equal(y, y_r)
            np.testing.assert_array_equal(argmax, a_r, err_msg=f"H={H} W={W}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_2x2_maxpool_backward_by_codes_at_every_width(dtype):
    """The pool's backward pass from its one-byte codes, for rows of windows narrower than a
    vector (one window at a time, or several rows of them a tile where they divide a vector),
    about a vector wide and wider, odd sizes (a last row or column no window's): 0 + dy at
    each winner, 0 elsewhere, as the argmax path and the NumPy twin write it."""
    from cnncore._dispatch import _kernels
    rng = np.random.default_rng(22)
    for H in (2, 3, 5, 8, 9, 17):
        for W in list(range(2, 40)) + [63, 64, 65]:
            x = rng.integers(-2, 3, (3, 2, H, W)).astype(dtype)
            y, argmax = cnncore.maxpool2d_forward(x, 2)
            pooled, codes = np.empty_like(y), np.empty(y.shape, np.uint8)
            _kernels.maxpool2x2_codes(np.ascontiguousarray(x), pooled, codes, 1)
            dy = rng.standard_normal(y.shape).astype(dtype)
            want = ref.maxpool2d_backward(dy, argmax, x.shape)
            for threads in (1, 2):
                dx = np.full(x.shape, np.nan, dtype)
                _kernels.maxpool2x2_backward(dy, None, codes, dx, threads)
                np.testing.assert_array_equal(dx, want, err_msg=f"H={H} W={W}")


@pytest.mark.parametrize("stride,pos", [(2, (5, 5)), (1, (0, 4)), (3, (2, 6))])
def test_nan_reaches_exactly_the_filter_taps_that_saw_it(stride, pos):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((1, 2, 6, 7))
    x[0, 1][pos] = np.nan
    w = rng.standard_normal((3, 2, 3, 3))
    z = cnncore.conv2d_forward(x, w, np.zeros(3), stride)
    dz = rng.standard_normal(z.shape)
    _, dw, _ = cnncore.conv2d_backward(dz, x, w, stride)
    _, dw_r, _ = ref.conv2d_backward(dz, x, w, stride)
    np.testing.assert_array_equal(np.isnan(dw), np.isnan(dw_r))
    assert np.isfinite(dw[:, 0]).all()                    # channel 0 never saw the NaN
    np.testing.assert_allclose(dw[~np.isnan(dw_r)], dw_r[~np.isnan(dw_r)], rtol=1e-12)


def test_float64_in_either_byte_order_runs_in_float64():
    x = np.arange(16, dtype=">f8").reshape(1, 1, 4, 4) / 3
    z = cnncore.conv2d_forward(x, np.ones((1, 1, 2, 2)), np.zeros(1))
    assert z.dtype == np.float64
    np.testing.assert_allclose(z, ref.conv2d_forward(x.astype(np.float64), np.ones((1, 1, 2, 2)), np.zeros(1)),
                               rtol=1e-15)
    assert cnncore.maxpool2d_forward(x, 2)[0].dtype == np.float64


def test_nan_is_data():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    x[0, 0, 0, 0] = np.nan
    y, argmax = cnncore.maxpool2d_forward(x, 2)
    assert np.isnan(y[0, 0, 0, 0]) and argmax[0, 0, 0, 0] == 0
    np.testing.assert_array_equal(y[0, 0].ravel()[1:], [7, 13, 15])
    z = cnncore.conv2d_forward(x, np.ones((1, 1, 2, 2)), np.zeros(1))
    assert np.isnan(z[0, 0, 0, 0]) and np.isfinite(z[0, 0, 1:, :]).all() and np.isfinite(z[0, 0, :, 1:]).all()


# -------------------------------------------------- the texts' worked examples

def test_worked_example_5x5_input_3x3_filter_stride_2():
    """001 text: 5×5 input a_1..a_25, 3×3 filter w_1..w_9, stride 2, no padding."""
    rng = np.random.default_rng(11)
    a = rng.standard_normal(26)                      # a[1..25]; a[0] unused (1-based as in the text)
    w = rng.standard_normal(10)                      # w[1..9]
    x = a[1:].reshape(1, 1, 5, 5)
    W = w[1:].reshape(1, 1, 3, 3)
    z = cnncore.conv2d_forward(x, W, np.zeros(1), stride=2).ravel()     # z_1..z_4
    assert z.shape == (4,)
    # z_1 = w_1 a_1 + w_2 a_2 + w_3 a_3 + w_4 a_6 + … + w_9 a_13, and the others from a_3, a_11, a_13
    for k, top_left in enumerate([1, 3, 11, 13]):
        terms = [w[3 * r + c + 1] * a[top_left + 5 * r + c] for r in range(3) for c in range(3)]
        assert z[k] == pytest.approx(sum(terms), rel=1e-12)
    dLdz = rng.standard_normal(5)                    # ∂L/∂z_1..∂L/∂z_4
    _, dW, _ = cnncore.conv2d_backward(dLdz[1:].reshape(1, 1, 2, 2), x, W, stride=2)
    dW = np.concatenate([[np.nan], dW.ravel()])      # 1-based
    # ∂L/∂w_1 = a_1 ∂L/∂z_1 + a_3 ∂L/∂z_2 + a_11 ∂L/∂z_3 + a_13 ∂L/∂z_4
    assert dW[1] == pytest.approx(a[1] * dLdz[1] + a[3] * dLdz[2] + a[11] * dLdz[3] + a[13] * dLdz[4])
    # ∂L/∂w_2 = a_2 ∂L/∂z_1 + a_4 ∂L/∂z_2 + a_12 ∂L/∂z_3 + a_14 ∂L/∂z_4
    assert dW[2] == pytest.approx(a[2] * dLdz[1] + a[4] * dLdz[2] + a[12] * dLdz[3] + a[14] * dLdz[4])
    for i in range(1, 10):                           # every w_i: four terms, shifted by its offset
        off = 5 * ((i - 1) // 3) + (i - 1) % 3
        expected = sum(a[t + off] * dLdz[k + 1] for k, t in enumerate([1, 3, 11, 13]))
        assert dW[i] == pytest.approx(expected, rel=1e-12)


def test_worked_example_4x4_maxpool():
    """001 text: a 4×4 grid, 2×2 windows, stride 2 → (4 − 2)/2 + 1 = 2 outputs a side;
    each gradient goes back to its window's maximum only."""
    x = np.array([[[[1, 5, 2, 0],
                    [3, 4, 8, 1],
                    [0, 2, 6, 7],
                    [9, 1, 3, 2]]]], dtype=np.float32)
    y, argmax = cnncore.maxpool2d_forward(x, 2, 2)
    np.testing.assert_array_equal(y[0, 0], [[5, 8], [9, 7]])
    dy = np.array([[[[0.1, 0.2], [0.3, 0.4]]]], dtype=np.float32)
    dx = cnncore.maxpool2d_backward(dy, argmax, x.shape)[0, 0]
    expected = np.zeros((4, 4), np.float32)
    expected[0, 1], expected[1, 2], expected[3, 0], expected[2, 3] = 0.1, 0.2, 0.3, 0.4
    np.testing.assert_array_equal(dx, expected)


# ---------------------------------------------- conversions and threads

def test_non_contiguous_and_other_dtypes_are_converted():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 6, 9, 9))[:, ::2, ::-1, :]     # non-contiguous view
    w = rng.integers(-2, 3, size=(2, 3, 3, 3))                  # ints
    b = [0.5, -1.0]                                             # a list
    z = cnncore.conv2d_forward(x, w, b)
    assert z.dtype == np.float64                                # x is float64
    np.testing.assert_allclose(z, ref.conv2d_forward(np.ascontiguousarray(x), w.astype(float),
                                                     np.array(b), 1, 0), rtol=1e-12)
    z32 = cnncore.conv2d_forward(x.astype(np.float16), w, np.float32(b))
    assert z32.dtype == np.float32
    y, _ = cnncore.maxpool2d_forward(np.arange(16, dtype=np.uint8).reshape(1, 1, 4, 4), 2)
    assert y.dtype == np.float32 and y.max() == 15


def test_thread_count_does_not_change_results(monkeypatch):
    monkeypatch.setattr(cnncore._threads, "_PARALLEL_MIN_WORK", 0)     # every call may use threads
    rng = np.random.default_rng(8)
    x = rng.standard_normal((16, 4, 14, 14)).astype(np.float32)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    dz = rng.standard_normal((16, 8, 14, 14)).astype(np.float32)
    before = cnncore.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            cnncore.set_num_threads(n)
            y, argmax = cnncore.maxpool2d_forward(x, 3, 2)
            results.append((cnncore.conv2d_forward(x, w, np.zeros(8), 1, 1),
                            *cnncore.conv2d_backward(dz, x, w, 1, 1), y, argmax,
                            cnncore.maxpool2d_backward(y, argmax, x.shape),
                            cnncore.avgpool2d_forward(x, 3, 2),
                            cnncore.avgpool2d_backward(y, x.shape, 3, 2)))
    finally:
        cnncore.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)      # bit for bit: each item owns its outputs


def test_kernels_run_from_several_python_threads_at_once():
    rng = np.random.default_rng(9)
    xs = [rng.standard_normal((4, 2, 12, 12)) for _ in range(4)]
    w = rng.standard_normal((3, 2, 3, 3))
    expected = [ref.conv2d_forward(x, w, np.zeros(3), 1, 1) for x in xs]
    errors = []

    def work(i):
        try:
            for _ in range(20):
                np.testing.assert_allclose(cnncore.conv2d_forward(xs[i], w, np.zeros(3), 1, 1),
                                           expected[i], rtol=1e-12, atol=1e-12)
                y, a = cnncore.maxpool2d_forward(xs[i], 2)
                np.testing.assert_array_equal(y, ref.maxpool2d_forward(xs[i], 2)[0])
        except Exception as exc:    # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match="set_num_threads"):
        cnncore.set_num_threads(cnncore.kernels.MAX_THREADS + 1)
    with pytest.raises(ValueError, match="set_num_threads"):
        cnncore.set_num_threads(0)
    with pytest.raises(ValueError, match="set_num_threads"):
        cnncore.set_num_threads(1.5)


def _openmp_env_after_import(**env):
    """The OpenMP wait variables a fresh ``import cnncore`` leaves, from an environment with ``env``."""
    import json
    import os
    import subprocess
    import sys
    keys = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
    base = {k: v for k, v in os.environ.items() if k not in keys}
    code = ("import json, os, cnncore; "
            f"print(json.dumps({{k: os.environ.get(k) for k in {keys!r}}}))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, cwd=root, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


@pytest.mark.skipif(__import__("sys").platform == "win32", reason="MSVC's OpenMP has no bounded wait to set")
def test_idle_threads_poll_briefly_then_sleep_unless_the_user_chose():
    # by default: a bounded poll (libgomp and LLVM's libomp), not a sleep after every loop
    # (a futex wake-up per loop cost 40% of a batch-64 step) nor the runtimes' long spin
    assert _openmp_env_after_import() == {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "30000",
                                          "KMP_BLOCKTIME": "1"}
    # a user's choice wins, and no bound is added beside it
    assert _openmp_env_after_import(OMP_WAIT_POLICY="PASSIVE")["GOMP_SPINCOUNT"] is None
    assert _openmp_env_after_import(GOMP_SPINCOUNT="5")["GOMP_SPINCOUNT"] == "5"
    assert _openmp_env_after_import(KMP_BLOCKTIME="0")["KMP_BLOCKTIME"] == "0"


def _blas_threads_after(code_first: str, **env):
    """The thread counts of the BLAS libraries loaded in a fresh process that ran ``code_first``, then
    ``import cnncore`` (from an environment with ``env`` and no BLAS thread variable of the user's)."""
    import json
    import os
    import subprocess
    import sys
    keys = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")
    base = {k: v for k, v in os.environ.items() if k not in keys}
    code = (f"{code_first}; import json, cnncore; from threadpoolctl import threadpool_info; "
            "print(json.dumps([i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, cwd=root, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def test_one_blas_thread_also_when_numpy_came_first():
    """A notebook imports NumPy first: its BLAS threads (one per core) spun beside the kernels' own
    and a wide-preset training step took 4 times as long."""
    pytest.importorskip("threadpoolctl")
    from cnncore._threads import _cpus
    if _cpus() < 2:
        pytest.skip("one core: a BLAS starts one thread whatever the order of the imports")
    first = _blas_threads_after("import numpy, numpy.linalg")
    if not first:
        pytest.skip("this NumPy's BLAS is not one threadpoolctl can see")
    assert first == [1] * len(first)
    assert _blas_threads_after("import os") == [1] * len(first)                  # cnncore first: as before
    assert 2 in _blas_threads_after("import numpy", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2")  # the user's


def test_a_dense_layer_runs_the_blas_numpy_wheels_bring_and_the_tiles_where_there_is_none(monkeypatch):
    """NumPy's wheels carry scipy-openblas (numpy.libs/ on Linux and Windows): cnncore hands its gemm to
    the kernels, and nothing beyond NumPy is installed for it. No library to be found: the tiles."""
    from pathlib import Path

    from cnncore import _blas
    from cnncore._dispatch import _kernels
    if not list((Path(np.__file__).resolve().parent.parent / "numpy.libs").glob("libscipy_openblas*")):
        pytest.skip("this NumPy is not a wheel that carries scipy-openblas beside it")
    assert _kernels.blas_in_use()
    monkeypatch.setattr(_blas, "_numpy_blas_paths", lambda: ["/nonexistent/libblas.so", np.__file__])
    try:
        _kernels.set_blas(0, 0, False)
        assert not _blas.use_numpy_blas() and not _kernels.blas_in_use()
    finally:
        monkeypatch.undo()
        assert _blas.use_numpy_blas()


@pytest.mark.parametrize("N,K,D,halves", [(64, 10, 3072, True), (8, 200, 1000, True), (64, 64, 1568, False),
                                          (37, 15, 2000, True)])
def test_a_thin_dense_product_is_two_halves_on_any_thread_count(N, K, D, halves, dense_products):
    """From a million multiply-adds a thin ``z = x·Wᵀ + b`` (under 16 rows or columns) is two
    products, the halves of z's longer side (one a thread where there are two): each half is the
    product of its own rows or columns alone. The bits are the same on one thread and on two, and
    the values those of float64 sums."""
    from cnncore._dispatch import _kernels
    assert N * K * D >= 1 << 20 and (min(N, K) < 16) == halves
    rng = np.random.default_rng(N + K)
    x, w = rng.standard_normal((N, D)).astype(np.float32), rng.standard_normal((K, D)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    z1, z2 = np.empty((N, K), np.float32), np.empty((N, K), np.float32)
    _kernels.dense_forward(x, w, b, z1, 1)
    _kernels.dense_forward(x, w, b, z2, 2)
    assert np.array_equal(z1.view(np.uint32), z2.view(np.uint32))
    np.testing.assert_allclose(z1, x.astype(np.float64) @ w.T.astype(np.float64) + b, rtol=1e-4, atol=1e-3)
    cut = (max(N, K) // 2 + 15) // 16 * 16
    if dense_products == "blas" and halves:
        assert cut * min(N, K) * D < 1 << 20       # a half alone is one product
        if N >= K:
            part = np.empty((N - cut, K), np.float32)
            _kernels.dense_forward(np.ascontiguousarray(x[cut:]), w, b, part, 1)
            assert np.array_equal(part.view(np.uint32), z1[cut:].view(np.uint32))
        else:
            part = np.empty((N, K - cut), np.float32)
            _kernels.dense_forward(x, np.ascontiguousarray(w[cut:]), np.ascontiguousarray(b[cut:]), part, 1)
            assert np.array_equal(part.view(np.uint32), z1[:, cut:].view(np.uint32))


@pytest.mark.parametrize("transposed", [True, False])
def test_a_thin_dense_gradient_is_the_same_on_one_thread_and_on_two(transposed, dense_products):
    """The cifar preset's dense layer at batch 64 (10 units, 3,072 inputs): dW = dzᵀ·x (10 rows: thin,
    two halves of its columns) and dx = dz·W, bit for bit on one thread and on two, the values those
    of float64 sums."""
    from cnncore._dispatch import _kernels
    rng = np.random.default_rng(7)
    dz = rng.standard_normal((64, 10)).astype(np.float32)
    B = rng.standard_normal((64, 3072) if transposed else (10, 3072)).astype(np.float32)
    outs = [np.empty((10 if transposed else 64, 3072), np.float32) for _ in range(2)]
    for nt, out in zip((1, 2), outs):
        _kernels.dense_rows(dz, transposed, B, out, nt)
    assert np.array_equal(outs[0].view(np.uint32), outs[1].view(np.uint32))
    a = dz.T if transposed else dz
    np.testing.assert_allclose(outs[0], a.astype(np.float64) @ B.astype(np.float64), rtol=1e-4, atol=1e-3)
