"""preprocess_drawing: a canvas brought to MNIST's convention."""
import numpy as np
import pytest

from cnncore.datasets import preprocess_drawing
from cnncore.datasets.preprocess import resample


def com(img):
    img = np.asarray(img, dtype=np.float64)
    r = np.arange(img.shape[0])
    c = np.arange(img.shape[1])
    return (img.sum(1) * r).sum() / img.sum(), (img.sum(0) * c).sum() / img.sum()


def bbox(img, level=0.5 / 255):
    rows = np.flatnonzero((img >= level).any(1))
    cols = np.flatnonzero((img >= level).any(0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def disk(size, cy, cx, radius):
    yy, xx = np.mgrid[:size, :size]
    return (np.hypot(yy - cy, xx - cx) <= radius).astype(np.float64)


def seven(size, thickness):
    """A '7' drawn on a size x size canvas: lopsided, so its centre of mass is off its box centre."""
    c = np.zeros((size, size))
    t = max(1, int(round(thickness * size)))
    lo, hi = int(0.2 * size), int(0.8 * size)
    c[lo:lo + t, lo:hi] = 1.0
    for k, row in enumerate(range(lo, hi)):
        col = int(round(hi - 1 - (row - lo) * 0.5))
        c[row, max(col - t // 2, 0):col + (t + 1) // 2] = 1.0
    return c


@pytest.mark.parametrize("size", [28, 100, 280])
def test_output_shape_dtype_range(size):
    out = preprocess_drawing(seven(size, 0.08))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 and np.isfinite(out).all()
    assert out.max() > 0.9  # solid strokes stay close to full ink


@pytest.mark.parametrize("canvas", [np.zeros((280, 280)), np.zeros((1, 1)), np.full((50, 60), 1e-4)])
def test_empty_canvas_gives_zeros(canvas):
    out = preprocess_drawing(canvas)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert not out.any() and np.isfinite(out).all()


def test_centred_blob_stays_centred():
    out = preprocess_drawing(disk(200, 99.5, 99.5, 40))
    cy, cx = com(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    r0, r1, c0, c1 = bbox(out)
    assert r1 - r0 == 20 and c1 - c0 == 20  # scaled into the 20x20 box


def test_off_centre_blob_moves_to_the_centre():
    # A small blob in a corner of a big canvas, plus an elongated one (aspect kept).
    out = preprocess_drawing(disk(300, 40, 250, 15))
    cy, cx = com(out)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1
    canvas = np.zeros((300, 300))
    canvas[200:280, 20:60] = 1.0  # 80 tall, 40 wide -> 20 x 10
    out = preprocess_drawing(canvas)
    r0, r1, c0, c1 = bbox(out, 0.5)
    assert (r1 - r0, c1 - c0) == (20, 10)
    cy, cx = com(out)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1


def test_lopsided_digit_centred_by_mass_not_by_box():
    out = preprocess_drawing(seven(280, 0.06))
    cy, cx = com(out)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1
    r0, r1, c0, c1 = bbox(out)
    # The bar on top holds much of the ink, so the box centre sits below the centre of mass.
    assert (r0 + r1) / 2 - 14 > 1


def test_big_and_small_drawings_agree():
    big = np.zeros((280, 280))
    big[20:260, 20:260] = seven(240, 0.08)
    small = np.zeros((280, 280))
    small[150:210, 30:90] = seven(60, 0.08)
    a, b = preprocess_drawing(big), preprocess_drawing(small)
    assert np.abs(a - b).mean() < 0.03
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95


def test_anti_aliased_not_nearest():
    # A one-pixel-wide line in a 100 px canvas becomes a faint line of grey, not
    # a line that is there or not depending on where it falls.
    canvas = np.zeros((100, 100))
    canvas[10:90, 10:90] = 0.0
    canvas[10:90, 50] = 1.0
    canvas[10, 10:90] = 1.0
    out = preprocess_drawing(canvas)
    grey = out[(out > 0.01) & (out < 0.99)]
    assert grey.size > 10
    # Total ink scales with the area factor (20/80)^2 within rounding.
    assert abs(out.sum() - canvas.sum() * (20 / 80) ** 2) < 0.15 * out.sum()


def test_dark_ink_on_light_canvas():
    light = 1.0 - seven(140, 0.08)
    np.testing.assert_allclose(preprocess_drawing(light, ink=0), preprocess_drawing(seven(140, 0.08)))
    with pytest.raises(ValueError, match="ink"):
        preprocess_drawing(light, ink=0.5)


def test_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        preprocess_drawing(np.zeros((3, 28, 28)))
    out = preprocess_drawing(np.where(seven(56, 0.1) > 0, np.nan, 0.0))  # NaN treated as no ink
    assert np.isfinite(out).all() and not out.any()


@pytest.mark.parametrize("n_in, n_out", [(80, 20), (7, 3), (5, 20), (20, 20)])
def test_resample_keeps_mean_and_constant(n_in, n_out):
    rng = np.random.default_rng(1)
    img = rng.random((n_in, n_in))
    out = resample(img, (n_out, n_out))
    np.testing.assert_allclose(resample(np.ones((n_in, n_in)), (n_out, n_out)), 1.0)
    if n_out <= n_in:
        # Area averaging preserves the mean exactly.
        assert abs(out.mean() - img.mean()) < 1e-12


def test_resample_area_matches_block_mean():
    rng = np.random.default_rng(2)
    img = rng.random((12, 8))
    expected = img.reshape(3, 4, 2, 4).mean(axis=(1, 3))
    np.testing.assert_allclose(resample(img, (3, 2)), expected, atol=1e-12)


def _mnist_like(X):
    """Those digits whose ink box is exactly 20 pixels on its longer side (as MNIST stores them)."""
    ink = X > 0
    longer = np.maximum(ink.any(2).sum(1), ink.any(1).sum(1))
    return X[longer == 20]


@pytest.mark.parametrize("factor", [10, 7])
def test_blown_up_digit_comes_back_unchanged(factor):
    # A digit already in MNIST's convention, drawn `factor` times larger, must come
    # back pixel for pixel: the area average undoes the blow-up exactly and the
    # centre-of-mass placement puts it where it was.
    from cnncore.datasets import generated_digits

    X = _mnist_like(generated_digits(60, seed=3)[0])[:20]
    assert len(X) >= 10
    for img in X:
        canvas = np.kron(img / 255.0, np.ones((factor, factor)))
        padded = np.zeros((canvas.shape[0] + 37, canvas.shape[1] + 11))
        padded[30:30 + canvas.shape[0], 4:4 + canvas.shape[1]] = canvas  # anywhere on the canvas
        np.testing.assert_allclose(preprocess_drawing(padded), img / 255.0, atol=1e-6)


def test_blown_up_real_digits_come_back_unchanged():
    from cnncore.datasets import load_shared_mnist

    real = load_shared_mnist()
    if real is None:
        pytest.skip("the shared MNIST digits are not beside the repo (../shared/data/mnist)")
    for img in _mnist_like(real[0][:100]):
        np.testing.assert_allclose(preprocess_drawing(np.kron(img / 255.0, np.ones((10, 10)))),
                                   img / 255.0, atol=1e-6)


# ----------------------------------------------------------------------------- a photo of a digit

def _photo(paper: float, ink: float, noise: float, seed: int = 0):
    """A 7 on paper of level ``paper`` in ink of level ``ink`` (grey levels in [0, 1]), 300×240,
    with a camera's noise of spread ``noise``."""
    drawn = seven(240, 0.08)                            # 1 where the 7 is
    drawn = np.vstack([np.zeros((30, 240)), drawn, np.zeros((30, 240))])
    rng = np.random.default_rng(seed)
    return np.clip(paper + (ink - paper) * drawn + rng.normal(0, noise, drawn.shape), 0, 1)


@pytest.mark.parametrize("paper, ink", [(0.9, 0.1), (0.75, 0.3), (0.3, 0.0), (0.2, 0.7)])
def test_a_photo_of_a_digit_on_paper_of_any_shade_is_the_digit_on_black(paper, ink):
    """Off-white (or grey, or dark) paper is MNIST's black, the ink white: the paper of a photo was all
    taken for ink, and the 7 came out small in a grey box; dark ink on dark paper was read as light
    ink on black."""
    from cnncore.datasets.preprocess import digit_from_picture
    clean = digit_from_picture(_photo(1.0, 0.0, 0.0))
    got = digit_from_picture(_photo(paper, ink, 0.02))
    assert got[0].max() == 0 and got[:, 0].max() == 0 and got[:, -1].max() == 0     # the paper is black
    assert got.max() > 0.95                                                           # the ink white
    assert bbox(got) == bbox(clean)                                                   # the 7 fills its box
    assert np.abs(got - clean).mean() < 0.01


def test_a_photo_of_blank_paper_is_blank():
    """A picture whose levels differ only by a camera's noise has no digit."""
    from cnncore.datasets.preprocess import digit_from_picture
    assert not digit_from_picture(_photo(0.85, 0.85, 0.02)).any()
