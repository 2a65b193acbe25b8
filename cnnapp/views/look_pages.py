"""The Look tab's three pages: where the network looks (saliency, Grad-CAM), fooling it (an adversarial
picture) and what it wants to see (a dream). Each page only draws what the view hands it."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ..state.classes import known_classes, with_article
from ..widgets.colour_scales import rgb_image
from ..widgets.heatmap import SEQ_LUT, lut_for
from ..widgets.picture_numbers import offer_numbers
from ..widgets.pictures import GREY_LUT, picture_planes, show_picture_on
from ..widgets.wrapping_label import WrappingLabel


def overlay(picture: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """An RGB ``(H, W, 3)`` uint8 picture: the picture (``(C, H, W)`` grey or colour, or ``(H, W)``)
    with ``heat`` (``(H, W)`` in [0, 1]) laid over it in the sequential colours, opaque where the heat
    is high."""
    picture = np.asarray(picture)
    base = (rgb_image(picture) if picture.ndim == 3 and len(picture) == 3
            else np.repeat(np.clip(picture.reshape(picture.shape[-2:]), 0, 1)[..., None] * 255.0, 3, axis=2))
    colour = SEQ_LUT[np.clip((heat * 255).astype(int), 0, 255)].astype(np.float64)
    a = (0.75 * np.clip(heat, 0, 1))[..., None]
    return ((1 - a) * base + a * colour).astype(np.ubyte)


def change_picture(change: np.ndarray, eps: float) -> np.ndarray:
    """A colour picture's change ``(3, H, W)`` within ±``eps`` as levels in [0, 1]: grey where nothing
    changed, each of R, G and B brighter where that level was raised (and darker where lowered)."""
    return 0.5 + 0.5 * np.asarray(change, dtype=np.float64) / max(float(eps), 1e-6)


#: How much wider than its picture a panel's caption may be (a panel is no wider than that).
CAPTION_OVER = 20


def side_for(width: int, height: int) -> int:
    """The side of a page's pictures when the pages are ``width`` × ``height``: three panels in a row
    fit (each its picture, its caption's overhang and margins, and the page's scroll bar), and the
    two rows of the first page with their titles, captions and note; from 96 to 300 px."""
    across = (width - 40) / 3 - CAPTION_OVER - 12
    down = (height - 215) / 2        # (a colour picture's captions take two lines)
    return int(max(96, min(300, across, down)))


class ImagePanel(QtWidgets.QWidget):
    """A square picture with a title above and a caption below."""

    def __init__(self, title: str, tooltip: str = "", size: int = 150, parent=None):
        super().__init__(parent)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(2)
        self.title = QtWidgets.QLabel(title)
        self.title.setStyleSheet("font-weight: bold;")
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.view.setFixedSize(size, size)
        self.view.setToolTip(tooltip)
        self.view.setAccessibleName(title or tooltip)
        self.values = None          # the numbers the picture shows (H, W), or (C, H, W) for a colour one
        offer_numbers(self.view, lambda: [] if self.values is None else picture_planes(
            self.title.text() or self.view.toolTip(), self.values if self.values.ndim == 3 else self.values[None]))
        vb = self.view.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        vb.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        vb.addItem(self.image)
        self._vb = vb
        self.caption = WrappingLabel("")     # (as tall as its lines: zoomed, they ran over the picture)
        self.caption.setStyleSheet("color: #555;")
        self.caption.setMaximumWidth(size + CAPTION_OVER)
        for w in (self.title, self.view, self.caption):
            lay.addWidget(w)
        lay.addStretch(1)

    def set_side(self, side: int) -> None:
        self.view.setFixedSize(side, side)
        self.caption.setMaximumWidth(side + CAPTION_OVER)

    def clear(self) -> None:
        """Nothing shown (and nothing for Ctrl+C to copy)."""
        self.values = None
        self.image.clear()
        self.caption.setText("")

    def _set(self, img, values=None, **kw) -> None:
        self.values = np.asarray(img if values is None else values, dtype=np.float32)
        self.image.setImage(img, **kw)
        self._vb.setRange(QtCore.QRectF(0, 0, img.shape[1], img.shape[0]), padding=0)

    def show_grey(self, img) -> None:
        self._set(np.asarray(img, np.float32), levels=(0, 1), lut=GREY_LUT)

    def show_signed(self, img, m: float | None = None) -> None:
        img = np.asarray(img, np.float32)
        m = float(np.abs(img).max()) if m is None else m
        self._set(img, levels=(-(m or 1.0), m or 1.0), lut=lut_for(True))      # the chosen signed scale

    def show_magnitude(self, img) -> None:
        img = np.asarray(img, np.float32)
        self._set(img, levels=(0, float(img.max()) or 1.0), lut=SEQ_LUT)

    def show_rgb(self, rgb, values) -> None:
        """An RGB picture ``(H, W, 3)`` of the numbers ``values`` ``(H, W)`` or ``(C, H, W)`` (what Ctrl+C copies)."""
        self._set(rgb, values, levels=(0, 255))

    def show_picture(self, image, values=None) -> None:
        """A picture ``(C, H, W)`` in [0, 1]: grey, or in colour (its R, G and B planes are its numbers)."""
        image = np.asarray(image, np.float32)
        self.values = np.asarray(image if values is None else values, dtype=np.float32)
        if self.values.ndim == 3 and len(self.values) == 1:
            self.values = self.values[0]
        show_picture_on(self.image, image)
        self._vb.setRange(QtCore.QRectF(0, 0, image.shape[-1], image.shape[-2]), padding=0)


def row(*widgets) -> QtWidgets.QHBoxLayout:
    lay = QtWidgets.QHBoxLayout()
    for w in widgets:
        lay.addWidget(w) if isinstance(w, QtWidgets.QWidget) else lay.addLayout(w)
    lay.addStretch(1)
    return lay


def note(text: str) -> QtWidgets.QLabel:
    label = QtWidgets.QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: #555;")
    return label


class _Page(QtWidgets.QScrollArea):
    """A page that scrolls rather than widen the window."""

    #: What a screen reader calls the page.
    NAME = ""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName(self.NAME)
        self.setWidgetResizable(True)
        self.setFrameShape(QtWidgets.QFrame.NoFrame)
        self.page = QtWidgets.QWidget()
        self.setWidget(self.page)
        self.lay = QtWidgets.QVBoxLayout(self.page)

    def panels(self) -> list:
        return []

    def minimumSizeHint(self) -> QtCore.QSize:
        """At least one of its pictures wide, with its caption (zoomed, the pages were a sliver beside
        the drawing: "Whe…"); the rest scrolls."""
        hint = super().minimumSizeHint()
        panel = max((p.minimumSizeHint().width() for p in self.panels()), default=0)
        return QtCore.QSize(max(hint.width(), panel + self.verticalScrollBar().sizeHint().width() + 24), hint.height())

    def set_side(self, side: int) -> None:
        for panel in self.panels():
            panel.set_side(side)

    def clear(self, text: str = "") -> None:
        """Every panel empty: no picture to look at, or another network (nothing of the old one stays)."""
        for panel in self.panels():
            panel.clear()


class WherePage(_Page):
    """What it sees, the saliency (signed and its size), and Grad-CAM of every conv layer."""
    NAME = "Where it looks"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.seen = ImagePanel("What it sees", "The input the network gets")
        self.saliency = ImagePanel("Saliency (signed)", "∂z/∂x: red pixels raise the score when made "
                                   "brighter, blue ones lower it")
        self.saliency_abs = ImagePanel("Saliency |∂z/∂x|", "How much each pixel matters, whichever way")
        self.cam_box = QtWidgets.QHBoxLayout()
        self.cam_box.addStretch(1)
        self.cam_panels: list[ImagePanel] = []
        self.lay.addLayout(row(self.seen, self.saliency, self.saliency_abs))
        self.lay.addWidget(note("Grad-CAM, per conv layer: each filter map is weighted by how much it raises the "
                                "score on average, the weighted maps are added, negatives dropped, and the result "
                                "is stretched over the picture (bright: where it raises the score most). Early "
                                "layers follow edges, strokes and background; the last conv layer's map says most "
                                "about the answer."))
        self.lay.addLayout(self.cam_box)
        self.lay.addStretch(1)

    def panels(self) -> list:
        return [self.seen, self.saliency, self.saliency_abs, *self.cam_panels]

    def clear(self, text: str = "") -> None:
        super().clear()
        for panel in self.cam_panels:
            panel.setVisible(False)

    def show(self, x, g, cams) -> None:
        """``x`` (C, H, W) the input, ``g`` its ClassGradient, ``cams`` ``{layer: (cam, cam stretched to x)}``.
        A colour picture's saliency is shown summed over its R, G and B levels (signed) and in colour:
        each of R, G, B as bright as that level of the pixel matters (|∂z/∂x| of the three, on one scale)."""
        self.seen.show_picture(x)
        colour = len(g.saliency) == 3
        s = g.saliency.sum(axis=0)
        self.saliency.show_signed(s)
        self.saliency.title.setText("Saliency, R + G + B (signed)" if colour else "Saliency (signed)")
        if colour:
            a = np.abs(g.saliency)
            self.saliency_abs.show_picture(a / (float(a.max()) or 1.0), a)
            self.saliency_abs.title.setText("Saliency |∂z/∂x| in colour")
        else:
            self.saliency_abs.show_magnitude(np.abs(s))
            self.saliency_abs.title.setText("Saliency |∂z/∂x|")
        # (each caption the largest number of its own panel: the sum's, and each level's)
        summed = " + ".join(f"∂z_{g.cls}/∂{c}" for c in ("RGB" if colour else "x"))
        self.saliency.caption.setText(f"largest |{summed}| = {np.abs(s).max():.3g}")
        self.saliency_abs.caption.setText(f"bright red: the pixel's red level matters most, and so on; largest "
                                          f"|∂z_{g.cls}/∂x| of a level = {np.abs(g.saliency).max():.3g}" if colour
                                          else "")
        while len(self.cam_panels) < len(cams):
            panel = ImagePanel("", "Grad-CAM of this conv layer, over the picture", size=self.seen.view.width())
            self.cam_panels.append(panel)
            self.cam_box.insertWidget(len(self.cam_panels) - 1, panel)
        for panel in self.cam_panels[len(cams):]:
            panel.setVisible(False)
        for panel, (i, (cam, up)) in zip(self.cam_panels, cams.items()):
            panel.setVisible(True)
            top = float(up.max())
            panel.show_rgb(overlay(x, up / top if top > 0 else up), up)
            panel.title.setText(f"Grad-CAM, layer {i}")
            panel.caption.setText(f"{cam.shape[0]}×{cam.shape[1]} map" if top > 0 else
                                  f"{cam.shape[0]}×{cam.shape[1]}: no region raises the score of {g.cls}")


class FoolPage(_Page):
    """The budget ε and the target, the original, the change and the changed picture."""
    NAME = "Fooling it"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.eps = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.eps.setObjectName("lookEpsilon")
        self.eps.setAccessibleName("Budget ε")
        self.eps.setRange(1, 30)
        self.eps.setValue(10)
        self.eps.setToolTip("ε: how far any pixel's level may move (0.01 to 0.30 of full brightness; in a colour "
                            "picture each of its R, G and B levels)")
        self.eps_label = QtWidgets.QLabel("")
        self.target = QtWidgets.QComboBox()
        self.target.setObjectName("lookTarget")
        self.target.setAccessibleName("The class to turn the picture into")     # (its items: the Look tab's menus)
        self.smallest = QtWidgets.QPushButton("Find the smallest ε")
        self.smallest.setObjectName("lookSmallest")
        self.smallest.setToolTip("Search for the smallest budget that changes the answer (up to 0.30)")
        self.original = ImagePanel("Original", "The picture as it is")
        self.change = ImagePanel("Change", "What is added to each pixel: red brighter, blue darker")
        self.fooled = ImagePanel("Changed picture", "The original plus the change, kept within [0, 1]")
        self.attack_text = QtWidgets.QLabel("")
        self.attack_text.setObjectName("lookAttackText")
        self.attack_text.setWordWrap(True)
        self.lay.addLayout(row(QtWidgets.QLabel("Budget ε"), self.eps, self.eps_label))   # two rows: a narrow page
        self.lay.addLayout(row(QtWidgets.QLabel("towards"), self.target, self.smallest))
        self.lay.addLayout(row(self.original, self.change, self.fooled))
        self.lay.addWidget(self.attack_text)
        self.lay.addWidget(note("Each step moves every pixel by a small amount in the direction that hurts the "
                                "current answer most (the sign of the gradient), never further than ε from the "
                                "original and always between black and white. Often a change a person barely sees "
                                "is enough: the network reads pixels, not shapes."))
        self.lay.addStretch(1)

    def panels(self) -> list:
        return [self.original, self.change, self.fooled]

    def epsilon(self) -> float:
        return self.eps.value() / 100.0

    def set_channels(self, channels: int) -> None:
        """Words for a grey (1) or a colour (3) picture."""
        self.colour = channels == 3
        self.change.view.setToolTip("What is added to each level: grey is no change, redder where red was "
                                    "raised, and so on (each of R, G, B within ±ε)" if self.colour else
                                    "What is added to each pixel: red brighter, blue darker")

    def show(self, a, smallest: bool, names, label: int | None = None) -> None:
        """An :class:`cnncore.probe.Attack`; ``smallest``: the smallest budget found (the slider follows);
        ``label``: the picture's true class, when known."""
        if smallest and a.success:
            self.eps.blockSignals(True)
            self.eps.setValue(max(1, int(np.ceil(a.epsilon * 100 - 1e-9))))
            self.eps.blockSignals(False)
        self.eps_label.setText(_eps(a.epsilon) if smallest and a.success else _eps(self.epsilon()))
        self.original.show_picture(a.original)
        if len(a.change) == 3:
            self.change.show_picture(change_picture(a.change, a.epsilon), a.change)
        else:
            self.change.show_signed(a.change[0], max(a.epsilon, 1e-6))
        self.fooled.show_picture(a.image)
        self.original.caption.setText(f"answer {names[a.original_predicted]}")
        self.fooled.caption.setText(f"answer {names[a.predicted]}")
        self.change.caption.setText(f"{'levels' if len(a.change) == 3 else 'pixels'} changed by at most "
                                    f"±{_eps(largest_change(a))} (budget ±{_eps(a.epsilon)})")
        self.attack_text.setText(attack_words(a, smallest, names, label))

    def clear(self, text: str = "") -> None:
        super().clear()
        self.attack_text.setText(text)


