"""Issue 25 in the window: a teacher records a lesson with the keyboard, students follow it with the
keyboard alone, and the class's answers become one table (pytest-qt, offscreen)."""
from __future__ import annotations

import csv
import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtWidgets  # noqa: E402
from test_gui_app import _no_leaked_windows, _private_dirs, window  # noqa: E402,F401

pytestmark = [pytest.mark.gui,
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]

Qt = QtCore.Qt


def _press(qtbot, window, key, mod=Qt.NoModifier, until=None):
    """One key press where the keyboard is (the widget with the focus, else the window); ``until``:
    what it does, waited for (a shortcut comes through the window system's queue)."""
    qtbot.keyClick(QtWidgets.QApplication.focusWidget() or window, key, mod)
    if until is not None:
        qtbot.waitUntil(until, timeout=5000)


def _lenet(window):
    from cnncore.architecture import preset
    from cnncore.network import Network
    window.session.set_network(Network(preset("lenet"), seed=1), "LeNet for a lesson", trained=False)


def _record(qtbot, window, path):
    """The teacher's key presses: three stops (a note; a predict question on a chosen element; a
    multiple choice on the Build tab), a title, Save."""
    s, bp = window.session, window.backprop
    _press(qtbot, window, Qt.Key_R, Qt.ControlModifier | Qt.ShiftModifier,            # Record a lesson
           until=lambda: window.lessons.recorder is not None)
    panel, rec = window.lessons.panel, window.lessons.recorder
    assert panel.isVisible()
    _press(qtbot, window, Qt.Key_4, Qt.ControlModifier, until=lambda: window.tabs.currentWidget() is bp)
    qtbot.waitUntil(lambda: s.trace is not None, timeout=10000)
    _press(qtbot, window, Qt.Key_F9, until=lambda: len(rec.stops) == 1)                # stop 1: step 1
    panel.note.setFocus()
    qtbot.keyClicks(panel.note, "# Forward")
    qtbot.keyClick(panel.note, Qt.Key_Return)
    qtbot.keyClicks(panel.note, "Each map is one **filter's** answer.")
    loss = next(k for k, st in enumerate(s.trace.steps) if st.kind == "loss")
    grid = bp.maps.grid
    grid.setFocus()                                                                    # (Tab to the maps)
    for k in range(loss):                                                              # on to the loss step
        _press(qtbot, window, Qt.Key_PageDown, until=lambda k=k: s.stepper.index == k + 1)
    assert s.stepper.index == loss
    want = ("probs", (0, int(s.trace.label)))
    for _ in range(200):                                    # the arrows walk the maps to p(true class)
        _press(qtbot, window, Qt.Key_Right)
        tile, r, c = grid._cursor_tile()
        if (tile.key, tile.index_at(r, c)) == want:
            break
    _press(qtbot, window, Qt.Key_Return)                                               # select it
    assert s.element == want
    _press(qtbot, window, Qt.Key_F9, until=lambda: len(rec.stops) == 2)                # stop 2
    panel.kind.setFocus()
    _press(qtbot, window, Qt.Key_Down)                                                 # Predict: a softmax output
    _press(qtbot, window, Qt.Key_2, Qt.ControlModifier, until=lambda: window.tabs.currentWidget() is window.build)
    _press(qtbot, window, Qt.Key_F9, until=lambda: len(rec.stops) == 3)                # stop 3
    panel.kind.setFocus()
    _press(qtbot, window, Qt.Key_End)                                                  # your own multiple choice
    qtbot.keyClicks(panel.choice_text, "Which layers have weights?")
    for line in ("* conv", "maxpool", "* dense"):
        qtbot.keyClicks(panel.choice_lines, line)
        qtbot.keyClick(panel.choice_lines, Qt.Key_Return)
    panel.use_choice.setFocus()
    _press(qtbot, window, Qt.Key_Space)                                                # Use this question
    qtbot.keyClicks(panel.title_edit, "Backprop in three stops")
    window.lessons.ask_save_path = lambda default: str(path)
    _press(qtbot, window, Qt.Key_S, Qt.ControlModifier | Qt.ShiftModifier, until=path.exists)   # Save lesson
    return loss


