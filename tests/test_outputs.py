"""The one writer (``cnncore._atomic``): no command replaces a file it reads, a killed writer's
temporary files go with the next write, a full disk names the file and keeps the old one."""
from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cnnapp.cli import main
from cnncore import Output, OutputRefused, WriteFailed, atomic_savez, atomic_write_bytes
from cnncore._atomic import _HOST, atomic_write
from cnncore.architecture import preset
from cnncore.modelio import load_model, save_model
from cnncore.network import Network
from conftest import REPO, write_idx

DATA = ["--data", "generated", "--count", "20", "--index", "0"]


def digest(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def temps(folder) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def refused(capsys, argv, *paths):
    """Run the CLI: exit 2, one line on stderr naming every path in ``paths``."""
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for p in paths:
        assert str(p) in err, (p, err)
    return err


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, Network(preset("tiny"), seed=0))
    return path


# ----------------------------------------------------------------------------- item 3: never over an input

def _alias(model, how: str):
    """Another name for ``model``: itself, ``./`` before it, a hard link, a symbolic link."""
    if how == "same":
        return model
    if how == "dot":
        return model.parent / "." / model.name
    other = model.with_name("alias.npz")
    (os.link if how == "hardlink" else os.symlink)(model, other)
    return other


COMMANDS = {
    "trace": lambda m, out: ["trace", str(m), *DATA, "--out", str(out)],
    "inspect": lambda m, out: ["inspect", str(m), *DATA, "--out", str(out)],
    "onnx": lambda m, out: ["export", str(m), "--to", "onnx", "--out", str(out)],
}


def test_a_table_is_never_written_over_a_students_results_a_shell_pattern_named(model, tmp_path, capsys,
                                                                                 monkeypatch):
    """``cnnapp lesson report --out "loss - "*.results.json``: the shell put Ada's results after --out
    and Bob's among the files read; Ada's answers were replaced by a table of Bob's (exit 0). A file
    already there is replaced only by one of its own kind; a new name or a table over a table is fine."""
    from cnncore.lesson import load_lesson, new_lesson, save_lesson
    from cnncore.lesson.run import LessonRun
    monkeypatch.chdir(tmp_path)
    save_lesson(tmp_path / "loss.cnnlesson", new_lesson(model, "generated", 3, count=10).replace(title="loss"))
    lesson = load_lesson(tmp_path / "loss.cnnlesson")
    files = [LessonRun(lesson, name).save_as(tmp_path / f"loss - {name}.results.json") for name in ("Ada", "Bob")]
    before = [digest(f) for f in files]
    refused(capsys, ["lesson", "report", "--out", str(files[0]), str(files[1])], files[0])
    assert [digest(f) for f in files] == before
    assert main(["lesson", "report", *map(str, files), "--out", "table.csv"]) == 0
    assert main(["lesson", "report", *map(str, files), "--out", "table.csv"]) == 0      # a table over a table
    kept = digest(tmp_path / "loss.cnnlesson")
    err = refused(capsys, ["train", "--arch", "tiny", "--data", "generated", "--count", "20", "--epochs", "1",
                           "--quiet", "--out", "loss.cnnlesson"], "loss.cnnlesson")
    assert "not a .npz file" in err and digest(tmp_path / "loss.cnnlesson") == kept


