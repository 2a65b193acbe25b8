"""How one picture became a model's input, in words (:class:`Fitting`): what the reader of
:mod:`cnncore.datasets.pictures` did to it, noted as it read it, so the app and the command line say
what the network sees (the middle of a wide photo, a tiny picture scaled up, colours made grey)
without reading the file again."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Fitting"]


def crop_box(w: int, h: int, W: int, H: int) -> tuple[float, float, float, float]:
    """The part of a ``w`` × ``h`` picture a ``W`` × ``H`` input shows: the whole of the side that fits,
    the middle of the other, at the input's proportions; (left, top, right, bottom), inside the
    picture. (W / (W / w) can come out an ulp past w: a box from −1e-14 was refused, and one picture
    size in twenty could not be read.)"""
    if W * h >= H * w:
        cw, ch = float(w), min(float(h), H * w / W)
    else:
        cw, ch = min(float(w), W * h / H), float(h)
    return (w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2


@dataclass(frozen=True)
class Fitting:
    """One picture brought to an input of ``shape (C, H, W)`` by the rule ``fit`` ("picture" or
    "digit"): its ``size (width, height)`` upright, whether it shows ``colour`` (not only greys),
    was ``turned`` upright as its EXIF data said; ``transparent``: the paper its transparent parts were laid
    on ("white", or "black" where nothing showed on white), "" where it has none."""
    size: tuple[int, int]
    shape: tuple[int, int, int]
    fit: str = "picture"
    colour: bool = False
    turned: bool = False
    transparent: str = ""

    def seen(self) -> tuple[int, int]:
        """The width and height of the part of the picture the input shows (the picture rule)."""
        w, h = self.size
        left, top, right, bottom = crop_box(w, h, self.shape[2], self.shape[1])
        return max(1, round(right - left)), max(1, round(bottom - top))

    def words(self) -> str:
        """What was done to the picture, for a student: "the middle 50×50 of its 2,000×50 pixels,
        scaled up to 32×32; a grey picture, so its R, G and B planes are the same"."""
        C, H, W = self.shape
        w, h = self.size
        if self.fit == "digit":
            parts = [f"read as a digit by MNIST's recipe from its {w:,}×{h:,} pixels: the paper made black and the "
                     f"ink white, fitted into 20×20 and centred in {H}×{W}"]
        else:
            cw, ch = self.seen()
            part = f"its {w:,}×{h:,} pixels" if (cw, ch) == (w, h) else f"the middle {cw:,}×{ch:,} of its {w:,}×{h:,} pixels"
            if (cw, ch) != (W, H):
                part += f", scaled {'up' if cw < W else 'down'} to {W}×{H}"
            parts = [part]
        if self.turned:
            parts.append("turned upright as the camera noted")
        if self.transparent:
            parts.append(f"its transparent parts laid on {self.transparent}")
        if self.colour and C == 1:
            parts.append("its colours made grey")
        elif not self.colour and C == 3:
            parts.append("a grey picture, so its R, G and B planes are the same")
        return "; ".join(parts)

    def notes(self) -> list[str]:
        """What the command line notes after an answer: colours the network does not take, and a
        picture of which the network sees less than half."""
        C, H, W = self.shape
        lines = []
        if self.colour and C == 1:
            how = "as a grey digit, by MNIST's recipe" if self.fit == "digit" else "in grey"
            lines.append(f"a colour picture, read {how}: this network takes grey pictures")
        elif not self.colour and C == 3:
            lines.append("a grey picture: this network takes colour ones, and each of its red, green and blue "
                         "planes got the same grey")
        if self.fit != "digit":
            (w, h), (cw, ch) = self.size, self.seen()
            if 2 * cw * ch < w * h:
                lines.append(f"the network sees only the middle {cw:,}×{ch:,} of the picture's {w:,}×{h:,} pixels "
                             f"(its input is {W}×{H}): crop the picture to the part that matters")
        return lines