def _follow(qtbot, window, path, student, right: bool):
    """A student opens the lesson and answers with the keyboard only (``right``: the right answers,
    else wrong ones); returns the results file."""
    lessons = window.lessons
    lessons.ask_open_path = lambda title: str(path)
    lessons.ask_student = lambda: student
    _press(qtbot, window, Qt.Key_O, Qt.ControlModifier | Qt.ShiftModifier,             # Open a lesson…
           until=lambda: window.session.lesson is not None)
    player, panel = window.session.lesson, lessons.panel
    assert player is not None and player.position == 0 and not player.must_answer
    assert panel.note.toPlainText().startswith("Forward") and window.tabs.currentWidget() is window.backprop
    _press(qtbot, window, Qt.Key_Right, Qt.AltModifier, until=lambda: player.position == 1)   # stop 2: a question
    assert player.position == 1 and player.must_answer
    assert window.backprop.held_label.isVisibleTo(window) and not window.backprop.splitter.isVisibleTo(window)
    assert QtWidgets.QApplication.focusWidget() is panel.answer_edit
    qtbot.wait(20)
    seen = panel.answer_edit.visibleRegion().boundingRect()
    assert seen.height() == panel.answer_edit.height(), (seen, window.size())   # in view, not below the fold
    assert not panel.next_button.isEnabled() and not player.next() and player.position == 1   # answer first
    with pytest.raises(ValueError, match="Answer the lesson's question first"):        # no new trace that tells
        window.session.set_label((window.session.picture.label + 1) % 10)
    with pytest.raises(ValueError, match="Answer the lesson's question first"):        # nor another picture's
        window.session.take_sample(2)
    assert not window.backprop.input_row.isEnabled()
    look = window.look.ensure()                        # nor does the Look tab say what the network answers
    assert not look.inner.isVisibleTo(look) and "shown after your answer" in look.answer.text()
    assert not look.input_pages.isEnabled() and not look.sample_button.isEnabled()    # nor take another picture
    look._take_sketch()                                # (its empty sheet: refused in words, nothing raised)
    assert window.session.answer_held
    q = player.question
    qtbot.keyClicks(panel.answer_edit, f"{q.answer:.6g}" if right else "0.9")
    _press(qtbot, window, Qt.Key_Return)
    assert not player.must_answer and player.answered().right == right
    assert window.backprop.splitter.isVisibleTo(window) and window.session.element == ("probs", q.index)
    assert look.inner.isVisibleTo(look) and "shown after your answer" not in look.answer.text()
    _press(qtbot, window, Qt.Key_Right, Qt.AltModifier, until=lambda: player.position == 2)   # stop 3, Build tab
    assert player.position == 2 and window.tabs.currentWidget() is window.build
    first = panel.choices[0]
    assert QtWidgets.QApplication.focusWidget() is first
    _press(qtbot, window, Qt.Key_Space)                                                # tick "conv"
    if right:
        _press(qtbot, window, Qt.Key_Tab)
        _press(qtbot, window, Qt.Key_Tab)
        assert QtWidgets.QApplication.focusWidget() is panel.choices[2]
        _press(qtbot, window, Qt.Key_Space)                                            # and "dense"
    _press(qtbot, window, Qt.Key_Return)
    assert player.answered() is not None and player.answered().right == right
    out = player.results_path
    assert json.loads(out.read_text())["student"] == student
    _press(qtbot, window, Qt.Key_Left, Qt.AltModifier, until=lambda: player.position == 1)    # back: always
    assert player.position == 1 and not player.must_answer
    panel.close_button.click()
    assert window.session.lesson is None and not lessons.dock.isVisible()
    return out, q


def test_a_lesson_recorded_by_key_presses_is_followed_by_keyboard_and_reported(window, qtbot, tmp_path):
    from cnncore.lesson import PredictQuestion, load_lesson

    from cnnapp.cli import main
    _lenet(window)
    path = tmp_path / "backprop.cnnlesson"
    loss = _record(qtbot, window, path)
    lesson = load_lesson(path)
    assert lesson.title == "Backprop in three stops"
    assert [(st.tab, st.step) for st in lesson.stops] == [("backprop", 0), ("backprop", loss), ("build", loss)]
    assert lesson.stops[0].note == "# Forward\nEach map is one **filter's** answer."
    assert lesson.stops[1].question == PredictQuestion("softmax") and lesson.stops[1].element.key == "probs"
    assert lesson.stops[2].question.right == (0, 2)
    window.lessons.stop_recording()
    window.confirm = lambda text: True
    window.resize(1024, 640)                          # a student's small screen
    ada, q = _follow(qtbot, window, path, "Ada", right=True)
    bob, _ = _follow(qtbot, window, path, "Bob", right=False)
    assert ada.name == "backprop - Ada.results.json" and ada.parent == tmp_path
    table = tmp_path / "class.csv"
    assert main(["lesson", "report", str(ada), str(bob), "--out", str(table)]) == 0
    assert _rows(table) == [["student", "stop 2", "stop 3", "right (of 2)"],
                            ["Ada", f"right: {q.answer:.6g}", "right: choices 1, 3", "2"],
                            ["Bob", "wrong: 0.9", "wrong: choice 1", "0"]]
    assert main(["lesson", "report", str(ada), str(bob), "--lesson", str(path), "--out", str(table)]) == 0
    assert _rows(table) == [["student", "stop 2: a softmax output", "stop 3: Which layers have weights?",
                             "right (of 2)"],
                            ["Ada", f"right: {q.answer:.6g}", "right: conv + dense", "2"],
                            ["Bob", "wrong: 0.9", "wrong: conv", "0"]]
    # the teacher opens it to edit: the status line says so (it still said "Following … as Bob")
    assert window.lessons.edit_lesson(path)
    assert window.statusBar().currentMessage().startswith("Editing backprop.cnnlesson: its 3 stops")
    # saved over with a change, the version the class answered was gone without a word (Ada's and Bob's
    # answers could no longer be reported with it): the teacher is asked, and may keep both
    lessons, asked = window.lessons, []
    lessons.ask_save_path = lambda default: str(tmp_path / "backprop 2.cnnlesson")
    lessons.confirm_over = lambda text: asked.append(text) or False
    handed_out = path.read_bytes()
    assert lessons.save_dialog() and asked == []                      # unchanged: the same lesson, not asked
    assert path.read_bytes() == handed_out
    lessons.panel.note.setPlainText("A new note.")
    lessons.recorder.set_note(0, "A new note.")
    assert lessons.save_dialog() and len(asked) == 1 and "students' answers" in asked[0].lower()
    assert path.read_bytes() == handed_out and (tmp_path / "backprop 2.cnnlesson").exists()
    assert main(["lesson", "report", str(ada), str(bob), "--lesson", str(path), "--out", str(table)]) == 0
    assert lessons.edit_lesson(path)                              # every stop removed: refused in words
    while lessons.recorder.stops:
        lessons.recorder.remove(0)
    assert not lessons.save_dialog() and "Not saved" in lessons.panel.status.text()
    assert path.read_bytes() == handed_out


def _rows(table):
    return list(csv.reader(table.read_text(encoding="utf-8-sig").splitlines()))


