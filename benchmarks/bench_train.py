"""Training speed and time-to-accuracy of the cnncore engine, with PyTorch as the baseline.

    python benchmarks/bench_train.py [--rounds R] [--seconds S] [--threads N] [--folds K] [--seeds S,S]
                                     [--split random|last]
                                     [--builds native,avx2,base] [--no-torch] [--no-accuracy]
                                     [--no-cifar] [--no-speed] [--no-tiles] [--quiet-wait S]

1. Images per second of one training step (forward, softmax cross-entropy,
   backward, Adam update: the compiled step the Trainer runs, cnncore.step) at
   batch 1 and batch 64, for every preset, and the same network in PyTorch
   (CPU), for each build of the kernels in ``--builds``: ``native`` is this
   checkout's own build (``pip install .``, ``CNNCORE_ARCH=native``); ``avx2``,
   ``avx512`` and ``base`` are the kernels a wheel carries, from a generic build
   of this checkout's sources that the script makes once under
   ``build/bench-generic/`` and picks with ``CNNCORE_KERNELS``. Each engine runs in a process of its own,
   with its own defaults: the two are never imported into one process, because
   one engine's OpenMP settings change the other's (cnncore makes idle OpenMP
   threads sleep, PyTorch's spin and compete with ours). The processes
   alternate, round after round (cnncore first in odd rounds, PyTorch first in
   even ones), so background load hits both alike; the table shows the median
   round of each and ratio = ours / torch (> 1: we are faster), against the
   goal of each cell (``GOALS``; every other cell: no slower than PyTorch). Both networks
   start from the same weights (written by the cnncore process, read by the
   PyTorch one), and the largest difference of their first logits is printed.
2. Accuracy: ``cnnapp train --images F --labels F`` with its defaults (or
   ``--train-args``), run by the command's own code on IDX files of 7,000 of the
   8,000 shared real digits (it trains on 5,950 of them and holds out the other
   15 %, as it does with any files) and scored on the other 1,000 (``--folds``
   different thousands, each with every seed of ``--seeds``), against the goal of
   ``ACCURACY_GOAL`` after at most ``ACCURACY_SECONDS`` of training (held-out
   evaluation excluded). Runs in a cnncore process of its own (native build).
   The shared digits are the first 8,000 of MNIST's test set; the issue checks on
   its last 2,000, which belong to the test set's second half (MNIST took its two
   halves from different NIST collections), as the shared 5,000–7,999 do.
   ``--split last`` holds those out, the last thousands in file order: lenet
   scores about a point more on them than on random thousands.
3. The convolution loops' GFLOP/s per layer and pass against the fp32 peak of
   an FMA probe run beside them and compiled for the build's own instruction
   set (``bench_kernels.py --tiles-only --isa``, in a process of its own, for
   each build). Leave out with ``--no-tiles``.
4. CIFAR-10: the ``cifar`` preset trained with the command line's defaults for a folder of
   pictures (``cnncore.defaults``, held-out rule included) on the first 3,660 of the shared real
   pictures (``../shared/data/cifar10``), scored on the last 1,000, for 3 seeds: the accuracy and
   the training seconds the command prints, against the goals (``CIFAR_GOALS``). Leave out with
   ``--no-cifar``; skipped, saying so, without the shared pictures.

The load average is printed before and after: other processes on the machine
slow both engines down, and the accuracy run (which has no baseline) most. Each
process (and each run of the accuracy's folds, each build's table of the loops)
waits until other programs leave the cores nearly idle (``--quiet-wait``), and
the cores they kept busy while it ran are printed beside its figures; a process
or an accuracy run during which they kept more than half a core busy runs again.
"""
from __future__ import annotations

import os

# The environment this script was started with: each engine's process starts from
# it, never from what an import in this process set (cnncore sets the OpenMP wait: GOMP_SPINCOUNT, KMP_BLOCKTIME).
_ENV = dict(os.environ)

import argparse  # noqa: E402
import gzip  # noqa: E402
import hashlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from _machine import OthersLoad, cpu_name, load_average, wait_until_quiet  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "mnist"
BATCHES = (1, 64)
ENGINES = ("cnncore", "torch")
#: The builds of the kernels: this checkout's own, and those a generic build (a wheel) carries.
BUILDS = ("native", "avx512", "avx2", "base")

