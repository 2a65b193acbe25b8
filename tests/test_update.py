"""The trace's update step is the model's own optimizer step (issue 10, part 2)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cnncore import explain
from cnncore.architecture import preset
from cnncore.modelio import load_model, save_model
from cnncore.network import Network, softmax_cross_entropy
from cnncore.optim import make_optimizer
from cnncore.trace import Trace, TraceFileError, trace
from cnncore.training import TrainConfig, Trainer


def _trained(**config):
    net = Network(preset("tiny"), seed=1)
    rng = np.random.default_rng(0)
    X = (rng.random((48, 28, 28)) * 255).astype(np.uint8)
    y = rng.integers(0, 10, 48)
    trainer = Trainer(net, X, y, config=TrainConfig(epochs=1, batch_size=16, augment=0, **config))
    for _ in trainer.run():
        pass
    return net, trainer, X, y


def _layer_state(net, flat):
    out, o = {}, 0
    for k, p in net.params().items():
        out[k] = np.asarray(flat, dtype=np.float64)[o:o + p.size].reshape(p.shape)
        o += p.size
    return out


def _trainers_own_step(net, trainer, image, label):
    """What the trainer's optimizer makes of this image's gradient: built as the trainer builds it
    (one flat buffer), resumed from the trainer's own optimizer state."""
    work, cfg = net.copy(), trainer.config
    opt = make_optimizer(cfg.optimizer, {"all": work.flat_params}, trainer.lr, cfg.momentum, cfg.weight_decay,
                         decay_mask={"all": work.decay_mask})
    opt.load_state_dict(trainer.optimizer.state_dict())
    work.loss_and_grads(np.asarray(image, np.float32)[None, None] / 255, np.array([label]))
    opt.step({"all": work.flat_grads})
    return work.params()


def test_adam_step_equals_the_trainer_and_a_hand_written_update():
    net, trainer, X, y = _trained(optimizer="adam", weight_decay=0.01, lr=0.004)
    state = {k: np.array(v, copy=True) for k, v in net.optimizer_state.items()}
    t = trace(net, X[3], int(y[3]))
    s = json.loads(str(t.arrays["optimizer"]))
    assert (s["name"], s["lr"], s["beta1"], s["beta2"], s["eps"], s["weight_decay"], s["step"]) == \
        ("adam", 0.004, 0.9, 0.999, 1e-8, 0.01, 3)
    m0, v0 = _layer_state(net, state["m.all"]), _layer_state(net, state["v.all"])
    tt = s["step"] + 1
    for key, W in net.params().items():
        i, part = key[1:].split(".")
        w = W.astype(np.float64)
        g = t.arrays[f"L{i}.d{part}"].astype(np.float64) + (0.01 * w if part == "W" else 0)
        np.testing.assert_array_equal(t.arrays[f"L{i}.m{part}"], m0[key])
        m = 0.9 * m0[key] + 0.1 * g
        v = 0.999 * v0[key] + 0.001 * g * g
        want = w - 0.004 * (m / (1 - 0.9 ** tt)) / (np.sqrt(v / (1 - 0.999 ** tt)) + 1e-8)
        np.testing.assert_allclose(t.arrays[f"L{i}.{part}_next"], want, rtol=2e-5, atol=1e-7)
        assert not np.array_equal(t.arrays[f"L{i}.{part}_next"], W)
    own = _trainers_own_step(net, trainer, X[3], int(y[3]))
    for key, p in own.items():                      # bit for bit the optimizer the trainer runs
        i, part = key[1:].split(".")
        np.testing.assert_array_equal(t.arrays[f"L{i}.{part}_next"], p)


def test_sgd_momentum_step_with_weight_decay():
    net, trainer, X, y = _trained(optimizer="sgd", momentum=0.8, weight_decay=0.001, lr=0.02)
    v0 = _layer_state(net, net.optimizer_state["v.all"])
    t = trace(net, X[5], int(y[5]))
    assert t.settings["momentum"] == 0.8 and t.settings["name"] == "sgd" and "mW" not in str(t.steps[-1].maps)
    for key, W in net.params().items():
        i, part = key[1:].split(".")
        g = t.arrays[f"L{i}.d{part}"].astype(np.float64) + (0.001 * W if part == "W" else 0)
        want = W - 0.02 * (0.8 * v0[key] + g)
        np.testing.assert_allclose(t.arrays[f"L{i}.{part}_next"], want, rtol=1e-5, atol=1e-7)
    own = _trainers_own_step(net, trainer, X[5], int(y[5]))
    for key, p in own.items():
        i, part = key[1:].split(".")
        np.testing.assert_array_equal(t.arrays[f"L{i}.{part}_next"], p)


