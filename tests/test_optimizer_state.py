"""A model file's optimizer state (``opt.*``) is checked when the file is read (issue 20, item 12).

``opt.beta1 = 1``, ``opt.beta2 = 1`` or ``opt.t = -1`` divided by zero in ``cnnapp trace``; a
list or complex ``opt.t``/``opt.lr`` raised ``TypeError``; complex moments lost their imaginary
part without a word; ``opt.lr = inf`` printed a RuntimeWarning. A state this version cannot
resume from is now left out when the model is read, with a note naming the entry: the weights
are still good and load as saved, and the trace's update step is plain gradient descent that says why.
"""
from __future__ import annotations

import numpy as np
import pytest

from cnnapp.cli import main
from cnncore.architecture import preset
from cnncore.modelio import load_model, save_model
from cnncore.network import Network
from cnncore.optim import check_state, optimizer_from_state
from cnncore.trace import trace
from cnncore.training import TrainConfig, Trainer


def _trained(optimizer: str) -> Network:
    net = Network(preset("tiny"), seed=0)
    X = np.random.default_rng(0).integers(0, 256, (40, 28, 28)).astype(np.uint8)
    list(Trainer(net, X, np.arange(40) % 10, config=TrainConfig(optimizer=optimizer, epochs=1, augment=0)).run())
    return net


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("opt")
    out = {}
    for name in ("adam", "sgd"):
        out[name] = d / f"{name}.npz"
        save_model(out[name], _trained(name))
    return out


def _with(src, dst, **entries):
    arrays = dict(np.load(src))
    for key, value in entries.items():
        key = "opt." + key.replace("__", ".")
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    np.savez(dst, **arrays)
    return dst


N = 11738            # the tiny preset's parameters
BAD = {
    "beta1 is 1": ("adam", {"beta1": np.array(1.0)}, "opt.beta1 is 1; it must be at least 0 and below 1"),
    "beta2 is 1": ("adam", {"beta2": np.array(1.0)}, "opt.beta2 is 1"),
    "t is -1": ("adam", {"t": np.array(-1)}, "opt.t is -1"),
    "t is a list": ("adam", {"t": np.array([1, 2])}, "opt.t holds int64 values of shape (2,)"),
    "t is complex": ("adam", {"t": np.array(3 + 1j)}, "opt.t holds complex128"),
    "t is a float": ("adam", {"t": np.array(2.5)}, "not an integer"),
    "t is huge": ("sgd", {"t": np.array(2**62)}, "opt.t is 4611686018427387904"),
    "lr is complex": ("adam", {"lr": np.array(0.003 + 1j)}, "opt.lr holds complex128"),
    "lr is a list": ("sgd", {"lr": np.array([0.1, 0.2])}, "opt.lr holds float64 values of shape (2,)"),
    "lr is inf": ("adam", {"lr": np.array(np.inf)}, "opt.lr is inf, not a finite number"),
    "lr is nan": ("sgd", {"lr": np.array(np.nan)}, "opt.lr is nan"),
    "lr is 0": ("sgd", {"lr": np.array(0.0)}, "opt.lr is 0; it must be from 1e-05 to 1000"),
    "lr is huge": ("adam", {"lr": np.array(1e300)}, "opt.lr is 1e+300"),
    "lr is text": ("adam", {"lr": np.array("0.1")}, "opt.lr holds <U3"),
    "eps is 0": ("adam", {"eps": np.array(0.0)}, "opt.eps is 0; it must be above 0"),
    "momentum is 1": ("sgd", {"momentum": np.array(1.0)}, "opt.momentum is 1"),
    "weight decay is -1": ("sgd", {"weight_decay": np.array(-1.0)}, "opt.weight_decay is -1"),
    "m is complex": ("adam", {"m__all": np.zeros(N, complex) + 1j}, "opt.m.all holds complex128"),
    "m has NaN": ("adam", {"m__all": np.full(N, np.nan)}, "opt.m.all holds NaN or infinite values"),
    "v is negative": ("adam", {"v__all": np.full(N, -1.0)}, "negative running means of squares"),
    "v is short": ("sgd", {"v__all": np.zeros(N - 3)}, "opt.v.all holds float64 values of shape (11735,)"),
    "v is missing": ("sgd", {"v__all": None}, "opt.v.L0.W is missing"),
    "t is missing": ("adam", {"t": None}, "opt.t (the updates made so far) is missing"),
    "an unknown entry": ("adam", {"shadow": np.array(1.0)}, "opt.shadow is not an entry of a saved adam state"),
    "an unknown optimizer": ("adam", {"name": np.array("rmsprop")}, "opt.name 'rmsprop' is not an optimizer"),
    "more values than weights": ("adam", {"m__all": np.zeros(N + 1, np.float32)}, "more than the network's"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_an_unusable_state_is_left_out_with_a_note_and_the_weights_load(case, saved, tmp_path, capsys):
    kind, entries, words = BAD[case]
    path = _with(saved[kind], tmp_path / "m.npz", **entries)
    net = load_model(path)
    assert net.optimizer_state is None
    assert words in net.optimizer_note and "weights are used as saved" in net.optimizer_note
    good = load_model(saved[kind])
    assert all(np.array_equal(v, good.params()[k]) for k, v in net.params().items())
    # the trace's step is plain gradient descent, saying why, from the API and the command line
    t = trace(net, np.zeros((28, 28), np.float32), 3)
    assert t.settings["source"] == "none" and words in t.settings["why"] and t.settings["name"] == "sgd"
    rc = main(["trace", str(path), "--data", "generated", "--count", "20", "--index", "0",
               "--out", str(tmp_path / "t.npz")])
    err = capsys.readouterr().err
    assert rc == 0 and err.count("\n") == 1 and words in err


def test_the_checks_are_those_the_optimizer_resumes_with(saved):
    """``optimizer_from_state`` (the trace's way in) refuses what the loader leaves out."""
    state = load_model(saved["adam"]).optimizer_state
    assert check_state(state, {"all": np.zeros(N, np.float32)}) == "adam"
    params = Network(preset("tiny")).params()
    good = {**{k: v for k, v in state.items() if not k.endswith(".all")},
            **{f"{m}.{k}": np.zeros_like(p) for m in "mv" for k, p in params.items()}}
    optimizer_from_state(good, params)
    for key, value in (("beta1", np.array(1.0)), ("t", np.array(-1)), ("lr", np.array(np.inf)),
                       ("v.L0.W", -np.ones_like(params["L0.W"]))):
        with pytest.raises(ValueError, match=f"opt.{key}"):
            optimizer_from_state({**good, key: value}, params)


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_a_sound_state_still_resumes(kind, saved):
    net = load_model(saved[kind])
    assert net.optimizer_note == "" and net.optimizer_state is not None
    t = trace(net, np.zeros((28, 28), np.float32), 3)
    assert t.settings["source"] == "saved" and t.settings["name"] == kind


def test_a_file_from_before_hyperparameters_were_saved_still_resumes(saved, tmp_path):
    path = _with(saved["adam"], tmp_path / "old.npz", lr=None, beta1=None, beta2=None, eps=None, weight_decay=None)
    net = load_model(path)
    assert net.optimizer_state is not None and net.optimizer_note == ""
    t = trace(net, np.zeros((28, 28), np.float32), 3)
    assert t.settings["source"] == "saved" and "does not record" in t.settings["why"]
