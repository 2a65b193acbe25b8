"""cnncore: the arithmetic of the CNN learning app, with no Qt.

Kernels (NCHW layout, filters ``(F, C, KH, KW)``, float32 or float64)::

    conv2d_forward, conv2d_backward
    maxpool2d_forward, maxpool2d_backward
    avgpool2d_forward, avgpool2d_backward
    l2pool2d_forward, l2pool2d_backward
    set_num_threads, get_num_threads, openmp_enabled, MAX_THREADS

Prepared calls for a training step (a layer shape checked once): each layer type's plan, beside it in
``cnncore.layers``; a whole training step compiled: ``cnncore.step``.
The textbook identities the app draws: ``dilate``, ``flip_filters``.
The slow twin of every kernel, written from the equations: ``cnncore.reference``.
Writing a user's file, all through one writer (``cnncore._atomic``): ``atomic_write_bytes``,
``atomic_write_text``, ``atomic_savez`` to a path or an ``Output`` (a path and the files the command
reads, which it never replaces); ``OutputRefused`` (nothing written: not a regular file, an input…)
and ``WriteFailed`` (a full disk: the old file intact); ``check_target`` refuses a path that is not
a regular file to replace; ``read_regular`` reads a user's file only when it is a regular one, and
``json_nesting`` tells how deep a JSON text nests before it is parsed.
Which build of the kernels runs (picked at run time by the CPU's features): ``KERNEL_BUILD``.
"""
import os as _os
import sys as _sys

# Set before NumPy loads its BLAS and the kernels load the OpenMP runtime; a
# user's own setting wins.
#
# Idle OpenMP threads poll briefly for the next loop, then sleep. Never
# sleeping (a runtime's default: up to 200 ms of spinning) made training ten
# times slower on a laptop whose GUI and other programs share the cores (10 s
# instead of 0.8 s an epoch, 2 busy cores); always sleeping (OMP_WAIT_POLICY=
# PASSIVE, what this did before) made every loop wait for a futex wake-up,
# 40% of a batch-64 step of lenet (2 cores, Sapphire Rapids: 28,000 against
# 44,000 images/s). A training step's loops follow each other within a few
# hundred microseconds, so GCC's libgomp polls 30,000 times (about 0.4 ms
# there, 1.5 ms where a pause instruction is slow) and LLVM's libomp (clang
# builds) 1 ms. MSVC's runtime has no bound to set: its threads sleep.
if not {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & set(_os.environ):
    if _sys.platform == "win32":
        _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    else:
        _os.environ["GOMP_SPINCOUNT"] = "30000"
        _os.environ.setdefault("KMP_BLOCKTIME", "1")
# The dense layers' matrix products are small, so one BLAS thread beats a pool
# that idles next to the kernels' own threads.
_BLAS_CHOSEN = {"OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"} & set(_os.environ)
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
_os.environ.setdefault("MKL_NUM_THREADS", "1")
if "numpy" in _sys.modules and not _BLAS_CHOSEN:
    # NumPy came first (a notebook's or a script's `import numpy`): its BLAS has
    # already started a thread per core, which then spin beside the kernels'.
    # A training step of the wide preset took 4 times as long (21 against 4.9
    # ms at batch 64; batch 1 twice as long; 2 cores, Sapphire Rapids).
    from ._threads import limit_blas_threads as _limit_blas_threads
    _limit_blas_threads()

from .kernels import (
    avgpool2d_backward,
    avgpool2d_forward,
    conv2d_backward,
    conv2d_forward,
    get_num_threads,
    l2pool2d_backward,
    l2pool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    openmp_enabled,
    set_num_threads,
)
from ._atomic import (Output, OutputRefused, WriteFailed, atomic_savez, atomic_write_bytes, atomic_write_text,
                      check_target)
from ._safeio import json_nesting, read_regular
from ._threads import MAX_THREADS
from ._dispatch import VARIANT as KERNEL_BUILD
from ._blas import use_numpy_blas as _use_numpy_blas

_use_numpy_blas()       # a dense layer's products above a batch of one: NumPy's BLAS (see cnncore._blas)
from .identities import dilate, flip_filters
from .shapes import ShapeError, conv_output_size

__all__ = [
    "conv2d_forward", "conv2d_backward",
    "maxpool2d_forward", "maxpool2d_backward",
    "avgpool2d_forward", "avgpool2d_backward",
    "l2pool2d_forward", "l2pool2d_backward",
    "set_num_threads", "get_num_threads", "openmp_enabled", "MAX_THREADS",
    "dilate", "flip_filters",
    "conv_output_size", "ShapeError",
    "atomic_write_bytes", "atomic_write_text", "atomic_savez", "check_target", "read_regular", "json_nesting",
    "Output", "OutputRefused", "WriteFailed",
    "KERNEL_BUILD",
]
