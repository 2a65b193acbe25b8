"""How setup.py asks the C compiler what it can do: OpenMP in each compiler's spelling, the
environment's flags in every probe, and the machine the compiler builds for.

setup.py is run with setuptools' setup() and Cython's cythonize() stubbed out, so nothing is
built; the compilers are small shell scripts in front of this machine's cc that act like the
ones a wheel is built with (Apple's clang, a compiler whose omp.h is only on CFLAGS' paths).
"""
from __future__ import annotations

import os
import runpy
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CC = shutil.which("cc") or shutil.which("gcc")

pytestmark = pytest.mark.skipif(
    not (ROOT / "setup.py").exists() or CC is None or sys.platform == "win32",
    reason="needs the source checkout and a gcc-like C compiler")


def _setup(monkeypatch) -> dict:
    """setup.py's functions, loaded without building anything (a native build's settings)."""
    setuptools = pytest.importorskip("setuptools")
    build = pytest.importorskip("Cython.Build")
    monkeypatch.setattr(setuptools, "setup", lambda **kw: None)
    monkeypatch.setattr(build, "cythonize", lambda exts, **kw: exts)
    for name in ("CC", "CPPFLAGS", "CFLAGS", "LDFLAGS", "CNNCORE_ARCH", "CNNCORE_REQUIRE_OPENMP", "CIBUILDWHEEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CNNCORE_NO_OPENMP", "1")          # no probes while it loads
    monkeypatch.chdir(ROOT)
    funcs = runpy.run_path(str(ROOT / "setup.py"), run_name="setup_under_test")
    monkeypatch.delenv("CNNCORE_NO_OPENMP")
    return funcs


def _compiler(tmp_path: Path, name: str, body: str) -> str:
    """A shell script that acts as a C compiler: ``body`` sees the arguments in "$@" and ends by
    running the real one (``$CC``)."""
    path = tmp_path / name
    path.write_text(f'#!/bin/sh\nCC="{CC}"\n{body}\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


# Apple's clang: `-fopenmp` alone is an error; `-Xpreprocessor -fopenmp` and `-lomp` work
# when libomp is there (here: gcc's -fopenmp and libgomp stand in for them).
APPLE_CLANG = '''
args=""; prev=""
for a in "$@"; do
    if [ "$a" = "-fopenmp" ] && [ "$prev" != "-Xpreprocessor" ]; then
        echo "clang: error: unsupported option '-fopenmp'" >&2; exit 1
    fi
    case "$a" in
        -Xpreprocessor) ;;
        -lomp) args="$args -fopenmp" ;;
        *) args="$args $a" ;;
    esac
    prev="$a"
done
exec $CC $args
'''


def test_apple_clang_gets_openmp_through_its_preprocessor(monkeypatch, tmp_path):
    setup = _setup(monkeypatch)
    monkeypatch.setenv("CC", _compiler(tmp_path, "clang", APPLE_CLANG))
    assert setup["_openmp_flags"]() == (["-Xpreprocessor", "-fopenmp"], ["-lomp"])


def test_the_usual_spelling_comes_first(monkeypatch):
    setup = _setup(monkeypatch)
    monkeypatch.setenv("CC", CC)
    if not setup["_compiler_accepts"](["-fopenmp"], "#include <omp.h>\nint main(void){return 0;}\n"):
        pytest.skip("this machine's C compiler has no OpenMP")
    assert setup["_openmp_flags"]() == (["-fopenmp"], ["-fopenmp"])


def test_the_probes_see_the_flags_the_build_gets_from_the_environment(monkeypatch, tmp_path):
    """A libomp outside the compiler's own paths (the macOS wheels' is under /tmp) is found
    through CFLAGS and LDFLAGS, as the build itself finds it."""
    setup = _setup(monkeypatch)
    include = tmp_path / "libomp" / "include"
    include.mkdir(parents=True)
    # this compiler finds omp.h only when CFLAGS names its folder
    monkeypatch.setenv("CC", _compiler(tmp_path, "cc-omp", f'''
for a in "$@"; do [ "$a" = "-I{include}" ] && exec $CC "$@"; done
for a in "$@"; do [ "$a" = "-fopenmp" ] && {{ echo "fatal error: omp.h: No such file" >&2; exit 1; }}; done
exec $CC "$@"'''))
    assert setup["_openmp_flags"]() == ([], [])
    monkeypatch.setenv("CFLAGS", f"-I{include}")
    assert setup["_openmp_flags"]() == (["-fopenmp"], ["-fopenmp"])


def test_a_wheel_build_without_openmp_stops(monkeypatch, tmp_path):
    setup = _setup(monkeypatch)
    monkeypatch.setenv("CC", _compiler(tmp_path, "cc-no-omp", '''
for a in "$@"; do
    case "$a" in -fopenmp|-lomp) echo "no OpenMP here" >&2; exit 1 ;; esac
done
exec $CC "$@"'''))
    assert setup["_openmp_flags"]() == ([], [])          # a build of one's own: serial loops
    monkeypatch.setenv("CNNCORE_REQUIRE_OPENMP", "1")
    with pytest.raises(SystemExit) as stop:
        setup["_openmp_flags"]()
    assert "CNNCORE_REQUIRE_OPENMP" in str(stop.value) and "LDFLAGS" in str(stop.value)


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None, reason="no arm64 cross compiler")
def test_the_x86_builds_follow_the_compilers_target_not_this_machine(monkeypatch):
    setup = _setup(monkeypatch)
    monkeypatch.setenv("CC", "aarch64-linux-gnu-gcc")
    assert setup["_targets_x86_64"]() is False
    monkeypatch.setenv("CC", CC)
    assert setup["_targets_x86_64"]() is (os.uname().machine in ("x86_64", "amd64"))


#: A clang on this machine (macOS wheels are built with Apple's clang, which has no
#: __builtin_shuffle: the kernels' GCC-only paths must stay behind their guards).
CLANG = next((c for c in ("clang", *(f"clang-{v}" for v in range(30, 9, -1))) if shutil.which(c)), None)


@pytest.mark.skipif(CLANG is None, reason="no clang here (macOS wheels are built with Apple's clang)")
@pytest.mark.parametrize("target", ["base", "avx2", "avx512", "arm64"])
def test_the_kernels_compile_with_clang_for_each_instruction_set(monkeypatch, tmp_path, target):
    """Every C header of the kernels, checked by clang for each build a wheel carries (arm64 as
    Linux's aarch64: an Apple silicon Mac's instruction set; this machine has no macOS SDK)."""
    if target == "arm64":
        flags = ["--target=aarch64-linux-gnu"]
        if not Path("/usr/aarch64-linux-gnu/include").is_dir():
            pytest.skip("no arm64 C library headers (Debian's libc6-dev-arm64-cross)")
    else:
        flags = [] if target == "base" else _setup(monkeypatch)["VARIANTS"][target][0]
    src = tmp_path / "kernels.c"
    src.write_text('#include "_pointwise.h"\n#include "_update.h"\n')
    done = subprocess.run([CLANG, "-fsyntax-only", "-O3", "-Wall", "-Wno-unused-function", "-Werror", *flags,
                           "-I", str(ROOT / "cnncore"), str(src)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
