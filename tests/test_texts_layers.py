"""The layers the texts teach beyond conv and pooling: L2-norm pooling (000), downsampling and
upsampling (002). Each against its slow twin, central differences and, where installed, PyTorch."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cnncore import reference as ref
from cnncore.architecture import ArchitectureError, infer_shapes, parse_architecture, summarize
from cnncore.explain import breakdown
from cnncore.identities import dilate
from cnncore.network import Network
from cnncore.trace import expected_keys, trace
from test_layers import _check, _layer

SPEC = {"input": [1, 28, 28], "layers": [
    {"type": "conv", "filters": 3, "kernel": 3, "padding": 1, "activation": "tanh"},
    {"type": "l2pool", "size": 2},
    {"type": "downsample", "factor": 2},
    {"type": "upsample", "factor": 3},
    {"type": "conv", "filters": 4, "kernel": 3, "stride": 1, "activation": "relu"},
    {"type": "l2pool", "size": 3, "stride": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 10}]}


def _l2pool_twin(x, size, stride):
    """``y = sqrt(Σ x²)`` per window, loop by loop from the equation."""
    (KH, KW), (SH, SW) = size, stride
    N, C, H, W = x.shape
    Ho, Wo = (H - KH) // SH + 1, (W - KW) // SW + 1
    y = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    for oy in range(Ho):
        for ox in range(Wo):
            win = x[:, :, oy * SH:oy * SH + KH, ox * SW:ox * SW + KW]
            y[:, :, oy, ox] = np.sqrt((win * win).sum(axis=(2, 3)))
    return y


def _l2pool_backward_twin(dy, x, y, size, stride):
    (KH, KW), (SH, SW) = size, stride
    dx = np.zeros_like(x)
    for oy in range(y.shape[2]):
        for ox in range(y.shape[3]):
            win = (slice(None), slice(None), slice(oy * SH, oy * SH + KH), slice(ox * SW, ox * SW + KW))
            yy = y[:, :, oy, ox][:, :, None, None]
            share = np.divide(x[win], yy, out=np.zeros_like(x[win]), where=yy > 0)
            dx[win] += dy[:, :, oy, ox][:, :, None, None] * share
    return dx


# ------------------------------------------------------------------------- shapes and parsing

@pytest.mark.parametrize("H,S", [(28, 2), (7, 2), (8, 3), (5, 1), (1, 4)])
def test_resampling_output_sizes(H, S):
    spec = {"input": [2, H, H + 1], "layers": [{"type": "downsample", "factor": S}, {"type": "upsample", "factor": S},
                                              {"type": "flatten"}, {"type": "dense", "units": 10}]}
    (_, down), (_, up), _, _ = infer_shapes(spec)
    assert down == (2, (H - 1) // S + 1, H // S + 1)
    assert up == (2, (down[1] - 1) * S + 1, (down[2] - 1) * S + 1)


def test_new_types_parse_with_defaults_and_errors():
    layers = parse_architecture(SPEC)["layers"]
    assert layers[1] == {"type": "l2pool", "size": [2, 2], "stride": [2, 2]}
    assert layers[2] == {"type": "downsample", "factor": 2}
    for bad, msg in [({"type": "upsample"}, "missing 'factor'"),
                     ({"type": "upsample", "factor": 0}, "'factor' must be at least 1"),
                     ({"type": "downsample", "factor": [2, 2]}, "'factor' must be a positive integer"),
                     ({"type": "l2pool", "size": 2, "factor": 2}, "unknown key 'factor'")]:
        with pytest.raises(ArchitectureError, match=msg):
            parse_architecture({"layers": [bad, {"type": "flatten"}, {"type": "dense", "units": 10}]})
    rows = summarize({"input": [1, 4, 4], "layers": [{"type": "flatten"}, {"type": "upsample", "factor": 2},
                                                     {"type": "dense", "units": 10}]})
    assert "layer 1 (upsample) needs maps" in rows[1].error
    rows = summarize({"input": [1, 4, 4], "layers": [{"type": "l2pool", "size": 5}, {"type": "flatten"},
                                                     {"type": "dense", "units": 10}]})
    assert rows[0].error.startswith("layer 0 (l2pool 5×5, stride 5) needs an input of at least 5×5")


# ------------------------------------------------------------------------- against the twins

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("S", [1, 2, 3])
@pytest.mark.parametrize("hw", [(7, 9), (6, 6)])
def test_resampling_layers_match_the_twin(dtype, S, hw, rng):
    x = rng.standard_normal((2, 3) + hw).astype(dtype)
    down = _layer({"type": "downsample", "factor": S}, x.shape[1:], dtype)
    y = down.forward(x)
    np.testing.assert_array_equal(y, ref.downsample2d_forward(x, S))
    dy = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_array_equal(down.backward(dy), ref.downsample2d_backward(dy, x.shape, S))
    up = _layer({"type": "upsample", "factor": S}, x.shape[1:], dtype)
    y = up.forward(x)
    assert y.dtype == dtype and y.shape[2:] == ((hw[0] - 1) * S + 1, (hw[1] - 1) * S + 1)
    np.testing.assert_array_equal(y, ref.upsample2d_forward(x, S))
    np.testing.assert_array_equal(y, dilate(x, S))           # the textbook's dilate, as the slides say
    dy = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_array_equal(up.backward(dy), ref.upsample2d_backward(dy, S))


def test_resampling_by_hand():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(ref.downsample2d_forward(x, 2)[0, 0], [[0, 2], [8, 10]])
    np.testing.assert_array_equal(ref.downsample2d_forward(x, 3)[0, 0], [[0, 3], [12, 15]])
    up = ref.upsample2d_forward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), 2)[0, 0]
    np.testing.assert_array_equal(up, [[1, 0, 2], [0, 0, 0], [3, 0, 4]])


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-6), (np.float64, 1e-13)])
@pytest.mark.parametrize("size,stride", [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((2, 3), (1, 2)), ((3, 3), (1, 1))])
def test_l2pool_matches_the_twin(dtype, tol, size, stride, rng):
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    x[0, 0, :4, :4] = 0                                         # windows whose norm is 0
    layer = _layer({"type": "l2pool", "size": list(size), "stride": list(stride)}, x.shape[1:], dtype)
    y = layer.forward(x)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, _l2pool_twin(x, size, stride), rtol=tol, atol=tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dy)
    want = _l2pool_backward_twin(dy, x, y, size, stride)
    np.testing.assert_allclose(dx, want, rtol=10 * tol, atol=10 * tol)
    assert np.all(dx[0, 0, :2, :2] == 0) and np.all(np.isfinite(dx))


def test_l2pool_by_hand():
    x = np.array([[[[3.0, 0.0], [0.0, 4.0]]]])
    layer = _layer({"type": "l2pool", "size": 2}, (1, 2, 2))
    assert layer.forward(x)[0, 0, 0, 0] == 5.0
    np.testing.assert_allclose(layer.backward(np.array([[[[10.0]]]]))[0, 0], [[6.0, 0.0], [0.0, 8.0]])


# ------------------------------------------------------------------------- central differences

@pytest.mark.parametrize("spec", [{"type": "downsample", "factor": 2}, {"type": "downsample", "factor": 3},
                                  {"type": "upsample", "factor": 2}, {"type": "upsample", "factor": 3},
                                  {"type": "l2pool", "size": 2}, {"type": "l2pool", "size": 3, "stride": 2},
                                  {"type": "l2pool", "size": [2, 3], "stride": [1, 2]}])
def test_new_layers_backward_central_differences(spec, rng):
    layer = _layer(spec, (2, 7, 8))
    x = rng.standard_normal((2, 2, 7, 8)) + 0.1
    _check(layer, x, rng)


def test_whole_network_with_new_layers_central_differences(rng):
    net = Network(SPEC, seed=3, dtype=np.float64)
    net.layers[0].b[...] = 0.1
    x = rng.random((2, 1, 28, 28))
    labels = np.array([3, 7])
    net.loss_and_grads(x, labels)
    grads = {k: v.copy() for k, v in net.grads().items()}
    params = net.params()
    for key in ("L0.W", "L4.W", "L4.b", "L7.W"):
        flat, g = params[key].reshape(-1), grads[key].reshape(-1)
        for k in rng.choice(flat.size, 4, replace=False):
            old = flat[k]
            flat[k] = old + 1e-6
            lp = net.loss_and_grads(x, labels)[0]
            flat[k] = old - 1e-6
            lm = net.loss_and_grads(x, labels)[0]
            flat[k] = old
            assert g[k] == pytest.approx((lp - lm) / 2e-6, rel=1e-5, abs=1e-9), (key, k)


# ------------------------------------------------------------------------- trace, explain, PyTorch

@pytest.fixture(scope="module")
def new_trace():
    net = Network(SPEC, seed=1, dtype=np.float64)
    image = np.random.default_rng(0).random((28, 28))
    return net, image, trace(net, image, 3)


def test_trace_holds_every_map_and_gradient(new_trace):
    _, _, t = new_trace
    assert list(t.arrays) == expected_keys(SPEC)
    kinds = [(s.kind, s.layer_type) for s in t.steps]
    for name in ("l2pool", "downsample", "upsample"):
        assert ("forward", name) in kinds and ("backward", name) in kinds
    up = next(s for s in t.steps if s.kind == "forward" and s.layer_type == "upsample")
    assert "transposed" in up.explanation and "y(m, rS, cS) = x(m,r,c)" in up.equation
    l2 = next(s for s in t.steps if s.kind == "backward" and s.layer_type == "l2pool")
    assert "0 where y = 0" in l2.equation and "y = 0" in l2.explanation
    for s in t.steps:
        assert 1 <= s.explanation.count(". ") + 1 <= 3, s.explanation


@pytest.mark.parametrize("key", ["L1.y", "L1.dx", "L2.y", "L2.dx", "L3.y", "L3.dx", "L5.y", "L5.dx"])
def test_explain_every_element_of_the_new_layers(new_trace, key):
    _, _, t = new_trace
    arr = t.arrays[key][0]
    for index in np.ndindex(*arr.shape):
        bd = breakdown(t, key, index)
        assert bd.error <= 1e-12 * max(1.0, abs(bd.value)), (key, index, bd.total, bd.value)
        assert bd.equation and bd.notes


def test_explain_l2pool_sources_and_norm(new_trace):
    _, _, t = new_trace
    bd = breakdown(t, "L5.y", (0, 1, 1))
    assert bd.combine == "norm" and bd.written_out().startswith("sqrt(")
    assert bd.sources()["L5.x"] == {(0, 0, r, c) for r in (2, 3, 4) for c in (2, 3, 4)}
    bd = breakdown(t, "L3.y", (0, 1, 1))                     # an inserted zero
    assert bd.total == 0 and bd.sources() == {}
    bd = breakdown(t, "L3.y", (0, 3, 6))
    assert bd.sources() == {"L3.x": {(0, 0, 1, 2)}}


def test_trace_equals_pytorch_autograd(new_trace):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    net, image, t = new_trace
    p = {k: torch.tensor(v, requires_grad=True) for k, v in net.params().items()}

    def upsample(v, S):
        out = v.new_zeros(v.shape[:2] + ((v.shape[2] - 1) * S + 1, (v.shape[3] - 1) * S + 1))
        out[:, :, ::S, ::S] = v
        return out

    steps = [lambda v: torch.tanh(F.conv2d(v, p["L0.W"], p["L0.b"], padding=1)),
             lambda v: F.lp_pool2d(v, 2, 2, 2),
             lambda v: v[:, :, ::2, ::2],
             lambda v: upsample(v, 3),
             lambda v: torch.relu(F.conv2d(v, p["L4.W"], p["L4.b"])),
             lambda v: F.lp_pool2d(v, 2, 3, 2),
             lambda v: v.reshape(v.shape[0], -1),
             lambda v: F.linear(v, p["L7.W"], p["L7.b"])]
    v = torch.tensor(image[None, None], requires_grad=True)
    outs, ins = [], []
    for f in steps:
        ins.append(v)
        v = f(v)
        v.retain_grad()
        outs.append(v)
    for a in ins[1:]:
        a.retain_grad()
    loss = F.cross_entropy(v, torch.tensor([3]))
    loss.backward()
    assert loss.item() == pytest.approx(t.loss, rel=1e-12)
    for i, (a, b) in enumerate(zip(ins, outs)):
        np.testing.assert_allclose(t.arrays[f"L{i}.y"], b.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(t.arrays[f"L{i}.dy"], b.grad.numpy(), rtol=1e-8, atol=1e-12)
        if i > 0:
            np.testing.assert_allclose(t.arrays[f"L{i}.dx"], a.grad.numpy(), rtol=1e-8, atol=1e-12)
    for k, v in p.items():
        np.testing.assert_allclose(t.arrays[k.replace(".W", ".dW").replace(".b", ".db")], v.grad.numpy(),
                                   rtol=1e-8, atol=1e-12)


# ------------------------------------------------------------------------- the command line

def test_cli_trains_and_traces_the_new_layers(tmp_path, capsys):
    from cnnapp.cli import main
    from cnncore.trace import Trace
    arch = tmp_path / "texts.json"
    arch.write_text(json.dumps(SPEC))
    model = tmp_path / "m.npz"
    rc = main(["train", "--arch", str(arch), "--data", "generated", "--count", "200", "--epochs", "2",
               "--quiet", "--out", str(model)])
    assert rc == 0 and model.is_file()
    from cnncore.modelio import load_model
    net = load_model(model)
    assert [l["type"] for l in net.spec["layers"]] == [l["type"] for l in SPEC["layers"]]
    assert net.history[-1]["train_loss"] < net.history[0]["train_loss"] or net.history[-1]["val_accuracy"] > 0.2
    out = tmp_path / "t.npz"
    rc = main(["trace", str(model), "--data", "generated", "--index", "0", "--out", str(out)])
    assert rc == 0
    t = Trace.load(out)
    assert set(expected_keys(SPEC)) <= set(t.arrays)
