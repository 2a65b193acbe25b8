"""The Train tab's run: idle, running or paused; how far it got and how long is left; the curve
points received from the worker and not drawn yet."""
from __future__ import annotations

import math
import time

from cnncore.training import numbered_from

from .events import Event

IDLE, RUNNING, PAUSED = "idle", "running", "paused"


class TrainingRun:
    """One training run as the Train tab shows it.

    ``start()``, ``pause()``, ``resume()``, ``finish()`` move between the phases; ``add_batches``
    keeps what a progress report brings until the plots take it (``take_loss_points``,
    ``take_speed_points``: the plots redraw less often than the worker reports).

    A run from weights trained before numbers its epochs after theirs: the worker counts the run's
    epochs from 1, and :meth:`epoch_at` and :meth:`epoch_number` place and name them on the network's
    count (``first_epoch``: the epochs it had been trained for when the run started).

    Events (each only on a change): ``phase_changed(str)``, ``progress_changed(float)``.
    """

    def __init__(self, clock=time.perf_counter) -> None:
        self.phase_changed = Event()
        self.progress_changed = Event()
        self._clock = clock
        self._phase = IDLE
        self._progress = 0.0
        self._t0 = 0.0
        self._last = None               # (time, progress) of the last report while running
        self._paced = [0.0, 0.0]        # seconds and progress between reports: the pace
        self._loss_points: tuple[list, list] = ([], [])
        self._speed_points: tuple[list, list] = ([], [])
        self.first_epoch = 0.0

    # ---------------------------------------------------------------- phase
    @property
    def phase(self) -> str:
        return self._phase

    @property
    def active(self) -> bool:
        """Running or paused: the settings of the run cannot change."""
        return self._phase != IDLE

    def _set_phase(self, phase: str) -> None:
        if phase != self._phase:
            self._phase = phase
            self.phase_changed.emit(phase)

    def start(self, first_epoch: float = 0.0) -> None:
        """A new run from its first batch (the points of the last one are dropped), of a network trained
        for ``first_epoch`` epochs before (:func:`cnncore.training.epochs_done`)."""
        if self.active:
            raise RuntimeError("a run is going on already")
        self.first_epoch = float(first_epoch)
        self._t0 = self._clock()
        self._last, self._paced = None, [0.0, 0.0]
        self._loss_points, self._speed_points = ([], []), ([], [])
        self._progress = 0.0
        self.progress_changed.emit(0.0)
        self._set_phase(RUNNING)

    def pause(self) -> None:
        if self._phase == RUNNING:
            self._set_phase(PAUSED)

    def resume(self) -> None:
        if self._phase == PAUSED:
            self._last = None           # the pause is not part of the pace
            self._set_phase(RUNNING)

    def finish(self, done: bool = False) -> None:
        """The run ended (``done``: every planned batch ran, so the progress is complete)."""
        if done:
            self.progress = 1.0
        self._set_phase(IDLE)

    # ------------------------------------------------------------- progress
    @property
    def progress(self) -> float:
        """Share of the planned batches done, 0 to 1."""
        return self._progress

    @progress.setter
    def progress(self, p: float) -> None:
        p = float(p)
        if not math.isfinite(p):
            raise ValueError(f"progress is a share from 0 to 1, not {p}")
        p = min(max(p, 0.0), 1.0)
        if p != self._progress:
            if self._phase == RUNNING:
                now = self._clock()
                if self._last is not None and p > self._last[1]:
                    self._paced[0] += now - self._last[0]
                    self._paced[1] += p - self._last[1]
                self._last = (now, p)
            self._progress = p
            self.progress_changed.emit(p)

    def seconds_left(self) -> float:
        """The time left at the pace between reports (the first one comes after the worker started and
        made its data, which is no part of the pace; a pause neither). NaN until a second report."""
        seconds, progress = self._paced
        if progress <= 0:
            return float("nan")
        return seconds * (1 - self._progress) / progress

    # --------------------------------------------------------------- epochs
    def epoch_at(self, x: float) -> float:
        """Where a point ``x`` epochs into the run (a batch's, or the end of its epoch ``x``) is on the
        network's count of epochs."""
        return self.first_epoch + x

    def epoch_number(self, k: int) -> int:
        """The number of the run's epoch ``k`` (from 1) on the network's count: 5 for the first epoch of a
        run from weights trained for 4 (a part of an epoch before counts as none)."""
        return numbered_from(self.first_epoch) + int(k)

    # --------------------------------------------------------------- points
    def add_batches(self, x, loss, ips) -> None:
        """Batches reported by the worker: their positions (in the run's epochs, placed on the network's:
        :meth:`epoch_at`), losses and images per second."""
        if not len(x) == len(loss) == len(ips):
            raise ValueError(f"one loss and one speed per batch: {len(x)}, {len(loss)}, {len(ips)}")
        x = [self.epoch_at(v) for v in x]
        self._loss_points[0].extend(x)
        self._loss_points[1].extend(loss)
        self._speed_points[0].extend(x)
        self._speed_points[1].extend(ips)

    def has_loss_points(self) -> bool:
        return bool(self._loss_points[0])

    def has_speed_points(self) -> bool:
        return bool(self._speed_points[0])

    def take_loss_points(self) -> tuple[list, list]:
        """``(x, loss)`` not drawn yet; they are drawn now."""
        out, self._loss_points = self._loss_points, ([], [])
        return out

    def take_speed_points(self) -> tuple[list, list]:
        """``(x, images per second)`` not drawn yet; they are drawn now."""
        out, self._speed_points = self._speed_points, ([], [])
        return out


class RunStart:
    """Where a run started: a copy of the ``network`` (weights, history, optimizer state), the
    trainer's shuffle ``seed`` and the session's ``model`` id; ``mark`` tells two starts apart
    (:func:`cnncore.diagnostics.start_mark`)."""

    def __init__(self, network, seed: int, model: int) -> None:
        from cnncore.diagnostics import start_mark
        self.network, self.seed, self.model = network, seed, model
        self.mark = start_mark(network.flat_params, seed)