class DreamPage(_Page):
    """What to make large, Start / Stop, and the picture painted so far."""
    NAME = "What it wants to see"
    TITLE = "Painted input"         # the panel's, while nothing is being painted

    def __init__(self, parent=None):
        super().__init__(parent)
        self.goal = QtWidgets.QComboBox()
        self.goal.setObjectName("lookGoal")
        self.goal.setAccessibleName("What the dream makes the network want")
        self.goal.setToolTip("What to make large: the score of a class, or the average of one filter's map")
        self.dream_button = QtWidgets.QPushButton("Start")
        self.dream_button.setObjectName("lookDreamButton")
        self.dream_button.setToolTip("Start or stop painting (runs in the background)")
        self.dream_panel = ImagePanel(self.TITLE, "The input that gradient ascent has found so far", size=220)
        self.lay.addLayout(row(QtWidgets.QLabel("Make large:"), self.goal, self.dream_button))
        self.lay.addLayout(row(self.dream_panel))
        self.lay.addWidget(note("Starting from a grey picture, each step nudges every pixel along the gradient of "
                                "the chosen score, with a small pull towards smooth pictures so the result is "
                                "not just noise. What appears is what the network responds to, not a picture a "
                                "person would draw or take."))
        self.lay.addStretch(1)
        self.goals: list = []

    def set_side(self, side: int) -> None:
        self.dream_panel.set_side(int(side * 1.4))

    def clear(self, text: str = "") -> None:
        super().clear()
        self.dream_panel.title.setText(self.TITLE)      # not "Painting for" another network's goal

    def panels(self) -> list:
        return [self.dream_panel]

    def fill_goals(self, net, class_word) -> None:
        """The menu: every class's score, then every filter of every conv layer."""
        from cnncore.probe import Goal, conv_layers
        self.goals = [Goal.of_class(d) for d in known_classes(net)]
        for i in (conv_layers(net) if net is not None else []):
            self.goals += [Goal.of_filter(i, k) for k in range(net.layers[i].out_shape[0])]
        keep = self.goal.currentText()
        self.goal.blockSignals(True)
        self.goal.clear()
        for goal in self.goals:
            self.goal.addItem(f"the score of {class_word(goal.index)}" if goal.layer is None
                              else f"filter {goal.index} of layer {goal.layer} (conv)")
        self.goal.setCurrentIndex(max(self.goal.findText(keep), 0))
        self.goal.blockSignals(False)

    def show_frame(self, f) -> None:
        self.dream_panel.show_picture(f.image)
        self.dream_panel.caption.setText(f"step {f.step}: score {f.score:.3g}, roughness {f.penalty:.3g}")


