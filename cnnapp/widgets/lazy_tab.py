"""A tab built the first time it is shown."""
from __future__ import annotations

from PySide6 import QtWidgets


class LazyTab(QtWidgets.QWidget):
    """A tab whose content is built the first time it is shown (keeps the start fast)."""

    def __init__(self, factory, parent=None):
        super().__init__(parent)
        self._factory = factory
        self.content = None
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)

    def ensure(self):
        if self.content is None:
            self.content = self._factory(self)
            self.layout().addWidget(self.content)
        return self.content

    def showEvent(self, ev):
        self.ensure()
        super().showEvent(ev)
