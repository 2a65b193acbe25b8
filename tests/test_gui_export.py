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
