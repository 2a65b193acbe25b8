"""The architecture table's editable cells. Each setting of a layer is a cell of the table, not a
control of its own: a cell is drawn as the box it edits (a spin box, a drop-down list) and opens one
when edited (Return, F2, typing, a click), so the table is one stop of the Tab key. The arrows move
between cells; Tab and Shift+Tab leave the table, from an open box too (as the app's other tables).

A screen reader hears a cell as "layer 2 kernel 5" (its field's name and value) and an open box by
the same name as the control it was (``layer 2 kernel``)."""
from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["CELL", "Field", "LayerTable", "field_item", "show_value"]

#: The item data role holding an editable cell's :class:`Field`.
CELL = QtCore.Qt.UserRole + 1
_START = "cnnCellStart"       # an open box's value when it was opened (Escape puts it back)
Hint = QtWidgets.QAbstractItemDelegate.EndEditHint


@dataclass(frozen=True)
class Field:
    """One editable cell: the layer's ``row``, the setting's ``key``, what it means (``tip``) and
    what it takes: a number from ``lo`` to ``hi``, or one of ``choices``."""
    row: int
    key: str
    tip: str
    lo: int = 0
    hi: int = 0
    choices: tuple = ()

    @property
    def name(self) -> str:
        return f"layer {self.row} {self.key}"


def field_item(field: Field, value) -> QtWidgets.QTableWidgetItem:
    """The table item of an editable cell showing ``value`` (a file's number past the field's range
    widens it: a valid file's 300 filters are 300, not the box's 256)."""
    if not field.choices:
        field = replace(field, lo=min(field.lo, int(value)), hi=max(field.hi, int(value)))
    it = QtWidgets.QTableWidgetItem()
    it.setData(CELL, field)
    it.setFlags(QtCore.Qt.ItemIsEnabled | QtCore.Qt.ItemIsSelectable | QtCore.Qt.ItemIsEditable)
    words = field.tip + ("" if field.choices else f" ({field.lo} to {field.hi})")
    it.setToolTip(words)
    it.setData(QtCore.Qt.AccessibleDescriptionRole, words + ". Return or F2 edits it.")
    show_value(it, value)
    return it


def show_value(item: QtWidgets.QTableWidgetItem, value) -> None:
    """``item`` (an editable cell) showing ``value``, and saying it to a screen reader."""
    item.setText(str(value))
    item.setData(QtCore.Qt.AccessibleTextRole, f"{item.data(CELL).name} {value}")


class TooLargeBox(QtWidgets.QSpinBox):
    """A spin box that shows a number typed past its largest value instead of refusing the keystroke
    (a plain spin box turns a typed 30 into 3, silently), then, on Return or leaving it, sets the
    largest and says so (``tooLarge(typed)``)."""
    tooLarge = QtCore.Signal(int)

    def validate(self, text, pos):
        t = text.strip()
        if t.isdigit() and int(t) > self.maximum():
            return QtGui.QValidator.Intermediate, text, pos
        return super().validate(text, pos)

    def fixup(self, text):
        t = text.strip()
        if t.isdigit() and int(t) > self.maximum():
            self.tooLarge.emit(int(t))
            return str(self.maximum())
        return super().fixup(text)


class ChoiceBox(QtWidgets.QComboBox):
    """A drop-down list that says when its list closes (a choice made with the mouse ends the edit)."""
    listClosed = QtCore.Signal()

    def hidePopup(self):
        shown = self.view().isVisible()
        super().hidePopup()
        if shown:
            self.listClosed.emit()


