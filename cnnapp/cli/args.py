"""What the user types: the parser that reports a mistake in one line, the argument types and their caps.

Every type here is an argparse ``type=``: it returns the value or raises ``ArgumentTypeError``
("expected …, got '…'"), which :class:`Parser` turns into a :class:`CliError` (one line on stderr,
exit status 2, see :func:`cnnapp.cli.main`). The caps (epochs, learning rates) are those of
:mod:`cnncore.limits`, which the app uses too.
"""
from __future__ import annotations

import argparse
import math
import re

__all__ = ["CliError", "Parser", "positive_int", "nonneg_int", "nonneg_float", "class_number", "fraction",
           "learning_rate", "epochs", "index_range", "joined_ranges", "loss_text"]


class CliError(Exception):
    """A problem with the user's arguments or files: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """Options by their whole names only: a name argparse would complete took `eval --image one.png`
    (the option of `inspect`) for `--images` and answered "--images and --labels go together"."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line, no usage dump
        raise CliError(f"{self.prog}: {message}")

    def parse_args(self, args=None, namespace=None):
        """As argparse's, but what no option of the command takes is said with the command's name and
        where its options are listed (argparse said it of "cnnapp")."""
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            words = [getattr(parsed, name, None) for name in ("command", "lesson_command")]
            prog = " ".join([self.prog, *(w for w in words if w)])
            raise CliError(f"{prog}: unrecognized arguments: {' '.join(extra)} (`{prog} --help` lists its options)")
        return parsed


def _number(kind, ok, expected: str):
    """An argparse type: ``kind(text)`` that must pass ``ok``, else "expected <expected>"."""
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            v = None
        if v is None or not ok(v):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return v
    return parse


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
nonneg_int = _number(int, lambda v: v >= 0, "an integer >= 0")
nonneg_float = _number(float, lambda v: math.isfinite(v) and v >= 0, "a number >= 0")
class_number = _number(int, lambda v: 0 <= v <= 9, "a class's number 0..9 (its place among the model's classes)")
fraction = _number(float, lambda v: 0 <= v < 1, "a fraction in [0, 1)")


def learning_rate():
    """The ``--lr`` type: a rate within the bounds a run and a trace accept (:mod:`cnncore.limits`)."""
    from cnncore.limits import MAX_LR, MIN_LR
    return _number(float, lambda v: MIN_LR <= v <= MAX_LR, f"a learning rate from {MIN_LR:g} to {MAX_LR:g}")


def epochs():
    """The ``--epochs`` type: 1 to :data:`cnncore.limits.MAX_EPOCHS`."""
    from cnncore.limits import MAX_EPOCHS
    return _number(int, lambda v: 1 <= v <= MAX_EPOCHS, f"a number of epochs from 1 to {MAX_EPOCHS:,}")


#: ``--range -5:`` (the last five): a value that begins with "-" and is no plain negative number
#: is an option to argparse ("expected one argument"); :func:`joined_ranges` makes it ``--range=-5:``.
_RANGE_VALUE = re.compile(r"-[0-9]*:-?[0-9]*")


def joined_ranges(argv: list) -> list:
    """``argv`` with each ``--range`` (or a short form argparse takes for it, ``--ran``) and a value
    counting from the end joined into one word."""
    out, k = [], 0
    while k < len(argv):
        flag = argv[k]
        if len(flag) > 2 and "--range".startswith(flag) and k + 1 < len(argv) and _RANGE_VALUE.fullmatch(argv[k + 1]):
            out.append(f"--range={argv[k + 1]}")
            k += 2
        else:
            out.append(argv[k])
            k += 1
    return out


def index_range(text: str) -> tuple[int | None, int | None]:
    """The ``--range START:STOP`` type; either end may be left out (``6500:``) or count from the end."""
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        a = int(parts[0]) if parts[0] else None
        b = int(parts[1]) if parts[1] else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP (e.g. 6500:8000), got {text!r}") from None
    return a, b


def loss_text(v: float) -> str:
    """A loss as the commands print it: four decimals, or four digits where it is huge (a model whose
    weights are near 1e300 printed a loss of 301 digits)."""
    return f"{v:.4f}" if abs(v) < 1e5 else f"{v:.4g}"
