"""The Train tab's lower half: the filters and feature maps, the confusion matrix and the gallery of
mistakes (both drawn from the session's one result, so they always agree with each other and with
the run's last words), the diagnostics and the runs compared."""
from __future__ import annotations

import math

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ..widgets.heatmap import MapGroup, MapGrid
from ..widgets.pictures import colour_map_group, picture_qimage
from ..widgets.confusion_plot import ConfusionPlot
from .diagnostics_panel import DiagnosticsPanel, RunsPanel

GALLERY_MAX = 60       # mistakes shown at most
#: The pages' names, in full and where the panel is narrow.
NAMES = (("Filters && feature maps", "Filters"), ("Confusion matrix", "Confusion"), ("Misclassified", "Mistakes"),
         ("Diagnostics", "Checks"), ("Compare runs", "Runs"))


class ResultsPanel(QtWidgets.QTabWidget):
    """Signals: ``openMistake(int, str)``: mistake ``k`` of the result is now the session's picture,
    to be shown on the "draw" or the "backprop" tab."""
    openMistake = QtCore.Signal(int, str)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setAccessibleName("Results of training")
        # where even the short names do not fit (zoomed): whole, and the bar scrolls (shortened, "F…" told nothing)
        self.setElideMode(QtCore.Qt.ElideNone)
        self.setUsesScrollButtons(True)
        self.live = MapGrid()
        self.live.setObjectName("liveMapGrid")
        self.live.setToolTip("The filters of the first layer that has them and one sample's feature maps, "
                             "refreshed a few times per second while training")
        self.confusion = ConfusionPlot()
        self.gallery = self._build_gallery()
        self.gallery_page = self._gallery_with_count()
        self.diagnostics, self.runs = DiagnosticsPanel(), RunsPanel()
        for page, (name, _) in zip((self.live, self.confusion, self.gallery_page, self.diagnostics, self.runs), NAMES):
            self.addTab(page, name)
            self.setTabToolTip(self.count() - 1, name.replace("&&", "&"))
        self._shown = {}              # page -> (the result it shows, the classes it names them by)
        self.currentChanged.connect(self.refresh)
        session.result_changed.connect(self.refresh)
        session.model_changed.connect(self.refresh)        # (a new model's classes, with no result of either)
        session.model_changed.connect(self.diagnostics.clear)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._fit_names()

    def _fit_names(self) -> None:
        """The pages' full names where they fit side by side, else their short ones (a lesson's panel
        beside the tab at 1024 px left "Conf…", "Mi…", "D…", "C…")."""
        bar = self.tabBar()
        fm = bar.fontMetrics()
        pad = max(bar.tabSizeHint(i).width() - fm.horizontalAdvance(bar.tabText(i).replace("&&", "&"))
                  for i in range(self.count()))
        need = sum(fm.horizontalAdvance(full.replace("&&", "&")) + pad for full, _ in NAMES)
        for i, (full, short) in enumerate(NAMES):
            name = full if need <= self.width() else short
            if self.tabText(i) != name:
                self.setTabText(i, name)

    def _build_gallery(self) -> QtWidgets.QListWidget:
        g = QtWidgets.QListWidget()
        g.setObjectName("misclassifiedGallery")
        g.setAccessibleName("Misclassified held-out pictures")
        g.setToolTip("Held-out pictures the network got wrong in the result shown (true class → its answer).\n"
                     "Click one to open it on the Draw or the Backprop tab.")
        g.setViewMode(QtWidgets.QListView.IconMode)
        g.setIconSize(QtCore.QSize(56, 56))
        g.setGridSize(QtCore.QSize(76, 84))
        g.setResizeMode(QtWidgets.QListView.Adjust)
        g.setMovement(QtWidgets.QListView.Static)
        g.itemClicked.connect(self._on_gallery_click)
        g.itemActivated.connect(self._on_gallery_click)        # (Return or Enter on the keyboard)
        self._menu = None
        return g

    # ------------------------------------------------------------- the result
    def refresh(self, *_) -> None:
        """Draw the shown page from the session's result if it shows another one (the confusion matrix
        and the gallery are made only when their page is shown: a hidden page costs nothing)."""
        r, names, page = self.session.result, (self.session.classes, self.session.class_kind), self.currentWidget()
        shown = self._shown.get(page)
        if page not in (self.confusion, self.gallery_page) or (
                shown is not None and shown[0] is r and shown[1] == names):
            return              # (no result, then another model with no result: its classes are new)
        self._shown[page] = (r, names)
        if page is self.confusion:
            self.confusion.set_classes(self.session.classes, self.session.class_kind, self.session.class_notes())
            self.confusion.set_matrix(r.evaluation.confusion if r is not None else np.zeros((10, 10), np.int64))
        else:
            self._fill_gallery(r)

    def _gallery_with_count(self) -> QtWidgets.QWidget:
        """The gallery under a line that says how many mistakes there are (it showed its first 60 of
        107 beside a confusion matrix that counted all of them)."""
        page = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(page)
        lay.setContentsMargins(0, 4, 0, 0)
        self.gallery_count = QtWidgets.QLabel("")
        self.gallery_count.setObjectName("misclassifiedCount")
        self.gallery_count.setWordWrap(True)
        lay.addWidget(self.gallery_count)
        lay.addWidget(self.gallery, 1)
        return page

    def _fill_gallery(self, r) -> None:
        """The result's mistakes, with the answers of the same pass."""
        self.gallery.clear()
        self.gallery_count.setText(_mistakes_words(r))
        if r is None:
            return
        names = self.session.classes
        fm = self.gallery.fontMetrics()                # names too wide for a line with the arrow: one to a line
        worded = any(fm.horizontalAdvance(f"{names[k]} → {names[k]}") > 72 for k in self.session.known_classes)
        self.gallery.setGridSize(QtCore.QSize(120, 104) if worded else QtCore.QSize(76, 84))
        for k in range(min(r.mistakes, GALLERY_MAX)):
            img, true, answer, _ = r.mistake(k)
            q = picture_qimage(img)
            said = self.session.class_name(answer)             # (may be an output no class uses)
            it = QtWidgets.QListWidgetItem(QtGui.QIcon(QtGui.QPixmap.fromImage(q.scaled(56, 56))),
                                           f"{names[true]}\n→ {said}" if worded else f"{names[true]} → {said}")
            words = self.session.a_class(true)
            note = self.session.class_notes(true, answer)
            it.setToolTip(f"{words[:1].upper() + words[1:]} the network read as {said}. "
                          "Click to open it on the Draw or the Backprop tab." + (f"\n{note}" if note else ""))
            self.gallery.addItem(it)

    def _on_gallery_click(self, item) -> None:
        """Where to open a mistake, asked beside it (clicked, or chosen with the keyboard: the menu stood
        at the mouse pointer, wherever that was)."""
        if self._menu is not None and self._menu.isVisible():
            return                          # (a double click is a click and an activation: one menu)
        row = self.gallery.row(item)
        menu = QtWidgets.QMenu(self)
        menu.addAction("Open on the Draw tab", lambda: self.open_mistake(row, "draw"))
        menu.addAction("Trace it on the Backprop tab", lambda: self.open_mistake(row, "backprop"))
        menu.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        self._menu = menu
        menu.destroyed.connect(lambda *_: setattr(self, "_menu", None))
        menu.popup(self.gallery.viewport().mapToGlobal(self.gallery.visualItemRect(item).center()))

    def open_mistake(self, k: int, where: str) -> bool:
        """Make mistake ``k`` of the shown result the session's picture and say where to show it."""
        if self._shown.get(self.gallery_page, (None,))[0] is not self.session.result:
            return False                    # the gallery shows a result that is gone: nothing to open
        try:
            self.session.take_mistake(k)
        except ValueError as e:             # (a lesson's question waits: the picture is the stop's)
            self.session.say(str(e))
            return False
        self.openMistake.emit(k, where)
        return True

    # ------------------------------------------------------------- the maps
    def show_maps(self, maps: dict) -> None:
        """The first layer's filters and one sample's feature maps (``network_maps``'s dict)."""
        groups = []
        if "sample" in maps:
            sample = np.asarray(maps["sample"])
            sample = sample.reshape((1,) * (4 - sample.ndim) + sample.shape)
            title = f"sample input   ({' × '.join(map(str, sample.shape[-2:]))})"
            groups.append(colour_map_group("input", sample, title, sample) if sample.shape[1] == 3
                          else MapGroup("input", sample, title))
        for key, arr in maps.items():
            if key.endswith(".W"):
                title = f"{key} — the filters of the first layer that has them"
                groups.append(colour_map_group(key, arr, title, diverging=True)
                              if np.ndim(arr) == 4 and np.shape(arr)[1] == 3 else
                              MapGroup(key, arr, title, diverging=True))
        for key, arr in maps.items():
            if key.endswith(".y"):
                groups.append(MapGroup(key, arr, f"{key} — feature maps of the sample"))
        self.live.set_groups(groups)

    def wants_maps(self) -> bool:
        """The maps page is shown, or has nothing yet."""
        return self.currentWidget() is self.live or not self.live.map_count()


