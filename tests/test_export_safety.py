"""Exports that cannot run what a file says, and a PyTorch export that is one unit.

* A model's title (its file name), data set and class names go into ``model.py`` as data
  (``repr()`` of constants): hostile strings are imported in a child process and nothing runs.
* ``weights.npz``, ``model.py`` and, last, ``export.json``: every target is checked before any is
  written, and ``load_model()`` refuses, in one line, a pair from two exports (one interrupted),
  while a ``model.py`` the learner edited still loads.
"""
from __future__ import annotations

import errno
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cnnapp.cli import main
from cnncore import OutputRefused
from cnncore.export import (MANIFEST_FILE, MANIFEST_FORMAT, MODEL_FILE, WEIGHTS_FILE, ExportError, _check_module,
                            export_onnx, export_torch, torch_source)
from cnncore.modelio import save_model
from cnncore.network import Network
from test_export import _images, _net

BREAKOUT = '"""; __import__("os").mkdir("PWNED"); """'
HOSTILE = [
    BREAKOUT,
    "'''; __import__('os').mkdir('PWNED'); '''",
    "\\\"\"\"\n__import__('os').mkdir('PWNED')\n#",                   # a backslash before the quotes
    "x\n__import__('os').mkdir('PWNED')",                              # a line break out of a comment
    "\\N{BULLET} \\x00 \\u2028 \\",                                    # escapes that are text here
    "a\u2028__import__('os').mkdir('PWNED')\u0085b\x0c\r",            # line separators Python or editors see
    "nul\x00byte", "surrogate \udcff", "{title} $title %s {0}",
]
#: Printable ones, which a model file may hold (its loader refuses other class names and data sets).
PRINTABLE = [s for s in HOSTILE if s.isprintable()]


def _hostile_net(k: int) -> Network:
    net = _net("pools")
    texts = HOSTILE[k:] + HOSTILE[:k]
    net.learns([f"{t[:30]}{i}" for i, t in enumerate((texts * 2)[:10])], texts[1])
    return net


_IMPORT_ALL = textwrap.dedent("""
    import importlib.util, json, sys
    import numpy as np, torch
    out = []
    for folder in sys.argv[1:]:
        spec = importlib.util.spec_from_file_location(f"m{len(out)}", folder + "/model.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        x = torch.from_numpy(np.load(sys.argv[1] + "/../images.npy"))
        with torch.no_grad():
            logits = module.load_model()(x).numpy().tolist()
        out.append({"title": module.TITLE, "dataset": module.DATASET, "classes": list(module.CLASSES),
                    "logits": logits})
    print(json.dumps(out))
""")


def _import_in_a_child(sandbox, folders) -> list:
    """Import every ``folder/model.py`` in a child process whose working folder is ``sandbox``;
    returns what each holds and its logits of :func:`_images`."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    np.save(folders[0].parent / "images.npy", _images())
    run = subprocess.run([sys.executable, "-c", _IMPORT_ALL, *map(str, folders)], cwd=sandbox, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


def test_hostile_titles_data_sets_and_class_names_are_data_in_model_py(tmp_path):
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (tmp_path / "exports").mkdir()
    nets, folders = [], []
    for k, title in enumerate(HOSTILE):
        nets.append(_hostile_net(k))
        folders.append(export_torch(nets[-1], tmp_path / "exports" / f"e{k}", title)[0].parent)
    got = _import_in_a_child(sandbox, folders)
    assert os.listdir(sandbox) == [] and not list(tmp_path.rglob("PWNED"))      # nothing ran
    for net, title, seen in zip(nets, HOSTILE, got):
        assert seen["title"] == title and seen["dataset"] == net.dataset and tuple(seen["classes"]) == net.classes
        np.testing.assert_allclose(seen["logits"], net.forward(_images(), keep=False), rtol=0, atol=1e-4)


def test_hostile_file_names_and_model_texts_through_the_command_line(tmp_path, capsys):
    """The title is the model's file name: anything a file name can hold, quotes and line breaks too."""
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    sandbox, models = tmp_path / "sandbox", tmp_path / "models"
    sandbox.mkdir()
    models.mkdir()
    names = [BREAKOUT + ".npz", "x\n__import__('os').mkdir('PWNED')\n#.npz", "\\\"\"\"\u2028\u0085.npz",
             "\udcff\"\"\"; __import__('os').mkdir('PWNED') #.npz"]
    folders = []
    for k, name in enumerate(names):
        net = _net("pools")
        net.learns([f"{PRINTABLE[(k + i) % len(PRINTABLE)][:30]}{i}" for i in range(10)], PRINTABLE[k % len(PRINTABLE)])
        save_model(models / name, net)
        folders.append(tmp_path / "exports" / f"e{k}")
        folders[-1].parent.mkdir(exist_ok=True)
        assert main(["export", str(models / name), "--to", "torch", "--out", str(folders[-1])]) == 0, \
            capsys.readouterr().err
    got = _import_in_a_child(sandbox, folders)
    assert os.listdir(sandbox) == [] and not list(tmp_path.rglob("PWNED"))
    assert [g["title"] for g in got] == names
    assert [g["dataset"] for g in got] == [PRINTABLE[k % len(PRINTABLE)] for k in range(len(names))]


