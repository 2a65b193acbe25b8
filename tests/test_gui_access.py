"""Issue 25: a window the whole class can read, and the numbers behind every picture. Every control of
every window has an accessible name; every heatmap gives its values as tab-separated text; the
maps take the keyboard; Ctrl+= / Ctrl+− / Ctrl+0 and Ctrl+wheel zoom the current tab; one map
alone fills the maps' area (pytest-qt, offscreen)."""
from __future__ import annotations

import contextlib
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402
from test_gui_app import _misplaced_widgets, _no_leaked_windows, _private_dirs, stroke, window  # noqa: E402,F401

from cnnapp.widgets.wrap_row import WrapRow  # noqa: E402

pytestmark = [pytest.mark.gui,
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]

Qt = QtCore.Qt
ONE = [(0.5, 0.18 + 0.64 * k / 20) for k in range(21)]


def _lenet(window, seed=1):
    from cnncore.architecture import preset
    from cnncore.network import Network
    window.session.set_network(Network(preset("lenet"), seed=seed), "LeNet", trained=False)


def _traced(qtbot, window):
    window.tabs.setCurrentWidget(window.backprop)
    qtbot.waitUntil(lambda: window.session.trace is not None, timeout=10000)
    return window.session.trace


def _table(text: str) -> np.ndarray:
    """Tab-separated text back into numbers (an empty cell is NaN)."""
    return np.array([[float(v) if v else np.nan for v in line.split("\t")] for line in text.strip("\n").split("\n")])


def _clipboard() -> str:
    return QtWidgets.QApplication.clipboard().text()


def _menu_action(qtbot, widget, words: str, pos=None):
    """Open ``widget``'s context menu (from the keyboard when no ``pos``) and trigger the entry with ``words``."""
    pos = pos or QtCore.QPoint(5, 5)
    reason = QtGui.QContextMenuEvent.Keyboard
    ev = QtGui.QContextMenuEvent(reason, pos, widget.mapToGlobal(pos))
    QtWidgets.QApplication.sendEvent(widget, ev)
    menu = next(w for w in QtWidgets.QApplication.topLevelWidgets() if isinstance(w, QtWidgets.QMenu) and w.isVisible())
    action = next(a for a in menu.actions() if words in a.text())
    action.trigger()
    menu.close()
    return action.text()


def _build_everything(qtbot, window, tmp_path):
    """Every tab and page shown once, the Backprop tab's tools, a lesson being recorded, a NumbersDialog."""
    for k in range(window.tabs.count()):
        window.tabs.setCurrentIndex(k)
    learn, look = window.learn.ensure(), window.look.ensure()
    for tabs in (learn.tabs, look.inner, window.train.bottom_tabs):
        for k in range(tabs.count()):
            tabs.setCurrentIndex(k)
    tr = _traced(qtbot, window)
    bp = window.backprop
    conv_back = max(k for k, st in enumerate(tr.steps) if st.kind == "backward" and st.layer_type == "conv")
    window.session.stepper.index = conv_back
    bp.maps.identity_button.setChecked(True)          # the textbook way, built on first use
    bp.maps.predict_button.setChecked(True)
    qtbot.waitUntil(lambda: bp.maps.identity is not None, timeout=5000)


def test_every_control_of_every_window_has_an_accessible_name(window, qtbot, tmp_path):
    from cnncore.lesson import ChoiceQuestion, PredictQuestion, Stop, new_lesson, save_lesson
    from cnncore.modelio import save_model
    from cnncore.trace import trace

    from cnnapp.widgets.access import accessible_name, controls, unnamed_controls
    _lenet(window)
    _build_everything(qtbot, window, tmp_path)
    assert len(controls(window)) > 150
    missing = [(type(w).__name__, w.objectName()) for w in unnamed_controls(window)]
    assert not missing, missing
    dialog = window.backprop.maps.grid.show_numbers()          # the numbers' table
    assert dialog is not None and not unnamed_controls(dialog) and len(controls(dialog)) >= 4
    dialog.close()
    from cnnapp.widgets.export_dialog import ExportDialog
    export = ExportDialog(window.session.network, tmp_path, "m.npz", window)     # File > Export model…
    for key, button in export.buttons.items():                  # each choice names its target its own way
        button.setChecked(True)
        assert not unnamed_controls(export), key
    assert len(controls(export)) >= 5
    export.close()
    window.lessons.record()                                     # a teacher's panel
    window.lessons.capture()
    assert not unnamed_controls(window)
    window.lessons.stop_recording()
    save_model(tmp_path / "m.npz", window.session.network)      # a student's panel, both kinds of question
    base = new_lesson(tmp_path / "m.npz", "generated", 2, count=5)
    t = trace(base.model, base.pictures[0], int(base.labels[0]))
    pool = next(k for k, st in enumerate(t.steps) if st.kind == "backward" and st.layer_type == "maxpool")
    from cnncore import predict
    dy = f"L{t.steps[pool].layer}.dy"
    window_ix = next(ix for ix in np.ndindex(t.arrays[dy].shape) if predict.question_at(t, pool, "winner", ix))
    from cnncore.lesson import Element
    lesson = base.replace(stops=[Stop("backprop", 0, pool, "# Which?", Element(dy, window_ix),
                                      PredictQuestion("winner")),
                                 Stop("build", 0, 0, "", None, ChoiceQuestion("Which?", ("a", "b", "c"), (1,)))])
    save_lesson(tmp_path / "l.cnnlesson", lesson)
    window.confirm = lambda text: True
    assert window.lessons.open_lesson(tmp_path / "l.cnnlesson", "Ada")
    panel = window.lessons.panel
    assert len(panel.choices) >= 2 and all(accessible_name(b) for b in panel.choices)
    assert not unnamed_controls(window)
    assert accessible_name(window.backprop.maps.grid) and window.backprop.maps.grid.accessibleDescription()


