"""Open a picture of your own (a file, or the one on the clipboard) as the session's picture: the Draw
tab's way for a colour model, and the Backprop and Look tabs'. The picture is brought to the
network's input by the network's own rule (``cnncore.datasets.pictures``, which asks the model's
signature; :meth:`cnnapp.state.Session.take_opened`); nothing here knows the rule."""
from __future__ import annotations

from pathlib import Path

from cnncore.datasets.pictures import fitted_bytes_input, fitted_input
from PySide6 import QtCore, QtGui, QtWidgets

from ..settings import data_dir

__all__ = ["picture_button", "open_picture_file", "open_picture_dialog", "paste_picture", "FILE_FILTER"]

FILE_FILTER = "Pictures (*.png *.jpg *.jpeg *.bmp *.webp *.PNG *.JPG *.JPEG *.BMP *.WEBP);;All files (*)"


def open_picture_file(session, path) -> bool:
    """Make the picture file at ``path`` the session's picture; a file that cannot be used is said in
    one line (the status bar) and the picture shown before stays."""
    name = Path(path).name
    try:
        p = session.take_opened(lambda sig: fitted_input(path, sig), f"the picture {name}")
    except ValueError as e:
        reason = str(e).removeprefix(f"{path}: ")        # (the reason names the file by its whole path)
        session.say(f"Could not use {name}: {reason}", 0)
        return False
    say_shown(session, p)
    return True


def paste_picture(session, image: QtGui.QImage | None = None) -> bool:
    """Make the picture on the clipboard (or ``image``) the session's picture."""
    if image is None:
        image = QtWidgets.QApplication.clipboard().image()
    if image is None or image.isNull():
        session.say("There is no picture on the clipboard: copy one (in a browser or a picture viewer) first.", 0)
        return False
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.WriteOnly)
    image.save(buf, "PNG")
    try:
        what = "the picture on the clipboard"
        p = session.take_opened(lambda sig: fitted_bytes_input(bytes(buf.data()), sig, what), what)
    except ValueError as e:
        session.say(f"Could not use the picture on the clipboard: {e}", 0)
        return False
    say_shown(session, p)
    return True


def say_shown(session, p) -> None:
    """The status bar says which picture the tabs show now, and what was done to it to fit the network."""
    session.say(f"Showing {p.told} (the network takes {session.view_network().signature.brief()} pictures).")


def open_picture_dialog(parent, session) -> bool:
    """Ask for a picture file and make it the session's picture; whether one was."""
    path, _ = QtWidgets.QFileDialog.getOpenFileName(parent, "Open a picture", str(data_dir()), FILE_FILTER)
    return bool(path) and open_picture_file(session, path)


def picture_button(session, name: str, parent=None) -> QtWidgets.QPushButton:
    """"Open a picture…": a button whose menu opens a file or takes the clipboard's picture."""
    button = QtWidgets.QPushButton("Open a picture…", parent)
    button.setObjectName(name)
    button.setToolTip("A picture of your own: a file (PNG, JPEG, BMP, WebP) or the one on the clipboard, "
                      "brought to the network's input by the network's own rule")
    menu = QtWidgets.QMenu(button)
    menu.setObjectName(f"{name}Menu")
    menu.setToolTipsVisible(True)
    menu.addAction("From a file…", lambda: open_picture_dialog(button.window(), session)).setToolTip(
        "Choose a PNG, JPEG, BMP or WebP file")
    menu.addAction("From the clipboard", lambda: paste_picture(session)).setToolTip(
        "The picture you copied last (Ctrl+Shift+V)")
    button.setMenu(menu)
    return button
