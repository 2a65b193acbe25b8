"""Start the desktop app: ``cnnapp`` with no arguments, or ``python -m cnnapp``."""
from __future__ import annotations

import sys


def run(argv=None) -> int:
    """Create the QApplication (or reuse one) and the main window; run the event loop."""
    from PySide6 import QtGui, QtWidgets

    from . import settings
    from .main_window import MainWindow

    argv = list(sys.argv if argv is None else argv)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(argv)
    app.setOrganizationName(settings.ORGANIZATION)
    app.setApplicationName(settings.APPLICATION)
    icon = settings.assets_dir() / "icon.svg"
    if icon.exists():
        app.setWindowIcon(QtGui.QIcon(str(icon)))
    win = MainWindow()
    win.show()
    return app.exec()
