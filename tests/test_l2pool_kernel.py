"""The L2-norm pooling kernels: NumPy twin, central differences, y = 0, NaN, PyTorch."""
import numpy as np
import pytest

import cnncore
from cnncore import reference as ref

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}

# stride < size: overlapping windows (dx adds up); non-square windows and strides
CASES = [(2, None), (3, 2), (2, 1), ((2, 3), (1, 2)), ((3, 1), (1, 2)), (1, 1), ((2, 2), (3, 3))]
SHAPES = [(1, 1, 4, 4), (3, 2, 7, 9), (2, 3, 11, 6)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size,stride", CASES)
def test_l2pool_matches_reference(size, stride, dtype):
    rng = np.random.default_rng(21)
    for shape in SHAPES:
        x = rng.standard_normal(shape).astype(dtype)
        y = cnncore.l2pool2d_forward(x, size, stride)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, ref.l2pool2d_forward(x, size, stride), **TOL[dtype])
        dy = rng.standard_normal(y.shape).astype(dtype)
        dx = cnncore.l2pool2d_backward(dy, x, y, size, stride)
        assert dx.dtype == dtype and dx.shape == x.shape
        np.testing.assert_allclose(dx, ref.l2pool2d_backward(dy, x, y, size, stride), **TOL[dtype])


@pytest.mark.parametrize("size,stride", [(2, None), (3, 2), ((2, 3), (1, 2))])
def test_l2pool_gradient_matches_central_differences(size, stride):
    rng = np.random.default_rng(22)
    x = rng.standard_normal((2, 2, 7, 7))
    g = rng.standard_normal(cnncore.l2pool2d_forward(x, size, stride).shape)
    dx = cnncore.l2pool2d_backward(g, x, cnncore.l2pool2d_forward(x, size, stride), size, stride)
    eps, num = 1e-6, np.zeros_like(x)
    flat, nflat = x.reshape(-1), num.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        lp = float((cnncore.l2pool2d_forward(x, size, stride) * g).sum())
        flat[i] = old - eps
        lm = float((cnncore.l2pool2d_forward(x, size, stride) * g).sum())
        flat[i] = old
        nflat[i] = (lp - lm) / (2 * eps)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_window_of_zeros_has_gradient_zero(dtype):
    """y = 0 where a whole window is 0: no division by zero, no NaN, and its members get 0
    (an overlapping window that is not all zeros still sends x/y, here 0 · ..., there)."""
    x = np.ones((1, 1, 5, 5), dtype=dtype)
    x[0, 0, :3, :3] = 0                               # the top-left 3×3 window
    dy = np.full((1, 1, 2, 2), 2.0, dtype=dtype)
    with np.errstate(all="raise"):
        y = cnncore.l2pool2d_forward(x, 3, 2)
        dx = cnncore.l2pool2d_backward(dy, x, y, 3, 2)
    assert y[0, 0, 0, 0] == 0 and np.isfinite(dx).all()
    assert (dx[0, 0, :3, :3] == 0).all()
    np.testing.assert_allclose(dx, ref.l2pool2d_backward(dy, x, y, 3, 2), **TOL[dtype])
    assert dx[0, 0, 4, 4] == pytest.approx(2 / np.sqrt(8))       # dy · x / y = 2 · 1 / √8 (one member is 0)
    tiny = np.full((1, 1, 2, 2), 1e-30, dtype=np.float32)        # squares underflow: y = 0 too
    y = cnncore.l2pool2d_forward(tiny, 2)
    assert y[0, 0, 0, 0] == 0
    assert (cnncore.l2pool2d_backward(np.ones_like(y), tiny, y, 2) == 0).all()


def test_nan_is_data():
    x = np.ones((1, 1, 4, 4))
    x[0, 0, 0, 0] = np.nan
    y = cnncore.l2pool2d_forward(x, 2)
    assert np.isnan(y[0, 0, 0, 0]) and np.isfinite(y.reshape(-1)[1:]).all()
    dx = cnncore.l2pool2d_backward(np.ones_like(y), x, y, 2)
    assert np.isnan(dx[0, 0, :2, :2]).all() and np.isfinite(dx[0, 0, 2:, :]).all()


def test_threads_do_not_change_the_results(monkeypatch):
    monkeypatch.setattr(cnncore._threads, "_PARALLEL_MIN_WORK", 0)
    rng = np.random.default_rng(23)
    x = rng.standard_normal((8, 3, 12, 12)).astype(np.float32)
    before, results = cnncore.get_num_threads(), []
    try:
        for n in (1, 2, 3):
            cnncore.set_num_threads(n)
            y = cnncore.l2pool2d_forward(x, 3, 2)
            results.append((y, cnncore.l2pool2d_backward(y, x, y, 3, 2)))
    finally:
        cnncore.set_num_threads(before)
    for y, dx in results[1:]:
        assert np.array_equal(y, results[0][0]) and np.array_equal(dx, results[0][1])


def test_bad_arguments_are_errors_with_the_reason():
    x = np.ones((1, 1, 4, 4))
    y = cnncore.l2pool2d_forward(x, 2)
    with pytest.raises(ValueError, match=r"y must have shape \(1, 1, 2, 2\)"):
        cnncore.l2pool2d_backward(np.ones_like(y), x, np.ones((1, 1, 3, 3)), 2)
    with pytest.raises(ValueError, match="dy must have shape"):
        cnncore.l2pool2d_backward(np.ones((1, 1, 1, 2)), x, y, 2)
    with pytest.raises(TypeError, match="real numbers"):
        cnncore.l2pool2d_forward(x.astype(complex), 2)
    with pytest.raises(cnncore.ShapeError):
        cnncore.l2pool2d_forward(x, 5)


@pytest.mark.parametrize("size,stride", [(2, None), (3, 2), (2, 1), ((2, 3), (1, 2))])
def test_l2pool_equals_pytorch_lp_pool2d(size, stride):
    """Where y > 0 (lp_pool2d's gradient is not defined at y = 0)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(24)
    x = rng.standard_normal((2, 3, 9, 8))
    y = cnncore.l2pool2d_forward(x, size, stride)
    dy = rng.standard_normal(y.shape)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.lp_pool2d(xt, 2, size, stride)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cnncore.l2pool2d_backward(dy, x, y, size, stride), xt.grad.numpy(),
                               rtol=1e-10, atol=1e-12)
