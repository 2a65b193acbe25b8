"""A convolution's gradient pass (``conv_grad_prologue``): dz = dy ⊙ f′(z), formed from a 2×2 max-pool's
gradient and winners or from dy itself, written where the dw and dx loops read it, and db.

Items are blocks of filters (a vector's worth, or the most up to that which divide the filters'
count) and, where those are fewer than the threads want, rows of their planes (an even number:
a pool's window spans two rows); every output is held to NumPy here, bit for bit where it is
one product per element, and to itself on every thread count."""
import numpy as np
import pytest

from cnncore._dispatch import _kernels

LANES = _kernels.VECTOR_LANES[4]


def _case(N, F, H, W, pooled, seed=0, finite=False):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((N, F, H, W)).astype(np.float32)
    if not pooled:
        return z, rng.standard_normal(z.shape).astype(np.float32), None, None, None
    if not finite:
        z.reshape(-1)[::7] = np.nan     # NaN wins its window; its slope is 0
    y = np.maximum(z, 0)
    pool = np.empty((N, F, H // 2, W // 2), np.float32)
    codes = np.empty(pool.shape, np.uint8)
    _kernels.maxpool2x2_codes(np.ascontiguousarray(y), pool, codes, 1)
    dyp = rng.standard_normal(pool.shape).astype(np.float32)
    if not finite:
        dyp.reshape(-1)[::5] = np.inf   # inf · 0 is NaN where the slope is 0, as NumPy has it
    spread = np.zeros_like(z)            # the pool's backward pass: dy to each window's winner
    n, f, r, c = np.indices(pool.shape)
    spread[n, f, 2 * r + codes // 2, 2 * c + codes % 2] = dyp
    return z, spread, dyp, codes, pool


def _run(z, dy, codes, pool, layout, threads):
    N, F, H, W = z.shape
    if layout == "positions":       # the filter gradient by vectors of filters reads (N, H·W, F)
        d1buf = np.full((N, H * W, F), np.nan, np.float32)
        d1 = d1buf.reshape(N, H, W, F).transpose(0, 3, 1, 2)
    else:                           # rows with a margin, as the wide rows lay them out
        d1buf = np.full((N, F, H + 1, W + 3), np.nan, np.float32)
        d1 = d1buf[:, :, 1:, 2:-1]
    d2buf = np.full((N, F, H + 2, W + 2), np.nan, np.float32)
    d2 = d2buf[:, :, 1:-1, 1:-1]
    acc = np.empty((F, H * W), np.float32)
    tmp = np.empty(_kernels.prologue_scratch(H, W, threads), np.float32)
    db = np.empty(F, np.float32)
    _kernels.conv_grad_prologue(dy, codes, pool, z, 1, d1, d2, acc, tmp, db, threads)
    return d1.copy(), d2.copy(), db, d1buf, d2buf


@pytest.mark.parametrize("layout", ["positions", "rows"])
@pytest.mark.parametrize("pooled", [True, False])
@pytest.mark.parametrize("N, F, H, W", [
    (3, LANES, 28, 28),          # one block of filters: rows split among the threads
    (2, 2 * LANES, 13, 26),      # odd rows under a pool: the last row is no window's
    (1, 8, 8, 8),
    (5, 3, 10, 6),               # filters that fill no vector
    (4, 6, 24, 24),              # (lenet's first layer) fewer than a vector: all in one block
    (3, LANES - 1, 6, 6),        # each position's values run on into the next ones'
    (2, 3 * LANES // 2, 8, 8),   # more than a vector that fill no whole vectors: two blocks
    (2, 5, 17, 16),              # 8 windows a row (several rows a tile where they fit), odd rows
    (3, 4, 10, 8),               # 4 windows a row, 5 rows of them: a last tile of fewer rows
    (2, 3, 14, 14),              # 7 windows a row
    (2, 3, 10, 15),              # odd columns: the last is no window's
    (3, 2 * LANES, 9, 35),       # odd rows and columns, rows of more windows than a vector
    (2, 4 * LANES, 6, 30),       # blocks enough: whole planes
])
def test_dz_and_db_match_numpy_on_every_thread_count(N, F, H, W, pooled, layout):
    z, dy_full, dyp, codes, pool = _case(N, F, H, W, pooled)
    with np.errstate(invalid="ignore"):
        dz = dy_full * (z > 0)
        want_db = dz.astype(np.float64).sum(axis=(0, 2, 3))
    first = None
    for threads in (1, 2, 3, 4):
        d1, d2, db, d1buf, d2buf = _run(z, dyp if pooled else dy_full, codes, pool, layout, threads)
        for got in (d1, d2):     # one product per element: exact, down to the sign of a zero
            np.testing.assert_array_equal(got, dz)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(dz))
        assert np.isnan(d2buf[:, :, 0]).all() and np.isnan(d2buf[:, :, -1]).all()   # nothing past its view
        assert np.isnan(d1buf).sum() == d1buf.size - dz.size + np.isnan(dz).sum()
        np.testing.assert_allclose(db, want_db, rtol=2e-5, atol=2e-5)
        if first is None:
            first = db
        np.testing.assert_array_equal(db, first)         # every sum in one order


def test_the_scratch_a_thread_count_needs_is_checked():
    z, dy, _, _, _ = _case(2, LANES, 12, 12, False)
    d1 = np.empty_like(z)
    tmp = np.empty((1, 12 * 12), np.float32)        # one thread's worth of one filter
    with pytest.raises(ValueError, match="scratch"):
        _kernels.conv_grad_prologue(dy, None, None, z, 1, d1, None, np.empty((LANES, 144), np.float32), tmp,
                                    np.empty(LANES, np.float32), 4)


def test_codes_come_with_the_pools_output():
    z, _, dyp, codes, _ = _case(2, LANES, 12, 12, True)
    with pytest.raises(ValueError, match="pool's output"):
        _kernels.conv_grad_prologue(dyp, codes, None, z, 1, np.empty_like(z), None,
                                    np.empty((LANES, 144), np.float32),
                                    np.empty(_kernels.prologue_scratch(12, 12, 1), np.float32),
                                    np.empty(LANES, np.float32), 1)


@pytest.mark.parametrize("wrong", ["dy", "d1", "d2", "db", "codes"])
def test_arrays_that_do_not_match_z_are_refused(wrong):
    """Each array is read or written over z's shape (dy over the pool's): one of another shape
    would be read or written past its end."""
    z, _, dyp, codes, pool = _case(2, 4, 12, 12, True)
    args = {"dy": dyp, "d1": np.empty_like(z), "d2": np.empty_like(z), "db": np.empty(4, np.float32),
            "codes": codes}
    args[wrong] = {"dy": np.ascontiguousarray(dyp[:, :, :5]), "d1": np.empty_like(z[:1]), "d2": np.empty_like(z[:, :3]),
                   "db": np.empty(3, np.float32), "codes": codes[:1]}[wrong]
    with pytest.raises(ValueError, match="do not match z|pool's output"):
        _kernels.conv_grad_prologue(args["dy"], args["codes"], pool, z, 1, args["d1"], args["d2"],
                                    np.empty((4, 144), np.float32),
                                    np.empty(_kernels.prologue_scratch(12, 12, 1), np.float32), args["db"], 1)


@pytest.mark.parametrize("N, F, H, W, pooled", [
    (2, 3, 2, 1, True),      # a pooled width of 0
    (2, 0, 4, 4, True),      # no filters
    (2, 3, 0, 4, False),     # no positions
    (0, 3, 4, 4, True),      # no samples
])
def test_empty_shapes_give_empty_sums_and_no_crash(N, F, H, W, pooled):
    """Shapes a layer never makes (its output shape refuses them) still get db = 0 from a direct call,
    not a division by zero in the choice of items or of the pool's tile."""
    z = np.zeros((N, F, H, W), np.float32)
    dy = np.ones((N, F, H // 2, W // 2) if pooled else z.shape, np.float32)
    codes = np.zeros(dy.shape, np.uint8) if pooled else None
    pool = np.ones(dy.shape, np.float32) if pooled else None
    db = np.full(F, 7, np.float32)
    tmp = np.empty(_kernels.prologue_scratch(H, W, 2), np.float32) if H * W else np.empty((4, 1), np.float32)
    _kernels.conv_grad_prologue(dy, codes, pool, z, 1, np.zeros_like(z), None,
                                np.empty((max(F, 1), max(H * W, 1)), np.float32), tmp, db, 2)
    assert (db == 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("H, W", [(28, 28), (14, 14), (9, 11), (16, 34)])
def test_a_pools_gradient_without_activation_into_one_target(H, W, dtype):
    """act 0 (dz is the pool's written dx itself) and no second target, in float and double: each
    row stored where the view says and nowhere else."""
    N, F = 3, 5
    z, spread, dyp, codes, pool = _case(N, F, H, W, True, seed=3)
    z, spread, dyp, pool = (a.astype(dtype) for a in (z, spread, dyp, pool))
    d1buf = np.full((N, F, H + 2, W + 5), np.nan, dtype)
    d1 = d1buf[:, :, 1:-1, 3:-2]
    acc = np.empty((F, H * W), dtype)
    db = np.empty(F, dtype)
    for threads in (1, 3):
        tmp = np.empty(_kernels.prologue_scratch(H, W, threads), dtype)
        _kernels.conv_grad_prologue(dyp, codes, pool, z, 0, d1, None, acc, tmp, db, threads)
        np.testing.assert_array_equal(d1, spread)
        np.testing.assert_array_equal(np.signbit(d1), np.signbit(spread))
        assert np.isnan(d1buf).sum() == d1buf.size - spread.size + np.isnan(spread).sum()
        np.testing.assert_allclose(db, spread.astype(np.float64).sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("act", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, F, H, W", [
    (3, 5, 10, 15),              # odd columns: the last column's sum stays 0
    (2, 3, 9, 11),               # odd rows and columns
    (3, 2 * LANES, 9, 35),       # rows of more windows than a vector, odd
    (2, 4, 28, 28),
    (2, 3, 14, 14),
    (2, 5, 17, 16),              # rows of windows that fold several to a tile
])
def test_the_sums_over_samples_are_exact_at_every_position(N, F, H, W, act, dtype):
    """Finite values (inf and NaN in the cases above would hide a wrong sum): the scratch sums are,
    position by position, 0 + dz(0) + dz(1) + … in sample order, bit for bit, db their planes' sums,
    and both targets hold dz, with and without the activation, in float and double."""
    z, spread, dyp, codes, pool = _case(N, F, H, W, True, seed=5, finite=True)
    z, spread, dyp, pool = (a.astype(dtype) for a in (z, spread, dyp, pool))
    dz = spread * (z > 0) if act else spread
    want = np.zeros((F, H * W), dtype)
    for n in range(N):
        want = want + dz[n].reshape(F, H * W)
    for threads in (1, 2, 3):
        d1buf = np.full((N, F, H + 1, W + 3), np.nan, dtype)
        d1 = d1buf[:, :, 1:, 2:-1]
        d2buf = np.full((N, F, H + 2, W + 2), np.nan, dtype)
        d2 = d2buf[:, :, 1:-1, 1:-1]
        acc, db = np.full((F, H * W), np.nan, dtype), np.empty(F, dtype)
        tmp = np.full(_kernels.prologue_scratch(H, W, threads), np.nan, dtype)
        _kernels.conv_grad_prologue(dyp, codes, pool, z, act, d1, d2, acc, tmp, db, threads)
        np.testing.assert_array_equal(acc, want)
        np.testing.assert_array_equal(np.signbit(acc), np.signbit(want))
        np.testing.assert_allclose(db, dz.astype(np.float64).sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-5)
        for got in (d1, d2):
            np.testing.assert_array_equal(got, dz)
        assert np.isnan(d1buf).sum() == d1buf.size - dz.size
        assert np.isnan(d2buf).sum() == d2buf.size - dz.size
