"""The installed Qt binding keeps its reference counts straight.

PySide6-Essentials 6.12.0 under Python 3.11 drops a reference to None on every
C++ call that returns nothing and to True on every Signal.emit; the app then
aborts after seconds of use. pyproject.toml excludes that release; this test
catches a regression of the same kind in whatever release gets installed.
"""
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtWidgets  # noqa: E402


class _Emitter(QtCore.QObject):
    changed = QtCore.Signal(int)


def test_calls_and_signals_do_not_leak_none_or_true(qtbot):
    label = QtWidgets.QLabel()
    qtbot.addWidget(label)
    emitter = _Emitter()
    emitter.changed.connect(lambda value: None)
    label.setText("warm up")
    emitter.changed.emit(0)
    before = sys.getrefcount(None), sys.getrefcount(True)
    for i in range(2000):
        label.setText(str(i))
        emitter.changed.emit(i)
    after = sys.getrefcount(None), sys.getrefcount(True)
    # a leak loses one reference per call: 2000 here; allow noise from the interpreter
    assert after[0] - before[0] > -100, f"None lost {before[0] - after[0]} references"
    assert after[1] - before[1] > -100, f"True lost {before[1] - after[1]} references"