@pytest.mark.parametrize("config, made", [
    ({"optimizer": "adam", "weight_decay": 0.01}, "m̂ and 1/(√v̂ + ε) are made from g (this dW + λ·w) and the m"),
    ({"optimizer": "sgd", "momentum": 0.8}, "v is made from this dW and the v kept"),
    ({"optimizer": "sgd", "momentum": 0.0, "weight_decay": 0.01}, "g = dW + λ·w"),
    ({"optimizer": "sgd", "momentum": 0.0}, "")])
def test_an_update_term_says_which_of_its_numbers_are_made_from_its_sources(config, made):
    """The step's term named dW and the stored v as its sources, beside m̂ and 1/(√v̂ + ε): numbers made
    from them, not their elements. The term says so (plain descent's g is dW's element: nothing to say)."""
    net, trainer, X, y = _trained(**config)
    t = trace(net, X[2], int(y[2]))
    bd = explain.breakdown(t, "L0.W_next", (0, 0, 1, 1), step=next(s for s in t.steps if s.kind == "update"))
    step = bd.terms[1]
    assert step.note.startswith(made) and bool(step.note) == bool(made)
    assert step.value == pytest.approx(math.prod(step.factors))
    bias = explain.breakdown(t, "L0.b_next", (0,), step=next(s for s in t.steps if s.kind == "update")).terms[1]
    assert "dW" not in bias.note and ("this db" in bias.note) == ("made from" in made)    # a bias's is db, undecayed


def test_a_fresh_network_shows_plain_descent_and_says_why():
    net = Network(preset("tiny"), seed=2)
    img = np.random.default_rng(1).random((28, 28)).astype(np.float32)
    t = trace(net, img, 4)
    assert t.settings["source"] == "none" and t.settings["name"] == "sgd" and t.lr == 0.01
    np.testing.assert_allclose(t.arrays["L0.W_next"], t.arrays["L0.W"] - np.float32(0.01) * t.arrays["L0.dW"])
    upd = [s for s in t.steps if s.kind == "update"]
    assert upd and all("no optimizer state" in s.explanation and "α = 0.01" in s.equation for s in upd)


def test_lr_forces_plain_descent_even_with_saved_state():
    net, _, X, y = _trained(optimizer="adam")
    t = trace(net, X[0], int(y[0]), lr=0.05)
    assert (t.settings["name"], t.settings["source"], t.lr) == ("sgd", "asked", 0.05)
    np.testing.assert_allclose(t.arrays["L2.W_next"], t.arrays["L2.W"] - np.float32(0.05) * t.arrays["L2.dW"])


def test_loss_after_the_update_is_recomputed_and_shown():
    net, _, X, y = _trained(optimizer="adam")
    t = trace(net, X[1], int(y[1]))
    moved = net.copy()
    moved.set_params({k: t.arrays[k[:-1] + k[-1] + "_next"] for k in net.params()})
    x = X[1][None, None].astype(np.float32) / 255
    want = softmax_cross_entropy(moved.forward(x, keep=False), np.array([int(y[1])]))[0]
    assert float(t.arrays["loss_next"]) == pytest.approx(want, rel=1e-6) and t.loss_next != t.loss
    upd = next(s for s in t.steps if s.kind == "update")
    assert f"{t.loss:.6g}" in upd.explanation and f"{t.loss_next:.6g}" in upd.explanation


def test_the_state_travels_with_the_model_file(tmp_path):
    net, _, X, y = _trained(optimizer="adam", weight_decay=0.002)
    save_model(tmp_path / "m.npz", net)                # the app saves without an optimizer object
    with np.load(tmp_path / "m.npz") as d:
        assert {"opt.name", "opt.t", "opt.m.all", "opt.v.all", "opt.lr", "opt.beta1"} <= set(d.files)
    other = load_model(tmp_path / "m.npz")
    a, b = trace(net, X[2], int(y[2])), trace(other, X[2], int(y[2]))
    for key in (k for k in a.arrays if k.endswith("_next")):
        np.testing.assert_array_equal(a.arrays[key], b.arrays[key])
    assert b.settings["weight_decay"] == 0.002


def test_an_older_file_without_hyperparameters_uses_the_defaults_and_says_so():
    net, _, X, y = _trained(optimizer="adam", lr=0.001)
    net.optimizer_state = {k: v for k, v in net.optimizer_state.items()
                           if k not in ("lr", "beta1", "beta2", "eps", "weight_decay")}
    t = trace(net, X[2], int(y[2]))
    assert t.lr == 0.003 and "does not record lr" in t.settings["why"]


