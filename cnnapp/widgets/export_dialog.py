"""File → Export model…: the current network as PyTorch code and weights, or as an ONNX file
(:mod:`cnncore.export` writes both), with two lines of Python saying what to do next."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from cnncore import Output
from cnncore.export import (EXPORT_EXTRA, MANIFEST_FILE, MODEL_FILE, WEIGHTS_FILE, ExportError, export_onnx,
                            export_torch, next_steps)
from PySide6 import QtGui, QtWidgets

from .scroll_area import scroll_area

__all__ = ["ExportDialog", "CHOICES"]

#: key -> (button text, what the target is, its default name)
CHOICES = {
    "torch": (f"PyTorch: {MODEL_FILE} and {WEIGHTS_FILE} in a folder", "Folder", "cnnlab_model"),
    "onnx": ("ONNX: one file for onnxruntime, Netron and other tools", "File", "model.onnx"),
}


def onnx_missing() -> bool:
    return importlib.util.find_spec("onnx") is None


class ExportDialog(QtWidgets.QDialog):
    """Pick PyTorch or ONNX and where to write; Export writes it and says where it went."""

    def __init__(self, net, folder: Path, title: str, parent=None, inputs=()):
        """``inputs``: the user's files that the export must never replace (the model file
        the network came from, the drawings), refused by the writer."""
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export model")
        self.net, self.folder, self.title, self.inputs = net, Path(folder), title, tuple(inputs)
        self.written: list[Path] = []
        layout = QtWidgets.QVBoxLayout(self)
        self.buttons = {}
        for key, (text, _, _) in CHOICES.items():
            b = self.buttons[key] = QtWidgets.QRadioButton(text)
            b.toggled.connect(self._on_choice)
            layout.addWidget(b)
        row = QtWidgets.QHBoxLayout()
        self.target_label = QtWidgets.QLabel()
        self.target = QtWidgets.QLineEdit()
        self.target.setObjectName("exportTarget")
        self.target_label.setBuddy(self.target)                  # its name for a screen reader
        self.target.textChanged.connect(lambda *_: self.choice_made() and self._show_next_steps())
        browse = QtWidgets.QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        for w in (self.target_label, self.target, browse):
            row.addWidget(w)
        layout.addLayout(row)
        layout.addWidget(QtWidgets.QLabel("Then, in Python:"))
        self.next_steps = QtWidgets.QLabel()
        self.next_steps.setObjectName("exportNextSteps")
        self.next_steps.setTextInteractionFlags(self.next_steps.textInteractionFlags()
                                                | QtGui.Qt.TextSelectableByMouse)
        self.next_steps.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.FixedFont))
        layout.addWidget(_sideways(self.next_steps))
        self.status = QtWidgets.QLabel()
        self.status.setObjectName("exportStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        box = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Close)
        self.export_button = box.addButton("Export", QtWidgets.QDialogButtonBox.AcceptRole)
        self.export_button.setObjectName("exportButton")
        box.accepted.connect(self.export)
        box.rejected.connect(self.reject)
        layout.addWidget(box)
        self.buttons["torch"].setChecked(True)

    def choice_made(self) -> bool:
        return any(b.isChecked() for b in self.buttons.values())

    def choice(self) -> str:
        return next(k for k, b in self.buttons.items() if b.isChecked())

    def choose(self, key: str) -> None:
        self.buttons[key].setChecked(True)

    def _on_choice(self) -> None:
        key = self.choice()
        _, what, default = CHOICES[key]
        self.target_label.setText(what + ":")
        self.target.setText(str(self.folder / default))
        self._show_next_steps()
        blocked = key == "onnx" and onnx_missing()
        self.export_button.setEnabled(not blocked)
        self._say(f'ONNX export needs the onnx package: pip install "cnnlab[{EXPORT_EXTRA}]"' if blocked else "")

    def _say(self, text: str) -> None:
        """The status line, the dialog as tall as its lines then take (a second line drew over the
        Python lines above it)."""
        self.status.setText(text)
        width = self.width()
        self.layout().activate()
        self.resize(width, max(self.height(), self.layout().totalHeightForWidth(width)))

    def _show_next_steps(self) -> None:
        """Two lines of Python for the export as the target box names it now."""
        self.next_steps.setText(next_steps(self.choice(), self.target.text().strip(), self.net.input_shape))

    def _browse(self) -> None:
        if self.choice() == "torch":
            path = QtWidgets.QFileDialog.getExistingDirectory(self, "Export to folder", self.target.text())
        else:
            path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export ONNX file", self.target.text(),
                                                            "ONNX (*.onnx)")
        if path:
            self.target.setText(path)

    def export(self) -> bool:
        """Write the chosen export to the target; the status line says where or what went wrong."""
        target = self.target.text().strip()
        if not target:
            self._say("Give a folder or file name first.")
            return False
        try:
            if self.choice() == "torch":
                model_path, weights_path = export_torch(self.net, Output(target, self.inputs), self.title)
                self.written = [model_path, weights_path, model_path.with_name(MANIFEST_FILE)]
            else:              # (named as an ONNX model, it never replaces a model or any file of another kind)
                if not target.lower().endswith(".onnx") or Path(target).name.lower() == ".onnx":
                    self._say(f"Not exported: {target}: an ONNX model's file name ends in .onnx; give one that does")
                    return False
                self.written = [export_onnx(self.net, Output(target, self.inputs, kinds=(".onnx",)), self.title)]
        except (ExportError, OSError) as e:
            self._say(f"Not exported: {e}")
            return False
        self._say("Written: " + ", ".join(str(p) for p in self.written))
        return True


def open_export_dialog(parent, session) -> None:
    """File → Export model…: the dialog for the session's network (a copy while it trains)."""
    from ..settings import data_dir

    net = session.view_network()
    if net is None:
        session.say("There is no network to export yet.")
        return
    dialog = ExportDialog(net, data_dir(), _title(session), parent, inputs=session.kept_files())
    dialog.exec()
    if dialog.written:
        session.say("Exported to " + str(dialog.written[0].parent if dialog.choice() == "torch" else dialog.written[0]))
    dialog.deleteLater()


def _sideways(label: QtWidgets.QLabel) -> QtWidgets.QScrollArea:
    """``label`` (lines of code, never wrapped) in an area as tall as its lines that scrolls sideways:
    a long folder's name widened the dialog past a 1024-pixel screen."""
    area = scroll_area(label, "exportNextStepsArea", "Python lines to use the export", across=True, down=False)
    lines = 2                           # (cnncore.export.next_steps: an import, a call)
    area.setFixedHeight(lines * label.fontMetrics().lineSpacing() + area.horizontalScrollBar().sizeHint().height() + 6)
    area.setMinimumWidth(320)
    return area


def _title(session) -> str:
    """What the export's TITLE names: the model file whose weights the network has (not one trained on
    since), else what it learnt ("CNN Lab model of Fashion-MNIST")."""
    if session.model_file and not session.unsaved:
        return Path(session.model_file).name
    net = session.view_network()
    dataset = getattr(net, "dataset", "")
    return f"CNN Lab model of {dataset}" if dataset else "CNN Lab model"
