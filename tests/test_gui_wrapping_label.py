"""A wrapped label in the Train tab's scrolling column is as tall as its text (a folder's notes)."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
from PySide6 import QtWidgets  # noqa: E402
from test_gui_app import _no_leaked_windows, _private_dirs, window  # noqa: E402,F401

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]

NOTES = ("Skipped 3 pictures that could not be read: blue squares/loop/up: a link back to a folder already read; "
         "círculos rojos/corrupt.png: not a PNG, JPEG, BMP or WebP picture; círculos rojos/empty.jpg: not a PNG, "
         "JPEG, BMP or WebP picture.",
         "Ignored 9 files that are not PNG, JPEG, BMP or WebP pictures: blue squares/007_gif.gif, blue squares/"
         "020_gif.gif, blue squares/033_gif.gif and 6 more.")


@pytest.mark.parametrize("size", [(1024, 640), (1920, 1080)])
def test_every_line_of_a_folders_notes_shows(window, qtbot, size):
    """A tour found the first and last lines of the notes cut in half at both sizes: the label had the
    height of its text at a guessed width, not at the column's."""
    window.resize(*size)
    window.tabs.setCurrentWidget(window.train)
    data = window.train.controls.data
    for note in NOTES:
        data.show_notes(note)
    label = data.notes
    qtbot.waitUntil(lambda: label.isVisible(), timeout=2000)
    QtWidgets.QApplication.processEvents()
    need = label.heightForWidth(label.width())
    assert label.height() >= need > 4 * label.fontMetrics().lineSpacing(), (label.width(), label.height(), need)
    data.show_notes("")
    assert not label.isVisible() and label.minimumHeight() == 0