def test_a_bad_lesson_file_is_refused_in_one_line_and_the_session_stays(window, qtbot, tmp_path):
    import pickle
    import zipfile
    s = window.session
    before, net = s.model_id, s.network
    from cnncore.lesson import new_lesson, save_lesson
    from cnncore.modelio import save_model
    save_model(tmp_path / "m.npz", net)
    save_lesson(tmp_path / "good.cnnlesson", new_lesson(tmp_path / "m.npz", "generated", 1, count=5))
    whole = (tmp_path / "good.cnnlesson").read_bytes()
    bad = {"empty.cnnlesson": b"", "text.cnnlesson": b"not a lesson\n", "model.cnnlesson": None,
           "pickle.cnnlesson": None, "truncated.cnnlesson": whole[: len(whole) // 2]}
    for name, data in bad.items():
        p = tmp_path / name
        if name == "model.cnnlesson":
            p.write_bytes((tmp_path / "m.npz").read_bytes())            # a model file, not a lesson
        elif name == "pickle.cnnlesson":
            with zipfile.ZipFile(p, "w") as z:
                z.writestr("lesson.json", "{}")
                z.writestr("pictures.npy", pickle.dumps(np.zeros(3)))
        else:
            p.write_bytes(data)
        assert not window.lessons.open_lesson(p, "Ada")
        said = window.statusBar().currentMessage()
        assert said.startswith("Could not open the lesson: ") and "\n" not in said and name in said
        assert s.model_id == before and s.network is net and s.lesson is None
        assert not window.lessons.dock.isVisible() and not list(tmp_path.glob("*.results.json"))
        assert not window.lessons.edit_lesson(p) and s.model_id == before and window.lessons.recorder is None


def test_a_lesson_whose_weights_overflow_is_refused_naming_its_file_and_what_to_do(window, qtbot, tmp_path):
    """A tour: a lesson whose weights overflow said "retrain it or open another model" (a student cannot)
    and not which file; with no question it raised out of Open a lesson. One line names the file and
    says to ask the teacher for a new copy; the session stays."""
    from cnncore.lesson import Stop, new_lesson, save_lesson
    from cnncore.modelio import save_model
    s = window.session
    before = s.model_id
    save_model(tmp_path / "m.npz", s.network)
    base = new_lesson(tmp_path / "m.npz", "generated", 1, count=5)
    huge = base.model.copy()
    huge.layers[0].W[...] = 3e38
    save_lesson(tmp_path / "huge.cnnlesson", base.replace(model=huge, stops=[Stop("backprop", 0, 0, "Look")]))
    assert not window.lessons.open_lesson(tmp_path / "huge.cnnlesson", "Ada")
    said = window.statusBar().currentMessage()
    assert said.startswith("Could not open the lesson: huge.cnnlesson cannot be followed (ask your teacher for a "
                           "new copy of the lesson)") and "retrain" not in said and "\n" not in said
    assert s.model_id == before and s.lesson is None and not window.lessons.dock.isVisible()


def test_a_lesson_brings_its_own_network_and_a_question_hides_what_would_answer_it(window, qtbot, tmp_path):
    """Opening a lesson is a new session (its network, its picture); while a question waits the
    Backprop tab shows neither the maps nor the loss and answer above them."""
    from cnncore.architecture import preset
    from cnncore.lesson import Element, PredictQuestion, Stop, new_lesson, save_lesson
    from cnncore.modelio import save_model
    from cnncore.network import Network
    from cnncore.trace import trace
    save_model(tmp_path / "m.npz", Network(preset("lenet"), seed=4))
    base = new_lesson(tmp_path / "m.npz", "generated", 5, count=10)
    t = trace(base.model, base.pictures[0], int(base.labels[0]))
    loss = next(k for k, st in enumerate(t.steps) if st.kind == "loss")
    lesson = base.replace(stops=[Stop("backprop", 0, loss, "Predict!", Element("probs", (0, int(base.labels[0]))),
                                      PredictQuestion("softmax"))])
    save_lesson(tmp_path / "l.cnnlesson", lesson)
    window.confirm = lambda text: True
    window.tabs.setCurrentWidget(window.draw)
    assert window.lessons.open_lesson(tmp_path / "l.cnnlesson", "Ada")
    s, bp = window.session, window.backprop
    assert np.array_equal(s.network.flat_params, lesson.model.flat_params) and "lesson" in s.source
    assert s.picture.origin == "lesson" and s.trace.loss == pytest.approx(t.loss) and s.stepper.index == loss
    assert window.tabs.currentWidget() is bp and bp.held_label.isVisible()
    assert not bp.splitter.isVisible() and "loss" not in bp.input_row.info.text()    # "loss 2.3" would tell
    assert "shown after your answer" in bp.input_row.info.text()
    assert bp.input_row.source.currentText() == "A picture from a lesson"
    s.stepper.index = 0                                          # stepping elsewhere shows nothing either
    assert bp.held_label.isVisible()
    asked = []
    window.confirm = lambda text: asked.append(text) and False
    assert not window.open_model(tmp_path / "m.npz") and s.lesson is not None         # asked first: stays
    assert "ends the lesson" in asked[0] and str(s.lesson.results_path) in asked[0]
    window.confirm = lambda text: True
    assert window.open_model(tmp_path / "m.npz")                 # another network ends the lesson
    assert s.lesson is None and not window.lessons.dock.isVisible() and not bp.held_label.isVisible()
    assert "after your answer" not in bp.input_row.info.text()


def test_the_recording_panel_fits_its_dock_on_a_small_screen(window, qtbot):
    """At 1024×640 the recording panel was wider than its dock: its title field, its Down button and its
    question box were cut at the right, with a scrollbar under them."""
    window.resize(1024, 640)
    _lenet(window)
    _press(qtbot, window, Qt.Key_R, Qt.ControlModifier | Qt.ShiftModifier,
           until=lambda: window.lessons.recorder is not None)
    qtbot.wait(50)
    panel, area = window.lessons.panel, window.lessons.dock.widget()
    assert panel.width() <= area.viewport().width(), (panel.width(), area.viewport().width())
    for w in panel.findChildren(QtWidgets.QWidget):
        if w.isVisibleTo(panel) and w.width() > 0:
            right = w.mapTo(panel, w.rect().topRight()).x()
            assert right <= area.viewport().width(), (w.objectName() or type(w).__name__, right)
    window.lessons.stop_recording()


def test_a_lesson_edited_on_a_small_screen_fits_its_dock_at_a_predict_question(window, qtbot, tmp_path):
    """Editing a lesson whose stop asks a predict question: the question box (269 px for its longest
    kind) made the panel 365 px in a 258 px dock, its Down button off the screen."""
    _lenet(window)
    path = tmp_path / "backprop.cnnlesson"
    _record(qtbot, window, path)
    window.lessons.stop_recording()
    window.resize(1024, 640)
    window.confirm = lambda text: True
    assert window.lessons.edit_lesson(path)
    panel, area = window.lessons.panel, window.lessons.dock.widget()
    panel.stops.setCurrentRow(1)                       # the softmax question
    qtbot.wait(50)
    assert panel.kind.isVisibleTo(panel) and panel.kind.count() > 2
    for w in panel.findChildren(QtWidgets.QWidget):
        if w.isVisibleTo(panel) and w.width() > 0:
            right = w.mapTo(panel, w.rect().topRight()).x()
            assert right <= area.viewport().width(), (w.objectName() or type(w).__name__, right)


def test_a_recording_with_changes_is_never_dropped_without_asking(window, qtbot, tmp_path):
    """Stop recording, Record again, Open a lesson and quitting threw a recording's stops away
    without a word."""
    _lenet(window)
    lessons, asked = window.lessons, []
    lessons.confirm = lambda text: asked.append(text) or False          # "keep my stops"
    rec = lessons.record()
    window.tabs.setCurrentWidget(window.backprop)
    qtbot.waitUntil(lambda: window.session.trace is not None, timeout=10000)
    assert lessons.capture() == 0 and rec.unsaved
    lessons.panel.closeRequested.emit()                                  # Stop recording
    assert lessons.recorder is rec and "(1 stop) has changes that are not saved. Stop recording" in asked[-1]
    assert lessons.record() is None and lessons.recorder is rec and "Start another" in asked[-1]
    window.close()                                                       # quitting: the window stays
    assert "Quit and discard them?" in asked[-1] and window.isVisible()
    assert lessons.save_recording(tmp_path / "l.cnnlesson") and not rec.unsaved
    n = len(asked)
    assert lessons.capture() == 1 and rec.unsaved                        # another change after the save
    assert not lessons.open_lesson(tmp_path / "l.cnnlesson", "Ada") and lessons.recorder is rec
    assert "Open the lesson and discard them?" in asked[-1] and window.session.lesson is None
    assert not lessons.edit_lesson(tmp_path / "l.cnnlesson") and "Edit the lesson and discard" in asked[-1]
    assert lessons.save_recording(tmp_path / "l.cnnlesson")
    n = len(asked)
    lessons.panel.closeRequested.emit()                                  # saved: nothing to ask
    assert lessons.recorder is None and len(asked) == n


def test_save_lesson_writes_to_its_file_and_save_lesson_as_to_another(window, qtbot, tmp_path):
    """A tour: once saved, "Save lesson…" wrote to the same file without asking and nothing chose another.
    Save lesson writes to the lesson's file (the first time it asks where, as Save does); Save lesson as…
    asks (starting at that file) and Save writes there from then on; both are in the File menu too, only
    while a lesson is recorded, Save with Ctrl+Shift+S (Ctrl+S saves the model)."""
    from cnncore.lesson import load_lesson
    _lenet(window)
    lessons, asked = window.lessons, []
    save, save_as = lessons.save_actions
    assert not save.isEnabled() and not save_as.isEnabled()              # nothing recorded: nothing to save
    assert save.text().replace("&", "") == "Save lesson" and save_as.text().replace("&", "") == "Save lesson as…"
    assert save.shortcut().toString() == "Ctrl+Shift+S" and window.save_action.shortcut().toString() == "Ctrl+S"
    first, second = tmp_path / "first.cnnlesson", tmp_path / "second.cnnlesson"
    lessons.ask_save_path = lambda default: asked.append(default) or str(first)
    lessons.record()
    assert save.isEnabled() and save_as.isEnabled()
    window.tabs.setCurrentWidget(window.backprop)
    qtbot.waitUntil(lambda: window.session.trace is not None, timeout=10000)
    assert lessons.capture() == 0
    panel = lessons.panel
    assert panel.save_button.text().replace("&", "") == "Save lesson"
    assert panel.save_as_button.text().replace("&", "") == "Save lesson as…"
    # the panel's buttons say what the menu's commands say ("to hand out to its file" was no sentence)
    assert panel.save_button.toolTip() == f"{save.toolTip()} (Ctrl+Shift+S)" and "to hand out to" not in save.toolTip()
    assert panel.save_as_button.toolTip() == save_as.toolTip()
    _press(qtbot, window, Qt.Key_S, Qt.ControlModifier | Qt.ShiftModifier, until=first.exists)   # Save lesson
    assert len(asked) == 1 and lessons.recorder.file == first             # the first time: asked where
    lessons.recorder.set_title("One")
    panel.save_button.click()                                             # again: to its file, not asked
    assert len(asked) == 1 and load_lesson(first).title == "One"
    lessons.ask_save_path = lambda default: asked.append(default) or str(tmp_path / "second")
    lessons.recorder.set_title("Two")
    panel.save_as_button.click()                                          # Save lesson as…: asked, at its file
    assert len(asked) == 2 and asked[-1] == first and lessons.recorder.file == second
    assert load_lesson(second).title == "Two" and load_lesson(first).title == "One"
    lessons.recorder.set_title("Three")
    save.trigger()                                                        # Save: where it was saved as
    assert len(asked) == 2 and load_lesson(second).title == "Three" and load_lesson(first).title == "One"
    lessons.ask_save_path = lambda default: ""                            # Save as… cancelled: nothing written
    lessons.recorder.set_title("Four")
    assert not lessons.save_as_dialog() and lessons.recorder.file == second and lessons.recorder.unsaved
    lessons.stop_recording()
    assert lessons.recorder is None and not save.isEnabled() and not save_as.isEnabled()


def test_each_stop_of_a_lesson_is_shown_from_its_title(window, qtbot, tmp_path):
    """At 1024×640 the Lesson panel kept the scroll of the stop before (scrolled down to its answer):
    the next stop's title and note were out of view, a one-line note entirely."""
    _lenet(window)
    path = tmp_path / "backprop.cnnlesson"
    _record(qtbot, window, path)
    window.lessons.stop_recording()
    window.confirm = lambda text: True
    window.resize(1024, 640)
    lessons = window.lessons
    lessons.ask_open_path, lessons.ask_student = (lambda title: str(path)), (lambda: "Cy")
    assert lessons.open_lesson(path, "Cy")
    player, bar = window.session.lesson, lessons.dock.widget().verticalScrollBar()
    lessons.panel.setMinimumHeight(1200)          # a long note and question: the panel scrolls
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=2000)
    bar.setValue(bar.maximum())
    assert player.next() and player.position == 1
    qtbot.wait(20)
    assert bar.value() == 0


def _following(qtbot, window, tmp_path, student: str):
    """The lenet lesson of :func:`_record`, followed by ``student``; its path."""
    _lenet(window)
    path = tmp_path / "backprop.cnnlesson"
    _record(qtbot, window, path)
    window.lessons.stop_recording()
    window.confirm = lambda text: True
    assert window.lessons.open_lesson(path, student)
    return path


def test_no_run_starts_while_a_lesson_is_followed(window, qtbot, tmp_path):
    """Training during a lesson made the Backprop tab (the lesson's network) and the Look tab (the
    run's weights) say two things of one picture."""
    _following(qtbot, window, tmp_path, "Dee")
    before = window.session.network.flat_params.copy()
    assert not window.train.start_button.isEnabled() and "lesson" in window.train.start_button.toolTip()
    assert "Train tab" not in window.draw.model_label.text()          # (it said "train it on the Train tab")
    assert not window.train.start() and not window.session.training
    assert "close the lesson first" in window.train.eta.text()
    assert np.array_equal(window.session.network.flat_params, before)
    window.session.follow_lesson(None)
    assert window.train.start_button.isEnabled() and "Train tab" in window.draw.model_label.text()
    assert window.train.start()
    window.train.stop()
    qtbot.waitUntil(lambda: not window.session.training, timeout=30000)


def test_a_stop_keeps_the_page_of_the_look_and_learn_tabs(window, qtbot, tmp_path):
    """A stop kept only its tab: the teacher's note on "Fooling it" sat beside the student's "Where it
    looks", and a Learn stop could not point at the identities."""
    from cnncore.lesson import PAGES, load_lesson
    _lenet(window)
    lessons = window.lessons
    look, learn = window.look.ensure(), window.learn.ensure()
    assert look.inner.count() == len(PAGES["look"]) and learn.tabs.count() == len(PAGES["learn"])
    lessons.record()
    window.tabs.setCurrentWidget(window.backprop)
    qtbot.waitUntil(lambda: window.session.trace is not None, timeout=10000)
    assert lessons.capture() == 0
    window.tabs.setCurrentWidget(window.look)
    look.inner.setCurrentIndex(PAGES["look"].index("fool"))
    assert lessons.capture() == 1
    window.tabs.setCurrentWidget(window.learn)
    learn.tabs.setCurrentIndex(PAGES["learn"].index("identities"))
    assert lessons.capture() == 2
    path = tmp_path / "pages.cnnlesson"
    assert lessons.save_recording(path)
    lesson = load_lesson(path)
    assert [(st.tab, st.page) for st in lesson.stops] == [("backprop", ""), ("look", "fool"), ("learn", "identities")]
    from cnncore.lesson.content import lesson_json
    assert lesson_json(lesson)["format"] == "cnnlab-lesson-2"        # (an earlier version says it cannot read it)
    assert lesson_json(lesson.replace(stops=lesson.stops[:1]))["format"] == "cnnlab-lesson-1"
    lessons.stop_recording()
    look.inner.setCurrentIndex(0)
    learn.tabs.setCurrentIndex(0)
    window.confirm = lambda text: True
    assert lessons.open_lesson(path, "Eve")
    player = window.session.lesson
    player.next()
    assert window.tabs.currentWidget() is window.look and look.inner.currentIndex() == 1
    player.next()
    assert window.tabs.currentWidget() is window.learn and learn.tabs.currentIndex() == 3


def test_no_stop_is_added_while_a_run_moves_the_weights(window, qtbot):
    """F9 during a run stored the run's latest weights as the lesson's model, not those of the trace
    on screen (the teacher saw dz = 0.0440, the students got 0.00016), and refused only stop 2."""
    _lenet(window)
    s = window.session
    window.tabs.setCurrentWidget(window.backprop)
    qtbot.waitUntil(lambda: s.trace is not None, timeout=10000)
    window.lessons.record()
    s.run.start()
    try:
        assert window.lessons.capture() is None and window.lessons.recorder.stops == []
        assert "a run is going on" in window.lessons.panel.status.text()
    finally:
        s.run.finish(done=False)
    assert window.lessons.capture() == 0


def test_every_way_out_of_a_lesson_asks_first_and_says_where_the_answers_are(window, qtbot, tmp_path):
    """Building a network, the Train tab's preset, recording a lesson and opening another lesson each
    ended the lesson followed without a word about it (only Open model asked)."""
    from cnncore.architecture import preset
    from cnncore.lesson import Stop, new_lesson, save_lesson
    from cnncore.modelio import save_model
    from cnncore.network import Network
    save_model(tmp_path / "m.npz", Network(preset("lenet"), seed=4))
    lesson = new_lesson(tmp_path / "m.npz", "generated", 5, count=10)
    save_lesson(tmp_path / "l.cnnlesson", lesson.replace(stops=[Stop("draw", 0, 0, "Look")]))
    window.confirm = lambda text: True
    assert window.lessons.open_lesson(tmp_path / "l.cnnlesson", "Ada")
    s, asked = window.session, []
    no = lambda text: asked.append(text) and False       # noqa: E731
    window.confirm = window.build.confirm = no
    ways = {"Building a new network": window.build.apply, "Recording a lesson": window.lessons.record,
            "Opening another lesson": lambda: window.lessons.open_lesson(tmp_path / "l.cnnlesson", "Bob")}
    for what, way in ways.items():
        assert not way() and s.lesson is not None, what
        assert asked[-1].startswith(f"{what} ends the lesson") and str(s.lesson.results_path) in asked[-1]
    assert not window.build.use_preset("cifar") and s.lesson is not None
    assert asked[-1].startswith("Building a new network ends the lesson")
    window.build.confirm = lambda text: True
    assert window.build.apply() and s.lesson is None



@pytest.mark.parametrize("shrinks", [True, False])
def test_a_panel_that_scrolls_its_own_parts_takes_the_height_of_its_dock(qtbot, shrinks):
    """The lesson panels in their dock's scroll area asked for every wrapped line at full size (699 px in
    a 583 px dock at 1024×640), their Next and Close buttons below the fold: a panel whose note and
    question scroll of themselves takes the dock's height and keeps its buttons in view."""
    from cnnapp.widgets.scroll_area import ShrinksToItsScroll

    class Panel(ShrinksToItsScroll, QtWidgets.QWidget):
        pass

    panel = (Panel if shrinks else QtWidgets.QWidget)()
    lay = QtWidgets.QVBoxLayout(panel)
    where = QtWidgets.QLabel("Stop 1 of 3 · a student · answers saved to a folder with a long name " * 3)
    where.setWordWrap(True)
    note = QtWidgets.QTextBrowser()
    question = QtWidgets.QLabel("A long question. " * 200)
    question.setWordWrap(True)
    inner = QtWidgets.QScrollArea()
    inner.setWidgetResizable(True)
    inner.setWidget(question)
    button = QtWidgets.QPushButton("Next stop →")
    for w in (where, note, inner, button):
        lay.addWidget(w)
    area = QtWidgets.QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(panel)
    qtbot.addWidget(area)
    area.resize(270, 420)
    area.show()
    qtbot.waitExposed(area)
    qtbot.wait(50)
    bottom = button.mapTo(area.viewport(), button.rect().bottomLeft()).y()
    assert (bottom <= area.viewport().height()) == shrinks, (bottom, panel.height())

def test_a_followed_lesson_keeps_its_buttons_in_view_on_a_small_screen(window, qtbot, tmp_path):
    """At 1024×640 the panel of a followed lesson asked for every wrapped line of its question at full
    height (699 px in a 583 px dock): Answer, Back, Next and Close were below the fold, and answering
    scrolled the title and the note away. The note and the question scroll inside the panel instead."""
    _lenet(window)
    path = tmp_path / "backprop.cnnlesson"
    _record(qtbot, window, path)
    window.lessons.stop_recording()
    window.resize(1024, 640)
    lessons = window.lessons
    lessons.ask_open_path = lambda title: str(path)
    lessons.ask_student = lambda: "Ada"
    assert lessons.open_dialog()
    player, panel, area = window.session.lesson, lessons.panel, lessons.dock.widget()
    for stop in range(2):
        qtbot.waitUntil(lambda: player.position == stop)
        panel.prompt.setText("A long question. " * 80)      # (a written-out sum of 75 terms is as long)
        window.resize(1024, 640 + stop + 1)                  # (laid out again, as a new stop's words are)
        qtbot.wait(50)
        assert panel.height() <= area.viewport().height() and area.verticalScrollBar().maximum() == 0
        for button in (panel.next_button, panel.back_button, panel.close_button):
            bottom = button.mapTo(area.viewport(), button.rect().bottomLeft()).y()
            assert 0 <= bottom <= area.viewport().height(), (button.objectName(), bottom)
        if player.must_answer:
            panel.answer_edit.setText("0.5")
            panel.submit()
        assert player.next()
    panel.close_button.click()


def test_the_score_counts_the_questions_answered_and_says_when_the_lesson_ends():
    """After the first of two questions the panel read "0 of 2 questions right so far" (the 2 was every
    question), and the last stop only greyed Next."""
    from cnnapp.views.lesson_play import score_words
    assert score_words(0, 2, 1, False) == "0 of 1 answered right so far (2 questions in all)."
    assert score_words(1, 2, 2, True) == "The end of the lesson. 1 of the 2 questions right."
    assert score_words(0, 2, 0, False) == "2 questions in this lesson; none answered yet."
    assert score_words(1, 1, 1, False) == "One question: answered right."
    assert score_words(0, 0, 0, True) == "The end of the lesson. This lesson asks no questions."


def test_a_restart_goes_back_into_the_lesson_being_followed(window, qtbot, tmp_path):
    """Closed mid-lesson, the app came back with neither the lesson nor a word of it (opening it again did
    resume at the right stop): it follows it again at the student's stop and says so."""
    from cnnapp.main_window import MainWindow
    _following(qtbot, window, tmp_path, "Ada")
    assert window.session.lesson.next()
    window.save_session()
    assert window.save_settings()
    again = MainWindow(load_settings=True)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.session.lesson is not None, timeout=5000)
    player = again.session.lesson
    assert (player.student, player.position) == ("Ada", 1) and again.lessons.dock.isVisibleTo(again)
    assert again.statusBar().currentMessage().startswith("Back in backprop.cnnlesson as Ada, at stop 2 of 3")
    again.session.follow_lesson(None)
    again.save_settings()
    again.train.shutdown()
    third = MainWindow(load_settings=True)                   # closed the lesson: not reopened
    qtbot.addWidget(third)
    qtbot.wait(50)
    assert third.session.lesson is None
    third.train.shutdown()