def test_the_generated_module_is_checked_before_it_is_written():
    net = _net("pools")
    text = torch_source(net, "t", "ab")
    constants = {"TITLE": "t", "DATASET": "", "CLASSES": net.classes, "WEIGHTS": {0: "L0", 3: "L2", 7: "L5", 9: "L6"},
                 "WEIGHTS_SHA256": "ab"}
    _check_module(text, constants)                                      # the real one passes
    for bad in (text.replace("\nTITLE = 't'\n", "\nTITLE = 't'\n__import__('os')\n"),       # a statement that runs
                text.replace("\nTITLE = 't'\n", "\nTITLE = str(1)\n"),                     # a value computed
                text.replace("\nTITLE = 't'\n", "\nTITLE = 'u'\n"),                        # another value
                text.replace("import hashlib\n", "import os\n"),
                text.replace("def build()", "@print\ndef build()"),
                text.replace("def load_model(path=None,", "def load_model(path=print(),"),
                text + "\n)"):
        with pytest.raises(ExportError, match="model.py"):
            _check_module(bad, constants)


def test_onnx_metadata_carries_hostile_strings_as_data(tmp_path):
    onnx = pytest.importorskip("onnx")
    for k, title in enumerate(HOSTILE):
        net = _hostile_net(k)
        model = onnx.load(str(export_onnx(net, tmp_path / f"m{k}.onnx", title)))
        props = {p.key: p.value for p in model.metadata_props}
        assert json.loads(props["classes"]) == list(net.classes)       # JSON text: even a lone surrogate comes back
        assert props["dataset"] == net.dataset.encode("utf-8", "backslashreplace").decode()
        assert model.doc_string == title.encode("utf-8", "backslashreplace").decode()
    ort = pytest.importorskip("onnxruntime")
    got = ort.InferenceSession(str(tmp_path / "m0.onnx")).run(["logits"], {"input": _images()})[0]
    np.testing.assert_allclose(got, _hostile_net(0).forward(_images(), keep=False), rtol=0, atol=1e-4)


# ----------------------------------------------------------------------------- item 4: one unit

def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load(folder, name, **kw):
    spec = importlib.util.spec_from_file_location(name, folder / MODEL_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_model(**kw)


def test_the_manifest_is_written_last_and_records_both_files(tmp_path, monkeypatch):
    from cnncore import _atomic

    order, replace = [], os.replace
    monkeypatch.setattr(_atomic.os, "replace", lambda a, b: (order.append(os.path.basename(b)), replace(a, b)))
    net = _net("pools")
    net.learns([f"c{i}" for i in range(10)], "set")
    model_path, weights_path = export_torch(net, tmp_path)
    assert order == [WEIGHTS_FILE, MODEL_FILE, MANIFEST_FILE]
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest == {"format": MANIFEST_FORMAT, "input_shape": [1, 28, 28], "classes": [f"c{i}" for i in range(10)],
                        "files": {WEIGHTS_FILE: _sha(weights_path), MODEL_FILE: _sha(model_path)}}
    assert f"\nWEIGHTS_SHA256 = '{_sha(weights_path)}'\n" in model_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["fifo", "folder"])