# The goals of issue 24 (ours / PyTorch images per second), for native and avx2 builds; every
# other cell: >= 1. The portable kernels (base): BASE_GOALS by batch size.
GOALS = {"lenet/64": 2.5, "lenet/1": 10.0, "wide/64": 2.0, "wide/1": 5.0, "tiny/64": 2.0, "tiny/1": 10.0,
         "cifar/64": 2.0, "cifar/1": 5.0}
#: Issue 23: the cifar preset with the command line's defaults on the 4,660 shared pictures.
CIFAR_GOALS = {"accuracy": 0.55, "seconds": 30.0}
SHARED_CIFAR = REPO.parent / "shared" / "data" / "cifar10" / "cifar10-4660-train.bin.gz"
BASE_GOALS = {"64": 0.75, "1": 5.0}
#: PyTorch held to a build's instruction set (its own dispatch and oneDNN's), as on a machine that has
#: no more: the baseline a wheel's avx2 or base kernels meet on a laptop without AVX-512 or AVX2.
TORCH_ISA = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
             "base": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}}
#: Another program on the machine (a test run beside the benchmark) takes cores from both engines for
#: minutes at a time, which medians of a few rounds do not absorb on two cores: each process waits
#: (at most --quiet-wait seconds) until others keep fewer than QUIET_CORES cores busy, and a process
#: during which they kept more than RERUN_CORES busy runs again (at most RERUNS times).
QUIET_CORES, RERUN_CORES, RERUNS = 0.2, 0.5, 2
#: Held-out accuracy after at most this many seconds of training with the command line's defaults.
ACCURACY_GOAL, ACCURACY_SECONDS = 0.99, 5.0

# Each step trains on the next of a few fixed random batches with random labels. Repeating one
# batch would drive its loss to zero and the gradients and Adam's moments into subnormal floats,
# which every CPU computes very slowly: not what a real training step sees.
_DATA_BATCHES = 32


def _data(np, batch, input_shape):
    rng = np.random.default_rng(0)
    xs = rng.random((_DATA_BATCHES, batch) + tuple(input_shape)).astype(np.float32)
    ys = rng.integers(0, 10, (_DATA_BATCHES, batch))
    return xs, ys


def _rate(step, batch, seconds, warm=None):
    """Images per second of ``step`` over at least ``seconds`` (after a short warm-up, or after
    ``warm()`` says it has ended)."""
    t0 = time.perf_counter()
    while (warm() if warm else time.perf_counter() - t0 < min(0.2, seconds / 4)):
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
    sys.path.insert(0, args.tree or str(REPO))
    import cnnapp  # noqa: F401  (first: sets the thread environment the app and CLI run with)
    import numpy as np

    import cnncore
    from cnncore.network import Network
    from cnncore.optim import Adam
    try:
        from cnncore.step import RunSteps
    except ImportError:          # a checkout from before RunSteps (--native-tree, --generic-tree, --before)
        RunSteps = None

    if args.threads:
        cnncore.set_num_threads(args.threads)
    specs = json.loads(Path(args.specs).read_text())
    lanes = getattr(cnncore._dispatch._kernels, "VECTOR_LANES", {}).get(4)
    # (a native build is "base", the only one it holds: its vectors say what it compiled for)
    out = {"threads": cnncore.get_num_threads(), "rates": {}, "picked": {},
           "picks": bool(RunSteps and args.pick_threads),
           "kernels": cnncore.KERNEL_BUILD + (f", {32 * lanes}-bit vectors" if lanes else "")}
    for name, spec in specs.items():
        for batch in BATCHES:
            net = Network(spec, seed=0)
            opt = Adam({"all": net.flat_params}, lr=1e-3, decay_mask={"all": net.decay_mask})  # as the Trainer does
            xs, ys = _data(np, batch, net.input_shape)
            ys = ys.astype(np.intp)
            if args.weights:   # what the PyTorch process starts from and must compute
                np.savez(Path(args.weights) / f"{name}-{batch}.npz", logits=net.forward(xs[0], keep=False),
                         **{k.replace(".", "_"): v for k, v in net.params().items()})
            step_call, steps = _trainer_step(net, opt, xs, ys, batch, args.pick_threads, RunSteps)
            out["rates"][f"{name}/{batch}"] = _rate(step_call, batch, args.seconds,
                                                    _warm_up(steps, args.seconds) if steps is not None else None)
            if steps is not None:
                out["picked"][f"{name}/{batch}"] = steps.picker.main
    print(json.dumps(out))