def test_a_note_shows_no_file_of_the_students_computer(qtbot, tmp_path):
    """A note's Markdown picture ``![](file:///…/a.png)`` was read from the student's disk and shown
    (the view's loader said "not found", and the document then read the file itself): a lesson file
    could show any picture, or read any file, of the computer it is opened on."""
    from PySide6 import QtGui
    from cnnapp.views.lesson_play import NoteView
    picture = tmp_path / "private.png"
    image = QtGui.QImage(40, 40, QtGui.QImage.Format_RGB32)
    image.fill(QtGui.QColor("red"))
    assert image.save(str(picture))
    url = QtCore.QUrl.fromLocalFile(str(picture))
    view = NoteView("note")
    qtbot.addWidget(view)
    view.setMarkdown(f"Look: ![a picture]({url.toString()}) and ![another]({picture})")
    view.resize(300, 200)
    view.show()
    qtbot.wait(20)
    for name in (url, QtCore.QUrl(str(picture))):
        shown = view.document().resource(QtGui.QTextDocument.ImageResource, name)
        assert shown is None or shown.isNull(), name
    assert "Look:" in view.toPlainText()


def _inside_the_dock(window) -> list:
    """The panel's visible parts that reach past the right edge of the dock's viewport."""
    panel, area = window.lessons.panel, window.lessons.dock.widget()
    out = []
    for w in panel.findChildren(QtWidgets.QWidget):
        if w.isVisibleTo(panel) and w.width() > 0:
            right = w.mapTo(area.viewport(), w.rect().topRight()).x()
            if right > area.viewport().width():
                out.append((w.objectName() or type(w).__name__, right, area.viewport().width()))
    return out


