"""Training speed and time-to-accuracy of the cnncore engine, with PyTorch as the baseline.

    python benchmarks/bench_train.py [--rounds R] [--seconds S] [--threads N] [--before SECONDS]
                                     [--no-torch] [--no-accuracy] [--no-cifar] [--no-speed] [--no-tiles]

1. Images per second of one training step (forward, softmax cross-entropy,
   backward, Adam update) at batch 1 and batch 64, for every preset, and the
   same network in PyTorch (CPU). Each engine runs in a process of its own,
   with its own defaults: the two are never imported into one process, because
   one engine's OpenMP settings change the other's (cnncore makes idle OpenMP
   threads sleep, PyTorch's spin and compete with ours). The processes
   alternate, round after round (cnncore first in odd rounds, PyTorch first in
   even ones), so background load hits both alike; the table shows the median
   round of each and ratio = ours / torch (> 1: we are faster), against the
   goal of each cell (``GOALS``; every other cell: no slower than PyTorch). Both networks
   start from the same weights (written by the cnncore process, read by the
   PyTorch one), and the largest difference of their first logits is printed.
2. Time to 98%: the default preset trained with the command line's default
   settings on the first 6,500 of the shared real digits, evaluated after every
   epoch on the other 1,500 (the last 1,500 of the file). Reports the training
   seconds (held-out evaluation excluded) when the held-out accuracy first
   reaches 98%, and the final accuracy. Runs in a cnncore process of its own.
   With ``--before S`` (the time an earlier version took on this machine) it
   prints the goal, ``TIME_TO_98_GOAL`` times shorter, and whether it is met.
3. The convolution loops' GFLOP/s per layer and pass against the fp32 peak of
   an FMA probe run beside them (``bench_kernels.py --tiles-only``, in a
   process of its own). Leave out with ``--no-tiles``.
4. CIFAR-10: the ``cifar`` preset trained with the command line's defaults for a folder of
   pictures (``cnncore.defaults``, held-out rule included) on the first 3,660 of the shared real
   pictures (``../shared/data/cifar10``), scored on the last 1,000, for 3 seeds: the accuracy and
   the training seconds the command prints, against the goals (``CIFAR_GOALS``). Leave out with
   ``--no-cifar``; skipped, saying so, without the shared pictures.

The load average is printed before and after: other processes on the machine
slow both engines down, and the accuracy run (which has no baseline) most.
"""
from __future__ import annotations

import os

# The environment this script was started with: each engine's process starts from
# it, never from what an import in this process set (cnncore sets the OpenMP wait: GOMP_SPINCOUNT, KMP_BLOCKTIME).
_ENV = dict(os.environ)

import argparse  # noqa: E402
import gzip  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from _machine import cpu_name, load_average  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "mnist"
BATCHES = (1, 64)
ENGINES = ("cnncore", "torch")

# The goals of issues 8 and 9 (ours / PyTorch images per second); every other cell: >= 1.
GOALS = {"lenet/64": 2.0, "wide/64": 1.5, "wide/1": 5.0, "lenet/1": 10.0,
         "cifar/64": 2.0, "cifar/1": 5.0}           # the cifar preset: issue 23
#: Issue 23: the cifar preset with the command line's defaults on the 4,660 shared pictures.
CIFAR_GOALS = {"accuracy": 0.55, "seconds": 30.0}
SHARED_CIFAR = REPO.parent / "shared" / "data" / "cifar10" / "cifar10-4660-train.bin.gz"
#: Time to 98%: at least this many times shorter than the time before the work of issue 9.
TIME_TO_98_GOAL = 1.5

# Each step trains on the next of a few fixed random batches with random labels. Repeating one
# batch would drive its loss to zero and the gradients and Adam's moments into subnormal floats,
# which every CPU computes very slowly: not what a real training step sees.
_DATA_BATCHES = 32


def _data(np, batch, input_shape):
    rng = np.random.default_rng(0)
    xs = rng.random((_DATA_BATCHES, batch) + tuple(input_shape)).astype(np.float32)
    ys = rng.integers(0, 10, (_DATA_BATCHES, batch))
    return xs, ys