def test_state_that_does_not_fit_falls_back_with_a_reason():
    net, _, X, y = _trained(optimizer="adam")
    net.optimizer_state["m.all"] = net.optimizer_state["m.all"][:-3]
    t = trace(net, X[2], int(y[2]))
    assert t.settings["source"] == "none" and "cannot be used" in t.settings["why"]


def test_breakdown_of_a_new_weight_shows_every_adam_term():
    net, _, X, y = _trained(optimizer="adam", weight_decay=0.01)
    t = trace(net, X[3], int(y[3]))
    dW = t.arrays["L0.dW"]
    idx = np.unravel_index(np.argmax(np.abs(dW)), dW.shape)
    bd = explain.breakdown(t, "L0.W_next", idx)
    assert bd.value == pytest.approx(float(t.arrays["L0.W_next"][idx]))
    assert abs(bd.total - bd.value) < 1e-6
    text = "\n".join(bd.notes)
    for start in ("g = ∂L/∂w + λ·w = ", "m = β1·m + (1−β1)·g = 0.9·", "v = β2·v + (1−β2)·g² = 0.999·",
                  "m̂ = m/(1−β1ᵗ) = ", "v̂ = v/(1−β2ᵗ) = ", "√v̂ + ε = "):
        assert start in text, start
    step = next(s for s in t.steps if s.kind == "update" and s.layer == 0)
    same = explain.breakdown(t, "L0.W", idx, step)
    assert same.total == bd.total and same.value == bd.value
    assert {"L0.W", "L0.dW", "L0.vW"} <= set(bd.sources())
    b = explain.breakdown(t, "L0.b_next", (0,))
    assert "biases do not decay" in b.notes[0] and abs(b.total - b.value) < 1e-6


def test_trace_files_keep_the_update_and_refuse_a_missing_state(tmp_path):
    net, _, X, y = _trained(optimizer="adam")
    t = trace(net, X[0], int(y[0]))
    t.save(tmp_path / "t.npz")
    back = Trace.load(tmp_path / "t.npz")
    assert back.settings == t.settings and back.loss_next == t.loss_next
    np.savez(tmp_path / "bad.npz", **{k: v for k, v in t.arrays.items() if k != "L2.vW"})
    with pytest.raises(TraceFileError, match="L2.vW"):
        Trace.load(tmp_path / "bad.npz")
    settings = json.loads(str(t.arrays["optimizer"]))
    for name in ("rmsprop", ["adam"], {"adam": 1}, 3, None):      # (a list or object raised TypeError)
        arrays = dict(t.arrays, optimizer=np.array(json.dumps(dict(settings, name=name))))
        np.savez(tmp_path / "bad2.npz", **arrays)
        with pytest.raises(TraceFileError, match="neither sgd nor adam"):
            Trace.load(tmp_path / "bad2.npz")


def test_cli_trace_uses_the_saved_optimizer_unless_lr_is_given(tmp_path, capsys):
    from cnnapp.cli import main
    model = tmp_path / "m.npz"
    assert main(["train", "--arch", "tiny", "--data", "generated", "--count", "60", "--epochs", "1",
                 "--quiet", "--out", str(model)]) == 0
    out = tmp_path / "t.npz"
    assert main(["trace", str(model), "--data", "generated", "--count", "60", "--index", "1",
                 "--out", str(out)]) == 0
    assert "after one Adam step" in capsys.readouterr().out
    assert json.loads(str(Trace.load(out).arrays["optimizer"]))["name"] == "adam"
    assert main(["trace", str(model), "--data", "generated", "--count", "60", "--index", "1",
                 "--lr", "0.2", "--out", str(out)]) == 0
    s = Trace.load(out).settings
    assert (s["name"], s["lr"], s["momentum"]) == ("sgd", 0.2, 0.0) and not math.isnan(s["step"])


def test_the_gradient_line_of_weight_decay_writes_its_first_number_as_an_equation_does():
    """An equation's first number is written plainly and a number after an operator in brackets
    ("0.1 + (−0.3)", terms.bracketed): the line of a decaying weight's g read "g = ∂L/∂w + λ·w = (−0.3) + …",
    unlike every other sum of the app."""
    from cnncore.update import update_terms_for
    net, trainer, X, y = _trained(optimizer="sgd", momentum=0.8, weight_decay=0.001, lr=0.02)
    t = trace(net, X[5], int(y[5]))
    dW = t.arrays["L0.dW"]
    index = tuple(int(k) for k in np.argwhere(dW < 0)[0])
    (gline,) = [line for note in update_terms_for(t.arrays, t.settings, 0, "W", index).notes
                for line in note.splitlines() if line.startswith("g = ")]
    assert gline.startswith(f"g = ∂L/∂w + λ·w = {explain.num(dW[index])} + 0.001·"), gline
