"""GUI responsiveness while training, and heatmap frame rate while stepping through a trace.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py [--seconds 15] [--preset lenet]

1. A 10 ms QTimer on the GUI thread records the gap between its ticks, first with the window
   idle (the baseline, same process), then while the default network trains in the worker
   thread on generated digits with the live plots, filters and predictions updating.
   Reports the longest gap and the 99th percentile. Goal: no gap over 30 ms.
2. Frames per second of the Backprop tab's heatmap grid while stepping: every step of a trace
   is shown (items updated with setImage) and painted synchronously, over and over.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def measure_gaps(app, seconds: float, while_fn=None) -> np.ndarray:
    from PySide6 import QtCore
    gaps = []
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
    timer = QtCore.QTimer()
    timer.setTimerType(QtCore.Qt.PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    t_end = time.perf_counter() + seconds
    last[0] = time.perf_counter()
    while time.perf_counter() < t_end and (while_fn is None or while_fn()):
        app.processEvents(QtCore.QEventLoop.AllEvents, 5)
        time.sleep(0.0005)
    timer.stop()
    return np.asarray(gaps[1:]) * 1000.0


def describe(name: str, gaps_ms: np.ndarray) -> str:
    if gaps_ms.size == 0:
        return f"{name}: no ticks"
    return (f"{name}: {gaps_ms.size} ticks, median {np.median(gaps_ms):.1f} ms, "
            f"p99 {np.percentile(gaps_ms, 99):.1f} ms, longest {gaps_ms.max():.1f} ms, "
            f"over 30 ms: {int(np.sum(gaps_ms > 30))}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--preset", default=None, help="architecture preset (default: the app's default)")
    ap.add_argument("--digits", type=int, default=12000)
    args = ap.parse_args(argv)

    import tempfile
    tmp = tempfile.mkdtemp(prefix="bench_gui_")
    os.environ.setdefault("CNNLAB_CONFIG_DIR", tmp)
    os.environ.setdefault("CNNLAB_DATA_DIR", tmp)
    from PySide6 import QtCore, QtWidgets
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    from cnncore.architecture import DEFAULT_PRESET, preset
    from cnncore.network import Network

    from cnnapp.main_window import MainWindow
    name = args.preset or DEFAULT_PRESET
    win = MainWindow(load_settings=False)
    win.resize(1280, 800)
    win.show()
    win.state.set_network(Network(preset(name), seed=0), f"{name} preset", trained=False)
    for _ in range(10):
        app.processEvents()

    print(f"network: {name} preset; GUI timer 10 ms; {args.seconds:.0f} s per measurement")
    idle = measure_gaps(app, min(5.0, args.seconds))
    print(describe("idle (baseline)", idle))

    win.tabs.setCurrentWidget(win.train)
    tr = win.train
    tr.count.setValue(args.digits)
    tr.epochs.setValue(50)
    tr.start()
    # Wait until the data is ready and batches flow, then measure.
    t0 = time.perf_counter()
    while tr.loss_plot.point_count() == 0 and time.perf_counter() - t0 < 60:
        app.processEvents()
        time.sleep(0.005)
    busy = measure_gaps(app, args.seconds)
    ips = tr.speed_plot._y[-1] if tr.speed_plot._y else float("nan")
    print(describe("training", busy) + f"  ({ips:,.0f} images/s in the worker)")
    tr.stop()
    tr.shutdown()
    for _ in range(10):
        app.processEvents()

    # Heatmap frame rate while stepping.
    win.tabs.setCurrentWidget(win.backprop)
    bp = win.backprop
    bp.source.setCurrentIndex(2)
    bp.record()
    n = bp.step_count()
    maps = 0
    frames = 0

    class PaintCounter(QtCore.QObject):
        count = 0

        def eventFilter(self, obj, ev):
            if ev.type() == QtCore.QEvent.Paint:
                PaintCounter.count += 1
            return False
    counter = PaintCounter()
    bp.grid.view.viewport().installEventFilter(counter)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 5.0:
        for k in range(n):
            bp.go(k)
            painted = PaintCounter.count
            while PaintCounter.count == painted:      # until this step is on screen
                app.processEvents()
            frames += 1
            maps += bp.grid.map_count()
    dt = time.perf_counter() - t0
    print(f"heatmap grid while stepping: {frames / dt:.1f} steps/s ({maps / dt:,.0f} heatmaps/s, "
          f"{maps / frames:.1f} heatmaps per step on average, {n} steps)")
    ok = busy.size and busy.max() <= 30
    print("goal (no gap over 30 ms):", "met" if ok else "NOT met")
    win.close()
    win.deleteLater()
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