def _trainer_step(net, opt, xs, ys, batch, pick, RunSteps):
    """``(call, steps)``: one training step on the next batch of ``xs``, and with ``pick`` its
    :class:`~cnncore.step.RunSteps`, as the Trainer runs it (the step on the thread count its picker
    finds faster, with the picker's own cost); else None, the step on the kernels' own count (as in a
    checkout from before RunSteps)."""
    from cnncore.step import compile_step

    if RunSteps is None or not pick:
        step = compile_step(net, batch, opt, snapshot=True)
        steps = None
    else:
        steps = RunSteps(net, opt, snapshot=True)

    k = [0]

    def call():
        i = k[0] = (k[0] + 1) % _DATA_BATCHES
        s = steps.get(batch) if steps is not None else step
        t0 = time.perf_counter()
        if s is None:
            net.loss_and_grads(xs[i], ys[i])
            opt.step({"all": net.flat_grads})
        else:
            s.run(xs[i], ys[i])
            if steps is not None:          # (as the Trainer: the layer-by-layer path picks no count)
                steps.record(time.perf_counter() - t0, batch)
    return call, steps


def _warm_up(steps, seconds: float):
    """A warm-up that goes on until the picker has tried the other thread count once (a run's first
    half-second), so what is timed is the count a run keeps; on one thread, the usual one."""
    t0 = time.perf_counter()
    picker = steps.picker
    return lambda: (picker.trials == 0 if picker.setting > 1 else time.perf_counter() - t0 < min(0.2, seconds / 4))


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

#: Checkouts to measure instead of this one's (--native-tree, --generic-tree: an earlier version's builds),
#: and the one measured beside it in the same rounds (--before).
TREES: dict = {}


def _tree_env(build: str, before: bool = False) -> tuple[str, dict]:
    """The checkout a build's process imports cnncore from, and its environment; ``before``: the
    --before checkout's (its native build in place, its generic one made under its build/bench-generic/)."""
    if before:
        root = Path(TREES["before"])
        tree = root if build == "native" else _generic_tree(root)
    elif build == "native":
        tree = TREES.get("native") or REPO
    else:
        tree = TREES.get("generic") or _generic_tree(REPO)
    return str(tree), dict(_ENV, CNNCORE_KERNELS="" if build == "native" else build)


def _generic_tree(root: Path) -> Path:
    """A generic build (a wheel's kernels: base, avx2, avx512) of the sources of the checkout ``root``,
    made once under its build/bench-generic/ and made again when a source changed."""
    tree = root / "build" / "bench-generic"
    sources = sorted(p for p in (root / "cnncore").rglob("*") if p.suffix in (".py", ".pyx", ".h", ".json"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources + [root / "setup.py"])).hexdigest()
    stamp = tree / "sources.sha256"
    if stamp.is_file() and stamp.read_text() == digest:
        return tree
    print(f"  building the generic kernels (base, avx2, avx512) under {tree} …", flush=True)
    shutil.rmtree(tree, ignore_errors=True)
    ignore = shutil.ignore_patterns("*.so", "*.pyd", "*.c", "__pycache__", "*.html")
    for folder in ("cnncore", "cnnapp", "assets"):
        shutil.copytree(root / folder, tree / folder, ignore=ignore)
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(root / name, tree / name)
    env = dict(_ENV, CNNCORE_ARCH="generic")
    subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"], cwd=tree, env=env, check=True,
                   capture_output=True)
    stamp.write_text(digest)
    return tree