def _rate(step, batch, seconds):
    """Images per second of ``step`` over at least ``seconds`` (after a short warm-up)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < min(0.2, seconds / 4):
        step()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds and n >= 3:
            return n * batch / dt


# ----------------------------------------------------------------------------- the cnncore process

def _cnncore_worker(args):
    sys.path.insert(0, str(REPO))
    import cnnapp  # noqa: F401  (first: sets the thread environment the app and CLI run with)
    import numpy as np

    import cnncore
    from cnncore.network import Network
    from cnncore.optim import Adam

    if args.threads:
        cnncore.set_num_threads(args.threads)
    specs = json.loads(Path(args.specs).read_text())
    out = {"threads": cnncore.get_num_threads(), "rates": {}}
    for name, spec in specs.items():
        for batch in BATCHES:
            net = Network(spec, seed=0)
            opt = Adam({"all": net.flat_params}, lr=1e-3, decay_mask={"all": net.decay_mask})  # as the Trainer does
            grads = {"all": net.flat_grads}
            xs, ys = _data(np, batch, net.input_shape)
            if args.weights:   # what the PyTorch process starts from and must compute
                np.savez(Path(args.weights) / f"{name}-{batch}.npz", logits=net.forward(xs[0], keep=False),
                         **{k.replace(".", "_"): v for k, v in net.params().items()})
            k = [0]

            def step():
                i = k[0] = (k[0] + 1) % _DATA_BATCHES
                net.loss_and_grads(xs[i], ys[i])
                opt.step(grads)
            out["rates"][f"{name}/{batch}"] = _rate(step, batch, args.seconds)
    print(json.dumps(out))


# ----------------------------------------------------------------------------- the PyTorch process

def _torch_model(torch, spec, params):
    """The network of a normalized spec in PyTorch, with the weights in ``params`` (``L{i}_W``…)."""
    from torch import nn

    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU,
            "none": nn.Identity}
    mods, shape = [], (1,) + tuple(spec["input"])
    for i, layer in enumerate(spec["layers"]):
        t = layer["type"]
        if t == "conv":
            m = nn.Conv2d(shape[1], layer["filters"], tuple(layer["kernel"]), tuple(layer["stride"]),
                          tuple(layer["padding"]))
        elif t == "dense":
            m = nn.Linear(shape[1], layer["units"])
        elif t in ("maxpool", "avgpool", "l2pool"):
            size, stride = tuple(layer["size"]), tuple(layer["stride"])
            m = {"maxpool": lambda: nn.MaxPool2d(size, stride), "avgpool": lambda: nn.AvgPool2d(size, stride),
                 "l2pool": lambda: nn.LPPool2d(2, size, stride)}[t]()
        elif t == "flatten":
            m = nn.Flatten()
        else:
            raise SystemExit(f"bench_train: no PyTorch twin for a {t!r} layer")
        if t in ("conv", "dense"):
            with torch.no_grad():   # the same weights, so the two compute the same thing
                m.weight.copy_(torch.from_numpy(params[f"L{i}_W"]))
                m.bias.copy_(torch.from_numpy(params[f"L{i}_b"]))
            mods += [m, acts[layer["activation"]]()]
        else:
            mods.append(m)
        with torch.no_grad():
            shape = tuple(m(torch.zeros(shape)).shape)
    return nn.Sequential(*mods)


def _torch_worker(args):
    import numpy as np
    import torch
    import torch.nn.functional as F

    if args.threads:
        torch.set_num_threads(args.threads)
    specs = json.loads(Path(args.specs).read_text())
    out = {"threads": torch.get_num_threads(), "rates": {}, "diff": {}}
    for name, spec in specs.items():
        for batch in BATCHES:
            saved = np.load(Path(args.weights) / f"{name}-{batch}.npz")
            model = _torch_model(torch, spec, saved)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            xs, ys = _data(np, batch, spec["input"])
            xs, ys = torch.from_numpy(xs), torch.from_numpy(ys)
            with torch.no_grad():
                out["diff"][f"{name}/{batch}"] = float(np.abs(model(xs[0]).numpy() - saved["logits"]).max())
            k = [0]

            def step():
                i = k[0] = (k[0] + 1) % _DATA_BATCHES
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(xs[i]), ys[i]).backward()
                opt.step()
            out["rates"][f"{name}/{batch}"] = _rate(step, batch, args.seconds)
    print(json.dumps(out))


# ----------------------------------------------------------------------------- the parent

def _run(engine, args, specs, weights):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, "--specs", str(specs),
           "--weights", str(weights), "--seconds", str(args.seconds)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.run(cmd, env=_ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no message)"]
        raise SystemExit(f"bench_train: the {engine} process failed: {tail[0]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _specs_file(tmp: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from cnncore.architecture import PRESETS   # (plain JSON work: no kernels run in this process)

    path = tmp / "specs.json"
    path.write_text(json.dumps(PRESETS))
    return path


def bench_speed(args):
    engines = ENGINES
    if args.no_torch or importlib.util.find_spec("torch") is None:
        if not args.no_torch:
            print("PyTorch is not installed: cnncore alone (pip install torch==2.13.0 adds the baseline)")
        engines = ENGINES[:1]
    rounds = {e: [] for e in engines}
    threads, diff = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        specs = _specs_file(Path(tmp))
        for r in range(args.rounds):    # cnncore first in the first round: it writes the weights
            for engine in (engines if r % 2 == 0 else engines[::-1]):
                res = _run(engine, args, specs, tmp)
                rounds[engine].append(res["rates"])
                threads[engine] = res["threads"]
                diff.update(res.get("diff", {}))
            print(f"  round {r + 1} of {args.rounds} done, load average {load_average()}", flush=True)
    _table(rounds, threads, diff)


def _table(rounds, threads, diff):
    print("\nthreads: " + ", ".join(f"{e} {n}" for e, n in threads.items()))
    print(f"\n{'preset':<8}{'batch':>6}{'cnncore img/s':>15}{'torch img/s':>13}{'ratio':>9}{'goal':>15}   "
          f"(median of {len(rounds['cnncore'])} rounds; min–max)")
    for cell in rounds["cnncore"][0]:
        name, batch = cell.split("/")
        ours = [r[cell] for r in rounds["cnncore"]]
        mo = statistics.median(ours)
        line = f"{name:<8}{batch:>6}{mo:>15,.0f}"
        spread = f"{min(ours):,.0f}–{max(ours):,.0f}"
        if rounds.get("torch"):
            theirs = [r[cell] for r in rounds["torch"]]
            mt = statistics.median(theirs)
            goal = GOALS.get(cell, 1.0)
            verdict = "met" if mo / mt >= goal else "missed"
            line += f"{mt:>13,.0f}{mo / mt:>8.2f}×{f'≥ {goal:g}× {verdict}':>15}"
            spread += f" vs {min(theirs):,.0f}–{max(theirs):,.0f}; max |Δlogit| {diff[cell]:.1e}"
        print(f"{line}   ({spread})", flush=True)


# ----------------------------------------------------------------------------- time to 98%

def _load(name: str):
    import numpy as np

    data = gzip.decompress((SHARED / name).read_bytes())
    nd = data[3]
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(dims)


def _accuracy_worker(args, target=0.98):
    sys.path.insert(0, str(REPO))
    import cnnapp  # noqa: F401  (first: the app's thread environment)
    import cnncore
    from cnncore.architecture import DEFAULT_PRESET, PRESETS
    from cnncore.defaults import run_defaults  # the command line's defaults, exactly
    from cnncore.network import Network
    from cnncore.training import EpochEvent, FinishedEvent, TrainConfig, Trainer

    if args.threads:
        cnncore.set_num_threads(args.threads)
    X, y = _load("mnist8k-images-idx3-ubyte.gz"), _load("mnist8k-labels-idx1-ubyte.gz")
    config = TrainConfig(seed=0, **run_defaults("shared", DEFAULT_PRESET).config_fields())
    net = Network(PRESETS[DEFAULT_PRESET], seed=0)
    trainer = Trainer(net, X[:6500], y[:6500], X[6500:], y[6500:], config)
    print(f"\ntime to {target:.0%}: preset {DEFAULT_PRESET!r}, {config}, {cnncore.get_num_threads()} thread(s)")
    reached = final = None
    wall = time.perf_counter()
    for ev in trainer.run():
        if isinstance(ev, EpochEvent):
            mark = ""
            if reached is None and ev.val_accuracy >= target:
                reached = ev.seconds
                mark = "  <- reached"
            print(f"  epoch {ev.epoch:>2}: held-out accuracy {ev.val_accuracy:.4f} after {ev.seconds:5.2f} s of "
                  f"training{mark}", flush=True)
        elif isinstance(ev, FinishedEvent):
            final = ev
    wall = time.perf_counter() - wall
    acc = net.history[-1]["val_accuracy"]
    print(f"  final held-out accuracy {acc:.4f}; {final.seconds:.2f} s of training, {wall:.2f} s with evaluation; "
          + (f"{target:.0%} first reached after {reached:.2f} s" if reached is not None else f"{target:.0%} not reached"))
    if args.before and reached is not None:
        goal = args.before / TIME_TO_98_GOAL
        print(f"  before: {args.before:.2f} s on this machine; goal ≤ {goal:.2f} s ({TIME_TO_98_GOAL:g}× shorter): "
              + ("met" if reached <= goal else "missed") + f" (before / now = {args.before / reached:.2f}×)")


def bench_accuracy(args):
    if not (SHARED / "mnist8k-images-idx3-ubyte.gz").is_file():
        print(f"\ntime to 98%: skipped, no shared digits in {SHARED}")
        return
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "accuracy"]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.before:
        cmd += ["--before", str(args.before)]
    subprocess.run(cmd, env=_ENV, check=True)


def _cifar_worker(args):
    """The cifar preset as ``cnnapp train --arch cifar --folder TRAIN`` runs it (defaults, held-out rule),
    on the first 3,660 shared pictures; accuracy on the last 1,000; one line per seed."""
    sys.path.insert(0, str(REPO))
    import cnnapp  # noqa: F401  (first: the app's thread environment)
    import numpy as np

    import cnncore
    from cnncore.architecture import preset
    from cnncore.datasets import held_out_split
    from cnncore.datasets.cifar import parse_records
    from cnncore.defaults import run_defaults
    from cnncore.network import Network
    from cnncore.training import TrainConfig, Trainer, evaluate

    if args.threads:
        cnncore.set_num_threads(args.threads)
    X, y = parse_records(gzip.decompress(SHARED_CIFAR.read_bytes()))
    d = run_defaults("folder", "cifar")
    X_tr, y_tr, X_val, y_val = held_out_split(X[:3660], y[:3660], d.holdout)
    print(f"\ncifar preset, {d} on {len(X_tr)} pictures (held out {len(X_val)}), scored on the last 1,000 of "
          f"{len(X)}; {cnncore.get_num_threads()} thread(s)", flush=True)
    accuracies, seconds = [], []
    for seed in (0, 1, 2):
        net = Network(preset("cifar"), seed=seed)
        trainer = Trainer(net, X_tr, y_tr, X_val, y_val, TrainConfig(seed=seed, **d.config_fields()))
        *_, finished = trainer.run()
        accuracies.append(evaluate(net, X[3660:], y[3660:])[1])
        seconds.append(finished.seconds)
        print(f"  seed {seed}: accuracy {accuracies[-1]:.4f} on the 1,000; {seconds[-1]:.2f} s of training "
              f"(load average {load_average()})", flush=True)
    acc, sec = statistics.mean(accuracies), statistics.mean(seconds)
    print(f"  mean accuracy {acc:.4f} (goal ≥ {CIFAR_GOALS['accuracy']:.2f}: "
          f"{'met' if acc >= CIFAR_GOALS['accuracy'] else 'missed'}); mean training time {sec:.2f} s "
          f"(goal ≤ {CIFAR_GOALS['seconds']:g} s: {'met' if sec <= CIFAR_GOALS['seconds'] else 'missed'})")


def bench_cifar(args):
    if not SHARED_CIFAR.is_file():
        print(f"\ncifar: skipped, no shared CIFAR-10 pictures in {SHARED_CIFAR.parent}")
        return
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "cifar"]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    subprocess.run(cmd, env=_ENV, check=True)


def bench_tiles(args):
    """The convolutions' efficiency: bench_kernels' table of the register tiles, in a process of its own,
    with the FMA probe's fp32 peak measured beside each layer."""
    print("\nconvolution loops against this machine's fp32 peak (goal: every pass of the wide preset's "
          "16→32 convolution at batch 64 ≥ 50% of peak)", flush=True)
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_kernels.py"), "--tiles-only"], env=_ENV,
                   check=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None,
                   help="threads for both engines (default: each engine's own default)")
    p.add_argument("--seconds", type=float, default=1.5, help="measuring time per cell, engine and round")
    p.add_argument("--rounds", type=int, default=3, help="rounds of both engines (median reported)")
    p.add_argument("--before", type=float, default=None, metavar="SECONDS",
                   help="time to 98%% measured on this machine before the change being judged "
                        "(prints the time-to-98%% goal against it)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--no-accuracy", action="store_true")
    p.add_argument("--no-cifar", action="store_true", help="leave out the cifar preset's accuracy and time")
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--no-tiles", action="store_true", help="leave out the convolution loops' share of the peak")
    p.add_argument("--worker", choices=ENGINES + ("accuracy", "cifar"), help=argparse.SUPPRESS)
    p.add_argument("--specs", help=argparse.SUPPRESS)
    p.add_argument("--weights", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        {"cnncore": _cnncore_worker, "torch": _torch_worker, "accuracy": _accuracy_worker,
         "cifar": _cifar_worker}[args.worker](args)
        return
    print(f"cnncore training benchmark on {cpu_name()}, load average {load_average()}; each engine in its "
          f"own process (environment: OMP_WAIT_POLICY={_ENV.get('OMP_WAIT_POLICY')}, GOMP_SPINCOUNT={_ENV.get('GOMP_SPINCOUNT')}, "
          f"OPENBLAS_NUM_THREADS={_ENV.get('OPENBLAS_NUM_THREADS')})", flush=True)
    if not args.no_speed:
        bench_speed(args)
    if not args.no_tiles:
        bench_tiles(args)
    if not args.no_accuracy:
        bench_accuracy(args)
    if not args.no_cifar:
        bench_cifar(args)
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()
