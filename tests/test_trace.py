"""The backprop trace: keys, consistency between arrays, steps, save and load."""
from __future__ import annotations

import numpy as np
import pytest

from cnncore import activations, conv2d_backward
from cnncore.architecture import parse_architecture, preset
from cnncore.network import Network
from cnncore.trace import Trace, TraceFileError, trace

ARCH = {"input": [1, 28, 28], "layers": [
    {"type": "conv", "filters": 4, "kernel": 5, "stride": 1, "padding": 1, "activation": "relu"},
    {"type": "maxpool", "size": 2, "stride": 2},
    {"type": "conv", "filters": 6, "kernel": 3, "stride": 2, "activation": "tanh"},
    {"type": "avgpool", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 12, "activation": "sigmoid"},
    {"type": "dense", "units": 10, "activation": "none"}]}


@pytest.fixture(scope="module")
def tr():
    net = Network(ARCH, seed=4)
    image = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    return net, image, trace(net, image, 7)


def test_keys_exactly_as_the_issue_lists(tr):
    _, _, t = tr
    want = {"input", "label", "probs", "loss", "architecture", "optimizer", "loss_next"}
    types = [l["type"] for l in ARCH["layers"]]
    for i, kind in enumerate(types):
        want |= {f"L{i}.x", f"L{i}.y", f"L{i}.dy"}
        if i > 0:
            want.add(f"L{i}.dx")
        if kind in ("conv", "dense"):
            want |= {f"L{i}.{k}" for k in ("z", "dz", "W", "b", "dW", "db", "W_next", "b_next")}
        if kind == "maxpool":
            want.add(f"L{i}.argmax")
    assert set(t.arrays) == want


def test_batch_axis_and_shapes(tr):
    net, image, t = tr
    a = t.arrays
    assert a["input"].shape == (1, 1, 28, 28)
    np.testing.assert_array_equal(a["input"][0, 0], image)
    assert a["label"].tolist() == [7] and a["probs"].shape == (1, 10) and a["loss"].shape == ()
    assert a["L0.z"].shape == (1, 4, 26, 26) and a["L5.x"].shape == (1, 6 * 3 * 3)
    assert a["L6.W"].shape == (10, 12) and a["L0.W"].shape == (4, 1, 5, 5)
    assert parse_architecture(str(a["architecture"])) == net.spec


