"""Kill -9 test of every command that writes (not part of CI: a full run takes half an hour).

Runs ``cnnapp export --to torch``, ``export --to onnx``, ``train --out``, ``trace --out`` and
``inspect --out`` in child processes and SIGKILLs each at a random moment, ``--kills`` times per
command (half of them at a random time of the whole run, half just after the child announces a
temporary file or a rename, which the child slows down at random to widen the window). After
every kill it checks:

* the output is the old complete file ("unchanged") or a new complete one (a model that loads, a trace that
  opens, an ``inspect`` file with all its arrays, an ONNX graph whose logits are a model's);
  a torch export's ``load_model()`` either works, giving the logits of the model whose files
  those are, or refuses with its one clear line ("this export was interrupted or edited"):
  never a silent mix;
* the models read (and the data files) are byte for byte as they were, and load;
* temporary files left by killed children go with the next child's write in that folder.

Successive runs alternate their inputs (two models of different layers, seeds, images) so that
the old and the new output differ. Prints a table per command; exit status 1 on any fault.

    python tools/killtest.py                 # 100 kills per command
    python tools/killtest.py --kills 10      # a quick run
    python tools/killtest.py --only torch,onnx --seed 3
    python tools/killtest.py --code ../old-checkout --kills 20    # what the checks find in another version
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import importlib.util
import os
import random
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# The child: announce each temporary file ("T") and rename ("R") on a pipe, and sleep a little at
# random before doing it, then run the command line.
_CHILD = r"""
import os, random, sys, tempfile, time
fd, seed, slow = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
rng, marks = random.Random(seed), os.fdopen(int(sys.argv[1]), "wb", buffering=0)
real_replace, real_mkstemp = os.replace, tempfile.mkstemp
def replace(a, b):
    marks.write(b"R"); time.sleep(rng.uniform(0, slow)); real_replace(a, b)
def mkstemp(*a, **k):
    marks.write(b"T"); time.sleep(rng.uniform(0, slow)); return real_mkstemp(*a, **k)
os.replace, tempfile.mkstemp = replace, mkstemp
from cnnapp.cli import main
sys.exit(main(sys.argv[4:]))
"""


def sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class Child:
    """One run of the command line, its marks read as they come."""

    code = REPO          # the checkout whose command line runs (--code)

    def __init__(self, argv, seed: int, slow: float, cwd: Path):
        read, write = os.pipe()
        env = {**os.environ, "PYTHONPATH": str(self.code), "PYTHONDONTWRITEBYTECODE": "1"}
        self.proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(write), str(seed), str(slow), *argv],
                                     pass_fds=(write,), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        os.close(write)
        self.read, self.marks, self.start = read, b"", time.monotonic()

    def poll_marks(self, timeout: float) -> bool:
        """Read marks for up to ``timeout`` s; False once the child has closed the pipe (ended)."""
        ready, _, _ = select.select([self.read], [], [], max(timeout, 0))
        if ready:
            data = os.read(self.read, 64)
            if not data:
                return False
            self.marks += data
        return True

    def kill_at(self, when: float | None, mark: int | None, after: float) -> str:
        """Kill ``when`` s after the start, or ``after`` s after the ``mark``-th mark; returns
        "killed" or "finished" (it ended first)."""
        alive = True
        while alive:
            if mark is not None and len(self.marks) > mark:
                time.sleep(after)
                break
            if when is not None and time.monotonic() - self.start >= when:
                break
            limit = 0.05 if when is None else when - (time.monotonic() - self.start)
            alive = self.poll_marks(min(0.05, limit))
        if alive:
            self.proc.kill()
        self.proc.wait()            # the pipe closed: it is ending by itself
        while self.poll_marks(0):
            pass
        os.close(self.read)
        self.stderr = self.proc.stderr.read().decode(errors="replace").strip()
        self.proc.stderr.close()
        return "finished" if self.proc.returncode == 0 else "killed" if self.proc.returncode < 0 else "failed"


# ----------------------------------------------------------------------------- what each command is

class Setup:
    """Two models of different layers, images, labels, and what each model answers on them."""

    def __init__(self, root: Path):
        from cnncore.architecture import preset
        from cnncore.datasets import generated_digits
        from cnncore.modelio import save_model
        from cnncore.network import Network

        self.root = root
        self.models = {"a": root / "a.npz", "b": root / "b.npz"}
        self.nets = {"a": Network(preset("tiny"), seed=1), "b": Network(preset("lenet"), seed=2)}
        for key, net in self.nets.items():
            save_model(self.models[key], net)
        self.x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
        self.want = {k: net.forward(self.x, keep=False) for k, net in self.nets.items()}
        X, y = generated_digits(64, seed=3)
        self.inputs = [*self.models.values(), _write_idx(root / "img.idx", X), _write_idx(root / "lab.idx", y)]
        self.images, self.labels = self.inputs[2], self.inputs[3]
        self.digests = {p: sha(p) for p in self.inputs}

    def inputs_intact(self) -> str | None:
        from cnncore.modelio import load_model

        for p, d in self.digests.items():
            if sha(p) != d:
                return f"{p.name} changed"
        for p in self.models.values():
            load_model(p)
        return None

    def matches(self, logits) -> str | None:
        return next((k for k, want in self.want.items() if np.allclose(logits, want, atol=1e-4)), None)


def _write_idx(path: Path, array) -> Path:
    """``array`` (uint8, images 3-D or labels 1-D) as an IDX file."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    head = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(head + array.tobytes())
    return path