def test_a_followed_lesson_fits_its_dock_on_a_small_screen_whatever_its_words(window, qtbot, tmp_path):
    """At 1024×640 the student's panel was 297 px in a 272 px dock (the score's line did not wrap): the
    note, the path of the answers, Next and Close were cut at the right; a choice of a sentence, a
    button's text that never wraps, ran far out of it, and so did a title of one long word."""
    from cnncore.architecture import preset
    from cnncore.lesson import ChoiceQuestion, PredictQuestion, Stop, new_lesson, save_lesson
    from cnncore.modelio import save_model
    from cnncore.network import Network
    save_model(tmp_path / "m.npz", Network(preset("lenet"), seed=4))
    base = new_lesson(tmp_path / "m.npz", "generated", 5, count=10)
    sentences = ("The gradient flows only to the largest input of each pooling window",
                 "Every input of the window gets a quarter of the gradient",
                 "No input of the window gets any gradient at all, since pooling has no weights")
    choice = ChoiceQuestion("Where does the gradient of a max-pool layer go?", sentences, (0,))
    sign = next(k for k, st in enumerate(base.steps) if st.kind == "backward" and st.layer == 2)
    lesson = base.replace(title="Backpropagation_through_max_pooling_layers_and_convolutions", stops=[
        Stop("build", 0, 0, "Read the question.", None, choice),
        Stop("backprop", 0, sign, "", _element_for_sign(base, sign), PredictQuestion("sign"))])
    save_lesson(tmp_path / "l.cnnlesson", lesson)
    window.resize(1024, 640)
    window.confirm = lambda text: True
    assert window.lessons.open_lesson(tmp_path / "l.cnnlesson", "Ada")
    panel, player = window.lessons.panel, window.session.lesson
    qtbot.wait(50)
    assert _inside_the_dock(window) == []
    texts = [b.parentWidget().findChild(QtWidgets.QLabel) for b in panel.choices]
    assert [t.text() for t in texts] == [f"{k + 1}. {s}" for k, s in enumerate(sentences)]
    line = texts[0].fontMetrics().lineSpacing()
    assert texts[0].height() >= 2 * line            # wrapped, all of it shown
    qtbot.mouseClick(texts[1], Qt.LeftButton)        # a click on the words ticks the box
    assert panel.choices[1].isChecked() and panel.given() == [1]
    qtbot.mouseClick(texts[1], Qt.LeftButton)
    qtbot.mouseClick(texts[0], Qt.LeftButton)
    assert panel.given() == [0]
    panel.submit()
    assert player.answered().right and player.next()
    qtbot.wait(50)
    assert len(panel.choices) == 3 and _inside_the_dock(window) == []
    panel.choices[0].setChecked(True)                # a predict choice: one of them only
    panel.choices[2].setChecked(True)
    assert [b.isChecked() for b in panel.choices] == [False, False, True]
    panel.close_button.click()


