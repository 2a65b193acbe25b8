#!/usr/bin/env bash
# Cross-build the kernels for arm64 (aarch64 Linux, the portable build a wheel carries) and run
# their tests against the NumPy twin under emulation. Not part of CI: the tests take minutes
# under qemu. Debian/Ubuntu x86-64, as root or with the tools already installed:
#
#     apt-get install qemu-user-static gcc-aarch64-linux-gnu debootstrap
#     tools/arm64_check.sh                  # build, then the kernel tests
#     tools/arm64_check.sh tests/test_kernels.py -k maxpool     # other pytest arguments
#     tools/arm64_check.sh --vec-report     # also gcc's vectorisation report of the kernels
#     CNNLAB_ARM64_CC="clang-14 --target=aarch64-linux-gnu" CNNLAB_ARM64_CFLAGS=-fopenmp=libgomp \
#         tools/arm64_check.sh              # clang's code paths (those of the macOS wheels), GNU's OpenMP
#
# How: `debootstrap --foreign` fetches Debian bookworm's arm64 Python 3.11 with its headers and
# libgomp into $CNNLAB_ARM64_DIR (default ~/.cache/cnnlab-arm64; the packages are unpacked, no
# arm64 program runs: no binfmt or chroot needed), pip fetches NumPy (the host's version) and
# pytest as aarch64 wheels beside it, and setup.py builds the kernels with aarch64-linux-gnu-gcc,
# reading the arm64 Python's own sysconfig (so its compiler, flags and file names) in a copy of
# this checkout ($CNNLAB_ARM64_DIR/src-COMPILER: the working tree as it is, committed or not). The tests
# then run in qemu-aarch64-static's arm64 Python. The arm64 kernels are held to the NumPy twin
# like every build, not bit for bit to x86 (NEON fuses multiply-adds where SSE2 cannot).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${CNNLAB_ARM64_DIR:-$HOME/.cache/cnnlab-arm64}
python=${PYTHON:-python3}
root=$dir/rootfs
site=$dir/site-aarch64
cc=${CNNLAB_ARM64_CC:-aarch64-linux-gnu-gcc}
src=$dir/src-${cc%% *}           # a copy of the checkout per compiler
report=""
if [[ ${1:-} == --vec-report ]]; then
    report=$dir/vec-report.txt
    shift
fi
tests=("$@")
if [[ ${#tests[@]} -eq 0 ]]; then
    # every test file that holds a kernel to the NumPy twin, or picks or checks a build
    tests=(tests/test_kernels.py tests/test_conv_tiles.py tests/test_plans.py tests/test_l2pool_kernel.py
           tests/test_kernel_errors.py tests/test_dispatch.py tests/test_update.py tests/test_layers.py
           tests/test_gradcheck.py tests/test_grad_pass.py tests/test_step.py)
fi

for tool in qemu-aarch64-static aarch64-linux-gnu-gcc debootstrap; do
    if ! command -v "$tool" >/dev/null; then
        echo "arm64_check: $tool is missing: apt-get install qemu-user-static gcc-aarch64-linux-gnu debootstrap" >&2
        exit 2
    fi
done
if ! "$python" -c "import Cython, numpy, setuptools" 2>/dev/null; then
    echo "arm64_check: $python lacks Cython, NumPy or setuptools: activate the project's venv or set PYTHON" >&2
    exit 2
fi
mkdir -p "$dir"

# 1. An arm64 Python 3.11 with headers and libgomp, unpacked (once).
if [[ ! -x $root/usr/bin/python3.11 ]]; then
    echo "arm64_check: fetching Debian's arm64 Python into $root" >&2
    rm -rf "$root"
    debootstrap --arch=arm64 --foreign --variant=minbase --include=python3.11,libpython3.11-dev,libgomp1 \
        bookworm "$root" http://deb.debian.org/debian >"$dir/debootstrap.log"
    for deb in "$root"/var/cache/apt/archives/*.deb; do
        dpkg -x "$deb" "$root"
    done
fi
# The arm64 Python as a program of this machine: tests that start `sys.executable` get it too.
arm64_python=$root/usr/bin/python3-qemu
printf '#!/bin/sh\nexec qemu-aarch64-static -L "%s" -0 "$0" "%s/usr/bin/python3.11" "$@"\n' "$root" "$root" \
    >"$arm64_python"
chmod +x "$arm64_python"

# 2. NumPy (the version this machine's Python has) and pytest, as aarch64 wheels (once per version).
numpy_version=$("$python" -c "import numpy; print(numpy.__version__)")
if [[ ! -f $site/.numpy-$numpy_version ]]; then
    rm -rf "$site"
    "$python" -m pip install -q --target "$site" --only-binary=:all: --implementation cp --python-version 3.11 \
        --abi cp311 --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64 \
        "numpy==$numpy_version" "pytest>=7.4" "threadpoolctl>=3.5"
    touch "$site/.numpy-$numpy_version"
fi

# 3. The working tree, without its build output, and the cross build.
rm -rf "$src"
mkdir -p "$src"
(cd "$repo" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --no-recursion) | tar -xf - -C "$src"
sysconf=$dir/sysconfig
mkdir -p "$sysconf"
cp "$root/usr/lib/python3.11/_sysconfigdata__aarch64-linux-gnu.py" "$sysconf/"
cflags="-I$site/numpy/_core/include -I$root/usr/include/python3.11 -idirafter $root/usr/include ${CNNLAB_ARM64_CFLAGS:-}"
if [[ -n $report ]]; then
    cflags="$cflags -fopt-info-vec-all=$report.raw"
    rm -f "$report.raw"
fi
echo "arm64_check: building the kernels with $cc" >&2
(cd "$src" &&
    PYTHONPATH=$sysconf _PYTHON_SYSCONFIGDATA_NAME=_sysconfigdata__aarch64-linux-gnu \
    CC="$cc" LDSHARED="$cc -shared" CFLAGS="$cflags" \
    CNNCORE_ARCH=generic CNNCORE_REQUIRE_OPENMP=1 "$python" setup.py -q build_ext --inplace 2>&1 |
    grep -v "^warning\|^  warn" >&2 || true)
built=$(ls "$src"/cnncore/_kernels.cpython-311-aarch64-linux-gnu.so)
file "$built" 2>/dev/null || true
if [[ -n $report ]]; then
    "$python" "$repo/tools/vec_report.py" "$report.raw" "$src/cnncore/_kernels.c" >"$report"
    echo "arm64_check: vectorisation report in $report ($(grep -c " vectorised (" "$report") loops vectorised)" >&2
fi

# 4. The tests, in the arm64 Python.
cd "$src"
echo "arm64_check: ${tests[*]} under qemu" >&2
PYTHONPATH=$src:$site "$arm64_python" -c \
    "import platform, cnncore; print('arm64_check:', platform.machine(), cnncore.KERNEL_BUILD, 'build, OpenMP', cnncore.openmp_enabled())"
PYTHONPATH=$src:$site exec "$arm64_python" -m pytest -q -p no:cacheprovider \
    -W ignore::pytest.PytestConfigWarning "${tests[@]}"     # (no pytest-qt: its ini options are unknown)
