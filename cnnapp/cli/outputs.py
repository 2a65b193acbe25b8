"""A command's ``--out``: the one writer's :class:`cnncore.Output`, which knows every file the command
reads and never replaces one of them: the model, a picture file, an ``--arch`` file, and the files of
its data source, as the source itself names them (:func:`cnncore.datasets.source_files`: the drawings
of ``--data drawings``, a downloaded set's files, ``--images`` and ``--labels``, a ``--folder``'s
pictures)."""
from __future__ import annotations

from .args import CliError
from .data import source_key

__all__ = ["output", "data_files"]

#: What each kind of output is, in words (with its article: "an ONNX model").
_KINDS = {".npz": "a NumPy archive (.npz)", ".onnx": "an ONNX model", ".cnnlesson": "a lesson",
          ".csv": "a table of answers (CSV)"}


def output(args, kind: str, flag: str = "--out", also=(), spare=None):
    """The command's ``--out`` as a :class:`cnncore.Output` that knows the files the command
    reads (``MODEL.npz``, ``--image``, an ``--arch`` file, the data source's files, and ``also``),
    checked now, before any work: not one of them (the same file by any name), not a folder, FIFO,
    device or socket, in a folder that exists, and not a file already there whose name does not end
    with ``kind`` (".npz": a model is never saved over a lesson or a student's results), nor one that
    ``spare`` names (a model, which a trace does not replace). The writer checks it again when it
    writes."""
    from cnncore import Output, OutputRefused

    inputs = [getattr(args, name, None) for name in ("model", "image", "arch")]
    out = Output(args.out, [*inputs, *data_files(args), *also], kinds=(kind,), spare=spare)
    try:
        out.check()
    except OutputRefused as e:
        raise CliError(f"{flag} {e}") from None
    name = out.path.name
    if not name.lower().endswith(kind):                 # (written once, it was refused the next time)
        raise CliError(f"{flag} {args.out}: the file this writes is {_KINDS[kind]}; give a name that ends in "
                       f"{kind}")
    if len(name) == len(kind):
        raise CliError(f"{flag} {args.out}: give the file a name before {kind} (mine{kind})")
    return out


def data_files(args) -> list:
    """The files the command's data source reads (with ``--archive``, a copy of a set's archive), and
    those every source keeps in the user's data folder whichever the command reads (the drawings, the
    downloaded sets): no output replaces them."""
    from cnncore.datasets import SOURCES, source_files

    kept = [f for s in SOURCES if s.key not in ("folder", "idx") for f in source_files(s.key)]
    if not hasattr(args, "data"):
        return kept
    key = source_key(args)
    files = {"folder": getattr(args, "folder", None), "idx": (args.images, args.labels)}.get(key)
    return [*source_files(key, files=files), *kept, getattr(args, "archive", None)]
