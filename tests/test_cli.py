"""The ``cnnapp`` command line: bad arguments, and train/eval/trace/predict on tiny data."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

from cnnapp.cli import main, read_png
from cnncore.modelio import load_model
from cnncore.trace import Trace
from conftest import REPO, same_pictures, write_idx

MICRO = ('{"input": [1, 28, 28], "layers": [{"type": "conv", "filters": 3, "kernel": 5, "stride": 3}, '
         '{"type": "maxpool", "size": 2}, {"type": "flatten"}, {"type": "dense", "units": 10}]}')


def _png(path, grey: np.ndarray, color_type=0, filt=0):
    """Write an 8-bit PNG (grey or RGBA) with one filter type on every row."""
    g = (np.clip(grey, 0, 1) * 255).astype(np.uint8)
    px = g[..., None] if color_type == 0 else np.stack([g, g, g, np.full_like(g, 255)], axis=-1)
    H, W = g.shape
    bpp = px.shape[-1]
    rows = px.reshape(H, W * bpp).astype(np.int64)
    raw = bytearray()
    prev = np.zeros(W * bpp, np.int64)
    for r in range(H):
        cur = rows[r]
        if filt == 0:
            out = cur
        elif filt == 1:
            left = np.concatenate([np.zeros(bpp, np.int64), cur[:-bpp]])
            out = cur - left
        elif filt == 2:
            out = cur - prev
        elif filt == 4:
            out = np.empty_like(cur)
            for i in range(len(cur)):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                out[i] = cur[i] - (a if pa <= pb and pa <= pc else b if pb <= pc else c)
        raw += bytes([filt]) + bytes((out & 255).astype(np.uint8))
        prev = cur

    def chunk(t, body):
        return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body))

    ihdr = struct.pack(">IIBBBBB", W, H, 8, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(raw)))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Tiny IDX files: blocky synthetic digits (learnable in a second)."""
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 200).astype(np.uint8)
    X = (rng.random((200, 28, 28)) * 60).astype(np.uint8)
    for i, label in enumerate(y):
        r, c = divmod(int(label), 4)
        X[i, 2 + 8 * r:8 + 8 * r, 2 + 6 * c:8 + 6 * c] = 255
    arch = d / "micro.json"
    arch.write_text(MICRO)
    return {"images": write_idx(d / "img.gz", X), "labels": write_idx(d / "lab.gz", y), "X": X, "y": y,
            "arch": arch, "dir": d}


@pytest.fixture(scope="module")
def model(data):
    out = data["dir"] / "model.npz"
    rc = main(["train", "--arch", str(data["arch"]), "--images", str(data["images"]), "--labels",
               str(data["labels"]), "--epochs", "4", "--lr", "0.03", "--batch-size", "32", "--holdout", "0.25",
               "--out", str(out)])      # 20 steps, not the defaults': they are for thousands of digits
    assert rc == 0
    return out


