"""The state the tabs share: the current network and where it came from."""
from __future__ import annotations

from PySide6 import QtCore


def a_digit(d: int) -> str:
    """The digit with its English article: "a 3", "an 8"."""
    return f"{'an' if int(d) == 8 else 'a'} {int(d)}"


class AppState(QtCore.QObject):
    """Holds the current :class:`cnncore.network.Network`.

    Signals:
        networkChanged(): a different network (new architecture, opened file, ...).
        weightsChanged(): same network, new weights (training went on).
        drawingChanged(): the canvas changed (the Backprop tab may trace it).
        message(str, int): something to show in the status bar for ``int`` ms (0: until replaced).
    """

    networkChanged = QtCore.Signal()
    weightsChanged = QtCore.Signal()
    drawingChanged = QtCore.Signal()
    message = QtCore.Signal(str, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.network = None
        self.source = ""          # e.g. "starter model", "trained here", a file name
        self.trained = False      # weights differ from a fresh initialisation
        self.unsaved = False      # trained in this session and not saved to a file since
        self.training = False     # a training run is going on
        self.history = None
        self.drawing_provider = None   # callable -> (28, 28) float32 input or None when empty
        self.drawing_label_provider = None   # callable -> the digit the user says the drawing is
        self.datasets: dict = {}  # name -> (X uint8 (N,28,28), y) loaded so far
        # While training runs, the worker owns ``network``; the GUI reads this copy instead.
        self.snapshot = None

    def set_network(self, net, source: str, trained: bool, history=None) -> None:
        self.network = net
        self.source = source
        self.trained = trained
        self.unsaved = False
        self.history = history
        self.networkChanged.emit()

    def view_network(self):
        """The network the GUI may run: a copy while training (the worker owns the live one)."""
        if self.training:
            return self.snapshot
        return self.network

    def current_drawing(self):
        return self.drawing_provider() if self.drawing_provider else None

    def drawing_label(self, default: int = 0) -> int:
        return int(self.drawing_label_provider()) if self.drawing_label_provider else default

    def say(self, text: str, ms: int = 6000) -> None:
        self.message.emit(text, ms)