@pytest.mark.qt_log_ignore(r"This plugin does not support (raise\(\)|grabbing the keyboard|propagateSizeHints)")
def test_every_heatmap_gives_its_numbers_tab_separated(window, qtbot, tmp_path):
    _lenet(window)
    tr = _traced(qtbot, window)
    grid = window.backprop.maps.grid
    grid.setFocus()
    qtbot.keyClick(grid, Qt.Key_C, Qt.ControlModifier)
    qtbot.waitUntil(lambda: _clipboard().count("\n") == 28, timeout=3000)          # the first map: the input
    np.testing.assert_array_equal(_table(_clipboard()).astype(np.float32), tr.arrays["L0.x"][0, 0])
    for _ in range(1 + 28):                                  # the cursor on, and past the input: L0.W
        qtbot.keyClick(grid, Qt.Key_Right)
    assert _menu_action(qtbot, grid, "Copy every map of").endswith("L0.W")
    blocks = _clipboard().strip().split("\n\n")
    assert len(blocks) == 8 and blocks[3].startswith("L0.W filter 3")
    np.testing.assert_array_equal(_table(blocks[3].split("\n", 1)[1]).astype(np.float32), tr.arrays["L0.W"][3, 0])
    cm = window.train.confusion                              # the confusion matrix: counts
    cm.set_matrix(np.arange(100).reshape(10, 10))
    cm.copy_numbers()
    np.testing.assert_array_equal(_table(_clipboard()), np.arange(100).reshape(10, 10))
    window.backprop.input_row.thumb.copy_numbers()                   # the traced input's thumbnail
    np.testing.assert_array_equal(_table(_clipboard()).astype(np.float32), tr.arrays["input"][0, 0])
    window.tabs.setCurrentWidget(window.draw)                # what the network sees of a drawing
    stroke(window.draw.canvas, ONE)
    qtbot.waitUntil(lambda: window.draw.seen_img.image is not None and window.draw.seen_img.image.max() > 0,
                    timeout=3000)
    window.draw.seen.copy_numbers()
    np.testing.assert_array_equal(_table(_clipboard()).astype(np.float32), window.draw.seen_img.image)
    window.tabs.setCurrentWidget(window.look)                # Look: saliency
    look = window.look.ensure()
    qtbot.waitUntil(lambda: look.gradients is not None and not look.look_job.busy(), timeout=20000)
    panel = look.where.saliency
    panel.view.copy_numbers()
    np.testing.assert_array_equal(_table(_clipboard()).astype(np.float32), panel.values)
    window.tabs.setCurrentWidget(window.learn)               # Learn: a worked example's numbers
    learn = window.learn.ensure()
    from cnnapp.learn.grids import NumberGrid
    qtbot.waitUntil(lambda: any(g.isVisible() for g in learn.examples.findChildren(NumberGrid)), timeout=5000)
    g = next(g for g in learn.examples.findChildren(NumberGrid) if g.isVisible())
    g.setFocus()
    qtbot.keyClick(g, Qt.Key_C, Qt.ControlModifier)
    np.testing.assert_allclose(_table(_clipboard()), g.values())


