"""``cnnapp trace``: one picture's forward and backward pass and the update step, as a trace ``.npz``.

::

    cnnapp trace MODEL.npz (--images F --labels F | --data SOURCE | --folder DIR) [--index I] [--lr A] --out TRACE.npz

Without ``--index``, the picture the app's Backprop tab starts with (among the first 100, the one the
model gets wrong or is least sure of). The update step is the model's own optimizer resumed from its
saved state, or plain gradient descent at ``--lr`` (:mod:`cnncore.update`).
"""
from __future__ import annotations

import sys

from .answers import load_model, named
from .args import CliError, learning_rate, loss_text, nonneg_int
from .data import data_arguments, one_picture, seed_alias
from .outputs import output

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    r = sub.add_parser("trace", help="record one image's forward and backward pass as .npz")
    r.add_argument("model", metavar="MODEL.npz")
    data_arguments(r)
    seed_alias(r)
    r.add_argument("--index", type=nonneg_int, metavar="I",
                   help="which picture (a folder's: class by class, each class's files in sorted order, from 0; "
                        "default: among the first 100, the one the model gets wrong or is least sure of, as the "
                        "app's Backprop tab picks it)")
    r.add_argument("--lr", type=learning_rate(), default=None,
                   help="show a plain gradient-descent update at this learning rate instead of the step the "
                        "model's own optimizer makes next from its saved state")
    r.add_argument("--out", required=True, metavar="TRACE.npz")
    r.set_defaults(func=run)


def run(args) -> int:
    from cnncore.modelio import a_model_file
    from cnncore.trace import trace
    from cnncore.update import rule_name

    out = output(args, ".npz", spare=a_model_file)
    net = load_model(args.model)
    x, label, where = one_picture(args, net, "trace")
    try:
        t = trace(net, x, label, lr=args.lr)
    except ValueError as e:     # a pass whose numbers overflow: the model or the learning rate
        raise CliError(f"trace: {args.model}: {e}") from None
    if net.optimizer_note and args.lr is None:
        print(f"cnnapp trace: note: {net.optimizer_note}", file=sys.stderr)
    t.save(out)
    rule = rule_name(t.settings)
    print(f"{where}: label {named(net, t.label)}, predicted {named(net, t.prediction)}, loss {loss_text(t.loss)} "
          f"({loss_text(t.loss_next)} after one {rule} step, lr {t.lr:g}); "
          f"{len(t.arrays)} arrays and {len(t.steps)} steps written to {out}")
    return 0
