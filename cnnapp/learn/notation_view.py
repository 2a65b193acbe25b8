"""Learn → Notation: the one legend of the symbols every equation in the app uses (cnncore.notation)."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from cnncore.notation import INTRO, TEXT_TITLES, legend_lines

__all__ = ["NotationView"]


class NotationView(QtWidgets.QWidget):
    """A two-column table: symbol, meaning; and the texts the notation follows."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("notationView")
        lay = QtWidgets.QVBoxLayout(self)
        self.intro = QtWidgets.QLabel(INTRO)
        self.intro.setObjectName("notationIntro")
        self.intro.setWordWrap(True)
        lay.addWidget(self.intro)
        rows = legend_lines()
        self.table = QtWidgets.QTableWidget(len(rows), 2)
        self.table.setTabKeyNavigation(False)    # (Tab leaves the table; the arrows move in it)
        self.table.setObjectName("notationTable")
        self.table.setAccessibleName("Notation: symbol and meaning")
        self.table.setHorizontalHeaderLabels(["symbol", "meaning"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.setWordWrap(True)
        for k, (sym, words) in enumerate(rows):
            a = QtWidgets.QTableWidgetItem(sym)
            a.setTextAlignment(QtCore.Qt.AlignLeft | QtCore.Qt.AlignVCenter)
            self.table.setItem(k, 0, a)
            self.table.setItem(k, 1, QtWidgets.QTableWidgetItem(words))
        self.table.horizontalHeader().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QtWidgets.QHeaderView.Stretch)
        self.table.resizeRowsToContents()
        lay.addWidget(self.table, 1)
        texts = QtWidgets.QLabel("Following: " + "; ".join(f"<i>{t}</i>" for t in TEXT_TITLES.values()) + ".")
        texts.setWordWrap(True)
        texts.setStyleSheet("color: #555;")
        lay.addWidget(texts)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self.table.resizeRowsToContents()

    def shown_text(self) -> str:
        """The intro, then everything the table says, one row a line (for tests and export)."""
        rows = (f"{self.table.item(k, 0).text()}  {self.table.item(k, 1).text()}" for k in range(self.table.rowCount()))
        return "\n".join((self.intro.text(), *rows))
