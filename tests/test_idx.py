"""The IDX reader: one test per way a file can be wrong, and the shared real digits."""
import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from cnncore.datasets import IDXError, load_idx_pair, read_idx, to_input

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
SHARED_IMAGES = SHARED / "mnist8k-images-idx3-ubyte.gz"
SHARED_LABELS = SHARED / "mnist8k-labels-idx1-ubyte.gz"
needs_shared = pytest.mark.skipif(
    not (SHARED_IMAGES.is_file() and SHARED_LABELS.is_file()),
    reason=f"the shared MNIST digits are not at {SHARED} (they live beside the repo, not in it)")


def images_bytes(X, magic=2051):
    X = np.asarray(X, dtype=np.uint8)
    return struct.pack(">IIII", magic, *X.shape) + X.tobytes()


def labels_bytes(y, magic=2049):
    y = np.asarray(y, dtype=np.uint8)
    return struct.pack(">II", magic, len(y)) + y.tobytes()


def write(path, data, gz=False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture
def sample():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (7, 28, 28), dtype=np.uint8), rng.integers(0, 10, 7).astype(np.uint8)


@pytest.mark.parametrize("gz", [False, True])
def test_round_trip_raw_and_gzip(tmp_path, sample, gz):
    X, y = sample
    xi = write(tmp_path / "x", images_bytes(X), gz)
    yi = write(tmp_path / "y", labels_bytes(y), gz)
    X2, y2 = load_idx_pair(xi, yi)
    assert X2.dtype == np.uint8 and y2.dtype == np.uint8
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert X2.flags.writeable


def test_gzip_is_sniffed_not_guessed_from_the_name(tmp_path, sample):
    X, _ = sample
    # A raw file named .gz and a gzip file without the suffix both read fine.
    np.testing.assert_array_equal(read_idx(write(tmp_path / "raw.gz", images_bytes(X))), X)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "packed", images_bytes(X), gz=True)), X)


def test_truncated_data(tmp_path, sample):
    X, _ = sample
    p = write(tmp_path / "x", images_bytes(X)[:-10])
    with pytest.raises(IDXError, match=r"truncated.*5488 bytes.*5478"):
        read_idx(p)


def test_truncated_header(tmp_path):
    p = write(tmp_path / "x", struct.pack(">II", 2051, 7))
    with pytest.raises(IDXError, match="truncated header"):
        read_idx(p)


def test_trailing_bytes(tmp_path, sample):
    _, y = sample
    p = write(tmp_path / "y", labels_bytes(y) + b"\0\0\0")
    with pytest.raises(IDXError, match="3 unexpected bytes"):
        read_idx(p)


@pytest.mark.parametrize("magic, message", [
    (0x12345678, r"not an IDX file \(magic number 305419896"),
    (0x00000D03, r"float values \(type byte 0x0d\)"),
    (0x00000802, r"magic number 2050 has 2 dimensions"),
])
def test_wrong_magic(tmp_path, magic, message):
    p = write(tmp_path / "x", struct.pack(">IIII", magic, 1, 2, 2) + bytes(4))
    with pytest.raises(IDXError, match=message):
        read_idx(p)


def test_images_file_given_as_labels(tmp_path, sample):
    X, y = sample
    xi = write(tmp_path / "x", images_bytes(X))
    with pytest.raises(IDXError, match="expected a labels file"):
        load_idx_pair(xi, xi)


def test_images_not_28x28(tmp_path):
    xi = write(tmp_path / "x", images_bytes(np.zeros((3, 20, 20))))
    yi = write(tmp_path / "y", labels_bytes([1, 2, 3]))
    with pytest.raises(IDXError, match="20x20 pixels; expected 28x28"):
        load_idx_pair(xi, yi)


def test_a_pair_of_the_wrong_shape_is_refused_from_its_headers(tmp_path):
    """An images file whose header declares 1 x 32768 x 32768 (a gzip of a few MB) was inflated
    whole (2 GB held) before its size was found not to be 28x28; a labels file of another count
    too. Both are refused from the header now, before the data is read."""
    import tracemalloc
    head = struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">3I", 1, 32768, 32768)
    xi = write(tmp_path / "x.gz", gzip.compress(head + bytes(1 << 24), compresslevel=1))
    yi = write(tmp_path / "y", labels_bytes([1]))
    tracemalloc.start()
    try:
        with pytest.raises(IDXError, match="32768x32768 pixels; expected 28x28"):
            load_idx_pair(xi, yi)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    few = write(tmp_path / "x1", images_bytes(np.zeros((2, 28, 28))))
    many = write(tmp_path / "y2", struct.pack(">BBBB", 0, 0, 8, 1) + struct.pack(">I", 10**9))   # data absent
    with pytest.raises(IDXError, match="labels file says it holds 1,000,000,000 labels but the images file has 2 pictures"):
        load_idx_pair(few, many)


