"""Build the Cython kernels of cnncore.

Everything about how the extension is compiled lives here, in one place:

* Compiler directives for every .pyx (bounds checks off for speed). Set
  ``CNNCORE_DEBUG=1`` to build with bounds checks, wraparound checks and
  ``-O0 -g`` back on (tests then catch an out-of-range index as an exception).
* OpenMP: ``-fopenmp`` (gcc, clang), or Apple clang's ``-Xpreprocessor -fopenmp``
  with ``-lomp`` when libomp's header and library are on the paths CPPFLAGS/CFLAGS
  and LDFLAGS name (the macOS wheels bundle libomp, see pyproject.toml); otherwise
  the ``prange`` loops compile to plain serial loops, or, with
  ``CNNCORE_REQUIRE_OPENMP=1`` (the wheels), the build stops.
* Target CPU, chosen by ``CNNCORE_ARCH``:
    - ``native`` (default for a build on the user's own machine, e.g.
      ``pip install .``): ``-march=native`` with 512-bit vectors where the CPU
      has AVX-512, so the loops use the full width of this machine's units;
    - ``generic``: portable code for any x86-64 / arm64 machine (SSE2 on
      x86-64, NEON on arm64: both baselines). Use it for wheels meant for
      other machines (it is also chosen automatically under cibuildwheel).
      When the compiler targets x86-64 the same kernels are built twice more,
      for AVX2 + FMA (``cnncore._kernels_avx2``) and for AVX-512
      (``cnncore._kernels_avx512``), and ``cnncore._dispatch`` runs the
      fastest one the CPU has, found at run time.

Every probe of the compiler below runs it with the flags the build itself gets
from the environment (CPPFLAGS, CFLAGS, LDFLAGS, and ARCHFLAGS on macOS), so a
cross build (tools/arm64_check.sh; cibuildwheel's x86-64 wheels on an arm64
Mac) asks the compiler about the machine it builds for, not the one it runs on.
"""
import glob
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

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


def _env_flags():
    """The compiler flags the build takes from the environment (distutils adds them to every
    compile and link); ARCHFLAGS is how a macOS build picks its target (``-arch x86_64``)."""
    names = ("CPPFLAGS", "CFLAGS", "LDFLAGS") + (("ARCHFLAGS",) if sys.platform == "darwin" else ())
    return [flag for name in names for flag in os.environ.get(name, "").split()]


