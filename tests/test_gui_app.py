"""GUI tests of the desktop app (pytest-qt, headless)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

pytestmark = [
    pytest.mark.gui,
    # The offscreen platform plugin says this about every shown top-level window.
    pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)"),
]

OBJECT_NAMES = ["drawCanvas", "clearButton", "probabilityPlot", "trainStartButton", "trainPauseButton",
                "trainStopButton", "lossPlot", "accuracyPlot", "backpropPrevButton", "backpropNextButton",
                "backpropStepLabel", "mapGrid"]


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    """Settings and user files go to a temporary folder, never the user's own."""
    monkeypatch.setenv("CNNLAB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(autouse=True)
def _no_leaked_windows(qapp):
    """Every test must leave no top-level widget behind (closed and deleted)."""
    before = {id(w) for w in QtWidgets.QApplication.topLevelWidgets()}
    yield
    for _ in range(3):
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.DeferredDelete)
        qapp.processEvents()
    leaked = [w for w in QtWidgets.QApplication.topLevelWidgets()
              if id(w) not in before and not isinstance(w, QtWidgets.QMenu)]
    assert not leaked, f"leaked top-level widgets: {[type(w).__name__ for w in leaked]}"


@pytest.fixture
def window(qtbot):
    from cnnapp.main_window import MainWindow
    w = MainWindow(load_settings=False)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()       # keyboard shortcuts need the active window (a real X server has no WM here)
    qtbot.waitUntil(w.isActiveWindow, timeout=2000)
    yield w
    w.train.shutdown()
    w.lessons.confirm = lambda text: True       # a test that failed mid-recording still closes its window
    w.lessons.confirm_over = lambda text: True


def _send_mouse(widget, kind, pos, buttons):
    pos = QtCore.QPointF(pos)
    button = QtCore.Qt.LeftButton if kind != QtCore.QEvent.MouseMove else QtCore.Qt.NoButton
    ev = QtGui.QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, QtCore.Qt.NoModifier)
    QtWidgets.QApplication.sendEvent(widget, ev)


def stroke(widget, points):
    """Press, drag through ``points`` (fractions of the widget's square), release."""
    side = min(widget.width(), widget.height())
    ox, oy = (widget.width() - side) / 2, (widget.height() - side) / 2
    pts = [QtCore.QPointF(ox + fx * side, oy + fy * side) for fx, fy in points]
    _send_mouse(widget, QtCore.QEvent.MouseButtonPress, pts[0], QtCore.Qt.LeftButton)
    for p in pts[1:]:
        _send_mouse(widget, QtCore.QEvent.MouseMove, p, QtCore.Qt.LeftButton)
    _send_mouse(widget, QtCore.QEvent.MouseButtonRelease, pts[-1], QtCore.Qt.NoButton)


def _circle(cx=0.5, cy=0.5, rx=0.2, ry=0.3, n=40):
    t = np.linspace(0, 2 * np.pi, n)
    return list(zip(cx + rx * np.sin(t), cy - ry * np.cos(t)))


# --------------------------------------------------------------------------- tests

def test_window_has_the_fixed_object_names_and_tooltips(window):
    for name in OBJECT_NAMES:
        assert window.findChild(QtCore.QObject, name) is not None, name
    assert window.findChild(QtCore.QObject, "mapGrid").__class__.__name__ == "MapGrid"
    window.learn.ensure()          # the Learn tab is built on first show: build it, check it too
    untipped = [w for w in window.findChildren(QtWidgets.QAbstractButton)
                + window.findChildren(QtWidgets.QAbstractSpinBox) + window.findChildren(QtWidgets.QComboBox)
                + window.findChildren(QtWidgets.QSlider)
                if not w.toolTip() and not isinstance(w.parent(), QtWidgets.QTabBar)
                and w.objectName() not in ("qt_spinbox_lineedit",)
                and not w.objectName().startswith("qt_")]
    assert not untipped, [(type(w).__name__, w.text() if hasattr(w, "text") else "") for w in untipped]


def test_starter_model_loads_and_predicts(window):
    from cnncore.datasets import generated_digits, to_input
    from cnncore.modelio import load_model

    from cnnapp.settings import starter_model_path
    path = starter_model_path()
    assert path.exists() and path.stat().st_size < 256 * 1024
    net = load_model(str(path))
    assert "starter" in window.session.source and window.session.trained
    X, y = generated_digits(300, seed=99)   # digits the starter model never saw
    from cnncore.learnt import learnt_count
    assert learnt_count(net, X) == 0 and len(net.trained_on) == net.history[-1]["images"] == 24000
    acc = float(np.mean(net.predict(to_input(X)) == y))
    assert acc > 0.9, acc
    same = window.session.network.predict(to_input(X[:50]))
    assert np.array_equal(same, net.predict(to_input(X[:50])))


def test_drawing_strokes_changes_the_prediction(window, qtbot):
    window.tabs.setCurrentWidget(window.draw)
    canvas = window.findChild(QtWidgets.QWidget, "drawCanvas")
    plot = window.findChild(QtWidgets.QWidget, "probabilityPlot")
    assert canvas.is_empty() and plot.probabilities().sum() == 0
    stroke(canvas, [(0.5, 0.18 + 0.64 * k / 20) for k in range(21)])      # a "1"
    qtbot.waitUntil(lambda: plot.probabilities().sum() > 0.99, timeout=2000)
    p_one = plot.probabilities()
    assert int(np.argmax(p_one)) == 1, p_one
    window.findChild(QtWidgets.QPushButton, "clearButton").click()
    assert canvas.is_empty()
    qtbot.waitUntil(lambda: plot.probabilities().sum() == 0, timeout=2000)
    stroke(canvas, _circle())                                               # a "0"
    qtbot.waitUntil(lambda: plot.probabilities().sum() > 0.99, timeout=2000)
    p_zero = plot.probabilities()
    assert int(np.argmax(p_zero)) == 0, p_zero
    # Undo takes the circle away again.
    assert canvas.undo() and canvas.is_empty()


def test_add_drawing_to_my_digits_is_saved(window, tmp_path):
    canvas = window.draw.canvas
    stroke(canvas, [(0.5, 0.2 + 0.6 * k / 10) for k in range(11)])
    window.draw.label_combo.setCurrentIndex(1)
    window.draw.label_combo.activated.emit(1)               # (the learner chose it in the box)
    assert window.draw.add_to_my_digits()
    from cnncore.datasets import DrawingsDataset

    from cnnapp.settings import data_dir
    ds = DrawingsDataset(data_dir() / "my_digits.npz")
    assert len(ds) == 1 and int(ds.labels[0]) == 1 and ds.images.shape == (1, 28, 28)


@pytest.mark.qt_log_ignore(r"This plugin does not support (raise\(\)|grabbing the keyboard|propagateSizeHints\(\))")
def test_a_drawing_is_added_to_my_digits_only_with_the_digit_chosen_for_it(window, qtbot):
    """A tour: "Add to my digits" stored the network's guess, shown in the box, as the drawing's digit when
    the learner had chosen none (a 4 it misread as a 9 was kept as a 9, to be trained on). It asks for the
    digit instead, and stores nothing until one is chosen."""
    from cnncore.datasets import DrawingsDataset

    from cnnapp.settings import data_dir
    draw, said = window.draw, []
    window.session.message.connect(lambda text, ms: said.append(text))
    stroke(draw.canvas, [(0.5, 0.2 + 0.6 * k / 10) for k in range(11)])
    qtbot.waitUntil(lambda: draw.probs.probabilities().sum() > 0.99, timeout=2000)
    guess = int(np.argmax(draw.probs.probabilities()))
    assert draw.label_combo.currentIndex() == guess and not draw.drawing.label_chosen
    draw.add_button.click()
    assert said[-1] == (f"Which digit did you draw? Choose it in the box, then add the drawing (the box shows the "
                        f"network's guess, {guess}, until you choose).")
    assert draw.label_combo.view().isVisible()               # its list is open, to choose from
    assert not (data_dir() / "my_digits.npz").exists()
    draw.label_combo.hidePopup()
    chosen = (guess + 3) % 10
    draw.label_combo.setCurrentIndex(chosen)
    draw.label_combo.activated.emit(chosen)
    draw.add_button.click()
    ds = DrawingsDataset(data_dir() / "my_digits.npz")
    assert len(ds) == 1 and int(ds.labels[0]) == chosen


def test_architecture_that_does_not_fit_is_refused(window):
    build = window.build
    before = window.session.network
    editor = build.editor
    editor.set_spec(__import__("cnncore.architecture", fromlist=["preset"]).preset("lenet"))
    assert editor.valid() and build.apply_button.isEnabled()
    editor.set_value(2, "kernel", 13)        # 13x13 on the 12x12 maps after the first pooling
    assert not editor.valid()
    assert not build.apply_button.isEnabled()
    status = window.findChild(QtWidgets.QLabel, "buildStatusLabel").text()
    assert "layer 2" in status and "12×12" in status, status
    assert editor.table.verticalHeaderItem(2).text().startswith("⚠")
    assert build.apply() is False
    assert window.session.network is before
    editor.set_value(2, "kernel", 5)
    assert editor.valid() and build.apply_button.isEnabled()
    asked = []
    build.confirm = lambda text: asked.append(text) or False     # "keep my trained weights"
    assert build.apply() is False and window.session.network is before and asked
    build.confirm = lambda text: True
    assert build.apply() is True and window.session.network is not before
    assert not window.session.trained


def test_the_build_tab_says_why_a_relu_on_the_output_layer_hurts_and_allows_it(window):
    """A tour: a ReLU on the output layer was taken without a word. The row's note says why it hurts (in
    amber), and so does the line below the table; the network can still be built; without it, no word."""
    from cnncore.architecture import preset
    from cnnapp.widgets.arch_editor import COLS
    build, ed = window.build, window.build.editor
    ed.set_spec(preset("tiny"))
    last = len(ed.spec()["layers"]) - 1
    note = lambda: ed.table.item(last, COLS.index("Notes"))        # noqa: E731 (the table makes new items)
    assert "output layer" not in note().text() and ed.cautions() == [] and "output layer" not in build.status.text()
    ed.set_value(last, "activation", "relu")
    why = ("With relu on the output layer, no logit can go below 0, so a wrong class cannot be pushed down past 0 "
           "(only the right one pushed up), and wherever a class's z is below 0 its gradient is 0 (ReLU's slope "
           "there), so that class learns nothing from the picture. The output layer usually has no activation "
           "(none).")
    assert note().text().endswith(f". {why}") and note().foreground().color().name() == "#9a6700"
    assert ed.cautions() == [f"Layer {last} ({ed.summary()[last].text}): {why}"]
    assert build.status.text() == ("Every layer fits. Press “Use this network” to build it. "
                                   f"Layer {last} ({ed.summary()[last].text}): {why}")
    build.confirm = lambda text: True                         # (the trained starter model's weights go)
    assert ed.valid() and build.apply_button.isEnabled() and build.apply()
    assert window.session.network.spec["layers"][last]["activation"] == "relu"
    ed.set_value(last, "activation", "none")
    assert ed.cautions() == [] and "output layer" not in note().text()


