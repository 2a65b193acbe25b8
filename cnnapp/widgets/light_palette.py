"""The app is drawn light: its heatmaps, plots and equation boxes are made for a white page, and a dark
desktop palette (macOS and Windows in dark mode, a dark KDE or GNOME theme) made their words white on
white and the Backprop timeline unreadable. Under a dark palette the app takes Qt's own light one."""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


def is_dark(palette: QtGui.QPalette) -> bool:
    """Whether ``palette`` draws light text on a dark window."""
    return palette.color(QtGui.QPalette.Window).lightness() < 128


def keep_light(app: QtWidgets.QApplication) -> bool:
    """Ask the platform for its light colours (Qt ≥ 6.8: macOS, Windows and the desktop portals follow
    it); where the palette is still dark, take the Fusion style with light colours set here (Fusion's own
    palette follows the desktop's scheme too). True when the palette was dark."""
    dark = is_dark(app.palette())
    hints = app.styleHints()
    if hasattr(hints, "setColorScheme"):
        hints.setColorScheme(QtCore.Qt.ColorScheme.Light)
    if not is_dark(app.palette()):
        return dark
    style = QtWidgets.QStyleFactory.create("Fusion")
    if style is not None:
        app.setStyle(style)
    app.setPalette(light_palette())
    return True


def light_palette() -> QtGui.QPalette:
    """Light colours for every role a widget draws with, whatever the desktop's scheme."""
    pal = QtGui.QPalette()
    for role, colour in ((QtGui.QPalette.Window, "#efefef"), (QtGui.QPalette.WindowText, "#000000"),
                         (QtGui.QPalette.Base, "#ffffff"), (QtGui.QPalette.AlternateBase, "#f7f7f7"),
                         (QtGui.QPalette.Text, "#000000"), (QtGui.QPalette.Button, "#efefef"),
                         (QtGui.QPalette.ButtonText, "#000000"), (QtGui.QPalette.BrightText, "#ffffff"),
                         (QtGui.QPalette.ToolTipBase, "#ffffdc"), (QtGui.QPalette.ToolTipText, "#000000"),
                         (QtGui.QPalette.Highlight, "#308cc6"), (QtGui.QPalette.HighlightedText, "#ffffff"),
                         (QtGui.QPalette.Link, "#0000ff"), (QtGui.QPalette.PlaceholderText, "#7f7f7f"),
                         (QtGui.QPalette.Light, "#ffffff"), (QtGui.QPalette.Midlight, "#e3e3e3"),
                         (QtGui.QPalette.Mid, "#a0a0a0"), (QtGui.QPalette.Dark, "#a0a0a0"),
                         (QtGui.QPalette.Shadow, "#696969")):
        pal.setColor(role, QtGui.QColor(colour))
    for role in (QtGui.QPalette.WindowText, QtGui.QPalette.Text, QtGui.QPalette.ButtonText):
        pal.setColor(QtGui.QPalette.Disabled, role, QtGui.QColor("#9a9a9a"))
    return pal
