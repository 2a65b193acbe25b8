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
from cnncore.limits import MAX_LR, MIN_LR
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


# ----------------------------------------------------------------------------- IDX (items 4, 11)

def _idx_gzip_bomb(header: bytes, zeros: int) -> bytes:
    import zlib
    c = zlib.compressobj(9, zlib.DEFLATED, 31)               # gzip framing
    parts, chunk = [c.compress(header)], bytes(1 << 22)
    for _ in range(zeros // len(chunk)):
        parts.append(c.compress(chunk))
    return b"".join(parts) + c.flush()


@pytest.mark.parametrize("case", ["declares 784 MB", "declares 2^96", "inflates far past its header"])
def test_idx_sizes_are_checked_before_inflating(tmp_path, case):
    import struct

    from cnncore.datasets import IDXError, read_idx
    path = tmp_path / "x.gz"
    if case == "declares 784 MB":
        path.write_bytes(_idx_gzip_bomb(struct.pack(">IIII", 2051, 1_000_000, 28, 28) + bytes(100), 0))
    elif case == "declares 2^96":
        path.write_bytes(struct.pack(">IIII", 2051, 2**32 - 1, 2**32 - 1, 2**32 - 1) + bytes(16))
    else:                                                     # 10 labels, then 64 MB of zeros
        path.write_bytes(_idx_gzip_bomb(struct.pack(">II", 2049, 10) + bytes(10), 64 << 20))
    out, peak = peak_mb(read_idx, path)
    assert isinstance(out, IDXError) and "\n" not in str(out), repr(out)
    assert "numpy" not in str(out).lower() and "overflow" not in str(out).lower()
    assert peak < 16, f"{peak:.0f} MB traced"


def test_idx_fifo_and_device_are_refused_at_once(tmp_path, capsys):
    from cnncore.datasets import IDXError, read_idx
    fifo = tmp_path / "labels"
    os.mkfifo(fifo)
    for p in (fifo, "/dev/zero"):
        with pytest.raises(IDXError, match="not a regular file"):
            read_idx(p)
    cli_one_line(capsys, ["eval", "m.npz", "--images", "/dev/zero", "--labels", str(fifo)])


# ----------------------------------------------------------------------------- PNG (items 4, 5, 11)

def png_bytes(W, H, idat: bytes, depth=8, color=0, extra: bytes = b"") -> bytes:
    import struct
    import zlib

    def chunk(t, body):
        return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, depth, color, 0, 0, 0))
            + extra + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def test_png_with_paeth_rows_decodes_quickly(tmp_path):
    import time
    import zlib

    from cnnapp.cli import read_png
    W = H = 3000
    rows = b"".join(b"\x04" + bytes(W) for _ in range(H))     # every row Paeth-filtered
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes(W, H, zlib.compress(rows, 9)))
    assert path.stat().st_size < 64_000
    t0 = time.perf_counter()
    grey = read_png(path)
    assert time.perf_counter() - t0 < 5                         # 28 s before
    assert grey.shape == (H, W) and grey.max() == 0


@pytest.mark.parametrize("case", ["10000x10000 16-bit", "6 GB of pixels", "bad palette", "bad tRNS",
                                  "palette without PLTE", "truncated", "fifo", "dev_zero"])
def test_bad_pngs_are_one_line_errors(tmp_path, capsys, model_path, case):
    import zlib

    from cnncore.datasets.png import PNGError, read_png
    path = tmp_path / "x.png"
    row = b"\x00" + bytes(4)
    if case == "10000x10000 16-bit":
        path.write_bytes(png_bytes(10000, 10000, zlib.compress(bytes(1 << 20)), depth=16, color=6))
    elif case == "6 GB of pixels":
        path.write_bytes(png_bytes(100_000, 60_000, zlib.compress(bytes(1 << 20))))
    elif case == "bad palette":                                # PLTE length not a multiple of 3
        path.write_bytes(png_bytes(4, 1, zlib.compress(row), color=3, extra=_chunk(b"PLTE", b"\x01\x02")))
    elif case == "bad tRNS":                                   # more alpha entries than palette colours
        path.write_bytes(png_bytes(4, 1, zlib.compress(row), color=3,
                                   extra=_chunk(b"PLTE", bytes(3)) + _chunk(b"tRNS", bytes(300))))
    elif case == "palette without PLTE":
        path.write_bytes(png_bytes(4, 1, zlib.compress(row), color=3))
    elif case == "truncated":
        path.write_bytes(png_bytes(40, 40, zlib.compress(bytes(41 * 40)))[:60])
    elif case == "fifo":
        os.mkfifo(path)
    else:
        path = "/dev/zero"
    out, peak = peak_mb(read_png, path)
    if not isinstance(out, np.ndarray):                        # Pillow reads some of these leniently
        assert isinstance(out, PNGError) and "\n" not in str(out), repr(out)
        cli_one_line(capsys, ["predict", str(model_path), str(path)])
    assert peak < 64, f"{peak:.0f} MB traced"


def _chunk(t, body):
    import struct
    import zlib
    return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body))


