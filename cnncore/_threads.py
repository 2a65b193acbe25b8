"""How many threads the kernels use, in one place (read by every kernel call)."""
from __future__ import annotations

import contextlib
import numbers
import os

from ._dispatch import _kernels

__all__ = ["MAX_THREADS", "set_num_threads", "get_num_threads", "openmp_enabled", "threads_for", "threads_set_to"]

# Below this many multiply-adds a call runs on one thread: waking a second
# thread costs more than it saves on a layer this small. A convolution's passes
# (compute-bound, each thread's share of the outputs its own) take a second
# thread from half as many: a batch-1 training step on 2 cores (AMD EPYC, Zen 4),
# wide 206 -> 177 us (avx2 kernels), 218 -> 180 (avx512), 391 -> 302 (base), its
# second layer's passes (903,168 each) on both cores; lenet, tiny and cifar the
# same or faster. The other loops move less arithmetic per value, and a value one
# core wrote and the other read must come back before the first can write it
# again: at half the threshold, tiny's dense layer at batch 64 (737,280) took its
# dW and dx on the two cores, 31 -> 18 us, and the update after it 4 -> 25 us.
_PARALLEL_MIN_WORK = 1_000_000


def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# More threads than this only add overhead, and an absurd count makes the OpenMP
# runtime fail to create them (a crash, not an error).
MAX_THREADS = max(64, 4 * _cpus())


def _default_threads() -> int:
    env = os.environ.get("CNNCORE_NUM_THREADS", "").strip()
    if env:
        try:
            return min(max(1, int(env)), MAX_THREADS)
        except ValueError:
            pass
    return _cpus()


_num_threads = _default_threads()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the kernels, 1 to :data:`MAX_THREADS` (default: the CPUs
    this process may run on, or the ``CNNCORE_NUM_THREADS`` environment variable)."""
    global _num_threads
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or not 1 <= n <= MAX_THREADS:
        raise ValueError(f"set_num_threads expects an int from 1 to {MAX_THREADS}, got {n!r}")
    _num_threads = int(n)


@contextlib.contextmanager
def threads_set_to(n: int):
    """The kernels' thread count set to ``n`` for the calls (and the plans made) inside the block,
    then put back. (Another Python thread's kernel call meanwhile may run on ``n`` threads: every
    kernel gives the same bits on any count.)"""
    before = _num_threads
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(before)


def get_num_threads() -> int:
    """The number of threads the kernels use for large enough calls."""
    return _num_threads


def openmp_enabled() -> bool:
    """True when the kernels were built with OpenMP and can use several threads."""
    return _kernels.openmp_enabled()


def threads_for(work: int, compute_bound: bool = False) -> int:
    """Threads for a call of ``work`` multiply-adds (or elements): 1 below the threshold, half as
    high for a ``compute_bound`` loop (a convolution's passes)."""
    least = (_PARALLEL_MIN_WORK + 1) // 2 if compute_bound else _PARALLEL_MIN_WORK
    return _num_threads if work >= least else 1


def limit_blas_threads() -> bool:
    """One thread for every BLAS library already loaded in this process (NumPy's); True if done.

    For a process that imported NumPy before cnncore, when setting ``OPENBLAS_NUM_THREADS``
    comes too late. Never raises: without threadpoolctl, or where it cannot act, nothing changes.
    """
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=1, user_api="blas")
    except Exception:  # noqa: BLE001 - a speed setting: the results are the same without it
        return False
    return True
