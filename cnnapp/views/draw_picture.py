"""The Draw tab's page for a network that does not read 28×28 grey digits (a colour network, one of
another size): the sheet is for digits, so it says so and offers a picture of your own instead (a file
or the clipboard's), shown as the session's picture, which every tab looks at."""
from __future__ import annotations

import pyqtgraph as pg
from cnncore.architecture import DIGIT_SHAPE
from PySide6 import QtCore, QtGui, QtWidgets

from ..widgets.open_picture import paste_picture, picture_button
from ..widgets.picture_numbers import offer_numbers
from ..widgets.pictures import picture_planes, show_picture_on


class PicturePage(QtWidgets.QWidget):
    """The session's picture, large, with Open a picture… and Paste."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.note = QtWidgets.QLabel("")
        self.note.setObjectName("drawColourNote")
        self.note.setWordWrap(True)
        self.open_button = picture_button(session, "drawOpenPicture")
        paste = QtWidgets.QPushButton("Paste a picture")
        paste.setObjectName("drawPastePicture")
        paste.setToolTip("Use the picture on the clipboard (Ctrl+Shift+V)")
        paste.clicked.connect(lambda: paste_picture(session))
        sc = QtGui.QShortcut(QtGui.QKeySequence("Ctrl+Shift+V"), self)
        sc.setContext(QtCore.Qt.WidgetWithChildrenShortcut)
        sc.activated.connect(lambda: paste_picture(session))
        self.view = pg.GraphicsLayoutWidget()
        self.view.setObjectName("drawPictureView")
        self.view.setBackground("w")
        self.view.setAccessibleName("The picture the network looks at")
        self.view.setToolTip("The picture the network looks at, as it takes it")
        self.view.setMinimumSize(160, 160)
        offer_numbers(self.view, lambda: [] if session.picture is None else
                      picture_planes("the picture", session.picture.image))
        self._box = self.view.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self._box.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self._box.addItem(self.image)
        self.what = QtWidgets.QLabel("")
        self.what.setObjectName("drawPictureWhat")
        self.what.setWordWrap(True)
        self.what.setStyleSheet("color: #555;")
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(paste)
        buttons.addStretch(1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(self.note)
        lay.addLayout(buttons)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.what)

    def render(self, net, picture) -> None:
        """What the page says of ``net`` and shows of ``picture`` (one ``net`` takes, or None)."""
        if net is not None:
            takes = (f"this network takes {net.signature.words()}" if net.signature.shape != DIGIT_SHAPE else
                     "this network learnt from pictures, which it takes as they are (grey 28×28, scaled and their "
                     "middle cut out), not from digits drawn here")
            self.note.setText(f"<b>The Draw tab is for digits</b> (grey 28×28, read as MNIST's were: light ink on "
                              f"black): {takes}. Open a picture of your own — a file, or one you copied — to see "
                              "what it answers; the Backprop and Look tabs then trace it too.")
        if picture is None:
            self.image.clear()
            self.what.setText("No picture yet: open one, or pick a held-out picture on the Backprop tab.")
            return
        show_picture_on(self.image, picture.image)
        self._box.setRange(QtCore.QRectF(0, 0, picture.shape[2], picture.shape[1]), padding=0)
        self.what.setText(f"Shown: {picture.told}.")