def test_arrays_are_consistent(tr):
    net, _, t = tr
    a = t.arrays
    n = len(net.layers)
    np.testing.assert_array_equal(a["L0.x"], a["input"])
    for i in range(n - 1):
        np.testing.assert_array_equal(a[f"L{i}.y"], a[f"L{i + 1}.x"])
        np.testing.assert_array_equal(a[f"L{i + 1}.dx"].reshape(a[f"L{i}.dy"].shape), a[f"L{i}.dy"])
        assert a[f"L{i + 1}.dx"].shape == a[f"L{i + 1}.x"].shape
    for i, layer in enumerate(net.spec["layers"]):
        assert a[f"L{i}.dy"].shape == a[f"L{i}.y"].shape
        if layer["type"] in ("conv", "dense"):
            f = layer["activation"]
            z, y, dy, dz = a[f"L{i}.z"], a[f"L{i}.y"], a[f"L{i}.dy"], a[f"L{i}.dz"]
            np.testing.assert_allclose(y, activations.apply(f, z.copy()), rtol=1e-6)
            np.testing.assert_allclose(dz, dy * activations.derivative(f, z, y), rtol=1e-5, atol=1e-9)
            np.testing.assert_array_equal(a[f"L{i}.W"], net.params()[f"L{i}.W"])
    # softmax, loss and the gradient that starts the backward pass
    z = a["L6.y"][0].astype(np.float64)
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(a["probs"][0], p, rtol=1e-5)
    assert float(a["loss"]) == pytest.approx(-np.log(p[7]), rel=1e-5)
    np.testing.assert_allclose(a["L6.dy"][0], p - np.eye(10)[7], rtol=1e-5, atol=1e-7)
    # dense: dW = dzᵀ·x, db = dz, dx = dz·W
    np.testing.assert_allclose(a["L6.dW"], a["L6.dz"].T @ a["L6.x"], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(a["L6.db"], a["L6.dz"][0], rtol=1e-6)
    np.testing.assert_allclose(a["L6.dx"], a["L6.dz"] @ a["L6.W"], rtol=1e-5, atol=1e-9)
    # conv: the kernel's gradients from the recorded dz and x
    _, dW, db = conv2d_backward(a["L2.dz"], a["L2.x"], a["L2.W"], 2, 0)
    np.testing.assert_allclose(a["L2.dW"], dW, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a["L2.db"], db, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a["L0.db"], a["L0.dz"].sum(axis=(0, 2, 3)), rtol=1e-4, atol=1e-7)


def test_maxpool_routes_gradient_to_argmax(tr):
    _, _, t = tr
    a = t.arrays
    x, y, am, dy, dx = (a[f"L1.{k}"] for k in ("x", "y", "argmax", "dy", "dx"))
    C, H, W = x.shape[1:]
    flat_x = x.reshape(1, C, H * W)
    np.testing.assert_array_equal(np.take_along_axis(flat_x, am.reshape(1, C, -1), axis=2).reshape(y.shape), y)
    want = np.zeros((1, C, H * W), dtype=dy.dtype)
    for c in range(C):
        np.add.at(want[0, c], am[0, c].ravel(), dy[0, c].ravel())
    np.testing.assert_allclose(dx.reshape(1, C, H * W), want)


def test_steps_order_and_maps(tr):
    net, _, t = tr
    n = len(net.layers)
    kinds = [(s.kind, s.layer) for s in t.steps]
    params = [i for i, l in enumerate(net.spec["layers"]) if l["type"] in ("conv", "dense")]
    assert kinds == ([("forward", i) for i in range(n)] + [("loss", None)]
                     + [("backward", i) for i in reversed(range(n))] + [("update", i) for i in params])
    for s in t.steps:
        assert s.maps and all(k in t.arrays for k in s.maps), s.title
        assert s.title and s.equation and s.explanation
        assert 1 <= s.explanation.count(". ") + 1 <= 3, s.explanation
        if s.layer is not None:
            assert s.layer_type == net.spec["layers"][s.layer]["type"]
    by = {(s.kind, s.layer): s for s in t.steps}
    assert "w(m,n,i,j) · x(m, rS+i−P, cS+j−P)" in by[("forward", 0)].equation
    assert "dz = dy ⊙ f′(z)" in by[("backward", 2)].equation
    assert "dW(m,n) = pad_P(x(m)) ⋆ dilate(dz(n))" in by[("backward", 2)].equation
    assert "rot180(W)" in by[("backward", 2)].equation
    assert "rot180" not in by[("backward", 0)].equation and "L0.dx" not in by[("backward", 0)].maps
    assert "argmax" in by[("backward", 1)].equation
    assert "L = −log p(label)" in by[("loss", None)].equation
    assert "w ← w − α·g" in by[("update", 0)].equation and "α = 0.01" in by[("update", 0)].equation
    assert "no optimizer state" in by[("update", 0)].explanation


def test_trace_does_not_change_the_network(tr):
    net, image, _ = tr
    before = {k: v.copy() for k, v in net.params().items()}
    t2 = trace(net, (image * 255).astype(np.uint8), 1)
    assert all(np.array_equal(before[k], v) for k, v in net.params().items())
    assert t2.label == 1


def test_save_load_round_trip(tr, tmp_path):
    _, _, t = tr
    path = tmp_path / "trace.npz"
    t.save(path)
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == set(t.arrays)
    t2 = Trace.load(path)
    assert all(np.array_equal(t.arrays[k], t2.arrays[k]) for k in t.arrays)
    assert [s.title for s in t2.steps] == [s.title for s in t.steps]
    assert t2.spec == t.spec and t2.prediction == t.prediction


def test_load_errors(tmp_path, tr):
    _, _, t = tr
    with pytest.raises(TraceFileError, match="no such file"):
        Trace.load(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(TraceFileError, match="not a readable trace"):
        Trace.load(bad)
    partial = tmp_path / "partial.npz"
    np.savez(partial, **{k: v for k, v in t.arrays.items() if k != "L3.dy"})
    with pytest.raises(TraceFileError, match="missing L3.dy"):
        Trace.load(partial)


def test_bad_label_or_image():
    net = Network(preset("tiny"))
    with pytest.raises(ValueError, match="label"):
        trace(net, np.zeros((28, 28)), 10)
    with pytest.raises(ValueError, match="image must have shape"):
        trace(net, np.zeros((28, 27)), 1)


def test_avgpool_spreads_gradient_evenly(tr):
    _, _, t = tr
    a = t.arrays
    dy, dx = a["L3.dy"], a["L3.dx"]            # avgpool 2×2, stride 2, on 6×6 maps
    want = np.kron(dy, np.ones((1, 1, 2, 2))) / 4
    np.testing.assert_allclose(dx, want, rtol=1e-6)


def test_trace_gradients_equal_the_networks(rng):
    net = Network(ARCH, seed=2, dtype=np.float64)
    image = rng.random((1, 1, 28, 28))
    t = trace(net, image, 3)
    assert t.arrays["L0.W"].dtype == np.float64
    loss, _ = net.loss_and_grads(image, [3])
    assert float(t.arrays["loss"]) == pytest.approx(loss, rel=1e-12)
    for k, g in net.grads().items():
        i, name = k.split(".")
        np.testing.assert_allclose(t.arrays[f"{i}.d{name}"], g, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("key, change, words", [
    ("L0.W", lambda a: a[:, :, :3], "L0.W has shape"),
    ("L2.dz", lambda a: a[..., 1:], "L2.dz has shape"),
    ("probs", lambda a: a[:, :9], "probs has shape"),
    ("label", lambda a: np.array([10]), "label 10 is not one of the 10 classes"),
    ("L1.argmax", lambda a: a + 10_000, "L1.argmax points outside"),
    ("L5.b", lambda a: a.astype(str), "holds"),
])
def test_load_refuses_arrays_that_do_not_fit_together(tmp_path, tr, key, change, words):
    """A file with every key but a wrong shape or value is refused by the loader, not by a crash later."""
    _, _, t = tr
    arrays = dict(t.arrays)
    arrays[key] = change(np.asarray(arrays[key]))
    path = tmp_path / "odd.npz"
    np.savez(path, **arrays)
    with pytest.raises(TraceFileError, match="do not fit together") as info:
        Trace.load(path)
    assert words in str(info.value)


def test_a_traces_shapes_come_from_the_architecture_without_drawing_weights(monkeypatch):
    """Opening a trace or a lesson asks for these shapes; drawing a 16 M-parameter network's
    weights only to read their shapes took 0.7 s a call."""
    from cnncore.layers.base import Layer, Weighted
    from cnncore.trace import expected_shapes

    spec = parse_architecture(preset("lenet"))
    recorded = trace(Network(spec, seed=0), np.zeros((28, 28), np.float32), 3).arrays

    def refuse(*_):
        raise AssertionError("weights were drawn")
    monkeypatch.setattr(Weighted, "init_params", refuse)
    monkeypatch.setattr(Layer, "init_params", refuse)
    shapes = expected_shapes(spec)
    assert shapes and all(recorded[k].shape == shape for k, shape in shapes.items())
