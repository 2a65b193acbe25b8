"""Which window keeps the session: two windows of one user's settings (two launches of the app) each
wrote the network in use, its pictures and the settings when they closed, and the last to close
deleted the other's kept, never saved network. The first window takes a lock file in the settings
folder and keeps the session; another one reads it as it starts, says that it keeps nothing, and asks
before it closes with a trained network that was not saved. A lock whose process is gone (a crash) is
taken over."""
from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6 import QtCore

#: The lock file's name in the settings folder.
LOCK_NAME = "cnnlab.lock"


class SessionKeeper:
    """``keeps``: this window keeps the session when it closes (it holds the lock, or no lock can be
    had in a folder the settings cannot be written to either)."""

    def __init__(self, folder: Path) -> None:
        with contextlib.suppress(OSError):
            Path(folder).mkdir(parents=True, exist_ok=True)
        self._lock = QtCore.QLockFile(str(Path(folder) / LOCK_NAME))
        self._lock.setStaleLockTime(0)          # stale only when its process is gone, never by age
        held = self._lock.tryLock(0)
        self.keeps = held or self._lock.error() != QtCore.QLockFile.LockFailedError
        self._held = held

    def notes(self) -> list[str]:
        """What to tell the user as the window starts."""
        if self.keeps:
            return []
        return ["Another CNN Lab window is open with the same settings: it keeps the session, this one keeps "
                "nothing when it closes (save a network you want to keep with File → Save model)."]

    def release(self) -> None:
        if self._held:
            self._lock.unlock()
            self._held = False
