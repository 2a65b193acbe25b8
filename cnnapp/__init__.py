"""cnnapp: the desktop app (PySide6 + pyqtgraph) and the ``cnnapp`` command line.

Importing this package does not import Qt; ``cnnapp.MainWindow`` does, on first use.
"""
import sys


def interrupted_while_starting():
    """Ctrl+C while the modules load (a second or so): one line and exit status 130, as the command
    line says it once running (a KeyboardInterrupt there printed a traceback)."""
    sys.stderr.write("cnnapp: interrupted\n")
    raise SystemExit(130)


# cnncore sets the thread environment (OpenMP wait policy, one BLAS thread)
# before NumPy loads; import it first so that holds for the whole app.
try:
    import cnncore  # noqa: F401,E402
except KeyboardInterrupt:
    interrupted_while_starting()

__all__ = ["MainWindow"]


def __getattr__(name):
    if name == "MainWindow":
        from .main_window import MainWindow
        return MainWindow
    raise AttributeError(f"module 'cnnapp' has no attribute {name!r}")
