"""Backprop tab: the session's trace (one forward and backward pass of its picture, ``cnncore.trace``)
walked step by step, with a heatmap of every map the step touches.

Four panels: the picture to trace (:class:`PictureRow`), the way through the steps
(:class:`StepNav`), the maps and their tools (:class:`StepMaps`), and the step's words with the
arithmetic of a clicked number (here). Which picture, which trace and which step are the session's;
this view renders them and sends the learner's choices back."""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtWidgets

from ..learn.arithmetic_panel import ArithmeticPanel
from ..settings import choice_index, set_clamped
from ..state import SAMPLE
from ..state.session import HELD_NOTE
from ..widgets.equation import equation_label
from ..widgets.heatmap import DIVERGING_SCALES, diverging_name, diverging_words, set_diverging
from ..widgets.loops_panel import LoopsPanel
from ..widgets.scroll_area import scroll_area
from ..widgets.step_keys import StepKeys
from .backprop_files import TraceFiles
from .backprop_input import PictureRow
from .backprop_maps import HOVER, StepMaps, describe, export_pngs, groups_for
from .backprop_nav import StepNav


class BackpropView(TraceFiles, QtWidgets.QWidget):
    """Renders the session's trace and step; a new picture or model drops the trace, and the tab
    records the new one as soon as it is shown."""
    traceChanged = QtCore.Signal()
    stepChanged = QtCore.Signal(int)
    quizRequested = QtCore.Signal(object)      # the current cnncore.trace.Step

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.stepper = session.stepper
        self._rng = np.random.default_rng()     # picks the element a prediction asks about
        self.input_row = PictureRow(session)
        self.nav = StepNav(self.stepper)
        self.maps = StepMaps(session.scores)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(self.input_row)
        lay.addWidget(self.nav)
        lay.addWidget(self._build_splitter(), 1)
        self.held_label = QtWidgets.QLabel("<b>Answer the lesson's question first</b> (in the Lesson panel): this "
                                           "step's maps and numbers are shown after it.")
        self.held_label.setObjectName("backpropHeld")
        self.held_label.setWordWrap(True)
        self.held_label.setAlignment(QtCore.Qt.AlignCenter)
        self.held_label.hide()
        lay.addWidget(self.held_label, 1)
        # the panels' widgets, as the window, the settings and the tests reach them
        for name in ("source", "sample_spin", "label_combo", "true_label", "info", "record_button", "open_button"):
            setattr(self, name, getattr(self.input_row, name))
        for name in ("grid", "slide", "map_stack", "predict", "predict_button", "identity_button", "slide_button",
                     "loops_button", "colours", "hover_label"):
            setattr(self, name, getattr(self.maps, name))
        for name in ("speed", "speed_label", "step_label", "timeline", "next_button", "play_timer"):
            setattr(self, name, getattr(self.nav, name))
        self._add_step_keys()
        self._bind()

    def _build_text_column(self) -> QtWidgets.QWidget:
        """The step's title, equation and explanation, the colour legend, the clicked number's sum."""
        self.title_label = QtWidgets.QLabel("")
        self.title_label.setObjectName("backpropTitle")
        self.title_label.setWordWrap(True)
        tf = self.title_label.font()
        tf.setPointSizeF(tf.pointSizeF() * 1.25)
        tf.setBold(True)
        self.title_label.setFont(tf)
        self.equation = equation_label("backpropEquation")
        self.explanation = QtWidgets.QLabel("")
        self.explanation.setObjectName("backpropExplanation")
        self.explanation.setWordWrap(True)
        self.explanation.setAlignment(QtCore.Qt.AlignTop | QtCore.Qt.AlignLeft)
        self.legend = QtWidgets.QLabel(self._legend_text())
        self.legend.setWordWrap(True)
        right = QtWidgets.QWidget()
        rl = QtWidgets.QVBoxLayout(right)
        rl.setContentsMargins(6, 0, 0, 0)
        self.loops = LoopsPanel()          # the slides' loops of a step that has some (cnncore.pseudocode)
        self.arithmetic = ArithmeticPanel(right)
        self.arithmetic.table.setMinimumHeight(150)     # a few terms even on a small screen (the column scrolls)
        for w in (self.title_label, self.equation, self.explanation, self.legend, self.loops):
            rl.addWidget(w)
        rl.addWidget(self.arithmetic, 1)
        rl.addStretch(0)
        return right

    def _build_splitter(self) -> QtWidgets.QSplitter:
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        self.splitter.setObjectName("backpropSplitter")
        self.splitter.addWidget(self.maps)
        # the words of a step can be long (an Adam update, the slides' loops): they scroll, the window keeps its size
        text = scroll_area(self._build_text_column(), "backpropTextScroll", "The step in words")
        self.text_scroll = text
        # never squeezed to a few words a line (a lesson's panel beside a small window): the maps give way
        text.setMinimumWidth(36 * text.fontMetrics().averageCharWidth())
        self.splitter.addWidget(text)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([760, 460])
        return self.splitter

    @staticmethod
    def _legend_text() -> str:
        return ("<span style='color:#555'>Colours: activations in <b>viridis</b> (dark = low, yellow = high); "
                f"weights, z and gradients in <b>{diverging_words()}</b> with white at zero and the same scale "
                "on both sides. Orange corner: the winner of a max-pool window (none on an all-zero map, "
                "where every window is a tie). Click a number: orange "
                "frames show it and the numbers it was computed from.</span>")

    def _add_step_keys(self) -> None:
        st = self.stepper
        self._step_keys = StepKeys(self, (("Left", st.prev), ("Right", st.next), ("Home", st.first), ("End", st.last),
                                          ("Space", st.toggle_play), ("PgUp", st.prev), ("PgDown", st.next)))

    def _bind(self) -> None:
        """Panels → session and slots; the session's events → panels."""
        s, n, m = self.session, self.nav, self.maps
        self.input_row.recordRequested.connect(lambda: self.record())
        self.input_row.openRequested.connect(self.open_trace_dialog)
        n.export_png_button.clicked.connect(self.export_png_dialog)
        n.export_npz_button.clicked.connect(self.export_trace_dialog)
        n.quiz_button.clicked.connect(
            lambda: self.current_step() is not None and self.quizRequested.emit(self.current_step()))
        m.grid.hovered.connect(self._on_hover)
        m.grid.elementClicked.connect(self._on_click)
        s.element_changed.connect(self._on_element)
        s.picture_changed.connect(self._on_picture)
        s.lesson_changed.connect(self._follow_lesson)
        m.identity_button.toggled.connect(lambda on: m.show_identity(on, self.trace, self.current_step()))
        m.predict_button.toggled.connect(lambda on: self._show_step(self.stepper.index))
        m.predict.revealed.connect(self._on_revealed)
        m.loops_button.toggled.connect(self._show_loops)
        m.colours.currentIndexChanged.connect(lambda k: self.set_colours(list(DIVERGING_SCALES)[k]))
        m.slide_button.clicked.connect(self.toggle_slide)
        self.stepper.index_changed.connect(self._show_step)
        s.trace_changed.connect(self._on_trace)
        self._on_trace(s.trace)

    # ---------------------------------------------------------- the trace
    @property
    def trace(self):
        """The session's trace (None before one is recorded)."""
        return self.session.trace

    def record(self) -> bool:
        """Trace the session's picture (one is picked when none is chosen) with the network in use."""
        try:
            self.session.record()
        except Exception as e:  # noqa: BLE001 - shown in the window, never as a traceback
            self.session.say(f"Could not record the trace: {e}")
            self.input_row.show_error(str(e))
            return False
        return True

    def _on_trace(self, tr) -> None:
        """A new trace: its timeline (its first step comes from the stepper); none: record the new one
        once this tab is shown (now, if it is)."""
        self.nav.show_trace(tr)
        if tr is None:
            self.maps.grid.set_groups([])
            self.nav.show_step(None, 0)
            self._clear_words()
            if self.isVisible():
                QtCore.QTimer.singleShot(0, self, self._record_if_missing)
        elif self.maps.identity is not None:
            self.maps.identity.set_trace(tr)
        self.traceChanged.emit()

    def _on_picture(self, p) -> None:
        """A picture chosen while no trace is shown (none could be recorded: a colour network before any
        run has no samples) is traced at once when this tab shows."""
        if p is not None and self.trace is None and self.isVisible():
            QtCore.QTimer.singleShot(0, self, self._record_if_missing)

    def _record_if_missing(self) -> None:
        """Trace the picture, or pick one; with nothing to pick, what to do (nobody asked: no failure)."""
        s = self.session
        if s.trace is None and self.isVisible() and s.network is not None:
            why = s.nothing_to_pick()
            if why:
                self.input_row.show_hint(why)
                return
            self.record()

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if self.session.trace is None:
            QtCore.QTimer.singleShot(0, self, self._record_if_missing)

    def set_colours(self, name: str) -> None:
        """Signed maps in the diverging scale ``name`` (:data:`cnnapp.widgets.heatmap.DIVERGING_SCALES`)."""
        set_diverging(name)
        k = list(DIVERGING_SCALES).index(name)
        if self.maps.colours.currentIndex() != k:
            self.maps.colours.setCurrentIndex(k)
        self.legend.setText(self._legend_text())
        if self.trace is not None:
            self.maps.grid.set_groups([])          # redrawn with the new colours
            self._show_step(self.stepper.index)

    # ---------------------------------------------------------- stepping
    @property
    def index(self) -> int:
        """The step shown (the stepper's)."""
        return self.stepper.index

    def step_count(self) -> int:
        return self.stepper.count

    def current_step(self):
        tr = self.trace
        return tr.steps[self.stepper.index] if tr is not None and self.stepper.count else None

    def go(self, k: int) -> None:
        self.stepper.index = k

    def next(self):
        self.stepper.next()

    def prev(self):
        self.stepper.prev()

    def first(self):
        self.stepper.first()

    def last(self):
        self.stepper.last()

    def toggle_play(self):
        self.stepper.toggle_play()

    def stop_play(self):
        self.stepper.playing = False

    def _show_step(self, k: int) -> None:
        """Show step ``k`` of the trace: its maps, words, place on the timeline and tools."""
        self.arithmetic.clear()
        st = self.current_step()
        self.nav.show_step(st, k)
        if st is None:
            self._clear_words()
            return
        self.maps.show_step(self.trace, st)
        self.text_scroll.verticalScrollBar().setValue(0)         # a new step's words from their start
        self.title_label.setText(st.title)
        self.equation.setText(st.equation)
        self.explanation.setText(st.explanation + self._loss_words(st))
        self.loops.show_step(self.trace, st if self.maps.loops_button.isChecked() else None)
        self._ask_prediction(k)
        self.stepChanged.emit(k)

    def _clear_words(self) -> None:
        """No step shown: none of the last trace's words stay (they may be of another network)."""
        for label in (self.title_label, self.equation, self.explanation):
            label.setText("")
        self.loops.show_step(None, None)

    def _ask_prediction(self, k: int) -> None:
        """In predict mode (not while playing), hide the maps behind a question about this step."""
        from cnncore.predict import ask
        m = self.maps
        on = m.predict_button.isChecked()
        q = ask(self.trace, k, m.predict.score, self._rng) if on and not self.stepper.playing else None
        m.show_question(on, q is None)
        if q is not None:
            m.predict.ask(q)
        else:
            m.predict.show_nothing("Nothing to predict in this step: its maps are shown." if on else "")

    def _on_revealed(self, q, verdict) -> None:
        """Show the maps, outline the element asked about and its sources, and its arithmetic."""
        self.maps.show_question(True, True)
        self._on_click(q.key, q.index)
        self.session.say("Predictions so far: " + self.maps.predict.score.summary(), 8000)

    def _loss_words(self, st) -> str:
        if st.kind != "loss":
            return ""
        tr, s = self.trace, self.session
        kind, names = s.class_kind, s.classes
        name = html.escape(names[tr.label])          # (a folder's names are text, never markup)
        loss = f"loss L = −log p = <b>{tr.loss:.4g}</b>."
        if s.trace_picture is not None and s.trace_picture.label is None:     # (a drawing nobody labelled)
            return (f"<br><br>No true {kind} given: the loss takes the network's answer, <b>{name}</b>, as the "
                    f"true {kind}; p({name}) = {tr.probs[tr.label]:.6g}; {loss}")
        return f"<br><br>True {kind}: <b>{name}</b>; p(true {kind}) = {tr.probs[tr.label]:.6g}; {loss}"

    def toggle_slide(self) -> None:
        """Start, pause or resume the filter sliding over this conv step's input."""
        if self.maps.toggle_slide(self.trace, self.current_step()):
            self.stepper.playing = False

    def groups_for(self, st):
        return groups_for(self.trace, st)

    # ----------------------------------------------------------- mouse
    def _on_hover(self, key, index, value):
        self.maps.hover_label.setText(HOVER if key is None else describe(self.trace, key, index, value,
                                                                         self.session.trace_classes()))

    def _on_click(self, key, index):
        """Select the element clicked (the session's; :meth:`_on_element` shows it)."""
        if self.trace is None:
            return
        try:
            self.session.select_element(key, index)
        except ValueError as e:
            self.session.say(str(e))

    def _on_element(self, el) -> None:
        """The session's selected element: outlined with the numbers it was computed from, its arithmetic."""
        if el is None:
            self.maps.grid.mark_elements(None, None)
            self.arithmetic.clear()
            return
        key, index = el
        self.maps.choose_filter(key, index)
        step = self.current_step()
        self._mark_sources(key, index, step)
        self.loops.mark(key, index)
        try:
            self.arithmetic.show_element(self.trace, step, key, tuple(index))
        except Exception as e:  # noqa: BLE001 - said in the status bar, never a traceback
            self.session.say(f"Could not explain {key}{list(index)}: {e}")
        QtCore.QTimer.singleShot(0, self, self._scroll_to_arithmetic)

    def _show_loops(self, on: bool) -> None:
        """The slides' loops of this step beside the maps, scrolled into view (on a small screen the
        step's words fill the column and the loops opened below it, as if the button did nothing)."""
        self.loops.show_step(self.trace, self.current_step() if on else None)
        if on:
            QtCore.QTimer.singleShot(0, self, lambda: self._scroll_to(self.loops))

    def _scroll_to_arithmetic(self) -> None:
        """On a small screen the step's words fill the column: bring the clicked number's sum into view."""
        self._scroll_to(self.arithmetic)

    def _scroll_to(self, widget) -> None:
        """Scroll the column of words so that ``widget`` starts in its upper half (as it is if it does)."""
        bar, view = self.text_scroll.verticalScrollBar(), self.text_scroll.viewport().height()
        top = widget.mapTo(self.text_scroll.widget(), QtCore.QPoint(0, 0)).y()
        if not bar.value() <= top <= bar.value() + view // 2:
            bar.setValue(top - 6)

    def _mark_sources(self, key, index, step) -> int:
        """Outline the clicked element and every number it was computed from (cnncore.explain)."""
        try:
            from cnncore.explain import breakdown
            sources = breakdown(self.trace, key, tuple(index), step).sources()
        except Exception:  # noqa: BLE001 - no breakdown for this element: outline it alone
            sources = {}
        return self.maps.grid.mark_elements((key, tuple(index)), sources)

    def _follow_lesson(self, player) -> None:
        if player is not None:
            player.changed.connect(self._show_held)
        self._show_held()

    def _show_held(self) -> None:
        """While a lesson's question waits, the step's maps and numbers stay hidden."""
        held = self.session.answer_held
        self.input_row.setEnabled(not held)         # (another picture, or class, would answer it)
        self.splitter.setVisible(not held)
        self.held_label.setVisible(held)
        if held:        # what the network says and the loss would answer the question
            self.input_row.info.setText(HELD_NOTE)
        else:
            self.input_row.show_trace()

    # ----------------------------------------------------------- settings
    def settings_dict(self) -> dict:
        """The tab's own choices (the predict score is the session's: :class:`cnnapp.state.Scores`)."""
        p = self.session.picture
        chosen = p is not None and p.origin == SAMPLE and not p.picked       # a sample the learner chose
        return {"speed": self.nav.speed.value(), "sample": p.index if chosen else -1, "colours": diverging_name()}

    def apply_settings(self, d: dict) -> None:
        """Saved plain values (:meth:`cnnapp.state.settings_store.SettingsStore.group`), checked here."""
        if "speed" in d:
            set_clamped(self.nav.speed, d["speed"])
        sample = choice_index(d.get("sample"), len(self.session.sample_set()[0]), -1)
        if sample >= 0 and self.session.network is not None:
            self.session.take_sample(sample)
        if str(d.get("colours")) in DIVERGING_SCALES:
            self.set_colours(str(d["colours"]))

    # ----------------------------------------------------------- files (and TraceFiles)
    def export_pngs(self, folder) -> list[Path]:
        """Write every map of the current step as a PNG (nearest-neighbour enlarged) and the whole view."""
        return export_pngs(self.maps.grid, self.current_step(), self.stepper.index, folder)

    @property
    def identity(self):
        return self.maps.identity
