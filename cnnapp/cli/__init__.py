"""The ``cnnapp`` command line: train, eval, trace, predict, export, inspect, lesson (and, with no
arguments, the GUI).

::

    cnnapp train [--arch FILE|PRESET] [--images F --labels F | --data SOURCE [--count N] | --folder DIR] … --out MODEL.npz
    cnnapp eval MODEL.npz (--images F --labels F | --data SOURCE [--holdout F] | --folder DIR) [--range START:STOP]
    cnnapp trace MODEL.npz (--images F --labels F | --data SOURCE | --folder DIR) [--index I] --out TRACE.npz
    cnnapp predict MODEL.npz PICTURE
    cnnapp export MODEL.npz --to torch --out DIR | --to onnx --out FILE.onnx
    cnnapp inspect MODEL.npz ((--images F --labels F | --data SOURCE | --folder DIR) --index I | --image FILE) --out X.npz
    cnnapp lesson new|show|report …

One module per command (``cmd_train``, ``cmd_eval``, ``cmd_trace``, ``cmd_predict``, ``cmd_export``,
``cmd_inspect``, ``cmd_lesson``), each with ``add_parser(sub)`` and ``run(args)``, its usage in its
docstring; what they share: the argument types and their caps (:mod:`.args`), the data sources and
picture files (:mod:`.data`), the model and its answers in words (:mod:`.answers`), and the one
writer's output that knows every file the command reads (:mod:`.outputs`). Here: the parser put
together from the commands, and :func:`main`, which turns every error into an exit status.

SOURCE is one of the data sources of :mod:`cnncore.datasets.sources` (the app's too); DIR a folder of
pictures with one subfolder per class (:mod:`cnncore.datasets.folder`). What is not given takes the
defaults of :mod:`cnncore.defaults`, the app's, by source and preset: a model trained in the app
and scored with ``eval --data SOURCE`` is scored on the digits the app held out.

Bad arguments or files give one line on stderr and exit status 2 (a picture and a model given the wrong
way round, ``cnnapp predict one.png m.npz``: said so, with the right order), and so does an ``--out``
that is one of the files the command reads (under any name), refused before any work. A reader that goes
away (``cnnapp predict m.npz x.png | head -1``) ends any command quietly, exit status 1. Qt is
imported only when the GUI starts. All the arithmetic is in :mod:`cnncore`.
"""
from __future__ import annotations

import errno
import sys

from .. import interrupted_while_starting

try:
    from . import cmd_eval, cmd_export, cmd_inspect, cmd_lesson, cmd_predict, cmd_trace, cmd_train
    from .args import CliError, Parser, joined_ranges
    from .reader import reader_gone
    from .data import read_png
except KeyboardInterrupt:
    interrupted_while_starting()

__all__ = ["main", "CliError", "read_png"]

#: The commands, in the order ``cnnapp --help`` lists them (then ``gui``).
COMMANDS = (cmd_train, cmd_eval, cmd_trace, cmd_predict, cmd_export, cmd_inspect, cmd_lesson)


def main(argv=None) -> int:
    """Entry point of the ``cnnapp`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        try:
            return _run(argv)
        finally:
            if sys.stdout is not None:      # (None under pythonw)
                sys.stdout.flush()      # a reader that went away shows here, not in the last flush at exit
    except BrokenPipeError:
        return reader_gone()
    except OSError as e:                # (standard output on a full disk, /dev/full)
        print(f"cnnapp: could not write the output ({e.strerror or e})", file=sys.stderr)
        reader_gone()
        return 1


#: The errors of writing to standard output (not to a file of the user's, which names itself).
_OUTPUT_ERRORS = {errno.ENOSPC, errno.EIO, errno.EFBIG}


def _run(argv: list) -> int:
    """The command of ``argv``, every error of the user's arguments and files one line on stderr."""
    try:
        if not argv:
            return _gui()
        args = _parser().parse_args(joined_ranges(argv))
        if args.command is None:
            raise CliError("cnnapp: give a command (train, eval, trace, predict, export, inspect, lesson, gui)")
        return args.func(args)
    except BrokenPipeError:         # an OSError, but not one of the user's files: see main()
        raise
    except OSError as e:
        if type(e) is OSError and e.filename is None and e.errno in _OUTPUT_ERRORS:   # stdout full (> /dev/full)
            raise
        print(_said(str(e)), file=sys.stderr)
        return 2
    except (CliError, ValueError) as e:
        # ModelFileError, IDXError, ArchitectureError and file-system errors: the user's files.
        print(_said(str(e)), file=sys.stderr)
        return 2
    except MemoryError:
        print("cnnapp: not enough memory for that (a setting or file asks for a huge array)", file=sys.stderr)
        return 2
    except (RecursionError, OverflowError) as e:
        print(f"cnnapp: a number or a file is far out of range ({type(e).__name__})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cnnapp: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # --help / --version
        return e.code if isinstance(e.code, int) else 0


def _said(message: str) -> str:
    """An error as the one line every command prints: ``cnnapp train: …`` where the message starts
    with its command, else ``cnnapp: …`` (a message that starts with "cnnapp" as it is)."""
    if message.startswith("cnnapp"):
        return message
    if message.split(":", 1)[0].split(" ", 1)[0] in _parser().commands:
        return f"cnnapp {message}"
    return f"cnnapp: {message}"


def _parser() -> Parser:
    p = Parser(prog="cnnapp", description="Draw digits, train a small CNN and step through backpropagation. "
                                          "Without arguments the app opens.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    g = sub.add_parser("gui", help="open the app (the same as no arguments)")
    g.set_defaults(func=lambda args: _gui([]))
    p.commands = tuple(sub.choices)
    return p


def _gui(argv=None) -> int:
    """Open the app, after checking that Qt can open a window here (else one line, exit 2)."""
    from cnnapp.display_check import display_problem, install_hint

    problem = display_problem()
    if problem:
        raise CliError(problem)
    try:
        from cnnapp.app import run
    except ImportError as e:  # e.g. libEGL or libGL missing: Qt's own libraries do not load
        raise CliError(f"cnnapp: Qt could not be loaded ({e}). Install the system libraries it needs "
                       f"({install_hint()}).") from None
    return run(argv)
