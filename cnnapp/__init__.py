"""cnnapp: the desktop app (PySide6 + pyqtgraph) and the ``cnnapp`` command line.

Importing this package does not import Qt; ``cnnapp.MainWindow`` does, on first use.
"""
import os

# OpenMP threads that wait by spinning make the kernels many times slower
# whenever another program keeps the CPUs busy (a measured 10 s instead of
# 0.8 s per training epoch on 2 shared cores); waiting threads should sleep.
# Set here, before cnncore loads the OpenMP runtime; the user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The dense layers' matrix products are small: a single BLAS thread is faster
# than a pool whose idle threads keep spinning next to the conv kernels (which
# bring their own threads). Must be set before NumPy loads its BLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

__all__ = ["MainWindow"]


def __getattr__(name):
    if name == "MainWindow":
        from .main_window import MainWindow
        return MainWindow
    raise AttributeError(f"module 'cnnapp' has no attribute {name!r}")
