"""Hostile and broken files: one clear error, never a traceback, a hang or a memory blow-up.

The reproducers are small and made here: a file that *declares* gigabytes is a few bytes of
header, and the checks must refuse it from the header, before allocating or inflating.
"""
from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest

from cnnapp.cli import main
from cnncore.architecture import preset
from cnncore.datasets.drawings import DrawingsDataset, DrawingsFileError
from cnncore.modelio import ModelFileError, load_model, save_model
from cnncore.network import Network

MB = 1 << 20


def npy_bytes(shape, dtype="<f4", data: bytes = b"") -> bytes:
    """A .npy member with any header and any (usually far too little) data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue() + data


def rewrite_zip(src, dst, replace: dict, compress=zipfile.ZIP_STORED):
    """Copy an .npz, replacing (or adding) members by name (with ``.npy`` or not) with raw bytes."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compress) as zout:
        for zi in zin.infolist():
            if zi.filename not in replace:
                zout.writestr(zi.filename, zin.read(zi))
        for name, data in replace.items():
            if data is not None:
                zout.writestr(name, data)


def peak_mb(fn, *args):
    """``(result or exception, peak traced MB)`` of ``fn(*args)`` (NumPy's buffers are traced too)."""
    tracemalloc.start()
    try:
        try:
            out = fn(*args)
        except Exception as e:  # noqa: BLE001 - returned for the caller to check
            out = e
        return out, tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "model.npz"
    save_model(path, Network(preset("tiny"), seed=0))
    return path


def cli_one_line(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ----------------------------------------------------------------------------- model files (items 2, 4)

def _damaged_header(npy: bytes) -> bytes:
    """NumPy's header parser then fails inside ``tokenize`` (an unclosed parenthesis)."""
    i = npy.index(b"'shape': (") + len(b"'shape': (")
    return npy[:i] + b"(" + npy[i + 1:]


@pytest.mark.parametrize("case", ["raw member", "damaged header", "bare npy", "member bomb", "object dtype"])
def test_bad_model_members_are_one_line_errors(model_path, tmp_path, capsys, case):
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(model_path) as z:
        w_npy = z.read("L0.W.npy")
    if case == "raw member":
        rewrite_zip(model_path, bad, {"L0.W.npy": None, "L0.W": b"\x00" * 64})
    elif case == "damaged header":
        rewrite_zip(model_path, bad, {"L0.W.npy": _damaged_header(w_npy)})
    elif case == "bare npy":
        bad.write_bytes(w_npy)
    elif case == "member bomb":     # declares 2 GB, holds nothing
        rewrite_zip(model_path, bad, {"L0.W.npy": npy_bytes((25000, 20000), "<f4")})
    else:
        rewrite_zip(model_path, bad, {"history.npy": npy_bytes((), "|O", b"\x80\x04N.")})
    out, peak = peak_mb(load_model, bad)
    assert isinstance(out, ModelFileError), repr(out)
    assert "\n" not in str(out) and str(bad) in str(out)
    assert peak < 32, f"{peak:.0f} MB traced while refusing the file"
    cli_one_line(capsys, ["predict", str(bad), str(bad)])


def test_model_weights_are_checked_against_the_architecture_before_reading(model_path, tmp_path):
    """A weight inflating to far more than its layer needs is refused from its header."""
    bad = tmp_path / "bomb.npz"
    rewrite_zip(model_path, bad, {"L0.W.npy": npy_bytes((4, 1, 5, 5, 10**6), "<f4", b"\x00" * 4000)},
                compress=zipfile.ZIP_DEFLATED)
    out, peak = peak_mb(load_model, bad)
    assert isinstance(out, ModelFileError) and "L0.W has shape" in str(out)
    assert peak < 32


def test_weight_names_with_newlines_give_one_line(model_path, tmp_path):
    bad = tmp_path / "names.npz"
    rewrite_zip(model_path, bad, {"L0.W\n.npy": npy_bytes((1,), "<f4", b"\x00" * 4)})
    with pytest.raises(ModelFileError) as e:
        load_model(bad)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "folder"])
def test_model_paths_that_are_not_regular_files(tmp_path, kind, capsys):
    path = tmp_path / "m.npz"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path = "/dev/zero"
    with pytest.raises(ModelFileError, match="folder|named pipe|device"):
        load_model(path)
    cli_one_line(capsys, ["predict", str(path), str(path)])


# ----------------------------------------------------------------------------- drawings (items 3, 4)

