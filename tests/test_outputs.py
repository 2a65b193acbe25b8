"""The one writer (``cnncore._atomic``): no command replaces a file it reads, a killed writer's
temporary files go with the next write, a full disk names the file and keeps the old one."""
from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import textwrap

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


@pytest.mark.parametrize("how", ["same", "dot", "hardlink", "symlink"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_command_writes_over_the_model_it_reads(model, capsys, command, how):
    out = _alias(model, how)
    before = digest(model)
    err = refused(capsys, COMMANDS[command](model, out), model)
    assert "same file" in err and str(out).replace("/./", "/") in err
    assert digest(model) == before and load_model(model).num_params() > 0
    assert temps(model.parent) == []


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
