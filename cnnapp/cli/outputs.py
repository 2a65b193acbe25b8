"""A command's ``--out``: the one writer's :class:`cnncore.Output`, which knows every file the command
reads and never replaces one of them."""
from __future__ import annotations

from .args import CliError

__all__ = ["output"]


def output(args, flag: str = "--out", also=()):
    """The command's ``--out`` as a :class:`cnncore.Output` that knows the files the command
    reads (``MODEL.npz``, ``--images``, ``--labels``, ``--image``, an ``--arch`` file, and ``also``),
    checked now, before any work: not one of them (the same file by any name), not a folder, FIFO,
    device or socket, in a folder that exists. The writer checks it again when it writes."""
    from cnncore import Output, OutputRefused

    inputs = [getattr(args, name, None) for name in ("model", "images", "labels", "image", "arch")]
    out = Output(args.out, [*inputs, *also])
    try:
        return out.check()
    except OutputRefused as e:
        raise CliError(f"{flag} {e}") from None
