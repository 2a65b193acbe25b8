"""``cnnapp lesson``: lessons from the command line (the app makes and follows them too: File → Record a
lesson, Open a lesson…).

::

    cnnapp lesson new MODEL.npz (--data SOURCE | --images F --labels F | --folder DIR) --index N --out L.cnnlesson
                      [--title T]
    cnnapp lesson show L.cnnlesson
    cnnapp lesson report RESULTS.json... --out TABLE.csv [--lesson L.cnnlesson]

``new`` makes one stop per step of that picture's trace, on the Backprop tab, with no notes or
questions yet: open it in the app (File → Edit a lesson…) to write them. ``show`` prints the stops,
one line each. ``report`` writes one row per student and one column per question; results of
another lesson, or of another version of it, are refused with the reason. Everything that computes
is :mod:`cnncore.lesson`; problems are one line on stderr and exit status 2 (:func:`cnnapp.cli.main`).
"""
from __future__ import annotations

from pathlib import Path

from .args import CliError, Parser, nonneg_int
from .answers import load_model
from .data import archive, data_arguments, one_source, reads, seed_alias, source_key
from .outputs import output

__all__ = ["add_parser"]


def add_parser(sub) -> None:
    """The ``lesson`` command and its three subcommands, under ``sub`` (the main parser's subparsers)."""
    p = sub.add_parser("lesson", help="make a lesson, show one, or turn students' results into a table")
    lsub = p.add_subparsers(dest="lesson_command", metavar="new|show|report", parser_class=Parser)
    p.set_defaults(func=_no_subcommand)

    n = lsub.add_parser("new", help="a lesson with one stop per step of one picture's trace, to edit in the app")
    n.add_argument("model", metavar="MODEL.npz")
    data_arguments(n)
    seed_alias(n)
    n.add_argument("--index", type=nonneg_int, required=True, metavar="N",
                   help="which picture of the source (a folder's: class by class, each class's files in sorted "
                        "order, from 0)")
    n.add_argument("--title", default=None, help="the lesson's title (default: the model's name and the picture)")
    n.add_argument("--out", required=True, metavar="L.cnnlesson")
    n.set_defaults(func=_cmd_new)

    s = lsub.add_parser("show", help="the stops of a lesson, one line each")
    s.add_argument("lesson", metavar="L.cnnlesson")
    s.set_defaults(func=_cmd_show)

    r = lsub.add_parser("report", help="one row per student, one column per question, as CSV")
    r.add_argument("results", nargs="+", metavar="RESULTS.json")
    r.add_argument("--lesson", default=None, metavar="L.cnnlesson",
                   help="judge every answer again by the lesson and name its questions (default: the results' own)")
    r.add_argument("--out", required=True, metavar="TABLE.csv")
    r.set_defaults(func=_cmd_report)


def _no_subcommand(args) -> int:
    raise CliError("cnnapp lesson: give a subcommand (new, show, report)")


def _cmd_new(args) -> int:
    from cnncore.defaults import run_defaults
    from cnncore.lesson import new_lesson, save_lesson

    out = output(args, ".cnnlesson")
    given = [args.images is not None, args.data is not None, args.folder is not None]
    if (args.images is None) != (args.labels is None) or sum(given) != 1:
        raise CliError("lesson new: give --data SOURCE, --folder DIR, or --images and --labels")
    one_source(args, "lesson new")
    key = source_key(args)
    if key == "folder" and args.count is not None:
        raise CliError("lesson new: a folder's pictures are numbered whole (no --count): give --index alone")
    reads(key, load_model(args.model), "lesson new")     # (before a download, or a copy of CIFAR-10 read)
    archive(args, "lesson new")
    count = args.count if args.count is not None else run_defaults(key).count
    files = (args.images, args.labels) if args.images is not None else args.folder
    lesson = new_lesson(args.model, key, args.index, seed=args.data_seed, count=count, files=files, title=args.title)
    written = save_lesson(out, lesson)
    label = int(lesson.labels[0])
    print(f"wrote {written}: {len(lesson.stops)} stops on picture {args.index} of {key} "
          f"(a {lesson.model.classes[label]}), no notes or questions yet")

    print("next: write its notes and questions in the app (File → Edit a lesson…), then hand it out")
    return 0


def _cmd_show(args) -> int:
    from cnncore.lesson import describe, load_lesson
    from cnncore.lesson.make import pictures_words

    lesson = load_lesson(args.lesson)
    m = lesson.model
    print(f"{lesson.title or Path(args.lesson).name} · id {lesson.id[:16]}…")
    print(f"network: {m.num_params():,} parameters, input {'×'.join(map(str, m.input_shape))}; "
          f"{pictures_words(lesson)}; "
          f"{len(lesson.stops)} stops, {len(lesson.question_stops())} asking a question")
    for line in describe(lesson):
        print(line)
    return 0


def _cmd_report(args) -> int:
    from cnncore.lesson import load_lesson, report, write_report

    out = output(args, ".csv", also=[*args.results, args.lesson])
    lesson = load_lesson(args.lesson) if args.lesson is not None else None
    rows = report(args.results, lesson)
    written = write_report(out, rows)
    print(f"wrote {written}: {len(rows) - 1} student{'s' if len(rows) != 2 else ''}, "
          f"{len(rows[0]) - 2} question{'s' if len(rows[0]) != 3 else ''}")
    return 0