def test_train_writes_model_and_summaries(data, model, capsys):
    net = load_model(model)
    assert len(net.history) == 4 and net.history[-1]["val_accuracy"] > 0.8
    out = data["dir"] / "again.npz"
    rc = main(["train", "--arch", str(data["arch"]), "--images", str(data["images"]), "--labels",
               str(data["labels"]), "--epochs", "1", "--holdout", "0.5", "--quiet", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and out.is_file()
    assert "on 100 images" in text and "holding out 100" in text
    assert "epoch 1/1: train loss" in text and "held-out loss" in text


def test_eval_prints_confusion_and_accuracy_last(data, model, capsys):
    rc = main(["eval", str(model), "--images", str(data["images"]), "--labels", str(data["labels"]),
               "--range", "150:200"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    assert lines[-1].startswith("accuracy: ") and len(lines[-1]) == len("accuracy: 0.9812")
    net = load_model(model)
    acc = float(np.mean(net.predict(data["X"][150:200]) == data["y"][150:200]))
    assert float(lines[-1].split()[1]) == pytest.approx(acc, abs=5e-5)
    table = [l for l in lines if l.split() and l.split()[0].isdigit() and len(l.split()) == 12]
    assert len(table) == 10 and sum(int(v) for l in table for v in l.split()[1:11]) == 50


def _result(out: str) -> str:
    """The line of ``eval``'s output that says what it scored (after any note: the model's own training
    pictures among them)."""
    return next(line for line in out.splitlines() if not line.startswith("note: "))


@pytest.mark.parametrize("given", [["--range", "-50:"], ["--range=-50:"], ["--range", "-60:-10"], ["--ran", "-50:"]])
def test_eval_range_counts_from_the_end_as_its_help_says(data, model, capsys, given):
    """``--range -50:`` was refused ("expected one argument"): argparse took -50: for an option."""
    assert main(["eval", str(model), "--images", str(data["images"]), "--labels", str(data["labels"]), *given]) == 0
    first = _result(capsys.readouterr().out)
    assert first.startswith("50 images")


def test_trace_command(data, model, tmp_path, capsys):
    out = tmp_path / "t.npz"
    rc = main(["trace", str(model), "--images", str(data["images"]), "--labels", str(data["labels"]),
               "--index", "5", "--out", str(out)])
    assert rc == 0 and "steps written" in capsys.readouterr().out
    t = Trace.load(out)
    assert t.label == int(data["y"][5])
    np.testing.assert_allclose(t.arrays["input"][0, 0], data["X"][5] / 255, rtol=1e-6)


@pytest.mark.parametrize("variant", ["grey-none", "grey-sub", "grey-up", "rgba-paeth", "dark-on-light-big"])
def test_predict_png(data, model, tmp_path, capsys, variant):
    img = data["X"][3] / 255
    if variant == "dark-on-light-big":   # what a drawing program saves: black ink on white, any size
        img = 1 - np.kron(img, np.ones((3, 3)))
    kind, filt = {"grey-none": (0, 0), "grey-sub": (0, 1), "grey-up": (0, 2), "rgba-paeth": (6, 4),
                  "dark-on-light-big": (0, 2)}[variant]
    png = _png(tmp_path / "d.png", img, kind, filt)
    if variant != "dark-on-light-big":
        np.testing.assert_allclose(read_png(png), np.round(img * 255) / 255, atol=1e-9)
    rc = main(["predict", str(model), str(png)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert rc == 0 and lines[0].startswith("digit: ") and len(lines) == 11
    probs = [float(l.split(": ")[1]) for l in lines[1:]]
    assert sum(probs) == pytest.approx(1, abs=2e-3)
    if variant != "dark-on-light-big":
        net = load_model(model)
        assert int(lines[0].split()[1]) == int(net.predict(data["X"][3:4] / 255)[0])


@pytest.mark.parametrize("command", ["predict", "inspect"])
def test_a_model_and_a_picture_the_wrong_way_round_are_said_so_with_the_right_order(data, model, tmp_path, capsys,
                                                                                       command):
    """A tour: `cnnapp predict one.png m.npz` said "one.png: is not a model file" and no more. Given the wrong
    way round (a picture where the model goes, a model where the picture goes), the line says so and gives
    the arguments in the right order; given the right way round, they work."""
    png = _png(tmp_path / "my digit.png", data["X"][3] / 255)
    args = {"predict": lambda m, p: ["predict", m, p],
            "inspect": lambda m, p: ["inspect", m, "--image", p, "--out", str(tmp_path / "x.npz")]}[command]
    assert main(args(str(png), str(model))) == 2
    err = capsys.readouterr().err
    right = {"predict": f"cnnapp predict {model} '{png}'", "inspect": f"cnnapp inspect {model} --image '{png}' …"}
    assert err == (f"cnnapp {command}: the model and the picture are the wrong way round: {png} is a PNG picture "
                   f"and {model} a model file. The model comes first: {right[command]}\n")
    assert main(args(str(model), str(png))) == 0
    capsys.readouterr()
    notes = tmp_path / "notes.txt"              # (a file that is neither: no word of an order)
    notes.write_text("my notes")
    assert main(args(str(notes), str(model))) == 2
    assert capsys.readouterr().err == f"cnnapp: {notes}: is not a model file (not an .npz archive)\n"


def test_the_right_order_is_written_as_the_systems_shell_takes_it():
    """The command a refusal gives to copy is quoted for the shell of the system it runs on: on Windows,
    cmd.exe takes no single quotes (shlex's 'C:\\Users\\me\\my digit.png' named a file that is not
    there), double quotes serve it and PowerShell alike."""
    from cnnapp.cli import answers
    assert answers.quoted("m.npz", "/home/me/my digit.png") == "m.npz '/home/me/my digit.png'"
    assert answers.quoted("m.npz", "C:\\Users\\me\\my digit.png", "C:\\x.png", windows=True) == \
        'm.npz "C:\\Users\\me\\my digit.png" C:\\x.png'


BAD_ARGS = [
    [],  # (no command: handled separately, it opens the GUI)
    ["frobnicate"],
    ["train"],                                            # --out missing
    ["train", "--epochs", "0", "--out", "m.npz"],
    ["train", "--lr", "-1", "--out", "m.npz"],
    ["train", "--holdout", "1.5", "--out", "m.npz"],
    ["train", "--optimizer", "lbfgs", "--out", "m.npz"],
    ["train", "--arch", "nonexistent-preset", "--out", "m.npz"],
    ["train", "--images", "x.gz", "--out", "m.npz"],      # --labels missing
    ["train", "--images", "x.gz", "--labels", "y.gz", "--out", "m.npz"],
    ["train", "--out", "/no/such/folder/m.npz"],
    ["eval", "missing.npz", "--images", "x", "--labels", "y"],
    ["eval", "m.npz"],
    ["trace", "m.npz", "--images", "x", "--labels", "y", "--index", "-1", "--out", "t.npz"],
    ["predict", "missing.npz", "x.png"],
]


@pytest.mark.parametrize("argv", BAD_ARGS[1:], ids=[" ".join(a) for a in BAD_ARGS[1:]])
def test_bad_arguments_one_line_exit_2(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_folder_named_like_a_preset_does_not_hide_the_preset(tmp_path, monkeypatch):
    """``cnnapp export m.npz --to torch --out lenet`` makes a folder "lenet"; ``--arch lenet`` then said
    "cannot read the file (is a folder)". A file by that name is read; a folder is not a file."""
    from cnnapp.cli.cmd_train import load_arch
    from cnncore.architecture import preset
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lenet").mkdir()
    assert load_arch("lenet") == preset("lenet")
    (tmp_path / "tiny").write_text('{"input": [1, 28, 28], "layers": [{"type": "flatten"}, '
                                   '{"type": "dense", "units": 10}]}')
    assert [l["type"] for l in load_arch("tiny")["layers"]] == ["flatten", "dense"]       # the file wins


def test_a_model_given_as_an_architecture_is_named_so(tmp_path, capsys):
    """`train --arch model.npz` said "cannot read the file ('utf-8' codec can't decode byte 0xb9 …)"."""
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    from cnncore.network import Network
    save_model(tmp_path / "m.npz", Network(preset("tiny"), seed=0))
    assert main(["train", "--arch", str(tmp_path / "m.npz"), "--out", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert "is a zip archive (a model file?), not an architecture" in err and "codec" not in err
    assert not (tmp_path / "x.npz").exists()


def test_a_picture_given_as_an_architecture_is_named_so(tmp_path, capsys):
    """A tour: `train --arch one.png` said "cannot read the file ('utf-8' codec can't decode byte 0x89 in
    position 0: invalid start byte)", the app's Build tab the same for a picture or a model file opened
    as an architecture; both read an architecture file by one rule (cnncore.architecture)."""
    from PIL import Image
    Image.new("L", (8, 8), 255).save(tmp_path / "one.png")
    assert main(["train", "--arch", str(tmp_path / "one.png"), "--out", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert "is not text (a picture?), not an architecture" in err and "codec" not in err
    assert not (tmp_path / "x.npz").exists()


def test_mirroring_digits_is_said_and_pictures_of_things_are_mirrored_without_a_word(tmp_path, capsys):
    """The help says --flip is never for digits or letters; given for them, a note says why it is a bad
    idea (the run goes on: the user asked for it)."""
    argv = ["train", "--arch", "tiny", "--data", "generated", "--count", "40", "--epochs", "1", "--quiet",
            "--out", str(tmp_path / "m.npz")]
    assert main([*argv, "--flip"]) == 0
    assert "a mirrored digit or letter is no longer one" in capsys.readouterr().err
    assert main([*argv, "--no-flip"]) == 0
    assert "mirrored" not in capsys.readouterr().err


def test_bad_files_one_line_exit_2(data, model, tmp_path, capsys):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(model.read_bytes()[:200])
    notpng = tmp_path / "x.png"
    notpng.write_bytes(b"GIF89a")
    badarch = tmp_path / "arch.json"
    badarch.write_text('{"layers": [{"type": "conv", "filters": 2, "kernel": 40}, {"type": "flatten"}, '
                       '{"type": "dense", "units": 10}]}')
    cases = [
        ["eval", str(broken), "--images", str(data["images"]), "--labels", str(data["labels"])],
        ["eval", str(model), "--images", str(data["labels"]), "--labels", str(data["labels"])],
        ["eval", str(model), "--images", str(data["images"]), "--labels", str(data["labels"]), "--range", "5:999"],
        ["predict", str(model), str(notpng)],
        ["trace", str(model), "--images", str(data["images"]), "--labels", str(data["labels"]), "--index", "200",
         "--out", str(tmp_path / "t.npz")],
        ["train", "--arch", str(badarch), "--images", str(data["images"]), "--labels", str(data["labels"]),
         "--out", str(tmp_path / "m.npz")],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "t.npz").exists() and not (tmp_path / "m.npz").exists()


def test_console_entry_without_qt(data, model, tmp_path):
    """As a real process: exit status 2 and one line for a bad call; no Qt for the CLI commands."""
    r = subprocess.run([sys.executable, "-m", "cnnapp", "eval", str(tmp_path / "none.npz"), "--images", "a",
                        "--labels", "b"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    code = ("import sys; from cnnapp.cli import main; "
            f"rc = main(['eval', {str(model)!r}, '--images', {str(data['images'])!r}, '--labels', "
            f"{str(data['labels'])!r}]); "
            "assert not any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules), 'Qt imported'; "
            "sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith("accuracy: ")


def _run_into_a_closed_pipe(argv) -> subprocess.CompletedProcess:
    """Run ``cnnapp ARGV`` as a real process whose standard output is a pipe nobody reads any more
    (``cnnapp … | head -0``): its read end is closed before the command starts, so every write fails."""
    import os
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run([sys.executable, "-m", "cnnapp", *argv], stdout=w, stderr=subprocess.PIPE, text=True,
                              cwd=REPO, timeout=120)
    finally:
        os.close(w)


@pytest.mark.parametrize("command", ["predict", "eval", "trace", "train"])
def test_a_reader_that_went_away_ends_any_command_quietly(data, model, tmp_path, command):
    """``cnnapp predict m.npz x.png | head -1``: exit status 1 as Python's SIGPIPE note has it, nothing on
    stderr (it said "cnnapp: [Errno 32] Broken pipe", exit 2, and Python's own "Exception ignored")."""
    png = _png(tmp_path / "d.png", np.pad(np.ones((12, 6)), ((8, 8), (11, 11))))
    source = ["--images", str(data["images"]), "--labels", str(data["labels"])]
    argv = {"predict": ["predict", str(model), str(png)], "eval": ["eval", str(model), *source],
            "trace": ["trace", str(model), *source, "--index", "0", "--out", str(tmp_path / "t.npz")],
            "train": ["train", "--arch", str(data["arch"]), *source, "--epochs", "1", "--out", str(tmp_path / "m.npz")],
            }[command]
    done = _run_into_a_closed_pipe(argv)
    if command == "train":      # (its run is not lost: ``train … | head -1`` ended it, nothing saved)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        assert load_model(tmp_path / "m.npz").spec == load_model(model).spec
    else:
        assert done.returncode == 1 and done.stderr == "", done.stderr


def test_train_on_generated_digits(tmp_path, capsys):
    out = tmp_path / "g.npz"
    rc = main(["train", "--arch", "tiny", "--data", "generated", "--count", "300", "--epochs", "1", "--quiet",
               "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and "300 generated digits" in text and "holding out 45" in text
    assert load_model(out).spec["name"] == "tiny"


def test_train_on_shared_digits(shared_mnist_dir, tmp_path, capsys):
    from cnncore.datasets import paths
    if paths.shared_mnist_dir() is None:
        pytest.skip("an installed copy (a wheel) never offers the shared digits")
    out = tmp_path / "s.npz"
    # one kernel thread: on a busy machine a second OpenMP thread can cost more than it gives
    rc = main(["train", "--arch", "tiny", "--data", "shared", "--count", "8000", "--epochs", "1", "--holdout",
               "0.1875", "--quiet", "--threads", "1", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and "on 6,500 images" in text and "holding out 1,500" in text


def test_mnist_download_failure_is_one_line(tmp_path, capsys, monkeypatch):
    import cnncore.datasets as ds

    def fail(*args, **kwargs):
        raise ds.FetchError("every mirror failed (test)")

    monkeypatch.setattr(ds, "load_download", fail)
    rc = main(["train", "--data", "mnist", "--out", str(tmp_path / "m.npz")])
    err = capsys.readouterr().err
    assert rc == 2 and "could not get MNIST: every mirror failed" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.npz").exists()


def test_png_without_pixels_is_a_one_line_error(tmp_path):
    """A PNG header claiming a 0×5 image is refused, not a traceback."""
    import struct
    import zlib as _zlib

    from cnnapp.cli import main

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", _zlib.crc32(kind + body))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 5, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", _zlib.compress(b"")) + chunk(b"IEND", b""))
    path = tmp_path / "empty.png"
    path.write_bytes(png)
    model = tmp_path / "m.npz"
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    from cnncore.network import Network
    save_model(model, Network(preset("tiny"), seed=0))
    assert main(["predict", str(model), str(path)]) == 2


def test_eval_and_trace_take_the_same_data_sources_as_train(tmp_path, capsys):
    """Issue 13 item 2: ``--data`` for eval and trace; eval scores the digits train held out."""
    out = tmp_path / "g.npz"
    assert main(["train", "--arch", "tiny", "--data", "generated", "--count", "200", "--epochs", "1",
                 "--holdout", "0.2", "--quiet", "--out", str(out)]) == 0
    assert "holding out 40" in capsys.readouterr().out
    assert main(["eval", str(out), "--data", "generated", "--count", "200", "--holdout", "0.2"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("40 images held out of generated"), text
    from cnncore.datasets import generated_digits, held_out_split
    from cnncore.training import evaluate
    from cnncore.defaults import DATA_SEED
    X, y = generated_digits(200, seed=DATA_SEED)
    _, _, Xv, yv = held_out_split(X, y, 0.2)
    assert f"accuracy: {evaluate(load_model(out), Xv, yv)[1]:.4f}" in text
    trace_out = tmp_path / "t.npz"
    assert main(["trace", str(out), "--data", "generated", "--count", "200", "--index", "7",
                 "--out", str(trace_out)]) == 0
    assert f"label {int(y[7])}" in capsys.readouterr().out
    assert main(["eval", str(out)]) == 2 and "--data" in capsys.readouterr().err


def test_the_shared_subset_is_not_offered_by_an_installed_copy(tmp_path, capsys, monkeypatch):
    from cnncore.datasets import paths
    monkeypatch.setattr(paths, "shared_mnist_dir", lambda: None)
    assert main(["train", "--data", "shared", "--out", str(tmp_path / "m.npz")]) == 2
    assert "../shared" not in capsys.readouterr().err
    assert main(["train", "--help"]) == 0
    assert "shared" not in capsys.readouterr().out


# ----------------------------------------------------------------------------- inspect (issue 11)

INSPECT_KEYS = {"input", "label", "predicted", "saliency", "gradcam.L0", "adversarial", "adversarial_predicted",
                "epsilon"}


def test_inspect_writes_saliency_gradcam_and_an_adversarial_digit(data, model, tmp_path, capsys):
    from cnncore.probe import Probe
    out = tmp_path / "x.npz"
    rc = main(["inspect", str(model), "--images", str(data["images"]), "--labels", str(data["labels"]),
               "--index", "5", "--out", str(out)])
    assert rc == 0 and f"written to {out}" in capsys.readouterr().out
    with np.load(out) as f:
        r = {k: f[k] for k in f.files}
    assert set(r) == INSPECT_KEYS
    net = load_model(model)
    x = data["X"][5] / 255
    np.testing.assert_allclose(r["input"], x[None, None], rtol=1e-6)
    assert r["input"].shape == r["saliency"].shape == r["adversarial"].shape == (1, 1, 28, 28)
    assert int(r["label"]) == int(data["y"][5])
    assert int(r["predicted"]) == int(net.predict(r["input"])[0])
    g = Probe(net, dtype=np.float64).class_gradient(x)            # the same numbers in float64
    np.testing.assert_allclose(r["saliency"][0], g.saliency, rtol=1e-3, atol=1e-5 * np.abs(g.saliency).max())
    assert r["gradcam.L0"].shape == (8, 8)                         # conv 5×5 stride 3 on 28×28
    np.testing.assert_allclose(r["gradcam.L0"], g.gradcam()[0], rtol=1e-3, atol=1e-5)
    eps = float(r["epsilon"])
    assert 0 < eps <= 0.3
    change = r["adversarial"].astype(np.float64) - r["input"].astype(np.float64)
    assert np.abs(change).max() <= eps and 0 <= r["adversarial"].min() and r["adversarial"].max() <= 1
    assert int(r["adversarial_predicted"]) == int(net.predict(r["adversarial"])[0])


def test_inspect_a_png_towards_a_target(data, model, tmp_path, capsys):
    png = _png(tmp_path / "d.png", data["X"][3] / 255)
    out = tmp_path / "x.npz"
    net = load_model(model)
    answer = int(net.predict(data["X"][3:4] / 255)[0])
    target = (answer + 1) % 10
    assert main(["inspect", str(model), "--png", str(png), "--target", str(target), "--out", str(out)]) == 0
    with np.load(out) as f:
        assert set(f.files) == INSPECT_KEYS and int(f["label"]) == -1
        assert int(f["predicted"]) == answer and int(f["adversarial_predicted"]) == target
        assert int(f["adversarial_predicted"]) == int(net.predict(f["adversarial"])[0])


def test_inspect_bad_arguments_one_line_exit_2(data, model, tmp_path, capsys):
    imgs = ["--images", str(data["images"]), "--labels", str(data["labels"])]
    out = ["--out", str(tmp_path / "x.npz")]
    png = str(_png(tmp_path / "d.png", data["X"][3] / 255))
    cases = [
        ["inspect", str(model), *imgs, *out],                                  # no --index
        ["inspect", str(model), *imgs, "--index", "200", *out],                # out of range
        ["inspect", str(model), "--png", png, "--index", "1", *out],           # both
        ["inspect", str(model), "--index", "1", *out],                         # no data
        ["inspect", str(model), *imgs, "--index", "1", "--class", "10", *out],
        ["inspect", str(model), *imgs, "--index", "1", "--target", "x", *out],
        ["inspect", str(model), *imgs, "--index", "1", "--out", str(tmp_path / "no" / "x.npz")],
        ["inspect", str(tmp_path / "none.npz"), *imgs, "--index", "1", *out],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "x.npz").exists()


def test_inspect_takes_the_data_sources(tmp_path, capsys):
    from cnncore.architecture import preset
    from cnncore.datasets import generated_digits
    from cnncore.modelio import save_model
    from cnncore.network import Network
    model = tmp_path / "m.npz"
    save_model(model, Network(preset("lenet"), seed=0))
    out = tmp_path / "x.npz"
    assert main(["inspect", str(model), "--data", "generated", "--count", "20", "--index", "7",
                 "--out", str(out)]) == 0
    from cnncore.defaults import DATA_SEED
    X, y = generated_digits(20, seed=DATA_SEED)
    with np.load(out) as f:
        assert set(f.files) == INSPECT_KEYS - {"gradcam.L0"} | {"gradcam.L0", "gradcam.L2"}
        assert int(f["label"]) == int(y[7]) and f["gradcam.L2"].shape == (8, 8)
        np.testing.assert_allclose(f["input"][0, 0], X[7] / 255, rtol=1e-6)


def test_the_command_line_takes_the_apps_defaults(tmp_path, capsys):
    """Issue 21, item 11: ``train`` without settings trains the set the app trains (6,000 digits, 15 %
    held out, 3 epochs), so ``eval --data generated`` scores the digits the app held out."""
    from cnncore.datasets import generated_digits, held_out_split
    from cnncore.defaults import run_defaults
    from cnncore.training import evaluate
    d = run_defaults("generated")
    out = tmp_path / "m.npz"
    assert main(["train", "--arch", "tiny", "--data", "generated", "--quiet", "--threads", "1",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"holding out {round(d.count * d.holdout)}" in text and f"{d.epochs} epochs" in text, text
    assert main(["eval", str(out), "--data", "generated"]) == 0
    text = capsys.readouterr().out
    X, y = generated_digits(d.count, seed=d.data_seed)
    _, _, Xv, yv = held_out_split(X, y, d.holdout)
    assert text.startswith(f"{len(Xv)} images held out") and len(Xv) == 900
    assert f"accuracy: {evaluate(load_model(out), Xv, yv)[1]:.4f}" in text


def test_trace_without_an_index_takes_the_picture_the_model_is_least_sure_of(tmp_path, capsys):
    """Issue 21, item 11: ``--index 0`` of a trained model was a digit it is sure of (loss about 2e-5,
    every gradient about 0); without ``--index`` the trace takes the app's first picture."""
    from cnncore.datasets import generated_digits
    from cnncore.defaults import DATA_SEED, trace_example
    model = tmp_path / "m.npz"
    assert main(["train", "--arch", "tiny", "--data", "generated", "--count", "600", "--epochs", "2",
                 "--quiet", "--out", str(model)]) == 0
    capsys.readouterr()
    out = tmp_path / "t.npz"
    assert main(["trace", str(model), "--data", "generated", "--count", "600", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    net = load_model(model)
    X, y = generated_digits(600, seed=DATA_SEED)
    k = trace_example(net, X, y)
    assert text.startswith(f"image {k}: label {int(y[k])}"), text
    from cnncore.trace import Trace
    tr = Trace.load(out)
    p = net.predict_proba(X[:100, None] / 255.0)[np.arange(100), y[:100]]
    assert tr.probs[tr.label] == pytest.approx(p.min(), rel=1e-4) and tr.loss > 0.05



def test_the_shared_digits_train_alike_named_as_files_or_as_a_source(shared_mnist_dir, tmp_path, monkeypatch):
    """``--data shared`` and ``--images/--labels`` of the same files make one run: all 8,000 digits (issue
    24's goal is on them) with the settings for real digits in IDX files, where ``--data shared`` took
    the first 6,000 with the generated digits' settings."""
    import cnncore.training
    from cnnapp.cli import CliError
    from cnncore.datasets import paths
    if paths.shared_mnist_dir() is None:
        pytest.skip("an installed copy (a wheel) never offers the shared digits")
    runs = []

    def spy(net, X, y, X_val, y_val, config):
        runs.append((len(X), len(X_val), config.to_dict()))
        raise CliError("stop here")
    monkeypatch.setattr(cnncore.training, "Trainer", spy)
    out = str(tmp_path / "m.npz")
    assert main(["train", "--data", "shared", "--out", out]) == 2
    assert main(["train", "--images", str(shared_mnist_dir / "mnist8k-images-idx3-ubyte.gz"),
                 "--labels", str(shared_mnist_dir / "mnist8k-labels-idx1-ubyte.gz"), "--out", out]) == 2
    assert len(runs) == 2 and runs[0] == runs[1] and runs[0][:2] == (6800, 1200)


@pytest.mark.parametrize("argv,start", [
    (["trace", "{model}", "--out", "{tmp}/t.npz"], "cnnapp trace: give --images"),        # the command's own
    (["eval", "{model}"], "cnnapp eval: give --images"),
    (["trace", "{tmp}/none.npz", "--data", "generated", "--out", "{tmp}/t.npz"], "cnnapp: "),  # a file's
    (["trace"], "cnnapp trace: the following arguments are required"),                     # argparse's
    (["train", "--arch", "nope", "--out", "{tmp}/m.npz"], "cnnapp: --arch 'nope'"),
    (["lesson"], "cnnapp lesson: give a subcommand"),
])
def test_every_error_is_one_line_that_starts_with_cnnapp(argv, start, tmp_path, capsys):
    """Errors of the arguments, of the files and of argparse read alike: one line, "cnnapp COMMAND: …"
    where the message names its command, else "cnnapp: …" (no "error: " before some of them)."""
    model = REPO / "assets" / "starter_model.npz"
    assert main([a.format(model=model, tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(start) and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("argv, says", [
    (["train", "--threads", "100000", "--out", "x.npz"], "--threads 100000: at most"),
    (["eval", "M", "--data", "generated", "--count", "100", "--range", "5:2"],
     "--range 5:2: selects no image (its end, 2, is not past its start, 5)"),
])
def test_a_bad_option_is_named_in_its_own_words(tmp_path, capsys, monkeypatch, argv, says):
    """`--threads 100000` said "set_num_threads expects an int from 1 to 64" (a function's name, not
    the option's); `--range 5:2` said "out of range" of a range that is only reversed."""
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    from cnncore.network import Network
    monkeypatch.chdir(tmp_path)
    save_model(tmp_path / "M", Network(preset("tiny"), seed=0))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and not (tmp_path / "x.npz").exists()


@pytest.fixture
def python_sigint():
    """SIGINT as Python's own for the test, whatever the tests were started with (in the background, under
    ``nohup`` or ``&``, it is ignored, and train leaves an ignored SIGINT ignored)."""
    import signal
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def _interrupting(monkeypatch, at: list):
    """Ctrl+C (SIGINT to this process) during the training batches numbered in ``at`` (1-based; twice
    where a number is there twice)."""
    import os
    import signal

    from cnncore.training import Trainer
    real, count = Trainer._train_batch, [0]

    def batch(self, loop, epoch, b):
        count[0] += 1
        for _ in range(at.count(count[0])):
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, loop, epoch, b)
    monkeypatch.setattr(Trainer, "_train_batch", batch)


def test_ctrl_c_stops_train_after_its_batch_and_saves_what_it_learnt(data, tmp_path, monkeypatch, capfd,
                                                                    python_sigint):
    """A long run need not be lost: the first Ctrl+C ends it as the app's Stop does, saved, exit 130."""
    import signal
    handler = signal.getsignal(signal.SIGINT)
    _interrupting(monkeypatch, [3])
    out = tmp_path / "stopped.npz"
    rc = main(["train", "--arch", str(data["arch"]), "--images", str(data["images"]), "--labels",
               str(data["labels"]), "--epochs", "4", "--batch-size", "32", "--quiet", "--out", str(out)])
    said = capfd.readouterr()             # (the handler writes to the file descriptor: never mid-print)
    assert rc == 130 and out.is_file(), said.err
    assert "stopping after this batch" in said.err and "stopped in epoch 1, before batch 4" in said.out
    net = load_model(out)
    assert int(net.optimizer_state["t"]) == 3          # the three batches it took, no more
    assert signal.getsignal(signal.SIGINT) is handler  # Ctrl+C is Python's own again


def test_ctrl_c_during_the_last_batch_ends_a_finished_run_as_finished(data, tmp_path, monkeypatch, capfd,
                                                                     python_sigint):
    """The run was whole (every epoch): saved, exit 0, not "interrupted"."""
    _interrupting(monkeypatch, [6])                    # the last of 2 epochs of 3 batches
    out = tmp_path / "done.npz"
    rc = main(["train", "--arch", str(data["arch"]), "--images", str(data["images"]), "--labels",
               str(data["labels"]), "--epochs", "2", "--batch-size", "64", "--quiet", "--out", str(out)])
    assert rc == 0 and len(load_model(out).history) == 2, capfd.readouterr()


def test_train_started_with_ctrl_c_ignored_keeps_it_ignored(data, tmp_path):
    """Under nohup or `&` in a script SIGINT is ignored: train must not start answering it."""
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
            "from cnnapp.cli import cmd_train; "
            "seen = []; cmd_train.signal.signal = lambda *a: seen.append(a) or signal.SIG_IGN; "
            "from cnnapp.cli import main; "
            f"rc = main(['train', '--arch', {str(data['arch'])!r}, '--images', {str(data['images'])!r}, "
            f"'--labels', {str(data['labels'])!r}, '--epochs', '1', '--quiet', '--out', {str(tmp_path / 'i.npz')!r}]); "
            "assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and not seen, seen; sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr


def test_a_second_ctrl_c_quits_train_without_saving(data, model, tmp_path, monkeypatch, capsys, python_sigint):
    _interrupting(monkeypatch, [2, 2])
    out = tmp_path / "quit.npz"
    out.write_bytes(model.read_bytes())     # the user's earlier model, left as it was
    rc = main(["train", "--arch", str(data["arch"]), "--images", str(data["images"]), "--labels",
               str(data["labels"]), "--epochs", "4", "--batch-size", "32", "--quiet", "--out", str(out)])
    assert rc == 130 and "interrupted" in capsys.readouterr().err
    assert out.read_bytes() == model.read_bytes()


def test_ctrl_c_while_the_modules_load_says_interrupted_in_one_line():
    """Ctrl+C in the first tenth of a second (NumPy and the kernels loading) printed a traceback
    ending in KeyboardInterrupt: it says "cnnapp: interrupted" and exits 130, as later."""
    code = textwrap.dedent("""
        import sys
        class Interrupt:
            def find_spec(self, name, path=None, target=None):
                if name == "numpy" or name == "cnnapp.cli.cmd_train":
                    raise KeyboardInterrupt
        sys.meta_path.insert(0, Interrupt())
        from cnnapp.cli import main
    """)
    for first in ("numpy", "cnnapp.cli.cmd_train"):
        run = subprocess.run([sys.executable, "-c", code.replace('name == "numpy" or ', "") if first != "numpy"
                              else code], capture_output=True, text=True, timeout=120)
        assert (run.returncode, run.stderr, run.stdout) == (130, "cnnapp: interrupted\n", ""), first


@pytest.mark.parametrize("command, name, kind", [
    (["train", "--data", "generated", "--count", "40", "--epochs", "1"], "mödel", ".npz"),
    (["train", "--data", "generated", "--count", "40", "--epochs", "1"], "x.cnnlesson", ".npz"),
    (["trace", "{model}", "--data", "generated", "--count", "20"], "t.cnnlesson", ".npz"),
    (["lesson", "new", "{model}", "--data", "generated", "--count", "20", "--index", "0"], "l.npz", ".cnnlesson"),
    (["export", "{model}", "--to", "onnx"], "m.npz", ".onnx")])
def test_an_output_named_without_its_ending_is_refused_before_any_work(model, tmp_path, capsys, command, name, kind):
    """``train --out mödel`` wrote a model the next run refused to replace ("exists and is not a .npz
    file", which it was); so did a lesson, a trace and an ONNX model under another kind's name."""
    out = tmp_path / name
    argv = [str(model) if a == "{model}" else a for a in command] + ["--out", str(out)]
    if command[0] == "export":
        pytest.importorskip("onnx")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"give a name that ends in {kind}" in err and str(out) in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_count_takes_the_first_pictures_of_idx_files_too(data, model, capsys):
    """``--count 100`` with --images/--labels was ignored without a word (the help said the files one
    names are used whole, and that the shared digits were, which --count did cut)."""
    source = ["--images", str(data["images"]), "--labels", str(data["labels"])]
    assert main(["eval", str(model), *source]) == 0
    every = _result(capsys.readouterr().out)
    assert main(["eval", str(model), *source, "--count", "50"]) == 0
    first = _result(capsys.readouterr().out)
    assert first.startswith("50 images") and not every.startswith("50 images")


def test_eval_says_how_many_of_its_pictures_the_model_learnt_from(tmp_path, capsys):
    """`train --holdout 0` then `eval --data generated` printed "450 images held out of generated": all
    450 were training pictures (16 wrong, against 36 on new digits). A model keeps a fingerprint of each
    picture its runs learnt from, and eval counts the pictures it scores that are among them."""
    from cnncore.datasets import generated_digits, held_out_split
    from cnncore.modelio import save_model

    model = tmp_path / "m.npz"
    source = ["--data", "generated", "--count", "300"]
    assert main(["train", "--arch", "tiny", *source, "--epochs", "1", "--quiet", "--out", str(model)]) == 0
    capsys.readouterr()
    assert main(["eval", str(model), *source]) == 0
    out = capsys.readouterr().out
    assert out.startswith("45 images held out of generated (--holdout 0.15), none of them pictures it learnt from")
    learnt = held_out_split(*generated_digits(300, seed=1), 0.15)[0]
    for other, seed, frac in ((["--count", "400"], 1, 0.15), (["--count", "300", "--data-seed", "2"], 2, 0.15),
                              (["--count", "300", "--holdout", "0.3"], 1, 0.3)):
        assert main(["eval", str(model), "--data", "generated", *other]) == 0
        lines = capsys.readouterr().out.splitlines()
        X = held_out_split(*generated_digits(int(other[1]), seed=seed), frac)[2]
        same = same_pictures(X, learnt)
        if same:
            assert lines[0].startswith(f"note: {same:,} of these {len(X)} pictures are ones this model learnt from")
            assert lines[1].startswith(f"{len(X)} images of generated") and f", {same} of them pictures" in lines[1]
        else:
            assert lines[0].startswith(f"{len(X)} images held out of generated") and "none of them" in lines[0]
    assert main(["eval", str(model), "--data", "generated", "--count", "300", "--holdout", "0.3"]) == 0
    assert "note: " in capsys.readouterr().out           # (another split of the same digits: some it learnt)
    assert main(["train", "--arch", "tiny", *source, "--holdout", "0", "--epochs", "1", "--quiet", "--out",
                 str(model)]) == 0
    capsys.readouterr()
    assert main(["eval", str(model), *source]) == 0
    assert capsys.readouterr().out.startswith("note: all of these 45 pictures are ones this model learnt from")
    net = load_model(model)
    net.trained_on = None                                 # a model of an older version: nothing to tell
    save_model(model, net)
    assert load_model(model).trained_on is None
    assert main(["eval", str(model), *source]) == 0
    out = capsys.readouterr().out
    assert out.startswith("45 images held out of generated (--holdout 0.15), loss") and "learnt" not in out


def test_words_for_an_empty_arch_a_missing_folder_and_a_full_standard_output(model, tmp_path, capsys):
    """`--arch ''` said "cannot read the file (is a folder…)", `--folder nosuch` "no such file", and
    output to a full disk "cnnapp: [Errno 28] No space left on device"."""
    assert main(["train", "--arch", "", "--data", "generated", "--out", str(tmp_path / "a.npz")]) == 2
    assert "--arch: give an architecture, a preset's name" in capsys.readouterr().err
    assert main(["train", "--folder", str(tmp_path / "nosuch"), "--out", str(tmp_path / "a.npz")]) == 2
    assert capsys.readouterr().err.endswith("nosuch: no such folder\n")
    if not os.path.exists("/dev/full"):
        return
    code = "import sys; from cnnapp.cli import main; sys.exit(main(sys.argv[1:]))"
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-c", code, "eval", str(model), "--data", "generated", "--count", "100"],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (1, "cnnapp: could not write the output (No space left on device)\n")


def test_a_huge_loss_is_printed_in_a_few_digits():
    from cnnapp.cli.args import loss_text
    assert loss_text(1e300) == "1e+300" and loss_text(0.12345) == "0.1235" and loss_text(float("nan")) == "nan"


@pytest.mark.parametrize("command", [["eval", "{model}"], ["trace", "{model}", "--out", "t.npz"]])
def test_a_picture_given_as_image_to_a_command_of_labelled_images_is_not_taken_for_images(model, tmp_path, capsys,
                                                                                            command):
    """A tour: `cnnapp eval m.npz --image one.png` (the option `inspect` takes) was read as `--images`,
    argparse completing the name, and answered "--images and --labels go together", which the student
    who gave a picture could not act on. Options are taken by their whole names: it says --image is not one
    of the command's, and where they are listed."""
    argv = [str(model) if a == "{model}" else str(tmp_path / a) if a.endswith(".npz") else a for a in command]
    assert main([*argv, "--image", str(tmp_path / "one.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--labels" not in err
    assert f"cnnapp {command[0]}: unrecognized arguments: --image" in err and f"cnnapp {command[0]} --help" in err
