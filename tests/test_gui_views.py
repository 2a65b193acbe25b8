"""The views bound to the app's state objects (cnnapp.state) and their own settings."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")
from test_gui_app import _no_leaked_windows, _private_dirs, pytestmark, window  # noqa: E402,F401 - fixtures, marks


def test_backprop_shows_a_step_kind_it_has_no_entry_for(window):
    """Step kinds live in one table (cnnapp.state.STEP_KINDS); a new kind is shown by its name."""
    import dataclasses
    bp = window.backprop
    assert bp.record()
    tr = bp.trace
    tr.steps[-1] = dataclasses.replace(tr.steps[-1], kind="regularise")
    window.session.show_trace(tr, window.session.trace_picture)
    assert "regularise" in bp.timeline.item(len(tr.steps) - 1).text()
    bp.last()
    assert "regularise" in bp.step_label.text()


def test_views_take_back_their_settings_and_refuse_nonsense(window):
    """Each view saves and restores its own settings (plain values in the file; text from a
    hand-edited file is read too)."""
    bp, draw = window.backprop, window.draw
    bp.apply_settings({"speed": "12", "sample": "33"})
    draw.apply_settings({"brush": "9"})
    assert bp.settings_dict() == {"speed": 12, "sample": 33, "colours": "blue-white-red"}
    assert draw.settings_dict() == {"brush": 9}
    assert bp.stepper.speed == 3.0 and bp.speed_label.text() == "3/s"
    assert window.session.picture.index == 33 and bp.source.currentIndex() == 2
    bp.apply_settings({"speed": "fast", "sample": "1e99"})
    draw.apply_settings({"brush": "nan"})
    assert bp.settings_dict() == {"speed": 12, "sample": 33, "colours": "blue-white-red"}
    assert draw.settings_dict() == {"brush": 9}


def test_the_train_tabs_model_buttons_go_through_the_window(window, tmp_path, monkeypatch):
    """Model files belong to the window (File menu); the Train tab's buttons only ask it."""
    from PySide6 import QtWidgets
    path = tmp_path / "from_button"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    window.train.save_button.click()
    saved = tmp_path / "from_button.npz"
    assert saved.is_file() and "Saved the model" in window.statusBar().currentMessage()
    window.session.unsaved = True
    asked = []
    window.confirm = lambda text: asked.append(text) or False
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(saved), ""))
    before = window.session.network
    window.train.open_button.click()
    assert asked and window.session.network is before
    assert not hasattr(window.train, "save_model") and not hasattr(window.train, "open_model")


def test_stepping_through_a_trace_on_a_small_screen_keeps_the_maps_where_they_are(window, qtbot):
    """The step label wrapped to one, two or three lines as its text changed on a 1024×640 window, and
    the step buttons and the maps jumped up and down with it; it is one line, never cut short."""
    from PySide6 import QtCore, QtWidgets
    window.resize(1024, 640)
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    qtbot.waitExposed(bp)
    assert bp.record()
    qtbot.wait(50)                                      # the new trace's first layout
    heights, tops = set(), set()
    for k in range(len(bp.trace.steps)):
        bp.stepper.index = k
        qtbot.wait(5)
        heights.add(bp.step_label.height())
        tops.add(bp.maps.grid.mapTo(window, QtCore.QPoint(0, 0)).y())
        shown = QtWidgets.QLabel.text(bp.step_label)                       # what the label draws
        assert shown == bp.step_label.text() and shown.startswith(f"Step {k + 1} of "), shown   # not cut
    assert len(heights) == 1 and len(tops) == 1, (heights, tops)


def test_the_textbook_way_of_the_first_layer_opens_on_the_filters_gradient(window):
    """The first layer's backward step says no gradient is needed for the image: its textbook view
    opens on dW, not on the dx beside that sentence."""
    bp = window.backprop
    assert bp.record()
    first = next(k for k, s in enumerate(bp.trace.steps) if s.kind == "backward" and s.layer == 0)
    bp.go(first)
    bp.identity_button.setChecked(True)
    assert bp.maps.identity.dw_button.isChecked() and not bp.maps.identity.dx_button.isChecked()
    bp.identity_button.setChecked(False)


def test_the_slides_loops_open_in_view_on_a_small_screen(window, qtbot):
    from PySide6 import QtCore
    window.resize(1024, 640)
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    qtbot.waitExposed(bp)
    assert bp.record()
    bp.go(next(k for k, s in enumerate(bp.trace.steps) if s.kind == "backward" and s.layer_type == "conv"))
    bp.maps.loops_button.setChecked(True)
    scroll = bp.text_scroll
    qtbot.waitUntil(lambda: bp.loops.isVisible())
    qtbot.wait(20)
    top = bp.loops.mapTo(scroll.viewport(), QtCore.QPoint(0, 0)).y()
    assert 0 <= top < scroll.viewport().height() - 40, (top, scroll.viewport().height())
    bp.maps.loops_button.setChecked(False)


def test_a_filters_channels_wrap_in_even_lines(qtbot):
    """A tour: at 1920 px each of a layer's 48 filters showed its 24 channels as 21 on one line and 3 on
    the next; a filter that wraps shares its channels evenly between its lines."""
    import numpy as np

    from cnnapp.widgets.heatmap import MapGrid
    from cnnapp.widgets.map_tiles import MapGroup
    grid = MapGrid()
    qtbot.addWidget(grid)
    grid.show()
    qtbot.waitExposed(grid)
    w = np.random.default_rng(0).normal(size=(3, 24, 3, 3)).astype(np.float32)
    grid.set_groups([MapGroup("L2.W", w, "W", diverging=True)])
    for width in (500, 700, 900):
        grid.resize(width, 600)
        qtbot.wait(150)
        first = [t for t in grid.tiles() if t.prefix[0] == 0]
        lines = {}
        for t in first:
            lines[round(t.rect.y())] = lines.get(round(t.rect.y()), 0) + 1
        assert len(first) == 24 and max(lines.values()) - min(lines.values()) <= 1, (width, lines)


def test_the_train_settings_column_is_as_wide_as_its_font_asks(qtbot):
    """A tour: at a 14 pt font the column's fixed 340 px cut "Learning rate" to "Learning r" and the
    Train again button's words; a review: counted in average characters it took 50 px more at 10 pt."""
    from PySide6 import QtGui, QtWidgets

    from cnnapp.state import Session
    from cnnapp.views.train_controls import TrainControls
    app = QtWidgets.QApplication.instance()
    before = QtGui.QFont(app.font())
    try:
        widths = {}
        for points in (9, 14):
            font = QtGui.QFont(before)
            font.setPointSize(points)
            app.setFont(font)
            c = TrainControls(Session())
            qtbot.addWidget(c)
            words = QtGui.QFontMetrics(font).horizontalAdvance("Train again from the same start")
            assert c.minimumWidth() >= words + 100 and c.maximumWidth() == c.minimumWidth() + 40
            widths[points] = c.maximumWidth()
        assert widths[9] <= 340 + max(0, QtGui.QFontMetrics(QtGui.QFont(before.family(), 9)).horizontalAdvance(
            "Train again from the same start") - 189) and widths[14] > widths[9]
    finally:
        app.setFont(before)
