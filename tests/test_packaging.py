"""What `pip install .` puts on a user's machine: every module, the presets and the assets.

The tests import the working tree, so a package missing from setup.py would
pass them all and still break the installed app. This builds the pure-Python
part of the distribution (setuptools' build_py: no compiling) and compares it
with the source tree.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not (ROOT / "setup.py").exists():
        pytest.skip("not a source checkout")
    out = tmp_path_factory.mktemp("build_py")
    proc = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_every_module_is_installed(built):
    missing = [str(p.relative_to(ROOT)) for pkg in ("cnncore", "cnnapp")
               for p in (ROOT / pkg).rglob("*.py") if not (built / p.relative_to(ROOT)).exists()]
    assert not missing, f"pip install would leave out: {missing}"


def test_assets_and_presets_are_installed(built):
    assets = sorted(p.name for p in (ROOT / "assets").iterdir() if p.is_file())
    assert "starter_model.npz" in assets and "questions.json" in assets
    for name in assets:
        assert (built / "cnnapp" / "assets" / name).exists(), f"assets/{name} is not installed"
    presets = sorted(p.name for p in (ROOT / "cnncore" / "presets").glob("*.json"))
    assert presets
    for name in presets:
        assert (built / "cnncore" / "presets" / name).exists(), f"preset {name} is not installed"


def test_every_kernel_header_triggers_a_rebuild():
    """``build_ext --inplace`` recompiles the kernels only when a file in their ``depends`` changed:
    a header missing there leaves the old kernels running (and tested) after an edit to it."""
    import re
    text = (ROOT / "setup.py").read_text(encoding="utf-8")
    found = re.search(r"depends=\[(.*?)\]", text, re.S)
    assert found, "setup.py names no depends for the kernels"
    listed = set(re.findall(r"[\"']([^\"']+)[\"']", found.group(1)))
    headers = {f"cnncore/{p.name}" for p in (ROOT / "cnncore").glob("*.h")}
    assert headers and not headers - listed, f"not in the kernels' depends: {sorted(headers - listed)}"


def test_the_installed_starter_model_is_never_written_over(built, tmp_path):
    """Installed, the assets are cnnapp/assets: the app finds the starter model there and the one writer
    refuses it (a tour's Save model, browsing into the installation, wrote over it). Run on the built
    tree, with the kernels compiled here."""
    import shutil
    kernels = list((ROOT / "cnncore").glob("_kernels*"))
    if not kernels:
        pytest.skip("the kernels are not built in this checkout")
    for k in kernels:
        shutil.copy2(k, built / "cnncore" / k.name)
    script = (
        "import numpy, sys\n"
        "from cnnapp.settings import starter_model_path\n"
        "from cnncore import atomic_savez\n"
        "path = starter_model_path()\n"
        "before = path.read_bytes()\n"
        "try:\n"
        "    atomic_savez(path, {'x': numpy.zeros(3)})\n"
        "except OSError as e:\n"
        "    print(e)\n"
        "print(path)\n"
        "sys.exit(0 if path.read_bytes() == before else 1)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**env, "PYTHONPATH": str(built), "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said, where = proc.stdout.splitlines()[-2:]
    assert Path(where) == built / "cnnapp" / "assets" / "starter_model.npz"
    assert said == f"{where} is one of cnnlab's own files: it is not replaced; save under another name, in a " \
                   "folder of your own (nothing was written)"
