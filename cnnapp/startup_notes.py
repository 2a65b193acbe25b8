"""What a window has to say as it starts (a network that could not be reopened, a settings file set
aside, the Build tab's edits kept), said together once it is up: said one by one, each replaced the one
before in the status bar, and "could not reopen your network" was gone before anyone read it."""
from __future__ import annotations

from PySide6 import QtCore


class StartupNotes:
    """Collects notes until the event loop runs, then says them in one message that stays (``say(text,
    0)``); a note added after that is said at once."""

    def __init__(self, owner: QtCore.QObject, say) -> None:
        self._say = say
        self._notes: list[str] | None = []
        QtCore.QTimer.singleShot(0, owner, self.flush)

    def add(self, text: str) -> None:
        if self._notes is None:
            self._say(text, 0)
        else:
            self._notes.append(text)

    def flush(self) -> None:
        notes, self._notes = self._notes, None
        if notes:
            self._say(" ".join(notes), 0)
