"""The Backprop tab's way through a trace: First / Previous / Play / Next / Last, the play speed, where
you are, Quiz me and the exports, and the timeline of every step. All of it shows, and sets, the
session's :class:`cnnapp.state.Stepper`."""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ..state import Stepper, step_kind
from ..widgets.elided_label import ElidedLabel
from ..widgets.font_fit import ems_wide, lines_high
from ..widgets.wrap_row import WrapRow


class StepNav(QtWidgets.QWidget):
    """Binds its buttons, slider, timeline and play timer to ``stepper``; :meth:`show_trace` fills the
    timeline, :meth:`show_step` says where you are."""

    def __init__(self, stepper: Stepper, parent=None):
        super().__init__(parent)
        self.stepper = stepper
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(self._build_nav_row())
        lay.addWidget(self._build_timeline())
        self.play_timer = QtCore.QTimer(self)
        self._bind()

    def _nav_button(self, text, icon, name, tip, key) -> QtWidgets.QToolButton:
        b = QtWidgets.QToolButton()
        b.setText(text)
        b.setIcon(self.style().standardIcon(icon))
        b.setObjectName(name)
        b.setToolTip(f"{tip} ({key})")
        b.setToolButtonStyle(QtCore.Qt.ToolButtonTextBesideIcon)
        ems_wide(b, least=12)
        return b

    def _build_nav_row(self) -> QtWidgets.QHBoxLayout:
        """First, previous, play, next, last; the speed; where you are; quiz and export."""
        SP = QtWidgets.QStyle.StandardPixmap
        self._play_icon = self.style().standardIcon(SP.SP_MediaPlay)
        self._pause_icon = self.style().standardIcon(SP.SP_MediaPause)
        self.first_button = self._nav_button("First", SP.SP_MediaSkipBackward, "backpropFirstButton",
                                             "First step", "Home")
        self.prev_button = self._nav_button("Previous", SP.SP_MediaSeekBackward, "backpropPrevButton",
                                            "Previous step", "Left arrow")
        self.play_button = self._nav_button("Play", SP.SP_MediaPlay, "backpropPlayButton",
                                            "Play the steps one after another", "Space")
        self.next_button = self._nav_button("Next", SP.SP_MediaSeekForward, "backpropNextButton",
                                            "Next step", "Right arrow")
        self.last_button = self._nav_button("Last", SP.SP_MediaSkipForward, "backpropLastButton",
                                            "Last step", "End")
        self.speed = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.speed.setObjectName("backpropSpeed")
        self.speed.setAccessibleName("Play speed")
        self.speed.setRange(int(Stepper.MIN_SPEED * 4), int(Stepper.MAX_SPEED * 4))   # quarter steps per second
        ems_wide(self.speed, least=8, most=20)     # (zoomed, the row squeezed it to a knob)
        self.speed.setToolTip("Play speed in steps per second: 0.25 to 5")
        self.speed_label = QtWidgets.QLabel("")
        self.step_label = ElidedLabel("No trace yet", longest="Step 88 of 88 · backward · layer 8 (maxpool)")
        self.step_label.setObjectName("backpropStepLabel")
        self.step_label.setToolTip("Where you are in the pass")
        f = self.step_label.font()
        f.setBold(True)
        self.step_label.setFont(f)
        self.quiz_button = QtWidgets.QPushButton("Quiz me")
        self.quiz_button.setObjectName("backpropQuizButton")
        self.quiz_button.setToolTip("A concept check about this kind of step, on the Learn tab (Q)")
        self.quiz_button.setShortcut(QtGui.QKeySequence("Q"))
        self.export_png_button = QtWidgets.QPushButton("Export maps…")
        self.export_png_button.setObjectName("backpropExportPngButton")
        self.export_png_button.setToolTip("Save every map of this step as a PNG file, plus the whole view")
        self.export_npz_button = QtWidgets.QPushButton("Export trace…")
        self.export_npz_button.setObjectName("backpropExportTraceButton")
        self.export_npz_button.setToolTip("Save the whole trace as .npz (NumPy arrays, for notebooks)")
        steps, where = QtWidgets.QHBoxLayout(), QtWidgets.QHBoxLayout()
        for w in (self.first_button, self.prev_button, self.play_button, self.next_button, self.last_button,
                  QtWidgets.QLabel("speed"), self.speed, self.speed_label):
            steps.addWidget(w)
        steps.addStretch(1)
        where.addSpacing(12)
        where.addWidget(self.step_label, 1)
        for w in (self.quiz_button, self.export_png_button, self.export_npz_button):
            where.addWidget(w)
        nav = QtWidgets.QHBoxLayout()
        nav.addWidget(WrapRow(steps, where))        # one line, or two on a small screen
        return nav

    def _build_timeline(self) -> QtWidgets.QListWidget:
        """One coloured cell per step of the pass (filled by :meth:`show_trace`)."""
        self.timeline = QtWidgets.QListWidget()
        self.timeline.setObjectName("backpropTimeline")
        self.timeline.setAccessibleName("Steps of the pass")
        self.timeline.setToolTip("Every step of the pass: forward through each layer, the loss, backward "
                                 "through each layer, the updates. Click one to jump there.")
        self.timeline.setFlow(QtWidgets.QListView.LeftToRight)
        self.timeline.setWrapping(False)
        self.timeline.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAsNeeded)
        self.timeline.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        self.timeline.setSpacing(2)
        lines_high(self.timeline, fixed=3.85)          # two lines of a step and room around them
        return self.timeline

    def _bind(self) -> None:
        st = self.stepper
        for button, slot in ((self.first_button, st.first), (self.prev_button, st.prev),
                             (self.play_button, st.toggle_play), (self.next_button, st.next),
                             (self.last_button, st.last)):
            button.clicked.connect(slot)
        self.speed.valueChanged.connect(lambda v: setattr(st, "speed", v / 4.0))
        self.timeline.currentRowChanged.connect(lambda row: row >= 0 and setattr(st, "index", row))
        self.play_timer.timeout.connect(st.next)
        st.playing_changed.connect(self._show_playing)
        st.speed_changed.connect(self._show_speed)
        self._show_speed(st.speed)
        self._show_playing(st.playing)
        self.show_step(None, 0)

    def show_trace(self, trace) -> None:
        """The timeline of ``trace`` (None: empty)."""
        self.timeline.blockSignals(True)
        self.timeline.clear()
        for k, s in enumerate(trace.steps if trace is not None else ()):
            kind = step_kind(s.kind)
            text = f"{k + 1}\n{kind.symbol}" + (f" L{s.layer} {s.layer_type}" if s.layer is not None else "")
            it = QtWidgets.QListWidgetItem(text)
            it.setTextAlignment(QtCore.Qt.AlignCenter)
            it.setBackground(QtGui.QColor(kind.colour))
            it.setToolTip(s.title)
            self.timeline.addItem(it)
        self.timeline.blockSignals(False)

    def show_step(self, step, k: int) -> None:
        """Step ``k`` (None: there is no trace): where you are, the timeline's cell, the buttons."""
        st = self.stepper
        if step is not None:
            self.step_label.setText(f"Step {k + 1} of {st.count} · {step.kind}"
                                    + (f" · layer {step.layer} ({step.layer_type})" if step.layer is not None else ""))
            self.timeline.blockSignals(True)
            self.timeline.setCurrentRow(k)
            self.timeline.blockSignals(False)
            self.timeline.scrollToItem(self.timeline.item(k))
        has = st.count > 0
        back, on = st.can_go_back(), st.can_go_on()
        for button, enabled in ((self.first_button, back), (self.prev_button, back), (self.next_button, on),
                                (self.last_button, on), (self.play_button, has),
                                (self.export_png_button, has), (self.export_npz_button, has)):
            button.setEnabled(enabled)
        if not has:
            self.step_label.setText("No trace yet: press Record trace")

    def _show_playing(self, on: bool) -> None:
        if on:
            self.play_timer.start()
        else:
            self.play_timer.stop()
        self.play_button.setText("Pause" if on else "Play")
        self.play_button.setIcon(self._pause_icon if on else self._play_icon)

    def _show_speed(self, steps_per_s: float) -> None:
        self.speed.blockSignals(True)
        self.speed.setValue(int(round(steps_per_s * 4)))
        self.speed.blockSignals(False)
        self.play_timer.setInterval(self.stepper.interval_ms)
        self.speed_label.setText(f"{steps_per_s:g}/s")
