"""The data sources the app and the command line share (issue 13 item 2, issue 12 §2)."""
from __future__ import annotations

import numpy as np
import pytest

from cnncore.datasets import generated_digits, held_out_split, load_source, paths, sources
from cnncore.datasets.sources import SourceError, available_sources


@pytest.fixture
def no_shared(monkeypatch):
    """An installation without the shared subset (any user's pip install)."""
    monkeypatch.setattr(paths, "shared_mnist_dir", lambda: None)


def test_the_shared_subset_is_offered_only_where_it_exists(no_shared, monkeypatch):
    keys = [s.key for s in available_sources()]
    assert "shared" not in keys and keys[0] == "generated" and "mnist" in keys
    with pytest.raises(SourceError) as e:
        load_source("shared")
    assert "../shared" not in str(e.value)
    monkeypatch.setattr(paths, "shared_mnist_dir", lambda: paths.Path("/somewhere"))
    assert "shared" in [s.key for s in available_sources()]


def test_an_installed_copy_never_looks_beside_site_packages(tmp_path, monkeypatch):
    """The shared folder counts only beside a checkout (a folder with pyproject.toml)."""
    site = tmp_path / "site-packages"
    (site / "cnncore" / "datasets").mkdir(parents=True)
    folder = tmp_path / "shared" / "data" / "mnist"
    folder.mkdir(parents=True)
    for name in (paths.SHARED_MNIST_IMAGES, paths.SHARED_MNIST_LABELS):
        (folder / name).write_bytes(b"x")
    monkeypatch.setattr(paths, "__file__", str(site / "cnncore" / "datasets" / "paths.py"))
    assert paths.shared_mnist_dir() is None
    (site / "pyproject.toml").write_text("[project]\n")          # now it looks like a checkout
    assert paths.shared_mnist_dir() == folder.resolve()


def test_one_held_out_rule():
    X, y = generated_digits(200, seed=4)
    order = np.argsort(y, kind="stable")                 # a file sorted by digit, like one's drawings
    Xs, ys = X[order], y[order]
    Xt, yt, Xv, yv = held_out_split(Xs, ys, 0.25)
    assert len(Xv) == 50 and len(Xt) == 150
    assert len(set(yv.tolist())) >= 8                    # not the tail of a sorted file (all 9s)
    rows = {x.tobytes() for x in Xs}
    assert {x.tobytes() for x in Xv} | {x.tobytes() for x in Xt} == rows
    assert not {x.tobytes() for x in Xv} & {x.tobytes() for x in Xt}
    again = held_out_split(Xs, ys, 0.25)
    assert all(np.array_equal(a, b) for a, b in zip(again, (Xt, yt, Xv, yv)))
    assert len(held_out_split(Xs, ys, 0.0)[2]) == 0


def test_load_source_counts_and_reports(tmp_path):
    X, y, what = load_source("generated", count=30, seed=2)
    assert X.shape == (30, 28, 28) and "30 generated" in what
    with pytest.raises(SourceError) as e:
        load_source("drawings", drawings=tmp_path / "none.npz")
    assert "no drawings of your own yet" in str(e.value)
    from cnncore.datasets import DrawingsDataset
    from cnncore.datasets.sources import load_labelled
    ds = DrawingsDataset(tmp_path / "three.npz")
    for k in range(3):
        ds.append(np.full((28, 28), 40 * k, np.uint8), k)
    assert len(load_labelled("drawings", drawings=ds.path).X) == 3                  # a trace, a lesson: any
    with pytest.raises(SourceError, match="you have 3 drawings of your own; a network is trained on at least 10"):
        load_labelled("drawings", drawings=ds.path, training=True)
    with pytest.raises(SourceError):
        load_source("idx", files=(tmp_path / "a", tmp_path / "b"))
    with pytest.raises(SourceError):
        load_source("nonsense")
    assert sources.source("idx").files


def test_a_single_drawing_is_counted_in_words(tmp_path):
    """A tour: one digit saved on the Draw tab, and the Train tab said "you have 1 drawings of your own"."""
    from cnncore.datasets import DrawingsDataset
    from cnncore.datasets.sources import load_labelled
    ds = DrawingsDataset(tmp_path / "mine.npz")
    ds.append(np.zeros((28, 28), np.float32), 7)
    with pytest.raises(SourceError, match="you have 1 drawing of your own; a network is trained on at least 10"):
        load_labelled("drawings", drawings=tmp_path / "mine.npz", training=True)


def test_each_source_says_the_shape_of_its_pictures():
    """The Train tab asks before a download whether the network takes a source's pictures."""
    from cnncore.architecture import DIGIT_SHAPE
    shapes = {s.key: s.shape for s in sources.SOURCES}
    assert shapes["cifar10"] == (3, 32, 32) and shapes["folder"] is None
    assert all(shapes[k] == DIGIT_SHAPE for k in ("generated", "drawings", "mnist", "fashion", "kmnist", "idx"))


def test_the_held_out_split_never_takes_a_class_whole():
    """A tour: 19 apples and 1 pear, and the pear was among the 3 held out: the network never saw a pear,
    scored 100 % on its training pictures and 0 % recall on pears, and nothing said why."""
    from cnncore.datasets import held_out_split
    X = np.arange(20)
    for pear in range(20):                                   # wherever the pear is in the file
        y = np.zeros(20, int)
        y[pear] = 1
        Xt, yt, Xv, yv = held_out_split(X, y, 0.15)
        assert 1 in yt and len(Xt) + len(Xv) == 20 and set(Xt) | set(Xv) == set(range(20))
    y = np.repeat(np.arange(4), 5)                           # classes of five: as many held out as before
    assert len(held_out_split(X, y, 0.2)[2]) == 4
    y = np.zeros(20, int)
    y[[3, 4]] = 1                                            # the shuffle picks both pears at half held out:
    Xt, yt, Xv, yv = held_out_split(X, y, 0.5)               # the first stays to learn from
    assert list(Xt[yt == 1]) == [3] and list(Xv[yv == 1]) == [4] and len(Xv) == 9


def test_a_count_of_generated_digits_is_written_as_every_other_count():
    """`cnnapp train` said "on 5,100 images from 6000 generated digits": one count with its thousands
    separated, the other not."""
    from cnncore.datasets import load_labelled
    assert load_labelled("generated", count=1200).what == "1,200 generated digits"