@pytest.mark.parametrize("content", [b"hello, my notes\n", b"\x89PNG\r\n\x1a\n" + bytes(40)])
def test_a_file_with_a_models_name_but_not_a_models_content_is_not_replaced(tmp_path, capsys, content, monkeypatch):
    """A tour found `cnnapp train --out notes.npz` replacing a text (or a picture) that was only named
    like a model: the name said .npz, the content was not a zip archive. A model, an empty file and a
    new name are written as before."""
    monkeypatch.chdir(tmp_path)
    train = ["train", "--arch", "tiny", "--data", "generated", "--count", "20", "--epochs", "1", "--quiet", "--out"]
    (tmp_path / "notes.npz").write_bytes(content)
    err = refused(capsys, [*train, "notes.npz"], "notes.npz")
    assert "not a .npz file" in err and (tmp_path / "notes.npz").read_bytes() == content
    for name in ("m.npz", "m.npz", "empty.npz"):          # new, a model over a model, an empty file
        if name == "empty.npz":
            (tmp_path / name).write_bytes(b"")
        assert main([*train, name]) == 0 and load_model(tmp_path / name).num_params() > 0
    with pytest.raises(OutputRefused, match="not a .cnnlesson file"):
        (tmp_path / "notes.cnnlesson").write_bytes(content)
        Output(tmp_path / "notes.cnnlesson", kinds=(".cnnlesson",)).check()


