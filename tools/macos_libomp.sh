#!/usr/bin/env bash
# LLVM's OpenMP runtime for the macOS wheels (cibuildwheel's before-all, see pyproject.toml):
# PREFIX/arm64 and PREFIX/x86_64, each with include/omp.h and lib/libomp.dylib for that
# architecture, from conda-forge's llvm-openmp (needs micromamba: .github/workflows/wheels.yml
# installs it; on a Mac of your own, `brew install micromamba`).
#
#     tools/macos_libomp.sh /tmp/cnnlab-libomp
#
# Not Homebrew's libomp: a bottle is built for the macOS release of the machine that installs
# it (a wheel bundling it would need that release or newer; delocate-wheel refuses it for the
# wheels' MACOSX_DEPLOYMENT_TARGET of 11.0), and an arm64 runner's Homebrew has no x86-64
# bottles. conda-forge builds llvm-openmp for macOS 11.0 (arm64) and 10.13 (x86-64), both
# installable on either kind of Mac. setup.py finds the runtime through CFLAGS and LDFLAGS
# (pyproject.toml sets them per architecture) and delocate-wheel copies libomp.dylib into
# the wheel.
set -euo pipefail

prefix=${1:?usage: tools/macos_libomp.sh PREFIX}
spec=${LIBOMP_SPEC:-llvm-openmp>=17}
# (setup-micromamba puts it on PATH and names it in MAMBA_EXE; its default place last)
micromamba=${MAMBA_EXE:-$(command -v micromamba || echo "$HOME/micromamba-bin/micromamba")}
if [[ ! -x $micromamba ]]; then
    echo "macos_libomp: micromamba is missing (brew install micromamba)" >&2
    exit 2
fi
for arch in arm64 x86_64; do
    case $arch in
        arm64) platform=osx-arm64 ;;
        x86_64) platform=osx-64 ;;
    esac
    if [[ -f $prefix/$arch/lib/libomp.dylib && -f $prefix/$arch/include/omp.h ]]; then
        continue
    fi
    "$micromamba" create --yes --quiet --prefix "$prefix/$arch" --platform "$platform" \
        --override-channels --channel conda-forge "$spec"
    test -f "$prefix/$arch/include/omp.h"
    lipo -archs "$prefix/$arch/lib/libomp.dylib" | grep -qw "$arch"
done
echo "macos_libomp: libomp for arm64 and x86_64 in $prefix" >&2
