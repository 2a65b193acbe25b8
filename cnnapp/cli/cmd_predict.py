"""``cnnapp predict MODEL.npz PICTURE``: the model's answer for one picture file, with every class's
probability (a digit for a digit model, the class's name otherwise), and a note where the picture's
colours are not the network's or the network sees less than half of it."""
from __future__ import annotations

from .answers import answer, legend, load_model, quoted
from .data import fitted_picture

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    q = sub.add_parser("predict", help="classify a picture (a digit, or a colour picture for a colour model)")
    q.add_argument("model", metavar="MODEL.npz")
    q.add_argument("image", metavar="PICTURE", help="PNG, JPEG, BMP or WebP, brought to the model's input")
    q.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    net = load_model(args.model, args.image, "predict", quoted(args.image, args.model))     # (the model first)
    x, how = fitted_picture(args.image, net, "predict")
    p = answer(net, x[None], args.model)[0]
    _say_answer(net, p, int(np.argmax(p)))
    for note in how.notes():         # colours the network does not take, a picture it sees little of
        print(f"note: {note}")
    return 0


def _say_answer(net, p, best: int) -> None:
    from cnncore.datasets.folder import UNUSED_CLASS

    if not legend(net):
        print(f"digit: {best}")
        for d in range(10):
            print(f"{d}: {p[d]:.4f}")
        return
    print(f"class: {best} {net.classes[best]} ({net.dataset or 'named in the model'})")
    unused = [d for d in range(net.num_classes) if net.classes[d] == UNUSED_CLASS]
    for d in range(net.num_classes):
        if d not in unused:
            print(f"{d} {net.classes[d]}: {p[d]:.4f}")
    if unused:
        print(f"the {len(unused)} outputs no class uses: {p[unused].sum():.4f}")
