"""Model files: round trip, and every way a file can be bad (a clear error, nothing changed)."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from cnncore.architecture import preset, to_json
from cnncore.modelio import FORMAT, ModelFileError, load_model, save_model
from cnncore.network import Network
from cnncore.optim import Adam


def _digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def saved(tmp_path):
    net = Network(preset("lenet"), seed=11)
    net.history = [{"epoch": 1, "train_loss": 0.5, "val_accuracy": float("nan")}]
    path = tmp_path / "model.npz"
    save_model(path, net)
    return net, path


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_identical_predictions(tmp_path, rng, dtype):
    net = Network(preset("lenet"), seed=7, dtype=dtype)
    path = tmp_path / "m.npz"
    save_model(path, net)
    other = load_model(path)
    assert other.dtype == dtype and other.spec == net.spec
    x = rng.random((9, 1, 28, 28))
    np.testing.assert_array_equal(net.predict_proba(x), other.predict_proba(x))
    for k, v in net.params().items():
        assert v.tobytes() == other.params()[k].tobytes()


def test_file_layout(saved):
    net, path = saved
    with np.load(path, allow_pickle=False) as data:
        keys = set(data.files)
        assert str(data["format"]) == FORMAT
        assert str(data["architecture"]) == to_json(net.spec)
        assert data["L0.W"].shape == (8, 1, 5, 5) and data["L5.W"].shape == (10, 256)
    assert keys == {"format", "architecture", "history", "trained_on", "L0.W", "L0.b", "L2.W", "L2.b", "L5.W", "L5.b"}


def test_history_and_optimizer_state(tmp_path, rng):
    net = Network(preset("tiny"))
    opt = Adam(net.params(), lr=0.01)
    net.loss_and_grads(rng.random((2, 1, 28, 28)), [3, 4])
    opt.step(net.grads())
    net.history = [{"epoch": 1, "val_accuracy": 0.5}]
    save_model(tmp_path / "m.npz", net, optimizer=opt)
    other = load_model(tmp_path / "m.npz")
    assert other.history == net.history
    assert int(other.optimizer_state["t"]) == 1
    np.testing.assert_array_equal(other.optimizer_state["m.L0.W"], opt.m["L0.W"])
    opt2 = Adam(other.params())
    opt2.load_state_dict({k: v for k, v in other.optimizer_state.items() if k != "name"})
    np.testing.assert_array_equal(opt2.v["L2.W"], opt.v["L2.W"])


def test_save_is_atomic_when_writing_fails(saved, monkeypatch):
    net, path = saved
    before = _digest(path)

    def boom(f, **arrays):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        save_model(path, Network(preset("lenet"), seed=99))
    assert _digest(path) == before
    assert os.listdir(path.parent) == ["model.npz"]  # no temporary file left behind


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    with open(path, "wb") as f:
        np.savez(f, **arrays)


BAD = {
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "truncated or corrupt"),
    "garbage": (lambda p: p.write_bytes(b"\x00\x01garbage" * 40), "not a model file"),
    "empty": (lambda p: p.write_bytes(b""), "is empty"),
    "no architecture": (lambda p: _rewrite(p, architecture=None), "no 'architecture' entry"),
    "bad architecture": (lambda p: _rewrite(p, architecture=np.array('{"layers": []}')),
                         "its architecture is not valid: architecture: 'layers' is empty"),
    "misfit architecture": (lambda p: _rewrite(p, architecture=np.array(json.dumps(
        {"input": [1, 4, 4], "layers": [{"type": "conv", "filters": 2, "kernel": 5}, {"type": "flatten"},
                                        {"type": "dense", "units": 10}]}))), "needs an input of at least 5×5"),
    "missing weight": (lambda p: _rewrite(p, **{"L2.W": None}), "needs L2.W, which the file lacks"),
    "extra weight": (lambda p: _rewrite(p, **{"L3.W": np.zeros(3, np.float32)}), "L3.W do not belong"),
    "wrong shape": (lambda p: _rewrite(p, **{"L5.W": np.zeros((10, 255), np.float32)}),
                    r"L5.W has shape \(10, 255\) but the architecture needs \(10, 256\)"),
    "nan weight": (lambda p: _rewrite(p, **{"L0.b": np.full(8, np.nan, np.float32)}), "L0.b contains NaN"),
    "int weights": (lambda p: _rewrite(p, **{"L0.b": np.zeros(8, np.int32)}), "must be float32 or float64"),
    "other format": (lambda p: _rewrite(p, format=np.array("keras-7")), "unknown model format"),
    "bad history": (lambda p: _rewrite(p, history=np.array("{oops")), "history is not valid JSON"),
    "pickled": (lambda p: _rewrite(p, history=np.array([{"a": 1}], dtype=object)), "pickles"),
    "float fingerprints": (lambda p: _rewrite(p, trained_on=np.zeros(3)), "'trained_on' must be at most"),
    "2-D fingerprints": (lambda p: _rewrite(p, trained_on=np.zeros((2, 2), np.uint64)), "'trained_on' must be"),
    "unsorted fingerprints": (lambda p: _rewrite(p, trained_on=np.array([5, 3], np.uint64)),
                              "learnt from\\): its fingerprints must be distinct and in increasing order"),
    "repeated fingerprints": (lambda p: _rewrite(p, trained_on=np.array([3, 3], np.uint64)), "must be distinct"),
    "trace file": (lambda p: _rewrite(p, probs=np.zeros((1, 10)), input=np.zeros((1, 1, 28, 28))),
                   "looks like a backprop trace"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_raise_and_change_nothing(saved, case):
    _, path = saved
    spoil, message = BAD[case]
    spoil(path)
    before = _digest(path)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)
    assert _digest(path) == before


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "nope.npz")
    with pytest.raises(ModelFileError, match="folder"):
        load_model(tmp_path)
    assert issubclass(ModelFileError, ValueError)


def test_atomic_helpers(tmp_path):
    from cnncore._atomic import atomic_write, atomic_write_bytes, atomic_write_text

    p = tmp_path / "a.txt"
    atomic_write_text(p, "héllo\n")
    assert p.read_text(encoding="utf-8") == "héllo\n"
    atomic_write_bytes(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    with pytest.raises(RuntimeError):
        atomic_write(p, lambda f: (f.write(b"partial"), (_ for _ in ()).throw(RuntimeError("boom"))))
    assert p.read_bytes() == b"\x00\x01" and sorted(x.name for x in tmp_path.iterdir()) == ["a.txt"]
    with pytest.raises(ValueError):
        atomic_write(p, lambda f: None, mode="a")


def test_big_endian_weights_are_read_as_the_numbers_they_are(tmp_path):
    """A model written where floats are big-endian ('>f4') was refused: "weights must be float32 or
    float64, found ['>f4', 'float32']". They are float32, in another byte order."""
    net = Network(preset("tiny"), seed=4)
    save_model(tmp_path / "m.npz", net)
    arrays = dict(np.load(tmp_path / "m.npz"))
    arrays = {k: v.astype(">f4") if v.dtype == np.float32 else v for k, v in arrays.items()}
    np.savez(tmp_path / "be.npz", **arrays)
    back = load_model(tmp_path / "be.npz")
    assert back.dtype == np.float32 and back.flat_params.tobytes() == net.flat_params.tobytes()
