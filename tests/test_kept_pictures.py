"""The held-out pictures a session keeps for the next launch (cnncore.datasets.kept): read back for
their model only, and read as any file is (no objects, headers before data)."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from cnncore.architecture import preset
from cnncore.datasets.kept import MAX_KEPT, KeptFileError, load_kept, save_kept, weights_id
from cnncore.network import Network


@pytest.fixture
def net():
    n = Network(preset("cifar"), seed=0)
    n.learns(("cat", "dog") + ("(unused)",) * 8, "pets")
    return n


def _pictures(n, shape=(3, 32, 32)):
    rng = np.random.default_rng(n)
    return rng.integers(0, 256, (n,) + shape, dtype=np.uint8), rng.integers(0, 2, n)


def test_pictures_come_back_as_they_were_kept(net, tmp_path):
    X, y = _pictures(5)
    assert save_kept(tmp_path / "k.npz", net, X, y, "held-out pictures of pets")
    X2, y2, classes, name = load_kept(tmp_path / "k.npz", net)
    assert np.array_equal(X2, X) and np.array_equal(y2, y) and y2.dtype == np.int64
    assert classes == net.classes and name == "held-out pictures of pets"


def test_grey_pictures_get_their_channel_and_at_most_max_kept_are_kept(tmp_path):
    digits = Network(preset("tiny"), seed=0)
    X, y = _pictures(MAX_KEPT + 3, (28, 28))
    assert save_kept(tmp_path / "k.npz", digits, X, y % 10, "held-out pictures of MNIST")
    X2, y2, _, _ = load_kept(tmp_path / "k.npz", digits)
    assert X2.shape == (MAX_KEPT, 1, 28, 28) and np.array_equal(X2[:, 0], X[:MAX_KEPT])


def test_nothing_is_written_for_pictures_that_are_not_bytes_or_none(net, tmp_path):
    X, y = _pictures(3)
    assert not save_kept(tmp_path / "f.npz", net, X.astype(np.float32) / 255, y, "floats")
    assert not save_kept(tmp_path / "e.npz", net, X[:0], y[:0], "none")
    assert not save_kept(tmp_path / "n.npz", net, X, y, "a name\nof two lines")      # none that is not read back
    assert not save_kept(tmp_path / "l.npz", net, X, y, "x" * 201)
    assert not list(tmp_path.iterdir())


def test_pictures_of_another_network_are_refused(net, tmp_path):
    X, y = _pictures(4)
    save_kept(tmp_path / "k.npz", net, X, y, "pets")
    other = Network(preset("cifar"), seed=0)                   # CIFAR-10's classes
    with pytest.raises(KeptFileError, match="other classes"):
        load_kept(tmp_path / "k.npz", other)
    with pytest.raises(KeptFileError, match="not ones this model takes"):
        load_kept(tmp_path / "k.npz", Network(preset("tiny"), seed=0))
    twin = Network(preset("cifar"), seed=1)                    # same input and classes, other weights
    twin.learns(net.classes, "pets")
    with pytest.raises(KeptFileError, match="kept for another network"):
        load_kept(tmp_path / "k.npz", twin)
    twin.flat_params[:] = net.flat_params                      # the same weights (a model file reopened)
    assert load_kept(tmp_path / "k.npz", twin)[3] == "pets"


def _archive(path, **arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize("change", ["objects", "label out of range", "label of an unused class", "extra entry",
                                    "name with a newline"])
def test_a_damaged_or_hostile_file_is_one_line_and_never_runs_code(net, tmp_path, change):
    X, y = _pictures(3)
    arrays = {"pictures": X, "labels": y.astype(np.int64), "classes": np.array(net.classes), "name": np.array("pets"),
              "owner": np.array(weights_id(net))}
    if change == "objects":
        arrays["name"] = np.array([print], dtype=object)
    elif change == "label out of range":
        arrays["labels"] = np.array([0, 1, 10])
    elif change == "label of an unused class":         # the network's output 7 names no class
        arrays["labels"] = np.array([0, 1, 7])
    elif change == "extra entry":
        arrays["more"] = np.zeros(2)
    else:
        arrays["name"] = np.array("pets\nrm -rf")
    path = _archive(tmp_path / "k.npz", **arrays)
    with pytest.raises(KeptFileError) as e:
        load_kept(path, net)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_file_that_is_not_an_archive_is_refused(net, tmp_path):
    (tmp_path / "k.npz").write_bytes(b"not an archive")
    with pytest.raises(KeptFileError, match="not a file of kept pictures"):
        load_kept(tmp_path / "k.npz", net)
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as zf:
        zf.writestr("pictures.npy", b"\x93NUMPY garbage")
    with pytest.raises(KeptFileError):
        load_kept(tmp_path / "z.npz", net)
