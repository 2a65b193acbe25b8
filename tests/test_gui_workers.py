"""Workers run off the GUI thread without ever changing threads themselves (pytest-qt, headless).

A worker that was moved into its thread had to be moved home when its run ended; that
``moveToThread`` waited for a Qt lock while holding the GIL, and a GUI thread destroying widgets
under that lock waited for the GIL: the window froze for good (seen once in CI)."""
from __future__ import annotations

import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]


def test_a_job_runs_in_its_thread_while_the_worker_stays_in_the_gui_thread(qtbot):
    from PySide6 import QtCore, QtWidgets
    from cnnapp.workers import JobWorker, start_in_thread
    parent = QtWidgets.QWidget()
    qtbot.addWidget(parent)
    ran_in, seen_in = [], []
    worker = JobWorker(lambda: ran_in.append(threading.get_ident()) or 42)
    worker.done.connect(lambda result: seen_in.append((threading.get_ident(), result)))
    with qtbot.waitSignal(worker.finished, timeout=5000):
        thread = start_in_thread(worker, parent, "test-job")
    qtbot.waitUntil(thread.isFinished, timeout=5000)
    gui = threading.get_ident()
    assert ran_in and ran_in[0] != gui                      # the job ran off the GUI thread
    assert seen_in == [(gui, 42)]                           # its result arrived in the GUI thread
    assert worker.thread() is QtCore.QCoreApplication.instance().thread()    # never moved
