"""The main window: Draw, Build, Train, Backprop and Learn tabs around one shared network."""
from __future__ import annotations

import time
from pathlib import Path

import pyqtgraph as pg
from cnncore.lesson import TABS
from PySide6 import QtCore, QtGui, QtWidgets

from . import session_files, settings as st
from .lesson_control import LessonControl
from .views.backprop_view import BackpropView
from .views.build_view import BuildView
from .views.draw_view import DrawView
from .views.inspect_view import InspectView
from .state import Session
from .state.classes import draw_names_with
from .state.lesson_player import ending_lesson
from .state.session import HELD
from .views.train_view import TrainView
from .widgets import help_boxes
from .session_keeper import SessionKeeper
from .startup_notes import StartupNotes
from .widgets.confirm import confirm_discard
from .widgets.export_dialog import open_export_dialog
from .widgets.lazy_tab import LazyTab
from .widgets.open_picture import open_picture_dialog
from .widgets.scroll_area import WindowScroll, scroll_area
from .widgets.zoom import TabZoomer

# Antialiased curves with thousands of points cost the GUI thread more than they add.
pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


def _learn_panel(parent, scores=None):
    try:
        from cnnapp.learn import LearnPanel
        return LearnPanel(parent, scores)
    except Exception as e:  # noqa: BLE001 - the tab still exists, with a note
        label = QtWidgets.QLabel("The Learn tab is not available in this build"
                                 + (f" ({e})." if not isinstance(e, ImportError) else "."))
        label.setObjectName("learnPlaceholder")
        label.setAlignment(QtCore.Qt.AlignCenter)
        label.setWordWrap(True)
        return label


def initial_size(available: QtCore.QSize) -> QtCore.QSize:
    """The window's first size on a screen whose free area is ``available``: 1280×800 where that
    fits, most of a large screen, and never more than the screen less room for a title bar."""
    w = max(1280, int(available.width() * 0.85))
    h = max(800, int(available.height() * 0.85))
    return QtCore.QSize(min(w, available.width() - 8), min(h, available.height() - 40))