def test_architecture_editor_add_remove_move(window):
    from cnncore.architecture import preset
    ed = window.build.editor
    ed.set_spec(preset("tiny"))
    n = len(ed.spec()["layers"])
    ed.table.selectRow(0)
    ed.add_layer("conv")
    assert len(ed.spec()["layers"]) == n + 1 and ed.spec()["layers"][1]["type"] == "conv"
    ed.move_layer(1, -1)
    assert ed.spec()["layers"][0]["filters"] == 8
    ed.remove_layer(0)
    assert ed.spec() == __import__("cnncore.architecture", fromlist=["parse_architecture"]).parse_architecture(
        preset("tiny"))
    assert ed.summary()[-1].out_shape == (10,)



def test_build_offers_every_layer_type_with_its_own_fields(window):
    from cnncore.layers import LAYER_TYPES
    from cnnapp.widgets.arch_editor import COLS
    build, ed = window.build, window.build.editor
    menu = build.findChild(QtWidgets.QToolButton, "addLayerButton").menu()
    assert [a.text() for a in menu.actions()] == [cls.title for cls in LAYER_TYPES.values()]
    ed.set_spec({"input": [1, 28, 28], "layers": [
        {"type": "conv", "filters": 4, "kernel": 3, "padding": 1}, {"type": "l2pool", "size": 2},
        {"type": "downsample", "factor": 2}, {"type": "upsample", "factor": 3},
        {"type": "flatten"}, {"type": "dense", "units": 10}]})
    assert ed.valid(), ed.problem()
    col = COLS.index("Stride / factor")
    box = ed.table.open_cell(ed.table.model().index(3, col))
    assert isinstance(box, QtWidgets.QSpinBox) and box.value() == 3
    box.setValue(2)                                       # the factor is edited like any count
    assert ed.spec()["layers"][3]["factor"] == 2 and ed.summary()[3].out_shape == (4, 13, 13)
    assert "transposed" in ed.table.item(3, COLS.index("Notes")).text()
    assert "0 where a whole window is 0" in ed.table.item(1, COLS.index("Notes")).text()
    ed.set_value(1, "size", 3)                            # the l2pool stride follows its window size
    assert ed.spec()["layers"][1]["stride"] == [3, 3]
    ed.set_value(2, "type", "upsample")
    assert ed.spec()["layers"][2] == {"type": "upsample", "factor": 2}
    build.confirm = lambda text: True
    assert build.apply() is True
    assert [l.type for l in window.session.network.layers][:4] == ["conv", "l2pool", "upsample", "upsample"]


def _tiny_network(window):
    from cnncore.architecture import preset
    from cnncore.network import Network
    window.session.set_network(Network(preset("tiny"), seed=0), "tiny test network", trained=False)


def test_training_in_the_worker_fills_the_plots_and_keeps_the_gui_alive(window, qtbot):
    _tiny_network(window)
    train = window.train
    train.count.setValue(1500)
    train.epochs.setValue(2)
    train.batch.setValue(32)
    train.holdout.setValue(0.2)
    gaps = []
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
    timer = QtCore.QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    with qtbot.waitSignal(train.trainingFinished, timeout=60000) as blocker:
        window.findChild(QtWidgets.QPushButton, "trainStartButton").click()
        assert train.is_running()
        assert not window.findChild(QtWidgets.QPushButton, "trainStartButton").isEnabled()
        qtbot.waitUntil(lambda: window.findChild(QtWidgets.QWidget, "lossPlot").point_count() > 0, timeout=30000)
        train.lr.setValue(0.002)     # live change while running
    timer.stop()
    assert blocker.args[0].reason == "done", blocker.args[0]
    assert window.findChild(QtWidgets.QWidget, "lossPlot").point_count() == 2 * 38
    assert window.findChild(QtWidgets.QWidget, "accuracyPlot").point_count() == 2
    assert train.confusion.matrix().sum() == 0          # drawn when its tab is shown
    train.bottom_tabs.setCurrentWidget(train.confusion)
    assert train.confusion.matrix().sum() == 300
    train.bottom_tabs.setCurrentWidget(train.gallery_page)
    assert train.gallery.count() > 0 and "→" in train.gallery.item(0).text()
    g, at = train.gallery, []                       # Return on a mistake asks where to open it, beside it
    g.setFocus()
    g.setCurrentRow(0)
    popup = QtWidgets.QMenu.popup
    QtWidgets.QMenu.popup = lambda menu, pos, *a: at.append((len(menu.actions()), pos))
    try:
        qtbot.keyClick(g.viewport(), QtCore.Qt.Key_Return)
    finally:
        QtWidgets.QMenu.popup = popup
    assert at == [(2, g.viewport().mapToGlobal(g.visualItemRect(g.item(0)).center()))]
    assert train.live.map_count() > 0
    assert max(gaps) < 1.0, f"the GUI thread stalled for {max(gaps):.2f} s"
    qtbot.waitUntil(lambda: not train.is_running(), timeout=5000)
    assert window.session.trained and not window.session.training


def test_pause_resume_and_stop(window, qtbot):
    _tiny_network(window)
    train = window.train
    window.tabs.setCurrentWidget(train)     # the plots draw while their tab shows
    train.count.setValue(3000)
    train.epochs.setValue(50)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000) as blocker:
        train.start()
        qtbot.waitUntil(lambda: train.loss_plot.point_count() > 0, timeout=30000)
        window.findChild(QtWidgets.QPushButton, "trainPauseButton").click()
        qtbot.wait(500)                                  # the last batch and plot refresh land
        n = train.loss_plot.point_count()
        qtbot.wait(500)
        assert train.loss_plot.point_count() == n       # paused: no new batches
        train.lr.setValue(0.0011)                        # the learning rate changes mid-run
        window.findChild(QtWidgets.QPushButton, "trainPauseButton").click()
        qtbot.waitUntil(lambda: train.loss_plot.point_count() > n, timeout=10000)
        window.findChild(QtWidgets.QPushButton, "trainStopButton").click()
    assert blocker.args[0].reason == "stopped"
    # the rate reached the trainer (in the training process): the run ends with it as its base rate
    assert float(window.session.network.optimizer_state["lr"]) == pytest.approx(0.0011)


def _map_count(shape) -> int:
    return shape[0] if len(shape) == 3 else 1


def expected_heatmaps(spec) -> list[int]:
    """Heatmaps per step, from the architecture alone: one per channel of a map, one per
    (filter, channel) pair of a conv kernel, one per vector or matrix."""
    from cnncore.architecture import summarize
    rows = summarize(spec)
    out = []
    for r in rows:
        i, t = r.index, r.type
        cin, cout = _map_count(r.in_shape), _map_count(r.out_shape)
        if t == "conv":
            out.append(cin + cin * cout + 1 + cout + cout)
        elif t in ("maxpool", "avgpool", "flatten"):
            out.append(cin + cout)
        else:
            out.append(5)
    out.append(3)   # logits, probabilities, dL/dlogits
    for r in reversed(rows):
        i, t = r.index, r.type
        cin, cout = _map_count(r.in_shape), _map_count(r.out_shape)
        if t == "conv":
            out.append(3 * cout + cin + cin * cout + 1 + ((cin * cout + cin) if i > 0 else 0))
        elif t in ("maxpool", "avgpool", "flatten"):
            out.append(cout + (cin if i > 0 else 0))
        else:
            out.append(6 + (2 if i > 0 else 0))
    for r in rows:
        if r.type == "conv":
            cin, cout = _map_count(r.in_shape), _map_count(r.out_shape)
            out.append(3 * cin * cout + 3)      # W, dW, W_next; b, db, b_next (plain descent: no state)
        elif r.type == "dense":
            out.append(6)
    return out


def test_step_through_a_whole_trace_forward_and_back(window, qtbot):
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    bp.source.setCurrentIndex(2)         # a data set sample
    bp.sample_spin.setValue(3)
    assert bp.record()
    spec = window.session.network.spec
    expected = expected_heatmaps(spec)
    grid = window.findChild(QtWidgets.QWidget, "mapGrid")
    label = window.findChild(QtWidgets.QLabel, "backpropStepLabel")
    nxt = window.findChild(QtWidgets.QAbstractButton, "backpropNextButton")
    prev = window.findChild(QtWidgets.QAbstractButton, "backpropPrevButton")
    assert bp.step_count() == len(expected)
    seen = []
    for k in range(len(expected)):
        assert label.text().startswith(f"Step {k + 1} of {len(expected)}")
        assert grid.map_count() == expected[k], (k, bp.current_step().title)
        assert all(it.isVisible() and it.image is not None for it in grid.map_items())
        seen.append(bp.current_step().kind)
        if k < len(expected) - 1:
            nxt.click()
    assert not nxt.isEnabled()
    assert seen[0] == "forward" and "loss" in seen and seen[-1] == "update"
    for k in range(len(expected) - 1, 0, -1):
        assert grid.map_count() == expected[k]
        prev.click()
    assert bp.index == 0 and not prev.isEnabled()
    # Arrow keys step too.
    bp.setFocus()
    qtbot.keyClick(bp, QtCore.Qt.Key_Right)
    assert bp.index == 1
    qtbot.keyClick(bp, QtCore.Qt.Key_End)
    assert bp.index == len(expected) - 1


