"""How long the window freezes the first time a heavy view is shown.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_first_open.py [--root OTHER_CHECKOUT] [--train]

Times, on the GUI thread, (1) the first opening of the Learn tab, (2) the first "Show the textbook
way" on a conv layer's backward step of the Backprop tab and (3) one tick of the sliding filter,
each with the events it posts processed; the baseline in the same run is the same action
repeated once everything is built. ``--train`` measures while the Train tab trains in its worker
thread. ``--root`` runs another checkout's app (built in place), for a before/after comparison.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def timed(app, fn) -> float:
    t = time.perf_counter()
    fn()
    app.processEvents()
    return (time.perf_counter() - t) * 1000.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    ap.add_argument("--train", action="store_true", help="measure while training")
    args = ap.parse_args(argv)
    sys.path.insert(0, args.root)
    tmp = tempfile.mkdtemp(prefix="cnnlab-bench-")
    os.environ["CNNLAB_CONFIG_DIR"], os.environ["CNNLAB_DATA_DIR"] = tmp + "/config", tmp + "/data"
    from PySide6 import QtWidgets
    app = QtWidgets.QApplication([])
    from cnnapp.main_window import MainWindow
    w = MainWindow(load_settings=False)
    w.resize(1366, 768)
    w.show()
    app.processEvents()
    w.tabs.setCurrentWidget(w.backprop)
    app.processEvents()
    if args.train:
        w.train.start()
        time.sleep(1.0)
        app.processEvents()
    bp = w.backprop
    conv = [k for k, s in enumerate(bp.trace.steps) if s.kind == "backward" and s.layer_type == "conv"]
    bp.go(conv[-1])
    app.processEvents()
    first = timed(app, lambda: bp.identity_button.setChecked(True))
    bp.identity_button.setChecked(False)
    app.processEvents()
    again = timed(app, lambda: bp.identity_button.setChecked(True))
    bp.identity_button.setChecked(False)
    print(f"textbook way, first toggle: {first:.0f} ms (again: {again:.0f} ms, ratio {first / again:.1f})")
    learn = timed(app, lambda: w.tabs.setCurrentWidget(w.learn))
    w.tabs.setCurrentWidget(w.backprop)
    app.processEvents()
    learn2 = timed(app, lambda: w.tabs.setCurrentWidget(w.learn))
    print(f"Learn tab, first opening: {learn:.0f} ms (again: {learn2:.0f} ms, ratio {learn / learn2:.1f})")
    if hasattr(bp, "slide"):
        w.tabs.setCurrentWidget(w.backprop)
        fwd = next(k for k, s in enumerate(bp.trace.steps) if s.kind == "forward" and s.layer_type == "conv")
        bp.go(fwd)
        bp.toggle_slide()
        bp.slide.timer.stop()
        ticks = [timed(app, bp.slide.advance) for _ in range(50)]
        print(f"sliding filter: median tick {sorted(ticks)[25]:.1f} ms, longest {max(ticks):.1f} ms "
              f"(a tick every {bp.slide.timer.interval()} ms)")
    if args.train:
        w.train.stop()
    w.train.shutdown()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
