"""Speed of the cnncore kernels against baselines timed in the same run.

    python benchmarks/bench_kernels.py [--quick] [--tiles-only] [--isa native|avx512|avx2|base] [--tree DIR]

First, the register tiles alone: for each convolution of the ``lenet`` and
``wide`` presets at batch 64 and 1, the loop calls of the forward pass, the
filter gradient dW and the input gradient dx, each timed on its own (no
copies), in GFLOP/s (2 FLOP per multiply-add of the textbook sums, so the
wide-row columns computed and dropped count as overhead) and as a share of this
machine's fp32 peak, measured in the same run by an FMA probe (a small C loop
of independent vector FMAs compiled here with the system ``cc`` for the
instruction set of the build being measured, ``--isa``: an ``avx2`` build of a
wheel is held to an AVX2 probe, the portable ``base`` build to SSE2's multiply
and add). ``--tree`` imports cnncore from another checkout (a generic build;
``CNNCORE_KERNELS`` picks its kernels).

Then, for the layers of a small LeNet (1→8 5×5, max-pool 2, 8→16 5×5, max-pool 2)
and the wide preset (1→16 3×3 pad 1, pool 2, 16→32 3×3 pad 1, pool 2), at batch 1
and 64, with 1 and 2 threads, it prints microseconds per call for forward and
backward, GFLOP/s, and the ratio baseline_time / cnncore_time against

* a NumPy im2col + matmul implementation (always), and
* PyTorch's CPU convolution and pooling ops (when ``torch`` imports; it is imported after
  the tiles' table, so that table runs with one OpenMP runtime in the process; whole
  training steps, where the two runtimes must never meet, are compared by bench_train.py).

A ratio above 1 means cnncore is faster. Absolute times vary from machine to
machine and from minute to minute; the ratios, measured in the same process
with interleaved repetitions, are what to compare. Pooling rotates through
several different real inputs so that a fixed input cannot flatter the branch
predictor. Inputs are real: the first convolution sees MNIST digits from
``../shared/data/mnist`` (generated digits when that folder is absent), and
every other layer sees the ReLU of a convolution of them.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# --tree DIR: the checkout to import cnncore from (read before the import)
_TREE = sys.argv[sys.argv.index("--tree") + 1] if "--tree" in sys.argv[:-1] else str(Path(__file__).resolve().parents[1])
sys.path.insert(0, _TREE)

import cnncore  # noqa: E402
from cnncore import plans  # noqa: E402
from cnncore._threads import threads_for  # noqa: E402
try:
    from cnncore.layers.conv_plan import ConvPlan  # noqa: E402
except ImportError:      # (a checkout from before the plans moved beside their layers: --tree)
    ConvPlan = plans.ConvPlan
from cnncore._dispatch import _kernels  # noqa: E402
try:
    from cnncore.layers import conv_dx  # noqa: E402
except ImportError:      # (a checkout from before dx had two ways)
    conv_dx = None
from cnncore.shapes import conv_output_size  # noqa: E402

from _machine import cpu_name, load_average  # noqa: E402

torch = TF = None     # PyTorch, the optional baseline: imported after the tiles' table (see _import_torch)


def _import_torch():
    """Import PyTorch for the comparison tables only: the tiles' table runs before, with no second
    OpenMP runtime in the process."""
    global torch, TF
    try:
        import torch
        import torch.nn.functional as TF
    except ImportError:
        torch = TF = None

CONV_LAYERS = [
    # name, N-independent shape: C, H, W, F, K, padding
    ("lenet conv1 1→8 5×5", 1, 28, 28, 8, 5, 0),
    ("lenet conv2 8→16 5×5", 8, 12, 12, 16, 5, 0),
    ("wide conv1 1→16 3×3 p1", 1, 28, 28, 16, 3, 1),
    ("wide conv2 16→32 3×3 p1", 16, 14, 14, 32, 3, 1),
]
POOL_LAYERS = [
    ("lenet pool1 8×24×24", 8, 24, 24),
    ("lenet pool2 16×8×8", 16, 8, 8),
    ("wide pool1 16×28×28", 16, 28, 28),
    ("wide pool2 32×14×14", 32, 14, 14),
]


def timeit(fn, min_time=0.15, repeats=5):
    """Seconds per call of ``fn``: the fastest of ``repeats`` runs of about ``min_time`` each."""
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > min_time / 4 or n > 1 << 20:
            break
        n *= 4
    n = max(1, int(n * (min_time / max(dt, 1e-9))))
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n)
    return min(runs)          # the least disturbed run: other processes only ever add time


# ------------------------------------------------------ NumPy im2col baseline

def _windows(xp, KH, KW, S):
    v = np.lib.stride_tricks.sliding_window_view(xp, (KH, KW), axis=(2, 3))
    return v[:, :, ::S, ::S]                                  # (N, C, Ho, Wo, KH, KW)


def np_conv_forward(x, w, b, S, P):
    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    F, C, KH, KW = w.shape
    cols = _windows(xp, KH, KW, S)
    N, _, Ho, Wo = cols.shape[:4]
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, C * KH * KW)
    z = cols @ w.reshape(F, -1).T + b
    return z.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)


def np_conv_backward(dz, x, w, S, P, need_dx):
    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    F, C, KH, KW = w.shape
    cols = _windows(xp, KH, KW, S)
    N, _, Ho, Wo = cols.shape[:4]
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, C * KH * KW)
    dzm = dz.transpose(0, 2, 3, 1).reshape(N * Ho * Wo, F)
    dw = (dzm.T @ cols).reshape(w.shape)
    db = dzm.sum(axis=0)
    dx = None
    if need_dx:
        dcols = (dzm @ w.reshape(F, -1)).reshape(N, Ho, Wo, C, KH, KW)
        dxp = np.zeros_like(xp)
        for i in range(KH):
            for j in range(KW):
                dxp[:, :, i:i + S * Ho:S, j:j + S * Wo:S] += dcols[..., i, j].transpose(0, 3, 1, 2)
        dx = dxp[:, :, P:P + x.shape[2], P:P + x.shape[3]]
    return dx, dw, db


def np_maxpool_forward(x, K):
    N, C, H, W = x.shape
    v = x[:, :, :H // K * K, :W // K * K].reshape(N, C, H // K, K, W // K, K)
    v = v.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, H // K, W // K, K * K)
    k = v.argmax(axis=-1)
    return np.take_along_axis(v, k[..., None], -1)[..., 0], k


def np_maxpool_backward(dy, k, shape, K):
    N, C, H, W = shape
    Ho, Wo = dy.shape[2:]
    d = np.zeros((N, C, Ho, Wo, K * K), dy.dtype)
    np.put_along_axis(d, k[..., None], dy[..., None], -1)
    dx = np.zeros(shape, dy.dtype)
    dx[:, :, :Ho * K, :Wo * K] = d.reshape(N, C, Ho, Wo, K, K).transpose(0, 1, 2, 4, 3, 5).reshape(
        N, C, Ho * K, Wo * K)
    return dx


# --------------------------------------------------------------------- data

def real_inputs(N, C, H, W, rng, count=1):
    """``count`` batches of shape (N, C, H, W) made from real digits.

    One channel at 28×28: the digits themselves. Otherwise: ReLU of random 5×5
    filters over the digits (resized by cropping/tiling to H×W), which has the
    sparse, clustered look of a real feature map.
    """
    from cnncore.datasets import generated_digits, load_shared_mnist, to_input
    try:
        X, _ = load_shared_mnist()
    except Exception:                       # no ../shared here: generated digits instead
        X, _ = generated_digits(2000, seed=0)
    digits = to_input(X)                    # (M, 1, 28, 28) float32
    out = []
    for _ in range(count):
        idx = rng.integers(0, len(digits), N)
        d = digits[idx]
        if C == 1 and (H, W) == (28, 28):
            out.append(np.ascontiguousarray(d))
            continue
        w = rng.standard_normal((C, 1, 5, 5)).astype(np.float32) * 0.3
        maps = np.maximum(cnncore.conv2d_forward(d, w, np.zeros(C, np.float32), 1, 2), 0)  # (N, C, 28, 28)
        reps = (1, 1, -(-H // 28), -(-W // 28))
        out.append(np.ascontiguousarray(np.tile(maps, reps)[:, :, :H, :W]))
    return out


# ------------------------------------------------------------ FMA peak probe

_PROBE_C = r"""
/* CHAINS independent chains of full-width vector FMAs per thread: the fp32 peak. Every chain, m
   and c stay in registers: 16 chains where there are 32 vector registers (AVX-512), 12 where there
   are 16 (18 values in 16 registers spilt two chains to memory on every pass: an AVX2 probe at half
   the AVX2 peak). 12 chains still cover the FMA latency of both pipes (4 cycles x 2). */
