"""The program reading our output went away (``cnnapp predict m.npz x.png | head -1``): :func:`reader_gone`."""
from __future__ import annotations

import os
import sys

__all__ = ["reader_gone"]


def reader_gone() -> int:
    """The program reading our output closed it (``cnnapp predict m.npz x.png | head -1``): stop
    without a word, as Python's documentation advises for SIGPIPE ("Note on SIGPIPE" in
    :mod:`signal`): standard output goes to the null device, so that the interpreter's last flush
    has nothing to complain about, and the exit status is 1."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):    # no file behind sys.stdout (a test's capture)
        pass
    return 1