def finished_text(ev, noun: str = "digits") -> str:
    """How a run ended, in words, with the held-out result of the weights it ended with."""
    msg = ev.message
    if msg.startswith("stopped"):
        text = msg[0].upper() + msg[1:] + "."
    else:
        head = {"done": "Finished", "stopped": "Stopped", "diverged": "Diverged"}.get(ev.reason, ev.reason)
        text = f"{head}: {msg}" + ("" if msg.endswith(".") else ".")
    e = getattr(ev, "evaluation", None)
    if e is not None and e.count:
        text += (f" On {e.count:,} held-out {noun} it never trained on, the network now answers {e.right:,} "
                 f"correctly: {e.accuracy:.1%}.")
    return text


def time_left(s: float) -> str:
    """The time left of a run, in words."""
    return "measuring the pace…" if not np.isfinite(s) else f"about {_duration(s)} left"


def _duration(s: float) -> str:
    if not np.isfinite(s):
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    return f"{m} min {s:02d} s"


def _mistakes_words(r) -> str:
    """How many held-out pictures the result got wrong, and how many of them the gallery shows."""
    if r is None:
        return "The held-out pictures the network gets wrong are shown here after a run."
    n = r.mistakes
    if n == 0:
        return "The network got every held-out picture right."
    if n > GALLERY_MAX:
        return f"The first {GALLERY_MAX} of the {n:,} held-out pictures the network got wrong:"
    return f"The {n:,} held-out picture{'s' if n != 1 else ''} the network got wrong:"