@pytest.mark.parametrize("how", ["same", "dot", "hardlink", "symlink"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_command_writes_over_the_model_it_reads(model, capsys, command, how):
    out = _alias(model, how)
    before = digest(model)
    err = refused(capsys, COMMANDS[command](model, out), model)
    assert "same file" in err and str(out).replace("/./", "/") in err
    assert digest(model) == before and load_model(model).num_params() > 0
    assert temps(model.parent) == []


@pytest.mark.parametrize("command", ["trace", "inspect"])
def test_a_trace_or_a_probe_never_replaces_another_model(model, tmp_path, capsys, command):
    """`cnnapp trace m.npz --out m2.npz` replaced the trained model m2.npz by a trace (both are zips
    named .npz). A model file is spared; a trace over a trace, and a new name, are written."""
    other = tmp_path / "m2.npz"
    save_model(other, Network(preset("tiny"), seed=1))
    before = digest(other)
    err = refused(capsys, COMMANDS[command](model, other), other)
    assert "is a model file" in err and digest(other) == before and temps(tmp_path) == []
    again = tmp_path / "out.npz"
    assert main(COMMANDS[command](model, again)) == 0
    assert main(COMMANDS[command](model, again)) == 0         # its own kind is replaced
    capsys.readouterr()


def test_an_output_asks_its_spare_test_of_the_file_a_link_names(tmp_path):
    """The test is of the file written: through a symbolic link too; an Output made from another keeps it."""
    from cnncore.modelio import a_model_file
    real = tmp_path / "real.npz"
    save_model(real, Network(preset("tiny"), seed=0))
    assert a_model_file(real) == "a model file" and a_model_file(tmp_path / "none.npz") is None
    if os.name == "posix":
        (tmp_path / "link.npz").symlink_to(real)
        with pytest.raises(OutputRefused, match="is a model file"):
            Output(Output(tmp_path / "link.npz", spare=a_model_file)).check()
    atomic_savez(tmp_path / "t.npz", {"architecture": np.array("[]"), "probs": np.zeros(3)})
    assert a_model_file(tmp_path / "t.npz") is None                 # a trace's entries
    Output(tmp_path / "t.npz", spare=a_model_file).check()


def test_train_never_writes_over_its_images(model, tmp_path, capsys):
    X = np.zeros((20, 28, 28), np.uint8)
    images, labels = write_idx(tmp_path / "img", X), write_idx(tmp_path / "lab", np.arange(20) % 10)
    before = digest(images)
    refused(capsys, ["train", "--images", str(images), "--labels", str(labels), "--epochs", "1",
                     "--out", str(images)], images)
    assert digest(images) == before


@pytest.mark.parametrize("name", ["weights.npz", "model.py", "export.json"])
def test_a_torch_export_folder_never_replaces_the_model_it_reads(tmp_path, capsys, monkeypatch, name):
    """``export weights.npz --to torch --out .`` (and the same with the other two files)."""
    monkeypatch.chdir(tmp_path)
    save_model(name, Network(preset("tiny"), seed=0))
    before = digest(name)
    refused(capsys, ["export", name, "--to", "torch", "--out", "."], name)
    assert digest(name) == before and sorted(os.listdir(".")) == [name]


def test_a_torch_export_folder_is_checked_through_links(model, tmp_path, capsys):
    folder = tmp_path / "out"
    folder.mkdir()
    os.symlink(model, folder / "model.py")
    before = digest(model)
    refused(capsys, ["export", str(model), "--to", "torch", "--out", str(folder)], model, folder / "model.py")
    assert digest(model) == before and sorted(os.listdir(folder)) == ["model.py"]


def test_a_torch_export_to_the_current_folder_still_works(model, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", "m.npz", "--to", "torch", "--out", "."]) == 0
    assert {"model.py", "weights.npz", "export.json"} <= set(os.listdir("."))
    assert "export.json" in capsys.readouterr().out


def test_the_writer_checks_the_inputs_again_before_the_rename(model, tmp_path):
    """An input linked at the target while the file is written is refused at the rename."""
    out = tmp_path / "out.npz"
    before = digest(model)

    def write(f):
        f.write(b"new")
        os.link(model, out)          # the target becomes the input meanwhile
    with pytest.raises(OutputRefused, match="same file as the input"):
        atomic_write(Output(out, [model]), write)
    assert digest(model) == before and temps(tmp_path) == []


def test_an_output_without_inputs_is_written_as_before(tmp_path):
    target = tmp_path / "plain.bin"
    assert atomic_write_bytes(Output(target, [tmp_path / "missing", None]), b"ok") == target
    assert target.read_bytes() == b"ok"


@pytest.mark.skipif(os.name != "posix", reason="permission bits and symbolic links as POSIX has them")
def test_a_replaced_file_keeps_its_permissions_and_its_links(tmp_path, capsys):
    """The writer made a private (0600) file readable by all (0644), replaced a read-only one
    without a word, and put a regular file in place of a link (the file it named left stale)."""
    private = tmp_path / "private.bin"
    private.write_bytes(b"old")
    private.chmod(0o600)
    atomic_write_bytes(private, b"new")
    assert private.read_bytes() == b"new" and private.stat().st_mode & 0o777 == 0o600
    locked = tmp_path / "locked.bin"
    locked.write_bytes(b"old")
    locked.chmod(0o444)
    with pytest.raises(OutputRefused, match="is read-only .*: it is not replaced"):
        atomic_write_bytes(locked, b"new")
    assert locked.read_bytes() == b"old"
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"old")
    odd.chmod(0o4755)
    atomic_write_bytes(odd, b"new")
    assert odd.stat().st_mode & 0o7777 == 0o755            # no setuid bit on new content
    results = tmp_path / "ada.results.json"
    results.write_text("{}")
    (tmp_path / "table.csv").symlink_to(results)          # a table written through a link: the kind is the file's
    with pytest.raises(OutputRefused, match="is not a .csv file"):
        atomic_write_bytes(Output(tmp_path / "table.csv", kinds=(".csv",)), b"a,b")
    assert results.read_text() == "{}"
    (tmp_path / "shared").mkdir()
    real = tmp_path / "shared" / "real.npz"
    save_model(str(real), Network(preset("tiny"), seed=0))
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    net = Network(preset("tiny"), seed=1)
    save_model(str(link), net)
    assert link.is_symlink() and np.array_equal(load_model(str(real)).flat_params, net.flat_params)
    assert temps(tmp_path) == [] and temps(tmp_path / "shared") == []
    dangling = tmp_path / "dangling.bin"
    dangling.symlink_to(tmp_path / "shared" / "new.bin")
    atomic_write_bytes(dangling, b"made")
    assert dangling.is_symlink() and (tmp_path / "shared" / "new.bin").read_bytes() == b"made"
    assert main(["train", "--arch", "tiny", "--epochs", "1", "--count", "40", "--quiet", "--out", str(locked)]) == 2
    assert "read-only" in capsys.readouterr().err and locked.read_bytes() == b"old"


# ------------------------------------------------------------------- never over what a data source reads

@pytest.fixture
def drawings(tmp_path, monkeypatch):
    """Twelve labelled drawings in a data folder of the test's own: the file --data drawings reads."""
    from cnncore.datasets import DRAWINGS_FILE, DrawingsDataset
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "data"))
    ds = DrawingsDataset(tmp_path / "data" / DRAWINGS_FILE)
    rng = np.random.default_rng(0)
    for k in range(12):
        ds.append(rng.integers(0, 256, (28, 28)).astype(np.uint8), k % 10)
    return ds.path