def test_maxpool_step_marks_the_winners_and_hover_reads_values(window):
    bp = window.backprop
    bp.source.setCurrentIndex(2)
    assert bp.record()
    k = next(i for i, s in enumerate(bp.trace.steps) if s.kind == "forward" and s.layer_type == "maxpool")
    bp.go(k)
    groups = bp.grid.groups()
    x = next(g for g in groups if g.key.endswith(".x"))
    assert x.marks is not None
    y = bp.trace.arrays[x.key.replace(".x", ".y")]
    # Exactly one winner per pooling window, and the winners carry the pooled values.
    assert x.marks.sum() == y.size
    assert np.allclose(np.sort(x.array[x.marks]), np.sort(y.reshape(-1)))
    # Hover over one element: the signal reports the array's own value.
    got = []
    bp.grid.hovered.connect(lambda key, idx, v: got.append((key, idx, v)))
    key = f"L{bp.trace.steps[k].layer}.y"
    rect = bp.grid.scene_rect_of(key, (0, 2, 1, 3))
    bp.grid._on_hover(rect.center())
    assert got[-1][0] == key and got[-1][1] == (0, 2, 1, 3)
    assert got[-1][2] == pytest.approx(float(bp.trace.arrays[key][0, 2, 1, 3]))


def test_gradients_use_a_symmetric_diverging_scale(window):
    from cnnapp.widgets.heatmap import DIV_LUT
    bp = window.backprop
    bp.source.setCurrentIndex(2)
    assert bp.record()
    k = next(i for i, s in enumerate(bp.trace.steps) if s.kind == "backward" and s.layer_type == "conv")
    bp.go(k)
    for g, item in zip(bp.grid.groups(), bp.grid.map_items()):
        pass
    items = bp.grid.map_items()
    tiles = bp.grid.tiles()
    for it, t in zip(items, tiles):
        lo, hi = it.getLevels()
        if t.key.split(".")[-1] in ("dz", "dy", "dW", "dx"):
            assert lo == pytest.approx(-hi) and hi > 0
            assert np.array_equal(it.lut, DIV_LUT)


def test_export_maps_and_trace(window, tmp_path):
    bp = window.backprop
    bp.source.setCurrentIndex(2)
    assert bp.record()
    bp.go(0)
    files = bp.export_pngs(tmp_path / "maps")
    assert len(files) == bp.grid.map_count() + 1
    img = QtGui.QImage(str(files[0]))
    assert not img.isNull() and img.width() >= 28
    assert bp.export_trace(tmp_path / "t.npz")
    from cnncore.trace import Trace
    again = Trace.load(tmp_path / "t.npz")
    assert len(again.steps) == bp.step_count()
    assert np.array_equal(again.arrays["L0.z"], bp.trace.arrays["L0.z"])


def test_save_reopen_same_predictions(window, qtbot, tmp_path):
    from cnncore.datasets import generated_digits, to_input
    from cnncore.network import Network

    from cnnapp.main_window import MainWindow
    X = to_input(generated_digits(40, seed=5)[0])
    # A network with weights of its own, so reopening the starter model would not pass by chance.
    net = Network(window.session.network.spec, seed=123)
    window.session.set_network(net, "test", trained=True)
    path = tmp_path / "m.npz"
    assert window.save_model(path)
    other = MainWindow(load_settings=False)
    qtbot.addWidget(other)
    assert other.open_model(path)
    assert np.array_equal(other.session.network.predict_proba(X), net.predict_proba(X))
    stroke(window.draw.canvas, _circle())
    other.draw.canvas.set_array(window.draw.canvas.array())
    assert np.array_equal(other.draw.canvas.array(), window.draw.canvas.array())
    window.draw.update_prediction()
    other.draw.update_prediction()
    assert np.array_equal(window.draw.probs.probabilities(), other.draw.probs.probabilities())
    # A broken file is refused with a message, and nothing changes.
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    before = other.session.network
    assert not other.open_model(bad)
    assert other.session.network is before
    assert "Could not open" in other.statusBar().currentMessage()
    # A colour model (the cifar preset) opens too: every tab follows it (tests/test_gui_colour.py).
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    save_model(tmp_path / "colour.npz", Network(preset("cifar"), seed=0))
    assert other.open_model(tmp_path / "colour.npz") and other.session.input_shape == (3, 32, 32)


def test_close_during_training_stops_the_worker(qtbot):
    from cnnapp.main_window import MainWindow
    w = MainWindow(load_settings=False)
    qtbot.addWidget(w)
    w.show()
    train = w.train
    w.tabs.setCurrentWidget(train)          # the plots draw while their tab shows
    train.count.setValue(3000)
    train.epochs.setValue(100)
    assert train.start()
    qtbot.waitUntil(lambda: train.loss_plot.point_count() > 0, timeout=30000)
    thread = train.controller.thread
    t0 = time.perf_counter()
    assert w.close()
    assert thread.isFinished()
    assert time.perf_counter() - t0 < 5
    assert not w.session.training


def test_settings_are_remembered(qtbot):
    from cnnapp.main_window import MainWindow
    w = MainWindow(load_settings=False)
    qtbot.addWidget(w)
    w.train.lr.setValue(0.0123)
    w.train.epochs.setValue(7)
    w.tabs.setCurrentIndex(2)
    w.backprop.source.setCurrentIndex(2)
    w.backprop.sample_spin.setValue(17)
    w.backprop.speed.setValue(9)
    w.draw.brush.setValue(11)
    w.train.splitter.setSizes([340, 900])       # (the plots keep their least width beside it)
    sizes = w.train.splitter.sizes()
    w.close()
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert w2.train.lr.value() == pytest.approx(0.0123)
    assert w2.train.epochs.value() == 7
    assert w2.tabs.currentIndex() == 2
    assert (w2.backprop.source.currentIndex(), w2.backprop.sample_spin.value()) == (2, 17)
    assert w2.backprop.speed.value() == 9 and w2.draw.brush.value() == 11
    assert w2.train.splitter.sizes()[0] == sizes[0]


def test_about_credits_mnist_authors(window):
    text = window.about_text()
    for name in ("Yann LeCun", "Corinna Cortes", "Christopher J.C. Burges", "CC BY-SA 3.0"):
        assert name in text


def test_errors_show_in_the_window_not_as_tracebacks(window):
    window.draw.canvas.clear()
    window.backprop.source.setCurrentIndex(1)     # the drawing, but the sheet is empty
    assert "sheet is empty" in window.statusBar().currentMessage()
    assert window.backprop.source.currentIndex() != 1        # the box shows the picture there is
    window.session.set_picture(__import__("cnnapp.state", fromlist=["Picture"]).Picture("file", np.zeros((9, 9)), 1))
    assert not window.backprop.record()
    assert "Could not record the trace" in window.statusBar().currentMessage()


def test_first_launch_is_offline_and_the_bars_mean_something(qtbot):
    """A fresh user (no settings yet): no dialog, the starter model answers an example digit."""
    from cnnapp import MainWindow
    t0 = time.perf_counter()
    w = MainWindow()
    qtbot.addWidget(w)
    assert time.perf_counter() - t0 < 10
    assert not [x for x in QtWidgets.QApplication.topLevelWidgets()
                if isinstance(x, QtWidgets.QDialog) and x.isVisible()]
    assert w.tabs.currentWidget() is w.draw
    assert not w.draw.canvas.is_empty()
    p = w.findChild(QtWidgets.QWidget, "probabilityPlot").probabilities()
    assert int(np.argmax(p)) == 3 and p.max() > 0.8, p
    w.close()
    # The second launch keeps the window as it was and shows no example.
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert w2.draw.canvas.is_empty()


def test_mnist_download_failure_is_reported_in_the_window(window, qtbot):
    train = window.train
    with qtbot.waitSignal(window.session.message, timeout=20000,
                          check_params_cb=lambda text, ms: "Could not download MNIST" in text):
        train.download_mnist(mirrors=["http://127.0.0.1:9/"])   # nothing listens there
    qtbot.waitUntil(lambda: train.dl_thread is None, timeout=20000)
    assert not train.download_bar.isVisible()


def test_backprop_traces_the_drawing_with_its_label(window):
    stroke(window.draw.canvas, _circle())
    window.draw.update_prediction()
    window.draw.label_combo.setCurrentIndex(6)          # "I meant a 6", chosen as a user chooses it
    window.draw.label_combo.activated.emit(6)
    bp = window.backprop
    bp.source.setCurrentIndex(1)                          # the drawing
    assert bp.record()
    assert bp.trace.label == 6
    assert np.allclose(bp.trace.arrays["input"][0, 0], window.draw.network_input())


def test_canvas_draws_with_a_pen_and_a_finger(qtbot):
    from PySide6 import QtTest

    from cnnapp.widgets.canvas import DrawCanvas
    c = DrawCanvas()
    qtbot.addWidget(c)
    c.resize(300, 300)
    c.show()
    qtbot.waitExposed(c)
    pen = QtGui.QPointingDevice("test pen", 1001, QtGui.QInputDevice.DeviceType.Stylus,
                                QtGui.QPointingDevice.PointerType.Pen,
                                QtGui.QInputDevice.Capability.Position | QtGui.QInputDevice.Capability.Pressure,
                                1, 3)

    def tablet(kind, y):
        pos = QtCore.QPointF(150, y)
        QtWidgets.QApplication.sendEvent(c, QtGui.QTabletEvent(
            kind, pen, pos, c.mapToGlobal(pos), 0.8, 0, 0, 0, 0, 0, QtCore.Qt.NoModifier,
            QtCore.Qt.LeftButton, QtCore.Qt.LeftButton))
    tablet(QtCore.QEvent.TabletPress, 40)
    tablet(QtCore.QEvent.TabletMove, 150)
    tablet(QtCore.QEvent.TabletRelease, 260)
    ink = c.array()
    rows = np.flatnonzero(ink.max(axis=1) > 0.5)
    assert rows.size > 150                       # a vertical line from top to bottom
    assert np.all(ink[:, :100].max(axis=1) < 0.5)  # and nothing on the left
    assert c.undo() and c.is_empty()
    finger = QtTest.QTest.createTouchDevice()
    QtTest.QTest.touchEvent(c, finger).press(0, QtCore.QPoint(40, 150)).commit()
    for x in range(60, 260, 20):
        QtTest.QTest.touchEvent(c, finger).move(0, QtCore.QPoint(x, 150)).commit()
    QtTest.QTest.touchEvent(c, finger).release(0, QtCore.QPoint(260, 150)).commit()
    ink = c.array()
    assert (ink.max(axis=0) > 0.5).sum() > 150   # a horizontal line
    # The brush is round and anti-aliased: grey levels between paper and full ink exist.
    assert np.any((ink > 0.1) & (ink < 0.9))


