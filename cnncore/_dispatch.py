"""Which build of the kernels this process runs: the fastest one the CPU has.

A portable build (``CNNCORE_ARCH=generic``, as in the wheels) on x86-64 holds the kernels three
times, compiled from the same source: for any x86-64 CPU (``cnncore._kernels``), for AVX2 with FMA
(``cnncore._kernels_avx2``) and for AVX-512 (``cnncore._kernels_avx512``), see ``setup.py``. The
CPU's features are read when cnncore is imported (NumPy's own run-time detection) and the best
build whose features are all there is loaded (``"base"`` is ``_kernels``). A build for one's own
machine (``native``) and builds on other platforms hold ``_kernels`` only.

``CNNCORE_KERNELS=base|avx2|avx512`` asks for one build (for comparisons); a build that is
missing or that the CPU cannot run falls back to the automatic choice. :data:`VARIANT` says which
runs. Every module reaches the kernels through :data:`_kernels` here, never by importing a build.
"""
from __future__ import annotations

import importlib
import importlib.util
import os

__all__ = ["VARIANT", "BUILDS", "available", "_kernels"]

#: Fastest first: (name, module, the CPU features it needs, as NumPy names them).
BUILDS = (
    ("avx512", "_kernels_avx512", ("AVX512F", "AVX512CD", "AVX512BW", "AVX512DQ", "AVX512VL", "AVX2", "FMA3", "F16C")),
    ("avx2", "_kernels_avx2", ("AVX2", "FMA3", "F16C")),
    ("base", "_kernels", ()),      # every build has it: portable (generic) or for this machine (native)
)


def _cpu_features() -> dict:
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:          # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_features__
    return __cpu_features__


def _import(module: str):
    try:
        return importlib.import_module(f"{__package__}.{module}")
    except ImportError:
        return None


def available() -> list[str]:
    """The builds present in this installation that this CPU can run, fastest first."""
    cpu = _cpu_features()
    return [name for name, module, needs in BUILDS
            if all(cpu.get(f) for f in needs) and importlib.util.find_spec(f"{__package__}.{module}") is not None]


def _load():
    wanted = os.environ.get("CNNCORE_KERNELS", "").strip().lower()
    cpu = _cpu_features()
    order = sorted(BUILDS, key=lambda b: b[0] != wanted)        # the asked-for build first
    for name, module, needs in order:
        if all(cpu.get(f) for f in needs):
            loaded = _import(module)
            if loaded is not None:
                return name, loaded
    raise ImportError("cnncore's compiled kernels are missing: build them with "
                      "`python setup.py build_ext --inplace` or install a wheel")


VARIANT, _kernels = _load()