def test_the_maps_take_the_keyboard_and_their_table_selects_an_element(window, qtbot):
    _lenet(window)
    tr = _traced(qtbot, window)
    s, bp = window.session, window.backprop
    grid = bp.maps.grid
    said = []
    grid.hovered.connect(lambda key, index, value: said.append((key, index, value)))
    grid.setFocus()
    for key in (Qt.Key_Right, Qt.Key_Right, Qt.Key_Down):                      # the stepper keeps its step
        qtbot.keyClick(grid, key)
    assert s.stepper.index == 0 and said[-1][:2] == ("L0.x", (0, 0, 1, 1))
    assert said[-1][2] == pytest.approx(float(tr.arrays["L0.x"][0, 0, 1, 1]))
    qtbot.keyClick(grid, Qt.Key_Return)
    assert s.element == ("L0.x", (0, 0, 1, 1))
    for _ in range(28 - 1):                                                      # past the right edge: L0.W
        qtbot.keyClick(grid, Qt.Key_Right)
    assert said[-1][0] == "L0.W"
    qtbot.keyClick(grid, Qt.Key_Left, Qt.ControlModifier)                      # a map back at once
    assert said[-1][:2] == ("L0.x", (0, 0, 0, 0)) and s.stepper.index == 0
    qtbot.keyClick(grid, Qt.Key_Right, Qt.ControlModifier)                     # and on: L0.W's first element
    assert said[-1][0] == "L0.W" and said[-1][1][-2:] == (0, 0)
    assert grid.hasFocus() and grid.frameShape() == QtWidgets.QFrame.Box          # the focus shows
    dialog = grid.show_numbers()
    assert dialog.which.count() == 8 and dialog.plane.key == "L0.W"
    dialog.which.setCurrentIndex(5)
    dialog.table.setCurrentCell(2, 3)
    qtbot.keyClick(dialog.table, Qt.Key_Return)
    assert s.element == ("L0.W", (5, 0, 2, 3))
    dialog.table.clearSelection()
    dialog.table.setRangeSelected(QtWidgets.QTableWidgetSelectionRange(0, 0, 1, 1), True)
    np.testing.assert_array_equal(_table(dialog.copy()).astype(np.float32), tr.arrays["L0.W"][5, 0, :2, :2])
    dialog.close()


def test_zoom_keys_and_ctrl_wheel_draw_the_current_tabs_maps_and_text_larger(window, qtbot):
    _lenet(window)
    _traced(qtbot, window)
    bp, zoom = window.backprop, window.zoomer
    grid, title = bp.maps.grid, bp.title_label
    qtbot.waitUntil(lambda: bool(grid.tiles()), timeout=3000)
    side, size = grid.tiles()[0].rect.width(), title.font().pointSizeF()
    label_size = window.draw.findChild(QtWidgets.QLabel, "answerLabel").font().pointSizeF()
    for _ in range(3):
        qtbot.keyClick(window, Qt.Key_Equal, Qt.ControlModifier)
    qtbot.waitUntil(lambda: zoom.factor() == 1.75, timeout=3000)
    assert grid.zoom == 1.75 and grid.tiles()[0].rect.width() > 1.5 * side
    assert title.font().pointSizeF() == pytest.approx(1.75 * size)
    pos = QtCore.QPointF(10, 10)
    wheel = QtGui.QWheelEvent(pos, grid.viewport().mapToGlobal(pos), QtCore.QPoint(), QtCore.QPoint(0, 120),
                              Qt.NoButton, Qt.ControlModifier, Qt.NoScrollPhase, False)
    QtWidgets.QApplication.sendEvent(grid.viewport(), wheel)
    assert zoom.factor() == 2.0
    qtbot.keyClick(window, Qt.Key_Minus, Qt.ControlModifier)
    qtbot.waitUntil(lambda: zoom.factor() == 1.75, timeout=3000)
    window.tabs.setCurrentWidget(window.draw)                      # another tab keeps its own size
    assert window.draw.findChild(QtWidgets.QLabel, "answerLabel").font().pointSizeF() == pytest.approx(label_size)
    window.tabs.setCurrentWidget(bp)
    qtbot.keyClick(window, Qt.Key_0, Qt.ControlModifier)
    qtbot.waitUntil(lambda: zoom.factor() == 1.0, timeout=3000)
    assert title.font().pointSizeF() == pytest.approx(size) and grid.tiles()[0].rect.width() == pytest.approx(side)
    zoom.zoom.set("backprop", 2.5)
    window.save_settings()                                          # kept as plain numbers
    from cnnapp import settings as st
    assert st.store().group("window")["zoom"] == {"backprop": 2.5}