def test_clicking_a_pixel_outlines_the_numbers_it_came_from(window):
    bp = window.backprop
    bp.source.setCurrentIndex(2)
    assert bp.record()
    k = next(i for i, s in enumerate(bp.trace.steps) if s.kind == "forward" and s.layer_type == "conv")
    bp.go(k)
    layer = bp.trace.steps[k].layer
    key = f"L{layer}.z"
    spec = bp.trace.spec["layers"][layer]
    kh, kw = spec["kernel"]
    cin = bp.trace.arrays[f"L{layer}.x"].shape[1]
    # z(0, 2, 3, 4) reads a kh×kw window of every input channel, the same number of weights, and b.
    n = bp._mark_sources(key, (0, 2, 3, 4), bp.current_step())
    assert n == 2 * cin * kh * kw + 1
    assert not bp.grid._target_mark.path().isEmpty()
    # Clicking through the view does the same and reaches the arithmetic panel.
    rect = bp.grid.scene_rect_of(key, (0, 2, 3, 4))
    bp.grid._on_click(rect.center())
    assert not bp.grid._source_marks.path().isEmpty()
    if bp.arithmetic is not None:
        assert bp.arithmetic.breakdown is not None
    bp.next()       # a new step clears the outlines
    assert bp.grid._source_marks.path().isEmpty()


def test_train_on_an_idx_folder(window, qtbot, shared_mnist_dir, tmp_path):
    from cnnapp.views.train_view import find_idx_pair
    images, labels = find_idx_pair(shared_mnist_dir)
    assert "images" in Path(images).name and "labels" in Path(labels).name
    _tiny_network(window)
    train = window.train
    assert not train.set_idx_folder(tmp_path)               # an empty folder is refused, with a reason
    assert "No pair of IDX" in window.statusBar().currentMessage()
    train.source.setCurrentIndex(train.source.findData("idx"))
    assert train.set_idx_folder(shared_mnist_dir)
    assert not train.count.isEnabled()                      # the files a user names are used whole
    train.count.setValue(640)
    train.epochs.setValue(1)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000) as blocker:
        assert train.start()
    assert blocker.args[0].reason == "done"
    train.bottom_tabs.setCurrentWidget(train.confusion)
    assert train.confusion.matrix().sum() == 1200    # 15% of all 8,000 held out (the first 640 were taken)


def test_bars_update_while_the_stroke_is_drawn(window, qtbot):
    canvas = window.draw.canvas
    plot = window.draw.probs
    side = min(canvas.width(), canvas.height())
    ox, oy = (canvas.width() - side) / 2, (canvas.height() - side) / 2
    _send_mouse(canvas, QtCore.QEvent.MouseButtonPress, QtCore.QPointF(ox + side / 2, oy + side * 0.2),
                QtCore.Qt.LeftButton)
    updates = []
    for k in range(30):      # keep moving (never lifting the pen) for ~0.6 s
        _send_mouse(canvas, QtCore.QEvent.MouseMove,
                    QtCore.QPointF(ox + side / 2, oy + side * (0.2 + 0.02 * k)), QtCore.Qt.LeftButton)
        qtbot.wait(20)
        updates.append(plot.probabilities().sum())
    assert updates[-1] > 0.99            # the bars show an answer before the pen is lifted
    _send_mouse(canvas, QtCore.QEvent.MouseButtonRelease, QtCore.QPointF(ox + side / 2, oy + side * 0.8),
                QtCore.Qt.NoButton)


def test_the_network_in_use_is_kept_for_the_next_launch(qtbot):
    from cnncore.datasets import generated_digits, to_input

    from cnnapp.main_window import MainWindow
    w = MainWindow()
    qtbot.addWidget(w)
    _tiny_network(w)
    X = to_input(generated_digits(20, seed=8)[0])
    expected = w.session.network.predict_proba(X)
    w.close()
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert "last session" in w2.session.source
    assert np.array_equal(w2.session.network.predict_proba(X), expected)
    assert not w2.session.unsaved
    # Trained here and never saved: still unsaved after a restart (Open model asked nothing, and the
    # next close wrote the opened model over it); once saved, no longer.
    w2.session.mark_trained()
    w2.close()
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert "last session" in w2.session.source and w2.session.unsaved
    w2.session.mark_saved("elsewhere.npz")
    import cnncore.modelio
    real = cnncore.modelio.save_model
    cnncore.modelio.save_model = lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left on device"))
    try:
        w2.close()                                   # the model not written: its flag is not either
    finally:
        cnncore.modelio.save_model = real
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert w2.session.unsaved                        # (the file on disk is still the unsaved one)
    w2.session.mark_saved("elsewhere.npz")
    w2.close()
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert not w2.session.unsaved
    # Back to the starter model: nothing is kept, the next launch starts from it again.
    w2.session.set_network(w2.session.network, "the starter model", trained=True, starter=True)
    w2.close()
    w3 = MainWindow()
    qtbot.addWidget(w3)
    assert "starter" in w3.session.source


def test_mnist_download_with_progress_then_training_starts(window, qtbot, tmp_path):
    """MNIST from a local server (never the internet): the bar moves, then training starts."""
    import functools
    import hashlib
    import http.server
    import threading

    from conftest import write_idx
    from cnncore.datasets import MNIST_FILES, generated_digits

    served = tmp_path / "served"
    served.mkdir()
    X, y = generated_digits(400, seed=11)
    write_idx(served / MNIST_FILES["train-images"], X)
    write_idx(served / MNIST_FILES["train-labels"], y)
    sums = {MNIST_FILES[k]: hashlib.md5((served / MNIST_FILES[k]).read_bytes()).hexdigest()
            for k in ("train-images", "train-labels")}
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))

    class Quiet(handler.func):
        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _tiny_network(window)
        train = window.train
        train.source.setCurrentIndex(train.source.findData("mnist"))
        train.epochs.setValue(1)
        real = train.controller.download
        train.controller.download = lambda key, **kw: real(
            key, mirrors=[f"http://127.0.0.1:{server.server_address[1]}/"], checksums=sums)
        progress = []
        train.download_bar.valueChanged.connect(progress.append)
        with qtbot.waitSignal(train.trainingFinished, timeout=60000) as blocker:
            assert not train.start()          # first the download ...
            assert train.download_bar.isVisibleTo(train)
        assert blocker.args[0].reason == "done"  # ... then the training it was waiting for
        assert progress and max(progress) == 1000
        assert "downloaded" in train.download_bar.format() or "ready" in train.download_bar.format()
        train.bottom_tabs.setCurrentWidget(train.confusion)
        assert train.confusion.matrix().sum() == 60
    finally:
        server.shutdown()
        server.server_close()


def test_map_grid_updates_in_place_when_only_the_numbers_change(qtbot):
    from cnnapp.widgets.heatmap import MapGrid, MapGroup
    grid = MapGrid()
    qtbot.addWidget(grid)
    grid.resize(600, 400)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(1, 4, 6, 6)).astype(np.float32)
    grid.set_groups([MapGroup("L0.z", a, "z", diverging=True), MapGroup("probs", rng.random((1, 10)))])
    items = list(grid.map_items())
    rects = [QtCore.QRectF(t.rect) for t in grid.tiles()]
    b = 3 * a
    grid.set_groups([MapGroup("L0.z", b, "z", diverging=True), MapGroup("probs", rng.random((1, 10)))])
    assert grid.map_items() == items and [t.rect for t in grid.tiles()] == rects
    assert np.array_equal(items[2].image, b[0, 2])
    lo, hi = items[0].getLevels()
    assert hi == pytest.approx(float(np.abs(b).max())) and lo == pytest.approx(-hi)
    rect = grid.scene_rect_of("L0.z", (0, 1, 2, 3))
    got = []
    grid.hovered.connect(lambda k, i, v: got.append(v))
    grid._on_hover(rect.center())
    assert got[-1] == pytest.approx(float(b[0, 1, 2, 3]))


def test_about_box_and_tab_shortcuts(window, qtbot):
    window.activateWindow()
    window.show_about()
    from cnnapp.widgets.help_boxes import HelpBox
    box = next(w for w in QtWidgets.QApplication.topLevelWidgets() if isinstance(w, HelpBox) and w.isVisible())
    assert "Corinna Cortes" in box.text() and "CC BY-SA 3.0" in box.text()
    box.close()
    qtbot.waitUntil(lambda: not box.isVisible())
    window.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window, timeout=2000)
    for key, view in ((QtCore.Qt.Key_3, window.train), (QtCore.Qt.Key_4, window.backprop),
                      (QtCore.Qt.Key_1, window.draw)):
        qtbot.keyClick(window.tabs, key, QtCore.Qt.ControlModifier)
        assert window.tabs.currentWidget() is view


def test_closing_cancels_a_download(qtbot, tmp_path):
    """A slow server: closing the window cancels the download instead of waiting for it."""
    import http.server
    import threading

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(10_000_000))
            self.end_headers()
            try:
                for _ in range(400):
                    self.wfile.write(b"\\0" * 4096)
                    self.wfile.flush()
                    time.sleep(0.02)
            except OSError:
                pass

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        from cnnapp.main_window import MainWindow
        w = MainWindow(load_settings=False)
        qtbot.addWidget(w)
        w.train.download_mnist(mirrors=[f"http://127.0.0.1:{server.server_address[1]}/"])
        thread = w.train.dl_thread
        qtbot.waitUntil(lambda: w.train.download_bar.maximum() == 1000, timeout=10000)   # bytes flow
        t0 = time.perf_counter()
        w.close()
        assert thread.isFinished() and time.perf_counter() - t0 < 5
        from cnncore.datasets.mnist import mnist_cache_dir
        assert not list(mnist_cache_dir().glob("*"))                       # nothing partial kept
    finally:
        server.shutdown()
        server.server_close()


