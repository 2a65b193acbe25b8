"""The Backprop tab's stepper: which step of a recorded pass is shown, whether it plays, how fast;
and the one table of step kinds (what the timeline writes and the colour it uses for each)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .events import Event


@dataclass(frozen=True)
class StepKind:
    """How the app shows one kind of trace step (``cnncore.trace.Step.kind``)."""
    name: str
    symbol: str       # the timeline's short mark
    colour: str       # the timeline's background, "#rrggbb"


#: Every kind of step a trace records, in the order of a pass.
STEP_KINDS: dict[str, StepKind] = {k.name: k for k in (
    StepKind("forward", "→", "#dbe9f6"),
    StepKind("loss", "loss", "#fde2c8"),
    StepKind("backward", "←", "#f6dada"),
    StepKind("update", "update", "#dcefd9"),
)}


def step_kind(name: str) -> StepKind:
    """The entry for ``name``; a kind the table does not know yet is shown by its name on grey
    (never a ``KeyError``)."""
    return STEP_KINDS.get(name) or StepKind(str(name), str(name), "#eeeeee")


class Stepper:
    """Position and playback over ``count`` steps.

    Events (each emitted only on a change): ``index(int)``, ``playing(bool)``, ``speed(float)``.
    ``load(count)`` starts a new sequence: it stops playing and always emits ``index(0)``, since
    step 0 of a new pass is a different step even when the index was 0 already.
    """
    MIN_SPEED = 0.25      # steps per second
    MAX_SPEED = 5.0
    SPEED_STEP = 0.25

    def __init__(self, speed: float = 1.0) -> None:
        self.index_changed = Event()
        self.playing_changed = Event()
        self.speed_changed = Event()
        self._count = 0
        self._index = 0
        self._playing = False
        self._speed = self._valid_speed(speed)

    # ------------------------------------------------------------ position
    @property
    def count(self) -> int:
        return self._count

    @property
    def index(self) -> int:
        return self._index

    @index.setter
    def index(self, k: int) -> None:
        k = max(0, min(self._count - 1, int(k))) if self._count else 0
        if k != self._index:
            self._index = k
            self.index_changed.emit(k)

    def load(self, count: int) -> None:
        """A new sequence of ``count`` steps (0: nothing recorded), shown from its first step."""
        count = int(count)
        if count < 0:
            raise ValueError(f"a step count is 0 or more, not {count}")
        self.playing = False
        self._count = count
        self._index = 0
        self.index_changed.emit(0)

    def can_go_back(self) -> bool:
        return self._count > 0 and self._index > 0

    def can_go_on(self) -> bool:
        return self._count > 0 and self._index < self._count - 1

    def next(self) -> None:
        """One step on; at the last step, playing stops."""
        if self.can_go_on():
            self.index = self._index + 1
        else:
            self.playing = False

    def prev(self) -> None:
        self.index = self._index - 1

    def first(self) -> None:
        self.index = 0

    def last(self) -> None:
        self.index = self._count - 1

    # ------------------------------------------------------------ playback
    @property
    def playing(self) -> bool:
        return self._playing

    @playing.setter
    def playing(self, on: bool) -> None:
        on = bool(on) and self._count > 0
        if on != self._playing:
            self._playing = on
            self.playing_changed.emit(on)

    def toggle_play(self) -> None:
        """Pause, or play from here (from the first step when at the last)."""
        if self._playing:
            self.playing = False
        elif self._count:
            if not self.can_go_on():
                self.index = 0
            self.playing = True

    @property
    def speed(self) -> float:
        """Steps per second while playing, 0.25 to 5 in quarter steps."""
        return self._speed

    @speed.setter
    def speed(self, v: float) -> None:
        v = self._valid_speed(v)
        if v != self._speed:
            self._speed = v
            self.speed_changed.emit(v)

    @property
    def interval_ms(self) -> int:
        """Milliseconds between two steps while playing."""
        return int(1000 / self._speed)

    @classmethod
    def _valid_speed(cls, v) -> float:
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"a play speed is a finite number of steps per second, not {v}")
        v = round(v / cls.SPEED_STEP) * cls.SPEED_STEP
        return min(max(v, cls.MIN_SPEED), cls.MAX_SPEED)