@pytest.mark.parametrize("command", [
    lambda m, out: ["train", "--arch", "tiny", "--data", "drawings", "--epochs", "1", "--out", str(out)],
    lambda m, out: ["trace", str(m), "--data", "drawings", "--index", "0", "--out", str(out)],
    lambda m, out: ["inspect", str(m), "--data", "drawings", "--index", "0", "--out", str(out)],
], ids=["train", "trace", "inspect"])
def test_no_command_writes_over_the_drawings_it_reads(model, drawings, capsys, command):
    """``train --data drawings --out <data folder>/my_digits.npz`` replaced the drawings and exited 0."""
    before = digest(drawings)
    err = refused(capsys, command(model, drawings), drawings)
    assert "same file" in err and digest(drawings) == before and temps(drawings.parent) == []


@pytest.mark.parametrize("command", [
    lambda m, out: ["train", "--arch", "tiny", "--data", "generated", "--count", "20", "--epochs", "1", "--out",
                    str(out)],
    lambda m, out: ["trace", str(m), *DATA, "--out", str(out)],
    lambda m, out: ["inspect", str(m), *DATA, "--out", str(out)],
    lambda m, out: ["export", str(m), "--to", "onnx", "--out", str(out)],
], ids=["train", "trace", "inspect", "onnx"])
def test_no_command_writes_over_the_drawings_it_does_not_read(model, drawings, capsys, command):
    """A tour: `train --data generated --out <data folder>/my_digits.npz` replaced the user's drawings
    with a model (exit 0), and the next `--data drawings` found them damaged. The drawings and the
    downloaded sets are kept whichever source a command reads."""
    before = digest(drawings)
    refused(capsys, command(model, drawings), drawings)
    assert digest(drawings) == before and temps(drawings.parent) == []


def _picture_folder(root):
    from PIL import Image
    for name, level in (("dark", 30), ("light", 220)):
        (root / name).mkdir(parents=True)
        for k in range(3):
            Image.new("L", (28, 28), level + k).save(root / name / f"{k}.png")
    return root


@pytest.mark.parametrize("how", ["same", "hardlink"])
def test_no_command_writes_over_a_picture_of_its_folder(model, tmp_path, capsys, how):
    folder = _picture_folder(tmp_path / "pictures")
    picture = folder / "light" / "1.png"
    out = _alias(picture, how) if how == "same" else tmp_path / "elsewhere.png"
    if how == "hardlink":
        os.link(picture, out)
    before = digest(picture)
    for argv in (["train", "--arch", "tiny", "--folder", str(folder), "--epochs", "1", "--out", str(out)],
                 ["trace", str(model), "--folder", str(folder), "--index", "0", "--out", str(out)]):
        err = refused(capsys, argv, picture)
        assert "same file" in err and digest(picture) == before


@pytest.mark.parametrize("key, name", [("mnist", "train-images-idx3-ubyte.gz"), ("fashion", "t10k-labels-idx1-ubyte.gz"),
                                       ("cifar10", "cifar-10-binary.tar.gz")])
