"""Training speed and time-to-accuracy of the cnncore engine, with PyTorch as the baseline.

    python benchmarks/bench_train.py [--threads N] [--seconds S] [--no-torch] [--no-accuracy]

1. Images per second of one training step (forward, softmax cross-entropy,
   backward, Adam update) at batch 1 and batch 64, for every preset, and the
   same network in PyTorch (CPU, same thread count) in the same process. The
   two are measured in alternating rounds and the best round of each is kept,
   so a busy machine hurts both alike. ratio = ours / torch (> 1: we are faster).
2. Time to 98%: the default preset trained with the command line's default
   settings on the first 6,500 of the shared real digits, evaluated after every
   epoch on the other 1,500 (the last 1,500 of the file). Reports the training
   seconds (held-out evaluation excluded) when the held-out accuracy first
   reaches 98%, and the final accuracy.

The load average is printed before and after: other processes on the machine
slow both engines down, and the accuracy run (which has no baseline) most.
"""
from __future__ import annotations

import argparse
import gzip
import os
import struct
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import cnnapp  # noqa: E402,F401  (first: sets the thread environment the app and CLI run with, before NumPy loads)

import numpy as np  # noqa: E402

import cnncore  # noqa: E402
from cnncore.architecture import DEFAULT_PRESET, PRESETS, summarize  # noqa: E402
from cnncore.network import Network  # noqa: E402
from cnncore.optim import Adam  # noqa: E402
from cnncore.training import EpochEvent, FinishedEvent, TrainConfig, Trainer  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "mnist"


def _load(name: str) -> np.ndarray:
    data = gzip.decompress((SHARED / name).read_bytes())
    nd = data[3]
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(dims)


def _loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


# ----------------------------------------------------------------------------- speed

# Each step trains on the next of a few fixed random batches with random labels. Repeating one
# batch would drive its loss to zero and the gradients and Adam's moments into subnormal floats,
# which every CPU computes very slowly: not what a real training step sees.
_BATCHES = 32


def _data(batch, input_shape):
    rng = np.random.default_rng(0)
    xs = rng.random((_BATCHES, batch) + tuple(input_shape)).astype(np.float32)
    ys = rng.integers(0, 10, (_BATCHES, batch))
    return xs, ys


def _ours_step(spec, batch):
    net = Network(spec, seed=0)
    opt = Adam({"all": net.flat_params}, lr=1e-3, decay_mask={"all": net.decay_mask})  # as the Trainer does
    grads = {"all": net.flat_grads}
    xs, ys = _data(batch, net.input_shape)
    k = [0]

    def step():
        i = k[0] = (k[0] + 1) % _BATCHES
        net.loss_and_grads(xs[i], ys[i])
        opt.step(grads)
    return step, net


def _torch_model(spec, net):
    import torch
    from torch import nn

    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU,
            "none": nn.Identity}
    mods = []
    for row, layer in zip(summarize(spec), spec["layers"]):
        t = layer["type"]
        if t == "conv":
            m = nn.Conv2d(row.in_shape[0], layer["filters"], tuple(layer["kernel"]), tuple(layer["stride"]),
                          tuple(layer["padding"]))
            mods += [m, acts[layer["activation"]]()]
        elif t == "maxpool":
            mods.append(nn.MaxPool2d(tuple(layer["size"]), tuple(layer["stride"])))
        elif t == "avgpool":
            mods.append(nn.AvgPool2d(tuple(layer["size"]), tuple(layer["stride"])))
        elif t == "flatten":
            mods.append(nn.Flatten())
        else:
            m = nn.Linear(row.in_shape[0], layer["units"])
            mods += [m, acts[layer["activation"]]()]
    model = nn.Sequential(*mods)
    with torch.no_grad():  # the same weights, so the two compute the same thing
        convs = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
        params = [l for l in net.layers if l.has_params]
        for m, l in zip(convs, params):
            m.weight.copy_(torch.from_numpy(l.W))
            m.bias.copy_(torch.from_numpy(l.b))
    return model