def test_conv_backward_step_shows_the_textbook_way(window):
    """On a conv layer's backward step a toggle swaps the maps for the identities view:
    the same dx and dW computed as whole-map convolutions, equal to the kernels' result."""
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    bp.source.setCurrentIndex(2)
    assert bp.record()
    toggle = window.findChild(QtWidgets.QPushButton, "backpropIdentityToggle")
    forward = next(i for i, s in enumerate(bp.trace.steps) if s.kind == "forward" and s.layer_type == "conv")
    bp.go(forward)
    assert not toggle.isVisibleTo(bp)                       # only on conv backward steps
    k = next(i for i, s in enumerate(bp.trace.steps)
             if s.kind == "backward" and s.layer_type == "conv" and s.layer > 0)
    bp.go(k)
    assert toggle.isVisibleTo(bp)
    toggle.click()
    assert bp.map_stack.currentWidget() is bp.identity
    layer = bp.trace.steps[k].layer
    assert bp.identity._sources[bp.identity.source.currentIndex()] == ("trace", layer)
    A = bp.trace.arrays
    np.testing.assert_allclose(bp.identity.maps["dx_diff"], 0, atol=1e-5)
    np.testing.assert_allclose(bp.identity.maps["dw_diff"], 0, atol=1e-5)
    assert np.abs(A[f"L{layer}.dx"]).max() > 0                  # a real gradient, not zeros
    bp.go(forward)                                              # other steps show their maps again
    assert bp.map_stack.currentWidget() is bp.grid
    bp.go(k)                                                    # and the toggle is remembered
    assert bp.map_stack.currentWidget() is bp.identity
    toggle.click()
    assert bp.map_stack.currentWidget() is bp.grid


def test_learn_tab_checks_the_apps_own_network(window):
    """Opening the Learn tab hands it the app's network and the Backprop tab's input and trace."""
    bp = window.backprop
    bp.source.setCurrentIndex(2)
    assert bp.record()
    window.tabs.setCurrentWidget(window.learn)
    panel = window.learn.content
    gc = panel.gradcheck
    assert gc.net is window.session.view_network()
    assert gc.label == bp.trace.label
    np.testing.assert_array_equal(gc.image, bp.trace.arrays["input"][0])
    layer = next(i for i, s in enumerate(bp.trace.spec["layers"]) if s["type"] == "conv")
    assert ("trace", layer) in panel.identities._sources


def test_quiz_me_opens_a_question_about_the_current_step(window):
    bp = window.backprop
    bp.source.setCurrentIndex(2)
    assert bp.record()
    k = next(i for i, s in enumerate(bp.trace.steps) if s.kind == "forward" and s.layer_type == "maxpool")
    bp.go(k)
    window.findChild(QtWidgets.QPushButton, "backpropQuizButton").click()
    assert window.tabs.currentWidget() is window.learn
    quiz = window.learn.content.quiz
    assert window.learn.content.tabs.currentWidget() is quiz
    assert "pool" in quiz.questions[quiz.current].topic.lower()


def test_the_users_digit_label_is_never_overwritten_by_the_network(window, qtbot):
    """Once the user picks what they drew, new strokes and weight updates leave it alone,
    and the Backprop tab traces the drawing with that label; a wiped sheet starts over."""
    draw = window.draw
    window.tabs.setCurrentWidget(draw)
    canvas = window.findChild(QtWidgets.QWidget, "drawCanvas")
    stroke(canvas, [(0.5, 0.18 + 0.64 * k / 20) for k in range(21)])      # a "1"
    qtbot.waitUntil(lambda: draw.label_combo.currentIndex() == 1, timeout=2000)   # the guess
    draw.label_combo.setCurrentIndex(7)
    draw.label_combo.activated.emit(7)                                      # the user says 7
    stroke(canvas, [(0.45, 0.2), (0.55, 0.2)])
    draw.update_prediction()
    window.session.weights_changed.emit()                                     # as training does
    assert draw.label_combo.currentIndex() == 7
    bp = window.backprop
    bp.source.setCurrentIndex(1)                                           # the current drawing
    assert bp.record() and bp.trace.label == 7
    window.findChild(QtWidgets.QPushButton, "clearButton").click()
    stroke(canvas, [(0.5, 0.18 + 0.64 * k / 20) for k in range(21)])
    qtbot.waitUntil(lambda: draw.label_combo.currentIndex() == 1, timeout=2000)   # guessing again


def test_a_new_network_replaces_the_recorded_trace(window, qtbot):
    from cnncore.architecture import preset
    from cnncore.network import Network
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    bp.source.setCurrentIndex(2)
    assert bp.record()
    old = bp.trace
    window.session.set_network(Network(preset("tiny"), seed=1), "a test network", trained=False)
    assert bp.trace is None                                                        # never the old one's
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=5000)                    # re-recorded (shown)
    assert bp.trace is not old and bp.trace.spec == window.session.network.spec
    window.tabs.setCurrentWidget(window.draw)
    window.session.set_network(Network(preset("lenet"), seed=2), "another", trained=False)
    assert bp.trace is None and not bp.next_button.isEnabled()                     # dropped (hidden)
    window.tabs.setCurrentWidget(bp)                                               # recorded on return
    qtbot.waitUntil(lambda: bp.trace is not None, timeout=5000)
    assert bp.trace.spec == window.session.network.spec


def test_outlines_go_when_the_numbers_change(window):
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    bp.source.setCurrentIndex(2)
    assert bp.record()
    key = "L0.z"
    bp.grid._on_click(bp.grid.scene_rect_of(key, (0, 1, 3, 3)).center())
    assert not bp.grid._source_marks.path().isEmpty()
    bp.sample_spin.setValue(bp.sample_spin.value() + 1)                    # same layout, new numbers
    assert bp.record()
    assert bp.grid._source_marks.path().isEmpty() and bp.grid._target_mark.path().isEmpty()


def test_out_of_range_saved_settings_do_not_stop_the_app(qtbot, tmp_path):
    from cnnapp import settings as st
    from cnnapp.main_window import MainWindow
    s = st.store()
    s.update("train", {"count": "99999999999", "lr": "nan"})
    s.set("window/tab", "99999999999")
    s.set("backprop/sample", -5)
    s.save()
    w = MainWindow()
    qtbot.addWidget(w)
    assert 0 <= w.tabs.currentIndex() < w.tabs.count()
    assert w.train.count.value() == w.train.count.maximum()
    assert np.isfinite(w.train.lr.value()) and w.train.lr.value() != 2.0
    p = w.session.picture                    # no sample taken: the box says "—", not a number
    spin = w.backprop.sample_spin
    assert spin.value() == (p.index if p is not None and p.origin == "sample" else -1) >= -1
    assert spin.text() == ("—" if spin.value() < 0 else str(spin.value()))
    w.train.shutdown()


def test_build_refuses_inputs_the_app_cannot_feed_and_huge_networks(window):
    from cnncore.architecture import preset
    build = window.build
    spec = preset("tiny")
    spec["input"] = [2, 32, 32]                          # pictures have 1 (grey) or 3 (colour) planes
    build.editor.set_spec(spec)
    assert not build.editor.valid() and "1 (grey) or 3 (colour" in build.editor.problem()
    assert not build.apply_button.isEnabled()
    spec["input"] = [3, 32, 32]                          # a colour input the app feeds (tests/test_gui_colour.py)
    build.editor.set_spec(spec)
    assert build.editor.valid(), build.editor.problem()
    spec = preset("tiny")
    spec["layers"][0]["filters"] = 100000
    build.editor.set_spec(spec)
    problem = build.editor.problem()                     # too many parameters or too many values per image
    assert not build.editor.valid() and ("parameters" in problem or "values per image" in problem)
    build.editor.set_spec(preset("tiny"))
    assert build.editor.valid() and build.apply_button.isEnabled()


def test_signed_outputs_get_the_diverging_scale(window):
    """The logits (a dense layer with no activation) can be negative: blue-white-red, centred on 0;
    ReLU outputs stay on the sequential scale."""
    bp = window.backprop
    bp.source.setCurrentIndex(2)
    assert bp.record()
    last = len(bp.trace.spec["layers"]) - 1
    k = next(i for i, s in enumerate(bp.trace.steps) if s.kind == "forward" and s.layer == last)
    bp.go(k)
    groups = {g.key: g for g in bp.grid.groups()}
    assert groups[f"L{last}.y"].diverging and float(np.min(bp.trace.arrays[f"L{last}.y"])) < 0
    bp.go(0)
    groups = {g.key: g for g in bp.grid.groups()}
    assert not groups["L0.y"].diverging                      # ReLU output: never negative


def test_opening_a_model_asks_before_dropping_unsaved_training(window, tmp_path):
    path = tmp_path / "m.npz"
    assert window.save_model(path)
    window.session.unsaved = True                     # as after a training run in this session
    asked = []
    window.confirm = lambda text: asked.append(text) or False
    before = window.session.network
    assert not window.open_model(path) and window.session.network is before and asked
    window.confirm = lambda text: True
    assert window.open_model(path) and window.session.network is not before
    assert not window.session.unsaved


def test_arrow_keys_in_a_spin_box_do_not_step_the_trace(window, qtbot):
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    bp.source.setCurrentIndex(2)
    assert bp.record()
    bp.go(3)
    window.activateWindow()
    qtbot.waitActive(window)                                   # key events go through shortcuts too
    bp.sample_spin.setFocus()
    qtbot.keyClick(bp.sample_spin, QtCore.Qt.Key_Right)       # moves the spin box's cursor only
    qtbot.keyClick(bp.sample_spin, QtCore.Qt.Key_Left)
    assert bp.index == 3
    bp.setFocus()
    qtbot.keyClick(bp, QtCore.Qt.Key_Right)
    assert bp.index == 4
    qtbot.keyClick(bp, QtCore.Qt.Key_Home)
    assert bp.index == 0


def test_non_square_settings_from_a_file_are_shown_and_kept(window):
    from cnncore.architecture import preset
    build = window.build
    spec = preset("lenet")
    spec["layers"][0]["kernel"] = [5, 3]
    spec["layers"][0]["stride"] = [1, 2]
    build.editor.set_spec(spec)
    t = build.editor.table
    assert t.cellWidget(0, 2) is None and t.item(0, 2).text() == "5×3"
    assert t.item(0, 3).text() == "1×2"
    build.editor.set_value(0, "filters", 6)                       # editing another setting
    got = build.editor.spec()["layers"][0]
    assert got["kernel"] == [5, 3] and got["stride"] == [1, 2] and got["filters"] == 6


