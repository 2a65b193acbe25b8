"""The drawing canvas: a square sheet of paper drawn on with a round, anti-aliased brush.

Mouse, pen (tablet) and touch all draw. The sheet is an off-screen 8-bit grey image of
``size`` x ``size`` pixels (white paper, black ink); :meth:`DrawCanvas.array` hands it to the
model as a 2-D float array of ink amounts in ``[0, 1]`` (1 = full ink), shape ``(size, size)``.
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

_MAX_UNDO = 40


class DrawCanvas(QtWidgets.QWidget):
    """Square drawing surface.

    Signals:
        changed: the ink changed (emitted while a stroke is drawn, for every segment).
        strokeFinished: the pen, finger or mouse button was lifted.
    """

    changed = QtCore.Signal()
    strokeFinished = QtCore.Signal()

    def __init__(self, parent=None, size: int = 280, brush: float = 0.075):
        super().__init__(parent)
        self.setObjectName("drawCanvas")
        self.setAccessibleName("Drawing canvas")
        self.setToolTip("Draw a digit here with the mouse, a pen or a finger, or the keyboard: the arrows move\n"
                        "the pen (Shift: further), Space puts it down and lifts it.\n"
                        "Ctrl+Z undoes the last stroke, Delete clears the sheet.")
        self.setAccessibleDescription("Arrows move the pen, Shift and an arrow further; Space puts the pen down "
                                      "and lifts it; Ctrl+Z undoes a stroke; Delete clears the sheet.")
        self.setFocusPolicy(QtCore.Qt.StrongFocus)      # (Tab reaches it: a digit is drawn without a mouse too)
        self.setAttribute(QtCore.Qt.WA_AcceptTouchEvents, True)
        self.setAttribute(QtCore.Qt.WA_OpaquePaintEvent, True)
        self.setSizePolicy(QtWidgets.QSizePolicy.Expanding, QtWidgets.QSizePolicy.Expanding)
        self.setMinimumSize(200, 200)
        self.setCursor(QtCore.Qt.CrossCursor)
        self._size = int(size)
        self._brush = float(brush)  # pen width as a fraction of the sheet
        self._image = self._blank()
        self._example = None     # an example digit shown until the first stroke (set_array(example=True))
        self._undo: list[QtGui.QImage] = []
        self._last: QtCore.QPointF | None = None
        self._drawing = False
        self._key_stroke = False                # the stroke under way was begun with Space
        self._key_pen = QtCore.QPointF(self._size / 2.0, self._size / 2.0)   # the keyboard's pen, on the sheet
        self._keys = False                      # the keyboard draws (Tab came here, or an arrow): the pen shows

    # ----------------------------------------------------------------- public API
    def array(self) -> np.ndarray:
        """Ink amounts, float32 ``(size, size)`` in [0, 1], row-major (row 0 at the top)."""
        img = self._image
        ptr = img.constBits()
        raw = np.frombuffer(ptr, dtype=np.uint8, count=img.sizeInBytes())
        raw = raw.reshape(img.height(), img.bytesPerLine())[:, : img.width()]
        return (255 - raw).astype(np.float32) / 255.0

    def set_array(self, ink: np.ndarray, example: bool = False) -> None:
        """Replace the sheet by an ink image (2-D, values in [0, 1]); scaled to the sheet size. An
        ``example`` stays until the first stroke, which starts on a clean sheet (Undo brings it back)."""
        ink = np.asarray(ink, dtype=np.float32)
        if ink.ndim != 2:
            raise ValueError(f"expected a 2-D image, got shape {ink.shape}")
        self._end()                             # (a keyboard stroke under way ends first: its undo stays its)
        self._push_undo()
        grey = np.ascontiguousarray(255 - np.clip(ink, 0.0, 1.0) * 255.0).astype(np.uint8)
        h, w = grey.shape
        src = QtGui.QImage(grey.data, w, h, w, QtGui.QImage.Format_Grayscale8).copy()
        self._image = src.scaled(self._size, self._size, QtCore.Qt.IgnoreAspectRatio,
                                 QtCore.Qt.SmoothTransformation)
        self._example = self._image if example else None
        self.update()
        self.changed.emit()
        self.strokeFinished.emit()

    def showing_example(self) -> bool:
        """The sheet shows the example digit it was given (no stroke on it yet)."""
        return self._example is not None and self._image is self._example

    def is_empty(self) -> bool:
        return bool(self.array().max() < 0.02)

    def clear(self) -> None:
        self._end()
        if self.is_empty():
            return
        self._push_undo()
        self._image = self._blank()
        self.update()
        self.changed.emit()
        self.strokeFinished.emit()

    def undo(self) -> bool:
        self._end()                             # (Ctrl+Z with the keyboard's pen down: the stroke so far ends)
        if not self._undo:
            return False
        self._image = self._undo.pop()
        self.update()
        self.changed.emit()
        self.strokeFinished.emit()
        return True

    def clear_history(self) -> None:
        self._undo.clear()

    def can_undo(self) -> bool:
        return bool(self._undo)

    def brush_width(self) -> float:
        return self._brush

    def set_brush_width(self, fraction: float) -> None:
        self._brush = float(fraction)

    def sheet_size(self) -> int:
        return self._size

    def map_to_sheet(self, pos: QtCore.QPointF) -> QtCore.QPointF:
        """Widget coordinates -> sheet pixel coordinates."""
        r = self._sheet_rect()
        s = self._size / max(r.width(), 1.0)
        return QtCore.QPointF((pos.x() - r.x()) * s, (pos.y() - r.y()) * s)

    # ------------------------------------------------------------------ drawing
    def _blank(self) -> QtGui.QImage:
        img = QtGui.QImage(self._size, self._size, QtGui.QImage.Format_Grayscale8)
        img.fill(255)
        return img

    def _push_undo(self) -> None:
        # (the example itself, never drawn on: Undo back to it shows it as the example again)
        self._undo.append(self._image if self.showing_example() else self._image.copy())
        if len(self._undo) > _MAX_UNDO:
            del self._undo[0]

    def _pen(self, pressure: float = 1.0) -> QtGui.QPen:
        width = self._brush * self._size * (0.55 + 0.45 * pressure if pressure < 1.0 else 1.0)
        pen = QtGui.QPen(QtGui.QColor(0, 0, 0), width)
        pen.setCapStyle(QtCore.Qt.RoundCap)
        pen.setJoinStyle(QtCore.Qt.RoundJoin)
        return pen

    def _begin(self, pos: QtCore.QPointF, pressure: float = 1.0) -> None:
        self._end()                             # (a keyboard stroke under way ends: its undo stays its own)
        self._begin_at(self.map_to_sheet(pos), pressure)

    def _begin_at(self, p: QtCore.QPointF, pressure: float = 1.0) -> None:
        """A stroke starts at ``p`` (sheet pixels)."""
        self._push_undo()
        if self.showing_example():              # one's own digit starts on a clean sheet
            self._image = self._blank()
        self._drawing = True
        self._last = p
        self._segment(p, p, pressure)

    def _move(self, pos: QtCore.QPointF, pressure: float = 1.0) -> None:
        self._move_to(self.map_to_sheet(pos), pressure)

    def _move_to(self, p: QtCore.QPointF, pressure: float = 1.0) -> None:
        if not self._drawing:
            return
        self._segment(self._last, p, pressure)
        self._last = p

    def _end(self) -> None:
        self._key_stroke = False
        if not self._drawing:
            return
        self._drawing = False
        self._last = None
        self.strokeFinished.emit()

    def _segment(self, a: QtCore.QPointF, b: QtCore.QPointF, pressure: float) -> None:
        painter = QtGui.QPainter(self._image)
        painter.setRenderHint(QtGui.QPainter.Antialiasing, True)
        painter.setPen(self._pen(pressure))
        if a == b:
            painter.drawPoint(a)
        else:
            painter.drawLine(a, b)
        painter.end()
        self.update()
        self.changed.emit()

    def _sheet_rect(self) -> QtCore.QRectF:
        side = min(self.width(), self.height()) - 2
        x = (self.width() - side) / 2.0
        y = (self.height() - side) / 2.0
        return QtCore.QRectF(x, y, side, side)

    # ------------------------------------------------------------------- events
    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(420, 420)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, w: int) -> int:
        return w

    def paintEvent(self, event) -> None:
        painter = QtGui.QPainter(self)
        pal = self.palette()
        painter.fillRect(self.rect(), pal.color(QtGui.QPalette.Window))
        r = self._sheet_rect()
        painter.setRenderHint(QtGui.QPainter.SmoothPixmapTransform, True)
        painter.drawImage(r, self._image)
        # A faint frame and the 20x20 box MNIST digits are scaled into, as a guide.
        painter.setPen(QtGui.QPen(QtGui.QColor(150, 150, 150), 1))
        painter.drawRect(r)
        guide = QtGui.QPen(QtGui.QColor(200, 210, 230), 1, QtCore.Qt.DashLine)
        painter.setPen(guide)
        m = r.width() * 4.0 / 28.0
        painter.drawRect(r.adjusted(m, m, -m, -m))
        if self.hasFocus() and self._keys:
            self._paint_key_pen(painter, r)
        painter.end()

    # ---------------------------------------------------------------- the keyboard
    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        """The arrows move the keyboard's pen by a pixel of the 28×28 digit (Shift: four), drawing while it
        is down; Space puts it down and lifts it (a stroke, as a mouse button's)."""
        moves = {QtCore.Qt.Key_Left: (-1, 0), QtCore.Qt.Key_Right: (1, 0), QtCore.Qt.Key_Up: (0, -1),
                 QtCore.Qt.Key_Down: (0, 1)}
        key = event.key()
        if key in moves and not event.modifiers() & ~(QtCore.Qt.ShiftModifier | QtCore.Qt.KeypadModifier):
            step = self._size / 28.0 * (4 if event.modifiers() & QtCore.Qt.ShiftModifier else 1)
            dx, dy = moves[key]
            p = QtCore.QPointF(min(max(self._key_pen.x() + dx * step, 0.0), self._size - 1.0),
                               min(max(self._key_pen.y() + dy * step, 0.0), self._size - 1.0))
            self._key_pen, self._keys = p, True
            if self._key_stroke:                # (an arrow during a mouse drag does not draw to the pen)
                self._move_to(p)
            self.update()
        elif key == QtCore.Qt.Key_Space and not event.isAutoRepeat():
            self._keys = True
            if self._drawing:
                self._end()
            else:
                self._begin_at(self._key_pen)
                self._key_stroke = True
            self.update()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def focusInEvent(self, event) -> None:
        self._keys = event.reason() in (QtCore.Qt.TabFocusReason, QtCore.Qt.BacktabFocusReason,
                                        QtCore.Qt.ShortcutFocusReason)
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event) -> None:
        if self._keys:
            self._end()                         # (a keyboard stroke ends where the focus leaves)
        super().focusOutEvent(event)
        self.update()

    def _paint_key_pen(self, painter: QtGui.QPainter, r: QtCore.QRectF) -> None:
        """The keyboard's pen (a ring; filled while down) and a frame round the sheet, while it has the focus."""
        painter.setRenderHint(QtGui.QPainter.Antialiasing, True)
        painter.setPen(QtGui.QPen(self.palette().color(QtGui.QPalette.Highlight), 2))
        painter.drawRect(r.adjusted(1, 1, -1, -1))
        s = r.width() / self._size
        centre = QtCore.QPointF(r.x() + self._key_pen.x() * s, r.y() + self._key_pen.y() * s)
        radius = max(4.0, self._brush * r.width() / 2)
        painter.setPen(QtGui.QPen(QtGui.QColor(220, 80, 0), 2))
        painter.setBrush(QtGui.QColor(220, 80, 0, 160) if self._drawing else QtCore.Qt.NoBrush)
        painter.drawEllipse(centre, radius, radius)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        self._keys = False                      # (the mouse draws: no keyboard pen in its way)
        if event.button() == QtCore.Qt.LeftButton:
            self._begin(event.position())
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.buttons() & QtCore.Qt.LeftButton:
            self._move(event.position())
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.button() == QtCore.Qt.LeftButton:
            self._move(event.position())
            self._end()
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def tabletEvent(self, event: QtGui.QTabletEvent) -> None:
        t = event.type()
        pressure = float(event.pressure()) if event.pressure() > 0 else 1.0
        if t == QtCore.QEvent.TabletPress:
            self._begin(event.position(), pressure)
        elif t == QtCore.QEvent.TabletMove:
            self._move(event.position(), pressure)
        elif t == QtCore.QEvent.TabletRelease:
            self._move(event.position(), pressure)
            self._end()
        event.accept()  # accepted: Qt then sends no synthesized mouse events

    def event(self, event: QtCore.QEvent) -> bool:
        t = event.type()
        if t in (QtCore.QEvent.TouchBegin, QtCore.QEvent.TouchUpdate, QtCore.QEvent.TouchEnd,
                 QtCore.QEvent.TouchCancel):
            points = event.points()
            if points:
                pos = points[0].position()
                if t == QtCore.QEvent.TouchBegin:
                    self._begin(pos)
                elif t == QtCore.QEvent.TouchUpdate:
                    self._move(pos)
                else:
                    self._end()
            event.accept()
            return True
        return super().event(event)
