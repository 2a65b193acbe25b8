"""A tour: a folder of pictures named "⛵" made a class whose name showed as an empty box where the
computer has no emoji font. A character no font draws is spelled by its Unicode name, ":sailboat:",
wherever a class is named (one rule, :func:`cnnapp.state.classes.shown_name`), and what it was is in
the tooltip (pytest-qt, offscreen)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtGui  # noqa: E402
from test_gui_app import _no_leaked_windows, _private_dirs, window  # noqa: E402,F401

from cnnapp.state import classes  # noqa: E402

pytestmark = [pytest.mark.gui,
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]

BOAT = ("⛵", "cat", "dog") + ("(unused)",) * 7


def _boat_network(window):
    """A network that learnt a folder of three classes, the first named by an emoji."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    net = Network(preset("lenet"), seed=0)
    net.learns(BOAT, "my pictures")
    window.session.set_network(net, "opened from boats.npz", trained=True)


def test_the_window_asks_its_fonts_which_characters_they_draw(window):
    """The rule spells what the window's font (with its fallbacks) cannot draw, and nothing else."""
    fm = QtGui.QFontMetrics(window.font())
    for ch in "A⛵猫\u0378":
        assert classes._draws[0](ord(ch)) == fm.inFontUcs4(ord(ch))
    assert classes.shown_name("cat") == "cat" and classes.shown_name("\u0378") == ":U+0378:"


def test_a_class_named_by_a_character_no_font_draws_is_spelled_where_it_is_shown(window, qtbot):
    """Draw's bars and their tooltip, Train's confusion matrix, Backprop's true-class box and Look's
    class box name "⛵" as ":sailboat:" on a computer without an emoji font."""
    classes.draw_names_with(lambda code: code != 0x26F5)          # this computer: no emoji font
    try:
        _shown_everywhere(window)
    finally:
        classes.draw_names_with(QtGui.QFontMetrics(window.font()).inFontUcs4)


def _shown_everywhere(window):
    _boat_network(window)
    s = window.session
    assert s.classes[:3] == (":sailboat:", "cat", "dog") and s.class_name(0) == ":sailboat:"
    probs = window.draw.probs
    names = [t.strip() for _, t in probs.getPlotItem().getAxis("bottom")._tickLevels[0]]
    assert names == [":sailboat:", "cat", "dog"]
    assert "⛵ (U+26F5 SAILBOAT) is shown as :sailboat:" in probs.toolTip()
    results = window.train.results
    window.tabs.setCurrentWidget(window.train)
    results.setCurrentWidget(results.confusion)
    results.refresh()
    left = [t for _, t in results.confusion.getPlotItem().getAxis("left")._tickLevels[0]]
    assert left[0] == "0 :sailboat:" and "SAILBOAT" in results.confusion.toolTip()
    window.tabs.setCurrentWidget(window.backprop)
    box = window.backprop.label_combo
    assert box.itemText(0) == "0 :sailboat:" and "⛵" in box.itemData(0, QtCore.Qt.ToolTipRole)
    window.tabs.setCurrentWidget(window.look)
    look = window.look.ensure()
    k = look.cls.findData(0)
    assert look.cls.itemText(k) == ":sailboat:" and "U+26F5" in look.cls.itemData(k, QtCore.Qt.ToolTipRole)