def test_arrow_keys_step_the_trace_whatever_has_the_focus(window, qtbot):
    """Issue 13: after a click on the Backprop tab the tab bar has the focus; → must step, not jump tabs."""
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    bp.source.setCurrentIndex(2)
    assert bp.record()
    bp.go(2)
    window.activateWindow()
    qtbot.waitActive(window)
    bar = window.tabs.tabBar()
    for widget in (bar, bp.next_button, bp.speed, bp.timeline):
        widget.setFocus()
        before = bp.index
        qtbot.keyClick(widget, QtCore.Qt.Key_Right)
        assert window.tabs.currentWidget() is bp
        assert bp.index == before + 1
        qtbot.keyClick(widget, QtCore.Qt.Key_Left)
        assert bp.index == before
    qtbot.keyClick(bar, QtCore.Qt.Key_End)
    assert bp.index == bp.step_count() - 1 and window.tabs.currentWidget() is bp
    window.tabs.setCurrentWidget(window.draw)          # elsewhere the arrows are not the trace's
    bp.go(2)
    bar.setFocus()
    qtbot.keyClick(bar, QtCore.Qt.Key_Right)
    assert bp.index == 2 and window.tabs.currentWidget() is window.build


def _misplaced_widgets(window) -> list[str]:
    """Shown widgets that stick out of the window, or buttons squeezed below their text's width.
    Widgets inside a scroll area are reached by scrolling and are not counted."""
    bad = []
    frame = window.rect()
    whole = window.findChild(QtWidgets.QScrollArea, "windowScroll")     # (a page zoomed past the window)
    need, room = whole.widget().minimumSizeHint(), whole.maximumViewportSize()
    if need.width() > room.width() or need.height() > room.height():
        bad.append(f"the window scrolls: its tabs ask {need.toTuple()} of {room.toTuple()}")
    for w in window.findChildren(QtWidgets.QWidget):
        if not w.isVisibleTo(window) or w.isWindow():
            continue
        p, scrolled = w.parentWidget(), False
        while p is not None and p is not window:
            if isinstance(p, QtWidgets.QAbstractScrollArea) and p is not w and p is not whole:
                scrolled = True
                break
            p = p.parentWidget()
        if scrolled:
            continue
        r = QtCore.QRect(w.mapTo(window, QtCore.QPoint(0, 0)), w.size())
        name = f"{type(w).__name__} {w.objectName()!r} {getattr(w, 'text', lambda: '')()!r}"
        if not frame.contains(r):
            bad.append(f"{name} at {r.getRect()} outside {frame.getRect()}")
        elif isinstance(w, QtWidgets.QAbstractButton) and w.width() < w.sizeHint().width():
            bad.append(f"{name} squeezed to {w.width()} < {w.sizeHint().width()} px")
    return bad


def _every_page(window, qtbot):
    """Show each tab (and each Learn sub-tab, and the Backprop tab's textbook view) in turn."""
    bp = window.backprop
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        qtbot.wait(30)
        yield window.tabs.tabText(i)
        if window.tabs.widget(i) is bp:
            conv = [k for k, s in enumerate(bp.trace.steps) if s.kind == "backward" and s.layer_type == "conv"]
            bp.go(conv[-1])
            bp.identity_button.setChecked(True)
            qtbot.wait(30)
            yield "Backprop, the textbook way"
            bp.identity_button.setChecked(False)
    panel = window.learn.ensure()
    for j in range(panel.tabs.count()):
        panel.tabs.setCurrentIndex(j)
        qtbot.wait(30)
        yield "Learn: " + panel.tabs.tabText(j)


def test_every_tab_fits_a_1024_by_640_screen(window, qtbot):
    """Issue 13: at 1024×640 nothing may stick out of the window and no tab may widen it."""
    window.backprop.source.setCurrentIndex(2)
    assert window.backprop.record()
    window.resize(1024, 640)
    for page in _every_page(window, qtbot):
        assert (window.width(), window.height()) == (1024, 640), f"{page} resized the window"
        assert _misplaced_widgets(window) == [], page
    hint = window.minimumSizeHint()
    assert hint.width() <= 1000 and hint.height() <= 580     # room for a title bar and a panel


def test_the_window_opens_at_a_size_that_fits_the_screen():
    from cnnapp.main_window import initial_size
    for avail in ((1024, 610), (1366, 740), (1920, 1040), (2560, 1400)):
        size = initial_size(QtCore.QSize(*avail))
        assert size.width() <= avail[0] and size.height() <= avail[1] - 30, avail   # a title bar above it
    assert initial_size(QtCore.QSize(1920, 1040)).width() > 1280       # a big screen is used
    small = initial_size(QtCore.QSize(1024, 610))
    assert small.width() >= 980 and small.height() >= 540


def test_heatmap_tiles_grow_with_the_room_they_have(qtbot):
    from cnnapp.widgets.heatmap import MapGrid, MapGroup
    grid = MapGrid()
    qtbot.addWidget(grid)
    grid.show()
    qtbot.waitExposed(grid)
    a = np.random.default_rng(0).normal(size=(1, 8, 24, 24)).astype(np.float32)
    grid.set_groups([MapGroup("L0.z", a, "z", diverging=True)])
    widths = []
    for w in (600, 1400):
        grid.resize(w, 500)
        qtbot.wait(150)                   # the grid lays itself out again shortly after a resize
        widths.append(grid.tiles()[0].rect.width())
    assert widths[1] >= 1.5 * widths[0]
    assert all(t.rect.right() <= grid.viewport().width() for t in grid.tiles())


def test_backprop_opens_a_saved_trace_and_refuses_a_bad_file(window, qtbot, tmp_path):
    """Issue 13: a trace could be exported but never opened again."""
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: bp.trace is not None)      # the tab records its first trace itself
    bp.source.setCurrentIndex(2)
    bp.sample_spin.setValue(3)
    assert bp.record()
    assert bp.export_trace(tmp_path / "t.npz")
    saved = {k: np.array(v) for k, v in bp.trace.arrays.items()}
    bp.sample_spin.setValue(4)
    assert bp.record()
    assert bp.open_trace(tmp_path / "t.npz")
    assert all(np.array_equal(bp.trace.arrays[k], saved[k]) for k in saved)
    assert bp.index == 0 and bp.timeline.count() == bp.step_count()
    assert bp.label_combo.currentIndex() == int(saved["label"][0])
    bp.go(bp.step_count() - 1)            # every step of the opened trace can be drawn
    shown = bp.trace
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file at all")
    odd = dict(saved)
    odd["L0.W"] = odd["L0.W"][:, :, :2]
    np.savez(tmp_path / "odd.npz", **odd)
    for path in (bad, tmp_path / "odd.npz", tmp_path / "absent.npz"):
        assert not bp.open_trace(path)
        assert bp.trace is shown                                  # the trace shown before stays
        message = window.statusBar().currentMessage()
        assert message.startswith("Could not open the trace") and path.name in message


def test_conv_forward_step_slides_the_filter_over_the_input(window, qtbot):
    """Issue 13 (10): the filter's window moves over the input while its output map fills in."""
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: bp.trace is not None)      # the tab records its first trace itself
    bp.source.setCurrentIndex(2)
    assert bp.record()
    conv = next(k for k, s in enumerate(bp.trace.steps) if s.kind == "forward" and s.layer_type == "conv")
    pool = next(k for k, s in enumerate(bp.trace.steps) if s.layer_type == "maxpool")
    bp.go(pool)
    assert not bp.slide_button.isVisible()
    bp.go(conv)
    assert bp.slide_button.isVisible()
    L = f"L{bp.current_step().layer}."
    z = bp.trace.arrays[L + "z"][0, 1]
    bp._on_click(L + "z", (0, 1, 0, 0))          # choose filter 1 by clicking its output
    qtbot.mouseClick(bp.slide_button, QtCore.Qt.LeftButton)
    assert bp.slide.running() and bp.slide_button.text() == "Pause the filter"
    bp.slide.timer.stop()                        # step by hand from here
    for _ in range(3):
        bp.slide.advance()
    k = bp.slide.position
    r, c = divmod(k, z.shape[1])
    window.resize(window.width() - 150, window.height())     # a re-layout keeps the progress
    qtbot.wait(200)
    shown = next(it.image for it, t in zip(bp.slide.grid.map_items(), bp.slide.grid.tiles())
                 if t.key == L + "z")
    assert np.array_equal(shown.reshape(-1)[:k + 1], z.reshape(-1)[:k + 1])
    assert np.isnan(shown.reshape(-1)[k + 1:]).all()
    kh, kw = bp.trace.spec["layers"][bp.current_step().layer]["kernel"]
    assert bp.map_stack.currentWidget() is bp.slide
    window_rect = bp.slide.grid.cells_rect(L + "x", (0, 0), r, c, kh, kw)      # stride 1, no padding
    assert bp.slide.grid._window_mark.path().boundingRect().contains(window_rect)
    assert f"output row {r}, column {c}" in bp.hover_label.text()
    bp.slide.timer.start()
    qtbot.mouseClick(bp.slide_button, QtCore.Qt.LeftButton)            # pause
    assert not bp.slide.running() and bp.slide.active() and bp.slide.position == k
    bp.slide.timer.setInterval(1)
    qtbot.mouseClick(bp.slide_button, QtCore.Qt.LeftButton)            # go on
    assert bp.slide.running()
    qtbot.wait(5)
    assert bp.slide.active() and bp.slide.position > k
    qtbot.waitUntil(lambda: not bp.slide.active(), timeout=20000)    # to the end: the full map
    shown = next(it.image for it, t in zip(bp.slide.grid.map_items(), bp.slide.grid.tiles())
                 if t.key == L + "z")
    assert np.array_equal(shown, z) and bp.slide_button.text() == "Back to this step's maps"
    qtbot.mouseClick(bp.slide_button, QtCore.Qt.LeftButton)
    assert bp.map_stack.currentWidget() is bp.grid and bp.slide_button.text() == "Slide the filter"
    qtbot.mouseClick(bp.slide_button, QtCore.Qt.LeftButton)            # again
    assert bp.slide.running()
    bp.next()                                                          # another step stops it
    assert not bp.slide.active() and bp.map_stack.currentWidget() is bp.grid
def test_geometry_and_splitters_round_trip_as_plain_text(qtbot):
    import base64
    import json

    from cnnapp import settings as st
    from cnnapp.main_window import MainWindow
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(700, 500)                                           # fits the offscreen screen
    assert w.save_settings()
    w.train.shutdown()
    saved = json.loads(st.settings_path().read_text())
    assert base64.b64decode(saved["window"]["geometry"]) == bytes(w.saveGeometry())
    assert base64.b64decode(saved["splitters"]["trainSplitter"]) == bytes(w.train.splitter.saveState())
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert (w2.width(), w2.height()) == (700, 500)
    w2.train.shutdown()


