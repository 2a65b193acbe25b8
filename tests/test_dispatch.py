"""The kernels build picked at run time (cnncore._dispatch): every build present gives the NumPy
twin's numbers, the choice follows the CPU's features, and nothing bypasses the dispatch."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cnncore import _dispatch

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh process (the build is chosen once, on import): kernels vs the twin, float32 and float64.
_CHECK = r"""
import json, sys
import numpy as np
import cnncore
from cnncore import _dispatch, kernels as k, reference as r
rng = np.random.default_rng(0)
worst = 0.0
for dt in (np.float32, np.float64):
    x = rng.normal(size=(3, 2, 13, 11)).astype(dt)
    w = rng.normal(size=(5, 2, 3, 4)).astype(dt)
    b = rng.normal(size=5).astype(dt)
    z = k.conv2d_forward(x, w, b, (2, 1), (1, 2))
    dz = rng.normal(size=z.shape).astype(dt)
    pairs = [(z, r.conv2d_forward(x, w, b, (2, 1), (1, 2)))]
    pairs += list(zip(k.conv2d_backward(dz, x, w, (2, 1), (1, 2)), r.conv2d_backward(dz, x, w, (2, 1), (1, 2))))
    pairs += [(k.maxpool2d_forward(x, 2)[0], r.maxpool2d_forward(x, 2)[0]),
              (k.avgpool2d_forward(x, 3, 2), r.avgpool2d_forward(x, 3, 2)),
              (k.l2pool2d_forward(x, 2, 1), r.l2pool2d_forward(x, 2, 1))]
    for got, want in pairs:
        scale = max(1.0, float(np.abs(want).max()))
        worst = max(worst, float(np.abs(got - want).max()) / scale / (1e-5 if dt == np.float32 else 1e-12))
print(json.dumps({"build": _dispatch.VARIANT, "module": _dispatch._kernels.__name__, "worst": worst}))
"""


def _run(build: str) -> dict:
    env = dict(os.environ, CNNCORE_KERNELS=build)
    out = subprocess.run([sys.executable, "-c", _CHECK], env=env, capture_output=True, text=True, timeout=300,
                         cwd=str(Path(_dispatch.__file__).resolve().parents[1]))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("build", [name for name, _, _ in _dispatch.BUILDS])
def test_every_build_present_gives_the_twins_numbers(build):
    if build not in _dispatch.available():
        pytest.skip(f"no {build} build here (a native build has one; a generic x86-64 build has three) "
                    "or this CPU cannot run it")
    result = _run(build)
    assert result["build"] == build and result["module"].endswith(dict((n, m) for n, m, _ in _dispatch.BUILDS)[build])
    assert result["worst"] <= 1.0, result        # within 1e-5 (float32) or 1e-12 (float64) of the twin


def test_the_fastest_build_the_cpu_has_runs_by_default():
    if os.environ.get("CNNCORE_KERNELS"):
        pytest.skip("CNNCORE_KERNELS asks for a build in this run")
    assert _dispatch.VARIANT == _dispatch.available()[0]
    assert _dispatch.available()[-1] == "base"


def test_the_choice_follows_the_cpu_features(monkeypatch):
    present = set(_dispatch.available())
    monkeypatch.delenv("CNNCORE_KERNELS", raising=False)
    monkeypatch.setattr(_dispatch, "_cpu_features", lambda: {})                 # an old x86-64 or an arm64
    assert _dispatch._load()[0] == "base"
    monkeypatch.setattr(_dispatch, "_cpu_features", lambda: {"AVX2": True, "FMA3": True, "F16C": True})
    assert _dispatch._load()[0] == ("avx2" if "avx2" in present else "base")
    monkeypatch.setenv("CNNCORE_KERNELS", "avx512")                             # asked for, but not on this CPU
    assert _dispatch._load()[0] == ("avx2" if "avx2" in present else "base")


def test_nothing_imports_a_kernels_build_but_the_dispatch():
    pattern = re.compile(r"^\s*(from\s+(cnncore|\.)\s+import\s+_kernels|import\s+cnncore\._kernels"
                         r"|from\s+(cnncore)?\._kernels(_\w+)?\s+import)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "cnncore").rglob("*.py"))
                 if p.name != "_dispatch.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