def test_mismatched_counts(tmp_path, sample):
    X, y = sample
    xi = write(tmp_path / "x", images_bytes(X))
    yi = write(tmp_path / "y", labels_bytes(y[:6]))
    with pytest.raises(IDXError, match="labels file says it holds 6 labels but the images file has 7 pictures"):
        load_idx_pair(xi, yi)


def test_corrupt_gzip(tmp_path, sample):
    X, _ = sample
    packed = bytearray(gzip.compress(images_bytes(X)))
    packed[len(packed) // 2:len(packed) // 2 + 40] = bytes(40)  # smash the deflate stream
    p = write(tmp_path / "x.gz", bytes(packed))
    with pytest.raises(IDXError, match="gzip data is corrupt"):
        read_idx(p)


def test_truncated_gzip(tmp_path, sample):
    X, _ = sample
    packed = gzip.compress(images_bytes(X))
    p = write(tmp_path / "x.gz", packed[: len(packed) // 2])
    with pytest.raises(IDXError, match="gzip data is corrupt or truncated"):
        read_idx(p)


def test_empty_file(tmp_path):
    p = write(tmp_path / "x", b"")
    with pytest.raises(IDXError, match="the file is empty"):
        read_idx(p)


def test_zero_sized_dimension(tmp_path):
    p = write(tmp_path / "x", struct.pack(">IIII", 2051, 0, 28, 28))
    with pytest.raises(IDXError, match="zero-sized dimension"):
        read_idx(p)


def test_missing_file(tmp_path):
    with pytest.raises(IDXError, match="file not found"):
        read_idx(tmp_path / "nope.gz")


def test_labels_above_nine(tmp_path, sample):
    X, y = sample
    y = y.copy()
    y[4] = 12
    xi = write(tmp_path / "x", images_bytes(X))
    yi = write(tmp_path / "y", labels_bytes(y))
    with pytest.raises(IDXError, match="1 labels are not digits 0-9 .first: entry 4 = 12"):
        load_idx_pair(xi, yi)


def test_idx_error_is_a_value_error():
    assert issubclass(IDXError, ValueError)


@needs_shared
def test_shared_digits_checksums_and_class_counts():
    # sha256 of the decompressed content, as published in the shared README.
    sums = {SHARED_IMAGES: "c6beb86dee3f4e07138a2ee7e423dbbe9f2de59e54eee6b1ede5b6b0f2ae6ebc",
            SHARED_LABELS: "ca7bfaf2ca63bacfe71b50b711ce605e34a6556a68b2ba8a628b8559b6a9ba8d"}
    for path, digest in sums.items():
        assert hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest() == digest
    X, y = load_idx_pair(SHARED_IMAGES, SHARED_LABELS)
    assert X.shape == (8000, 28, 28) and y.shape == (8000,)
    np.testing.assert_array_equal(np.bincount(y, minlength=10),
                                  [773, 905, 834, 803, 788, 723, 756, 813, 787, 818])
    assert X.min() == 0 and X.max() == 255


@needs_shared
def test_shared_digits_follow_the_convention_generated_digits_copy():
    # The generator and preprocess_drawing assume MNIST's layout; check it on real data:
    # centre of mass near pixel (14, 14), ink bounding box 20 pixels on its longer side.
    X, _ = load_idx_pair(SHARED_IMAGES, SHARED_LABELS)
    f = X.astype(np.float64)
    r = np.arange(28)
    cy = (f.sum(2) * r).sum(1) / f.sum((1, 2))
    cx = (f.sum(1) * r).sum(1) / f.sum((1, 2))
    assert abs(np.median(cy) - 14) < 0.3 and abs(np.median(cx) - 14) < 0.3
    ink = X > 0
    h = 28 - ink.any(2).argmax(1) - ink.any(2)[:, ::-1].argmax(1)
    assert np.mean(h == 20) > 0.9


def test_to_input(sample):
    X, _ = sample
    x = to_input(X)
    assert x.dtype == np.float32 and x.shape == (7, 1, 28, 28)
    np.testing.assert_array_equal(x[:, 0], X.astype(np.float32) / np.float32(255))
    assert x.min() >= 0 and x.max() <= 1
    np.testing.assert_array_equal(to_input(X[:, None]), x)
    with pytest.raises(TypeError, match="uint8"):
        to_input(X.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        to_input(X[0])