def test_text_in_a_font_of_its_own_follows_the_apps_font(window, qtbot):
    """A larger font for the app (the desktop's settings: QApplication.setFont) made a tab's text larger
    but left the text in fonts of its own as made (the Backprop step's title, 1.25 times the font it was
    made at, and Draw's answer, 1.6 times, were then smaller than the words under them; the maps' titles
    too). Each keeps its share of the app's font, zoomed or not, and takes its size back with the font."""
    _lenet(window)
    _traced(qtbot, window)
    app, bp, answer = QtWidgets.QApplication.instance(), window.backprop, window.draw.answer
    before = app.font()
    grid = bp.maps.grid
    made = {"title": bp.title_label.font().pointSizeF(), "answer": answer.font().pointSizeF(),
            "maps": grid._title_font.pointSizeF(), "words": bp.explanation.font().pointSizeF()}
    assert made["title"] > made["words"]

    def sizes() -> dict:
        return {"title": bp.title_label.font().pointSizeF(), "answer": answer.font().pointSizeF(),
                "maps": grid._title_font.pointSizeF(), "words": bp.explanation.font().pointSizeF()}

    larger = QtGui.QFont(before)
    larger.setPointSizeF(1.5 * before.pointSizeF())
    try:
        app.setFont(larger)
        qtbot.waitUntil(lambda: sizes()["title"] == pytest.approx(1.5 * made["title"]), timeout=3000)
        assert sizes()["maps"] == pytest.approx(1.5 * made["maps"])
        assert sizes()["words"] == pytest.approx(1.5 * made["words"])
        window.tabs.setCurrentWidget(window.draw)                   # another tab, shown after the change
        window.zoomer.zoom.set("draw", 2.0)
        qtbot.waitUntil(lambda: sizes()["answer"] == pytest.approx(3.0 * made["answer"]), timeout=3000)
        window.zoomer.zoom.reset("draw")
        qtbot.waitUntil(lambda: sizes()["answer"] == pytest.approx(1.5 * made["answer"]), timeout=3000)
    finally:
        app.setFont(before)
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: sizes() == pytest.approx(made), timeout=3000)


def _cut(w) -> str:
    """Why ``w``'s text does not fit it ("" where it does): narrower or lower than its text asks (a label
    that wraps: lower than its lines), a tab's name shortened, a scroll area that cuts what it holds."""
    if isinstance(w, QtWidgets.QComboBox):     # (a long list's box may cut its names; never the one shown)
        least, fm = w.minimumSizeHint(), w.fontMetrics()
        least.setWidth(min(least.width(), fm.horizontalAdvance(w.currentText()) + 2 * fm.height()))
    elif isinstance(w, QtWidgets.QAbstractButton):
        least = w.sizeHint() if w.text() else QtCore.QSize(0, 0)
    elif isinstance(w, QtWidgets.QLabel) and w.wordWrap():
        least = QtCore.QSize(0, w.heightForWidth(w.width()) if w.text() else 0)
    elif isinstance(w, (QtWidgets.QLabel, QtWidgets.QAbstractSpinBox, QtWidgets.QSlider)):
        least = w.minimumSizeHint() if not isinstance(w, QtWidgets.QLabel) or w.text() else QtCore.QSize(0, 0)
    elif isinstance(w, QtWidgets.QTabBar):
        short = [w.tabText(k) for k in range(w.count()) if w.tabRect(k).width() < w.tabSizeHint(k).width()]
        return f"tabs shortened: {short}" if short else ""
    elif isinstance(w, QtWidgets.QScrollArea) and w.widget() is not None and w.widget().isVisible():
        inner, view, off = w.widget().size(), w.viewport().size(), Qt.ScrollBarAlwaysOff
        cut = (w.horizontalScrollBarPolicy() == off and inner.width() > view.width() + 1 or
               w.verticalScrollBarPolicy() == off and inner.height() > view.height() + 1)
        return f"cuts what it holds: {inner.toTuple()} in {view.toTuple()}" if cut else ""
    elif hasattr(w, "least_width") and hasattr(w, "least_height"):      # a plot: its title, axes and legend
        least = QtCore.QSize(w.least_width(), w.least_height())
    else:
        return ""
    if w.width() < least.width() or w.height() < least.height():
        return f"{w.size().toTuple()} < {least.toTuple()}"
    return ""


def _crowded(page) -> list[str]:
    """The widgets of ``page`` (not inside the maps or a plot) whose text does not fit them (:func:`_cut`),
    and the ones that lie over another one beside them."""
    import pyqtgraph as pg
    from cnnapp.widgets.heatmap import MapGrid
    own = (MapGrid, pg.GraphicsView, QtWidgets.QComboBox, QtWidgets.QAbstractSpinBox)   # (their parts: theirs)
    skip = {id(w) for g in page.findChildren(QtWidgets.QWidget) if isinstance(g, own)
            for w in g.findChildren(QtWidgets.QWidget)}
    shown = [w for w in page.findChildren(QtWidgets.QWidget)
             if id(w) not in skip and w.isVisibleTo(page) and not w.isWindow()]
    bad = []
    for w in shown:
        if isinstance(w.parentWidget(), QtWidgets.QTabBar):     # (a tab bar's arrows: Qt's own)
            continue
        why = _cut(w)
        if why:
            bad.append(f"{type(w).__name__} {w.objectName() or getattr(w, 'text', lambda: '')()!r} {why}")
    beside: dict = {}
    for w in shown:
        parent = w.parentWidget()
        if not isinstance(parent, (QtWidgets.QAbstractScrollArea, QtWidgets.QTabBar, QtWidgets.QSplitter)):
            beside.setdefault(id(parent), []).append(w)
    for ws in beside.values():
        for k, a in enumerate(ws):
            for b in ws[k + 1:]:
                if a.geometry().intersects(b.geometry()):
                    bad.append(f"{type(a).__name__} {a.objectName()!r} {a.geometry().getRect()} lies over "
                               f"{type(b).__name__} {b.objectName()!r} {b.geometry().getRect()}")
    return bad


