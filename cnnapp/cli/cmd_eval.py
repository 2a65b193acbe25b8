"""``cnnapp eval``: a model's loss, accuracy and confusion matrix on labelled pictures.

::

    cnnapp eval MODEL.npz (--images F --labels F | --data SOURCE [--holdout F] | --folder DIR) [--range START:STOP]

With ``--data``, the pictures ``train`` (and the app) held out of that source, by the one held-out rule.
"""
from __future__ import annotations

from .answers import legend, load_model, refuse_not_a_number
from .args import CliError, index_range, loss_text
from .data import as_input, data, data_arguments, holdout, holdout_argument, seed_alias

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    e = sub.add_parser("eval", help="accuracy and confusion matrix of a model on labelled images")
    e.add_argument("model", metavar="MODEL.npz")
    data_arguments(e)
    seed_alias(e)
    holdout_argument(e, "with --data: score the digits train held out of it, the same fraction")
    e.add_argument("--range", type=index_range, default=None, metavar="START:STOP", help="only these images")
    e.set_defaults(func=run)


def run(args) -> int:
    from cnncore.training import evaluate

    net = load_model(args.model)
    got = data(args, "eval", net)
    X, y, which = _held_out(args, as_input(got, net, "eval"), got.y)
    which = _checked_held_out(net, X, y, which)
    X, y = _select(X, y, args.range)
    loss, acc, confusion, wrong, probs = evaluate(net, X, y)
    refuse_not_a_number(net, probs, args.model)
    print(f"{len(X)} images{which}, loss {loss_text(loss)}, {len(wrong)} wrong")
    if legend(net):
        print(legend(net))
    print("confusion matrix (rows: true class, columns: predicted class)")
    shown = _shown_classes(net, confusion)
    print("      " + "".join(f"{p:>6}" for p in shown) + "   recall")
    for t in shown:
        row = confusion[t]
        rec = f"{row[t] / row.sum():.3f}" if row.sum() else "—"
        print(f"{t:>6}" + "".join(f"{row[p]:>6}" for p in shown) + f"   {rec}")
    print(f"accuracy: {acc:.4f}")
    return 0


def _shown_classes(net, confusion) -> list:
    """The classes of the table (:func:`cnncore.training.used_classes`)."""
    from cnncore.training import used_classes

    return used_classes(net.classes, confusion)


def _held_out(args, X, y):
    """With ``--data``, the digits ``train`` held out of that source (the same rule and fraction)."""
    if args.data is None:
        return X, y, ""
    from cnncore.datasets import held_out_split

    args.holdout = holdout(args)
    _, _, Xv, yv = held_out_split(X, y, args.holdout)
    if len(Xv) == 0:
        raise CliError(f"--holdout {args.holdout} holds out no images of {len(X)}")
    return Xv, yv, f" held out of {args.data} (--holdout {args.holdout:g})"


def _checked_held_out(net, X, y, which: str) -> str:
    """``which`` as it is where the pictures are the very ones the model's runs held out (each epoch of
    its history names them), else with a note first that they are not, or not in every run: a run of
    other settings (another --count, --holdout or --data-seed) held out others, and these may include
    pictures it learnt from."""
    from cnncore.training import as_network_input, held_out_id, runs_held_out

    named, kept, same = runs_held_out(net.history)
    if not which or not named:
        return which                   # (the whole files, a model of an older version: nothing to tell)
    if kept is not None and held_out_id(as_network_input(X, net.dtype), y) == kept:
        if same:
            return which + ", the very pictures its runs held out"
        print("note: these are the pictures this model's last run held out, but an earlier run of it held out "
              "others (or none): some may be pictures it learnt from", flush=True)
        return which.replace(" held out of ", " of ", 1)
    run = ("held out no pictures (--holdout 0)" if kept is None else
           f"held out {int(kept.split(':')[0]):,} others (another --count, --holdout or --data-seed)")
    print(f"note: these are not pictures this model's run held out: it {run}; some may be pictures it "
          "learnt from, which score better than new ones", flush=True)
    return which.replace(" held out of ", " of ", 1)



def _select(X, y, rng, flag="--range"):
    """``X[a:b], y[a:b]`` of ``--range a:b`` (None: all)."""
    if rng is None:
        return X, y
    a, b = rng
    n = len(X)
    a = 0 if a is None else (a + n if a < 0 else a)
    b = n if b is None else (b + n if b < 0 else b)
    if not 0 <= a < b <= n:
        why = (f"selects no image (its end, {b}, is not past its start, {a})" if 0 <= a < n and 0 <= b <= n
               else f"out of range for {n} images")
        raise CliError(f"{flag} {rng[0] if rng[0] is not None else ''}:{rng[1] if rng[1] is not None else ''}: "
                       f"{why}")
    return X[a:b], y[a:b]