class FieldDelegate(QtWidgets.QStyledItemDelegate):
    """Draws an editable cell as its box and opens the box to edit it. A number is the layer's as it is
    typed (``edited``: the shapes follow each key); a choice once it is made."""
    edited = QtCore.Signal(int, str, object)           # row, key, value
    tooLarge = QtCore.Signal(int, str, int, int)       # row, key, the number typed, the largest

    def createEditor(self, parent, option, index):
        f = index.data(CELL)
        if f is None:
            return None
        if f.choices:
            box = ChoiceBox(parent)
            box.addItems(list(f.choices))
            box.listClosed.connect(lambda: (self.commitData.emit(box), self.closeEditor.emit(box, Hint.NoHint)))
        else:
            box = TooLargeBox(parent)
            value = int(index.data(QtCore.Qt.EditRole))
            box.setRange(min(f.lo, value), max(f.hi, value))
            box.valueChanged.connect(lambda v: self.edited.emit(f.row, f.key, v))
            box.tooLarge.connect(lambda typed: self.tooLarge.emit(f.row, f.key, typed, box.maximum()))
        box.setAccessibleName(f.name)
        box.setToolTip(index.data(QtCore.Qt.ToolTipRole))
        return box

    def setEditorData(self, editor, index):
        """The cell's value in its box when it opens (selected: a typed number replaces it); later
        (the value typed came back through the table) only a value that differs."""
        text, opening = index.data(QtCore.Qt.EditRole), editor.property(_START) is None
        shown = editor.currentText() if isinstance(editor, QtWidgets.QComboBox) else str(editor.value())
        if opening or shown != text:
            editor.blockSignals(True)
            if isinstance(editor, QtWidgets.QComboBox):
                editor.setCurrentText(text)
            else:
                editor.setValue(int(text))
                editor.selectAll()
            editor.blockSignals(False)
        if opening:
            editor.setProperty(_START, text)

    def setModelData(self, editor, model, index):
        f = index.data(CELL)
        if isinstance(editor, QtWidgets.QComboBox):
            if editor.currentText() != index.data(QtCore.Qt.EditRole):
                self.edited.emit(f.row, f.key, editor.currentText())
        elif editor.value() != int(index.data(QtCore.Qt.EditRole)):
            self.edited.emit(f.row, f.key, editor.value())

    def revert(self, editor, index) -> None:
        """Escape: the value the box opened with (a number typed was in use at once)."""
        start, f = editor.property(_START), index.data(CELL)
        if f is not None and not f.choices and start is not None and index.data(QtCore.Qt.EditRole) != start:
            self.edited.emit(f.row, f.key, int(start))

    def updateEditorGeometry(self, editor, option, index):
        editor.setGeometry(option.rect)

    def sizeHint(self, option, index):
        f = index.data(CELL)
        if f is None:
            return super().sizeHint(option, index)
        fm = option.fontMetrics
        widest = max((fm.horizontalAdvance(t) for t in (f.choices or (str(f.hi), str(f.lo)))), default=0)
        _, opt = self._box_option(f, option)
        size = QtCore.QSize(widest + fm.averageCharWidth(), fm.height())
        contents = QtWidgets.QStyle.CT_ComboBox if f.choices else QtWidgets.QStyle.CT_SpinBox
        return option.widget.style().sizeFromContents(contents, opt, size, option.widget)

    def paint(self, painter, option, index):
        f = index.data(CELL)
        if f is None:
            return super().paint(painter, option, index)
        style, widget = option.widget.style(), option.widget
        style.drawPrimitive(QtWidgets.QStyle.PE_PanelItemViewItem, option, painter, widget)
        kind, opt = self._box_option(f, option)
        text = index.data(QtCore.Qt.DisplayRole)
        style.drawComplexControl(kind, opt, painter, widget)
        if f.choices:
            opt.currentText = text
            style.drawControl(QtWidgets.QStyle.CE_ComboBoxLabel, opt, painter, widget)
        else:
            at, opt.rect = opt.rect.topLeft(), QtCore.QRect(QtCore.QPoint(0, 0), opt.rect.size())
            field = style.subControlRect(kind, opt, QtWidgets.QStyle.SC_SpinBoxEditField, widget).translated(at)
            painter.setPen(option.palette.color(QtGui.QPalette.Text))
            painter.drawText(field.adjusted(2, 0, 0, 0), QtCore.Qt.AlignLeft | QtCore.Qt.AlignVCenter, text)

    @staticmethod
    def _box_option(f: Field, option):
        """The style option drawing a closed spin box or drop-down list in ``option``'s cell."""
        opt = QtWidgets.QStyleOptionComboBox() if f.choices else QtWidgets.QStyleOptionSpinBox()
        opt.initFrom(option.widget)
        opt.rect, opt.fontMetrics, opt.frame = option.rect.adjusted(1, 1, -1, -1), option.fontMetrics, True
        opt.state = QtWidgets.QStyle.State_Enabled | (option.state & QtWidgets.QStyle.State_HasFocus)
        if f.choices:
            return QtWidgets.QStyle.CC_ComboBox, opt
        opt.stepEnabled = QtWidgets.QAbstractSpinBox.StepUpEnabled | QtWidgets.QAbstractSpinBox.StepDownEnabled
        return QtWidgets.QStyle.CC_SpinBox, opt


