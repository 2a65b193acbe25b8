"""A layout that puts its widgets side by side and starts a new line where the next one would not fit
(Qt's flow layout example, top-aligned): a row of grids that wraps in a narrow column instead of
scrolling sideways; :func:`flow_row`, a row of controls that does the same (zoomed, the Build tab's
buttons asked for more than a 1024 px window and the page scrolled sideways)."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

__all__ = ["FlowLayout", "flow_row"]


class FlowLayout(QtWidgets.QLayout):
    """Items left to right, ``spacing`` px apart, lines ``line_spacing`` px apart; each line as tall as
    its tallest item, each item at the top of its line."""

    def __init__(self, parent=None, spacing: int = 24, line_spacing: int = 8):
        super().__init__(parent)
        self._items: list[QtWidgets.QLayoutItem] = []
        self._gap, self._line_gap = spacing, line_spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int):
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int):
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> QtCore.Qt.Orientations:
        return QtCore.Qt.Orientations(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QtCore.QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect) -> None:
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QtCore.QSize:
        """All the items on one line."""
        hints = [self._hint(item) for item in self._items]
        m = self.contentsMargins()
        width = sum(h.width() for h in hints) + self._gap * max(len(hints) - 1, 0)
        return QtCore.QSize(width + m.left() + m.right(),
                            max((h.height() for h in hints), default=0) + m.top() + m.bottom())

    def minimumSize(self) -> QtCore.QSize:
        """As wide as the widest item (everything else may go on lines of its own)."""
        size = QtCore.QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QtCore.QSize(m.left() + m.right(), m.top() + m.bottom())

    @staticmethod
    def _hint(item) -> QtCore.QSize:
        """``item``'s size hint; a label that wraps asks for its words on one line (Qt's hint wraps them at
        a width of its own: "1×28×28: grey pictures of 28×28 | pixels" beside room for them all)."""
        hint, w = item.sizeHint(), item.widget()
        if isinstance(w, QtWidgets.QLabel) and w.wordWrap() and w.textFormat() == QtCore.Qt.PlainText:
            m = w.contentsMargins()
            line = w.fontMetrics().horizontalAdvance(w.text()) + m.left() + m.right() + 2 * w.margin() + 1
            return QtCore.QSize(line, w.heightForWidth(line))
        return hint

    def _fitted(self, item, width: int) -> QtCore.QSize:
        """``item``'s size: its size hint, no wider than ``width`` where it can be narrower (an item that
        wraps in turn, such as a flow of its own, takes the height it needs at that width)."""
        hint = self._hint(item)
        w = max(min(hint.width(), width), item.minimumSize().width())
        if w < hint.width() and item.hasHeightForWidth():
            return QtCore.QSize(w, item.heightForWidth(w))
        return QtCore.QSize(w, hint.height())

    def _place(self, rect, move: bool) -> int:
        """Lay the items out in ``rect`` (moving them where ``move``); the height they take."""
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, line_height = area.x(), area.y(), 0
        for item in self._items:
            size = self._fitted(item, area.width())
            if x > area.x() and x + size.width() > area.right() + 1:      # a new line
                x, y, line_height = area.x(), y + line_height + self._line_gap, 0
            if move:
                item.setGeometry(QtCore.QRect(QtCore.QPoint(x, y), size))
            x += size.width() + self._gap
            line_height = max(line_height, size.height())
        return y + line_height - rect.y() + m.bottom()


def flow_row(*parts, spacing: int = 6) -> FlowLayout:
    """A row of ``parts`` (a widget, or a list of widgets that keep together on one line) that starts a
    new line where the next part does not fit."""
    row = FlowLayout(spacing=spacing, line_spacing=4)
    for part in parts:
        if isinstance(part, QtWidgets.QWidget):
            row.addWidget(part)
            continue
        group = QtWidgets.QWidget()
        lay = QtWidgets.QHBoxLayout(group)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in part:
            lay.addWidget(w)
        row.addWidget(group)
    return row
