"""cnnapp: the desktop app (PySide6 + pyqtgraph) and the ``cnnapp`` command line.

Importing this package does not import Qt; ``cnnapp.MainWindow`` does, on first use.
"""
# cnncore sets the thread environment (OpenMP wait policy, one BLAS thread)
# before NumPy loads; import it first so that holds for the whole app.
import cnncore  # noqa: F401,E402

__all__ = ["MainWindow"]


def __getattr__(name):
    if name == "MainWindow":
        from .main_window import MainWindow
        return MainWindow
    raise AttributeError(f"module 'cnnapp' has no attribute {name!r}")