def test_train_never_writes_over_a_downloaded_set(tmp_path, capsys, monkeypatch, key, name):
    """A downloaded set's files in the data folder are the source's: refused before it is fetched or read
    (here a stand-in for the download, which training on would have written over)."""
    from cnncore import datasets
    from cnncore.datasets.sources import source
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "data"))
    fetched = []
    rng = np.random.default_rng(0)
    monkeypatch.setattr(datasets, "load_download", lambda *a, **k: fetched.append(a) or (
        rng.integers(0, 256, (20, 28, 28)).astype(np.uint8), np.arange(20, dtype=np.uint8) % 10))
    monkeypatch.setattr(datasets, "load_cifar10", lambda *a, **k: fetched.append(a) or (
        rng.integers(0, 256, (20, 3, 32, 32)).astype(np.uint8), np.arange(20, dtype=np.uint8) % 10))
    target = tmp_path / "data" / source(key).download.folder / name
    target.parent.mkdir(parents=True)
    target.write_bytes(b"the downloaded set")
    arch = "cifar" if key == "cifar10" else "tiny"
    refused(capsys, ["train", "--arch", arch, "--data", key, "--epochs", "1", "--out", str(target)], target)
    assert target.read_bytes() == b"the downloaded set" and fetched == []


def test_the_files_a_source_reads_are_named_without_reading_them(tmp_path, monkeypatch):
    from cnncore.datasets import DRAWINGS_FILE, source_files
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "data"))
    folder = _picture_folder(tmp_path / "pictures")
    assert source_files("generated") == [] and source_files("idx") == []
    assert source_files("drawings") == [tmp_path / "data" / DRAWINGS_FILE]
    assert source_files("idx", files=("a", "b")) == [Path("a"), Path("b")]
    assert sorted(source_files("folder", files=folder)) == sorted(folder.glob("*/*.png"))
    assert source_files("folder", files=tmp_path / "missing") == []          # loading it says why
    assert len(source_files("kmnist")) == 4 and source_files("cifar10")[0].name == "cifar-10-binary.tar.gz"
    assert not (tmp_path / "data").exists()                                  # nothing made, nothing fetched


@pytest.mark.gui
def test_the_apps_save_never_replaces_the_idx_files_picked_in_the_train_tab(qtbot, tmp_path, monkeypatch):
    pytest.importorskip("PySide6")
    from cnnapp.main_window import MainWindow

    monkeypatch.setenv("CNNLAB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "data"))
    idx = tmp_path / "idx"
    idx.mkdir()
    images = write_idx(idx / "train-images-idx3-ubyte.gz", np.zeros((20, 28, 28), np.uint8))
    write_idx(idx / "train-labels-idx1-ubyte.gz", np.arange(20) % 10)
    window = MainWindow(load_settings=False)
    qtbot.addWidget(window)
    said = []
    window.session.message.connect(lambda text, ms: said.append(text))
    try:
        assert window.train.set_idx_folder(idx)
        before = digest(images)
        assert not window.save_model(images)
        assert "same file as the input" in said[-1] and digest(images) == before
        assert images in window.session.kept_files(model=False)
    finally:
        window.train.shutdown()


# ----------------------------------------------------------------------------- item 6: killed writers, full disks

_SLOW_WRITER = textwrap.dedent("""
    import sys, time
    from cnncore._atomic import atomic_write
    def write(f):
        f.write(b"x" * 100000)
        f.flush()
        print("writing", flush=True)
        time.sleep(600)
    atomic_write(sys.argv[1], write)
""")


def test_a_killed_writers_temporary_file_goes_with_the_next_write_in_its_folder(tmp_path):
    target, other = tmp_path / "m.npz", tmp_path / "other.npz"
    target.write_bytes(b"old")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(target)], stdout=subprocess.PIPE, env=env)
    with child:
        try:
            assert child.stdout.readline() == b"writing\n"
        finally:
            child.kill()
            child.wait(timeout=60)
    left = temps(tmp_path)
    assert len(left) == 1 and left[0].startswith(f".m.npz.{child.pid}.")        # named with its pid
    assert target.read_bytes() == b"old"
    # A live writer's file stays (this process's own pid stands for one in progress).
    mine = tmp_path / f".x.npz.{os.getpid()}.{_HOST}.abcdefgh.tmp"
    mine.write_bytes(b"in progress")
    atomic_write_bytes(other, b"new")              # another file of that folder, at once (not 10 minutes later)
    assert temps(tmp_path) == [mine.name] and other.read_bytes() == b"new"