@pytest.mark.parametrize("case", ["bare npy", "raw members", "damaged header", "count bomb", "fifo"])
def test_recover_mode_always_recovers(tmp_path, case):
    path = tmp_path / "drawings.npz"
    good = tmp_path / "good.npz"
    np.savez(good, images=np.zeros((2, 28, 28), np.uint8), labels=np.zeros(2, np.uint8))
    if case == "bare npy":
        np.save(path, np.zeros((2, 28, 28), np.uint8))
        os.replace(str(path) + ".npy", path)
    elif case == "raw members":
        rewrite_zip(good, path, {"images.npy": None, "labels.npy": None, "images": b"x" * 10, "labels": b"y"})
    elif case == "damaged header":
        with zipfile.ZipFile(good) as z:
            rewrite_zip(good, path, {"labels.npy": _damaged_header(z.read("labels.npy"))})
    elif case == "count bomb":      # 8 million drawings (6 GB) declared in a few bytes
        rewrite_zip(good, path, {"images.npy": npy_bytes((8_000_000, 28, 28), "|u1"),
                                 "labels.npy": npy_bytes((8_000_000,), "|u1")})
    else:
        os.mkfifo(path)
    out, peak = peak_mb(DrawingsDataset, path)
    assert isinstance(out, DrawingsFileError) and "\n" not in str(out)
    assert peak < 32
    ds = DrawingsDataset(path, recover=True)
    assert len(ds) == 0 and ds.recovered_from is not None and ds.message
    ds.append(np.zeros((28, 28), np.uint8), 3)                # adding drawings works again
    assert len(DrawingsDataset(path)) == 1


# ----------------------------------------------------------------------------- architectures (items 8, 9, 11)

def _arch(first: dict, n_flatten: int = 1) -> dict:
    return {"input": [1, 28, 28], "layers": [first] + [{"type": "flatten"}] * n_flatten + [{"type": "dense", "units": 10}]}


ARCH_CASES = {
    "nested 1000 deep": '{"input": [1, 28, 28], "layers": ' + "[" * 1000 + "]" * 1000 + "}",
    "4301 digits": '{"layers": [{"type": "dense", "units": ' + "7" * 4301 + "}]}",
    "kernel 2^40": json.dumps(_arch({"type": "conv", "filters": 8, "kernel": 2**40})),
    "padding 2^31-1": json.dumps(_arch({"type": "conv", "filters": 8, "kernel": 3, "padding": 2**31 - 1})),
    "stride past 2^31 sizes": json.dumps({"input": [1, 2**31 - 1, 2**31 - 1], "layers": [
        {"type": "conv", "filters": 1, "kernel": 1, "padding": 2**31 - 1}, {"type": "flatten"},
        {"type": "dense", "units": 10}]}),
    "10^9 filters": json.dumps(_arch({"type": "conv", "filters": 10**9, "kernel": 3})),
    "150 M parameters": json.dumps({"input": [1, 28, 28], "layers": [
        {"type": "flatten"}, {"type": "dense", "units": 190_000}, {"type": "dense", "units": 10}]}),
}


@pytest.mark.parametrize("case", list(ARCH_CASES))
def test_architecture_api_raises_only_architecture_error(case):
    from cnncore.architecture import ArchitectureError, infer_shapes, parse_architecture, summarize
    text = ARCH_CASES[case]
    for fn in (parse_architecture, summarize, infer_shapes, Network):
        out, peak = peak_mb(fn, text)
        if isinstance(out, Exception):
            assert isinstance(out, ArchitectureError), f"{fn.__name__}: {out!r}"
            assert "\n" not in str(out)
        else:
            assert fn in (parse_architecture, summarize)     # only these may accept a network too large
        assert peak < 64, f"{fn.__name__}: {peak:.0f} MB"
    with pytest.raises(ArchitectureError):
        Network(text)


def test_model_file_with_a_hostile_architecture_is_a_model_file_error(model_path, tmp_path, capsys):
    for i, text in enumerate(ARCH_CASES.values()):
        bad = tmp_path / f"arch{i}.npz"
        rewrite_zip(model_path, bad, {"architecture.npy": None})
        with zipfile.ZipFile(bad, "a") as z:
            buf = io.BytesIO()
            np.save(buf, np.array(text))
            z.writestr("architecture.npy", buf.getvalue())
        out, peak = peak_mb(load_model, bad)
        assert isinstance(out, ModelFileError) and "\n" not in str(out), repr(out)
        assert peak < 64


def test_the_command_line_shares_the_apps_parameter_limit(tmp_path, capsys):
    arch = tmp_path / "big.json"
    arch.write_text(ARCH_CASES["150 M parameters"])
    err = cli_one_line(capsys, ["train", "--arch", str(arch), "--count", "20", "--epochs", "1",
                                "--out", str(tmp_path / "m.npz")])
    assert "20,000,000" in err and not (tmp_path / "m.npz").exists()


def test_layer_count_is_capped_and_refused_quickly():
    import time

    from cnncore.architecture import ArchitectureError, parse_architecture
    from cnncore.limits import MAX_LAYERS
    spec = {"input": [1, 28, 28], "layers": [{"type": "flatten"}] * 200_000 + [{"type": "dense", "units": 10}]}
    t0 = time.perf_counter()
    with pytest.raises(ArchitectureError, match=f"more than the {MAX_LAYERS} allowed"):
        parse_architecture(spec)
    assert time.perf_counter() - t0 < 5
    ok = {"input": [1, 28, 28], "layers": [{"type": "flatten"}] * (MAX_LAYERS - 1) + [{"type": "dense", "units": 10}]}
    assert len(parse_architecture(ok)["layers"]) == MAX_LAYERS