def _element_for_sign(lesson, step):
    """An element of ``step``'s dz that makes a fair sign question on the lesson's picture."""
    from cnncore.lesson import Element
    from cnncore.predict import question_at
    from cnncore.trace import trace
    t = trace(lesson.model, lesson.pictures[0], int(lesson.labels[0]))
    key = f"L{t.steps[step].layer}.dz"
    for index in np.ndindex(*t.arrays[key].shape):
        if question_at(t, step, "sign", index) is not None:
            return Element(key, tuple(int(i) for i in index))
    raise AssertionError("no element asks a sign question")


def test_no_tab_says_what_the_network_answers_while_a_question_waits(window, qtbot, tmp_path):
    """With a softmax question waiting, the Draw tab of a colour network showed the lesson's picture
    with the network's bars and "Looks like: class 0, 37% sure", and the Learn tab's identities and
    gradient check ran on the lesson's trace: the answer was two clicks away."""
    from cnncore.architecture import preset
    from cnncore.lesson import Element, Lesson, PredictQuestion, Source, Stop, save_lesson
    from cnncore.network import Network
    net = Network(preset("cifar"), seed=3)
    pictures = (np.random.default_rng(0).random((1, *net.input_shape)) * 255).astype(np.uint8)
    loss = next(k for k, st in enumerate(Lesson(net, pictures, [1], [], Source("app", 0, (None,))).steps)
                if st.kind == "loss")
    stops = [Stop("backprop", 0, loss, "Guess.", Element("probs", (0, 1)), PredictQuestion("softmax"))]
    save_lesson(tmp_path / "colour.cnnlesson", Lesson(net, pictures, [1], stops, Source("app", 0, (None,))))
    window.confirm = lambda text: True
    assert window.lessons.open_lesson(tmp_path / "colour.cnnlesson", "Ada")
    s, draw = window.session, window.draw
    learn = window.learn.ensure()
    assert s.answer_held
    window.tabs.setCurrentWidget(draw)
    qtbot.wait(20)
    assert "after your answer" in draw.answer.text() and not draw.probs._probs.any()
    window.tabs.setCurrentWidget(window.learn)
    qtbot.wait(20)
    assert learn.identities.trace is None and "picture 0 of the lesson" not in learn.gradcheck.source.text()
    assert "after your answer" in learn.gradcheck.source.text()
    panel = window.lessons.panel
    panel.answer_edit.setText("0.5")
    panel.submit()
    assert not s.answer_held
    assert learn.identities.trace is s.trace and "picture 0 of the lesson" in learn.gradcheck.source.text()
    window.tabs.setCurrentWidget(draw)
    qtbot.wait(20)
    assert "Looks like" in draw.answer.text() and draw.probs._probs.any()