#: A budget from which the change is plain to see (a tenth of full brightness on every pixel).
PLAIN_CHANGE = 0.1


def attack_words(a, smallest: bool, name, label: int | None = None) -> str:
    """What the attack did, in words; ``name[k]`` is class ``k``'s name, ``label`` the picture's true
    class (None: not known). The change said is the one made: the search stops once the answer turns,
    often well within the budget."""
    was = f"It answered {name[a.original_predicted]}"
    if a.success:
        how = "The smallest budget found is" if smallest else "With the budget"
        level = "no pixel's R, G or B level" if len(a.image) == 3 else "no pixel"
        moved = largest_change(a)
        said = (f"{was}. {how} ε = {_eps(a.epsilon)}: it answers <b>{name[a.predicted]}</b>, and {level} moved by "
                f"more than {_percent(moved)} of full brightness.")
        set_right = label is not None and a.original_predicted != label and a.predicted == label
        if set_right:
            said += (f" Here the change set it right: this picture is {with_article(name[label])}, which the network "
                     "got wrong. Pick one it gets right to see it fooled.")
        elif moved >= PLAIN_CHANGE:
            said += " A change that large is plain to see: this picture does not fool the network easily."
        return said
    goal = "anything else" if a.target is None else name[a.target]
    return f"{was}, and with ε = {_eps(a.epsilon)} it still does not answer {goal}" + (
        f" (it answers {name[a.predicted]})." if a.predicted != a.original_predicted else ".")


def largest_change(a) -> float:
    """The largest change the attack made to any level of the picture (at most its budget ε)."""
    return float(np.abs(a.change).max(initial=0.0))


def _percent(v: float) -> str:
    """A share of full brightness rounded up to a tenth of a percent ("0.3%": never "0%" for a change)."""
    return f"{math.ceil(round(v * 1000, 6)) / 10:g}%"


def _eps(v: float) -> str:
    """ε as every line of the page writes it: at most three decimals, no trailing zeros ("0.09", where one
    line said 0.090 and another 0.09)."""
    return f"{float(v):.3f}".rstrip("0").rstrip(".") or "0"
