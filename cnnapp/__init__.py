"""cnnapp: the desktop app (PySide6 + pyqtgraph) and the ``cnnapp`` command line.

Importing this package does not import Qt; ``cnnapp.MainWindow`` does, on first use.
"""
__all__ = ["MainWindow"]


def __getattr__(name):
    if name == "MainWindow":
        from .main_window import MainWindow
        return MainWindow
    raise AttributeError(f"module 'cnnapp' has no attribute {name!r}")