def _npz_state(check):
    """A state function for a single-file output: "absent", "complete" or "BROKEN: why"."""
    def state(setup, out: Path):
        if not out.exists():
            return "absent"
        try:
            return check(setup, out)
        except Exception as e:  # noqa: BLE001 - a broken output is what this looks for
            return f"BROKEN: {type(e).__name__}: {e}"
    return state


def _model_ok(setup, out):
    from cnncore.modelio import load_model
    load_model(out)
    return "complete"


def _trace_ok(setup, out):
    from cnncore.trace import Trace
    Trace.load(out)
    return "complete"


def _inspect_ok(setup, out):
    with np.load(out, allow_pickle=False) as f:
        missing = {"input", "label", "predicted", "saliency", "adversarial", "epsilon"} - set(f.files)
        for k in f.files:
            f[k]
    return f"BROKEN: lacks {sorted(missing)}" if missing else "complete"


def _onnx_ok(setup, out):
    import onnxruntime as ort
    logits = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(["logits"], {"input": setup.x})[0]
    key = setup.matches(logits)
    return f"complete ({key})" if key else "BROKEN: logits of neither model"


_loaded = [0]


def _torch_state(setup, folder: Path) -> str:
    import torch

    if not (folder / "model.py").exists():
        return "absent"
    _loaded[0] += 1
    try:
        spec = importlib.util.spec_from_file_location(f"killtest_model_{_loaded[0]}", folder / "model.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with torch.no_grad():
            logits = module.load_model()(torch.from_numpy(setup.x)).numpy()
    except Exception as e:  # noqa: BLE001
        clear = type(e).__name__ == "ExportMismatch" and "this export was interrupted or edited" in str(e)
        return "refused" if clear and "\n" not in str(e) else f"BROKEN: {type(e).__name__}: {e}"
    key = setup.matches(logits)
    return f"complete ({key})" if key else "BROKEN: logits of neither model"


def commands(setup: Setup) -> dict:
    """name -> (argv of run i, the output, its state function, how many files a run writes)."""
    m, out = setup.models, setup.root / "out"
    data = ["--images", str(setup.images), "--labels", str(setup.labels)]
    return {
        "torch": (lambda i: ["export", str(m["ab"[i % 2]]), "--to", "torch", "--out", str(out / "torch")],
                  out / "torch", _torch_state, 3),
        "onnx": (lambda i: ["export", str(m["ab"[i % 2]]), "--to", "onnx", "--out", str(out / "m.onnx")],
                 out / "m.onnx", _npz_state(_onnx_ok), 1),
        "train": (lambda i: ["train", "--arch", "tiny", *data, "--epochs", "1", "--seed", str(i % 2), "--quiet",
                             "--out", str(out / "trained.npz")], out / "trained.npz", _npz_state(_model_ok), 1),
        "trace": (lambda i: ["trace", str(m["a"]), *data, "--index", str(i % 2), "--out", str(out / "trace.npz")],
                  out / "trace.npz", _npz_state(_trace_ok), 1),
        "inspect": (lambda i: ["inspect", str(m["a"]), *data, "--index", str(i % 2), "--out", str(out / "look.npz")],
                    out / "look.npz", _npz_state(_inspect_ok), 1),
    }


# ----------------------------------------------------------------------------- the run

def _temps(folder: Path) -> dict:
    return {p.name: p.stat().st_size for p in folder.glob(".*.tmp")} if folder.is_dir() else {}


def _fingerprint(output: Path) -> tuple:
    files = sorted(output.iterdir()) if output.is_dir() else [output]
    return tuple((p.name, sha(p)) for p in files if not p.name.endswith(".tmp"))


def tally_kills(tally) -> int:
    return sum(n for (outcome, _, _), n in tally.items() if outcome == "killed")


def run_command(name, setup, spec, kills: int, rng: random.Random, slow: float) -> dict:
    argv, output, state_of, writes = spec
    folder = output if output.suffix == "" else output.parent
    folder.mkdir(parents=True, exist_ok=True)
    durations = []
    for i in range(2):                                           # the old output, and how long a run takes
        child = Child(argv(i), rng.randrange(1 << 30), 0.0, setup.root)
        if child.kill_at(None, 10 ** 9, 0) != "finished":
            raise SystemExit(f"{name}: an unkilled run failed: {child.stderr}")
        durations.append(time.monotonic() - child.start)
    duration = max(durations)
    tally, faults, left_max, swept = collections.Counter(), [], 0, 0
    before, state = _fingerprint(output), state_of(setup, output)
    i = 0
    while tally_kills(tally) < kills and i < 3 * kills:
        i += 1
        temps_before = _temps(folder)
        if rng.random() < 0.5:                                  # at any time of the run
            when, mark, after = rng.uniform(0, 1.1 * duration), None, 0.0
        else:
            when, mark, after = None, rng.randrange(2 * writes), rng.uniform(0, slow)
        child = Child(argv(i), rng.randrange(1 << 30), slow, setup.root)
        outcome = child.kill_at(when, mark, after)
        now = state_of(setup, output)
        same = _fingerprint(output) == before
        verdict = ("unchanged" if same else "new" if now.startswith("complete") else now if now == "refused" else "BAD")
        if (verdict == "BAD" or now.startswith("BROKEN")) if not same else now != state:   # a state not seen before
            faults.append(f"{name} kill {i}: {now} (marks {child.marks!r}, {outcome}) {child.stderr[-200:]}")
        if b"T" in child.marks:          # it wrote in the folder: the dead children's temporaries are gone
            stale = [t for t in temps_before if t in _temps(folder)]
            swept += bool(temps_before) and not stale
            if stale:
                faults.append(f"{name} kill {i}: temporary files of dead writers not swept: {stale}")
        problem = setup.inputs_intact()
        if problem:
            faults.append(f"{name} kill {i}: input {problem}")
        left_max = max(left_max, sum(_temps(folder).values()))
        tally[(outcome, f"{child.marks.count(b'R')}/{writes} renames", verdict)] += 1
        before, state = _fingerprint(output), now
    return {"tally": tally, "faults": faults, "duration": duration, "left_max": left_max,
            "left_end": _temps(folder), "swept": swept}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=100, help="kills per command (default 100)")
    p.add_argument("--only", default="torch,onnx,train,trace,inspect", help="commas: which commands")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--code", type=Path, default=REPO, help="run the command line of this checkout (an older "
                   "version, to see what the checks catch); the checks use this one")
    p.add_argument("--slow", type=float, default=0.03, help="the child's longest random pause before a "
                   "temporary file or a rename, s (default 0.03)")
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    Child.code = args.code.resolve()
    with tempfile.TemporaryDirectory(prefix="killtest.") as tmp:
        root = Path(tmp)
        setup = Setup(root)
        specs = commands(setup)
        total_faults = 0
        for name in args.only.split(","):
            t0 = time.monotonic()
            r = run_command(name, setup, specs[name], args.kills, rng, args.slow)
            print(f"\n{name}: {tally_kills(r['tally'])} kills in {time.monotonic() - t0:.0f} s (an unkilled run takes "
                  f"{r['duration']:.2f} s); killed children's temporary files: at most {r['left_max']:,} bytes "
                  f"at once, swept by the next child's write {r['swept']} times (never left), "
                  f"{len(r['left_end'])} after the last kill")
            for (outcome, renames, verdict), n in sorted(r["tally"].items()):
                print(f"  {n:4d}  {outcome:8s} after {renames:13s} announced -> output {verdict}")
            for fault in r["faults"]:
                print("  FAULT", fault)
            total_faults += len(r["faults"])
        print(f"\n{total_faults} faults")
    return 1 if total_faults else 0


if __name__ == "__main__":
    sys.exit(main())