@pytest.mark.parametrize("value", [2**40, 10**12, 2**31])
def test_build_refuses_a_file_with_numbers_past_c_ints_and_keeps_working(window, tmp_path, value):
    import json as _json
    build = window.build
    before = build.editor.spec()
    path = tmp_path / "huge.json"
    path.write_text(_json.dumps({"input": [1, 28, 28], "layers": [
        {"type": "conv", "filters": value, "kernel": 3}, {"type": "flatten"}, {"type": "dense", "units": 10}]}))
    assert not build.open_file(path)
    text = build.status.text()
    assert "Could not open huge.json" in text and "largest number accepted" in text
    assert build.editor.spec() == before and build.apply_button.isEnabled()
    build.editor.add_layer("flatten")                          # later edits still work
    build.load_preset("tiny")
    assert build.editor.valid()


def test_build_shows_a_files_values_past_its_boxes_ranges_as_they_are(window, tmp_path):
    """A valid file's 300 filters, 5,000 units and 600-pixel input showed as the boxes' largest
    (256, 4,096, 512) while the network built from it kept the file's numbers."""
    import json

    from cnnapp.widgets.arch_editor import COLS
    spec = {"input": [1, 600, 8], "layers": [
        {"type": "conv", "filters": 300, "kernel": 1}, {"type": "maxpool", "size": [100, 8]}, {"type": "flatten"},
        {"type": "dense", "units": 5000}, {"type": "dense", "units": 10, "activation": "none"}]}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(spec))
    assert window.build.open_file(path)
    editor = window.build.editor
    col = COLS.index("Filters / units")
    assert [b.value() for b in editor.in_sides] == [600, 8]
    assert editor.table.item(0, col).text() == "300" and editor.table.item(3, col).text() == "5000"
    assert editor.table.open_cell(editor.table.model().index(3, col)).value() == 5000
    assert editor.spec()["input"] == [1, 600, 8] and editor.spec()["layers"][3]["units"] == 5000
    editor.in_sides[0].setValue(28)                    # back within the usual range: the box's range is its own
    assert editor.in_sides[0].maximum() >= 512 and editor.spec()["input"] == [1, 28, 8]


def test_build_open_refuses_a_fifo_at_once(window, tmp_path):
    path = tmp_path / "arch.json"
    os.mkfifo(path)
    assert not window.build.open_file(path)
    assert "not a regular file" in window.build.status.text()


def test_a_broken_session_model_is_reported_and_the_starter_model_used(qtbot, tmp_path):
    from cnnapp import settings as st
    from cnnapp.main_window import MainWindow
    st.session_model_path().write_bytes(b"not a model")
    w = MainWindow(load_settings=True)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: "Could not reopen" in w.statusBar().currentMessage(), timeout=3000)
    assert w.session.network is not None
    # The file is set aside, not deleted on close (it may be a later version's model, or mendable).
    kept = list(st.session_model_path().parent.glob("last_session_model.unreadable-*.npz"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"not a model"
    assert str(kept[0]) in w._message[0]      # (the bar shows it cut short, whole in its tooltip)
    w.train.shutdown()
    w.close()
    assert kept[0].read_bytes() == b"not a model" and not st.session_model_path().exists()


def test_what_a_restart_says_is_said_together_and_a_lost_network_is_named(qtbot):
    """A tour: "Could not reopen the network of the last session …" was replaced at once by "Your Build-tab
    edits of last time are kept…", and a kept network deleted between launches (trained, never saved) went
    without a word."""
    from cnncore.architecture import preset
    from cnnapp import session_files
    from cnnapp import settings as st
    from cnnapp.main_window import MainWindow
    st.session_model_path().write_bytes(b"not a model")
    edits = dict(preset("tiny"))
    edits["layers"] = edits["layers"][:-1] + [dict(edits["layers"][-1])]
    session_files.save_edits(edits)
    w = MainWindow(load_settings=True)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: "Could not reopen" in (w._message[0] or ""), timeout=3000)
    assert "Build-tab edits of last time are kept" in w._message[0]
    w.train.shutdown()
    w.close()
    st.session_model_path().unlink(missing_ok=True)
    st.store().set(session_files._UNSAVED, True)
    assert st.store().save()                       # (as a session with a trained network left it)
    w = MainWindow(load_settings=True)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w._message[0] is not None and "could not be found" in w._message[0], timeout=3000)
    assert "trained and not saved" in w._message[0] and w.session.is_starter
    w.train.shutdown()
    w.close()


def test_a_second_window_of_the_same_settings_keeps_nothing_and_says_so(qtbot):
    """A tour: two launches sharing one settings folder each wrote their session as they closed, and the
    last to close (on the starter model) deleted the other's kept network, trained and never saved."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnnapp import settings as st
    from cnnapp.main_window import MainWindow
    first = MainWindow(load_settings=True)
    qtbot.addWidget(first)
    first.session.set_network(Network(preset("tiny"), seed=3), "trained here", trained=True, unsaved=True)
    second = MainWindow(load_settings=True)
    qtbot.addWidget(second)
    qtbot.waitUntil(lambda: "Another CNN Lab window is open" in (second._message[0] or ""), timeout=3000)
    assert first.keeper.keeps and not second.keeper.keeps
    second.session.mark_trained()
    asked = []
    second.confirm = lambda text: asked.append(text) or False
    assert not second.close() and "another window keeps the session" in asked[0]       # Cancel: stays open
    second.confirm = lambda text: True
    assert second.close() and not st.session_model_path().exists()                     # wrote nothing
    first.train.shutdown()
    assert first.close() and st.session_model_path().exists()                          # the first keeps it
    third = MainWindow(load_settings=True)                                             # and a later one reads it
    qtbot.addWidget(third)
    assert third.keeper.keeps and third.session.network.spec == Network(preset("tiny")).spec
    third.train.shutdown()
    third.close()


def test_the_network_of_the_last_session_is_reopened_by_its_name(qtbot):
    """A restart reopens the network the last session closed with, named by its architecture."""
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    from cnncore.network import Network
    from cnnapp import settings as st
    from cnnapp.main_window import MainWindow
    net = Network(preset("tiny"), seed=3)
    save_model(str(st.session_model_path()), net)
    w = MainWindow(load_settings=True)
    qtbot.addWidget(w)
    assert w.session.source == "the tiny network of your last session" and w.session.trained
    assert np.array_equal(w.session.network.flat_params, net.flat_params)
    w.train.shutdown()


def test_the_network_of_the_last_session_is_called_by_its_file_after_a_restart(qtbot, tmp_path):
    """A tour: a network opened from a file was "the network of your last session" after a restart. Where
    the session knew the file it was opened from or saved to, the name goes across the restart (and the
    file stays one no output of the app replaces but Save model)."""
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    from cnncore.network import Network
    from cnnapp.main_window import MainWindow

    def restart(w):
        w.close()
        w = MainWindow()
        qtbot.addWidget(w)
        return w
    mine, other = tmp_path / "my digits.npz", tmp_path / "better.npz"
    save_model(mine, Network(preset("tiny"), seed=3))
    w = MainWindow()
    qtbot.addWidget(w)
    assert w.open_model(mine)
    w = restart(w)
    assert w.session.source == "my digits.npz (from your last session)" and not w.session.unsaved
    assert w.session.model_file == mine and mine in w.session.kept_files()
    assert w.draw.model_label.text().startswith("Network: my digits.npz (from your last session). Draw to see")
    w.session.mark_trained()
    w = restart(w)
    assert w.session.source == "my digits.npz, trained further in your last session (not saved)"
    assert w.session.unsaved
    assert w.save_model(other)
    w = restart(w)
    assert w.session.source == "better.npz (from your last session)" and w.session.model_file == other
    _tiny_network(w)                                           # built here: no file, called as before
    w = restart(w)
    assert w.session.source == "the tiny network of your last session" and w.session.model_file is None
    w.close()


def test_build_tab_edits_not_in_use_are_kept_for_the_next_launch(qtbot):
    """Edits of the Build tab's table not used yet were gone after a restart: they are offered again by
    "Back to my edits" (the table shows the network in use), a layer that does not fit included;
    edits that were used, or none, leave nothing; a damaged file is ignored."""
    from cnncore.architecture import preset
    from cnnapp import settings as st
    from cnnapp.main_window import MainWindow
    w = MainWindow()
    qtbot.addWidget(w)
    in_use = w.build.editor.spec()
    edited = preset("wide")
    edited["layers"][0]["kernel"] = 40                     # does not fit a 28×28 picture
    w.build.editor.set_spec(edited)
    assert not w.build.editor.valid()
    edited = w.build.editor.spec()
    w.close()
    assert st.session_edits_path().exists()
    w = MainWindow()
    qtbot.addWidget(w)
    assert w.build.editor.spec() == in_use and not w.build.back_button.isHidden()
    assert w.build.back_to_edits() and w.build.editor.spec() == edited
    w.build.editor.set_spec(in_use)                      # back as the network in use: nothing to keep
    w.build._draft = None
    w.close()
    assert not st.session_edits_path().exists()
    st.session_edits_path().write_text("{not an architecture")
    w = MainWindow()
    qtbot.addWidget(w)
    assert w.build.back_button.isHidden() and w.build.editor.spec() == in_use
    w.close()


def test_edits_that_become_the_network_in_use_are_no_longer_offered(window):
    """Edits kept aside ("Back to my edits") stayed offered, "not in use", after a model of that very
    architecture was opened (found by a tester)."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    build, s = window.build, window.session
    build.editor.set_spec(preset("wide"))                                  # edited, not used
    s.set_network(Network(preset("tiny"), seed=0), "opened from t.npz", trained=True)
    assert not build.back_button.isHidden()
    s.set_network(Network(preset("wide"), seed=0), "opened from w.npz", trained=True)
    assert build.back_button.isHidden() and build.edits_not_in_use() is None


