"""A small Qt-free event: callbacks connected to it are called, in order, on each emit."""
from __future__ import annotations


class Event:
    """``connect(callback)``, ``disconnect(callback)``, ``emit(*args)``. A state object emits one
    only when the value it announces has changed."""

    def __init__(self) -> None:
        self._callbacks: list = []

    def connect(self, callback) -> None:
        if callback not in self._callbacks:
            self._callbacks.append(callback)

    def disconnect(self, callback) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args) -> None:
        for callback in list(self._callbacks):
            callback(*args)