def _full_disk(after: int):
    """A ``write`` that fills the disk after ``after`` bytes, as ``np.savez`` meets it."""
    def savez(f, **arrays):
        f.write(b"\0" * after)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return savez


def test_a_full_disk_names_the_file_and_keeps_the_old_one(model, tmp_path, capsys, monkeypatch):
    out = tmp_path / "look.npz"
    atomic_savez(out, {"old": np.arange(3)})
    before = digest(out)
    monkeypatch.setattr(np, "savez", _full_disk(4096))
    err = refused(capsys, ["inspect", str(model), *DATA, "--out", str(out)], out)
    assert "No space left on device" in err and "the old file is intact" in err and "[Errno" not in err
    assert digest(out) == before and temps(tmp_path) == []
    with pytest.raises(WriteFailed, match="nothing was written") as e:
        atomic_savez(tmp_path / "new.npz", {"a": np.arange(3)})
    assert e.value.errno == errno.ENOSPC and not (tmp_path / "new.npz").exists()


def test_a_full_disk_at_fsync_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "m.npz"
    target.write_bytes(b"old")

    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(WriteFailed) as e:
        atomic_write_bytes(target, b"new")
    assert str(e.value) == f"{target}: could not be written (No space left on device); the old file is intact"
    assert target.read_bytes() == b"old" and temps(tmp_path) == []


@pytest.mark.parametrize("command", ["train", "trace", "onnx"])
def test_an_out_that_ends_with_a_slash_names_a_folder_not_a_file(model, tmp_path, capsys, monkeypatch, command):
    """`train --out models/` wrote a file named models (and `--out keep.npz/` replaced keep.npz): a
    name ending with / is a folder's, refused as one; an export to PyTorch takes its folder so."""
    monkeypatch.chdir(tmp_path)
    save_model(tmp_path / "keep.npz", Network(preset("tiny"), seed=3))
    before = digest(tmp_path / "keep.npz")
    argv = {"train": ["train", "--arch", "tiny", "--data", "generated", "--count", "20", "--epochs", "1", "--out"],
            "trace": ["trace", str(model), *DATA, "--out"],
            "onnx": ["export", str(model), "--to", "onnx", "--out"]}[command]
    for out in ("models/", "keep.npz/"):
        err = refused(capsys, [*argv, out])
        assert "names a folder" in err
    assert not (tmp_path / "models").exists() and digest(tmp_path / "keep.npz") == before
    assert main(["export", str(model), "--to", "torch", "--out", "torch_out/"]) == 0
    assert (tmp_path / "torch_out" / "model.py").is_file()
    capsys.readouterr()


def test_a_name_the_file_system_cannot_take_is_one_line(tmp_path, capsys, monkeypatch):
    """A 300-character --out printed Python's "[Errno 36] File name too long: 'xxxx…'" in full."""
    monkeypatch.chdir(tmp_path)
    long = "x" * 300 + ".npz"
    err = refused(capsys, ["train", "--arch", "tiny", "--data", "generated", "--count", "20", "--epochs", "1",
                           "--out", long])
    assert "cannot be a file's name here" in err and "Errno" not in err and len(err) < 300


@pytest.mark.parametrize("content", [b"my notes on the model\n", b"\x89PNG\r\n\x1a\n" + bytes(40), b"PK\x03\x04rest"])
def test_an_onnx_export_replaces_an_onnx_model_and_nothing_merely_named_so(model, tmp_path, capsys, content):
    """An .onnx had no mark the writer could check: `export --to onnx --out notes.onnx` replaced a text,
    a picture or an archive named so. An ONNX model (a protobuf beginning with its IR version) is replaced."""
    pytest.importorskip("onnx")
    monkey = tmp_path / "notes.onnx"
    monkey.write_bytes(content)
    err = refused(capsys, ["export", str(model), "--to", "onnx", "--out", str(monkey)], monkey)
    assert "not a .onnx file" in err and monkey.read_bytes() == content
    fresh = tmp_path / "m.onnx"
    for _ in range(2):                                       # new, then an ONNX model over an ONNX model
        assert main(["export", str(model), "--to", "onnx", "--out", str(fresh)]) == 0
    assert fresh.read_bytes()[:1] == b"\x08"
    capsys.readouterr()


