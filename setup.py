"""Build the Cython kernels of cnncore.

Everything about how the extension is compiled lives here, in one place:

* Compiler directives for every .pyx (bounds checks off for speed). Set
  ``CNNCORE_DEBUG=1`` to build with bounds checks, wraparound checks and
  ``-O0 -g`` back on (tests then catch an out-of-range index as an exception).
* OpenMP: used when the compiler accepts ``-fopenmp``; otherwise the
  ``prange`` loops compile to plain serial loops.
* Target CPU, chosen by ``CNNCORE_ARCH``:
    - ``native`` (default for a build on the user's own machine, e.g.
      ``pip install .``): ``-march=native`` with 512-bit vectors where the CPU
      has AVX-512, so the loops use the full width of this machine's units;
    - ``generic``: portable code for any x86-64 / arm64 machine. Use it for
      wheels meant for other machines (it is also chosen automatically under
      cibuildwheel).
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

DEBUG = os.environ.get("CNNCORE_DEBUG", "0") not in ("", "0")
ARCH = os.environ.get("CNNCORE_ARCH") or ("generic" if os.environ.get("CIBUILDWHEEL") else "native")
if ARCH not in ("native", "generic"):
    sys.exit(f"CNNCORE_ARCH must be 'native' or 'generic', not {ARCH!r}")

COMPILER_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "nonecheck": False,
    "embedsignature": True,
}


def _compiler_accepts(flags, source="int main(void){return 0;}\n"):
    """True when the C compiler builds a tiny program with these flags."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()
    if shutil.which(cc[0]) is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(source)
        cmd = [*cc, *flags, src, "-o", os.path.join(tmp, "probe")]
        try:
            return subprocess.run(cmd, capture_output=True).returncode == 0
        except OSError:
            return False


def _openmp_flags():
    if os.environ.get("CNNCORE_NO_OPENMP"):
        return [], []
    probe = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    if _compiler_accepts(["-fopenmp"], probe):
        return ["-fopenmp"], ["-fopenmp"]
    print("cnncore: the C compiler has no OpenMP; kernels will run on one thread", file=sys.stderr)
    return [], []


def _arch_flags():
    if ARCH == "generic":
        return []
    flags = []
    if _compiler_accepts(["-march=native"]):
        flags.append("-march=native")
        # gcc prefers 256-bit vectors on AVX-512 parts unless told otherwise.
        if _compiler_accepts(["-march=native", "-mprefer-vector-width=512"]):
            flags.append("-mprefer-vector-width=512")
    return flags


def _extensions():
    omp_compile, omp_link = _openmp_flags()
    if DEBUG:
        opt = ["-O0", "-g"]
    else:
        # Strict IEEE arithmetic: no -ffast-math family. The register tiles in
        # _microkernels.h vectorise by construction, so reductions need no
        # reassociation licence, and NaN and inf pass through as data.
        opt = ["-O3", "-fno-math-errno"]
    compile_args = [*opt, *omp_compile, *_arch_flags()] if os.name != "nt" else ["/O2", "/openmp"]
    link_args = omp_link if os.name != "nt" else []
    ext = Extension(
        "cnncore._kernels",
        ["cnncore/_kernels.pyx"],
        depends=["cnncore/_microkernels.h", "cnncore/_microkernels_impl.h", "cnncore/_update.h"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
    return cythonize([ext], compiler_directives=COMPILER_DIRECTIVES, quiet=True)


setup(
    # every package below cnncore/ and cnnapp/, plus the top-level assets/
    # folder, installed as cnnapp.assets so the app finds it with importlib.resources
    packages=find_packages(include=["cnncore", "cnncore.*", "cnnapp", "cnnapp.*"]) + ["cnnapp.assets"],
    package_dir={"cnnapp.assets": "assets"},
    package_data={"cnncore": ["presets/*.json", "*.pyx", "*.h"], "cnnapp.assets": ["**/*"]},
    ext_modules=_extensions(),
)
