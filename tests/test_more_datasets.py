"""Fashion-MNIST and Kuzushiji-MNIST: downloaded from a loopback server through MNIST's machinery
(mirrors, md5, cache, cancel), trained on, and their class names kept in the model file."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re

import numpy as np
import pytest

from cnncore.architecture import DIGIT_CLASSES
from cnncore.datasets import DOWNLOADS, MNIST_FILES, fetch_download, generated_digits, load_download, mnist
from cnncore.datasets.sources import SOURCES, load_source, source
from cnncore.modelio import ModelFileError, load_model, save_model
from cnncore.network import Network
from conftest import write_idx
from test_mnist_fetch import serve

NEW = ("fashion", "kmnist")


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "userdata"))
    return tmp_path / "userdata"


@pytest.fixture
def server(tmp_path):
    """A loopback server holding small stand-ins of the four files; yields (base URL, md5 table)."""
    www = tmp_path / "www"
    www.mkdir()
    X, y = generated_digits(700, seed=3)
    write_idx(www / MNIST_FILES["train-images"], X[:600])
    write_idx(www / MNIST_FILES["train-labels"], y[:600])
    write_idx(www / MNIST_FILES["t10k-images"], X[600:])
    write_idx(www / MNIST_FILES["t10k-labels"], y[600:])
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in www.iterdir()}
    base, srv, thread = serve(www)
    yield base, md5
    srv.shutdown()
    srv.server_close()
    thread.join()


def test_the_published_tables():
    assert set(DOWNLOADS) == {"mnist", "fashion", "kmnist"}
    folders = {d.folder for d in DOWNLOADS.values()}
    assert len(folders) == 3                                   # the same file names, so separate caches
    for d in DOWNLOADS.values():
        assert set(d.md5) == set(MNIST_FILES.values())
        assert all(re.fullmatch(r"[0-9a-f]{32}", v) for v in d.md5.values())
        assert len(d.mirrors) >= 2 and all(m.endswith("/") for m in d.mirrors)
        assert len(d.classes) == 10 == len(set(d.classes)) and d.credit
    assert DOWNLOADS["mnist"].classes == DIGIT_CLASSES
    assert DOWNLOADS["fashion"].classes[9] == "Ankle boot" and DOWNLOADS["kmnist"].classes[0] == "o"
    assert len({tuple(d.md5.values()) for d in DOWNLOADS.values()}) == 3


def test_every_download_is_a_source_with_its_classes():
    keys = [s.key for s in SOURCES]
    for key in DOWNLOADS:
        assert key in keys and source(key).classes == DOWNLOADS[key].classes
    assert source("fashion").dataset == "Fashion-MNIST" and source("generated").classes == DIGIT_CLASSES
    assert source("generated").dataset == ""


@pytest.mark.parametrize("key", NEW)
def test_download_into_its_own_cache_and_load(key, server, data_dir):
    base, md5 = server
    paths = fetch_download(key, mirrors=["http://127.0.0.1:9/", base], checksums=md5)   # a dead mirror first
    assert {p.parent for p in paths.values()} == {data_dir / DOWNLOADS[key].folder}
    X, y = load_download(key, "test", mirrors=["http://127.0.0.1:9/"], checksums=md5)  # cached: no server needed
    assert X.shape == (100, 28, 28) and y.shape == (100,)


@pytest.mark.parametrize("key", NEW)
def test_a_cancelled_download_leaves_nothing(key, server, data_dir):
    base, md5 = server

    class Cancelled(Exception):
        pass

    def progress(done, total, name):
        if done > 0:
            raise Cancelled

    with pytest.raises(Cancelled):
        fetch_download(key, progress=progress, mirrors=[base], checksums=md5)
    assert list((data_dir / DOWNLOADS[key].folder).iterdir()) == []


def test_a_wrong_checksum_is_refused(server, data_dir):
    base, md5 = server
    bad = dict(md5, **{MNIST_FILES["train-labels"]: "0" * 32})
    with pytest.raises(mnist.FetchError, match="wrong checksum"):
        fetch_download("kmnist", mirrors=[base], checksums=bad)


@pytest.mark.parametrize("key", NEW)
def test_cli_downloads_trains_and_the_model_keeps_the_class_names(key, server, tmp_path, monkeypatch, capsys):
    from cnnapp.cli import main

    base, md5 = server
    monkeypatch.setitem(mnist.DOWNLOADS, key, dataclasses.replace(DOWNLOADS[key], mirrors=(base,), md5=md5))
    out = tmp_path / "m.npz"
    assert main(["train", "--data", key, "--epochs", "1", "--threads", "1", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"{DOWNLOADS[key].title} (training set)" in text and "on 510 images" in text     # 15 % of 600 held out
    net = load_model(out)
    assert net.classes == DOWNLOADS[key].classes and net.dataset == DOWNLOADS[key].title
    assert main(["eval", str(out), "--data", key]) == 0
    assert f"0 {DOWNLOADS[key].classes[0]}, 1 {DOWNLOADS[key].classes[1]}" in capsys.readouterr().out


def test_load_source_names_the_set_when_the_download_fails(monkeypatch):
    monkeypatch.setitem(mnist.DOWNLOADS, "fashion",
                        dataclasses.replace(DOWNLOADS["fashion"], mirrors=("http://127.0.0.1:9/",)))
    with pytest.raises(ValueError, match="could not get Fashion-MNIST"):
        load_source("fashion")


# ----------------------------------------------------------------------------- model files

def test_class_names_round_trip_and_digits_stay_as_they_were(tmp_path):
    net = Network({"layers": [{"type": "flatten"}, {"type": "dense", "units": 10}]})
    save_model(tmp_path / "digits.npz", net)
    with np.load(tmp_path / "digits.npz") as f:
        assert "classes" not in f.files                       # a digits model is written as before
    assert load_model(tmp_path / "digits.npz").classes == DIGIT_CLASSES
    net.learns(DOWNLOADS["kmnist"].classes, "Kuzushiji-MNIST")
    save_model(tmp_path / "k.npz", net)
    back = load_model(tmp_path / "k.npz")
    assert back.classes == DOWNLOADS["kmnist"].classes and back.dataset == "Kuzushiji-MNIST"
    assert back.copy().classes == back.classes
    with pytest.raises(ValueError, match="10 classes"):
        net.learns(("a", "b"))


def test_an_old_model_file_loads_as_digits(tmp_path):
    """A file as the app wrote it before class names: format, architecture, history and weights only."""
    net = Network({"layers": [{"type": "flatten"}, {"type": "dense", "units": 10}]}, seed=2)
    from cnncore.architecture import to_json
    arrays = {"format": np.array("cnnlab-model-1"), "architecture": np.array(to_json(net.spec)),
              "history": np.array("[]"), **net.params()}
    np.savez(tmp_path / "old.npz", **arrays)
    old = load_model(tmp_path / "old.npz")
    assert old.classes == DIGIT_CLASSES and old.dataset == ""
    np.testing.assert_array_equal(old.flat_params, net.flat_params)


@pytest.mark.parametrize("classes", ['["a"]', '"not a list"', "[1,2,3,4,5,6,7,8,9,10]", "{",
                                     '["a","b","c","d","e","f","g","h","i","\\n"]'])
def test_bad_class_names_are_a_model_file_error(tmp_path, classes):
    net = Network({"layers": [{"type": "flatten"}, {"type": "dense", "units": 10}]})
    from cnncore.architecture import to_json
    np.savez(tmp_path / "bad.npz", format=np.array("cnnlab-model-1"), architecture=np.array(to_json(net.spec)),
             classes=np.array(classes), **net.params())
    with pytest.raises(ModelFileError, match="'classes' must list 10 short names"):
        load_model(tmp_path / "bad.npz")


def test_a_model_naming_a_class_twice_is_a_model_file_error(tmp_path):
    """Two outputs of one name: a folder's pictures of it were scored against the last one."""
    from cnncore.architecture import UNUSED_CLASS, to_json
    net = Network({"layers": [{"type": "flatten"}, {"type": "dense", "units": 10}]})
    for classes, ok in ((["cat", "dog"] + [UNUSED_CLASS] * 8, True), (["cat", "dog", "cat"] + [UNUSED_CLASS] * 7, False)):
        np.savez(tmp_path / "m.npz", format=np.array("cnnlab-model-1"), architecture=np.array(to_json(net.spec)),
                 classes=np.array(json.dumps(classes)), **net.params())
        if ok:
            assert load_model(tmp_path / "m.npz").classes == tuple(classes)
        else:
            with pytest.raises(ModelFileError, match="'classes' names 'cat' twice"):
                load_model(tmp_path / "m.npz")
