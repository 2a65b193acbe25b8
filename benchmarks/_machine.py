"""What every benchmark figure is quoted with: the CPU's name and how busy the machine was."""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name and core count, e.g. ``Intel(R) Xeon(R) Processor, 2 cores``."""
    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name or platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, or ``?`` where the system has none."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def _busy_seconds() -> float | None:
    """CPU seconds all cores spent busy since boot (``/proc/stat``: every state but idle and iowait;
    steal included, time the machine's host took away), or None where there is no such file."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class OthersLoad:
    """How many cores other programs kept busy while a block ran: the machine's busy time less this
    process's and its finished children's CPU time, over the block's wall time. ``cores`` is None where
    the system does not say (no ``/proc/stat``). Unlike the load average, it leaves out the benchmark's
    own processes, so it tells a figure measured beside another program's work from a quiet one."""

    cores: float | None = None

    def __enter__(self):
        self._busy, self._own, self._t = _busy_seconds(), _own_seconds(), time.monotonic()
        return self

    def __exit__(self, *exc):
        busy, dt = _busy_seconds(), time.monotonic() - self._t
        if busy is not None and self._busy is not None and dt > 0:
            self.cores = max(0.0, (busy - self._busy - (_own_seconds() - self._own)) / dt)
        return False


def wait_until_quiet(max_cores: float, timeout: float) -> float | None:
    """Wait, at most ``timeout`` seconds, until other programs keep fewer than ``max_cores`` cores busy
    (measured over one second); the cores they kept busy in the last second, None where unknown."""
    end = time.monotonic() + timeout
    while True:
        with OthersLoad() as others:
            time.sleep(1.0)
        if others.cores is None or others.cores < max_cores or time.monotonic() >= end:
            return others.cores
