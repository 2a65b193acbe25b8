"""A picture the network takes, ``(C, H, W)`` in [0, 1] (one grey plane, or R, G and B), drawn and
given as numbers the same way everywhere: on a pyqtgraph image (:func:`show_picture_on`), as a QImage
(:func:`picture_qimage`, the gallery's icons) and as tables (:func:`picture_planes`)."""
from __future__ import annotations

import numpy as np
from PySide6 import QtGui

from .colour_scales import colour_patches, rgb_image
from .map_tiles import MapGroup
from .picture_numbers import Plane

__all__ = ["GREY_LUT", "show_picture_on", "picture_qimage", "picture_planes", "colour_map_group"]

GREY_LUT = np.repeat(np.arange(256, dtype=np.ubyte)[:, None], 3, axis=1)


def show_picture_on(item, image) -> None:
    """Draw a picture ``(C, H, W)`` (or ``(H, W)``) in [0, 1] on a pyqtgraph ImageItem: grey levels,
    or in colour."""
    image = np.asarray(image)
    if image.ndim == 3 and len(image) == 3:
        item.setImage(rgb_image(image), levels=(0, 255), lut=None, autoLevels=False)
    else:
        item.setImage(image[0] if image.ndim == 3 else image, levels=(0, 1), lut=GREY_LUT, autoLevels=False)


def picture_qimage(image) -> QtGui.QImage:
    """A picture ``(C, H, W)`` in [0, 1] as a QImage of its own pixels (grey, or in colour)."""
    image = np.asarray(image)
    if len(image) == 3:
        rgb = rgb_image(image)
        h, w = rgb.shape[:2]
        return QtGui.QImage(rgb.data, w, h, 3 * w, QtGui.QImage.Format_RGB888).copy()
    plane = np.ascontiguousarray((np.clip(image.mean(axis=0), 0, 1) * 255).astype(np.uint8))
    h, w = plane.shape
    return QtGui.QImage(plane.data, w, h, w, QtGui.QImage.Format_Grayscale8).copy()


def picture_planes(name: str, image) -> list:
    """The numbers of a picture ``(C, H, W)`` as tables: its one plane, or one per colour (R, G, B)."""
    from cnncore.signature import channel_names
    image = np.asarray(image)
    if len(image) == 1:
        return [Plane(name, image[0])]
    return [Plane(f"{name}, {c}", plane) for c, plane in zip(channel_names(len(image)), image)]


def colour_map_group(key: str, array, title: str, picture=None, **kw) -> MapGroup:
    """The heatmaps of an array over a colour picture's R, G and B planes, ``(N, 3, H, W)``, each row
    drawn first in colour: ``picture`` ``(N, 3, H, W)`` in [0, 1] (the picture itself, for its planes),
    or without it the array as filters, each a colour patch (:func:`colour_patches`). The title says
    so; ``kw`` as :class:`MapGroup` takes it (``diverging``, ``marks``)."""
    from cnncore.signature import channel_names
    if picture is not None:
        colour, words = np.asarray(picture), "the picture, then its R, G and B planes"
    else:
        colour, words = colour_patches(array), "each filter in colour, then its R, G, B"
    shape = title.rfind("   (")             # the words go before the shape at the title's end
    title = f"{title[:shape]}: {words}{title[shape:]}" if shape > 0 else f"{title}: {words}"
    return MapGroup(key, array, title, colour=colour, channels=channel_names(3), **kw)
