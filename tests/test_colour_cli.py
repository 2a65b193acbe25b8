"""The command line on colour pictures (issue 23 items 3, 5 and 7): train, eval, trace, predict,
inspect and export with ``--folder`` and ``--data cifar10``; the defaults of the one table; every
bad folder a single line and exit status 2 with nothing written."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cnnapp.cli import main
from cnncore.defaults import _BY_PRESET, default_preset, differences, run_defaults
from cnncore.modelio import load_model
from cnncore.trace import Trace

REPO = Path(__file__).resolve().parents[1]

SMALL = {"input": [3, 16, 16], "layers": [
    {"type": "conv", "filters": 4, "kernel": 3, "stride": 2, "padding": 1, "activation": "relu"},
    {"type": "flatten"},
    {"type": "dense", "units": 10}]}
COLOURS = {"blue": (20, 40, 220), "green": (30, 200, 40), "red": (230, 30, 20)}


@pytest.fixture(scope="module")
def colour_folder(tmp_path_factory):
    """Three classes of noisy single-colour pictures of mixed sizes and formats, and a small architecture."""
    d = tmp_path_factory.mktemp("colour")
    rng = np.random.default_rng(0)
    for part, n in (("train", 30), ("test", 6)):
        for name, colour in COLOURS.items():
            (d / part / name).mkdir(parents=True)
            for i in range(n):
                h, w = rng.integers(12, 60, 2)
                a = np.clip(np.array(colour) + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(a).save(d / part / name / f"{i:03d}.{('png', 'jpg', 'bmp')[i % 3]}")
    (d / "arch.json").write_text(json.dumps(SMALL))
    return d


@pytest.fixture(scope="module")
def colour_model(colour_folder):
    out = colour_folder / "m.npz"
    assert main(["train", "--arch", str(colour_folder / "arch.json"), "--folder", str(colour_folder / "train"),
                 "--epochs", "4", "--quiet", "--out", str(out)]) == 0
    return out


def test_train_on_a_folder_learns_its_classes(colour_folder, colour_model, capsys):
    net = load_model(colour_model)
    assert net.classes[:3] == ("blue", "green", "red") and net.classes[3] == "(unused)"
    assert net.dataset == "train" and net.signature.fit == "picture" and net.input_shape == (3, 16, 16)
    assert net.history[-1]["val_accuracy"] > 0.8
    assert main(["eval", str(colour_model), "--folder", str(colour_folder / "test")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("18 images,") and "classes (train): 0 blue, 1 green, 2 red" == lines[1]
    assert float(lines[-1].split()[1]) > 0.8 and "(unused)" not in "".join(lines)
    table = lines[lines.index("confusion matrix (rows: true class, columns: predicted class)") + 1:-1]
    assert table[0].split() == ["0", "1", "2", "recall"] and len(table) == 4      # not the 7 unused outputs
    assert all(len(row.split()) == 5 and row.split()[-1] != "nan" for row in table[1:])


def test_predict_prints_the_class_name_of_a_colour_picture(colour_folder, colour_model, tmp_path, capsys):
    photo = tmp_path / "red.jpg"
    Image.new("RGB", (640, 480), COLOURS["red"]).save(photo)
    assert main(["predict", str(colour_model), str(photo)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "class: 2 red (train)" and len(lines) == 5          # one line for the unused outputs
    assert lines[-1].startswith("the 7 outputs no class uses: ")
    assert sum(float(l.split(": ")[1]) for l in lines[1:]) == pytest.approx(1, abs=3e-3)


def test_trace_and_inspect_a_picture_of_the_folder(colour_folder, colour_model, tmp_path, capsys):
    out = tmp_path / "t.npz"
    assert main(["trace", str(colour_model), "--folder", str(colour_folder / "test"), "--index", "7",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(str(colour_folder / "test" / "green" / "001.jpg") + ": label 1 green")
    t = Trace.load(out)
    assert t.arrays["input"].shape == (1, 3, 16, 16) and t.label == 1
    x = tmp_path / "x.npz"
    for source in (["--folder", str(colour_folder / "test"), "--index", "0"],
                   ["--image", str(colour_folder / "test" / "red" / "000.png")],
                   ["--png", str(colour_folder / "test" / "red" / "001.jpg")]):
        assert main(["inspect", str(colour_model), *source, "--out", str(x)]) == 0
        with np.load(x) as f:
            assert f["input"].shape == f["saliency"].shape == f["adversarial"].shape == (1, 3, 16, 16)
    assert "predicted 2 red" in capsys.readouterr().out


def test_the_picture_trace_picks_in_a_folder_is_the_one_its_index_names(colour_folder, colour_model, tmp_path,
                                                                        capsys):
    """A folder with a picture that cannot be read: ``trace`` without ``--index`` said "image 22" of the
    pictures it could read, while ``--index 22`` numbers every picture file (the unreadable one
    included) and traced another. It names the picture by its file and by the number --index takes."""
    import shutil
    d = tmp_path / "test"
    shutil.copytree(colour_folder / "test", d)
    (d / "blue" / "0000.png").write_bytes(b"not a picture")          # the first file of the first class
    out, again = tmp_path / "t.npz", tmp_path / "u.npz"
    assert main(["trace", str(colour_model), "--folder", str(d), "--out", str(out)]) == 0
    said = re.search(r"^picture (\d+) of the folder \(([^)]+)\): label", capsys.readouterr().out, re.M)
    k, name = int(said.group(1)), said.group(2)
    assert main(["trace", str(colour_model), "--folder", str(d), "--index", str(k), "--out", str(again)]) == 0
    assert capsys.readouterr().out.startswith(str(d / name))
    a, b = Trace.load(out), Trace.load(again)
    np.testing.assert_array_equal(a.arrays["input"], b.arrays["input"])
    assert a.loss == b.loss and a.label == b.label


def test_the_defaults_table_and_the_help_that_says_it():
    base = run_defaults("generated")
    d = run_defaults("cifar10")
    assert d.preset == "cifar" and d.flip and d.augment == 2 and d.epochs == _BY_PRESET["cifar"]["epochs"]
    assert d.count == base.count and d.holdout == base.holdout          # the source's own, the app's
    assert run_defaults("folder").preset == default_preset("folder") == "cifar" and run_defaults("folder").count is None
    assert run_defaults("folder", "lenet").config_fields() == base.config_fields()      # digits never flip
    assert run_defaults("mnist", "cifar").flip and base.preset == "lenet" and not base.flip
    assert run_defaults("mnist", "(a file)").config_fields() == base.config_fields()
    assert differences("flip") == "off (cifar preset: on)" and differences("schedule") == base.schedule  # none differ
    assert differences("preset") == "lenet (cifar10: cifar; folder: cifar)"
    with pytest.raises(KeyError):
        differences("colour")


def test_train_help_says_the_augmentation_and_its_defaults(capsys):
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--flip, --no-flip mirror a random half of each batch left to right" in text
    assert "(default off (cifar preset: on))" in text and "shift each training picture at random" in text
    assert "--folder DIR a folder of your own pictures" in text and "cifar10: 32×32 colour pictures" in text


def test_train_without_arch_on_a_folder_uses_the_table(colour_folder, tmp_path, capsys, monkeypatch):
    import cnnapp.cli.cmd_train as cmd_train
    from cnnapp.cli import CliError
    seen = {}
    real = cmd_train.network_and_config

    def spy(args):
        seen.update(arch=args.arch, flip=args.flip, augment=args.augment, epochs=args.epochs, lr=args.lr)
        raise CliError("stop here")
    monkeypatch.setattr(cmd_train, "network_and_config", spy)
    assert main(["train", "--folder", str(colour_folder / "train"), "--out", str(tmp_path / "m.npz")]) == 2
    cifar = _BY_PRESET["cifar"]
    assert seen == {"arch": "cifar", "flip": True, "augment": 2, "epochs": cifar["epochs"], "lr": cifar["lr"]}
    assert main(["train", "--folder", str(colour_folder / "train"), "--no-flip", "--epochs", "2",
                 "--out", str(tmp_path / "m.npz")]) == 2
    assert seen["flip"] is False and seen["epochs"] == 2
    assert main(["train", "--folder", str(colour_folder / "train"), "--optimizer", "sgd",
                 "--out", str(tmp_path / "m.npz")]) == 2
    assert seen["lr"] is None                     # SGD starts from its own rate, not Adam's of the table
    monkeypatch.setattr(cmd_train, "network_and_config", real)


@pytest.mark.parametrize("make, match", [
    ("no-subfolders", "no subfolders"),
    ("one-class", "only one class"),
    ("empty-class", "holds no pictures"),
    ("nothing-readable", "no picture could be read"),
])
def test_a_bad_folder_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, make, match):
    root = tmp_path / "p"
    root.mkdir()
    Image.new("RGB", (8, 8)).save(root / "loose.png")
    if make != "no-subfolders":
        (root / "cat").mkdir()
        (root / "cat" / "a.png").write_bytes(b"broken" if make == "nothing-readable" else b"")
        if make != "nothing-readable":
            Image.new("RGB", (8, 8)).save(root / "cat" / "a.png")
    if make in ("empty-class", "nothing-readable"):
        (root / "dog").mkdir()
        if make == "nothing-readable":
            (root / "dog" / "b.jpg").write_bytes(b"\xff\xd8 broken")
    out = tmp_path / "m.npz"
    assert main(["train", "--folder", str(root), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and match in err and "Traceback" not in err
    assert not out.exists()


def test_colour_data_for_a_grey_model_is_one_clear_line(colour_folder, colour_model, tmp_path, capsys, monkeypatch):
    import cnncore.datasets as ds
    monkeypatch.setattr(ds, "load_cifar10", lambda split, progress=None: (
        np.zeros((20, 3, 32, 32), np.uint8), np.arange(20, dtype=np.uint8) % 10))
    assert main(["train", "--data", "cifar10", "--arch", "lenet", "--out", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert "pictures are colour (RGB) 32×32; this network takes grey 28×28 ones" in err and "--arch cifar" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "m.npz").exists()
    assert main(["eval", str(colour_model), "--folder", str(colour_folder)]) == 2
    assert "the model has no class 'test'" in capsys.readouterr().err
    assert main(["train", "--folder", str(colour_folder / "train"), "--count", "10", "--out",
                 str(tmp_path / "m.npz")]) == 2
    assert "used whole (no count)" in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    lambda m, data, out: ["lesson", "new", str(m), *data, "--index", "0", "--out", str(out.with_suffix(".cnnlesson"))],
    lambda m, data, out: ["trace", str(m), *data, "--index", "0", "--out", str(out)],
    lambda m, data, out: ["inspect", str(m), *data, "--index", "0", "--out", str(out)],
    lambda m, data, out: ["eval", str(m), *data],
    lambda m, data, out: ["train", "--arch", Path(m).stem, *data, "--out", str(out)],
], ids=["lesson new", "trace", "inspect", "eval", "train"])
def test_a_source_the_model_cannot_read_is_said_before_any_download(tmp_path, capsys, monkeypatch, command):
    """A tour: `lesson new grey.npz --data cifar10` started CIFAR-10's 162 MB download (or read a copy given
    with --archive) before it said the model cannot read colour pictures. Every command that takes a model
    and a --data source says so first, in one line, and reads nothing."""
    import cnncore.datasets as ds
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    from cnncore.network import Network
    read = []
    for name in ("load_cifar10", "load_download", "install_cifar10", "load_idx_pair"):
        monkeypatch.setattr(ds, name, lambda *a, name=name, **k: read.append(name))
    for arch, data, said in (
            ("lenet", ["--data", "cifar10"], "CIFAR-10's pictures are colour (RGB) 32×32"),
            ("lenet", ["--data", "cifar10", "--archive", str(tmp_path / "copy.tar.gz")], "CIFAR-10's pictures are"),
            ("cifar", ["--data", "fashion"], "Fashion-MNIST's pictures are grey 28×28"),
            ("cifar", ["--images", str(tmp_path / "i"), "--labels", str(tmp_path / "l")], "are grey 28×28")):
        save_model(tmp_path / f"{arch}.npz", Network(preset(arch), seed=1))
        out = tmp_path / "out.npz"
        assert main(command(tmp_path / f"{arch}.npz", data, out)) == 2
        err = capsys.readouterr().err
        takes = "grey 28×28" if arch == "lenet" else "colour (RGB) 32×32"
        assert said in err and f"takes {takes} ones" in err and len(err.strip().splitlines()) == 1, err
        assert read == [] and not out.exists() and not out.with_suffix(".cnnlesson").exists()


def test_a_cifar_download_failure_is_one_line(tmp_path, capsys, monkeypatch):
    import cnncore.datasets as ds

    def fail(*args, **kwargs):
        raise ds.FetchError("could not download cifar-10-binary.tar.gz (test)")
    monkeypatch.setattr(ds, "load_cifar10", fail)
    assert main(["train", "--data", "cifar10", "--out", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert "could not get CIFAR-10: could not download" in err and len(err.strip().splitlines()) == 1


def test_a_digit_model_still_reads_a_drawing_by_mnist_s_recipe(tmp_path, capsys):
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    from cnncore.network import Network
    model = tmp_path / "d.npz"
    save_model(model, Network(preset("tiny"), seed=0))
    drawing = np.full((200, 150, 3), 255, np.uint8)
    drawing[40:160, 70:80] = 0
    Image.fromarray(drawing).save(tmp_path / "one.jpg")
    assert main(["predict", str(model), str(tmp_path / "one.jpg")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("digit: ") and len(lines) == 11


# ----------------------------------------------------------------------------- the shared real pictures

@pytest.fixture(scope="module")
def cifar_folders(shared_cifar, tmp_path_factory):
    """TRAIN from the first 400 shared pictures, TEST from the last 60, as PNG files by class."""
    from cnncore.datasets.cifar import CIFAR10
    X, y = shared_cifar
    d = tmp_path_factory.mktemp("cifar")
    for name, idx in (("TRAIN", range(400)), ("TEST", range(4600, 4660))):
        for i in idx:
            folder = d / name / CIFAR10.classes[y[i]]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(X[i].transpose(1, 2, 0)).save(folder / f"{i:05d}.png")
    model = d / "m.npz"
    assert main(["train", "--arch", "cifar", "--folder", str(d / "TRAIN"), "--epochs", "2", "--quiet",
                 "--out", str(model)]) == 0
    return d, model


def test_a_cifar_trace_is_three_channels_and_agrees_with_pytorch(cifar_folders, tmp_path):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    d, model = cifar_folders
    out = tmp_path / "t.npz"
    assert main(["trace", str(model), "--folder", str(d / "TEST"), "--index", "0", "--out", str(out)]) == 0
    t = Trace.load(out)
    net = load_model(model)
    assert t.arrays["input"].shape == (1, 3, 32, 32) and t.arrays["L0.dW"].shape[1] == 3
    p = {k: torch.tensor(v.astype(np.float64), requires_grad=True) for k, v in net.params().items()}

    def step(i, layer):
        act = {"relu": torch.relu, "none": lambda v: v}[layer.get("activation", "none")]
        return {"conv": lambda v: act(F.conv2d(v, p[f"L{i}.W"], p[f"L{i}.b"], tuple(layer.get("stride", [1, 1])),
                                               tuple(layer.get("padding", [0, 0])))),
                "maxpool": lambda v: F.max_pool2d(v, tuple(layer["size"]), tuple(layer["stride"])),
                "flatten": lambda v: v.reshape(1, -1),
                "dense": lambda v: act(F.linear(v, p[f"L{i}.W"], p[f"L{i}.b"]))}[layer["type"]]
    steps = [step(i, layer) for i, layer in enumerate(net.spec["layers"])]
    v = torch.tensor(t.arrays["input"].astype(np.float64))
    outs = []
    for f in steps:
        v = f(v)
        v.retain_grad()
        outs.append(v)
    loss = F.cross_entropy(v, torch.tensor([t.label]))
    loss.backward()
    assert t.loss == pytest.approx(loss.item(), rel=1e-4)
    for i, o in enumerate(outs):
        scale = float(np.abs(o.detach().numpy()).max())
        np.testing.assert_allclose(t.arrays[f"L{i}.y"], o.detach().numpy(), rtol=0, atol=1e-4 * scale)
        gscale = float(np.abs(o.grad.numpy()).max())
        np.testing.assert_allclose(t.arrays[f"L{i}.dy"], o.grad.numpy(), rtol=0, atol=1e-4 * gscale)
    for k, v in p.items():
        want = v.grad.numpy()
        np.testing.assert_allclose(t.arrays[k.replace(".W", ".dW").replace(".b", ".db")], want, rtol=0,
                                   atol=1e-4 * float(np.abs(want).max()))


def test_the_torch_export_answers_as_eval_on_every_test_picture(cifar_folders, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from cnncore.datasets import load_folder
    d, model = cifar_folders
    assert main(["export", str(model), "--to", "torch", "--out", str(tmp_path / "exp")]) == 0
    assert main(["eval", str(model), "--folder", str(d / "TEST")]) == 0
    accuracy = float(capsys.readouterr().out.strip().splitlines()[-1].split()[1])
    spec = importlib.util.spec_from_file_location("cifar_export", tmp_path / "exp" / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = load_model(model)
    test = load_folder(d / "TEST", net.input_shape, classes=net.classes)
    x = test.X.astype(np.float32) / 255
    with torch.no_grad():
        theirs = module.load_model()(torch.from_numpy(x)).numpy().argmax(axis=1)
    np.testing.assert_array_equal(theirs, net.predict(x))
    assert np.mean(theirs == test.y) == pytest.approx(accuracy, abs=1e-4)
    text = (tmp_path / "exp" / "model.py").read_text()
    assert "(N, 3, 32, 32): N pictures of 32×32 pixels, its R, G and B planes" in text
    assert "CLASSES = ('airplane', 'automobile'," in text


def test_inspect_refuses_an_output_no_class_uses(tmp_path, capsys):
    """`inspect --class 7` on a model of a folder's two classes explained an output that is no class."""
    from cnnapp.cli import main
    from cnncore.architecture import preset
    from cnncore.datasets.folder import model_classes
    from cnncore.modelio import save_model
    from cnncore.network import Network
    net = Network(preset("tiny"), seed=0)
    net.learns(model_classes(("cat", "dog")), "pets")
    save_model(tmp_path / "m.npz", net)
    for flag in ("--class", "--target"):
        assert main(["inspect", str(tmp_path / "m.npz"), "--data", "generated", "--count", "10", flag, "7",
                     "--out", str(tmp_path / "i.npz")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"cnnapp inspect: {flag} 7: output 7 is one no class") and "0 cat, 1 dog" in err
    assert not (tmp_path / "i.npz").exists()


def test_predict_notes_a_picture_whose_colours_are_not_the_networks(colour_model, tmp_path, capsys):
    """A tour: `predict digits.npz "my ship.jpg"` answered "digit: 8" with no hint that a digit model was
    given a colour photo, and a grey picture given to a colour model was spread over R, G and B unsaid."""
    grey = tmp_path / "grey.png"
    Image.new("L", (40, 30), 120).save(grey)
    assert main(["predict", str(colour_model), str(grey)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("class: ") and lines[-1].startswith("note: a grey picture: this network takes colour")
    photo = tmp_path / "ship.jpg"
    Image.new("RGB", (64, 48), (20, 40, 200)).save(photo)
    assert main(["predict", str(colour_model), str(photo)]) == 0
    assert "note:" not in capsys.readouterr().out                           # colour for colour: nothing to say
    digits = REPO / "assets" / "starter_model.npz"
    ImageDraw.Draw(im := Image.new("RGB", (64, 64), (250, 250, 250))).line((32, 8, 32, 56), fill=(200, 0, 0), width=6)
    im.save(photo)
    assert main(["predict", str(digits), str(photo)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("digit: ") and lines[-1] == ("note: a colour picture, read as a grey digit, by MNIST's "
                                                            "recipe: this network takes grey pictures")


def test_train_on_a_folder_with_a_grey_network_says_the_colour_is_dropped(colour_folder, tmp_path, capsys):
    assert main(["train", "--arch", "tiny", "--folder", str(colour_folder / "train"), "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "g.npz")]) == 0
    out = capsys.readouterr().out
    assert "note: the pictures are read as this network takes them: grey 28×28" in out and "colour is dropped" in out


def test_a_digit_model_reads_a_folder_as_predict_reads_each_picture(tmp_path, capsys):
    """eval, trace and inspect --folder bring a digit model's pictures by MNIST's recipe, as predict does:
    a folder of dark digits on white paper scored 0 % where predict read each one right (the paper
    was given to the network as ink)."""
    from cnncore.architecture import preset
    from cnncore.datasets.pictures import picture_input
    from cnncore.modelio import save_model
    from cnncore.network import Network
    model = tmp_path / "d.npz"
    net = Network(preset("tiny"), seed=0)
    save_model(model, net)
    rng = np.random.default_rng(3)
    for digit in ("1", "7"):
        (tmp_path / "digits" / digit).mkdir(parents=True)
        for i in range(3):
            paper = np.full((90 + 10 * i, 70, 3), 255, np.uint8)
            r, c = rng.integers(10, 30, 2)
            paper[r:r + 50, c:c + 8] = 0                       # a dark stroke on white paper
            if digit == "7":
                paper[r:r + 8, c - 20:c + 8] = 0
            Image.fromarray(paper).save(tmp_path / "digits" / digit / f"{i}.png")
    paths = sorted((tmp_path / "digits").glob("*/*.png"))
    wanted = np.stack([picture_input(p, net.signature) for p in paths])
    answers = np.argmax(net.predict_proba(wanted), axis=1)
    assert main(["eval", str(model), "--folder", str(tmp_path / "digits")]) == 0
    out = capsys.readouterr().out
    wrong = int(re.search(r"loss [\d.]+, (\d+) wrong", out).group(1))
    labels = np.array([int(p.parent.name) for p in paths])
    assert wrong == int((answers != labels).sum())
    trace_file = tmp_path / "t.npz"
    assert main(["trace", str(model), "--folder", str(tmp_path / "digits"), "--index", "4",
                 "--out", str(trace_file)]) == 0
    x = np.load(trace_file)["L0.x"][0]
    np.testing.assert_allclose(x, wanted[4], atol=0.5 / 255 + 1e-6)      # the ink, not the paper
    assert x[0, 0, 0] == 0 and x.max() > 0.9
