"""Shared fixtures.

``shared_mnist`` gives the 8,000 real digits of ``<repo>/../shared/data/mnist`` and
``shared_cifar`` the 4,660 real CIFAR-10 pictures of ``<repo>/../shared/data/cifar10`` (each read
here with a tiny reader of its own, so these fixtures depend on nothing under test); each skips,
saying why, when its folder is absent.
"""
from __future__ import annotations

import atexit
import gzip
import os
import shutil
import struct
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Test the working tree (built in place) without installing it; an installed copy (a wheel)
# instead when the checkout has no built kernels (cibuildwheel) or CNNLAB_TEST_INSTALLED=1.
_BUILT_HERE = any(p.suffix in (".so", ".pyd") for p in (REPO / "cnncore").glob("_kernels*"))
if _BUILT_HERE and not os.environ.get("CNNLAB_TEST_INSTALLED") and str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# No test reads or writes the user's own settings or files (a window saves its settings and the
# network in use when it closes, and would migrate an old settings file): folders of the run's own,
# unless a test sets others.
for _var, _prefix in (("CNNLAB_CONFIG_DIR", "cnnlab-test-config-"), ("CNNLAB_DATA_DIR", "cnnlab-test-data-")):
    os.environ[_var] = tempfile.mkdtemp(prefix=_prefix)
    atexit.register(shutil.rmtree, os.environ[_var], ignore_errors=True)

# GUI tests run offscreen, here for every test file (a file that builds a widget without saying so
# aborted when run alone on a machine without a display). CNNLAB_TEST_PLATFORM=xcb runs them on a
# real X server instead (CI does so once under Xvfb).
os.environ["QT_QPA_PLATFORM"] = os.environ.get("CNNLAB_TEST_PLATFORM") or os.environ.get("QT_QPA_PLATFORM") or "offscreen"

import cnncore  # noqa: E402,F401  (before NumPy: it sets the thread environment)
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_report_header(config):
    return f"cnncore imported from {Path(cnncore.__file__).parent}, kernels: {cnncore.KERNEL_BUILD} build"


SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
SHARED_IMAGES = SHARED_MNIST / "mnist8k-images-idx3-ubyte.gz"
SHARED_LABELS = SHARED_MNIST / "mnist8k-labels-idx1-ubyte.gz"


def _read_idx_gz(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def same_pictures(X, Y) -> int:
    """How many pictures of ``X`` are, pixel for pixel, among those of ``Y`` (the slow way: what the
    fingerprints of cnncore.learnt are held to)."""
    kept = {y.tobytes() for y in np.asarray(Y)}
    return sum(x.tobytes() in kept for x in np.asarray(X))


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    """Write a uint8 array as an IDX file (images 3-D, labels 1-D)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    data = header + array.tobytes()
    path.write_bytes(gzip.compress(data, compresslevel=1) if gz else data)
    return path


@pytest.fixture(scope="session")
def shared_mnist_dir() -> Path:
    """The folder of the shared real digits, or skip."""
    if not (SHARED_IMAGES.is_file() and SHARED_LABELS.is_file()):
        pytest.skip(f"real MNIST digits not found in {SHARED_MNIST} (the project's ../shared folder)")
    return SHARED_MNIST


@pytest.fixture(scope="session")
def shared_mnist(shared_mnist_dir):
    """``(X uint8 (8000, 28, 28), y uint8 (8000,))`` of the shared real digits, or skip."""
    X = _read_idx_gz(SHARED_IMAGES)
    y = _read_idx_gz(SHARED_LABELS)
    assert X.shape == (8000, 28, 28) and y.shape == (8000,)
    return X, y


SHARED_CIFAR = REPO.parent / "shared" / "data" / "cifar10"
SHARED_CIFAR_FILE = SHARED_CIFAR / "cifar10-4660-train.bin.gz"


@pytest.fixture(scope="session")
def shared_cifar():
    """``(X uint8 (4660, 3, 32, 32), y uint8 (4660,))``: the shared real CIFAR-10 pictures (read here
    with a reader of its own: a label byte, then the R, G and B planes of each record), or skip."""
    if not SHARED_CIFAR_FILE.is_file():
        pytest.skip(f"real CIFAR-10 pictures not found in {SHARED_CIFAR} (the project's ../shared folder)")
    rec = np.frombuffer(gzip.decompress(SHARED_CIFAR_FILE.read_bytes()), np.uint8).reshape(-1, 3073)
    return rec[:, 1:].reshape(-1, 3, 32, 32).copy(), rec[:, 0].copy()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def one_thread():
    """Run the kernels on one thread for this test (restored afterwards).

    For the tests that train on real digits: on a busy shared machine a second
    OpenMP thread can make a step much slower, and the test is about results.
    """
    import cnncore

    before = cnncore.get_num_threads()
    cnncore.set_num_threads(1)
    yield
    cnncore.set_num_threads(before)


@pytest.fixture(params=["blas", "tiles"])
def dense_products(request):
    """A dense layer's matrix products above a batch of one as NumPy's BLAS gemm computes them (where
    cnncore found one beside NumPy) or as the kernels' own tiles do (what runs where none is found)."""
    from cnncore import _blas
    from cnncore._dispatch import _kernels

    found = _kernels.blas_in_use()
    if request.param == "blas" and not found:
        pytest.skip("no BLAS found beside NumPy: the tiles compute every product")
    if request.param == "tiles":
        _kernels.set_blas(0, 0, False)
    yield request.param
    if found and not _kernels.blas_in_use():
        assert _blas.use_numpy_blas()


@pytest.fixture(autouse=True)
def _no_question_waits_for_an_answer(monkeypatch):
    """A question box the app asks (Discard …?) is answered Cancel in a test, never left waiting for a
    click: a test that failed with a lesson's changes unsaved then fails, where its window's close
    asked and the run hung. Tests that mean to answer replace the window's ``confirm``."""
    widgets = sys.modules.get("PySide6.QtWidgets")
    if widgets is not None:
        box = widgets.QMessageBox
        monkeypatch.setattr(box, "question", staticmethod(lambda *args, **kw: box.Cancel))
    yield