@pytest.mark.parametrize("name", [MODEL_FILE, MANIFEST_FILE])
def test_every_target_is_checked_before_any_is_written(tmp_path, capsys, kind, name):
    out = tmp_path / "out"
    export_torch(_net("pools"), out)
    before = {p.name: _sha(p) for p in out.iterdir()}
    (out / name).unlink()
    os.mkfifo(out / name) if kind == "fifo" else (out / name).mkdir()
    del before[name]
    with pytest.raises(OutputRefused, match=name):
        export_torch(_net("resampling"), out)
    assert {p.name: _sha(p) for p in out.iterdir() if p.is_file()} == before       # weights.npz untouched
    save_model(tmp_path / "m.npz", _net("resampling"))
    assert main(["export", str(tmp_path / "m.npz"), "--to", "torch", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out / name) in err
    assert {p.name: _sha(p) for p in out.iterdir() if p.is_file()} == before


class _Killed(BaseException):
    """Stands for a SIGKILL: nothing after it runs."""


def _interrupted(monkeypatch, folder, net, renames: int):
    """Export ``net`` over ``folder``, stopped after ``renames`` of its three renames."""
    from cnncore import _atomic

    done, replace = [], os.replace

    def stop(a, b):
        if len(done) == renames:
            raise _Killed
        done.append(b)
        replace(a, b)
    with monkeypatch.context() as m:
        m.setattr(_atomic.os, "replace", stop)
        with pytest.raises(_Killed):
            export_torch(net, folder)


@pytest.mark.parametrize("renames", [1, 2])
def test_an_interrupted_export_is_refused_in_one_line(tmp_path, monkeypatch, renames):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    old, new = _net("pools"), _net("resampling")
    export_torch(old, tmp_path)
    _interrupted(monkeypatch, tmp_path, new, renames)          # new weights; old or new model.py; old manifest
    with pytest.raises(Exception, match="this export was interrupted or edited: model.py and weights.npz are "
                                        "from different exports; export again") as e:
        _load(tmp_path, f"interrupted{renames}")
    assert type(e.value).__name__ == "ExportMismatch" and "\n" not in str(e.value)
    export_torch(new, tmp_path)                                # exporting again mends it
    with torch.no_grad():
        got = _load(tmp_path, f"again{renames}")(torch.from_numpy(_images())).numpy()
    np.testing.assert_allclose(got, new.forward(_images(), keep=False), rtol=0, atol=1e-4)


def test_a_first_export_interrupted_before_its_manifest_loads_its_matching_files(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    _interrupted(monkeypatch, tmp_path, _net("pools"), 2)
    assert sorted(os.listdir(tmp_path)) == [MODEL_FILE, WEIGHTS_FILE]
    assert not _load(tmp_path, "first").training


def test_an_edited_model_py_still_loads_and_other_weights_need_check_false(tmp_path):
    torch = pytest.importorskip("torch")
    net = _net("pools")
    export_torch(net, tmp_path)
    source = tmp_path / MODEL_FILE
    source.write_text(source.read_text(encoding="utf-8").replace("nn.ReLU()", "nn.ReLU(inplace=True)")
                      + "\n# my notes\n", encoding="utf-8")
    with torch.no_grad():
        got = _load(tmp_path, "edited")(torch.from_numpy(_images())).numpy()
    np.testing.assert_allclose(got, net.forward(_images(), keep=False), rtol=0, atol=1e-4)
    # Weights of another export (the same layers, trained anew) put in on purpose:
    other = _net("pools", seed=5)
    export_torch(other, tmp_path / "other")
    os.replace(tmp_path / "other" / WEIGHTS_FILE, tmp_path / WEIGHTS_FILE)
    with pytest.raises(Exception, match=r"check=False"):
        _load(tmp_path, "swapped")
    with torch.no_grad():
        got = _load(tmp_path, "swapped2", check=False)(torch.from_numpy(_images())).numpy()
    np.testing.assert_allclose(got, other.forward(_images(), keep=False), rtol=0, atol=1e-4)
    # build() edited to other layers: the shapes say which module no longer fits.
    source.write_text(source.read_text(encoding="utf-8").replace("nn.Conv2d(1, 3,", "nn.Conv2d(1, 5,"),
                      encoding="utf-8")
    with pytest.raises(ValueError, match=r"L0.W in weights.npz has shape \(3, 1, 3, 2\), but module \[0\]"):
        _load(tmp_path, "rebuilt", check=False)


def test_an_export_never_replaces_a_model_py_edited_by_hand_or_the_users_own(tmp_path):
    """The README says "edit model.py as you like": exporting again into the folder replaced the
    edits without a word, as it did a student's own model.py and a notes file named export.json. A
    model.py is replaced only while its last line's seal holds (an export wrote it, nobody edited it)."""
    from cnncore import OutputRefused
    export_torch(_net("pools"), tmp_path)
    export_torch(_net("resampling"), tmp_path)                       # untouched: replaced
    source = tmp_path / MODEL_FILE
    edited = source.read_text(encoding="utf-8").replace("import torch", "import torch  # mine", 1)
    source.write_text(edited, encoding="utf-8")
    with pytest.raises(OutputRefused, match="model.py is not a file an export wrote, as it wrote it.*export to "
                                            "another folder"):
        export_torch(_net("pools"), tmp_path)
    assert source.read_text(encoding="utf-8") == edited
    own = tmp_path / "mine"
    own.mkdir()
    (own / MODEL_FILE).write_text("print('my own model')\n")
    (own / MANIFEST_FILE).write_text("my notes\n")
    with pytest.raises(OutputRefused, match="not a file an export wrote"):
        export_torch(_net("pools"), own)
    assert (own / MODEL_FILE).read_text() == "print('my own model')\n" and not (own / WEIGHTS_FILE).exists()


@pytest.mark.skipif(os.name != "posix", reason="symbolic links as POSIX has them")
@pytest.mark.parametrize("link, to", [(MODEL_FILE, WEIGHTS_FILE), (MANIFEST_FILE, WEIGHTS_FILE),
                                      (MODEL_FILE, "../trained.npz")])
def test_an_export_s_file_that_is_a_link_to_another_is_refused(tmp_path, link, to):
    """model.py a link to weights.npz (or to a model elsewhere): the export wrote its Python over the
    weights (or the model), exit 0."""
    from cnncore import OutputRefused
    from cnncore.modelio import save_model
    out = tmp_path / "out"
    export_torch(_net("pools"), out)
    save_model(tmp_path / "trained.npz", _net("pools"))
    before = {p.name: p.read_bytes() for p in (out / WEIGHTS_FILE, tmp_path / "trained.npz")}
    (out / link).unlink()
    (out / link).symlink_to(to)
    with pytest.raises(OutputRefused):
        export_torch(_net("resampling"), out)
    assert {p.name: p.read_bytes() for p in (out / WEIGHTS_FILE, tmp_path / "trained.npz")} == before


def test_an_export_from_before_the_seal_is_replaced_and_a_link_into_another_export_is_not(tmp_path):
    """An export written before model.py carried its seal was refused forever (its manifest records the
    text's SHA-256: that is enough); b/model.py a link to a/model.py rewrote a's and broke it."""
    from cnncore import OutputRefused
    from cnncore.export import SEAL
    old = tmp_path / "old"
    export_torch(_net("pools"), old)
    text = (old / MODEL_FILE).read_text(encoding="utf-8")
    unsealed = text[:text.index(SEAL)]
    (old / MODEL_FILE).write_text(unsealed, encoding="utf-8", newline="")
    manifest = json.loads((old / MANIFEST_FILE).read_text())
    manifest["files"][MODEL_FILE] = hashlib.sha256(unsealed.encode("utf-8")).hexdigest()
    (old / MANIFEST_FILE).write_text(json.dumps(manifest))
    export_torch(_net("resampling"), old)                             # an untouched older export: replaced
    assert SEAL in (old / MODEL_FILE).read_text(encoding="utf-8")
    a, b = tmp_path / "a", tmp_path / "b"
    export_torch(_net("pools"), a)
    export_torch(_net("pools"), b)
    if os.name != "posix":
        return
    kept = (a / MODEL_FILE).read_bytes()
    (b / MODEL_FILE).unlink()
    (b / MODEL_FILE).symlink_to(a / MODEL_FILE)
    with pytest.raises(OutputRefused, match="is a link"):
        export_torch(_net("resampling"), b)
    assert (a / MODEL_FILE).read_bytes() == kept


def test_an_export_whose_lines_git_turned_into_crlf_is_still_replaced_and_an_edit_is_not(tmp_path):
    """A model.py checked out by Git on Windows (CR LF line ends, nothing else changed) was "edited
    since": a new export refused to replace it. Its seal holds over the same text; a changed line
    still breaks it."""
    from cnncore import OutputRefused
    out = tmp_path / "out"
    export_torch(_net("pools"), out)
    text = (out / MODEL_FILE).read_bytes()
    (out / MODEL_FILE).write_bytes(text.replace(b"\n", b"\r\n"))
    export_torch(_net("resampling"), out)
    assert (out / MODEL_FILE).read_bytes() != text and b"\r\n" not in (out / MODEL_FILE).read_bytes()
    edited = (out / MODEL_FILE).read_bytes().replace(b"\n", b"\r\n").replace(b"import", b"import ", 1)
    (out / MODEL_FILE).write_bytes(edited)
    with pytest.raises(OutputRefused):
        export_torch(_net("pools"), out)
    assert (out / MODEL_FILE).read_bytes() == edited


@pytest.mark.parametrize("what", ["model", "arrays"])
def test_a_model_or_ones_own_arrays_named_weights_npz_are_never_replaced(tmp_path, what):
    """``cnnapp train --out weights.npz`` then an export into that folder replaced the trained model
    with the export's weights ("wrote model.py, weights.npz and export.json", exit 0); so it did one's
    own np.savez arrays. A weights.npz is replaced only when an export wrote it."""
    from cnncore import OutputRefused
    from cnncore.modelio import save_model
    out = tmp_path / "out"
    out.mkdir()
    if what == "model":
        save_model(out / WEIGHTS_FILE, _net("pools"))
    else:
        np.savez(out / WEIGHTS_FILE, mine=np.arange(3))
    kept = (out / WEIGHTS_FILE).read_bytes()
    with pytest.raises(OutputRefused, match=WEIGHTS_FILE):
        export_torch(_net("resampling"), out)
    assert (out / WEIGHTS_FILE).read_bytes() == kept and sorted(os.listdir(out)) == [WEIGHTS_FILE]



def _disk_full_at(n: int, real=os.fdopen):
    """An ``os.fdopen`` under which the ``n``-th file opened to be written finds the disk full."""
    opened = []

    def fdopen(fd, *a, **k):
        if "w" not in (a[0] if a else k.get("mode", "r")):
            return real(fd, *a, **k)
        opened.append(fd)
        if len(opened) == n:
            os.close(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, *a, **k)
    return fdopen


def test_a_full_disk_leaves_an_export_folder_as_it_was(tmp_path, monkeypatch):
    """With the disk full at the second or third of an export's files, the first (or the first two)
    stayed behind beside a message saying "nothing was written": the three are written together."""
    from cnncore import WriteFailed, _atomic
    for full_at in (1, 2, 3):
        out = tmp_path / f"out{full_at}"
        with monkeypatch.context() as m:
            m.setattr(_atomic.os, "fdopen", _disk_full_at(full_at))
            with pytest.raises(WriteFailed, match="nothing was written"):
                export_torch(_net("pools"), out)
        assert os.listdir(out) == []                                  # (no temporary file either)
    old = tmp_path / "old"
    export_torch(_net("pools"), old)
    before = {p.name: p.read_bytes() for p in old.iterdir()}
    with monkeypatch.context() as m:
        m.setattr(_atomic.os, "fdopen", _disk_full_at(3))
        with pytest.raises(WriteFailed, match="the old file is intact"):
            export_torch(_net("resampling"), old)
    assert {p.name: p.read_bytes() for p in old.iterdir()} == before


def test_weights_an_earlier_version_left_behind_are_replaced_by_the_next_export(tmp_path):
    """An export of an earlier version interrupted after its weights.npz (no mark in it; the old manifest
    records other weights, or none) kept every later export out of the folder: weights.npz holding
    layers' weights and biases only is an export's, and is replaced."""
    out = tmp_path / "out"
    out.mkdir()
    np.savez(out / WEIGHTS_FILE, **{k: np.asarray(v, np.float32) for k, v in _net("pools").params().items()})
    export_torch(_net("resampling"), out)
    from cnncore.export import EXPORT_MARK
    with np.load(out / WEIGHTS_FILE) as f:
        assert EXPORT_MARK in f.files


def test_a_move_into_place_that_fails_midway_says_what_was_replaced(tmp_path, monkeypatch):
    """An antivirus holding model.py open (EACCES on Windows) after weights.npz was moved into place:
    the message said "the old file is intact" while weights.npz had changed."""
    from cnncore import WriteFailed, _atomic
    out = tmp_path / "out"
    export_torch(_net("pools"), out)
    real = os.replace

    def held_open(a, b):
        if os.path.basename(b) == MODEL_FILE:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(a, b)
    monkeypatch.setattr(_atomic.os, "replace", held_open)
    with pytest.raises(WriteFailed, match="weights.npz was replaced already, the rest not: write them again"):
        export_torch(_net("resampling"), out)
    assert sorted(os.listdir(out)) == [MANIFEST_FILE, MODEL_FILE, WEIGHTS_FILE]      # (no temporary file left)


def test_an_export_into_cnnlabs_own_folders_makes_no_folder_there():
    """An export is refused among cnnlab's own files, "(nothing was written)": yet the export's folder was
    made first, and an empty assets/mymodel stayed in the installation after every such refusal."""
    from cnncore._atomic import OwnFile
    from cnncore.installation import assets_dir
    folder = assets_dir() / f"export-by-a-test-{os.getpid()}"
    try:
        with pytest.raises(OwnFile, match=r"is one of cnnlab's own folders, where nothing is saved; export to "
                                          r"another folder \(nothing was written\)"):
            export_torch(_net("pools"), folder)
        assert not folder.exists()
    finally:
        if folder.is_dir():
            for f in folder.iterdir():
                f.unlink()
            folder.rmdir()
