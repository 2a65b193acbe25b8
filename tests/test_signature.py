"""A model says what it takes (issue 23 item 1): its input shape, class names, fitting rule and input
normalisation live in one Signature, are kept in its file, applied by the engine (forward, the
gradients with respect to the input, the trace, the probe) and written into both exports."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from cnncore.architecture import DIGIT_CLASSES
from cnncore.gradcheck import gradient_check
from cnncore.probe import Probe
from cnncore.modelio import ModelFileError, load_model, save_model
from cnncore.network import Network
from cnncore.signature import Signature, channel_statistics
from cnncore.trace import trace

COLOUR = {"input": [3, 12, 10], "layers": [
    {"type": "conv", "filters": 4, "kernel": 3, "padding": 1, "activation": "relu"},
    {"type": "maxpool", "size": 2},
    {"type": "conv", "filters": 5, "kernel": 3, "activation": "tanh"},
    {"type": "flatten"},
    {"type": "dense", "units": 10}]}
MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)


def _net(dtype=np.float32, normalised=True) -> Network:
    net = Network(COLOUR, seed=2, dtype=dtype)
    if normalised:
        net.normalises(MEAN, STD)
    return net


def _pictures(n=3) -> np.ndarray:
    return np.random.default_rng(5).random((n, 3, 12, 10)).astype(np.float32)


def test_the_signature_holds_shape_classes_fit_and_normalisation():
    net = _net()
    sig = net.signature
    assert net.input_shape == sig.shape == (3, 12, 10) and sig.channels == 3 and sig.size == (12, 10)
    assert net.classes == DIGIT_CLASSES and sig.fit == "picture" and sig.normalises
    assert "3×12×10: colour (RGB) pictures of 12×10 pixels" == sig.words()
    assert Network({"input": [1, 28, 28], "layers": COLOUR["layers"][2:]}).signature.fit == "digit"
    net.learns(tuple("abcdefghij"), "letters")
    assert net.signature.mean == MEAN and net.classes[0] == "a"       # one change keeps the rest
    assert net.copy().signature == net.signature


@pytest.mark.parametrize("bad, match", [
    (dict(mean=(0.5, 0.5)), "both a mean and a standard deviation"),
    (dict(mean=(0.5, 0.5), std=(1, 1)), "must be 3 numbers, one per channel, got 2"),
    (dict(mean=(0.5, 0.5, float("nan")), std=(1, 1, 1)), "mean must be finite numbers of at most 1e\\+06, got 0.5, 0.5, nan"),
    (dict(mean=(0.5, 0.5, 0.5), std=(1, 0, 1)), "deviation must be from 1e-06 to 1e\\+06 .*, got 1, 0, 1"),
    (dict(mean=(0.5, 0.5, 0.5), std=(1, 1e-300, 1)), "from 1e-06"),         # (0 in float32)
    (dict(fit="digit"), "'picture'"),
    (dict(fit="stretch"), "'picture'"),
    (dict(classes=("a", "b")), "10 classes"),
])
def test_a_signature_refuses_what_cannot_be(bad, match):
    with pytest.raises(ValueError, match=match):
        Signature((3, 32, 32), **bad)


def test_the_engine_applies_the_normalisation_to_the_zero_one_input():
    x = _pictures()
    plain, normal = _net(normalised=False), _net()
    m, s = np.reshape(MEAN, (1, 3, 1, 1)), np.reshape(STD, (1, 3, 1, 1))
    want = plain.forward(((x - m) / s).astype(np.float32), keep=False)
    np.testing.assert_allclose(normal.forward(x, keep=False), want, rtol=1e-5, atol=1e-5)
    assert np.abs(normal.forward(x, keep=False) - plain.forward(x, keep=False)).max() > 1e-2


def test_input_gradients_go_through_the_normalisation():
    """Central differences on the [0, 1] input: the network's and the probe's gradients include 1/std."""
    net = _net(np.float64)
    image = _pictures(1)[0].astype(np.float64)
    for index in [(0, 3, 4), (1, 6, 2), (2, 11, 9)]:
        r = gradient_check(net, image, 4, "input", index)
        assert r.agrees and abs(r.analytic) > 1e-6, r
    g = Probe(net).class_gradient(image, 2)
    eps, c = 1e-6, (2, 5, 5)
    hi, lo = image.copy(), image.copy()
    hi[c] += eps
    lo[c] -= eps
    z = lambda v: net.forward(v[None], keep=False)[0, 2]        # noqa: E731
    assert g.saliency[c] == pytest.approx((z(hi) - z(lo)) / (2 * eps), rel=1e-6)


def test_the_trace_keeps_the_picture_and_the_first_layer_gets_it_normalised():
    net = _net(np.float64)
    image = _pictures(1)[0].astype(np.float64)
    t = trace(net, image, 3)
    np.testing.assert_array_equal(t.arrays["input"][0], image)
    m, s = np.reshape(MEAN, (3, 1, 1)), np.reshape(STD, (3, 1, 1))
    np.testing.assert_allclose(t.arrays["L0.x"][0], (image - m) / s, rtol=1e-12)


def test_the_model_file_keeps_the_normalisation_and_the_fit(tmp_path):
    net = _net()
    net.learns(tuple("abcdefghij"), "letters")
    save_model(tmp_path / "m.npz", net)
    back = load_model(tmp_path / "m.npz")
    assert back.signature == net.signature
    np.testing.assert_array_equal(back.forward(_pictures(), keep=False), net.forward(_pictures(), keep=False))
    digits = Network({"input": [1, 28, 28], "layers": COLOUR["layers"][2:]}, seed=0)
    digits.signature = digits.signature.fitted("picture")          # a grey model trained on a folder
    save_model(tmp_path / "g.npz", digits)
    assert load_model(tmp_path / "g.npz").signature.fit == "picture"


def test_an_old_file_loads_without_normalisation(tmp_path):
    net = _net(normalised=False)
    save_model(tmp_path / "m.npz", net)
    with np.load(tmp_path / "m.npz") as f:
        assert not {"input_mean", "input_std", "input_fit"} & set(f.files)       # as files were before
    back = load_model(tmp_path / "m.npz")
    assert not back.signature.normalises and back.signature.fit == "picture"


@pytest.mark.parametrize("entries, match", [
    ({"input_mean": np.zeros(3)}, "without 'input_std'"),
    ({"input_mean": np.zeros(2), "input_std": np.ones(2)}, r"one float per input channel \(3\)"),
    ({"input_mean": np.zeros(3), "input_std": np.array([1.0, -1.0, 1.0])}, "from 1e-06"),
    ({"input_mean": np.array([0, np.inf, 0]), "input_std": np.ones(3)}, "finite"),
    ({"input_mean": np.array(["a", "b", "c"]), "input_std": np.ones(3)}, r"one float per input channel \(3\)"),
    ({"input_fit": np.array("digit")}, "'picture'"),
])
def test_a_damaged_normalisation_is_refused(tmp_path, entries, match):
    save_model(tmp_path / "m.npz", _net(normalised=False))
    with np.load(tmp_path / "m.npz") as f:
        arrays = {k: f[k] for k in f.files}
    np.savez(tmp_path / "bad.npz", **arrays, **entries)
    with pytest.raises(ModelFileError, match=match):
        load_model(tmp_path / "bad.npz")


def test_channel_statistics_per_channel_in_the_zero_one_scale():
    X = np.random.default_rng(1).integers(0, 256, (9000, 3, 4, 5), dtype=np.uint8)   # more than one chunk
    mean, std = channel_statistics(X)
    f = X.astype(np.float64) / 255
    np.testing.assert_allclose(mean, f.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, f.std(axis=(0, 2, 3)), rtol=1e-9)
    assert channel_statistics(np.zeros((2, 1, 3, 3), np.float32))[1] == (1.0,)   # no spread: 1


def test_both_exports_take_zero_one_pictures(tmp_path):
    from cnncore.export import export_onnx, export_torch, torch_source

    net = _net()
    x = _pictures(4)
    want = net.forward(x, keep=False)
    text = torch_source(net)
    assert "Normalise(mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))" in text
    assert "(N, 3, 12, 10)" in text and "R, G and B" in text
    if importlib.util.find_spec("torch"):
        import torch
        model_path, _ = export_torch(net, tmp_path / "t")
        spec = importlib.util.spec_from_file_location("exported_colour", model_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with torch.no_grad():
            got = module.load_model()(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    if importlib.util.find_spec("onnx") and importlib.util.find_spec("onnxruntime"):
        import onnxruntime as ort
        path = export_onnx(net, tmp_path / "m.onnx")
        got = ort.InferenceSession(str(path)).run(["logits"], {"input": x})[0]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_each_input_plane_has_a_name_and_the_input_a_few_words():
    from cnncore.signature import channel_names
    assert channel_names(1) == ("grey",) and channel_names(3) == ("R", "G", "B")
    assert channel_names(2) == ("channel 0", "channel 1")
    assert Signature((3, 32, 32)).channel_names == ("R", "G", "B")
    assert Signature((3, 32, 32)).brief() == "colour (RGB) 32×32" and Signature((1, 28, 28)).brief() == "grey 28×28"