def _run(engine, args, specs, weights, build="native"):
    """One process of ``engine`` (cnncore; before: cnncore from the --before checkout; torch) at ``build``."""
    tree, env = _tree_env("native" if engine == "torch" else build, before=engine == "before")
    if engine == "torch":
        env.update(TORCH_ISA.get(build, {}))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "torch" if engine == "torch" else "cnncore",
           "--specs", str(specs), "--seconds", str(args.seconds), "--tree", tree]
    if engine != "before":       # the weights both engines start from: this checkout's
        cmd += ["--weights", str(weights)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.pick_threads and engine != "torch":
        cmd.append("--pick-threads")
    for _ in range(RERUNS + 1):
        if args.quiet_wait:
            wait_until_quiet(QUIET_CORES, args.quiet_wait)
        with OthersLoad() as others:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["(no message)"]
            raise SystemExit(f"bench_train: the {engine} process ({build}) failed: {tail[0]}")
        if not args.quiet_wait or others.cores is None or others.cores <= RERUN_CORES:
            break
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]), others=others.cores)


def _specs_file(tmp: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from cnncore.architecture import PRESETS   # (plain JSON work: no kernels run in this process)

    path = tmp / "specs.json"
    path.write_text(json.dumps(PRESETS))
    return path


def bench_speed(args):
    runners = [("cnncore", b) for b in args.builds] + [("before", b) for b in args.builds if args.before]
    if args.no_torch or importlib.util.find_spec("torch") is None:
        if not args.no_torch:
            print("PyTorch is not installed: cnncore alone (pip install torch==2.13.0 adds the baseline)")
    else:
        runners += [("torch", "native")] + [("torch", b) for b in args.builds if b in TORCH_ISA]
    rounds = {r: [] for r in runners}
    threads, diff, kernels, others, picked = {}, {}, {}, {r: [] for r in runners}, {}
    with tempfile.TemporaryDirectory() as tmp:
        specs = _specs_file(Path(tmp))
        for r in range(args.rounds):    # cnncore first in the first round: it writes the weights
            order = runners[r % len(runners):] + runners[:r % len(runners)] if r else runners
            for engine, build in order:
                res = _run(engine, args, specs, tmp, build)
                rounds[(engine, build)].append(res["rates"])
                for cell, n in res.get("picked", {}).items():
                    picked.setdefault((engine, build, cell), []).append(n)
                others[(engine, build)].append(res["others"])
                threads[engine] = res["threads"]
                fixed = args.pick_threads and engine == "before" and not res.get("picks")
                kernels[(engine, build)] = res.get("kernels", "") + (
                    "; on the kernels' thread count: a checkout without RunSteps" if fixed else "")
                diff.update(res.get("diff", {}))
            print(f"  round {r + 1} of {args.rounds} done, load average {load_average()}; other programs kept "
                  f"{_cores([others[k][-1] for k in runners])} busy during its processes", flush=True)
    _table(rounds, threads, diff, kernels, others, picked)


def _cores(values) -> str:
    """``0.02–0.31 cores``: the range of other programs' use of the cores (? where the system does not say)."""
    known = [v for v in values if v is not None]
    return f"{min(known):.2f}–{max(known):.2f} cores" if known else "? cores"


def _goal(build: str, cell: str) -> float:
    return BASE_GOALS[cell.split("/")[1]] if build == "base" else GOALS.get(cell, 1.0)


def _table(rounds, threads, diff, kernels, others, picked):
    """Per build: our images/s against PyTorch at its full instruction set (the goal's baseline); for avx2
    and base, against PyTorch held to the build's own (what a laptop without more runs); with --before,
    the earlier checkout's images/s measured in the same rounds, its ratio and ours over it; where a
    cell's step ran on fewer threads than the setting (as a training run picks), on how many in each round."""
    print("\nthreads: " + ", ".join(f"{e} {n}" for e, n in threads.items()))
    torch = rounds.get(("torch", "native"))
    for (engine, build), runs in rounds.items():
        if engine != "cnncore":
            continue
        same = rounds.get(("torch", build)) if build in TORCH_ISA else None
        before = rounds.get(("before", build))
        busy = [v for k in ((engine, build), ("before", build), ("torch", "native"), ("torch", build))
                for v in others.get(k, [])]
        print(f"\nbuild {build} (kernels: {kernels[(engine, build)]}), median of {len(runs)} rounds; min–max; "
              f"other programs kept {_cores(busy)} busy during these processes"
              + (f"; 'same ISA': PyTorch held to {build} ({', '.join(f'{k}={v}' for k, v in TORCH_ISA[build].items())})"
                 if same else "")
              + (f"; before: {TREES['before']} (kernels: {kernels[('before', build)]})" if before else ""))
        print(f"{'preset':<8}{'batch':>6}{'cnncore img/s':>15}" + (f"{'torch img/s':>13}{'ratio':>9}{'goal':>16}"
                                                                  if torch else "")
              + (f"{'same ISA':>22}" if same else "")
              + (f"{'before':>10}{'ratio' if torch else '':>8}{'now/before':>11}" if before else ""))
        for cell in runs[0]:
            ran = picked.get((engine, build, cell), [])
            fewer = (f"; on {'/'.join(map(str, ran))} thread{'s' if max(ran) > 1 else ''}"
                     if any(n < threads[engine] for n in ran) else "")
            print(_row(build, cell, runs, torch, same, before, diff)[:-1] + fewer + ")", flush=True)


def _row(build, cell, runs, torch, same, before, diff) -> str:
    """One line of a build's table: ``cell`` (``lenet/64``) in each set of rounds (None: not measured)."""
    name, batch = cell.split("/")
    ours = [r[cell] for r in runs]
    mo = statistics.median(ours)
    line = f"{name:<8}{batch:>6}{mo:>15,.0f}"
    spread = f"{min(ours):,.0f}–{max(ours):,.0f}"
    mt = None
    if torch:
        theirs = [r[cell] for r in torch]
        mt = statistics.median(theirs)
        goal = _goal(build, cell)
        line += f"{mt:>13,.0f}{mo / mt:>8.2f}×{f'≥ {goal:g}× ' + ('met' if mo / mt >= goal else 'missed'):>16}"
        spread += f" vs {min(theirs):,.0f}–{max(theirs):,.0f}; max |Δlogit| {diff[cell]:.1e}"
        if same:
            ms = statistics.median([r[cell] for r in same])
            line += f"{ms:>10,.0f} {mo / ms:5.2f}× {'met' if mo / ms >= goal else 'missed':>6}"
    if before:
        was = [r[cell] for r in before]
        mb = statistics.median(was)
        line += f"{mb:>10,.0f}" + (f"{mb / mt:>7.2f}×" if mt else f"{'':>8}") + f"{mo / mb:>10.2f}×"
        spread += f"; before {min(was):,.0f}–{max(was):,.0f}"
    return f"{line}   ({spread})"


# ----------------------------------------------------------------------------- accuracy on real digits

def _load(name: str):
    import numpy as np

    data = gzip.decompress((SHARED / name).read_bytes())
    nd = data[3]
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(dims)


def _write_idx(path: Path, array) -> Path:
    """``array`` (uint8, images ``(N, 28, 28)`` or labels ``(N,)``) as an IDX file, uncompressed."""
    path.write_bytes(struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
                     + array.tobytes())
    return path


def _cli_run(train_args: list[str], images: Path, labels: Path, seed: int):
    """``(net, trainer, arch)`` of ``cnnapp train --images IMAGES --labels LABELS TRAIN_ARGS --seed SEED``, made by
    the command's own code (its parser, its defaults for IDX files, its held-out rule), without its
    progress bar and its save."""
    from cnnapp.cli import _parser
    from cnnapp.cli import cmd_train

    a = _parser().parse_args(["train", "--images", str(images), "--labels", str(labels), "--out", "unused.npz",
                              *train_args, "--seed", str(seed)])
    cmd_train._fill_defaults(a)
    net, config = cmd_train.network_and_config(a)
    return net, cmd_train._trainer(a, net, config)[0], a.arch


def _accuracy_worker(args):
    sys.path.insert(0, str(REPO))
    import cnnapp  # noqa: F401  (first: the app's thread environment)
    import numpy as np

    import cnncore

    if args.threads:
        cnncore.set_num_threads(args.threads)
    X, y = _load("mnist8k-images-idx3-ubyte.gz"), _load("mnist8k-labels-idx1-ubyte.gz")
    folds = _folds(len(X), args.split, args.folds)
    train_args = args.train_args.split()
    finals, times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(len(folds)):
            test = np.zeros(len(X), bool)
            test[folds[k]] = True
            files = _write_idx(Path(tmp) / "images", X[~test]), _write_idx(Path(tmp) / "labels", y[~test])
            for seed in args.seeds:
                for _ in range(RERUNS + 1):      # again when other programs took a core (for the seconds)
                    net, trainer, arch = _cli_run(train_args, *files, seed)
                    if not finals:
                        _accuracy_header(args, trainer, arch, len(X) - len(folds[k]))
                    final, seconds, within, others = _scored_run(net, trainer, X[test], y[test], args.quiet_wait)
                    if not args.quiet_wait or others is None or others <= RERUN_CORES:
                        break
                finals.append(final)
                times.append(seconds)
                late = (f"; {within:.2%} at the last epoch within {ACCURACY_SECONDS:g} s"
                        if seconds > ACCURACY_SECONDS and within is not None else "")
                print(f"  fold {k + 1}, seed {seed}: {final:.2%} after {seconds:.2f} s of training (load "
                      f"{load_average()}; other programs kept {_cores([others])} busy){late}", flush=True)
    _accuracy_summary(finals, times, len(folds), len(args.seeds))


def _scored_run(net, trainer, X_test, y_test, quiet_wait: float):
    """Run ``trainer`` to its end; ``(accuracy on X_test, seconds of training, accuracy after the last epoch
    within ACCURACY_SECONDS or None, cores other programs kept busy)``."""
    from cnncore.training import EpochEvent, FinishedEvent, evaluate

    within, seconds = None, 0.0
    if quiet_wait:
        wait_until_quiet(QUIET_CORES, quiet_wait)
    with OthersLoad() as others:
        for ev in trainer.run():
            if isinstance(ev, EpochEvent) and ev.seconds <= ACCURACY_SECONDS:
                within = evaluate(net, X_test, y_test)[1]
            elif isinstance(ev, FinishedEvent):
                seconds = ev.seconds
    return evaluate(net, X_test, y_test)[1], seconds, within, others.cores


def _folds(n: int, split: str, k: int) -> list:
    """The indices of the ``k`` held-out thousands of ``n`` digits: ``random`` thousands (a fixed shuffle),
    or the ``last`` thousands in file order, from the end back (7,000–7,999 first)."""
    import numpy as np

    if split == "random":
        return np.array_split(np.random.default_rng(2024).permutation(n), n // 1000)[:k]
    return [np.arange(n - 1000 * (i + 1), n - 1000 * i) for i in range(min(k, n // 1000))]


def _accuracy_header(args, trainer, arch: str, n_files: int) -> None:
    import cnncore

    c, n = trainer.config, len(trainer.X)
    print(f"\naccuracy after ≤ {ACCURACY_SECONDS:g} s of `cnnapp train --images F --labels F "
          f"{args.train_args or '(its defaults)'}` ({arch}, "
          f"{c.epochs} epochs, batch {c.batch_size}, {c.optimizer} {c.lr:g}, weight decay {c.weight_decay:g}, "
          f"augment {c.augment}), {cnncore.get_num_threads()} thread(s): files of {n_files:,} of the 8,000 shared "
          f"digits, of which the command trains on {n:,} (the rest it holds out), scored on the other 1,000 "
          f"({args.split} thousands; ±0.3 points of noise)", flush=True)


def _accuracy_summary(finals, times, folds: int, seeds: int) -> None:
    mean = statistics.fmean(finals)
    spread = (f" ± {statistics.stdev(finals):.2%} (sd; {min(finals):.2%}–{max(finals):.2%})"
              if len(finals) > 1 else "")
    print(f"  mean {mean:.2%}{spread} over {folds} folds × {seeds} seeds, after {statistics.median(times):.2f} s "
          f"of training (median; at most {max(times):.2f} s) (goal ≥ {ACCURACY_GOAL:.0%} after ≤ "
          f"{ACCURACY_SECONDS:g} s: {'met' if mean >= ACCURACY_GOAL else 'missed'} on accuracy; check the seconds "
          f"against the load)")


def bench_accuracy(args):
    if not (SHARED / "mnist8k-images-idx3-ubyte.gz").is_file():
        print(f"\naccuracy: skipped, no shared digits in {SHARED}")
        return
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "accuracy", "--folds", str(args.folds),
           "--split", args.split, "--seeds", ",".join(map(str, args.seeds)), f"--train-args={args.train_args}",
           "--quiet-wait", str(args.quiet_wait)]   # = : ARGS may start with -
    if args.threads:
        cmd += ["--threads", str(args.threads)]
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
    """The convolutions' efficiency for each build: bench_kernels' table of the register tiles, in a process
    of its own, with an FMA probe of the build's own instruction set measured beside each layer."""
    print("\nconvolution loops against this machine's fp32 peak (goal: every pass of lenet and wide ≥ 60% of the "
          "peak at batch 64, and at batch 1 for every pass above 10 MFLOP)", flush=True)
    for build in args.builds:
        for before in (False, True) if args.before else (False,):
            tree, env = _tree_env(build, before)
            if args.threads:
                env["CNNCORE_NUM_THREADS"] = str(args.threads)
            if args.quiet_wait:
                wait_until_quiet(QUIET_CORES, args.quiet_wait)
            print(f"\nbuild {build}{' before (' + tree + ')' if before else ''}:", flush=True)
            with OthersLoad() as busy:
                subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_kernels.py"), "--tiles-only", "--isa",
                                build, "--tree", tree], env=env, check=True)
            print(f"(other programs kept {_cores([busy.cores])} busy during this table)", flush=True)


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(v) for v in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"seeds are whole numbers >= 0 with commas between them, not {text!r}")
    return seeds


def _builds(text: str) -> list[str]:
    names = [b.strip() for b in text.split(",") if b.strip()]
    bad = [b for b in names if b not in BUILDS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"builds are {', '.join(BUILDS)}, not {text!r}")
    return names


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None,
                   help="threads for both engines (default: each engine's own default)")
    p.add_argument("--seconds", type=float, default=1.5, help="measuring time per cell, engine and round")
    p.add_argument("--pick-threads", action="store_true",
                   help="time cnncore's step as a training run takes it: on the thread count its picker finds "
                        "faster (the setting's, or one thread), with the picker's own cost (default: on the "
                        "kernels' thread count)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of both engines (median reported)")
    p.add_argument("--quiet-wait", type=float, default=120.0, metavar="S",
                   help=f"before each process, wait at most S seconds until other programs keep fewer than "
                        f"{QUIET_CORES:g} cores busy, and run a process again (at most {RERUNS} times) when they "
                        f"kept more than {RERUN_CORES:g} busy during it (0: neither)")
    p.add_argument("--builds", type=_builds, default=_builds("native,avx2,base"),
                   help="builds of the kernels to measure, of " + ", ".join(BUILDS) + " (default native,avx2,base)")
    p.add_argument("--native-tree", metavar="DIR", help="measure the native build in this checkout (e.g. an earlier "
                                                        "version's, for a before-and-after)")
    p.add_argument("--before", metavar="DIR",
                   help="measure this checkout's builds too (e.g. main's, with its native build in place), in the "
                        "same alternating rounds, and print its figures beside these")
    p.add_argument("--generic-tree", metavar="DIR", help="take the avx2/avx512/base kernels from this checkout's "
                                                         "generic build (CNNCORE_ARCH=generic, in place)")
    p.add_argument("--train-args", default="", metavar="ARGS",
                   help="arguments of `cnnapp train` for the accuracy run (default: none, its defaults)")
    p.add_argument("--folds", type=int, default=3, help="folds of 1,000 held-out digits for the accuracy (default 3)")
    p.add_argument("--split", choices=("random", "last"), default="random",
                   help="the held-out thousands: random ones (default) or the last ones in file order, from the "
                        "second half of MNIST's test set as the 2,000 digits the issue checks on")
    p.add_argument("--seeds", type=_seeds, default=_seeds("0"), metavar="S,S,…",
                   help="the accuracy run's --seed values (the weights and the shuffles), each on every fold "
                        "(default 0; they win over a --seed in --train-args)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--no-accuracy", action="store_true")
    p.add_argument("--no-cifar", action="store_true", help="leave out the cifar preset's accuracy and time")
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--no-tiles", action="store_true", help="leave out the convolution loops' share of the peak")
    p.add_argument("--worker", choices=ENGINES + ("accuracy", "cifar"), help=argparse.SUPPRESS)
    p.add_argument("--specs", help=argparse.SUPPRESS)
    p.add_argument("--tree", help=argparse.SUPPRESS)
    p.add_argument("--weights", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    TREES.update(native=args.native_tree, generic=args.generic_tree, before=args.before)
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
