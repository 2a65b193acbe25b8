"""The state the tabs share: the current network and where it came from, the drawing, whether a
training run is going on."""
from __future__ import annotations

from cnncore.architecture import DIGIT_CLASSES
from PySide6 import QtCore

from ..state import Drawing


def a_digit(d: int) -> str:
    """The digit with its English article: "a 3", "an 8"."""
    return f"{'an' if int(d) == 8 else 'a'} {int(d)}"


def classes_of(net) -> tuple[str, ...]:
    """The names of a network's classes: the digits, or what it learnt instead (Fashion-MNIST's…)."""
    return tuple(getattr(net, "classes", DIGIT_CLASSES)) if net is not None else DIGIT_CLASSES


def other_dataset(net) -> str:
    """The data set a network learnt when its classes are not the digits; "" for digits."""
    if classes_of(net) == DIGIT_CLASSES:
        return ""
    return getattr(net, "dataset", "") or "another data set"


def a_class(net, k: int) -> str:
    """Class ``k`` in words: "a 3" for digits, the class's own name ("Sneaker", "tsu") otherwise."""
    return a_digit(k) if not other_dataset(net) else classes_of(net)[int(k)]


class AppState(QtCore.QObject):
    """Holds the current :class:`cnncore.network.Network` and the Draw tab's
    :class:`cnnapp.state.Drawing`.

    Signals:
        networkChanged(): a different network (new architecture, opened file, ...).
        weightsChanged(): same network, new weights (training went on).
        drawingChanged(): the user finished a stroke or a digit was put on the sheet.
        trainingChanged(bool): a training run started (True) or ended (False).
        message(str, int): something to show in the status bar for ``int`` ms (0: until replaced).
    """

    networkChanged = QtCore.Signal()
    weightsChanged = QtCore.Signal()
    drawingChanged = QtCore.Signal()
    trainingChanged = QtCore.Signal(bool)
    message = QtCore.Signal(str, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.network = None
        self.source = ""          # e.g. "starter model", "trained here", a file name
        self.is_starter = False   # the network is the starter model as shipped
        self.trained = False      # weights differ from a fresh initialisation
        self.unsaved = False      # trained in this session and not saved to a file since
        self.model_file = None    # the model file the network was opened from or saved to (a Path)
        self._training = False
        self.drawing = Drawing()
        self.datasets: dict = {}  # name -> what was loaded or downloaded so far
        # While training runs, the worker owns ``network``; the GUI reads this copy instead.
        self.snapshot = None

    @property
    def training(self) -> bool:
        """A training run is going on (the worker owns ``network`` meanwhile)."""
        return self._training

    @training.setter
    def training(self, on: bool) -> None:
        on = bool(on)
        if on != self._training:
            self._training = on
            self.trainingChanged.emit(on)

    def set_network(self, net, source: str, trained: bool, starter: bool = False) -> None:
        self.network = net
        self.source = source
        self.is_starter = starter
        self.trained = trained
        self.unsaved = False
        self.model_file = None
        self.networkChanged.emit()

    def mark_trained(self, source: str) -> None:
        """The same network, trained here since it was set: no longer the starter model as shipped."""
        self.source = source
        self.trained = True
        self.unsaved = True
        self.is_starter = False

    def kept_files(self, model: bool = True) -> list:
        """The user's files the app reads, which nothing it writes may replace (the writer refuses
        them: :class:`cnncore.Output`): the drawings and, unless ``model`` is False (Save model
        replaces it on purpose), the model file the network came from."""
        from cnncore.datasets.sources import DRAWINGS_FILE

        from ..settings import data_dir

        kept = [self.model_file] if model and self.model_file else []
        try:
            kept.append(data_dir() / DRAWINGS_FILE)
        except OSError:             # no data folder: no drawings to keep either
            pass
        return kept

    def view_network(self):
        """The network the GUI may run: a copy while training (the worker owns the live one)."""
        if self.training:
            return self.snapshot
        return self.network

    def current_drawing(self):
        """The drawing as the network's (28, 28) float32 input, or None while the sheet is empty
        (or when it cannot be prepared, which is said in the status bar)."""
        try:
            return self.drawing.image()
        except Exception as e:  # noqa: BLE001 - preprocessing failed: say so, do not crash
            self.say(f"Could not prepare the drawing: {e}")
            return None

    def drawing_label(self) -> int:
        """The digit the user says the drawing is (the network's guess until one is chosen)."""
        return self.drawing.label

    def say(self, text: str, ms: int = 6000) -> None:
        self.message.emit(text, ms)
