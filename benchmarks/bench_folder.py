"""Reading a big folder of pictures: the whole CIFAR-10 as files, as ``cnnapp train --folder`` reads it.

    python benchmarks/bench_folder.py [--pictures N] [--size S] [--keep DIR]

Writes N PNG pictures (default 60,000, CIFAR-10's count) of S×S pixels (default 32) into ten class
folders of a temporary folder (from the shared CIFAR-10 pictures when ``../shared/data/cifar10``
is there, else random colours), then times listing it (:func:`cnncore.datasets.folder.scan_folder`)
and reading it at the cifar preset's 3×32×32 (:func:`~cnncore.datasets.folder.load_folder`), with
the pictures per second, the memory the pictures take and the largest the process grew to.
``--keep DIR`` writes (or reuses) the folder there instead of a temporary one.
"""
from __future__ import annotations

import argparse
import gzip
import resource
import sys
import tempfile
import time
from pathlib import Path

from _machine import cpu_name, load_average

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "cifar10" / "cifar10-4660-train.bin.gz"


def _pictures(n: int, size: int):
    import numpy as np
    if SHARED.is_file():
        rec = np.frombuffer(gzip.decompress(SHARED.read_bytes()), np.uint8).reshape(-1, 3073)
        X, y = rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), rec[:, 0]
    else:
        rng = np.random.default_rng(0)
        X, y = rng.integers(0, 256, (1000, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 1000)
    for i in range(n):
        yield i, X[i % len(X)], int(y[i % len(X)])


def _write(root: Path, n: int, size: int) -> float:
    from PIL import Image
    t0 = time.perf_counter()
    for c in range(10):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
    for i, x, label in _pictures(n, size):
        im = Image.fromarray(x)
        if size != 32:
            im = im.resize((size, size))
        im.save(root / f"class{label}" / f"{i:06d}.png")
    return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pictures", type=int, default=60_000)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--keep", type=Path, default=None)
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from cnncore.datasets.folder import load_folder, scan_folder

    print(f"folder benchmark on {cpu_name()}, load average {load_average()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "pictures"
        if not (root.is_dir() and sum(1 for _ in root.rglob("*.png")) == args.pictures):
            print(f"writing {args.pictures:,} PNGs of {args.size}×{args.size} into {root} …", flush=True)
            print(f"  {_write(root, args.pictures, args.size):.1f} s")
        t0 = time.perf_counter()
        scan = scan_folder(root)
        t_scan = time.perf_counter() - t0
        print(f"listed {len(scan.files):,} pictures in {len(scan.classes)} classes in {t_scan:.2f} s", flush=True)
        last = [0.0]

        def progress(done, total, what):
            now = time.perf_counter()
            if now - last[0] > 5 or done == total:
                last[0] = now
                print(f"  {done:,}/{total:,} {what} after {now - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        got = load_folder(root, (3, 32, 32), progress=progress)
        t_read = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"read {len(got.X):,} pictures at 3×32×32 in {t_read:.1f} s ({len(got.X) / t_read:,.0f} pictures/s); "
              f"they take {got.X.nbytes / 1e6:.0f} MB; the process grew to {peak:.0f} MB; "
              f"{len(got.skipped)} skipped; load average {load_average()}")


if __name__ == "__main__":
    main()
