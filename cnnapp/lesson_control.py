"""Lessons in the window: File → Open a lesson… (a student), Record a lesson and Edit a lesson… (a
teacher), the dock beside the maps that holds the lesson's panel, and the dialogs that ask for a
file or a name. The lesson's state is the session's (:class:`cnnapp.state.LessonPlayer`,
:class:`cnnapp.state.LessonRecorder`); a lesson file this version cannot use is refused in one line
(the status bar) before anything of the session changes."""
from __future__ import annotations

import os
from html import escape
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from cnncore.lesson import PAGES, SUFFIX, TABS, LessonFileError
from cnncore.lesson.results import check_student

from . import settings as st
from .state import LessonPlayer, LessonRecorder, results_path_for
from .state.lesson_player import ending_lesson
from .views.lesson_play import LessonPlayPanel
from .views.lesson_record import SAVE_AS_WORDS, SAVE_KEY, SAVE_WORDS, LessonRecordPanel
from .widgets.confirm import confirm_discard
from .widgets.font_fit import ems_wide

__all__ = ["LessonControl"]

_FILTER = f"Lessons (*{SUFFIX});;All files (*)"


class LessonControl(QtCore.QObject):
    """The window's lessons. ``ask_open_path``, ``ask_save_path``, ``ask_student`` and
    ``ask_results_path`` are the dialogs (tests replace them)."""

    def __init__(self, window, menu: QtWidgets.QMenu):
        super().__init__(window)
        self.window, self.session = window, window.session
        self.recorder = None
        self._tab = None
        self.dock = QtWidgets.QDockWidget("Lesson", window)
        self.dock.setObjectName("lessonDock")
        self.dock.setFeatures(QtWidgets.QDockWidget.DockWidgetMovable | QtWidgets.QDockWidget.DockWidgetFloatable)
        ems_wide(self.dock, least=40)
        self.dock.hide()
        window.addDockWidget(QtCore.Qt.RightDockWidgetArea, self.dock)
        self._add_actions(menu)
        self.ask_open_path = lambda title: QtWidgets.QFileDialog.getOpenFileName(window, title, str(st.data_dir()),
                                                                                  _FILTER)[0]
        self.ask_save_path = lambda default: QtWidgets.QFileDialog.getSaveFileName(
            window, "Save the lesson as", str(default), _FILTER)[0]
        self.ask_results_path = lambda default: QtWidgets.QFileDialog.getSaveFileName(
            window, "Where your answers go", str(default), "Results (*.json)")[0]
        self.ask_student = self._ask_student
        self.confirm = lambda text: confirm_discard(window, text, "Discard the lesson's changes?")
        self.confirm_over = lambda text: confirm_discard(window, text, "Save over the lesson handed out?")
        self.session.lesson_changed.connect(self._on_lesson)
        f9 = QtGui.QShortcut(QtGui.QKeySequence("F9"), window)
        f9.setContext(QtCore.Qt.WindowShortcut)
        f9.activated.connect(self.capture)

    def _add_actions(self, menu: QtWidgets.QMenu) -> None:
        """Open, Record and Edit a lesson; Save lesson and Save lesson as…, which work while one is recorded
        (the panel's buttons do the same)."""
        menu.addSeparator()
        actions = []
        for text, slot, key, tip in (
                ("Open a &lesson…", self.open_dialog, "Ctrl+Shift+O",
                 "Follow a lesson a teacher made (.cnnlesson): its notes, its questions, your answers saved"),
                ("Record a lesso&n", self.record, "Ctrl+Shift+R",
                 "Make a lesson: move through the app and add what it shows as stops (F9), write notes and questions"),
                ("&Edit a lesson…", self.edit_dialog, None, "Change a lesson's notes, questions and stops"),
                ("Sa&ve lesson", self.save_dialog, SAVE_KEY, SAVE_WORDS),
                ("Save lesson &as…", self.save_as_dialog, None, SAVE_AS_WORDS)):
            a = menu.addAction(text, slot)
            a.setToolTip(tip)
            if key:
                a.setShortcut(QtGui.QKeySequence(key))
            actions.append(a)
        self.save_actions = actions[-2:]
        self._enable_saving()

    def _enable_saving(self) -> None:
        for a in self.save_actions:
            a.setEnabled(self.recorder is not None)

    @property
    def panel(self):
        """The lesson's panel in the dock (a student's or a teacher's), or None."""
        area = self.dock.widget()
        return area.widget() if area is not None else None

    def _panel(self, widget) -> None:
        """Show ``widget`` in the dock (None: close it). It scrolls: on a small screen the dock stays
        narrow beside the maps rather than widen the window."""
        old = self.dock.widget()
        area = None
        if widget is not None:
            area = QtWidgets.QScrollArea()
            area.setObjectName("lessonScroll")
            area.setAccessibleName("Lesson")
            area.setWidgetResizable(True)
            area.setFrameShape(QtWidgets.QFrame.NoFrame)
            area.setWidget(widget)
        self.dock.setWidget(area)
        if old is not None:
            old.deleteLater()
        self.dock.setVisible(widget is not None)
        if widget is not None:          # a quarter of the window beside the maps (a note is read there)
            # and never narrower than the panel (its fields were cut at the right at 1024 px); it scrolls
            # up and down only
            need = widget.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width() + 6
            area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
            self.window.resizeDocks([self.dock], [max(280, need, min(520, self.window.width() // 4))],
                                    QtCore.Qt.Horizontal)

    # ---------------------------------------------------------------- student
    def open_dialog(self) -> bool:
        path = self.ask_open_path("Open a lesson")
        return bool(path) and self.open_lesson(path)

    def followed(self) -> dict | None:
        """The lesson followed now, for the next launch (``{"path", "student", "results"}``), or None."""
        p = self.session.lesson
        if p is None or p.lesson.file is None:
            return None
        return {"path": str(p.lesson.file), "student": p.student, "stop": p.position,
                "results": str(p.results_path) if p.results_path is not None else None}

    def resume(self, kept) -> bool:
        """Follow again the lesson the last session closed in (:meth:`followed`), at the student's
        stop; a lesson gone since is said, and nothing else happens (a restart forgot it)."""
        if not isinstance(kept, dict) or not isinstance(kept.get("path"), str) or \
                not isinstance(kept.get("student"), str):
            return False
        if not Path(kept["path"]).is_file():
            self.session.say(f"The lesson you were following, {Path(kept['path']).name}, is no longer there.", 0)
            return False
        results = kept.get("results") if isinstance(kept.get("results"), str) else None
        if not self.open_lesson(kept["path"], kept["student"], results):
            return False
        p = self.session.lesson
        stop = kept.get("stop") if isinstance(kept.get("stop"), int) else 0
        while p.position < stop and p.next():           # (never past a question not answered yet)
            pass
        self.session.say(f"Back in {Path(kept['path']).name} as {p.student}, at stop {p.position + 1} of {p.count} "
                         "(the lesson you were following when the app closed).", 15000)
        return True

    def open_lesson(self, path, student: str | None = None, results_path=None) -> bool:
        """Follow the lesson in ``path`` as ``student`` (asked when None); answers go beside the lesson
        (asked where when that folder cannot be written). A bad file is refused in one line and the
        session stays as it was."""
        if not self._may_replace_model("Open the lesson") or not self.may_end_recording("Open the lesson") \
                or not self._may_end_following("Opening another lesson"):
            return False
        if student is None:
            student = self.ask_student()
            if not student:
                return False
        try:
            student = check_student(student)
            if results_path is None and not os.access(Path(path).resolve().parent, os.W_OK):
                results_path = self.ask_results_path(results_path_for(path, student).name) or None
            player = LessonPlayer.open(self.session, path, student, results_path)
        except (LessonFileError, ValueError) as e:
            self.session.say(f"Could not open the lesson: {e}", 0)
            return False
        self.stop_recording()
        player.begin()
        self.session.follow_lesson(player)
        panel = LessonPlayPanel(player)
        panel.closeRequested.connect(lambda: self.session.follow_lesson(None))
        panel.saveAsRequested.connect(self.save_answers_dialog)
        self._panel(panel)
        player.changed.connect(self._show_tab)
        self._tab = None
        self._show_tab()
        panel.focus_answer()
        self.session.say(f"Following {Path(path).name} as {student}: Alt+→ for the next stop. Your answers go to "
                         f"{player.results_path}.", 10000)
        return True

    def _ask_student(self) -> str:
        text, ok = QtWidgets.QInputDialog.getText(self.window, "Open a lesson",
                                                  "Your name (it goes into your results file):")
        return text if ok else ""

    def _show_tab(self) -> None:
        """The tab the lesson's stop shows (when the stop changed: the student may look elsewhere meanwhile)."""
        p = self.session.lesson
        if p is not None and self._tab != p.position:
            self._tab = p.position
            self.window.tabs.setCurrentIndex(TABS.index(p.tab))
            if p.tab == "draw":             # its picture on the sheet (the student's own drawing, or
                self.window.open_digit("draw")      # none, sat beside a note about the teacher's)
            self._show_page(p.tab, p.stop.page)
            area = self.dock.widget()            # each stop from its title and note (on a small screen the
            if area is not None:                 # panel scrolls, and stayed where the last answer was)
                area.verticalScrollBar().setValue(0)

    def _pages(self, tab: str):
        """The tab's pages (a QTabWidget, made now where the tab is made on first use), or None."""
        if tab not in PAGES:
            return None
        content = getattr(self.window, tab).ensure()
        return getattr(content, "inner" if tab == "look" else "tabs", None)     # (None: the Learn tab's stand-in)

    def _page_shown(self, tab: str) -> str:
        pages = self._pages(tab)
        return PAGES[tab][pages.currentIndex()] if pages is not None else ""

    def _show_page(self, tab: str, page: str) -> None:
        pages = self._pages(tab) if page else None
        if pages is not None:
            pages.setCurrentIndex(PAGES[tab].index(page))

    def _on_lesson(self, player) -> None:
        if player is None and isinstance(self.panel, LessonPlayPanel):
            self._panel(None)

    def save_answers_dialog(self) -> bool:
        p = self.session.lesson
        if p is None:
            return False
        path = self.ask_results_path(p.results_path or results_path_for(p.name, p.student))
        if not path:
            return False
        try:
            p.save_as(path)
        except (OSError, ValueError) as e:
            self.session.say(f"Could not save your answers: {e}", 0)
            return False
        self.session.say(f"Your answers are saved to {path} from now on.")
        return True

    # ---------------------------------------------------------------- teacher
    def record(self) -> LessonRecorder | None:
        """Start recording a lesson of the network in use (its first stop takes it)."""
        if not self.may_end_recording("Start another") or not self._may_end_following("Recording a lesson"):
            return None
        self.session.follow_lesson(None)
        self._start_recorder(LessonRecorder(self.session))
        self.session.say("Recording a lesson: go to what the class should see and press F9 to add it as a stop.", 10000)
        return self.recorder

    def edit_dialog(self) -> bool:
        path = self.ask_open_path("Edit a lesson")
        return bool(path) and self.edit_lesson(path)

    def edit_lesson(self, path) -> bool:
        """Record on from the lesson in ``path``: its network and pictures in the session, its stops kept."""
        from cnncore.lesson import load_lesson
        if not self._may_replace_model("Edit the lesson") or not self.may_end_recording("Edit the lesson") \
                or not self._may_end_following("Editing a lesson"):
            return False
        try:
            lesson = load_lesson(path)
        except LessonFileError as e:
            self.session.say(f"Could not open the lesson: {e}", 0)
            return False
        self.session.follow_lesson(None)
        self._start_recorder(LessonRecorder.from_lesson(self.session, lesson))
        self.session.say(f"Editing {Path(path).name}: its {len(lesson.stops)} stops are in the Lesson panel; F9 adds "
                         "what the window shows as a stop, Save lesson writes it back.", 10000)
        return True

    def _start_recorder(self, recorder) -> None:
        self.recorder = recorder
        panel = LessonRecordPanel(recorder)
        panel.addRequested.connect(self.capture)
        panel.saveRequested.connect(self.save_dialog)
        panel.saveAsRequested.connect(self.save_as_dialog)
        panel.closeRequested.connect(lambda: self.may_end_recording("Stop recording") and self.stop_recording())
        self._panel(panel)
        self._enable_saving()

    def capture(self) -> int | None:
        """Add what the window shows as a stop (F9); the reason in one line when it cannot be."""
        if self.recorder is None:
            return None
        panel = self.panel
        try:
            tab = TABS[self.window.tabs.currentIndex()]
            k = self.recorder.capture(tab, self._page_shown(tab))
        except ValueError as e:
            panel.say(f"<span style='color:#b00020'>Not added: {escape(str(e))}</span>")
            return None
        train = (" Students see the Train tab's plots and settings here, but cannot start a run while they "
                 "follow the lesson: write the note so.") if tab == "train" else ""
        panel.say(f"Stop {k + 1} added. Write its note and choose its question; F9 adds the next.{train}")
        return k

    def save_dialog(self) -> bool:
        """Save lesson: to the file the lesson was opened from or last saved to, without asking; where
        there is none yet, or the teacher would rather keep a lesson handed out, to a file asked for."""
        r = self.recorder
        if r is None:
            return False
        if r.file is None or not self._may_save_over(r.file):
            return self.save_as_dialog()
        return self.save_recording(r.file)

    def save_as_dialog(self) -> bool:
        """Save lesson as…: to a file asked for (the lesson's own, to start with), which Save writes to
        from now on."""
        r = self.recorder
        if r is None:
            return False
        path = self.ask_save_path(r.file or st.data_dir() / f"lesson{SUFFIX}")
        if not path:
            return False
        if not path.lower().endswith(SUFFIX):
            path += SUFFIX
        if not self._may_save_over(path):
            self.panel.say("Not saved: the lesson handed out is kept as it was. Save lesson as… chooses another "
                           "file.")
            return False
        return self.save_recording(path)

    def save_recording(self, path) -> bool:
        try:
            written = self.recorder.save(path)
        except (OSError, ValueError) as e:
            self.session.say(f"Could not save the lesson: {e}", 0)
            self.panel.say(f"<span style='color:#b00020'>Not saved: {escape(str(e))}</span>")
            return False
        text = (f"Saved the lesson ({len(self.recorder.stops)} stops) to {written}. Students open it with File → "
                "Open a lesson…")
        self.session.say(text)
        self.panel.say(text)
        return True

    def _may_save_over(self, path) -> bool:
        """Whether the lesson may be saved to ``path``: asked where that writes a changed lesson over the
        one handed out (students who answered that version have their answers read with it only)."""
        if not self.recorder.replaces_handed_out(path):
            return True
        return self.confirm_over(f"Save over {Path(path).name}? Students' answers to it as it was can then no "
                                 "longer be reported with it (a changed lesson is another version). Cancel: save "
                                 "the edited lesson as a new file and keep both.")

    def stop_recording(self) -> None:
        if self.recorder is not None:
            self.recorder = None
            self._panel(None)
            self._enable_saving()

    def may_end_recording(self, what: str) -> bool:
        """Whether the lesson being recorded may go: none is, it has no edit since it was last saved,
        or the teacher says to discard its changes (``what``: "Quit", "Open the lesson"…)."""
        r = self.recorder
        if r is None or not r.unsaved:
            return True
        n = len(r.stops)
        return self.confirm(f"The lesson being recorded ({n} stop{'' if n == 1 else 's'}) has changes that are not "
                            f"saved. {what} and discard them?")

    def _may_end_following(self, what: str) -> bool:
        """Asked before ``what`` ends the lesson followed (where its answers are said)."""
        question = ending_lesson(self.session, what)
        return question is None or self.window.confirm(question)

    def _may_replace_model(self, what: str) -> bool:
        s = self.session
        if s.training:
            s.say("Stop the training before opening a lesson (it brings its own network).")
            return False
        return not s.unsaved or self.window.confirm(
            f"The network trained here has not been saved. {what} (it brings its own network) and discard it?")