@pytest.mark.parametrize("screen", [(1024, 640), (1920, 1080)])
def test_a_zoomed_tab_grows_its_controls_with_their_text_and_scrolls_past_the_window(window, qtbot, screen):
    """A tour: Ctrl+= made a tab's words larger but not its buttons and boxes (their text was cut or
    crowded), and at 400 % a page widened the window past the screen; past 150 % rows still squeezed (the
    Backprop tab's tools and step buttons cut in half, the Train tab's plots a sliver, Look's captions
    over their pictures). At every zoom the app offers, every control is as large as its text, no text is
    cut or lies over another widget, and a page larger than the window scrolls: the window keeps its size."""
    from cnnapp.state.zoom import LEVELS
    _lenet(window)
    _traced(qtbot, window)
    window.resize(*screen)
    zoom = window.zoomer
    window.learn.ensure()
    window.look.ensure()
    for k, name in enumerate(zoom.names):
        window.tabs.setCurrentIndex(k)
        page = window.tabs.currentWidget()
        start = window.build.preset_combo.font().pointSizeF()
        for factor in LEVELS:
            zoom.zoom.set(name, factor)
            qtbot.wait(20)
            assert window.size().toTuple() == screen, (name, factor)
            with contextlib.suppress(qtbot.TimeoutError):      # (once its layouts have settled)
                qtbot.waitUntil(lambda: not _crowded(page), timeout=1500)
            assert not _crowded(page), (name, factor, _crowded(page))
        boxes = [w for w in page.findChildren(QtWidgets.QWidget)
                 if isinstance(w, (QtWidgets.QPushButton, QtWidgets.QComboBox, QtWidgets.QSpinBox))]
        assert boxes and all(b.font().pointSizeF() == pytest.approx(4 * start) for b in boxes
                             if not b.testAttribute(Qt.WA_SetFont) or b.property("cnnZoomBase") == start), name
        zoom.zoom.reset(name)
        qtbot.wait(20)
        assert all(b.font().pointSizeF() == pytest.approx(start) for b in boxes if b.property("cnnZoomBase") == start)
    scroll = window.findChild(QtWidgets.QScrollArea, "windowScroll")
    window.tabs.setCurrentWidget(window.backprop)
    zoom.zoom.set("backprop", 4.0)
    qtbot.wait(20)
    page, view = scroll.widget().size(), scroll.viewport().size()
    assert page.width() > view.width() or page.height() > view.height()         # it scrolls
    assert window.size().toTuple() == screen
    zoom.zoom.reset("backprop")
    with contextlib.suppress(qtbot.TimeoutError):
        qtbot.waitUntil(lambda: not _misplaced_widgets(window), timeout=1500)
    assert not _misplaced_widgets(window)                 # back at 100 %: no page keeps a zoomed size