#if defined(__AVX512F__)
#define VBYTES 64
#define CHAINS 16
#define REG "+v"
#elif defined(__AVX__)
#define VBYTES 32
#define CHAINS 12
#define REG "+x"
#else
#define VBYTES 16
#define CHAINS 12
#define REG "+x"
#endif
typedef float vec __attribute__((vector_size(VBYTES)));
#define CHAIN(k) vec a##k = (vec){0} + (float)k;
#define STEP(k) a##k = a##k * m + c; __asm__ volatile("" : REG(a##k));
#define SUM(k) s += a##k;
#if CHAINS == 16
#define ALL(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#else
#define ALL(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#endif
int probe_lanes(void) { return VBYTES / sizeof(float); }
int probe_chains(void) { return CHAINS; }
float probe_run(int threads, long iters)
{
    float total = 0;
    #pragma omp parallel num_threads(threads) reduction(+:total)
    {
        const vec m = (vec){0} + 0.999999f, c = (vec){0} + 1e-7f;
        ALL(CHAIN)
        for (long i = 0; i < iters; i++) { ALL(STEP) }
        vec s = (vec){0};
        ALL(SUM)
        for (int l = 0; l < VBYTES / (int)sizeof(float); l++) total += s[l];
    }
    return total;
}
"""


#: The probe's compiler flags for the instruction set of each build (setup.py's VARIANTS).
ISA_FLAGS = {
    "native": ["-march=native", "-mprefer-vector-width=512"],
    "avx512": ["-mavx512f", "-mavx512cd", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mfma"],
    "avx2": ["-mavx2", "-mfma"],
    "base": [],
}


class FmaProbe:
    """The machine's fp32 multiply-add throughput for one instruction set, from a probe compiled
    here (``cc -O2`` with the flags of ``isa``, 12 or 16 independent chains per thread). ``peak(threads)``
    is GFLOP/s; None without a compiler."""

    def __init__(self, isa: str = "native"):
        self.lib = None
        cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
        if cc is None:
            return
        self._dir = tempfile.TemporaryDirectory()
        src, lib = Path(self._dir.name, "probe.c"), Path(self._dir.name, "probe.so")
        src.write_text(_PROBE_C)
        flags = ["-O2", *ISA_FLAGS[isa], "-fopenmp", "-shared", "-fPIC"]
        if subprocess.run([cc, *flags, str(src), "-o", str(lib)], capture_output=True).returncode:
            return
        self.lib = ctypes.CDLL(str(lib))
        self.lib.probe_run.argtypes = [ctypes.c_int, ctypes.c_long]
        self.lib.probe_run.restype = ctypes.c_float
        self.flop_per_iter = 2 * self.lib.probe_lanes() * self.lib.probe_chains()

    def peak(self, threads, repeats=5):
        """GFLOP/s of ``threads`` threads: the best of ``repeats`` runs of about 20 ms."""
        if self.lib is None:
            return None
        best, iters = 0.0, 1_000_000
        for _ in range(repeats):
            t0 = time.perf_counter()
            self.lib.probe_run(threads, iters)
            best = max(best, self.flop_per_iter * iters * threads / (time.perf_counter() - t0) / 1e9)
        return best


# ------------------------------------------------------------ the tiles alone

TILE_LAYERS = [
    # name, C, H, W, F, K, padding, needs dx (a first layer does not)
    ("lenet conv1", 1, 28, 28, 8, 5, 0, False),
    ("lenet conv2", 8, 12, 12, 16, 5, 0, True),
    ("wide conv1", 1, 28, 28, 16, 3, 1, False),
    ("wide conv2", 16, 14, 14, 32, 3, 1, True),
]


def tile_calls(plan, x, w, b, dz, nt):
    """``{pass: the loop call of that pass alone}`` on the buffers of a ``ConvPlan`` (stride 1)
    after one forward and backward pass laid them out and filled them."""
    need_dx = plan.in_shape[0] > 1
    plan.forward(x, w, b)
    plan.backward(dz, x, w, need_dx=need_dx)
    conv, parts, xpad = plan._fwd[0], plan._dw, plan._xpad
    F = plan.w_shape[0]
    wt = conv.wt if conv.wt is not None else np.ascontiguousarray(w.reshape(F, -1))
    N, C, Hp, Wp = xpad.view.shape
    KH, KW = plan.kernel
    off = plans._tap_offsets(C, KH, KW, Hp, Wp)
    runs = (conv.runs, conv.pitch) if hasattr(conv, "runs") else ()     # (a checkout before strided rows: one run)
    calls = {"forward": lambda: _kernels.conv_wide(conv.src, conv.sample, conv.off, wt, conv.bias, conv.out, nt, *runs)}
    if getattr(parts, "by_filters", False):      # filters in whole vectors: by vectors of filters, over the windows only
        dwt = np.empty((F, C * KH * KW), plan.dtype)
        calls["dW"] = lambda: _kernels.conv_filter_grad_vf(xpad.buf, C * Hp * Wp, off, KW, parts.pos, parts.dzt, dwt,
                                                           parts.partial, nt)
    else:
        dwt = np.empty((parts.dzw.shape[1], C * KH * KW), plan.dtype)
        calls["dW"] = lambda: _kernels.conv_filter_grad(xpad.buf, C * Hp * Wp, off, C, Hp, Wp, parts.dzw, dwt, nt)
    if need_dx and conv_dx is not None and isinstance(plan._dx, conv_dx._FoldParts):
        # the scatter: its products and their adds, one loop
        dxp = plan._dx
        calls["dx"] = lambda: _kernels.conv_fold(dxp.dpad.buf, dxp.geometry, dxp.off, dxp.wt, dxp.bias, dxp.cols(nt),
                                                 dxp.dx, nt)
    elif need_dx:
        dxc = plan._dx.conv
        calls["dx"] = lambda: _kernels.conv_wide(dxc.src, dxc.sample, dxc.off, dxc.wt, dxc.bias, dxc.out, nt)
    return calls


def bench_tiles(batches, probe, rng):
    """Each pass's loop call alone, per layer, batch size and the threads the plan would use.

    Other programs on the machine take cores away at random moments, so the peak is
    measured again just before each layer's rows: "of peak" is the share of what the
    machine gave at that moment (both are the best of several runs)."""
    threads = cnncore.get_num_threads()
    start = {nt: probe.peak(nt) for nt in sorted({1, threads})}
    print(f"\nRegister tiles alone, float32: the loop call of each pass ({threads} threads where the plan "
          f"uses several), GFLOP/s of the textbook sums. FMA probe peak at the start: " + ", ".join(
              f"{nt} thread{'s' * (nt > 1)} {p:.0f} GFLOP/s" if p else f"{nt}: no C compiler"
              for nt, p in start.items()))
    print(f"{'layer':12s} {'N':>3s} {'thr':>3s} {'pass':>8s} | {'µs':>8s} {'GFLOP/s':>8s} | "
          f"{'peak now':>8s} {'of peak':>8s}")
    for N in batches:
        for name, C, H, W, F, K, P, _ in TILE_LAYERS:
            plan = ConvPlan(N, (C, H, W), F, K, 1, P, np.float32)
            x = real_inputs(N, C, H, W, rng)[0]
            w = (rng.standard_normal(plan.w_shape) * 0.1).astype(np.float32)
            b = np.zeros(F, np.float32)
            dz = rng.standard_normal(plan.z_shape).astype(np.float32)
            nt = threads_for(plan._fwd_work, compute_bound=True)
            flop = 2 * plan._fwd_work
            peak = probe.peak(nt, repeats=3)
            for pass_name, call in tile_calls(plan, x, w, b, dz, nt).items():
                gflops = flop / timeit(call, min_time=0.05, repeats=7) / 1e9
                share = f"{peak:8.0f} {gflops / peak:8.0%}" if peak else f"{'-':>8s} {'-':>8s}"
                print(f"{name:12s} {N:3d} {nt:3d} {pass_name:>8s} | {flop / gflops / 1e3:8.1f} {gflops:8.1f} | "
                      f"{share}")
    if probe.lib is not None:
        print("FMA probe peak at the end: " + ", ".join(
            f"{nt} thr {probe.peak(nt):.0f} GFLOP/s" for nt in start))


# --------------------------------------------------------------------- runs

def bench_conv(name, C, H, W, F, K, P, N, threads, rng, first):
    x = real_inputs(N, C, H, W, rng)[0]
    w = (rng.standard_normal((F, C, K, K)) * 0.1).astype(np.float32)
    b = np.zeros(F, np.float32)
    Ho, Wo = conv_output_size((H, W), K, 1, P)
    dz = rng.standard_normal((N, F, Ho, Wo)).astype(np.float32)
    macs = N * F * Ho * Wo * C * K * K
    need_dx = not first
    t = {}
    t["ours_f"] = timeit(lambda: cnncore.conv2d_forward(x, w, b, 1, P))
    t["ours_b"] = timeit(lambda: cnncore.conv2d_backward(dz, x, w, 1, P, need_dx=need_dx))
    t["np_f"] = timeit(lambda: np_conv_forward(x, w, b, 1, P))
    t["np_b"] = timeit(lambda: np_conv_backward(dz, x, w, 1, P, need_dx))
    if torch is not None:
        tx, tw, tb, tdz = (torch.from_numpy(a) for a in (x, w, b, dz))
        t["pt_f"] = timeit(lambda: TF.conv2d(tx, tw, tb, 1, P))
        mask = [need_dx, True, True]
        t["pt_b"] = timeit(lambda: torch.ops.aten.convolution_backward(
            tdz, tx, tw, [F], [1, 1], [P, P], [1, 1], False, [0, 0], 1, mask))
    flops_f = 2 * macs
    flops_b = 2 * macs * (2 if need_dx else 1)
    return t, flops_f, flops_b


def bench_pool(name, C, H, W, N, threads, rng):
    inputs = real_inputs(N, C, H, W, rng, count=8)
    y0, a0 = cnncore.maxpool2d_forward(inputs[0], 2)
    dys = [rng.standard_normal(y0.shape).astype(np.float32) for _ in range(8)]
    args = [cnncore.maxpool2d_forward(xi, 2)[1] for xi in inputs]
    it = {"i": 0}

    def nxt():
        it["i"] = (it["i"] + 1) % 8
        return it["i"]

    t = {}
    t["ours_f"] = timeit(lambda: cnncore.maxpool2d_forward(inputs[nxt()], 2))
    t["ours_b"] = timeit(lambda: cnncore.maxpool2d_backward(dys[(i := nxt())], args[i], inputs[i].shape))
    t["np_f"] = timeit(lambda: np_maxpool_forward(inputs[nxt()], 2))
    np_args = [np_maxpool_forward(xi, 2)[1] for xi in inputs]
    t["np_b"] = timeit(lambda: np_maxpool_backward(dys[(i := nxt())], np_args[i], inputs[i].shape, 2))
    if torch is not None:
        tin = [torch.from_numpy(xi) for xi in inputs]
        tdy = [torch.from_numpy(d) for d in dys]
        tidx = [TF.max_pool2d_with_indices(ti, 2)[1] for ti in tin]
        t["pt_f"] = timeit(lambda: TF.max_pool2d_with_indices(tin[nxt()], 2))
        t["pt_b"] = timeit(lambda: torch.ops.aten.max_pool2d_with_indices_backward(
            tdy[(i := nxt())], tin[i], [2, 2], [2, 2], [0, 0], [1, 1], False, tidx[i]))
    nbytes = inputs[0].nbytes
    return t, nbytes


def add_lenet(totals, name, N, nt, t):
    """Add a LeNet layer's times to the per-(batch, threads) totals."""
    if name.startswith("lenet"):
        acc = totals.setdefault((N, nt), {})
        for key, v in t.items():
            acc[key] = acc.get(key, 0.0) + v


