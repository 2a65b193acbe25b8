"""The Draw tab's drawing: the ink on the sheet, what the network gets from it, and the digit the
user says it is."""
from __future__ import annotations

import numpy as np

from .events import Event

#: Below this much ink anywhere the sheet counts as empty.
EMPTY_INK = 0.02


class Drawing:
    """The sheet's ink (2-D, values in [0, 1]) and its true digit.

    ``image()`` is the preprocessed ``(28, 28)`` float32 network input, or None while the sheet is
    empty (computed once per ink). The digit follows the network's guess (``suggest_label``) until
    the user chooses one (``choose_label``); from then on it stands until the sheet is emptied. Only a
    chosen digit is the drawing's true digit (``label_chosen``): a guess is the network's answer.

    Events: ``ink_changed()`` on every new ink (while a stroke is drawn too), ``finished()`` when a
    stroke ends or a digit is put on the sheet (:meth:`finish`), ``label_changed(int)`` when the
    digit changes or is chosen.
    """

    def __init__(self) -> None:
        self.ink_changed = Event()
        self.finished = Event()
        self.label_changed = Event()
        self._ink = None
        self._image = None
        self._label = 0
        self.label_chosen = False

    # ----------------------------------------------------------------- ink
    @property
    def ink(self):
        return self._ink

    def set_ink(self, ink) -> None:
        ink = np.asarray(ink, dtype=np.float32)
        if ink.ndim != 2:
            raise ValueError(f"a drawing is a 2-D image, not shape {ink.shape}")
        self._ink = ink
        self._image = None
        if self.is_empty():
            self.label_chosen = False       # a wiped sheet takes the network's guess again
        self.ink_changed.emit()

    def finish(self) -> None:
        """The pen was lifted (or a digit put on the sheet): what is drawn now is the drawing."""
        self.finished.emit()

    def is_empty(self) -> bool:
        return self._ink is None or self._ink.size == 0 or float(self._ink.max()) < EMPTY_INK

    def image(self):
        """The ``(28, 28)`` float32 network input (MNIST-style preprocessing), None when empty.
        Raises what the preprocessing raises."""
        if self.is_empty():
            return None
        if self._image is None:
            from cnncore.datasets import preprocess_drawing
            self._image = np.asarray(preprocess_drawing(self._ink), dtype=np.float32)
        return self._image

    def is_small(self, share: float = 0.35) -> bool:
        """True when the ink fits in less than ``share`` of the sheet's side both ways."""
        if self._ink is None:
            return False
        ink = self._ink > 0.1
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        if len(rows) == 0:
            return False
        side = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
        return side < share * ink.shape[0]

    # --------------------------------------------------------------- label
    @property
    def label(self) -> int:
        """The true digit, 0 to 9 (setting it does not make it the user's choice)."""
        return self._label

    @label.setter
    def label(self, d) -> None:
        d = int(d)
        if not 0 <= d <= 9:
            raise ValueError(f"a digit is 0 to 9, not {d}")
        if d != self._label:
            self._label = d
            self.label_changed.emit(d)

    def choose_label(self, d) -> None:
        """The user says what the drawing is: it stands until the sheet is emptied. Said once the
        digit is chosen (also the digit guessed before: from now on it is the drawing's true digit)."""
        d = int(d)
        if not 0 <= d <= 9:
            raise ValueError(f"a digit is 0 to 9, not {d}")
        was = (self._label, self.label_chosen)
        self._label, self.label_chosen = d, True
        if was != (d, True):
            self.label_changed.emit(d)

    def suggest_label(self, d) -> None:
        """The network's guess: taken only while the user has not chosen a digit."""
        if not self.label_chosen:
            self.label = d
