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
    X, y = _select(X, y, args.range)
    which = _learnt(net, X, which)
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


def _learnt(net, X, which: str) -> str:
    """``which`` with what the model says of these pictures: none of them learnt from, or (with a note
    first) how many it learnt from, which score better than new pictures; as it is where a model of an
    older version cannot tell."""
    from cnncore.learnt import how_many, learnt_count

    count = learnt_count(net, X)
    if count is None:
        return which
    if count == 0:
        return which + ", none of them pictures it learnt from"
    print(f"note: {how_many(count, len(X))} of these {len(X):,} pictures are ones this model "
          "learnt from (its training pictures): they score better than new pictures would", flush=True)
    return which.replace(" held out of ", " of ", 1) + f", {count:,} of them pictures it learnt from"


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
