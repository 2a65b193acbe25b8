"""Screenshots of issue 25's window for a projector and a lesson (not part of CI):

    xvfb-run -a -s "-screen 0 1920x1080x24" python tools/lesson_shots.py OUT_DIR

writes ``lesson_backprop_zoomed.png`` (the Backprop tab at 175 %), ``lesson_backprop_alone.png`` (one map
alone), ``lesson_stop_question.png`` (a stop whose question waits), ``lesson_stop_note.png`` (the stop
answered: the note beside the maps) and ``lesson_1024.png`` (the same at 1024×640), from the starter model.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

for var in ("CNNLAB_CONFIG_DIR", "CNNLAB_DATA_DIR"):
    os.environ[var] = tempfile.mkdtemp(prefix="cnnlab-shots-")

from PySide6 import QtCore, QtWidgets  # noqa: E402

NOTE = """# The loss: how wrong is the network?

Softmax turns the ten scores **z** into probabilities that add up to 1:

- p(k) = e^z(k) / Σ e^z(j)
- the loss is **−log p(true class)**

*Before the maps:* predict p of the true class from the scores given. A sure, right answer makes the
loss near 0; a sure, wrong one makes it large.
"""


def pump(app, n: int = 60) -> None:
    for _ in range(n):
        app.processEvents()


def shoot(window, path: Path) -> None:
    window.grab().save(str(path))
    print("wrote", path)


def make_lesson(folder: Path) -> Path:
    from cnncore.lesson import Element, PredictQuestion, Stop, new_lesson, save_lesson
    from cnnapp.settings import starter_model_path
    base = new_lesson(starter_model_path(), "generated", 11, count=20, title="Backprop, from the loss back")
    loss = next(k for k, st in enumerate(base.steps) if st.kind == "loss")
    label = int(base.labels[0])
    stops = [Stop("backprop", 0, 0, "# The first convolution\n\nEach of the **8 maps** is one filter's answer."),
             Stop("backprop", 0, loss, NOTE, Element("probs", (0, label)), PredictQuestion("softmax"))]
    path = folder / "loss.cnnlesson"
    save_lesson(path, base.replace(stops=stops))
    return path


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    app = QtWidgets.QApplication([])
    from cnnapp.main_window import MainWindow
    w = MainWindow(load_settings=False)
    w.resize(1920, 1080)
    w.move(0, 0)
    w.show()
    w.activateWindow()
    pump(app)
    bp = w.backprop
    w.tabs.setCurrentWidget(bp)
    pump(app)
    while w.session.trace is None:
        app.processEvents()
    w.session.stepper.index = 0
    for _ in range(3):
        w.zoomer.zoom_in()
    pump(app, 200)
    shoot(w, out / "lesson_backprop_zoomed.png")
    bp.maps.grid.show_alone(("L0.z", (0, 2)))
    pump(app, 100)
    shoot(w, out / "lesson_backprop_alone.png")
    bp.maps.grid.show_alone(None)
    w.zoomer.reset()
    path = make_lesson(Path(tempfile.mkdtemp()))
    assert w.lessons.open_lesson(path, "Ada")
    w.lessons.panel.next_button.click()
    pump(app, 100)
    shoot(w, out / "lesson_stop_question.png")
    p = w.session.lesson
    w.lessons.panel.answer_edit.setText(f"{p.question.answer:.3f}")
    w.lessons.panel.submit()
    pump(app, 200)
    shoot(w, out / "lesson_stop_note.png")
    w.resize(1024, 640)
    pump(app, 200)
    shoot(w, out / "lesson_1024.png")
    w.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