def ratio(t, base, key):
    k = f"{base}_{key}"
    return f"{t[k] / t['ours_' + key]:6.2f}x" if k in t else "     -"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="batch 64 and 2 threads only")
    ap.add_argument("--tiles-only", action="store_true", help="the register tiles' table only")
    ap.add_argument("--isa", choices=tuple(ISA_FLAGS), default="native",
                    help="the instruction set of the build measured, for the FMA probe (default native)")
    ap.add_argument("--tree", help="import cnncore from this checkout")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"CPU: {cpu_name()}, load average {load_average()}; cnncore kernels {cnncore.KERNEL_BUILD} from {_TREE}, "
          f"OpenMP: {cnncore.openmp_enabled()}; FMA probe: {args.isa}")
    batches = [64] if args.quick else [1, 64]
    bench_tiles([64, 1], FmaProbe(args.isa), rng)
    if args.tiles_only:
        return
    _import_torch()
    print(f"\ntorch: {torch.__version__ if torch else 'not importable (PyTorch columns left out)'}")
    threads = [2] if args.quick else [1, 2]
    hdr = (f"{'layer':28s} {'N':>3s} {'thr':>3s} | {'fwd µs':>9s} {'GFLOP/s':>7s} {'vs np':>7s} "
           f"{'vs torch':>8s} | {'bwd µs':>9s} {'GFLOP/s':>7s} {'vs np':>7s} {'vs torch':>8s}")
    print("\nConvolution (backward of a first layer skips dx, as the network does)")
    print(hdr)
    totals = {}
    for nt in threads:
        cnncore.set_num_threads(nt)
        if torch is not None:
            torch.set_num_threads(nt)
        for N in batches:
            for li, (name, C, H, W, F, K, P) in enumerate(CONV_LAYERS):
                t, ff, fb = bench_conv(name, C, H, W, F, K, P, N, nt, rng, first=name.endswith(("5×5", "p1")) and C == 1)
                add_lenet(totals, name, N, nt, t)
                print(f"{name:28s} {N:3d} {nt:3d} | {t['ours_f'] * 1e6:9.1f} {ff / t['ours_f'] / 1e9:7.1f} "
                      f"{ratio(t, 'np', 'f'):>7s} {ratio(t, 'pt', 'f'):>8s} | {t['ours_b'] * 1e6:9.1f} "
                      f"{fb / t['ours_b'] / 1e9:7.1f} {ratio(t, 'np', 'b'):>7s} {ratio(t, 'pt', 'b'):>8s}")
    print("\nMax pooling 2×2, stride 2 (GB/s = input bytes / forward time)")
    print(f"{'layer':28s} {'N':>3s} {'thr':>3s} | {'fwd µs':>9s} {'GB/s':>7s} {'vs np':>7s} {'vs torch':>8s} | "
          f"{'bwd µs':>9s} {'vs np':>7s} {'vs torch':>8s}")
    for nt in threads:
        cnncore.set_num_threads(nt)
        if torch is not None:
            torch.set_num_threads(nt)
        for N in batches:
            for name, C, H, W in POOL_LAYERS:
                t, nbytes = bench_pool(name, C, H, W, N, nt, rng)
                add_lenet(totals, name, N, nt, t)
                print(f"{name:28s} {N:3d} {nt:3d} | {t['ours_f'] * 1e6:9.1f} {nbytes / t['ours_f'] / 1e9:7.2f} "
                      f"{ratio(t, 'np', 'f'):>7s} {ratio(t, 'pt', 'f'):>8s} | {t['ours_b'] * 1e6:9.1f} "
                      f"{ratio(t, 'np', 'b'):>7s} {ratio(t, 'pt', 'b'):>8s}")
    print("\nLeNet layers, forward + backward, all four layers summed")
    print(f"{'N':>3s} {'thr':>3s} | {'cnncore µs':>10s} {'numpy µs':>10s} {'torch µs':>10s} | "
          f"{'vs np':>7s} {'vs torch':>8s}")
    for (N, nt), t in sorted(totals.items()):
        ours = t["ours_f"] + t["ours_b"]
        npt = t["np_f"] + t["np_b"]
        pt = t.get("pt_f", 0) + t.get("pt_b", 0)
        print(f"{N:3d} {nt:3d} | {ours * 1e6:10.1f} {npt * 1e6:10.1f} "
              f"{(pt * 1e6 if pt else float('nan')):10.1f} | {npt / ours:6.2f}x "
              f"{(f'{pt / ours:7.2f}x' if pt else '       -')}")


if __name__ == "__main__":
    main()
