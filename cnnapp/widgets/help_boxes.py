"""The Help menu's boxes: About CNN Lab (credits, data sources, licences) and the keyboard shortcuts."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from .. import settings as st

__all__ = ["about_text", "show_about", "show_shortcuts", "SHORTCUTS", "HelpBox"]

#: (keys, what they do), in the order the box lists them.
SHORTCUTS = (
    ("<b>Ctrl+1</b> … <b>Ctrl+6</b>", "switch tabs"),
    ("<b>Ctrl+=</b> / <b>Ctrl+−</b> / <b>Ctrl+0</b>, Ctrl+wheel", "this tab's maps and text larger / smaller / "
                                                                  "as made (a projector)"),
    ("on the canvas: <b>arrows</b> (<b>Shift</b>: further), <b>Space</b>", "draw with the keyboard: move the "
                                                                            "pen, put it down and lift it"),
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
    ("on the maps: <b>arrows</b>, <b>Ctrl+← →</b>, <b>Return</b>, <b>M</b>, <b>Ctrl+C</b>, menu key",
     "move over the numbers, to the previous / next map, select one, its map alone, copy its numbers "
     "(tab-separated), the table"),
    ("<b>Ctrl+Shift+O</b> / <b>Ctrl+Shift+R</b>", "open a lesson / record one"),
    ("<b>Alt+→</b> / <b>Alt+←</b>, <b>Return</b>", "a lesson: next / previous stop, answer its question"),
    ("<b>F9</b>", "recording a lesson: add what the window shows as a stop"),
    ("<b>Ctrl+Shift+S</b>", "recording a lesson: save it (to its file; File → Save lesson as… chooses another)"),
    ("<b>Ctrl+S</b> / <b>Ctrl+O</b>", "save / open a model"),
)


def about_text() -> str:
    try:
        return (st.assets_dir() / "about.html").read_text(encoding="utf-8")
    except OSError:
        return ("<h2>CNN Lab</h2><p>MNIST: Yann LeCun, Corinna Cortes and Christopher J.C. Burges, "
                "licensed CC BY-SA 3.0.</p>")


class HelpBox(QtWidgets.QDialog):
    """A page of rich text with an OK button, scrolled where it is taller than the screen leaves room
    for (a message box grows with its text: on a 640-pixel screen its button fell off the bottom)."""

    def __init__(self, parent, title: str, text: str):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        self._text = text
        self.page = QtWidgets.QTextBrowser()
        self.page.setOpenExternalLinks(True)
        self.page.setHtml(text)
        self.page.setFrameShape(QtWidgets.QFrame.NoFrame)
        ok = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Ok)
        ok.accepted.connect(self.accept)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.page)
        layout.addWidget(ok)
        self._fit(parent)

    def text(self) -> str:
        """The rich text shown, as given."""
        return self._text

    def _fit(self, parent) -> None:
        """As tall as the text (at 500 pixels wide) where the screen has room, else the room there is."""
        screen = (parent.screen() if parent is not None else None) or QtWidgets.QApplication.primaryScreen()
        room = screen.availableGeometry() if screen is not None else QtCore.QRect(0, 0, 1024, 640)
        width = min(520, room.width() - 40)
        doc = self.page.document()
        doc.setTextWidth(width - 40)
        height = int(doc.size().height()) + 160            # the button row, the margins and some slack
        self.resize(width, max(200, min(height, room.height() - 60)))


def _box(parent, title: str, text: str) -> HelpBox:
    box = HelpBox(parent, title, text)
    box.open()
    return box


def show_about(parent) -> HelpBox:
    return _box(parent, "About CNN Lab", about_text())


def show_shortcuts(parent) -> HelpBox:
    rows = "".join(f"<tr><td>{keys}</td><td>{what}</td></tr>" for keys, what in SHORTCUTS)
    return _box(parent, "Keyboard shortcuts", f"<table cellpadding=3>{rows}</table>")
