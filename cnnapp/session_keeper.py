"""Which window keeps the session: two windows of one user's settings (two launches of the app) each
wrote the network in use, its pictures and the settings when they closed, and the last to close
deleted the other's kept, never saved network. The first window takes a lock file in the settings
folder and keeps the session; another one reads it as it starts, says that it keeps nothing (and
where the keeper runs), and asks before it closes with a trained network that was not saved. A lock
whose process is gone (a crash) is taken over; so is one another computer has not touched for
:data:`FOREIGN_STALE_HOURS` (a roaming home folder, a lab PC switched off with the app open: a window that
lives touches its lock every :data:`TOUCH_MINUTES`)."""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from PySide6 import QtCore

#: The lock file's name in the settings folder.
LOCK_NAME = "cnnlab.lock"
#: How long a lock taken on another computer may go untouched before it counts as left there; the keeper
#: touches its lock every :data:`TOUCH_MINUTES` (a window open for a day is not taken for a dead one).
FOREIGN_STALE_HOURS = 12
TOUCH_MINUTES = 30


class SessionKeeper(QtCore.QObject):
    """``keeps``: this window keeps the session when it closes (it holds the lock, or no lock can be
    had in a folder the settings cannot be written to either)."""

    def __init__(self, folder: Path, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        with contextlib.suppress(OSError):
            Path(folder).mkdir(parents=True, exist_ok=True)
        self._path = Path(folder) / LOCK_NAME
        self._lock = QtCore.QLockFile(str(self._path))
        self._lock.setStaleLockTime(0)          # on this computer: stale only when its process is gone
        self.holder = ""                        # where the keeper runs, when another window keeps
        held = self._lock.tryLock(0)
        if not held and self._lock.error() == QtCore.QLockFile.LockFailedError and self._left_elsewhere():
            held = self._lock.removeStaleLockFile() and self._lock.tryLock(0)
        self.keeps = held or self._lock.error() != QtCore.QLockFile.LockFailedError
        self._held = held
        if held:
            self._touch = QtCore.QTimer(self)
            self._touch.timeout.connect(self._still_here)
            self._touch.start(TOUCH_MINUTES * 60 * 1000)

    def _still_here(self) -> None:
        """Say the lock's window lives (its file's time), for another computer sharing the folder."""
        with contextlib.suppress(OSError):
            os.utime(self._path)

    def _left_elsewhere(self) -> bool:
        """The lock was taken on another computer long ago (Qt cannot tell whether its process lives)."""
        info = self._lock.getLockInfo()            # (pid, host, app); no tuple where it cannot be read
        if not isinstance(info, tuple) or len(info) < 3:
            return False
        pid, host, _ = info[-3:]
        self.holder = f"on {host}, process {pid}" if host else f"process {pid}"
        try:
            age = time.time() - self._path.stat().st_mtime
        except OSError:
            return False
        return bool(host) and host != QtCore.QSysInfo.machineHostName() and age > FOREIGN_STALE_HOURS * 3600

    def notes(self) -> list[str]:
        """What to tell the user as the window starts."""
        if self.keeps:
            return []
        where = f" ({self.holder})" if self.holder else ""
        return [f"Another CNN Lab window is open with the same settings{where}: it keeps the session, this one "
                "keeps nothing when it closes (save a network you want to keep with File → Save model)."]

    def release(self) -> None:
        if self._held:
            self._touch.stop()
            self._lock.unlock()
            self._held = False
