"""The app is drawn light: its heatmaps, plots and equation boxes are made for a white page, and a dark
desktop palette (macOS and Windows in dark mode, a dark KDE or GNOME theme) made their words white on
white and the Backprop timeline unreadable. Under a dark palette the app takes Qt's own light one."""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets


def is_dark(palette: QtGui.QPalette) -> bool:
    """Whether ``palette`` draws light text on a dark window."""
    return palette.color(QtGui.QPalette.Window).lightness() < 128


def keep_light(app: QtWidgets.QApplication) -> bool:
    """Give ``app`` Qt's light Fusion palette where the desktop's is dark; True when it did."""
    if not is_dark(app.palette()):
        return False
    style = QtWidgets.QStyleFactory.create("Fusion")
    if style is not None:
        app.setStyle(style)
    app.setPalette(app.style().standardPalette())
    return True
