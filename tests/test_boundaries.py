"""cnncore computes with no Qt and cnnapp imports in layers: the import-linter contracts in
pyproject.toml hold, and importing every cnncore module in a fresh interpreter loads no Qt."""
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cnncore

ROOT = Path(__file__).resolve().parents[1]


def _env():
    root = Path(cnncore.__file__).resolve().parents[1]
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))


def test_cnncore_modules_load_no_qt():
    names = sorted(m.name for m in pkgutil.walk_packages(cnncore.__path__, "cnncore."))
    assert "cnncore.kernels" in names
    code = ("import importlib, sys\n"
            f"for n in {names!r}: importlib.import_module(n)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'cnnapp'))\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"cnncore pulled in: {out.stdout.strip()}"


def test_import_linter_contract_holds():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(lint).exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]' brings it)")
    out = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], capture_output=True,
                         text=True, cwd=ROOT, env=_env(), timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "4 kept, 0 broken" in out.stdout


def test_cnnapp_uses_only_cnncores_public_modules():
    """The app reaches cnncore's helpers through their public names (``from cnncore import
    atomic_write_text``), never through a private module such as ``cnncore._atomic``."""
    import re
    private = []
    for path in sorted((ROOT / "cnnapp").rglob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\bcnncore(\.[a-z]\w*)*\._[a-z]", line):
                private.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert private == []