def test_16_bit_grey_keeps_its_levels(tmp_path):
    from cnncore.datasets.png import read_png
    levels = (np.arange(12) * 5000).astype(">u2").reshape(3, 4)
    rows = b"".join(b"\x00" + r.tobytes() for r in levels)
    import zlib
    path = tmp_path / "g16.png"
    path.write_bytes(png_bytes(4, 3, zlib.compress(rows), depth=16))
    np.testing.assert_allclose(read_png(path), levels / 65535, atol=1e-12)


# ----------------------------------------------------------------------------- writing (items 6, 7)

def test_out_never_replaces_a_device_fifo_or_socket(tmp_path, capsys):
    import socket
    import stat

    from cnncore._atomic import NotARegularFile, atomic_write_bytes
    fifo, sock = tmp_path / "fifo", tmp_path / "sock"
    os.mkfifo(fifo)
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    try:
        for target in (fifo, sock, "/dev/null"):
            with pytest.raises(NotARegularFile, match="only a regular file is ever replaced"):
                atomic_write_bytes(target, b"x")
            err = cli_one_line(capsys, ["train", "--count", "20", "--epochs", "1", "--out", str(target)])
            assert "only a regular file" in err
        assert stat.S_ISFIFO(os.stat(fifo).st_mode) and stat.S_ISSOCK(os.stat(sock).st_mode)
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    finally:
        s.close()
    atomic_write_bytes(tmp_path / "plain", b"ok")              # a regular file is still written
    assert (tmp_path / "plain").read_bytes() == b"ok"


def test_stale_temp_files_of_killed_saves_are_removed_on_the_next_save(tmp_path):
    import time

    from cnncore._atomic import STALE_SECONDS, atomic_write_bytes
    target = tmp_path / "model.npz"
    old = [tmp_path / f".model.npz.{k:08d}.tmp" for k in range(3)]
    fresh = tmp_path / ".model.npz.abcdefgh.tmp"               # a save in progress elsewhere
    other = tmp_path / ".other.npz.abcdefgh.tmp"               # another file's
    mine = tmp_path / "my.model.npz.abcdefgh.tmp"              # not our pattern
    for p in old + [fresh, other, mine]:
        p.write_bytes(b"half")
    past = time.time() - STALE_SECONDS - 60
    for p in old + [other, mine]:
        os.utime(p, (past, past))
    atomic_write_bytes(target, b"new")
    assert not any(p.exists() for p in old)
    assert fresh.exists() and other.exists() and mine.exists() and target.read_bytes() == b"new"


# ----------------------------------------------------------------------------- divergence without NaN (item 10)

def _blocks(n=320, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.uint8)
    X = (rng.random((n, 28, 28)) * 60).astype(np.uint8)
    for i, label in enumerate(y):
        r, c = divmod(int(label), 4)
        X[i, 2 + 8 * r:8 + 8 * r, 2 + 6 * c:8 + 6 * c] = 255
    return X, y


def _events(optimizer, lr, epochs=3, y=None):
    from cnncore.training import TrainConfig, Trainer
    X, y0 = _blocks()
    tr = Trainer(Network(preset("tiny"), seed=0), X, y0 if y is None else y, None, None,
                 TrainConfig(optimizer=optimizer, lr=lr, epochs=epochs, batch_size=16, seed=0))
    return list(tr.run())


def test_an_exploded_loss_without_nan_is_divergence_and_names_the_learning_rate():
    from cnncore.training import BatchEvent
    events = _events("adam", MAX_LR)
    assert all(np.isfinite(e.loss) for e in events if isinstance(e, BatchEvent))   # never NaN: finite blow-up
    end = events[-1]
    assert end.reason == "diverged" and "learning rate" in end.message and "too large" in end.message


def test_a_network_stuck_at_chance_is_reported_with_what_to_change():
    end = _events("sgd", MIN_LR, epochs=4)[-1]
    assert end.reason == "diverged" and "like a guess" in end.message and "too small" in end.message


def test_a_healthy_run_is_not_flagged():
    assert _events("adam", 0.003)[-1].reason == "done"


def test_nan_pixels_are_bad_inputs_not_a_learning_rate_problem():
    from cnncore.training import TrainConfig, Trainer
    X, y = _blocks(40)
    X = X.astype(np.float32)[:, None] / 255
    X[7, 0, 3, 3] = np.nan
    with pytest.raises(ValueError) as e:
        Trainer(Network(preset("tiny")), X, y, None, None, TrainConfig())
    assert "NaN" in str(e.value) and "number 7" in str(e.value) and "learning rate" not in str(e.value)