def test_one_map_alone_fills_the_maps_area_at_1920x1080_and_1024x640_holds(window, qtbot):
    _lenet(window)
    window.resize(1920, 1080)
    tr = _traced(qtbot, window)
    grid = window.backprop.maps.grid
    qtbot.waitUntil(lambda: abs(grid.viewport().width() - grid._last_width) <= 8 and bool(grid.tiles()),
                    timeout=3000)
    z = next(t for t in grid.tiles() if t.key == "L0.z")
    before = z.rect.width()
    grid.setFocus()
    k = grid.tiles().index(z)
    grid.cursor = (k, 0, 0)
    qtbot.keyClick(grid, Qt.Key_M)                                  # the map under the cursor, alone
    assert grid.alone == ("L0.z", (0, 0)) and len(grid.tiles()) == 1
    alone = grid.tiles()[0].rect
    assert alone.width() >= 300 and alone.width() > 2 * before, (alone, before)
    assert alone.height() <= grid.viewport().height()               # on the screen, not under it
    assert tr.arrays["L0.z"].shape[-1] * 16 > 300                   # (LeNet's first maps are 24×24)
    window.session.stepper.index = 1                                # a step without L0.z shows every map
    assert len(grid.tiles()) > 1
    window.session.stepper.index = 0
    qtbot.keyClick(grid, Qt.Key_M)
    assert grid.alone is None and len(grid.tiles()) > 1
    window.lessons.record()                                         # the lesson dock open on a small screen
    window.resize(1024, 640)
    qtbot.waitUntil(lambda: window.width() == 1024, timeout=3000)
    for k in range(window.tabs.count()):
        window.tabs.setCurrentIndex(k)
        QtCore.QCoreApplication.processEvents()
        assert window.size() == QtCore.QSize(1024, 640), window.tabs.tabText(k)
        assert _misplaced_widgets(window) == [], window.tabs.tabText(k)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1000 and hint.height() <= 580         # room for a title bar and a panel
    assert window.backprop.nav.findChild(WrapRow).wrapped          # the step buttons take two lines there
    # the step's words were squeezed to a few words a line, and the maps' tools overlapped ("Signed colou")
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    QtCore.QCoreApplication.processEvents()
    tools = bp.maps.findChild(WrapRow)
    assert tools.wrapped and bp.maps.colours.width() >= bp.maps.colours.sizeHint().width()
    bp.splitter.setSizes([10000, 1])                               # the words dragged as narrow as they go
    QtCore.QCoreApplication.processEvents()
    assert bp.text_scroll.width() >= 36 * bp.text_scroll.fontMetrics().averageCharWidth()
    # the Train tab's three plots were 100 px each ("Accu", "Spe"): one at a time there, chosen by a tab
    from cnnapp.widgets.plots import PLOT_WIDTH
    t = window.train
    window.tabs.setCurrentWidget(t)
    QtCore.QCoreApplication.processEvents()
    plots = (t.loss_plot, t.acc_plot, t.speed_plot)
    assert t.plots.one and [p.isVisible() for p in plots] == [True, False, False] and t.loss_plot.width() >= PLOT_WIDTH
    t.plots.bar.setCurrentIndex(2)
    assert [p.isVisible() for p in plots] == [False, False, True]
    qtbot.waitUntil(lambda: t.speed_plot.width() >= PLOT_WIDTH, timeout=3000)
    t.results.setCurrentWidget(t.runs)                              # Compare runs' two plots alike
    qtbot.waitUntil(lambda: t.runs.plots.one and t.runs.loss.width() >= PLOT_WIDTH, timeout=3000)
    # the results' pages were "Conf…", "Mi…", "D…", "C…", beside an empty strip the settings could not take
    qtbot.waitUntil(lambda: t.splitter.sizes()[0] <= t.splitter.widget(0).maximumWidth(), timeout=3000)
    assert _page_names_fit(t.results) and t.results.tabText(1) == "Confusion"
    window.lessons.stop_recording()                                 # the room back: side by side again
    qtbot.waitUntil(lambda: not t.plots.one and all(p.isVisible() for p in plots), timeout=3000)
    qtbot.waitUntil(lambda: t.results.tabText(1) == "Confusion matrix", timeout=3000)
    assert _page_names_fit(t.results)


def _page_names_fit(tabs) -> bool:
    """Whether every page's name is written whole (the tabs' widths at their names fit the bar)."""
    bar = tabs.tabBar()
    return sum(bar.tabSizeHint(i).width() for i in range(tabs.count())) <= tabs.width() and all(
        bar.tabRect(i).width() >= bar.tabSizeHint(i).width() for i in range(tabs.count()))


def test_a_wrap_row_wraps_when_a_half_grows_at_the_same_width(qtbot):
    """The Backprop tools' row stayed on one line when a step showed its buttons (no resize came), and
    the colour scale's name was cut under Predict."""
    first, second = QtWidgets.QWidget(), QtWidgets.QWidget()
    a, b = QtWidgets.QHBoxLayout(first), QtWidgets.QHBoxLayout(second)
    hidden = QtWidgets.QPushButton("A button that appears with a step")
    hidden.hide()
    a.addWidget(QtWidgets.QPushButton("One"))
    a.addWidget(hidden)
    b.addWidget(QtWidgets.QPushButton("Two"))
    row = WrapRow(first, second)
    qtbot.addWidget(row)
    row.resize(first.minimumSizeHint().width() + second.minimumSizeHint().width() + 40, 60)
    row.show()
    qtbot.waitExposed(row)
    assert not row.wrapped
    hidden.show()
    qtbot.waitUntil(lambda: row.wrapped, timeout=2000)
    hidden.hide()
    qtbot.waitUntil(lambda: not row.wrapped, timeout=2000)


def test_the_step_keys_leave_a_focused_control_its_own_keys(window, qtbot):
    """A tour: on the Backprop tab Space on a focused button started playback instead of pressing it
    (Predict, Slide the filter, Open trace… could not be pressed from the keyboard). The arrows stay the
    steps' wherever the focus is (test_gui_app: a click on the tab leaves it on the tab bar)."""
    bp, st = window.backprop, window.session.stepper
    window.tabs.setCurrentWidget(bp)
    assert bp.record()
    st.index = 3
    predict = bp.maps.predict_button
    predict.setFocus()
    qtbot.waitUntil(predict.hasFocus, timeout=2000)
    was = predict.isChecked()
    qtbot.keyClick(predict, Qt.Key_Space)
    assert predict.isChecked() != was and not st.playing and st.index == 3
    predict.setChecked(was)
    nxt = bp.nav.next_button
    nxt.setFocus()
    qtbot.waitUntil(nxt.hasFocus, timeout=2000)
    qtbot.keyClick(nxt, Qt.Key_Right)                            # a button has no use for →: the step moves
    assert st.index == 4


