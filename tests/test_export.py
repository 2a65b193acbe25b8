"""Export to PyTorch (model.py + weights.npz) and ONNX: the logits of every layer type and every
activation equal the engine's to 1e-4, in PyTorch (running the generated model.py) and onnxruntime."""
from __future__ import annotations

import ast
import importlib.util
import json
import sys

import numpy as np
import pytest

from cnncore import activations
from cnncore.export import (EXPORT_EXTRA, MODEL_FILE, ONNX_OPSET, WEIGHTS_FILE, ExportError,
                            export_onnx, export_torch, next_steps, torch_source)
from cnncore.layers import LAYER_TYPES
from cnncore.network import Network

# Between them these use every layer type and every activation, with non-square windows,
# strides, padding and overlapping pools.
ARCHS = {
    "pools": [
        {"type": "conv", "filters": 3, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0], "activation": "relu"},
        {"type": "maxpool", "size": [2, 3], "stride": [1, 2]},
        {"type": "conv", "filters": 4, "kernel": 3, "activation": "leaky_relu"},
        {"type": "avgpool", "size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 12, "activation": "sigmoid"},
        {"type": "dense", "units": 10}],
    "resampling": [
        {"type": "conv", "filters": 2, "kernel": 5, "padding": 1, "activation": "tanh"},
        {"type": "l2pool", "size": 3, "stride": 2},
        {"type": "downsample", "factor": 2},
        {"type": "upsample", "factor": 3},
        {"type": "conv", "filters": 3, "kernel": 3, "stride": 2, "activation": "none"},
        {"type": "l2pool", "size": [2, 1], "stride": [2, 2]},
        {"type": "flatten"},
        {"type": "dense", "units": 10, "activation": "none"}],
}


def _net(name: str, seed: int = 1) -> Network:
    net = Network({"input": [1, 28, 28], "layers": ARCHS[name]}, seed=seed)
    rng = np.random.default_rng(seed)
    for b in (l.b for l in net.layers if l.has_params):     # non-zero biases, so a lost bias shows
        b[...] = rng.normal(0, 0.1, b.shape)
    return net


def _images(n: int = 5) -> np.ndarray:
    return np.random.default_rng(7).random((n, 1, 28, 28), dtype=np.float32)


def test_the_architectures_cover_every_layer_type_and_activation():
    used = [layer for layers in ARCHS.values() for layer in layers]
    assert {layer["type"] for layer in used} == set(LAYER_TYPES)
    nets = [_net(name) for name in ARCHS]
    assert {l.spec["activation"] for n in nets for l in n.layers if l.has_params} == set(activations.ACTIVATIONS)


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", list(ARCHS))
def test_torch_export_gives_the_engines_logits(name, tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    net = _net(name)
    model_path, weights_path = export_torch(net, tmp_path / "out")
    assert model_path.name == MODEL_FILE and weights_path.name == WEIGHTS_FILE
    model = _import(model_path, f"exported_{name}").load_model()
    assert not model.training
    x = _images()
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    want = net.forward(x, keep=False)
    assert got.shape == want.shape == (5, 10)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    assert np.abs(want).max() > 0.05       # a comparison of real numbers, not of zeros


def test_torch_source_is_readable_python_with_one_comment_per_layer():
    net = _net("resampling")
    text = torch_source(net, "digits.npz")
    ast.parse(text)                                   # valid Python, with or without PyTorch here
    assert text.startswith('"""A convolutional network exported from CNN Lab: 8 layers')
    assert "\nTITLE = 'digits.npz'\n" in text                 # the title as data, not in the docstring
    assert "float32 tensor of shape (N, 1, 28, 28)" in text and "divided by 255" in text and "logits" in text
    for layer in net.layers:
        assert f"# L{layer.index} " in text and f"output (N, {', '.join(map(str, layer.out_shape))})" in text
    assert "class KeepEvery(nn.Module)" in text and "class InsertZeros(nn.Module)" in text
    assert "allow_pickle=False" in text and "torch.load" not in text      # plain arrays, no pickle
    assert "KeepEvery" not in torch_source(_net("pools"))     # helpers only where a layer uses them


def test_the_class_names_go_with_both_exports(tmp_path):
    from cnncore.datasets import DOWNLOADS

    net = _net("pools")
    assert "CLASSES = ('0', '1', '2'," in torch_source(net)
    net.learns(DOWNLOADS["fashion"].classes, "Fashion-MNIST")
    text = torch_source(net)
    line = next(x for x in text.splitlines() if x.startswith("CLASSES = "))
    assert ast.literal_eval(line.split("=", 1)[1].strip()) == DOWNLOADS["fashion"].classes
    assert "\nDATASET = 'Fashion-MNIST'\n" in text and "Fashion-MNIST" not in ast.get_docstring(ast.parse(text))
    onnx = pytest.importorskip("onnx")
    props = {p.key: p.value for p in onnx.load(str(export_onnx(net, tmp_path / "f.onnx"))).metadata_props}
    assert json.loads(props["classes"]) == list(DOWNLOADS["fashion"].classes) and props["dataset"] == "Fashion-MNIST"


def test_torch_weights_file_is_plain_float32_arrays(tmp_path):
    net = Network({"input": [1, 28, 28], "layers": ARCHS["pools"]}, seed=3, dtype=np.float64)
    _, weights = export_torch(net, tmp_path)
    from cnncore.export import EXPORT_MARK
    with np.load(weights, allow_pickle=False) as f:
        assert set(f.files) == set(net.params()) | {EXPORT_MARK}          # (the mark: an export wrote it)
        assert f[EXPORT_MARK].tobytes() == EXPORT_MARK.encode("ascii")
        for k, v in net.params().items():
            assert f[k].dtype == np.float32
            np.testing.assert_allclose(f[k], v, rtol=1e-6)


def test_torch_export_refuses_a_file_or_a_missing_parent(tmp_path):
    net = _net("pools")
    (tmp_path / "afile").write_text("keep me")
    with pytest.raises(ExportError, match="is a file"):
        export_torch(net, tmp_path / "afile")
    assert (tmp_path / "afile").read_text() == "keep me"
    with pytest.raises(ExportError, match="does not exist"):
        export_torch(net, tmp_path / "no" / "such")


@pytest.mark.parametrize("name", list(ARCHS))
def test_onnx_export_gives_the_engines_logits(name, tmp_path):
    onnx = pytest.importorskip("onnx", reason=f"onnx is not installed (pip install cnnlab[{EXPORT_EXTRA}])")
    net = _net(name)
    path = export_onnx(net, tmp_path / "m.onnx")
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert [o.version for o in model.opset_import if o.domain == ""] == [ONNX_OPSET]
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "input" and out.name == "logits"
    assert inp.type.tensor_type.shape.dim[0].dim_param == "N"
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim[1:]] == [1, 28, 28]
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in (5, 1):                               # the batch axis is dynamic
        x = _images(n)
        got = session.run(["logits"], {"input": x})[0]
        np.testing.assert_allclose(got, net.forward(x, keep=False), rtol=0, atol=1e-4)