def test_an_out_inside_a_file_says_it_is_a_file_not_a_missing_folder(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    err = refused(capsys, ["train", "--arch", "tiny", "--data", "generated", "--count", "20", "--epochs", "1",
                           "--out", str(tmp_path / "notes.txt" / "m.npz")])
    assert "notes.txt is a file, not a folder" in err and (tmp_path / "notes.txt").read_text() == "mine"
    err = refused(capsys, ["train", "--arch", "tiny", "--data", "generated", "--count", "20", "--epochs", "1",
                           "--out", str(tmp_path / "nowhere" / "m.npz")])
    assert "the folder" in err and "does not exist" in err


def test_train_replaces_a_model_and_no_other_numpy_archive(tmp_path, capsys, monkeypatch):
    """`train --out arrays.npz` replaced a NumPy archive of the user's (a zip, so it passed the mark)."""
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "arrays.npz", weights=np.arange(5), labels=np.zeros(3))
    before = digest(tmp_path / "arrays.npz")
    train = ["train", "--arch", "tiny", "--data", "generated", "--count", "20", "--epochs", "1", "--quiet", "--out"]
    err = refused(capsys, [*train, "arrays.npz"], "arrays.npz")
    assert "a NumPy archive that is not a model (its arrays: labels, weights)" in err
    assert digest(tmp_path / "arrays.npz") == before
    assert main([*train, "m.npz"]) == 0 and main([*train, "m.npz"]) == 0       # a model over a model
    assert load_model(tmp_path / "m.npz").num_params() > 0


