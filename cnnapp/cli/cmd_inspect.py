"""``cnnapp inspect``: what the network looks at and how fragile its answer is, for one picture
(:mod:`cnncore.probe`), as one ``.npz``.

::

    cnnapp inspect MODEL.npz ((--images F --labels F | --data SOURCE | --folder DIR) --index I | --image FILE)
                   [--class C] [--target D] --out X.npz
"""
from __future__ import annotations

from .answers import answer, load_model, named, quoted
from .args import CliError, class_number, nonneg_int
from .data import data_arguments, one_picture, picture, seed_alias
from .outputs import output

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    s = sub.add_parser("inspect", help="saliency, Grad-CAM and an adversarial picture for one picture, as .npz")
    s.add_argument("model", metavar="MODEL.npz")
    data_arguments(s)
    seed_alias(s)
    s.add_argument("--index", type=nonneg_int, metavar="I",
                   help="which picture of --images, --data or --folder (a folder's: class by class, each "
                        "class's files in sorted order, from 0)")
    s.add_argument("--image", "--png", dest="image", metavar="FILE",
                   help="a picture instead (PNG, JPEG, BMP or WebP, brought to the model's input; its label is "
                        "written as -1)")
    s.add_argument("--class", dest="cls", type=class_number, default=None, metavar="C",
                   help="the class (0..9) whose logit the saliency and Grad-CAM explain (default: the answer)")
    s.add_argument("--target", type=class_number, default=None, metavar="K",
                   help="push the adversarial picture towards this class (default: any other answer)")
    s.add_argument("--out", required=True, metavar="X.npz")
    s.set_defaults(func=run)


def _input(args, net):
    """``(x (C, H, W) floats in [0, 1], label or −1, where)`` of ``inspect``: a picture file or one
    labelled picture."""
    if args.image is not None:
        if args.images is not None or args.data is not None or args.folder is not None or args.index is not None:
            raise CliError("inspect: give either --image or --images/--labels (or --data, --folder) with --index, "
                           "not both")
        return picture(args.image, net, "inspect"), -1, args.image
    if args.index is None:
        raise CliError("inspect: give --index I with --images/--labels, --data or --folder (or an --image FILE)")
    return one_picture(args, net, "inspect")


def run(args) -> int:
    """Saliency, Grad-CAM of every conv layer and the smallest adversarial change, as one .npz."""
    import numpy as np

    from cnncore import atomic_savez
    from cnncore.architecture import UNUSED_CLASS
    from cnncore.modelio import a_model_file
    from cnncore.probe import Probe

    out = output(args, ".npz", spare=a_model_file)
    net = load_model(args.model, args.image, "inspect",               # (the model first, the picture after --image)
                     f"{quoted(args.image)} --image {quoted(args.model)} …")
    for flag, k in (("--class", args.cls), ("--target", args.target)):
        if k is not None and net.classes[k] == UNUSED_CLASS:
            raise CliError(f"inspect: {flag} {k}: output {k} is one no class of {args.model} uses (its classes: "
                           f"{', '.join(f'{i} {c}' for i, c in enumerate(net.classes) if c != UNUSED_CLASS)})")
    x, label, where = _input(args, net)
    answer(net, x[None], args.model)
    probe = Probe(net)
    g = probe.class_gradient(x, args.cls)
    attack = probe.smallest_attack(x, target=args.target)
    arrays = {"input": x[None], "label": np.int64(label), "predicted": np.int64(g.predicted),
              "saliency": g.saliency[None]}
    arrays.update({f"gradcam.L{i}": cam for i, cam in g.gradcam().items()})
    arrays.update({"adversarial": attack.image[None], "adversarial_predicted": np.int64(attack.predicted),
                   "epsilon": np.float64(attack.epsilon)})
    atomic_savez(out, arrays)
    change = (f"an L∞ change of {attack.epsilon:.3f} makes it answer {named(net, attack.predicted)}"
              if attack.success else f"no change up to {attack.epsilon:.2f} makes it answer "
              + ("another class" if args.target is None else named(net, args.target)))
    print(f"{where}: label {named(net, label) if label >= 0 else 'unknown'}, predicted {named(net, g.predicted)}; "
          f"{change}; written to {out}")
    return 0
