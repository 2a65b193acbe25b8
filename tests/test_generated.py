"""generated_digits: deterministic, MNIST's convention, recognisably different digits."""
import numpy as np
import pytest

from cnncore.datasets import generated_digits
from cnncore.datasets.generated import STYLES


@pytest.fixture(scope="module")
def digits():
    return generated_digits(2000, seed=7)


def test_shapes_dtypes_and_balanced_labels(digits):
    X, y = digits
    assert X.shape == (2000, 28, 28) and X.dtype == np.uint8
    assert y.shape == (2000,) and y.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y, minlength=10), [200] * 10)
    assert not np.array_equal(y[:10], np.arange(10))  # shuffled, not in class order


def test_same_seed_same_bytes_other_seed_other_digits(digits):
    X, y = digits
    X2, y2 = generated_digits(2000, seed=7)
    assert X.tobytes() == X2.tobytes() and y.tobytes() == y2.tobytes()
    X3, y3 = generated_digits(2000, seed=8)
    assert not np.array_equal(X, X3)


@pytest.mark.parametrize("n", [0, 1, 9, 13])
def test_small_counts(n):
    X, y = generated_digits(n, seed=0)
    assert X.shape == (n, 28, 28) and y.shape == (n,)
    assert np.bincount(y, minlength=10).max(initial=0) - np.bincount(y, minlength=10).min() <= 1
    assert (X.reshape(n, 784).max(axis=1, initial=0) > 200).all()  # every image has ink


def test_negative_count_is_an_error():
    with pytest.raises(ValueError, match="at least 0"):
        generated_digits(-1)


def test_mnist_convention(digits):
    X, _ = digits
    f = X.astype(np.float64)
    r = np.arange(28)
    tot = f.sum((1, 2))
    cy = (f.sum(2) @ r) / tot
    cx = (f.sum(1) @ r) / tot
    # Centre of mass on pixel (14, 14), within the rounding of a whole-pixel shift.
    assert np.abs(cy - 14).max() <= 0.5 + 1e-9 and np.abs(cx - 14).max() <= 0.5 + 1e-9
    # Ink's bounding box about 20 pixels on its longer side; background black, ink white.
    ink = X > 0
    h = 28 - ink.any(2).argmax(1) - ink.any(2)[:, ::-1].argmax(1)
    w = 28 - ink.any(1).argmax(1) - ink.any(1)[:, ::-1].argmax(1)
    longer = np.maximum(h, w)
    assert np.median(longer) == 20 and (np.abs(longer - 20) <= 2).mean() > 0.9
    assert (X[:, 0, :] == 0).mean() > 0.95 and (X[:, :, 0] == 0).mean() > 0.95
    # Anti-aliased: grey edges as well as saturated cores.
    on = X[X > 0]
    assert 0.2 < (on < 128).mean() < 0.5 and (on > 250).mean() > 0.2


def test_ones_are_narrow_and_eights_have_more_ink(digits):
    X, y = digits
    ink = X > 0
    w = 28 - ink.any(1).argmax(1) - ink.any(1)[:, ::-1].argmax(1)
    assert np.median(w[y == 1]) < 12 < np.median(w[y == 0])
    mass = X.reshape(len(X), -1).sum(1)
    assert np.median(mass[y == 8]) > 1.5 * np.median(mass[y == 1])


def test_classes_are_separable_by_nearest_mean(digits):
    # Train class means on half, classify the other half: well above chance (10%)
    # only if each class has a consistent shape different from the others.
    X, y = digits
    f = X.reshape(len(X), -1).astype(np.float64) / 255
    means = np.stack([f[:1000][y[:1000] == c].mean(0) for c in range(10)])
    d = ((f[1000:, None, :] - means[None]) ** 2).sum(-1)
    assert (d.argmin(1) == y[1000:]).mean() > 0.6


def test_several_styles_per_class():
    assert all(len(STYLES[c]) >= 2 for c in range(10))
    assert sum(len(v) for v in STYLES.values()) >= 25


def test_class_means_already_read_real_digits():
    # A quick proxy for the benchmark (benchmarks/bench_generated.py trains a CNN on
    # generated digits and scores > 90% on the real ones): even the ten class means of
    # generated digits, used as templates, classify most real digits (chance: 10%).
    from cnncore.datasets import load_shared_mnist

    real = load_shared_mnist()
    if real is None:
        pytest.skip("the shared MNIST digits are not beside the repo (../shared/data/mnist)")
    X, y = generated_digits(3000, seed=0)
    Xr, yr = real[0][:2000], real[1][:2000]
    f = X.reshape(len(X), -1) / 255.0
    means = np.stack([f[y == c].mean(0) for c in range(10)])
    d = ((Xr.reshape(len(Xr), 1, -1) / 255.0 - means[None]) ** 2).sum(-1)
    assert (d.argmin(1) == yr).mean() > 0.55