def test_a_restart_offers_the_held_out_pictures_of_the_last_run_again(qtbot):
    """A network trained on a folder of pictures had no samples after a restart (Backprop and Look asked
    to train or open a picture) until the next run: the pictures are kept with the session's model."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnnapp import settings as st
    from cnnapp.main_window import MainWindow
    net = Network(preset("cifar"), seed=3)
    net.learns(("cat", "dog") + ("(unused)",) * 8, "my pets")
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (7, 3, 32, 32), dtype=np.uint8), np.array([0, 1, 1, 0, 1, 0, 0])
    w = MainWindow(load_settings=False)
    qtbot.addWidget(w)
    w.session.set_network(net, "a network of mine", trained=True)
    assert not len(w.session.samples.for_network(net).X)          # no pictures yet: a run brings them
    w.session.samples.keep_held_out(X, y, net.classes, "my pets")
    w.save_session()
    w.train.shutdown()
    again = MainWindow(load_settings=True)
    qtbot.addWidget(again)
    got = again.session.samples.for_network(again.session.network)
    assert np.array_equal(got.X, X) and np.array_equal(got.y, y) and got.name == "held-out pictures of my pets"
    assert got.classes == net.classes
    again.session.set_network(Network(preset("cifar"), seed=4), "another", trained=False)
    again.save_session()                     # pictures of other classes than this network's: not kept
    assert not st.session_samples_path().exists()
    again.train.shutdown()


def test_a_legend_lies_under_its_plot_and_names_curves_only_once_they_have_points(qtbot):
    """After an epoch of colour pictures (37 % and 24 %) the accuracy's legend sat over the points (it was
    moved about to dodge the latest ones), zoomed it covered most curves, and the empty Loss plot named
    "per batch" and "smoothed" before any run. A legend stands in a row under its plot, at any size of
    its text, and shows only while a curve it names has points."""
    from cnnapp.widgets.plots import AccuracyPlot, LossPlot
    for plot, fill in ((LossPlot(), lambda p: p.add_points([0.1, 0.2, 0.3], [2.3, 2.0, 1.7])),
                       (AccuracyPlot(), lambda p: p.add_epoch(1, 0.37, 0.24))):
        qtbot.addWidget(plot)
        plot.resize(260, 300)
        plot.show()
        p = plot.getPlotItem()
        qtbot.wait(30)
        assert not p.legend.isVisible(), type(plot).__name__
        fill(plot)
        for scale in (1, 3):
            font = plot.font()
            font.setPointSizeF(9.0 * scale)
            plot.setFont(font)
            qtbot.wait(30)
            plot.resize(max(260, plot.least_width()), max(300, plot.least_height()))   # (as a layout gives it)
            qtbot.wait(30)
            box, under = p.legend.sceneBoundingRect(), p.getAxis("bottom").sceneBoundingRect()
            assert p.legend.isVisible() and box.height() > 0 and box.top() >= under.bottom() - 1, (scale, box, under)
            assert not box.intersects(p.vb.sceneBoundingRect()) and plot.rect().contains(box.toRect()), scale
        plot.clear_data()
        assert not p.legend.isVisible()


def test_epoch_labels_never_run_together_on_a_small_screen(window, qtbot):
    """At 1024×640 the Speed plot is about 150 px wide: its epoch labels read "0.51.01.5" before."""
    from PySide6 import QtGui
    from cnnapp.widgets.plots import epoch_step
    assert [epoch_step(v) for v in (0.03, 0.1, 0.11, 0.3, 1.0, 1.5, 2.5, 7.0)] == [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10]
    assert epoch_step(0.2, whole=True) == 1
    window.resize(1024, 640)
    window.tabs.setCurrentWidget(window.train)
    train = window.train
    for plot in (train.loss_plot, train.speed_plot):
        plot.set_epochs(3)
    train.acc_plot.getPlotItem().setXRange(0.5, 3.5, padding=0)
    qtbot.wait(100)
    for plot in (train.loss_plot, train.acc_plot, train.speed_plot):
        axis = plot.getPlotItem().getAxis("bottom")
        lo, hi = axis.range
        size = axis.geometry().width()
        levels = axis.tickValues(lo, hi, size)
        assert len(levels) == 1                                   # one level: no minor labels between
        spacing, ticks = levels[0]
        labels = axis.tickStrings(ticks, 1.0, spacing)
        widest = max(QtGui.QFontMetricsF(axis.font()).horizontalAdvance(t) for t in labels)
        assert len(ticks) >= 2 or plot is train.speed_plot, plot   # still some epochs named
        assert spacing * size / (hi - lo) > widest, (plot, spacing, labels)
    assert all(float(v).is_integer() for v in train.acc_plot.getPlotItem().getAxis("bottom").tickValues(
        0.5, 3.5, 120)[0][1])                                      # accuracy: whole epochs only


def test_a_long_status_message_is_cut_short_not_run_under_the_summary(window, qtbot):
    window.resize(1024, 640)
    qtbot.wait(50)
    long = "Finished: trained 3 epochs (321 batches) in 0.41 s. " * 3
    window.session.say(long, 0)
    bar = window.statusBar()
    shown = bar.currentMessage()
    assert shown.endswith("…") and len(shown) < len(long)
    assert bar.fontMetrics().horizontalAdvance(shown) <= bar.width() - window.status_label.width()
    assert bar.toolTip() == long
    window.session.say("Short news.", 0)
    assert bar.currentMessage() == "Short news." and bar.toolTip() == ""
    window.session.say(long, 50)
    assert bar.toolTip() == long
    qtbot.waitUntil(lambda: bar.currentMessage() == "", timeout=2000)
    assert bar.toolTip() == ""                  # the message timed out: its tooltip went with it


def test_another_network_takes_the_last_ones_news_out_of_the_status_bar(window, qtbot):
    """A tour: after a run, another model set in the window kept "Finished: … the network now answers
    891 correctly: 99.0 %" under its own accuracy plot (98.4 %) for six seconds. The news of a network
    goes with it; what the new one's opening says stays."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    window.session.say("Finished: trained 6 epochs. The network now answers 891 correctly: 99.0%.", 6000)
    window.session.set_network(Network(preset("tiny"), seed=1), "a test", trained=False)
    assert window.statusBar().currentMessage() == "" and window.statusBar().toolTip() == ""
    window.session.say("Opened tiny.npz", 6000)
    window.session.weights_changed.emit()                       # (the same network, new weights: kept)
    assert window.statusBar().currentMessage() == "Opened tiny.npz"


def test_a_message_said_before_the_window_shows_uses_the_window_s_width(qtbot):
    from cnnapp.main_window import MainWindow
    w = MainWindow(load_settings=False)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    text = "A model opened from a file says what it learned from and how well it did on held-out digits."
    w.session.say(text, 0)
    assert w.statusBar().currentMessage() == text      # not cut to the hidden bar's default width


def test_a_cut_message_is_cut_anew_when_the_window_grows(window, qtbot):
    window.resize(1024, 640)
    qtbot.wait(50)
    text = "Finished: trained 3 epochs (321 batches) in 0.41 s. On 600 held-out digits it never trained on."
    window.session.say(text, 0)
    bar = window.statusBar()
    assert bar.currentMessage().endswith("…")
    window.resize(1600, 900)
    qtbot.waitUntil(lambda: bar.currentMessage() == text, timeout=2000)   # room now: shown whole
    assert bar.toolTip() == ""
    window.resize(1024, 640)
    qtbot.waitUntil(lambda: bar.currentMessage().endswith("…"), timeout=2000)


def test_a_wiped_sheet_takes_its_drawing_and_trace_with_it(window, qtbot):
    """Clear (or Undo back to nothing) left the Backprop tab tracing the erased drawing, and a digit
    chosen on the empty sheet became that erased drawing's true class."""
    s, draw = window.session, window.draw
    window.tabs.setCurrentWidget(draw)
    canvas = window.findChild(QtWidgets.QWidget, "drawCanvas")
    stroke(canvas, [(0.5, 0.18 + 0.64 * k / 20) for k in range(21)])
    s.take_drawing()
    window.tabs.setCurrentWidget(window.backprop)
    qtbot.waitUntil(lambda: s.trace is not None and s.trace_picture.origin == "drawing", timeout=10000)
    window.tabs.setCurrentWidget(draw)
    canvas.clear()
    assert s.picture is None or s.picture.origin != "drawing"
    assert s.trace is None or s.trace_picture.origin != "drawing"
    draw.label_combo.setCurrentIndex(7)
    draw.label_combo.activated.emit(7)
    assert s.picture is None or s.picture.origin != "drawing"


def test_a_lock_another_computer_left_long_ago_is_taken_over(tmp_path):
    """A review: a lab PC switched off with the app open left its lock in a roaming home folder, and every
    later launch kept nothing, forever, saying another window was open."""
    import os
    import time
    from cnnapp.session_keeper import FOREIGN_STALE_HOURS, LOCK_NAME, SessionKeeper
    (tmp_path / LOCK_NAME).write_text("1234\nCNN Lab\nlab-pc-17\n")
    recent = SessionKeeper(tmp_path)
    assert not recent.keeps and "(on lab-pc-17, process 1234)" in recent.notes()[0]
    old = time.time() - (FOREIGN_STALE_HOURS + 1) * 3600
    os.utime(tmp_path / LOCK_NAME, (old, old))
    taken = SessionKeeper(tmp_path)
    assert taken.keeps and not taken.notes()
    os.utime(tmp_path / LOCK_NAME, (old, old))
    taken._still_here()                                  # a window that lives says so, every half hour
    assert time.time() - (tmp_path / LOCK_NAME).stat().st_mtime < 60
    taken.release()


def test_a_digit_on_the_sheet_comes_back_after_a_restart(qtbot):
    """A tour: the sheet was empty after a restart (only the brush size was kept): a digit drawn was lost."""
    from cnnapp import settings as st
    from cnnapp.main_window import MainWindow
    w = MainWindow(load_settings=True)
    qtbot.addWidget(w)
    canvas = w.findChild(QtWidgets.QWidget, "drawCanvas")
    canvas.clear()
    stroke(canvas, [(0.5, 0.2 + 0.6 * k / 20) for k in range(21)])                 # a "1"
    drawn = canvas.array()
    w.train.shutdown()
    w.close()
    assert st.session_drawing_path().exists()
    again = MainWindow(load_settings=True)
    qtbot.addWidget(again)
    back = again.findChild(QtWidgets.QWidget, "drawCanvas")
    assert not back.showing_example() and not back.can_undo()
    assert np.abs(back.array() - drawn).max() < 0.01 and again.session.drawing.ink is not None
    back.clear()
    again.train.shutdown()
    again.close()                                        # an empty sheet: nothing kept, no example forced
    assert not st.session_drawing_path().exists()
    st.session_drawing_path().write_bytes(b"not an array")
    third = MainWindow(load_settings=True)               # a damaged file: an empty sheet, no error
    qtbot.addWidget(third)
    assert third.findChild(QtWidgets.QWidget, "drawCanvas").is_empty()
    third.train.shutdown()
    third.close()