def test_a_stop_on_the_draw_tab_shows_the_lessons_picture_there(window, qtbot, tmp_path):
    """A stop recorded on the Draw tab keeps the teacher's drawing, but the student's Draw tab showed
    the student's own sheet (empty, "Draw a digit…") beside a note about the teacher's zero."""
    from cnncore.lesson import Stop, new_lesson, save_lesson
    from cnncore.modelio import save_model
    _lenet(window)
    save_model(tmp_path / "m.npz", window.session.network)
    base = new_lesson(tmp_path / "m.npz", "generated", 3, count=10)
    save_lesson(tmp_path / "l.cnnlesson", base.replace(stops=[Stop("build", 0, 0, "The network."),
                                                              Stop("draw", 0, 0, "What does it see?")]))
    draw = window.draw
    draw.canvas.clear()
    window.confirm = lambda text: True
    assert window.lessons.open_lesson(tmp_path / "l.cnnlesson", "Ada")
    assert window.tabs.currentWidget() is window.build and draw.canvas.is_empty()
    assert window.session.lesson.next()
    assert window.tabs.currentWidget() is draw and not draw.canvas.is_empty()
    seen = draw.network_input()
    lesson = base.pictures[0, 0] / 255
    assert np.corrcoef(seen.ravel(), lesson.ravel())[0, 1] > 0.95
    assert draw.label_combo.currentIndex() == int(base.labels[0]) and "Looks like" in draw.answer.text()


def test_the_panel_says_again_what_it_said_at_an_answer(window, qtbot, tmp_path):
    """Back at an answered stop the panel said "Not right." where it had said which answers were right."""
    from cnncore.lesson import ChoiceQuestion, Stop, new_lesson, save_lesson
    from cnncore.modelio import save_model
    _lenet(window)
    save_model(tmp_path / "m.npz", window.session.network)
    base = new_lesson(tmp_path / "m.npz", "generated", 3, count=10)
    q = ChoiceQuestion("Which layers have weights?", ("conv", "maxpool", "dense"), (0, 2))
    save_lesson(tmp_path / "l.cnnlesson", base.replace(stops=[Stop("build", 0, 0, "", None, q),
                                                              Stop("build", 0, 0, "The end.")]))
    window.confirm = lambda text: True
    assert window.lessons.open_lesson(tmp_path / "l.cnnlesson", "Ada")
    panel, player = window.lessons.panel, window.session.lesson
    panel.choices[1].setChecked(True)
    panel.submit()
    said = panel.verdict.text()
    assert said == "Not quite: the right answers are conv and dense."
    assert player.next() and player.back()
    assert panel.verdict.text() == said
