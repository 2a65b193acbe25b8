"""The boxed, monospaced label every view uses to show an equation, and the font of any formula
written among words.

A formula with a combining mark (the hat of Adam's m̂ and v̂: "m" followed by U+0302) drawn in the
proportional DejaVu Sans (the usual sans-serif of a Linux desktop) had its hats land over other
letters of the line; the monospaced face places them right, so such a formula is set in it
(:func:`formula_html`, :func:`has_marks`)."""
from __future__ import annotations

import html
import unicodedata

from PySide6 import QtCore, QtGui, QtWidgets

MONO = "'DejaVu Sans Mono', monospace"
_STYLE = ("QLabel {{ background: #f5f7fb; border: 1px solid #d8dde8; border-radius: 4px; "
          "padding: {pad}px; font-family: " + MONO + "; }}")


def has_marks(text: str) -> bool:
    """Whether ``text`` holds a combining mark (a hat, a bar over a letter)."""
    return any(unicodedata.combining(c) for c in text)


def formula_html(text: str) -> str:
    """``text`` as rich text: escaped, and in the monospaced face when it holds a combining mark."""
    t = html.escape(text)
    return f"<span style=\"font-family: {MONO}\">{t}</span>" if has_marks(text) else t


def formula_font(font: QtGui.QFont) -> QtGui.QFont:
    """``font`` in the monospaced face (for a table cell that holds a combining mark)."""
    mono = QtGui.QFont(font)
    mono.setFamilies(["DejaVu Sans Mono", "monospace"])
    mono.setStyleHint(QtGui.QFont.Monospace)
    return mono


def equation_label(object_name: str, padding: int = 8) -> QtWidgets.QLabel:
    """An empty, word-wrapped, selectable equation box named ``object_name``."""
    label = QtWidgets.QLabel("")
    label.setObjectName(object_name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
    label.setStyleSheet(_STYLE.format(pad=padding))
    return label
