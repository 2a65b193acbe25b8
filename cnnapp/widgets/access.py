"""Accessible names: what a screen reader says for a control. Qt takes a control's name from its
accessible name, else its own text (a button's), else the label it is the buddy of; a control with
none of these is announced as "button", "edit", "slider" with nothing to tell them apart.

:func:`unnamed_controls` finds them under a widget (the tests walk every window with it); controls
are named where they are made, ``setAccessibleName`` (and ``setAccessibleDescription`` where the
name is not enough; the tooltip is the description otherwise).
"""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["accessible_name", "controls", "unnamed_controls"]

_KINDS = (QtWidgets.QAbstractButton, QtWidgets.QAbstractSpinBox, QtWidgets.QComboBox, QtWidgets.QAbstractSlider,
          QtWidgets.QLineEdit, QtWidgets.QTextEdit, QtWidgets.QPlainTextEdit, QtWidgets.QAbstractItemView,
          QtWidgets.QTabBar, QtWidgets.QTabWidget)
_PARTS = (QtWidgets.QScrollBar, QtWidgets.QHeaderView)


def _is_part(w: QtWidgets.QWidget) -> bool:
    """A piece Qt makes inside a control (a spin box's line edit, a combo box's list, a scroll bar, a
    table's headers, a scroll area's viewport): the control it belongs to carries the name."""
    p = w.parentWidget()
    if w.objectName().startswith("qt_") or isinstance(w, _PARTS):
        return True
    if isinstance(p, QtWidgets.QAbstractScrollArea) and p.viewport() is w:
        return True
    while p is not None:
        if isinstance(p, (QtWidgets.QAbstractSpinBox, QtWidgets.QComboBox)) or \
                type(p).__name__ == "QComboBoxPrivateContainer":
            return True
        p = p.parentWidget()
    return False


def controls(root: QtWidgets.QWidget) -> list[QtWidgets.QWidget]:
    """The controls in ``root``'s window part (``root`` and every widget under it, in its window): the
    kinds a user acts on and every widget that takes the keyboard's focus with Tab."""
    out = []
    for w in [root, *root.findChildren(QtWidgets.QWidget)]:
        if w.window() is not root.window() or _is_part(w):
            continue
        if isinstance(w, _KINDS) or bool(w.focusPolicy() & QtCore.Qt.TabFocus):
            out.append(w)
    return out


def accessible_name(w: QtWidgets.QWidget) -> str:
    """The name assistive technology gets for ``w`` (Qt's accessibility interface)."""
    iface = QtGui.QAccessible.queryAccessibleInterface(w)
    return iface.text(QtGui.QAccessible.Text.Name).strip() if iface is not None else ""


def unnamed_controls(root: QtWidgets.QWidget) -> list[QtWidgets.QWidget]:
    """The controls under ``root`` without an accessible name. A box of values (a drop-down list, a spin
    box) is named only by its own accessible name or a label it is the buddy of: else Qt gives it its
    value ("4", "1e-5") or a group's title ("Learning") as a name, and a screen reader says only that."""
    buddies = {id(label.buddy()) for label in root.window().findChildren(QtWidgets.QLabel) if label.buddy()}
    return [w for w in controls(root) if not accessible_name(w) or (
        isinstance(w, _VALUES) and not w.accessibleName() and id(w) not in buddies)]


#: Controls that hold a value, which Qt would give as their name.
_VALUES = (QtWidgets.QComboBox, QtWidgets.QAbstractSpinBox)
