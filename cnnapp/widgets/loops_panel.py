"""The slides' loops beside a step, with the lines that made the clicked element highlighted and the
loop indices there (:mod:`cnncore.pseudocode`). Which loops a step shows is its layer type's own
declaration (``Teaching.loops``): a convolution's scalar and vector-notation loops, max, mean and
L2-norm pooling, and any type that declares some."""
from __future__ import annotations

import html

from PySide6 import QtCore, QtWidgets

from cnncore.architecture import infer_shapes
from cnncore.layers import layer_class
from cnncore.pseudocode import listings_for
from cnncore.tracekeys import split_key

__all__ = ["LoopsPanel"]

#: Trace parts without a batch axis (parameters and their gradients).
_UNBATCHED = ("W", "b", "dW", "db")


def step_listings(trace, step) -> tuple:
    """The listings the layer type of ``step`` declares for it (``()`` for none, or no step)."""
    if trace is None or step is None or step.layer is None or step.kind not in ("forward", "backward"):
        return ()
    return listings_for(layer_class(step.layer_type).teaching, step.kind, trace.spec["layers"][step.layer])


def _line(line: str) -> str:
    """One loop line as rich text: the code, then its comment in grey two spaces after it (not aligned
    in a column, so that a narrow panel wraps few lines, and those at the comment)."""
    code, sep, comment = line.partition("#")
    text = html.escape(code.rstrip())
    return text + (f"  <span style='color:#777'># {html.escape(comment.strip())}</span>" if sep else "")


class LoopsPanel(QtWidgets.QLabel):
    """Shown on a step whose layer type declares loops for it; hidden on every other step."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("loopsPanel")
        self.setTextFormat(QtCore.Qt.RichText)
        self.setWordWrap(True)
        self.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.setStyleSheet("QLabel { background: #fafafa; border: 1px solid #ddd; padding: 4px; }")
        # a loop line too long for the column wraps (pre-wrap) rather than widen the window
        self.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        self.kind = None
        self.listings: tuple = ()
        self.lit: dict = {}             # listing number -> lines lit
        self._layer = None
        self.hide()

    @staticmethod
    def has_loops(trace, step) -> bool:
        """Whether ``step`` has loops to show (its layer type declares some for this layer)."""
        return bool(step_listings(trace, step))

    def show_step(self, trace, step) -> None:
        """The loops of ``step`` (none lit yet); hidden when it has none or ``step`` is None."""
        self.listings = step_listings(trace, step)
        self.kind = step.kind if self.listings else None
        if self.listings:
            s_in, s_out = infer_shapes(trace.spec)[step.layer]
            self._layer = (step.layer, trace.spec["layers"][step.layer], s_in, s_out)
        self._render({}, {}, "Click a number of this step to see which line made it.")
        self.setVisible(bool(self.listings))

    def mark(self, key: str, index) -> bool:
        """Light the lines that made ``key[index]`` (the batch axis, if any, is dropped) in every
        listing that writes it; False when none does."""
        if not self.listings:
            return False
        i, part = split_key(key)
        layer, spec, s_in, s_out = self._layer
        if i != layer:
            return False
        index = tuple(int(k) for k in index)
        if part not in _UNBATCHED:
            index = index[1:]
        found = {k: lst.lit(part, index, spec, s_in, s_out) for k, lst in enumerate(self.listings)}
        found = {k: h for k, h in found.items() if h is not None}
        if not found:
            self._render({}, {}, f"{part} is not written by these loops.")
            return False
        self._render({k: h.lines for k, h in found.items()}, {k: h.words for k, h in found.items()}, "")
        return True

    def _render(self, lit: dict, words: dict, hint: str) -> None:
        self.lit = dict(lit)
        parts = []
        for k, lst in enumerate(self.listings):
            rows = [f"<span style='background:#ffe08a'>{_line(line)}</span>" if n in self.lit.get(k, ())
                    else _line(line) for n, line in enumerate(lst.lines)]
            said = (f"<br><span style='color:#1f3a68'>{html.escape(words[k])}</span>" if k in words else "")
            parts.append(f"<b>{html.escape(lst.title)}</b><pre style='margin:2px 0; white-space: pre-wrap'>" + "\n".join(rows)
                         + f"</pre><span style='color:#666'>{html.escape(lst.note)}</span>{said}")
        if hint:
            parts.append(f"<span style='color:#444'>{html.escape(hint)}</span>")
        self.setText("<br><br>".join(parts))

    def shown_lines(self) -> list[str]:
        """Every loop line shown, listing after listing (for tests)."""
        return [line for lst in self.listings for line in lst.lines]
