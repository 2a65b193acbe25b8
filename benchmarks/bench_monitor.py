"""What the app's training loop adds to a compiled step: the per-layer health the Train tab's
Diagnostics panel shows (``cnncore.diagnostics.TrainingMonitor.observe``, run after every batch in
the training process).

    python benchmarks/bench_monitor.py [--batches 32 1] [--presets lenet wide cifar] [--rounds 5]
    python benchmarks/bench_monitor.py --tree ../old-checkout     # the same, on another checkout

For each preset and batch size: the median over ``--rounds`` alternating rounds of the seconds per
step alone and per step followed by ``observe``, and their ratio (1.00: the monitor costs nothing).
Each checkout runs in a process of its own (``--tree``); the CPU and the load are printed beside.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import cpu_name, load_average  # noqa: E402


def _rate(f, seconds: float) -> float:
    """Seconds per call of ``f``, over about ``seconds`` after a warm-up."""
    for _ in range(10):
        f()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        f()
        n += 1
    return (time.perf_counter() - t0) / n


def _worker(args) -> None:
    sys.path.insert(0, args.tree)
    import cnnapp  # noqa: F401  (the thread settings the app runs with)
    import numpy as np
    from cnncore.architecture import preset
    from cnncore.diagnostics import TrainingMonitor
    from cnncore.network import Network
    from cnncore.optim import Adam
    from cnncore.step import compile_step
    out = {}
    for name in args.presets:
        for batch in args.batches:
            net = Network(preset(name), seed=0)
            opt = Adam({"all": net.flat_params}, lr=1e-3, decay_mask={"all": net.decay_mask})
            step = compile_step(net, batch, opt, snapshot=True)
            monitor = TrainingMonitor(net)
            rng = np.random.default_rng(0)
            x = rng.random((batch,) + tuple(net.input_shape)).astype(np.float32)
            y = rng.integers(0, 10, batch).astype(np.intp)
            alone, watched = [], []
            for _ in range(args.rounds):
                alone.append(_rate(lambda: step.run(x, y), args.seconds))
                watched.append(_rate(lambda: (step.run(x, y), monitor.observe(net, 1e-3)), args.seconds))
            out[f"{name}/{batch}"] = (statistics.median(alone), statistics.median(watched))
    print(json.dumps(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", default=["lenet", "wide", "cifar"])
    p.add_argument("--batches", nargs="+", type=int, default=[32, 1])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=0.3, help="seconds of each measurement")
    p.add_argument("--tree", default=str(ROOT), help="the checkout to measure (default: this one)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        _worker(args)
        return
    print(f"CPU: {cpu_name()}; load average {load_average()}; checkout {args.tree}")
    cmd = [sys.executable, __file__, "--worker", "--tree", args.tree, "--rounds", str(args.rounds),
           "--seconds", str(args.seconds), "--presets", *args.presets,
           "--batches", *map(str, args.batches)]
    res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    print(f"{'preset':8} {'batch':>5} {'step µs':>9} {'+ observe µs':>13} {'ratio':>6}")
    for key, (alone, watched) in res.items():
        name, batch = key.split("/")
        print(f"{name:8} {batch:>5} {alone * 1e6:9.0f} {watched * 1e6:13.0f} {watched / alone:6.2f}")


if __name__ == "__main__":
    main()
