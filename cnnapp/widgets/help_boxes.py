"""The Help menu's boxes: About CNN Lab (credits, data sources, licences) and the keyboard shortcuts."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from .. import settings as st

__all__ = ["about_text", "show_about", "show_shortcuts", "SHORTCUTS"]

#: (keys, what they do), in the order the box lists them.
SHORTCUTS = (
    ("<b>Ctrl+1</b> … <b>Ctrl+6</b>", "switch tabs"),
    ("<b>Ctrl+=</b> / <b>Ctrl+−</b> / <b>Ctrl+0</b>, Ctrl+wheel", "this tab's maps and text larger / smaller / "
                                                                  "as made (a projector)"),
    ("<b>Ctrl+Z</b>", "undo the last stroke"),
    ("<b>Delete</b>, <b>Ctrl+L</b>", "clear the canvas"),
    ("<b>Ctrl+D</b>", "add the drawing to my digits"),
    ("<b>Ctrl+Return</b>", "use the edited architecture"),
    ("<b>F5</b> / <b>F6</b> / <b>Shift+F5</b>", "start / pause / stop training"),
    ("<b>Ctrl+F5</b>", "train again from the same start (the last run's first weights and shuffles)"),
    ("<b>Ctrl+R</b>", "record a backprop trace"),
    ("<b>T</b>", "Backprop, on a conv layer's backward step: show the textbook way (and back)"),
    ("<b>Q</b>", "Backprop: a concept check about this step"),
    ("<b>L</b>", "Backprop, on a conv layer's step: the slides' loops beside it"),
    ("type, <b>Return</b>", "Backprop in Predict mode: answer (a number, or the choice's number)"),
    ("<b>← →</b>, <b>Home</b>, <b>End</b>, <b>Space</b>", "step through the trace, play"),
    ("on the maps: <b>arrows</b>, <b>Return</b>, <b>M</b>, <b>Ctrl+C</b>, menu key",
     "move over the numbers, select one, its map alone, copy its numbers (tab-separated), the table"),
    ("<b>Ctrl+Shift+O</b> / <b>Ctrl+Shift+R</b>", "open a lesson / record one"),
    ("<b>Alt+→</b> / <b>Alt+←</b>, <b>Return</b>", "a lesson: next / previous stop, answer its question"),
    ("<b>F9</b>", "recording a lesson: add what the window shows as a stop"),
    ("<b>Ctrl+S</b> / <b>Ctrl+O</b>", "save / open a model"),
)


def about_text() -> str:
    try:
        return (st.assets_dir() / "about.html").read_text(encoding="utf-8")
    except OSError:
        return ("<h2>CNN Lab</h2><p>MNIST: Yann LeCun, Corinna Cortes and Christopher J.C. Burges, "
                "licensed CC BY-SA 3.0.</p>")


def _box(parent, title: str, text: str) -> QtWidgets.QMessageBox:
    box = QtWidgets.QMessageBox(parent)
    box.setWindowTitle(title)
    box.setTextFormat(QtCore.Qt.RichText)
    box.setText(text)
    box.setAttribute(QtCore.Qt.WA_DeleteOnClose)
    box.open()
    return box


def show_about(parent) -> QtWidgets.QMessageBox:
    return _box(parent, "About CNN Lab", about_text())


def show_shortcuts(parent) -> QtWidgets.QMessageBox:
    rows = "".join(f"<tr><td>{keys}</td><td>{what}</td></tr>" for keys, what in SHORTCUTS)
    return _box(parent, "Keyboard shortcuts", f"<table cellpadding=3>{rows}</table>")
