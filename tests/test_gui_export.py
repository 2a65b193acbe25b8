"""File → Export model…: the dialog writes both kinds of export and shows what to do next."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from cnncore.export import MODEL_FILE, next_steps  # noqa: E402
from test_export import _net  # noqa: E402

pytestmark = [pytest.mark.gui,
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]


# ----------------------------------------------------------------------------- the app

def test_export_dialog_writes_both_and_shows_the_next_steps(qtbot, tmp_path, monkeypatch):
    from cnnapp.widgets import export_dialog
    from cnnapp.widgets.export_dialog import ExportDialog

    net = _net("resampling")
    dialog = ExportDialog(net, tmp_path, "digits.npz")
    qtbot.addWidget(dialog)
    assert dialog.choice() == "torch"
    assert dialog.next_steps.text() == next_steps("torch", dialog.target.text(), net.input_shape)
    dialog.target.setText(str(tmp_path / "t"))
    assert repr(str(tmp_path / "t")) in dialog.next_steps.text()            # the folder as the box says
    assert dialog.export() and (tmp_path / "t" / MODEL_FILE).is_file()
    assert str(tmp_path / "t") in dialog.status.text()
    dialog.choose("onnx")
    assert dialog.target.text().endswith("model.onnx") and "onnxruntime" in dialog.next_steps.text()
    dialog.target.setText(str(tmp_path / "mine.onnx"))
    assert repr(str(tmp_path / "mine.onnx")) in dialog.next_steps.text() and "model.onnx" not in dialog.next_steps.text()
    (tmp_path / "afile").write_text("x")
    dialog.choose("torch")
    dialog.target.setText(str(tmp_path / "afile"))
    assert not dialog.export() and "is a file" in dialog.status.text()
    monkeypatch.setattr(export_dialog, "onnx_missing", lambda: True)
    dialog.choose("onnx")
    assert not dialog.export_button.isEnabled() and 'pip install "cnnlab[export]"' in dialog.status.text()


def test_export_dialog_never_replaces_the_users_files(qtbot, tmp_path):
    """The model the network came from (or any file the app keeps) is never an export's target."""
    from cnncore.modelio import save_model
    from cnnapp.widgets.export_dialog import ExportDialog

    model = tmp_path / "weights.npz"                # a model file that happens to bear that name
    save_model(model, _net("pools"))
    before = model.read_bytes()
    dialog = ExportDialog(_net("pools"), tmp_path, "weights.npz", inputs=[model])
    qtbot.addWidget(dialog)
    dialog.target.setText(str(tmp_path))            # the folder whose weights.npz is the model
    assert not dialog.export() and "same file as the input" in dialog.status.text()
    pytest.importorskip("onnx")
    dialog.choose("onnx")
    dialog.target.setText(str(model))
    assert not dialog.export() and str(model) in dialog.status.text()
    assert model.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["weights.npz"]
    other = tmp_path / "mine.npz"                   # any model, not only the input: an ONNX file never replaces it
    save_model(other, _net("pools"))
    dialog.target.setText(str(other))
    assert not dialog.export() and "ends in .onnx" in dialog.status.text()
    assert other.read_bytes()[:2] == b"PK"


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from cnnapp.main_window import MainWindow

    monkeypatch.setenv("CNNLAB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "data"))
    w = MainWindow(load_settings=False)
    qtbot.addWidget(w)
    yield w
    w.train.shutdown()


def test_the_window_keeps_the_opened_model_and_the_drawings(window, tmp_path):
    from cnncore.datasets.sources import DRAWINGS_FILE
    from cnncore.modelio import save_model

    model = tmp_path / "m.npz"
    save_model(model, _net("pools"))
    before = model.read_bytes()
    said = []
    window.session.message.connect(lambda text, ms: said.append(text))
    assert window.open_model(model) and window.session.model_file == model
    bp = window.backprop
    bp.source.setCurrentIndex(2)
    assert bp.record()
    assert not bp.export_trace(model) and "same file as the input" in said[-1] and str(model) in said[-1]
    assert model.read_bytes() == before
    other = tmp_path / "other.npz"                  # a model the window did not open is spared too
    save_model(other, _net("pools"))
    kept = other.read_bytes()
    assert not bp.export_trace(other) and "is a model file" in said[-1] and other.read_bytes() == kept
    assert model in window.session.kept_files() and model not in window.session.kept_files(model=False)
    drawings = next(p for p in window.session.kept_files() if p.name == DRAWINGS_FILE)
    drawings.write_bytes(b"my drawings")
    assert not window.save_model(drawings) and drawings.read_bytes() == b"my drawings"
    assert window.save_model(model) and window.session.model_file == model       # Save replaces it on purpose
    window.session.set_network(_net("resampling"), "built here", trained=False)
    assert window.session.model_file is None and model not in window.session.kept_files()


def test_export_dialog_fits_a_small_screen_and_its_status_never_covers_the_python_lines(qtbot, tmp_path):
    """A long folder's name made the dialog 1,141 px wide (the screen was 1,024), and a status of two
    lines drew over the lines of Python to copy."""
    from cnnapp.widgets.export_dialog import ExportDialog
    long = tmp_path / ("a_folder_with_a_rather_long_name_for_the_class_" * 3)
    long.mkdir()
    dialog = ExportDialog(_net("resampling"), long, "digits.npz")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.wait(20)
    assert dialog.width() < 1000 and str(long) in dialog.next_steps.text()
    assert dialog.export()
    qtbot.wait(20)
    from PySide6 import QtWidgets
    status, code = dialog.status, dialog.findChild(QtWidgets.QScrollArea, "exportNextStepsArea")
    assert "Written: " in status.text() and status.height() >= status.heightForWidth(status.width())
    assert status.mapTo(dialog, status.rect().topLeft()).y() >= code.mapTo(dialog, code.rect().bottomLeft()).y()


def test_an_export_is_titled_by_the_model_file_or_where_the_network_came_from(window, tmp_path):
    """A network trained in the window was exported with TITLE = 'trained here' (and, opened from a file
    and trained on, with the file's name; or with a status phrase: "an untrained network (random
    weights): train it on the Train tab")."""
    from cnncore.modelio import save_model
    from cnnapp.widgets.export_dialog import _title
    s = window.session
    s.mark_trained()
    assert _title(s) == "CNN Lab model"                    # the starter model, trained on: no file's weights
    save_model(tmp_path / "digits.npz", _net("pools"))
    window.confirm = lambda text: True          # (the weights trained here go)
    assert window.open_model(tmp_path / "digits.npz") and _title(s) == "digits.npz"
    s.mark_trained()                                       # trained on since: no longer that file's weights
    assert _title(s) == "CNN Lab model"
    s.network.learns(s.network.classes, "MNIST")
    assert _title(s) == "CNN Lab model of MNIST"


def test_a_trace_of_a_drawing_without_its_digit_is_not_exported(window, tmp_path):
    """A drawing whose digit nobody chose is traced with the network's answer standing in for the truth;
    exported, the file kept that answer as its true digit, and showed it as the truth when opened. It is
    refused until the digit is chosen."""
    import numpy as np
    from cnncore.trace import Trace
    said = []
    window.session.message.connect(lambda text, ms: said.append(text))
    ink = np.zeros((280, 280), np.float32)
    ink[60:220, 125:155] = 1                                   # a 1
    window.draw.canvas.set_array(ink)
    window.session.take_drawing()
    bp = window.backprop
    assert bp.record() and window.session.trace_picture.label is None
    answer = bp.trace.label
    path = tmp_path / "t.npz"
    assert not bp.export_trace(path) and not path.exists()
    assert said[-1] == (f"Not exported: your drawing has no true digit yet, and the trace would keep the network's "
                        f"answer, {answer}, as if it were. Choose the true digit in the “true digit” box, then "
                        "export it.")
    chosen = (answer + 1) % 10
    window.session.set_label(chosen)
    assert bp.record() and bp.export_trace(path)
    assert Trace.load(str(path)).label == chosen