class LayerTable(QtWidgets.QTableWidget):
    """A table of layers: an editable cell opens its box on Return, F2, a typed character or a click;
    Tab and Shift+Tab leave the table (an open box's value is kept); Escape puts a box's value back.
    Its rows are as tall as a box of its font, and it shows at least three of them (zoomed on a small
    screen it was squeezed to its header: the page scrolls instead)."""

    def __init__(self, rows: int, columns: int, parent=None):
        super().__init__(rows, columns, parent)
        self.setTabKeyNavigation(False)    # (Tab leaves the table; the arrows move in it)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditKeyPressed | QtWidgets.QAbstractItemView.AnyKeyPressed)
        self.cells = FieldDelegate(self)
        self.setItemDelegate(self.cells)
        from .font_fit import follow_font
        follow_font(self, self._fit_rows)

    def _fit_rows(self) -> None:
        box = QtWidgets.QSpinBox()                 # (a box of this font, as tall as its line and frame)
        box.setFont(self.font())
        self.verticalHeader().setDefaultSectionSize(box.sizeHint().height() + 4)
        self.setMinimumHeight(self.horizontalHeader().sizeHint().height() + 3 * (box.sizeHint().height() + 4) +
                              self.horizontalScrollBar().sizeHint().height() + 2 * self.frameWidth())

    def open_cell(self, index: QtCore.QModelIndex):
        """Open the box of the cell at ``index`` (when it has one) and return it; else None."""
        if not (index.isValid() and index.flags() & QtCore.Qt.ItemIsEditable):
            return None
        self.setCurrentIndex(index)
        if self.indexWidget(index) is None:
            self.edit(index)
        return self.indexWidget(index)

    def keyPressEvent(self, ev):
        if ev.key() in (QtCore.Qt.Key_Return, QtCore.Qt.Key_Enter) and not ev.modifiers() \
                and self.state() != QtWidgets.QAbstractItemView.EditingState:
            if self.open_cell(self.currentIndex()) is not None:
                return
        super().keyPressEvent(ev)

    def mouseReleaseEvent(self, ev):
        super().mouseReleaseEvent(ev)
        pos = ev.position().toPoint()
        box = self.open_cell(self.indexAt(pos)) if ev.button() == QtCore.Qt.LeftButton else None
        if box is not None:          # the click acts on the box too: an arrow steps, a list opens
            at = QtCore.QPointF(box.mapFrom(self.viewport(), pos))
            for kind, held in ((QtCore.QEvent.MouseButtonPress, QtCore.Qt.LeftButton),
                               (QtCore.QEvent.MouseButtonRelease, QtCore.Qt.NoButton)):
                QtWidgets.QApplication.sendEvent(box, QtGui.QMouseEvent(
                    kind, at, box.mapToGlobal(at), QtCore.Qt.LeftButton, held, QtCore.Qt.NoModifier))

    def closeEditor(self, editor, hint):
        if hint == Hint.RevertModelCache:
            self.cells.revert(editor, self.currentIndex())
        leave = hint in (Hint.EditNextItem, Hint.EditPreviousItem)
        super().closeEditor(editor, Hint.NoHint if leave else hint)
        if leave:                           # Tab from an open box leaves the table, as from the table
            self.focusNextPrevChild(hint == Hint.EditNextItem)
