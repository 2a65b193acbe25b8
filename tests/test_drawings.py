"""DrawingsDataset: the user's drawings, saved atomically on every change."""

import numpy as np
import pytest

from cnncore.datasets import DrawingsDataset, DrawingsFileError


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def img(value):
    a = np.zeros((28, 28), dtype=np.uint8)
    a[5:20, 10:15] = value
    return a


def test_new_dataset_is_empty_and_writes_nothing(tmp_path):
    ds = DrawingsDataset(tmp_path / "sub" / "d.npz")
    assert len(ds) == 0 and ds.images.shape == (0, 28, 28) and ds.labels.shape == (0,)
    assert not (tmp_path / "sub").exists()


def test_append_saves_at_once_and_reloads(tmp_path):
    path = tmp_path / "sub" / "d.npz"
    ds = DrawingsDataset(path)
    assert ds.append(img(200), 3) == 0
    assert path.is_file()
    ds.append(np.full((28, 28), 0.5), 7)  # float in [0, 1] becomes 0-255
    again = DrawingsDataset(path)
    assert len(again) == 2
    assert again.images.dtype == np.uint8 and again.labels.dtype == np.uint8
    np.testing.assert_array_equal(again.images[0], img(200))
    assert again.images[1, 0, 0] == 128
    np.testing.assert_array_equal(again.labels, [3, 7])
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["images", "labels"]
    # Only the dataset file is left: no temporary files beside it.
    assert sorted(p.name for p in path.parent.iterdir()) == ["d.npz"]


def test_remove_and_undo(tmp_path):
    path = tmp_path / "d.npz"
    ds = DrawingsDataset(path)
    for k in range(4):
        ds.append(img(10 * (k + 1)), k)
    image, label = ds.remove(1)
    assert label == 1 and image[10, 12] == 20
    np.testing.assert_array_equal(DrawingsDataset(path).labels, [0, 2, 3])
    ds.insert(1, image, label)  # undo
    reloaded = DrawingsDataset(path)
    np.testing.assert_array_equal(reloaded.labels, [0, 1, 2, 3])
    np.testing.assert_array_equal(reloaded.images[1], img(20))
    image, label = ds.remove(-1)
    assert label == 3 and len(DrawingsDataset(path)) == 3
    with pytest.raises(IndexError):
        ds.remove(3)


def test_relabel_and_clear(tmp_path):
    path = tmp_path / "d.npz"
    ds = DrawingsDataset(path)
    ds.append(img(1), 1)
    ds.append(img(2), 2)
    assert ds.relabel(0, 9) == 1
    np.testing.assert_array_equal(DrawingsDataset(path).labels, [9, 2])
    np.testing.assert_array_equal(ds.counts(), [0, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    old_images, old_labels = ds.clear()
    assert len(old_labels) == 2 and len(DrawingsDataset(path)) == 0


@pytest.mark.parametrize("image, label, error", [
    (np.zeros((28, 27), np.uint8), 1, ValueError),
    (np.full((28, 28), 1.5), 1, ValueError),
    (np.full((28, 28), np.nan), 1, ValueError),
    (np.zeros((28, 28), np.uint8), 10, ValueError),
    (np.zeros((28, 28), np.uint8), 2.5, ValueError),
    (np.zeros((28, 28), np.uint8), "x", TypeError),
])
def test_bad_appends_change_nothing(tmp_path, image, label, error):
    path = tmp_path / "d.npz"
    ds = DrawingsDataset(path)
    ds.append(img(5), 5)
    before = path.read_bytes()
    with pytest.raises(error):
        ds.append(image, label)
    assert len(ds) == 1 and path.read_bytes() == before


def test_views_are_read_only(tmp_path):
    ds = DrawingsDataset(tmp_path / "d.npz")
    ds.append(img(5), 5)
    with pytest.raises(ValueError):
        ds.images[0, 0, 0] = 1
    with pytest.raises(ValueError):
        ds.labels[0] = 1


def test_failed_save_keeps_file_and_memory(tmp_path, monkeypatch):
    path = tmp_path / "d.npz"
    ds = DrawingsDataset(path)
    ds.append(img(5), 5)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OSError, match="disk full"):
        ds.append(img(6), 6)
    assert len(ds) == 1 and path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]


@pytest.mark.parametrize("content", [
    b"this is not a zip file",
    b"",
    "truncated",
    "wrong keys",
    "wrong shape",
    "bad label",
])
def test_corrupt_file_raises_and_is_never_overwritten(tmp_path, content):
    path = tmp_path / "d.npz"
    if content == "truncated":
        ds = DrawingsDataset(path)
        ds.append(img(5), 5)
        path.write_bytes(path.read_bytes()[:-30])
    elif content == "wrong keys":
        np.savez(path, pictures=np.zeros((1, 28, 28), np.uint8))
    elif content == "wrong shape":
        np.savez(path, images=np.zeros((1, 20, 20), np.uint8), labels=np.zeros(1, np.uint8))
    elif content == "bad label":
        np.savez(path, images=np.zeros((1, 28, 28), np.uint8), labels=np.array([11], np.uint8))
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(DrawingsFileError, match=str(path.name)):
        DrawingsDataset(path)
    assert path.read_bytes() == before


def test_corrupt_file_moved_aside_with_recover(tmp_path):
    path = tmp_path / "d.npz"
    path.write_bytes(b"garbage")
    ds = DrawingsDataset(path, recover=True)
    assert len(ds) == 0
    assert ds.recovered_from is not None and ds.recovered_from.name.startswith("d.npz.corrupt-")
    assert ds.recovered_from.read_bytes() == b"garbage"
    assert "moved aside" in ds.message and ds.recovered_from.name in ds.message
    assert not path.exists()
    ds.append(img(5), 5)
    assert len(DrawingsDataset(path)) == 1
    assert ds.recovered_from.read_bytes() == b"garbage"
    # A second bad file in the same second gets its own name.
    path.write_bytes(b"garbage 2")
    ds2 = DrawingsDataset(path, recover=True)
    assert ds2.recovered_from != ds.recovered_from and ds2.recovered_from.read_bytes() == b"garbage 2"


def test_default_location_uses_the_data_dir(data_dir):
    ds = DrawingsDataset.default()
    assert ds.path == data_dir / "drawings.npz"
    ds.append(img(5), 5)
    assert (data_dir / "drawings.npz").is_file()