def test_a_digit_is_drawn_with_the_keyboard(window, qtbot):
    """A tour: Tab never reached the Draw tab's canvas and it took no keys: no digit without a mouse."""
    window.tabs.setCurrentWidget(window.draw)
    canvas = window.draw.canvas
    canvas.clear()
    w = window.draw
    for _ in range(40):                                       # Tab reaches it
        if canvas.hasFocus():
            break
        qtbot.keyClick(QtWidgets.QApplication.focusWidget() or window, Qt.Key_Tab)
    assert canvas.hasFocus()
    strokes = []
    canvas.strokeFinished.connect(lambda: strokes.append(1))
    qtbot.keyClick(canvas, Qt.Key_Up, Qt.ShiftModifier)      # from the middle, up by 4 digit pixels
    qtbot.keyClick(canvas, Qt.Key_Space)                     # pen down
    for _ in range(8):
        qtbot.keyClick(canvas, Qt.Key_Down)                  # a vertical stroke of 8 digit pixels
    qtbot.keyClick(canvas, Qt.Key_Space)                     # pen up: one stroke, as a mouse button's
    assert strokes == [1] and not canvas.is_empty()
    ink = canvas.array()
    rows = np.flatnonzero(ink.max(axis=1) > 0.5)
    cols = np.flatnonzero(ink.max(axis=0) > 0.5)
    step = canvas.sheet_size() / 28
    assert rows[-1] - rows[0] >= 7 * step and cols[-1] - cols[0] < 3 * step       # a "1"
    qtbot.waitUntil(lambda: w.answer.text() != "", timeout=2000)


def test_tab_leaves_a_table_of_numbers_in_one_press(qtbot):
    """A tour: Tab walked the terms table cell by cell (the arrows do that); only Ctrl+Tab got out."""
    from cnnapp.learn.arithmetic_panel import ArithmeticPanel
    from cnnapp.learn.gradcheck_view import GradCheckView
    panel, check = ArithmeticPanel(), GradCheckView()
    for w in (panel, check):
        qtbot.addWidget(w)
    assert not panel.table.tabKeyNavigation() and not check.table.tabKeyNavigation()
    assert not check.history.tabKeyNavigation()


def test_the_layer_table_is_one_tab_stop_and_the_keyboard_edits_each_cell(window, qtbot):
    """A tour: Tab walked through every box of the Build tab's table (dozens of presses to get past
    it). The table is one stop: the arrows move between cells, Enter, F2 or a typed digit opens a
    cell's box, Escape puts its value back, Tab leaves the table from it too; every cell is named."""
    from cnncore.architecture import preset
    from cnnapp.widgets.arch_editor import COLS
    window.tabs.setCurrentWidget(window.build)
    ed = window.build.editor
    ed.set_spec(preset("lenet"))
    t, focus = ed.table, QtWidgets.QApplication.focusWidget
    inside = lambda: focus() is t or t.isAncestorOf(focus())          # noqa: E731
    ed.in_sides[1].setFocus()
    qtbot.waitUntil(ed.in_sides[1].hasFocus, timeout=2000)
    qtbot.keyClick(ed.in_sides[1], Qt.Key_Tab)
    assert focus() is t
    qtbot.keyClick(t, Qt.Key_Tab)                                     # one press leaves it
    assert focus() is not None and not inside()
    qtbot.keyClick(focus(), Qt.Key_Backtab)
    assert focus() is t
    t.setCurrentCell(0, 0)
    qtbot.keyClick(t, Qt.Key_Right)                                   # the arrows move between cells
    assert (t.currentRow(), t.currentColumn()) == (0, COLS.index("Filters / units"))
    qtbot.keyClick(t, Qt.Key_Return)
    box = focus()
    assert isinstance(box, QtWidgets.QSpinBox) and box.accessibleName() == "layer 0 filters"
    qtbot.keyClick(box, Qt.Key_Up)
    assert ed.spec()["layers"][0]["filters"] == 9                     # in use as it changes
    qtbot.keyClick(box, Qt.Key_Escape)                                # … until Escape puts it back
    assert ed.spec()["layers"][0]["filters"] == 8 and focus() is t
    qtbot.keyClick(t, Qt.Key_7)                                       # a digit opens the box with it
    box = focus()
    assert isinstance(box, QtWidgets.QSpinBox) and ed.spec()["layers"][0]["filters"] == 7
    qtbot.keyClick(box, Qt.Key_Tab)                                   # Tab leaves from the box too
    assert not inside() and ed.spec()["layers"][0]["filters"] == 7 and t.item(0, 1).text() == "7"
    t.setFocus()
    t.setCurrentCell(5, COLS.index("Activation"))
    qtbot.keyClick(t, Qt.Key_F2)
    choice = focus()
    assert isinstance(choice, QtWidgets.QComboBox) and choice.accessibleName() == "layer 5 activation"
    qtbot.keyClick(choice, Qt.Key_Up)
    picked = choice.currentText()
    qtbot.keyClick(choice, Qt.Key_Return)
    qtbot.waitUntil(lambda: focus() is t, timeout=2000)
    assert ed.spec()["layers"][5]["activation"] == picked != "none"
    table = QtGui.QAccessible.queryAccessibleInterface(t)
    said = {}
    for i in range(table.childCount()):
        cell = table.child(i).tableCellInterface()
        if cell is not None:
            said[cell.rowIndex(), cell.columnIndex()] = table.child(i).text(QtGui.QAccessible.Name)
    for r in range(t.rowCount()):
        for c in range(t.columnCount()):
            if t.item(r, c).flags() & Qt.ItemIsEditable:
                assert said[r, c].startswith(f"layer {r} ") and said[r, c].endswith(t.item(r, c).text())
    assert said[0, 0] == "layer 0 type conv" and said[0, COLS.index("Kernel / size")] == "layer 0 kernel 5"
    assert not [w for w in t.findChildren(QtWidgets.QWidget) if w.focusPolicy() & Qt.TabFocus
                and w.isVisible() and w.parentWidget() is t.viewport()]