def test_an_onnx_export_named_without_its_extension_is_refused_before_it_is_written(model, tmp_path, capsys):
    """It was written with a note ("its name does not end in .onnx"), then refused the next time as a
    file that is not an ONNX model: every --out is named for its kind, and said so before any work (in
    English: "is an ONNX model", a tour read "is a ONNX model")."""
    pytest.importorskip("onnx")
    assert main(["export", str(model), "--to", "onnx", "--out", str(tmp_path / "mine")]) == 2
    err = capsys.readouterr().err
    assert "the file this writes is an ONNX model; give a name that ends in .onnx" in err
    assert not (tmp_path / "mine").exists()
    assert main(["export", str(model), "--to", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx").read_bytes()[:1] == b"\x08"


# ----------------------------------------------------------------------------- cnnlab's own files

@pytest.fixture
def starter():
    """The starter model every first launch starts with (of the cnnlab these tests import), put back as
    it was should a test write over it."""
    from cnncore.installation import assets_dir
    path = assets_dir() / "starter_model.npz"
    before = path.read_bytes()
    yield path
    if path.read_bytes() != before:
        path.write_bytes(before)
        pytest.fail("the starter model was written over (and has been put back)")


def test_the_writer_never_replaces_a_file_of_cnnlabs_own(starter, tmp_path):
    """A tour: Save model, browsing into the installation, wrote over assets/starter_model.npz. The one
    writer refuses every file of cnnlab's packages and assets, by any name (a link of the user's to it
    too), and writes nothing new among them."""
    import cnncore
    from cnncore._atomic import OwnFile
    with pytest.raises(OwnFile, match=r"starter_model\.npz is one of cnnlab's own files: it is not replaced; "
                                      r"save under another name, in a folder of your own \(nothing was written\)"):
        atomic_savez(starter, {"x": np.zeros(3)})
    link = tmp_path / "mine.npz"
    link.symlink_to(starter)
    with pytest.raises(OwnFile, match="mine.npz is one of cnnlab's own files"):
        atomic_savez(Output(link), {"x": np.zeros(3)})
    new = Path(cnncore.__file__).resolve().parent / f"written-by-a-test-{os.getpid()}.npz"
    try:
        with pytest.raises(OwnFile, match="is one of cnnlab's own folders, where nothing is saved; save in a "
                                          "folder of your own"):
            atomic_write_bytes(new, b"x")
        assert not new.exists()
    finally:
        new.unlink(missing_ok=True)
    assert temps(starter.parent) == []
    atomic_write_bytes(tmp_path / "starter_model.npz", starter.read_bytes())     # (elsewhere: a file like any)


def test_no_command_writes_over_the_starter_model(model, starter, capsys):
    err = refused(capsys, ["trace", str(model), *DATA, "--out", str(starter)], starter)
    assert "is one of cnnlab's own files" in err


def test_cnnlabs_own_folders_are_found_installed_and_in_a_checkout(tmp_path):
    """Installed, the assets are cnnapp/assets (an `assets` folder beside the packages in site-packages is
    another project's, neither used nor refused); in a checkout, the root's assets/."""
    from cnncore.installation import assets_dir, own_folder_of, own_folders
    site, repo = tmp_path / "site-packages", tmp_path / "checkout"
    for folder in (site / "cnncore", site / "cnnapp" / "assets", site / "assets", repo / "cnncore",
                   repo / "cnnapp", repo / "assets", repo / "tests"):
        folder.mkdir(parents=True)
    assert assets_dir(site / "cnncore") == site / "cnnapp" / "assets"
    assert set(own_folders(site / "cnncore")) == {(site / p).resolve() for p in ("cnncore", "cnnapp",
                                                                                  "cnnapp/assets")}
    assert own_folder_of(site / "cnnapp" / "assets" / "starter_model.npz", site / "cnncore") is not None
    assert own_folder_of(site / "assets" / "x.npz", site / "cnncore") is None
    assert own_folder_of(site / "cnnappx" / "x.npz", site / "cnncore") is None       # (a name that begins so)
    assert assets_dir(repo / "cnncore") == repo / "assets"
    assert own_folder_of(repo / "assets" / "starter_model.npz", repo / "cnncore") == (repo / "assets").resolve()
    assert own_folder_of(repo / "tests" / "m.npz", repo / "cnncore") is None
    assert own_folder_of(repo / "m.npz", repo / "cnncore") is None


def test_an_own_folder_reached_by_a_name_that_realpath_keeps_is_still_cnnlabs(tmp_path, monkeypatch):
    """macOS's file system ignores case, and its realpath keeps the letters as given: ".../CNNAPP/Assets/x.npz"
    (or a folder mounted at a second place, on any system) is cnnapp/assets by another name, and a comparison
    of names alone let the writer save there. Simulated here with a link to the folder and a realpath that
    resolves nothing: the folder is told by what it is, not by its name."""
    from cnncore import installation
    site = tmp_path / "site-packages"
    for folder in (site / "cnncore", site / "cnnapp" / "assets"):
        folder.mkdir(parents=True)
    alias = tmp_path / "ASSETS"
    alias.symlink_to(site / "cnnapp" / "assets", target_is_directory=True)
    assert installation.own_folder_of(alias / "x.npz", site / "cnncore") is not None       # (links are resolved)
    monkeypatch.setattr(installation.os.path, "realpath", os.path.abspath)      # (as macOS's keeps another case)
    assert installation.own_folder_of(alias / "x.npz", site / "cnncore") == site / "cnnapp" / "assets"
    assert installation.own_folder_of(alias, site / "cnncore") == site / "cnnapp" / "assets"
    assert installation.own_folder_of(tmp_path / "elsewhere" / "x.npz", site / "cnncore") is None
    assert installation.own_folder_of(tmp_path / "x.npz", site / "cnncore") is None
