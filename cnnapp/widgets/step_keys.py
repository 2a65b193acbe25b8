"""The Backprop tab's step keys (←/→, Home/End, PgUp/PgDn, Space) as window-wide shortcuts, live while
the tab shows, that leave a key to the focused control that uses it: Space presses a focused button
(it started playback instead: Predict, Slide the filter, Open trace… could not be pressed from the
keyboard). A focused text or spin box keeps its keys through Qt's own shortcut override."""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

#: The keys a control uses itself, by the kinds of control that do. (The arrows stay the steps' whatever
#: has the focus, the tab bar, the speed slider and the timeline included: a click on the tab leaves the
#: focus on the tab bar, and → must step, not jump tabs.)
_THEIRS = ((QtWidgets.QAbstractButton, {QtCore.Qt.Key.Key_Space}),)


class StepKeys(QtCore.QObject):
    """``keys``: (key sequence, slot) pairs, made shortcuts of ``owner``'s window while it shows."""

    def __init__(self, owner: QtWidgets.QWidget, keys) -> None:
        super().__init__(owner)
        self._owner = owner
        for seq, slot in keys:
            sc = QtGui.QShortcut(QtGui.QKeySequence(seq), owner)
            sc.setContext(QtCore.Qt.WindowShortcut)
            sc.activated.connect(slot)
        QtWidgets.QApplication.instance().installEventFilter(self)

    def eventFilter(self, obj, ev) -> bool:
        if (ev.type() == QtCore.QEvent.ShortcutOverride and isinstance(obj, QtWidgets.QWidget)
                and self._owner.isVisible() and _uses(obj, ev.key())):
            ev.accept()                     # (delivered to the control as a key press, not as our shortcut)
            return True
        return False


def _uses(widget: QtWidgets.QWidget, key: int) -> bool:
    """Whether ``widget`` does something with ``key`` itself."""
    return any(isinstance(widget, kinds) and key in keys for kinds, keys in _THEIRS)