def test_a_dark_desktop_palette_gives_way_to_a_light_one(qtbot):
    """A tour: under a dark palette the Backprop timeline's steps, the equation boxes and grey words of
    the Learn and Look tabs were white or grey on white or pale colours (macOS and Windows in dark mode).
    The app asks the platform for light colours, and sets them itself where it stays dark."""
    from cnnapp.widgets.light_palette import is_dark, keep_light, light_palette
    app = QtWidgets.QApplication.instance()
    before, style = QtGui.QPalette(app.palette()), app.style().name()
    try:
        assert not is_dark(light_palette())
        dark = QtGui.QPalette()
        for role, colour in ((QtGui.QPalette.Window, "#202020"), (QtGui.QPalette.WindowText, "#eeeeee"),
                             (QtGui.QPalette.Base, "#181818"), (QtGui.QPalette.Text, "#eeeeee")):
            dark.setColor(role, QtGui.QColor(colour))
        app.setPalette(dark)
        assert is_dark(app.palette()) and keep_light(app) and not is_dark(app.palette())
        assert app.palette().color(QtGui.QPalette.WindowText).lightness() < 100
        assert app.palette().color(QtGui.QPalette.Base).lightness() > 200
        assert not keep_light(app)                                  # light already: nothing to say
    finally:
        app.setStyle(style)
        app.setPalette(before)


def test_a_keyboard_stroke_undone_midway_or_crossed_by_the_mouse_stays_apart(qtbot):
    """A review: Ctrl+Z with the keyboard's pen down left the rest of the stroke with no undo (and two
    "finished"), and an arrow during a mouse drag drew a line from the pointer to the keyboard's pen."""
    from cnnapp.widgets.canvas import DrawCanvas
    c = DrawCanvas()
    qtbot.addWidget(c)
    c.show()
    qtbot.waitExposed(c)
    finished = []
    c.strokeFinished.connect(lambda: finished.append(1))
    qtbot.keyClick(c, Qt.Key_Space)
    for _ in range(5):
        qtbot.keyClick(c, Qt.Key_Right)
    assert c.undo() and c.is_empty() and len(finished) == 2         # the stroke ended, then was undone
    for _ in range(3):
        qtbot.keyClick(c, Qt.Key_Down)                               # the pen is up: nothing drawn
    assert c.is_empty()
    qtbot.keyClick(c, Qt.Key_Space)                                  # a new stroke, undone whole
    qtbot.keyClick(c, Qt.Key_Right)
    qtbot.keyClick(c, Qt.Key_Space)
    assert not c.is_empty() and c.undo() and c.is_empty()
    r = c._sheet_rect()
    corner = QtCore.QPointF(r.x() + 5, r.y() + 5)
    qtbot.mousePress(c, Qt.LeftButton, pos=corner.toPoint())
    qtbot.keyClick(c, Qt.Key_Down)                                   # an arrow mid-drag: no line to the pen
    qtbot.mouseRelease(c, Qt.LeftButton, pos=corner.toPoint())
    rows = np.flatnonzero(c.array().max(axis=1) > 0.5)
    assert len(rows) and rows.max() < c.sheet_size() / 4
