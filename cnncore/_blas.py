"""The BLAS NumPy brought, for a dense layer's matrix products above a batch of one.

cnncore keeps NumPy's BLAS on one thread (see ``__init__``); its ``cblas_sgemm`` and
``cblas_dgemm`` are handed to the kernels (:func:`cnncore._kernels.set_blas`), which call them
without the GIL from the layer-by-layer path and from a compiled training step alike, so both
give the same bits. Where none is found (another BLAS, a platform without threadpoolctl's view of
it) the kernels' own tiles compute the products instead.
"""
from __future__ import annotations

import ctypes
from pathlib import Path

from ._dispatch import _kernels

__all__ = ["use_numpy_blas"]

# (symbol of sgemm, of dgemm, 64-bit integers): scipy-openblas as NumPy's wheels ship it, a plain OpenBLAS
_NAMES = (("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", True), ("cblas_sgemm64_", "cblas_dgemm64_", True),
          ("cblas_sgemm", "cblas_dgemm", False))


def _numpy_blas_paths() -> list[str]:
    """Where NumPy's BLAS library is: beside a wheel's NumPy (numpy.libs/), else as threadpoolctl sees it."""
    import numpy
    here = Path(numpy.__file__).resolve().parent.parent
    found = sorted(str(p) for p in (here / "numpy.libs").glob("libscipy_openblas*"))
    if found:
        return found
    try:
        from threadpoolctl import threadpool_info
        return [i["filepath"] for i in threadpool_info() if i.get("user_api") == "blas" and i.get("filepath")]
    except Exception:  # noqa: BLE001 - a speed choice: the tiles compute the same products without it
        return []


def use_numpy_blas() -> bool:
    """Hand NumPy's OpenBLAS gemm to the kernels; True when one was found."""
    for path in _numpy_blas_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for s_name, d_name, ilp64 in _NAMES:
            try:
                s, d = getattr(lib, s_name), getattr(lib, d_name)
            except AttributeError:
                continue
            _kernels.set_blas(ctypes.cast(s, ctypes.c_void_p).value, ctypes.cast(d, ctypes.c_void_p).value, ilp64)
            return True
    return False
