"""How large each tab draws its maps and text (a projector at the back of a room needs it larger), without Qt.

One :class:`Zoom` for the window: a factor per tab, moved through :data:`LEVELS` by Ctrl+= and
Ctrl+− and reset by Ctrl+0, kept in the settings store as plain numbers.
"""
from __future__ import annotations

from .events import Event

__all__ = ["Zoom", "LEVELS"]

#: The factors a tab can be drawn at, in order.
LEVELS = (0.8, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)


class Zoom:
    """The zoom factor of each tab (by name, 1.0 when never set). Event ``changed(tab, factor)``."""

    def __init__(self) -> None:
        self._factors: dict[str, float] = {}
        self.changed = Event()

    def factor(self, tab: str) -> float:
        return self._factors.get(tab, 1.0)

    def set(self, tab: str, factor: float) -> float:
        """Draw ``tab`` at the level nearest ``factor``; returns it."""
        level = min(LEVELS, key=lambda v: abs(v - float(factor)))
        if level != self.factor(tab):
            self._factors[tab] = level
            self.changed.emit(tab, level)
        return level

    def zoom_in(self, tab: str) -> float:
        return self.set(tab, next((v for v in LEVELS if v > self.factor(tab)), LEVELS[-1]))

    def zoom_out(self, tab: str) -> float:
        return self.set(tab, next((v for v in reversed(LEVELS) if v < self.factor(tab)), LEVELS[0]))

    def reset(self, tab: str) -> float:
        return self.set(tab, 1.0)

    def to_dict(self) -> dict:
        return {t: f for t, f in sorted(self._factors.items()) if f != 1.0}

    def read(self, d) -> None:
        """Factors from :meth:`to_dict`'s plain values (anything else is left out)."""
        if isinstance(d, dict):
            for tab, f in d.items():
                if isinstance(tab, str) and isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f < 10:
                    self.set(tab, f)