class MainWindow(QtWidgets.QMainWindow):
    """The app's window. Building it never blocks: the starter model is a small file; without it
    a fresh network is built and the Draw tab says it is untrained."""

    def __init__(self, parent=None, load_settings: bool = True):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("CNN Lab — see how a convolutional network learns")
        icon = st.assets_dir() / "icon.svg"
        if icon.exists():
            self.setWindowIcon(QtGui.QIcon(str(icon)))
        draw_names_with(QtGui.QFontMetrics(self.font()).inFontUcs4)    # (characters no font draws are spelled)
        self.session = Session()
        self.session.message.connect(self.show_message)
        self.notes_at_start = StartupNotes(self, self.show_message)
        if load_settings:
            st.load_store()                     # the settings file, read once (restore_settings uses it)
        st.keep_scores(self.session.scores)     # the learner's answers, from the settings store and back
        self.statusBar().messageChanged.connect(self._on_message_changed)
        self._message = (None, None, None)     # the last message: whole, as shown, until (monotonic s)
        # Replaced in tests; asks before unsaved trained weights are thrown away.
        self.confirm = lambda text: confirm_discard(self, text)

        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.setAccessibleName("Tabs")
        self.tabs.setDocumentMode(True)
        # Windows of one user's settings: the first keeps the session; another says it keeps nothing
        self.keeper = SessionKeeper(st.config_folder(), self) if load_settings else None
        for note in session_files.first_network(self.session, reopen=load_settings) + (
                [] if self.keeper is None else self.keeper.notes()):
            self.notes_at_start.add(note)
        self.draw = DrawView(self.session)
        self.build = BuildView(self.session)
        if load_settings:
            self._offer_kept_edits()
        self.train = TrainView(self.session)
        self.backprop = BackpropView(self.session)
        self.learn = LazyTab(lambda parent: _learn_panel(parent, self.session.scores))
        self.look = LazyTab(lambda parent: InspectView(self.session, parent))
        self._add_tabs()
        self.backprop.quizRequested.connect(self._quiz_about)
        self.session.training_changed.connect(self._on_training_changed)
        self.train.openDigit.connect(self.open_digit)
        self.train.saveModelRequested.connect(self.save_model_dialog)
        self.train.openModelRequested.connect(self.open_model_dialog)
        self.train.presetRequested.connect(self.build.use_preset)

        self._build_menus()
        self.zoomer = TabZoomer(self, self.tabs, TABS, beside=[self.lessons.dock])
        self.status_label = QtWidgets.QLabel("")
        self.statusBar().addPermanentWidget(self.status_label)
        self._on_network_text()
        self.session.model_changed.connect(self._on_network_text)
        self.session.model_changed.connect(self.statusBar().clearMessage)   # (news of the network gone)
        self.session.weights_changed.connect(self._on_network_text)
        for event in (self.session.model_changed, self.session.weights_changed, self.session.picture_changed,
                      self.session.held_changed):
            event.connect(self._follow_learn)         # (the Learn tab shows the app's network and picture)
        self._fit_to_screen()
        if load_settings:
            self.restore_settings()

    def _fit_to_screen(self) -> None:
        screen = self.screen() or QtGui.QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(1280, 800)
            return
        area = screen.availableGeometry()
        self.resize(initial_size(area.size()))
        self.move(area.center() - self.rect().center())

    # ---------------------------------------------------------------- model
    def _add_tabs(self) -> None:
        """The six tabs, with their tooltips and Ctrl+1 … Ctrl+6."""
        for w, name, tip in ((self.draw, "&Draw", "Draw a digit and see what the network answers (Ctrl+1)"),
                             (self.build, "&Build", "Edit the layers of the network (Ctrl+2)"),
                             (self.train, "&Train", "Train the network and watch it learn (Ctrl+3)"),
                             (self.backprop, "Back&prop", "Step through one forward and backward pass (Ctrl+4)"),
                             (self.learn, "&Learn", "Lessons and questions (Ctrl+5)"),
                             (self.look, "Loo&k", "Where the network looks, how to fool it, what it wants to "
                                                  "see (Ctrl+6)")):
            i = self.tabs.addTab(w, name)
            self.tabs.setTabToolTip(i, tip)
        # (a page larger than the window, zoomed for a projector, scrolls: the window keeps its size)
        self.setCentralWidget(scroll_area(self.tabs, "windowScroll", "Window", across=True, focus=False,
                                          kind=WindowScroll))
        for k in range(self.tabs.count()):
            sc = QtGui.QShortcut(QtGui.QKeySequence(f"Ctrl+{k + 1}"), self)
            sc.activated.connect(lambda k=k: self.tabs.setCurrentIndex(k))
        self.tabs.currentChanged.connect(self._on_tab)

    def _offer_kept_edits(self) -> None:
        """The Build tab's edits the last session closed with, offered by "Back to my edits"."""
        edits = session_files.kept_edits()
        if edits is not None and self.build.offer_edits(edits):
            self.notes_at_start.add("Your Build-tab edits of last time are kept: “Back to my edits” brings them "
                                    "back.")

    def save_session(self) -> None:
        """Keep the current network (unless it is the starter model) and the Build tab's edits not in
        use for the next launch."""
        session_files.save(self.session)
        session_files.save_edits(self.build.edits_not_in_use())
        session_files.save_drawing(self.draw.kept_sheet())

    # ----------------------------------------------------------- model files
    def save_model(self, path) -> bool:
        """Save the network in use (architecture, weights, history) to ``path``."""
        if self.session.training:
            self.session.say("Stop or finish the training before saving.")
            return False
        try:
            from cnncore import Output
            from cnncore.modelio import save_model
            net = self.session.network
            save_model(Output(path, self.session.kept_files(model=False)), net, history=getattr(net, "history", None))
        except Exception as e:  # noqa: BLE001
            self.session.say(f"Could not save the model: {e}", 0)
            return False
        self.session.mark_saved(Path(path))
        self.session.say(f"Saved the model to {path}")
        return True

    def open_model(self, path) -> bool:
        """Use the model saved at ``path``; asks first when weights trained here are unsaved."""
        if self.session.training:
            self.session.say("Stop the training before opening another model.")
            return False
        if self.session.unsaved and not self.confirm(
                "The network trained here has not been saved. Open the other model and discard it?"):
            return False
        if not self._may_end_lesson():
            return False
        try:
            from cnncore.modelio import load_model
            net = load_model(str(path))
        except Exception as e:  # noqa: BLE001
            self.session.say(f"Could not open {Path(path).name}: {e}", 0)
            return False
        self.session.set_network(net, f"opened from {Path(path).name}", trained=True, file=Path(path))
        self.session.say(f"Opened {Path(path).name}")
        return True

    def _may_end_lesson(self) -> bool:
        """Another model ends the lesson followed: asked first, with where its answers are."""
        question = ending_lesson(self.session, "Opening another model")
        return question is None or self.confirm(question)

    def save_model_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save model", str(st.data_dir() / "model.npz"),
                                                        "Model (*.npz)")
        if path:
            if not path.lower().endswith(".npz"):
                path += ".npz"
            self.save_model(path)

    def open_model_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open model", str(st.data_dir()), "Model (*.npz)")
        if path:
            self.open_model(path)

    def _on_network_text(self) -> None:
        net = self.session.network
        if net is None:
            self.status_label.setText("no network")
            return
        from cnncore.layers import layer_class
        layers = " · ".join(layer_class(l["type"]).brief(l) for l in net.spec["layers"])
        self.status_label.setText(f"{layers}  ·  {net.num_params():,} parameters")
        self.status_label.setToolTip(f"The network in use: {self.session.source}")

    def _on_tab(self, i: int) -> None:
        if self.tabs.widget(i) is self.learn:
            self._sync_learn()

    def _follow_learn(self, *_) -> None:
        """Another network, weights or picture while the Learn tab shows: it follows at once (a picture
        opened there left it checking the one before)."""
        if self.tabs.currentWidget() is self.learn and not self.session.training:
            self._sync_learn()

    def open_picture(self) -> None:
        """File → Open a picture…: the session's picture; on the Draw tab of a digit network, on its sheet
        too (it said "Showing the picture 3.png" over the sheet drawn before, the picture on no tab in sight)."""
        if open_picture_dialog(self, self.session) and self.tabs.currentWidget() is self.draw:
            self.open_digit("draw")

    def open_digit(self, where: str) -> None:
        """Show the session's picture (a held-out mistake) on the Draw tab, or trace it on Backprop."""
        p = self.session.picture
        if p is None:
            return
        if where == "draw":
            if self.draw.digits():          # else the Draw tab shows the session's picture itself
                self.draw.show_digit(p.plane(), p.label)
            self.tabs.setCurrentWidget(self.draw)
        else:
            self.tabs.setCurrentWidget(self.backprop)
            if self.session.trace is None:
                self.backprop.record()

    def _quiz_about(self, step) -> None:
        """Open the concept check that fits this backprop step."""
        panel = self.learn.ensure()
        if hasattr(panel, "ask_about") and panel.ask_about(step):
            self.tabs.setCurrentWidget(self.learn)
        else:
            self.session.say("No concept check for this kind of step yet.")

    def _sync_learn(self) -> None:
        """Give the Learn tab the app's own network, input and trace (gradient check, identities)."""
        panel = self.learn.ensure()
        s = self.session
        net = s.view_network()
        if not hasattr(panel, "set_network") or net is None:
            return
        try:
            if s.answer_held:              # its checks of the lesson's picture would answer its question
                raise ValueError(HELD)
            image, label, what = s.checked_input()
        except ValueError:                 # no picture the network can take: the panel's own example
            image = label = None
            what = "an example of its own"
        digit = "" if label is None else f", taken to be {s.a_class(label)}"
        held = " (the lesson's picture after your answer to its question)" if s.answer_held else ""
        panel.set_network(net, image, label, f"The app's network ({s.source}) on {what}{digit}{held}.")
        if s.trace is not None or s.answer_held:
            panel.set_trace(None if s.answer_held else s.trace)

    def _on_training_changed(self, training: bool) -> None:
        self.save_action.setEnabled(not training)
        self.open_action.setEnabled(not training)

    STATUS_MARGIN_PX = 40        # between a message and the network's summary on the right

    def show_message(self, text: str, ms: int = 6000) -> None:
        """``text`` in the status bar for ``ms`` ms (0: until the next), cut short with "…" where it
        would run under the network's summary on the right; the whole text is then the bar's
        tooltip while the message shows, and it is cut again to the new room when the window is
        resized. (Measured against the window's width: the bar's is not known before it shows.)"""
        bar = self.statusBar()
        width = bar.width() if bar.isVisible() else self.width()
        room = width - self.status_label.sizeHint().width() - self.STATUS_MARGIN_PX
        shown = bar.fontMetrics().elidedText(text, QtCore.Qt.ElideRight, max(room, 120))
        self._message = (text, shown, time.monotonic() + ms / 1000 if ms > 0 else None)
        bar.showMessage(shown, ms)
        bar.setToolTip(text if shown != text else "")

    def _on_message_changed(self, text: str) -> None:
        if not text:                  # the message timed out or was cleared: its tooltip goes too
            self.statusBar().setToolTip("")

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        text, shown, until = self._message
        bar = self.statusBar()
        if text is not None and bar.currentMessage() == shown:     # still showing: cut it anew
            left = None if until is None else until - time.monotonic()
            if left is None or left > 0.05:
                self.show_message(text, 0 if left is None else int(left * 1000))

    # ---------------------------------------------------------------- menus
    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self.open_action = m.addAction("&Open model…", self.open_model_dialog, QtGui.QKeySequence.Open)
        self.open_action.setToolTip("Open a model saved before (.npz)")
        self.save_action = m.addAction("&Save model…", self.save_model_dialog, QtGui.QKeySequence.Save)
        self.save_action.setToolTip("Save the network's architecture and weights (.npz)")
        a = m.addAction("Export &model…", lambda: open_export_dialog(self, self.session))
        a.setToolTip("Write the network as PyTorch code and weights, or as an ONNX file")
        m.addSeparator()
        a = m.addAction("Open arc&hitecture…", self.build.open_dialog)
        a.setToolTip("Open an architecture JSON file into the Build tab")
        a = m.addAction("Save a&rchitecture…", self.build.save_dialog)
        a.setToolTip("Save the Build tab's architecture as JSON")
        m.addSeparator()
        a = m.addAction("Open a &picture…", self.open_picture)
        a.setToolTip("A picture of your own (PNG, JPEG, BMP, WebP) for the network to answer, trace and look at")
        a = m.addAction("Open &trace…", lambda: self.backprop.open_trace_dialog()
                        and self.tabs.setCurrentWidget(self.backprop))
        a.setToolTip("Show a saved backprop trace (.npz) on the Backprop tab")
        a = m.addAction("E&xport trace…", self.backprop.export_trace_dialog)
        a.setToolTip("Save the recorded backprop trace as .npz")
        self.lessons = LessonControl(self, m)       # Open, Record, Edit a lesson…, Save lesson (as…)
        m.addSeparator()
        q = m.addAction("&Quit", self.close, QtGui.QKeySequence.Quit)
        q.setToolTip("Close the window (training is stopped first)")
        t = self.menuBar().addMenu("&Train")
        for text, slot, key in (("&Start", self.train.start, "F5"), ("&Stop", self.train.stop, "Shift+F5")):
            a = t.addAction(text, slot)
            a.setToolTip(f"{text.replace('&', '')} training ({key})")
        t.addAction("&Record trace", self.backprop.record).setToolTip("Record a backprop trace (Ctrl+R)")
        h = self.menuBar().addMenu("&Help")
        a = h.addAction("&About CNN Lab…", self.show_about)
        a.setToolTip("Credits, data sources and licences")
        a = h.addAction("Keyboard &shortcuts…", self.show_shortcuts)
        a.setToolTip("The keys for the frequent actions")
        for menu in (m, t, h):
            menu.setToolTipsVisible(True)

    def about_text(self) -> str:
        return help_boxes.about_text()

    def show_about(self) -> None:
        help_boxes.show_about(self)

    def show_shortcuts(self) -> None:
        help_boxes.show_shortcuts(self)

    # ------------------------------------------------------------- settings
    def restore_settings(self) -> None:
        """Read the settings file (:func:`cnnapp.settings.load_store`) and give each part its own;
        say once in the status bar what happened to a file that could not be used."""
        s = st.store()
        geo, sheet = s.get_bytes("window/geometry"), session_files.kept_drawing()
        if sheet is not None:
            self.draw.restore_sheet(sheet)      # (a digit drawn is not lost to a restart)
        elif geo is None:
            self.draw.show_example()     # first launch: the bars mean something at once
        if geo is not None:
            self.restoreGeometry(QtCore.QByteArray(geo))
        for sp in self._splitters():
            v = s.get_bytes(f"splitters/{sp.objectName()}")
            if v is not None:
                sp.restoreState(QtCore.QByteArray(v))
        self.tabs.setCurrentIndex(s.get("window/tab", 0, int, 0, self.tabs.count() - 1))
        self.zoomer.zoom.read(s.group("window/zoom"))
        for prefix, view in self._views_with_settings().items():
            view.apply_settings(s.group(prefix))
        self.session.scores.read(s)
        kept = s.get("lesson/followed", {}, dict)
        if kept:                              # (after the window is up: opening it may ask a question)
            QtCore.QTimer.singleShot(0, self, lambda: self.lessons.resume(kept))
        note = s.take_message()
        if note:
            self.notes_at_start.add(note)

    def save_settings(self) -> bool:
        """Keep the window's and each view's settings (:meth:`SettingsStore.save`: never raises)."""
        s = st.store()
        s.set_bytes("window/geometry", self.saveGeometry().data())
        for sp in self._splitters():
            s.set_bytes(f"splitters/{sp.objectName()}", sp.saveState().data())
        s.set("window/tab", self.tabs.currentIndex())
        s.set("window/zoom", self.zoomer.zoom.to_dict())
        for prefix, view in self._views_with_settings().items():
            s.update(prefix, view.settings_dict())
        self.session.scores.write(s)
        s.set("lesson/followed", self.lessons.followed())
        return s.save()

    def _views_with_settings(self) -> dict:
        """Prefix in the settings file -> a view with ``settings_dict()`` and ``apply_settings(d)``."""
        return {"draw": self.draw, "train": self.train, "backprop": self.backprop}

    def _splitters(self):
        return [sp for sp in self.findChildren(QtWidgets.QSplitter) if sp.objectName()]

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        if not self.lessons.may_end_recording("Quit"):
            event.ignore()
            return
        if self.keeper is not None and not self.keeper.keeps and self.session.unsaved and not self.confirm(
                "This window's trained network has not been saved, and another window keeps the session: close "
                "and discard it?"):
            event.ignore()
            return
        self.backprop.stop_play()
        self.train.shutdown()
        if self.look.content is not None:
            self.look.content.shutdown()
        if self.keeper is None or self.keeper.keeps:
            self.save_session()
            try:
                self.save_settings()
            except Exception:  # noqa: BLE001 - settings are a convenience, never block closing
                pass
        if self.keeper is not None:
            self.keeper.release()
        super().closeEvent(event)