def test_cli_train_exits_non_zero_and_saves_nothing_when_the_run_diverges(tmp_path, capsys):
    from cnncore.modelio import save_model
    out = tmp_path / "m.npz"
    save_model(out, Network(preset("tiny"), seed=3))              # the user's earlier model
    before = out.read_bytes()
    rc = main(["train", "--lr", str(MAX_LR), "--count", "400", "--epochs", "2", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and "learning rate" in err and "nothing was saved" in err
    assert out.read_bytes() == before


# ----------------------------------------------------------------------------- kernels (item 11)

@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), ((1, 2), (2, 0))])
def test_conv2d_backward_with_a_non_finite_weight_matches_the_reference(bad, stride, padding):
    from cnncore import reference
    from cnncore.kernels import conv2d_backward, conv2d_forward
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8))
    w = rng.standard_normal((4, 3, 3, 2))
    w[1, 2, 0, 1] = bad
    z = conv2d_forward(x, np.nan_to_num(w), np.zeros(4), stride, padding)
    dz = rng.standard_normal(z.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        dx, dw, db = conv2d_backward(dz, x, w, stride, padding)
        rdx, rdw, rdb = reference.conv2d_backward(dz, x, w, stride, padding)
    assert np.isfinite(dx).any() and not np.isfinite(dx).all()     # not all-NaN: only what the weight reached
    np.testing.assert_array_equal(np.isfinite(dx), np.isfinite(rdx))
    np.testing.assert_allclose(np.nan_to_num(dx), np.nan_to_num(rdx), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, rdw, rtol=1e-10, atol=1e-10)


def test_trace_open_refuses_a_fifo_at_once(tmp_path):
    from cnncore.trace import Trace, TraceFileError
    path = tmp_path / "trace.npz"
    os.mkfifo(path)
    with pytest.raises(TraceFileError, match="named pipe"):
        Trace.load(path)


def test_text_entries_with_impossible_code_points_are_model_file_errors(model_path, tmp_path):
    """Found by the fuzz test: such text made Python raise SystemError further on."""
    bad = tmp_path / "text.npz"
    npy = bytearray(npy_bytes((), "<U1", struct_pack_le(0x7FFFFFFF)))   # one character that cannot exist
    rewrite_zip(model_path, bad, {"format.npy": bytes(npy)})
    with pytest.raises(ModelFileError, match="not valid text"):
        load_model(bad)


def struct_pack_le(v):
    import struct
    return struct.pack("<I", v)


@pytest.mark.parametrize("entry, text", [("classes", "[" * 1999), ("history", "[" * 100_000),
                                         ("history", "[" + "1" * 5000 + "]")])
def test_json_entries_of_a_model_are_read_with_limits(model_path, tmp_path, entry, text):
    """Every JSON text in a file goes through one reader (cnncore._safeio.read_json): 1,999 ``[``
    in a model's class names escaped load_model as a RecursionError."""
    bad = tmp_path / "bad.npz"
    buf = io.BytesIO()
    np.save(buf, np.array(text))
    extra = {"dataset.npy": None} if entry == "classes" else {}
    rewrite_zip(model_path, bad, {f"{entry}.npy": buf.getvalue(), **extra})
    with pytest.raises(ModelFileError) as e:
        load_model(bad)
    assert "\n" not in str(e.value) and str(bad) in str(e.value)


def _readers():
    """The three readers of the user's archives (cnncore._safeio.user_archive) and their error classes."""
    from cnncore.lesson import LessonFileError, load_lesson
    from cnncore.trace import Trace, TraceFileError
    return {"model": (load_model, ModelFileError), "lesson": (load_lesson, LessonFileError),
            "trace": (Trace.load, TraceFileError)}


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_bytes(b"a text file\n"), "is not a {kind} file (not a"),
    (lambda p: p.write_bytes(b"\x93NUMPY" + b"\0" * 40), "holds a single array, not a {kind} file"),
    (lambda p: os.mkfifo(p), "is a named pipe (FIFO), not a regular file"),
    (lambda p: zipfile.ZipFile(p, "w").writestr("x.txt", "hi"),
     "not a readable {kind} file: its entry 'x.txt' is not a NumPy array (.npy)"),
], ids=["empty", "text", "one-array", "fifo", "not-npy"])
@pytest.mark.parametrize("kind", ["model", "lesson", "trace"])
def test_every_archive_reader_says_the_same_in_its_own_error(tmp_path, kind, make, reason):
    """One way to open a user's archive: a trace file that is empty, text or a FIFO was "not a
    readable trace file: it is truncated or corrupt … (BadZipFile …)", and "it entry 'x' …" was
    written for models and traces."""
    read, error = _readers()[kind]
    path = tmp_path / "file"
    make(path)
    with pytest.raises(error) as info:
        read(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and reason.format(kind=kind) in text and "\n" not in text, text


def test_a_short_run_at_the_usual_rate_is_not_stopped_as_stuck():
    """100 pictures in batches of 1 (85 updates, still at chance) was stopped as "diverged", told to
    try a smaller learning rate (at 10 and 100 times below the default too) and nothing was saved:
    too few pictures to learn from is no fault of the rate. Far too small a rate is still named."""
    from cnncore.training import TrainConfig, Trainer
    X, y = _blocks(100)
    for lr in (0.003, 0.0003, 0.00003):
        tr = Trainer(Network(preset("tiny"), seed=0), X, y, None, None,
                     TrainConfig(optimizer="adam", lr=lr, epochs=1, batch_size=1, seed=0))
        assert list(tr.run())[-1].reason == "done", lr
    assert _events("sgd", MIN_LR, epochs=4)[-1].reason == "diverged"