def test_onnx_lppool_is_the_l2_norm_without_a_divisor(tmp_path):
    # LpPool has no 1/K divisor: sqrt(Σ x²) over the window, as the l2pool layer computes
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    net = Network({"input": [1, 28, 28], "layers": [{"type": "l2pool", "size": 28}, {"type": "flatten"},
                                                     {"type": "dense", "units": 10, "activation": "none"}]})
    net.layers[2].W[...] = 0
    net.layers[2].W[0, 0] = 1
    x = np.full((1, 1, 28, 28), 0.5, dtype=np.float32)
    got = ort.InferenceSession(str(export_onnx(net, tmp_path / "l2.onnx"))).run(["logits"], {"input": x})[0]
    assert got[0, 0] == pytest.approx(np.sqrt(28 * 28 * 0.25), rel=1e-6)     # 14, not 14/784


def test_onnx_export_without_the_package_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)        # "import onnx" raises ImportError
    with pytest.raises(ExportError, match=r"pip install \"cnnlab\[export\]\""):
        export_onnx(_net("pools"), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_next_steps_are_two_lines_of_python_naming_the_file_written():
    """Issue 21, item 12: the ONNX hint said "model.onnx" whatever --out was."""
    for kind, target in (("torch", "my dir/out"), ("onnx", "runs/digits 'v2'.onnx"), ("onnx", "a\nb.onnx")):
        text = next_steps(kind, target, (3, 32, 32))
        assert len(text.splitlines()) == 2 and repr(target) in text and "(N, 3, 32, 32)" in text
        ast.parse(text)
    with pytest.raises(ValueError):
        next_steps("keras", "x")


# ----------------------------------------------------------------------------- the command line

def test_cli_export_writes_both_and_says_what_next(tmp_path, capsys):
    from cnnapp.cli import main
    from cnncore.modelio import save_model

    net = _net("pools")
    save_model(tmp_path / "m.npz", net)
    assert main(["export", str(tmp_path / "m.npz"), "--to", "torch", "--out", str(tmp_path / "torch")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "torch" / MODEL_FILE).is_file() and (tmp_path / "torch" / WEIGHTS_FILE).is_file()
    assert "from model import load_model" in out
    assert "\nTITLE = 'm.npz'\n" in (tmp_path / "torch" / MODEL_FILE).read_text(encoding="utf-8")
    pytest.importorskip("onnx")
    assert main(["export", str(tmp_path / "m.npz"), "--to", "onnx", "--out", str(tmp_path / "digits.onnx")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "digits.onnx").stat().st_size > 1000 and "onnxruntime" in out
    assert repr(str(tmp_path / "digits.onnx")) in out and "model.onnx" not in out     # the file written


def test_cli_export_errors_are_one_line(tmp_path, capsys, monkeypatch):
    from cnnapp.cli import main
    from cnncore.modelio import save_model

    save_model(tmp_path / "m.npz", _net("pools"))
    assert main(["export", str(tmp_path / "missing.npz"), "--to", "torch", "--out", str(tmp_path / "x")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "m.npz"), "--to", "keras", "--out", str(tmp_path / "x")]) == 2
    assert "invalid choice" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["export", str(tmp_path / "m.npz"), "--to", "onnx", "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert 'pip install "cnnlab[export]"' in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()