def _torch_step(spec, batch, net):
    import torch
    import torch.nn.functional as F

    model = _torch_model(spec, net)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = _data(batch, net.input_shape)
    xs, ys = torch.from_numpy(xs), torch.from_numpy(ys)

    # sanity: same logits as ours
    with torch.no_grad():
        diff = float(np.abs(model(xs[0]).numpy() - net.forward(xs[0].numpy(), keep=False)).max())
    k = [0]

    def step():
        i = k[0] = (k[0] + 1) % _BATCHES
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xs[i]), ys[i]).backward()
        opt.step()
    return step, diff


def _rate(step, batch, seconds):
    for _ in range(3):
        step()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds and n >= 3:
            return n * batch / dt


def bench_speed(threads, seconds, use_torch):
    torch = None
    if use_torch:
        try:
            import torch
            torch.set_num_threads(threads)
        except ImportError:
            torch = None
    rows = []
    for name in PRESETS:
        spec = PRESETS[name]
        for batch in (1, 64):
            ours, net = _ours_step(spec, batch)
            theirs, diff = _torch_step(spec, batch, net) if torch is not None else (None, None)
            best_o = best_t = 0.0
            for _ in range(3):  # alternate so that background load hits both
                best_o = max(best_o, _rate(ours, batch, seconds / 3))
                if theirs is not None:
                    best_t = max(best_t, _rate(theirs, batch, seconds / 3))
            rows.append((name, batch, best_o, best_t or None, diff))
            t = f"{best_t:>10,.0f}" if best_t else f"{'-':>10}"
            r = f"{best_o / best_t:>7.2f}×" if best_t else f"{'-':>8}"
            print(f"{name:<8}{batch:>6}{best_o:>12,.0f}{t}{r}" + (f"   (max |Δlogit| {diff:.1e})" if diff is not None else ""),
                  flush=True)
    return rows


# ----------------------------------------------------------------------------- time to 98%

def bench_accuracy(target=0.98):
    if not (SHARED / "mnist8k-images-idx3-ubyte.gz").is_file():
        print(f"time to {target:.0%}: skipped, no shared digits in {SHARED}")
        return None
    X = _load("mnist8k-images-idx3-ubyte.gz")
    y = _load("mnist8k-labels-idx1-ubyte.gz")
    from cnnapp.cli import _parser  # the command line's defaults, exactly

    args = _parser().parse_args(["train", "--out", "unused.npz"])
    config = TrainConfig(optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size, epochs=args.epochs,
                         weight_decay=args.weight_decay, momentum=args.momentum, seed=args.seed,
                         schedule=args.schedule, augment=args.augment)
    net = Network(PRESETS[DEFAULT_PRESET], seed=args.seed)
    trainer = Trainer(net, X[:6500], y[:6500], X[6500:], y[6500:], config)
    print(f"\ntime to {target:.0%}: preset {DEFAULT_PRESET!r}, {config}")
    reached = None
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
    return reached, acc, final.seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None, help="threads for both engines (default: all CPUs)")
    p.add_argument("--seconds", type=float, default=1.5, help="measuring time per cell and engine")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--no-accuracy", action="store_true")
    p.add_argument("--no-speed", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        cnncore.set_num_threads(args.threads)
    threads = cnncore.get_num_threads()
    print(f"cnncore training benchmark: {threads} thread(s), {os.cpu_count()} CPUs, load average {_loadavg()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    if not args.no_speed:
        print(f"\n{'preset':<8}{'batch':>6}{'ours img/s':>12}{'torch':>10}{'ratio':>8}")
        bench_speed(threads, args.seconds, not args.no_torch)
    if not args.no_accuracy:
        bench_accuracy()
    print(f"\nload average at the end: {_loadavg()}")


if __name__ == "__main__":
    main()
