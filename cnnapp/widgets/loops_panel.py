"""The slides' loops for a conv layer beside its step, with the lines that made the clicked element
highlighted and the loop indices there (:mod:`cnncore.pseudocode`)."""
from __future__ import annotations

import html

from PySide6 import QtCore, QtWidgets

from cnncore.architecture import infer_shapes
from cnncore.layers import layer_class
from cnncore.pseudocode import RULES, highlight, loop_lines
from cnncore.tracekeys import split_key

__all__ = ["LoopsPanel"]


class LoopsPanel(QtWidgets.QLabel):
    """Shown on a conv layer's forward and backward step; hidden on every other step."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("loopsPanel")
        self.setTextFormat(QtCore.Qt.RichText)
        self.setWordWrap(True)
        self.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.setStyleSheet("QLabel { background: #fafafa; border: 1px solid #ddd; padding: 4px; }")
        # the loop lines do not wrap: on a narrow column they are cut on the right, never widen the window
        self.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        self.kind = None
        self.lit: tuple = ()
        self._layer = None
        self.hide()

    def show_step(self, trace, step) -> None:
        """The loops of ``step`` if it is a conv forward or backward step, nothing lit yet."""
        self.kind = None
        if (trace is not None and step is not None and step.layer is not None
                and layer_class(step.layer_type).identities and step.kind in ("forward", "backward")):
            self.kind = step.kind
            spec = trace.spec["layers"][step.layer]
            s_in, s_out = infer_shapes(trace.spec)[step.layer]
            self._layer = (step.layer, spec, s_in, s_out)
        self._render((), "Click a number of this step to see which line made it.")
        self.setVisible(self.kind is not None)

    def mark(self, key: str, index) -> bool:
        """Light the lines that made ``key[index]`` (the batch axis, if any, is dropped)."""
        if self.kind is None:
            return False
        i, part = split_key(key)
        layer, spec, s_in, s_out = self._layer
        if i != layer:
            return False
        index = tuple(index)
        if part not in ("dW", "db"):
            index = index[1:]
        h = highlight(self.kind, part, index, spec, s_in, s_out)
        if h is None:
            self._render((), f"{part} is not written by these loops.")
            return False
        self._render(h.lines, h.words)
        return True

    def _render(self, lit, words: str) -> None:
        self.lit = tuple(lit)
        rows = []
        for k, line in enumerate(loop_lines(self.kind)) if self.kind else ():
            text = html.escape(line)
            rows.append(f"<span style='background:#ffe08a'>{text}</span>" if k in self.lit else text)
        title = "The slides' loops" + (" (the backward pass applies their two rules: "
                                       f"{RULES[0]}, {RULES[1]})" if self.kind == "backward" else "")
        self.setText(f"<b>{html.escape(title)}</b><pre style='margin:2px 0'>" + "\n".join(rows)
                     + f"</pre><span style='color:#444'>{html.escape(words)}</span>")

    def shown_lines(self) -> list[str]:
        """The loop lines (for tests)."""
        return list(loop_lines(self.kind)) if self.kind else []