def _compiler_accepts(flags, source="int main(void){return 0;}\n"):
    """True when the C compiler builds a tiny program with these flags (and the environment's)."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()
    if shutil.which(cc[0]) is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(source)
        cmd = [*cc, *_env_flags(), *flags, src, "-o", os.path.join(tmp, "probe")]
        try:
            return subprocess.run(cmd, capture_output=True).returncode == 0
        except OSError:
            return False


def _targets_x86_64():
    """True when the compiler builds for x86-64 (where the AVX2 and AVX-512 builds apply)."""
    if os.name == "nt":
        return platform.machine().lower() in ("x86_64", "amd64")
    return _compiler_accepts([], "#if !defined(__x86_64__)\n#error not x86-64\n#endif\n"
                                 "int main(void){return 0;}\n")


def _openmp_flags():
    """(compile flags, link flags) for OpenMP: gcc's and clang's ``-fopenmp``, else Apple
    clang's spelling (its driver has no ``-fopenmp``: the preprocessor takes it and libomp
    is linked by name), else none."""
    if os.environ.get("CNNCORE_NO_OPENMP"):
        return [], []
    probe = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    for compile_flags, link_flags in ((["-fopenmp"], ["-fopenmp"]),
                                      (["-Xpreprocessor", "-fopenmp"], ["-lomp"])):
        if _compiler_accepts([*compile_flags, *link_flags], probe):
            return compile_flags, link_flags
    if os.environ.get("CNNCORE_REQUIRE_OPENMP", "0") not in ("", "0"):
        sys.exit("cnncore: CNNCORE_REQUIRE_OPENMP is set but the C compiler has no OpenMP: put omp.h "
                 "and libomp on the paths CPPFLAGS/CFLAGS and LDFLAGS name (-I..., -L...)")
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


#: The extra builds of the kernels a generic x86-64 build carries: name -> (gcc/clang flags, MSVC flags).
#: cnncore/_dispatch.py picks one at run time by the CPU features each needs (the two lists agree).
VARIANTS = {
    "avx2": (["-mavx2", "-mfma", "-mf16c"], ["/arch:AVX2"]),
    "avx512": (["-mavx512f", "-mavx512cd", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma", "-mf16c",
                "-mprefer-vector-width=512"], ["/arch:AVX512"]),
}


class BuildExt(build_ext):
    """``build_ext --inplace`` without the other builds removes those an earlier in-place generic
    build left in cnncore/: the run-time dispatch would pick them over the new kernels."""

    def run(self):
        if self.inplace:
            built = {ext.name for ext in self.extensions}
            for name in VARIANTS:
                if f"cnncore._kernels_{name}" in built:
                    continue
                for path in glob.glob(os.path.join("cnncore", f"_kernels_{name}.*")):
                    if path.endswith((".so", ".pyd")):
                        os.remove(path)
                        print(f"cnncore: removed {path} (an older build of the kernels)", file=sys.stderr)
        super().run()


def _variant_sources():
    """``{name: the .pyx to build it from}``: a copy of _kernels.pyx under build/ named after the module
    (Cython names a module's init function after its file), for a generic x86-64 build only."""
    if ARCH != "generic" or not _targets_x86_64():
        return {}
    folder = os.path.join("build", "kernel_variants")
    os.makedirs(folder, exist_ok=True)
    out = {}
    for name, (flags, _) in VARIANTS.items():
        if os.name != "nt" and not _compiler_accepts(flags):
            print(f"cnncore: the C compiler cannot build the {name} kernels; left out", file=sys.stderr)
            continue
        target = os.path.join(folder, f"_kernels_{name}.pyx")
        with open("cnncore/_kernels.pyx", encoding="utf-8") as f:
            text = f.read()
        if not os.path.exists(target) or open(target, encoding="utf-8").read() != text:
            with open(target, "w", encoding="utf-8") as f:
                f.write(text)
        out[name] = target
    return out


def _extensions():
    if os.name == "nt":
        compile_args, link_args = ["/O2", "/openmp"], []        # MSVC: OpenMP is always there
    else:
        omp_compile, omp_link = _openmp_flags()
        if DEBUG:
            opt = ["-O0", "-g"]
        else:
            # Strict IEEE arithmetic: no -ffast-math family. The register tiles in
            # _microkernels.h vectorise by construction, so reductions need no
            # reassociation licence, and NaN and inf pass through as data.
            # -fno-trapping-math changes no value (nothing here reads the FE_*
            # exception flags; clang assumes it by default): it lets gcc turn a
            # select like the ReLU slope's dy * (z > 0) into vector code instead of
            # a branch per element (without it that loop vectorised neither for
            # SSE2 nor for NEON: "control flow in loop").
            opt = ["-O3", "-fno-math-errno", "-fno-trapping-math"]
        compile_args, link_args = [*opt, *omp_compile, *_arch_flags()], omp_link

    def kernels(module, source, extra=()):
        return Extension(
            module,
            [source],
            depends=["cnncore/_kernels.pyx", "cnncore/_microkernels.h", "cnncore/_microkernels_impl.h",
                     "cnncore/_update.h", "cnncore/_pointwise.h", "cnncore/_pointwise_impl.h"],
            include_dirs=[np.get_include(), "cnncore"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=[*compile_args, *extra],
            extra_link_args=link_args,
        )

    exts = [kernels("cnncore._kernels", "cnncore/_kernels.pyx")]
    for name, source in _variant_sources().items():
        flags, msvc = VARIANTS[name]
        exts.append(kernels(f"cnncore._kernels_{name}", source, msvc if os.name == "nt" else flags))
    return cythonize(exts, compiler_directives=COMPILER_DIRECTIVES, quiet=True)


setup(
    # every package below cnncore/ and cnnapp/, plus the top-level assets/
    # folder, installed as cnnapp.assets so the app finds it with importlib.resources
    packages=find_packages(include=["cnncore", "cnncore.*", "cnnapp", "cnnapp.*"]) + ["cnnapp.assets"],
    package_dir={"cnnapp.assets": "assets"},
    package_data={"cnncore": ["presets/*.json", "*.pyx", "*.h"], "cnnapp.assets": ["**/*"]},
    ext_modules=_extensions(),
    cmdclass={"build_ext": BuildExt},
)
