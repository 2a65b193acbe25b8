"""The picture the Backprop and Look tabs look at: where it came from, its pixels and its true class."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

#: Where a picture comes from, and how the tabs name it.
DRAWING, SAMPLE, MISTAKE, SKETCH, FILE, LESSON, OPENED = ("drawing", "sample", "mistake", "sketch", "file", "lesson",
                                                          "opened")
ORIGINS = {DRAWING: "your drawing", SAMPLE: "a data set sample", MISTAKE: "a held-out mistake",
           SKETCH: "drawn on the Look tab", FILE: "a trace file", LESSON: "a picture from a lesson",
           OPENED: "a picture you opened"}


@dataclass(frozen=True, eq=False)
class Picture:
    """One input picture, immutable: a change is a new Picture (and two pictures are the same only
    when they are one object: their pixels are never compared).

    ``image`` is ``(C, H, W)`` float32 in [0, 1] (a 2-D image gets one channel); ``label`` the true
    class, or None when nobody said it (a sketch: the network's answer stands in); ``index`` its
    number in the set it came from (a sample, a held-out mistake, a lesson's picture), else None;
    ``what`` the words the tabs show ("generated sample 3"); ``picked``: chosen by the app, not by the learner;
    ``how``: how a picture of one's own was brought to the network's input ("the middle 50×50 of its
    2,000×50 pixels, scaled down to 32×32"), "" for the others.
    """
    origin: str
    image: np.ndarray = field(repr=False)
    label: int | None = None
    index: int | None = None
    what: str = ""
    picked: bool = False
    how: str = ""

    def __post_init__(self):
        if self.origin not in ORIGINS:
            raise ValueError(f"a picture comes from one of {', '.join(ORIGINS)}, not {self.origin!r}")
        img = np.array(self.image, dtype=np.float32)          # a copy: nobody else can change it
        if img.ndim == 2:
            img = img[None]
        if img.ndim != 3 or 0 in img.shape:
            raise ValueError(f"a picture is (C, H, W) or (H, W), not shape {np.shape(self.image)}")
        if not np.isfinite(img).all():
            raise ValueError("a picture's pixels must be finite numbers")
        img.setflags(write=False)
        object.__setattr__(self, "image", img)
        if self.label is not None:
            if isinstance(self.label, (bool, np.bool_)) or int(self.label) != self.label or self.label < 0:
                raise ValueError(f"a true class is a number from 0, not {self.label!r}")
            object.__setattr__(self, "label", int(self.label))
        if not self.what:
            object.__setattr__(self, "what", ORIGINS[self.origin])

    @property
    def told(self) -> str:
        """What the picture is, and how it was brought to the network's input where that was done here."""
        return f"{self.what}: {self.how}" if self.how else self.what

    @property
    def shape(self) -> tuple:
        """``(C, H, W)``."""
        return tuple(self.image.shape)

    def with_label(self, label: int | None) -> "Picture":
        return replace(self, label=label)

    def plane(self) -> np.ndarray:
        """The picture as one ``(H, W)`` plane (a grey picture's own; the mean of a colour picture's),
        for the grey views (the Draw tab's sheet)."""
        return self.image[0] if self.image.shape[0] == 1 else self.image.mean(axis=0)

    @property
    def colour(self) -> bool:
        """Three planes (R, G, B), not one grey plane."""
        return self.image.shape[0] == 3
