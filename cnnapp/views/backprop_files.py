"""The Backprop tab's files: a trace saved and opened (``.npz``, :meth:`cnncore.trace.Trace.save` and
``load``) and the maps of a step exported as PNG pictures: :class:`TraceFiles`, a part of
:class:`~cnnapp.views.backprop_view.BackpropView`."""
from __future__ import annotations

from pathlib import Path

from PySide6 import QtWidgets

from cnncore import Output
from cnncore.modelio import a_model_file

from ..settings import data_dir

__all__ = ["TraceFiles"]


class TraceFiles:
    """The Backprop view's file commands (its ``trace``, ``session`` and ``export_pngs`` are the view's)."""

    def export_png_dialog(self):
        if self.trace is None:
            return
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Export the maps of this step to", str(data_dir()))
        if folder:
            try:
                files = self.export_pngs(folder)
                self.session.say(f"Wrote {len(files)} PNG files to {folder}")
            except Exception as e:  # noqa: BLE001
                self.session.say(f"Could not export the maps: {e}")


    def export_trace(self, path) -> bool:
        """Save the trace shown to ``path``; refused for a picture nobody gave a true class (a drawing whose
        digit was not chosen): the file would keep the network's answer as its true class, and say so
        wherever it is opened."""
        p, s = self.session.trace_picture, self.session
        if p is not None and p.label is None:
            s.say(f"Not exported: {p.what} has no true {s.class_kind} yet, and the trace would keep the network's "
                  f"answer, {s.trace_classes()[self.trace.label]}, as if it were. Choose the true {s.class_kind} in "
                  f"the “true {s.class_kind}” box, then export it.", 0)
            return False
        try:
            self.trace.save(Output(path, self.session.kept_files(), spare=a_model_file))
        except Exception as e:  # noqa: BLE001
            self.session.say(f"Could not save the trace: {e}")
            return False
        self.session.say(f"Saved the trace to {path}")
        return True


    def open_trace(self, path) -> bool:
        """Show a trace file read by :meth:`cnncore.trace.Trace.load`; a file that is not one is
        refused with the loader's reason and the trace shown before stays."""
        from cnncore.trace import Trace, TraceFileError
        try:
            tr = Trace.load(str(path))
        except TraceFileError as e:
            self.session.say(f"Could not open the trace: {e}", 0)
            return False
        try:
            self.session.open_trace(tr, Path(path).name)
        except ValueError as e:          # a lesson's question waits: the picture is the stop's
            self.session.say(str(e), 0)
            return False
        self.session.say(f"Opened the trace {path} (recorded with its own network, shown as it was saved)")
        return True


    def open_trace_dialog(self) -> bool:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open trace", str(data_dir()),
                                                        "NumPy arrays (*.npz);;All files (*)")
        return bool(path) and self.open_trace(path)


    def export_trace_dialog(self):
        if self.trace is None:
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export trace", str(data_dir() / "trace.npz"),
                                                        "NumPy arrays (*.npz)")
        if path:
            self.export_trace(path)
