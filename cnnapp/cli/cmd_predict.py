"""``cnnapp predict MODEL.npz PICTURE``: the model's answer for one picture file, with every class's
probability (a digit for a digit model, the class's name otherwise)."""
from __future__ import annotations

from .answers import answer, legend, load_model
from .data import picture

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    q = sub.add_parser("predict", help="classify a picture (a digit, or a colour picture for a colour model)")
    q.add_argument("model", metavar="MODEL.npz")
    q.add_argument("image", metavar="PICTURE", help="PNG, JPEG, BMP or WebP, brought to the model's input")
    q.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from cnncore.datasets.folder import UNUSED_CLASS

    net = load_model(args.model)
    x = picture(args.image, net, "predict")
    p = answer(net, x[None], args.model)[0]
    best = int(np.argmax(p))
    if legend(net):
        print(f"class: {best} {net.classes[best]} ({net.dataset or 'named in the model'})")
        unused = [d for d in range(net.num_classes) if net.classes[d] == UNUSED_CLASS]
        for d in range(net.num_classes):
            if d not in unused:
                print(f"{d} {net.classes[d]}: {p[d]:.4f}")
        if unused:
            print(f"the {len(unused)} outputs no class uses: {p[unused].sum():.4f}")
        return 0
    print(f"digit: {best}")
    for d in range(10):
        print(f"{d}: {p[d]:.4f}")
    return 0
