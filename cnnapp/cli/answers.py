"""The model a command reads, and its answers in words: a class as ``3`` for a digit model and
``3 cat`` otherwise, the legend of its classes, and a refusal of answers that are not numbers."""
from __future__ import annotations

from .args import CliError

__all__ = ["load_model", "quoted", "answer", "refuse_not_a_number", "legend", "named"]


def load_model(path: str, picture: str | None = None, command: str = "", right: str = ""):
    """The model file at ``path`` (a :class:`~cnncore.modelio.ModelFileError`, a ``ValueError``, is
    reported by :func:`cnnapp.cli.main` in one line). ``picture``: the picture file given with it; where
    ``path`` is a picture and ``picture`` a model, the two were given the wrong way round, and the line
    says so and gives ``command``'s arguments in the right order (``right``)."""
    from cnncore.datasets.pictures import picture_kind
    from cnncore.modelio import ModelFileError, a_model_file, load_model as load

    try:
        return load(path)
    except ModelFileError:
        kind = picture_kind(path)
        if picture is None or kind is None or not a_model_file(picture):
            raise
    raise CliError(f"{command}: the model and the picture are the wrong way round: {path} is a {kind} picture and "
                   f"{picture} a model file. The model comes first: cnnapp {command} {right}")


def quoted(*args: str, windows: bool | None = None) -> str:
    """Arguments as this system's shell takes them, to copy: ``'my digit.png'``, or on Windows
    (``windows``; by default, whether this is Windows) ``"my digit.png"``: cmd.exe takes no single quotes."""
    import os

    if windows is None:
        windows = os.name == "nt"
    if windows:
        import subprocess
        return subprocess.list2cmdline([str(a) for a in args])
    import shlex
    return " ".join(shlex.quote(str(a)) for a in args)


def answer(net, x, model: str):
    """The probabilities ``(N, 10)`` of ``x (N, C, H, W)``; a :class:`CliError` when they are not numbers."""
    p = net.predict_proba(x)
    refuse_not_a_number(net, p, model)
    return p


def refuse_not_a_number(net, probs, model: str) -> None:
    from cnncore.network import not_a_number

    problem = not_a_number(net, probs)
    if problem:
        raise CliError(f"{model}: {problem}")


def legend(net) -> str:
    """``"classes: 0 T-shirt/top, 1 Trouser, …"`` for a network that learnt something else than digits."""
    from cnncore.architecture import DIGIT_CLASSES
    from cnncore.datasets.folder import UNUSED_CLASS

    if tuple(net.classes) == DIGIT_CLASSES:
        return ""
    return f"classes ({net.dataset or 'named in the model'}): " + ", ".join(
        f"{i} {c}" for i, c in enumerate(net.classes) if c != UNUSED_CLASS)


def named(net, c: int) -> str:
    """Class ``c`` as a command prints it: ``3`` for a digit model, ``3 cat`` otherwise."""
    return str(c) if not legend(net) else f"{c} {net.classes[c]}"