def earlier_epochs(net) -> tuple[list, str]:
    """What a network trained before (opened, or the last session's) kept of its epochs: ``(points, words)``,
    the points ``(epochs so far, training accuracy, held-out accuracy or None)`` for the accuracy plot (a
    part of an epoch, where a run was stopped, counts as that part: :func:`cnncore.training.epoch_ends`)
    and a sentence for the Train tab ("" for a network never trained). Its file keeps each epoch's record,
    not the loss of each batch."""
    from cnncore.training import epoch_ends, epoch_part

    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    history = [h for h in (getattr(net, "history", None) or []) if isinstance(h, dict)]
    points = [(x, h.get("train_accuracy"), h.get("val_accuracy")) for x, h in zip(epoch_ends(history), history)]
    points = [(e, t, v if number(v) else None) for e, t, v in points if number(t)]
    if not points:
        return [], ""
    last = history[-1].get("val_accuracy")
    when = "when it stopped" if epoch_part(history[-1]) else "right after the last one"
    held = f", {last:.1%} of its held-out pictures {when}" if number(last) else ""
    return points, (f"Trained before for {trained_for(history)}{held}. The accuracy plot shows those epochs (the "
                    "loss of each batch is not kept); a run from these weights numbers its epochs after them.")


def trained_for(history) -> str:
    """"4 epochs"; "4 epochs and 14 of the 54 batches of one more" after a run stopped within one; every
    such part counted as a part ("5 epochs and 68 and 65 of the 80 batches of 2 more")."""
    from cnncore.training import epoch_part
    parts = [p for h in history if (p := epoch_part(h))]
    n = len(history) - len(parts)
    done = f"{n:,} epoch{'s' * (n != 1)}"
    if not parts:
        return done
    counts = " and ".join(f"{b:,}" for b, _ in parts[:3]) + (" …" if len(parts) > 3 else "")
    sizes = {of for _, of in parts}
    of = f"the {parts[0][1]:,} batches" if len(sizes) == 1 else "their batches"
    more = ("one more" if n else "an epoch") if len(parts) == 1 else f"{len(parts)} {'more' if n else 'epochs'}"
    batches = f"{counts} of {of} of {more}"
    return f"{done} and {batches}" if n else batches


def run_settings(config, net, data: str) -> dict:
    """What a kept run is compared by: the training settings, the architecture, the data and where its
    weights started (new ones from the network's seed, or the weights earlier epochs left)."""
    from cnncore.architecture import describe_layer
    history = getattr(net, "history", None) or []
    start = f"weights already trained for {trained_for(history)}" if history else f"new weights from seed {net.seed}"
    return config.to_dict() | {"architecture": " · ".join(describe_layer(l) for l in net.spec["layers"]),
                               "data": data, "start": start}
