"""Start the desktop app: ``cnnapp`` with no arguments, or ``python -m cnnapp``."""
from __future__ import annotations

import sys


def run(argv=None) -> int:
    """Create the QApplication (or reuse one) and the main window; run the event loop."""
    from PySide6 import QtGui, QtWidgets

    from . import settings
    from .main_window import MainWindow
    from .widgets.light_palette import keep_light

    argv = list(sys.argv if argv is None else argv)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(argv)
    keep_light(app)                           # (heatmaps and plots are made for a white page)
    app.setOrganizationName(settings.ORGANIZATION)
    app.setApplicationName(settings.APPLICATION)
    icon = settings.assets_dir() / "icon.svg"
    if icon.exists():
        app.setWindowIcon(QtGui.QIcon(str(icon)))
    win = MainWindow()
    previous_hook = sys.excepthook

    def show_error(kind, value, tb):
        # An unexpected error in a slot: say so in the window and keep running (no traceback
        # in the user's face; it still goes to the terminal for a bug report).
        try:
            win.show_message(f"Something went wrong: {value}", 0)
        except Exception:  # noqa: BLE001 - the window may be gone
            pass
        previous_hook(kind, value, tb)
    sys.excepthook = show_error
    win.show()
    try:
        return app.exec()
    finally:
        sys.excepthook = previous_hook
