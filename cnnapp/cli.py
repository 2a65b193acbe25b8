"""The ``cnnapp`` command line: train, eval, trace, predict, export (and, with no arguments, the GUI).

::

    cnnapp train [--arch FILE|PRESET] [--images F --labels F | --data SOURCE [--count N] | --folder DIR]
                 [--epochs N] [--batch-size N] [--lr X] [--optimizer sgd|adam] [--seed N]
                 [--augment N] [--flip|--no-flip] [--holdout FRACTION] --out MODEL.npz
    cnnapp eval MODEL.npz (--images F --labels F | --data SOURCE [--holdout F] | --folder DIR) [--range START:STOP]
    cnnapp trace MODEL.npz (--images F --labels F | --data SOURCE | --folder DIR) [--index I] --out TRACE.npz
    cnnapp predict MODEL.npz PICTURE
    cnnapp export MODEL.npz --to torch --out DIR | --to onnx --out FILE.onnx
    cnnapp inspect MODEL.npz ((--images F --labels F | --data SOURCE | --folder DIR) --index I | --image FILE)
                   --out X.npz

SOURCE is one of the data sources of :mod:`cnncore.datasets.sources` (the app's too); DIR a folder of
pictures with one subfolder per class (:mod:`cnncore.datasets.folder`). A picture (PNG, JPEG, BMP,
WebP) is brought to the model's own input (:mod:`cnncore.signature`). What is not given takes the
defaults of :mod:`cnncore.defaults`, the app's, by source and preset: a model trained in the app
and scored with ``eval --data SOURCE`` is scored on the digits the app held out.

Bad arguments or files give one line on stderr and exit status 2, and so does an ``--out``
that is one of the files the command reads (under any name), refused before any work. Qt is
imported only when the GUI starts. All the arithmetic is in :mod:`cnncore`.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

__all__ = ["main", "CliError", "read_png"]


class CliError(Exception):
    """A problem with the user's arguments or files: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise CliError(f"{self.prog}: {message}")


# ----------------------------------------------------------------------------- helpers

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


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_nonneg_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_nonneg_float = _number(float, lambda v: math.isfinite(v) and v >= 0, "a number >= 0")
_digit = _number(int, lambda v: 0 <= v <= 9, "a digit 0..9")
_fraction = _number(float, lambda v: 0 <= v < 1, "a fraction in [0, 1)")


def _learning_rate():
    """The ``--lr`` type: a rate within the bounds a run and a trace accept (:mod:`cnncore.limits`)."""
    from cnncore.limits import MAX_LR, MIN_LR
    return _number(float, lambda v: MIN_LR <= v <= MAX_LR, f"a learning rate from {MIN_LR:g} to {MAX_LR:g}")


def _epochs():
    from cnncore.limits import MAX_EPOCHS
    return _number(int, lambda v: 1 <= v <= MAX_EPOCHS, f"a number of epochs from 1 to {MAX_EPOCHS:,}")


def _range(text: str) -> tuple[int | None, int | None]:
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        a = int(parts[0]) if parts[0] else None
        b = int(parts[1]) if parts[1] else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP (e.g. 6500:8000), got {text!r}") from None
    return a, b


def _load_arch(value: str) -> dict:
    from cnncore.architecture import PRESETS, parse_architecture, preset

    from cnncore import read_regular
    from cnncore.limits import MAX_ARCH_TEXT

    path = Path(value)
    if path.exists() or value not in PRESETS and os.sep in value:
        try:
            text = read_regular(path, 4 * MAX_ARCH_TEXT).decode("utf-8")    # never a FIFO or a device
        except (OSError, ValueError) as e:
            raise CliError(f"--arch {value}: cannot read the file ({getattr(e, 'strerror', None) or e})") from None
        try:
            return parse_architecture(text)
        except ValueError as e:
            raise CliError(f"--arch {value}: {e}") from None
    if value in PRESETS:
        return preset(value)
    raise CliError(f"--arch {value!r}: no such file or preset (presets: {', '.join(sorted(PRESETS))})")


def _load_pair(images: str, labels: str):
    from cnncore.datasets import load_idx_pair

    for name, p in (("--images", images), ("--labels", labels)):
        if not Path(p).is_file():
            raise CliError(f"{name} {p}: no such file")
    try:
        return load_idx_pair(images, labels)
    except (ValueError, OSError) as e:
        raise CliError(str(e)) from None


def _output(args, flag: str = "--out"):
    """The command's ``--out`` as a :class:`cnncore.Output` that knows the files the command
    reads (``MODEL.npz``, ``--images``, ``--labels``, ``--image``, an ``--arch`` file), checked now,
    before any work: not one of them (the same file by any name), not a folder, FIFO, device
    or socket, in a folder that exists. The writer checks it again when it writes."""
    from cnncore import Output, OutputRefused

    inputs = [getattr(args, name, None) for name in ("model", "images", "labels", "image", "arch")]
    out = Output(args.out, inputs)
    try:
        return out.check()
    except OutputRefused as e:
        raise CliError(f"{flag} {e}") from None


def _load_model(path: str):
    from cnncore.modelio import load_model

    return load_model(path)  # ModelFileError (a ValueError) is reported by main()


def _bar(done: int, total: int, width: int = 28) -> str:
    filled = int(width * done / total) if total else width
    return "[" + "#" * filled + "." * (width - filled) + "]"


# ----------------------------------------------------------------------------- PNG

def read_png(path) -> "np.ndarray":
    """Grey levels in [0, 1], shape ``(H, W)`` (:func:`cnncore.datasets.png.read_png`);
    a bad or oversized file is a :class:`CliError`."""
    from cnncore.datasets.png import PNGError, read_png as read

    try:
        return read(path)
    except PNGError as e:
        raise CliError(str(e)) from None


def _picture(path: str, net, command: str):
    """A picture file (PNG, JPEG, BMP or WebP) as ``net``'s input ``(C, H, W)``, by the model's own rule
    (:func:`cnncore.datasets.pictures.picture_input`); a :class:`CliError` for a picture a digit model
    finds blank (one grey level, or no ink once centred), to which any network would give some
    answer that means nothing."""
    from cnncore.datasets.pictures import PictureError, picture_input

    try:
        x = picture_input(path, net.signature)
    except PictureError as e:
        raise CliError(f"{command}: {e}") from None
    if net.signature.fit == "digit" and not x.any():
        raise CliError(f"{path}: the picture is blank (nothing drawn on it), so there is no digit to read")
    return x


def _answer(net, x, model: str):
    """The probabilities ``(N, 10)`` of ``x (N, C, H, W)``; a :class:`CliError` when they are not numbers."""
    p = net.predict_proba(x)
    _refuse_not_a_number(net, p, model)
    return p


def _refuse_not_a_number(net, probs, model: str) -> None:
    from cnncore.network import not_a_number

    problem = not_a_number(net, probs)
    if problem:
        raise CliError(f"{model}: {problem}")


# ----------------------------------------------------------------------------- commands

def _cmd_train(args) -> int:
    import cnncore

    before = cnncore.get_num_threads()
    try:
        return _train(args)
    finally:
        cnncore.set_num_threads(before)  # --threads is for this command only (matters when called in-process)


def _train(args) -> int:
    import cnncore
    from cnncore.modelio import save_model

    out = _output(args)
    _fill_train_defaults(args)
    net, config = _network_and_config(args)
    if args.threads:
        cnncore.set_num_threads(args.threads)
    trainer, n_train, n_val, source = _trainer(args, net, config)
    print(f"training {len(net.layers)}-layer network ({net.num_params()} parameters) on {n_train} images "
          f"from {source}, holding out {n_val}; {config.optimizer} lr {config.lr:g}, batch {config.batch_size}, "
          f"{config.epochs} epochs, {_augment_words(config)}, {cnncore.get_num_threads()} thread(s)", flush=True)
    finished = _run_with_progress(trainer, config, n_val, tty=sys.stderr.isatty() and not args.quiet)
    if finished.reason == "diverged":     # such weights are no use: leave whatever is at --out as it was
        print(f"cnnapp train: {finished.message} Nothing was saved to {out}.", file=sys.stderr)
        return 1
    save_model(out, net, optimizer=trainer.optimizer)
    print(f"{finished.message}; saved to {out}")
    return 0


def _source_key(args) -> str:
    """The data source named on the command line: a key of cnncore.datasets.SOURCES ("idx" for files
    the user names, "generated" when none is named)."""
    if args.folder is not None:
        return "folder"
    return "idx" if args.images is not None else args.data or "generated"


def _fill_train_defaults(args) -> None:
    """The settings not given on the command line, from the one table (cnncore.defaults, the app's)
    for this source and preset."""
    from dataclasses import replace

    from cnncore.architecture import PRESETS
    from cnncore.defaults import run_defaults

    named = args.arch if args.arch in PRESETS and not Path(args.arch).exists() else None
    d = run_defaults(_source_key(args), named if args.arch is None or named else "(a file)")
    args.arch = d.preset if args.arch is None else args.arch
    if args.lr is None and args.optimizer not in (None, d.optimizer):
        d = replace(d, lr=None)            # the table's rate is its optimizer's: another starts at its own
    for name in ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule", "augment",
                 "flip", "holdout"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(d, name))


def _augment_words(config) -> str:
    shifts = f"shifts of up to {config.augment} pixels" if config.augment else "no shifts"
    return shifts + (" and mirror images" if config.flip else "")


def _network_and_config(args):
    """The network to train (``--arch``, a preset by default) and the run's settings."""
    from cnncore.network import Network
    from cnncore.training import TrainConfig

    spec = _load_arch(args.arch)
    try:
        config = TrainConfig(optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                             epochs=args.epochs, weight_decay=args.weight_decay, momentum=args.momentum,
                             seed=args.seed, schedule=args.schedule, augment=args.augment, flip=args.flip)
        return Network(spec, seed=args.seed), config
    except ValueError as e:
        raise CliError(f"train: {e}") from None


def _trainer(args, net, config):
    """``(trainer, training images, held-out images, data description)`` for ``--data``, ``--folder`` or
    the files; the network learns the data's class names (and, with ``--normalise``, its statistics)."""
    from cnncore.datasets import held_out_split
    from cnncore.training import Trainer

    data = _data(args, "train", net)
    net.learns(data.classes, data.dataset)
    if args.folder is not None:
        net.signature = net.signature.fitted("picture")
    X = _as_input(data, net, "train")
    # The one held-out rule the app uses too (cnncore.datasets.held_out_split).
    X_tr, y_tr, X_val, y_val = held_out_split(X, data.y, args.holdout)
    n_train, n_val = len(X_tr), len(X_val)
    if n_train < 1:
        raise CliError(f"train: --holdout {args.holdout} leaves no training images out of {len(X)}")
    if args.normalise:
        from cnncore.signature import channel_statistics
        net.normalises(*channel_statistics(X_tr))
    try:
        trainer = Trainer(net, X_tr, y_tr, X_val if n_val else None, y_val if n_val else None, config)
    except ValueError as e:
        raise CliError(f"train: {e}") from None
    return trainer, n_train, n_val, data.what


def _run_with_progress(trainer, config, n_val: int, tty: bool):
    """Run the trainer to its end: a live bar on a terminal, one line per epoch. Returns its
    :class:`~cnncore.training.FinishedEvent`."""
    from cnncore.training import BatchEvent, EpochEvent

    finished = None
    last_draw = 0.0
    for ev in trainer.run():
        if isinstance(ev, BatchEvent):
            now = time.perf_counter()
            if tty and (now - last_draw > 0.1 or ev.batch == ev.batches_per_epoch):
                last_draw = now
                print(f"\repoch {ev.epoch}/{config.epochs} {_bar(ev.batch, ev.batches_per_epoch)} "
                      f"{ev.batch}/{ev.batches_per_epoch} loss {ev.loss:.4f} acc {ev.accuracy:.3f} "
                      f"{ev.images_per_second:,.0f} img/s ", end="", file=sys.stderr, flush=True)
        elif isinstance(ev, EpochEvent):
            if tty:
                print("\r\033[K", end="", file=sys.stderr)
            held = (f"held-out loss {ev.val_loss:.4f} accuracy {ev.val_accuracy:.4f}" if n_val
                    else "no held-out images")
            print(f"epoch {ev.epoch}/{config.epochs}: train loss {ev.train_loss:.4f} accuracy "
                  f"{ev.train_accuracy:.4f}, {held} ({ev.seconds:.2f} s training)", flush=True)
        else:
            finished = ev
    if tty:
        print("\r\033[K", end="", file=sys.stderr)
    return finished


def _data(args, command: str, net):
    """The labelled pictures (:class:`cnncore.datasets.Labelled`) of ``--images/--labels``, ``--data``
    or ``--folder`` (the sources of :mod:`cnncore.datasets.sources`, the same the app offers). A
    folder's pictures are brought to ``net``'s input; outside training, its subfolders must be named
    as ``net``'s classes. Notes on a folder's skipped or ignored files are printed."""
    from cnncore.datasets import DOWNLOADS, Labelled, SourceError, load_labelled
    from cnncore.defaults import run_defaults

    _one_source(args, command)
    if args.images is not None:
        X, y = _load_pair(args.images, args.labels)
        return Labelled(X, y, _digit_classes() if command == "train" else net.classes, "", args.images)
    if args.data is None and args.folder is None and command != "train":
        raise CliError(f"{command}: give --images and --labels, --data or --folder")
    tty = sys.stderr.isatty() and not getattr(args, "quiet", False)

    def progress(done, total, name):
        if tty:
            size = (f"{done:,}/{total:,}" if name == "pictures" else
                    f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB")
            print(f"\r\033[Kgetting {name}: {size}", end="", file=sys.stderr, flush=True)
    key = _source_key(args)
    count = args.count if args.count is not None else run_defaults(key).count
    try:
        data = load_labelled(key, count=count, seed=args.data_seed, progress=progress, files=args.folder,
                             shape=net.input_shape, classes=None if command == "train" else net.classes)
    except SourceError as e:
        raise CliError(f"{command}: {e}") from None
    finally:
        if tty and (key in DOWNLOADS or key in ("cifar10", "folder")):
            print("\r\033[K", end="", file=sys.stderr)
    for note in data.notes:
        print(f"note: {note}", flush=True)
    return data


def _one_source(args, command: str) -> None:
    """At most one of --images/--labels (both), --data and --folder."""
    given = [f for f, v in (("--images/--labels", args.images), ("--data", args.data), ("--folder", args.folder))
             if v is not None]
    if (args.images is None) != (args.labels is None):
        raise CliError(f"{command}: --images and --labels go together")
    if len(given) > 1:
        raise CliError(f"{command}: give one of {' or '.join(given)}, not both")


def _digit_classes():
    from cnncore.architecture import DIGIT_CLASSES
    return DIGIT_CLASSES


def _as_input(data, net, command: str):
    """The pictures of ``data`` as ``(N, C, H, W)`` (uint8 or floats), after checking that they are
    what ``net`` takes."""
    X = data.X if data.X.ndim == 4 else data.X[:, None]
    if X.shape[1:] != net.input_shape:
        C, H, W = X.shape[1:]
        hint = " (--arch cifar takes colour pictures of 32×32)" if C == 3 and command == "train" else ""
        raise CliError(f"{command}: {data.what} are {C}×{H}×{W} pictures, the model takes "
                       f"{net.signature.words()}{hint}")
    return X


def _legend(net) -> str:
    """``"classes: 0 T-shirt/top, 1 Trouser, …"`` for a network that learnt something else than digits."""
    from cnncore.architecture import DIGIT_CLASSES
    from cnncore.datasets.folder import UNUSED_CLASS

    if tuple(net.classes) == DIGIT_CLASSES:
        return ""
    return f"classes ({net.dataset or 'named in the model'}): " + ", ".join(
        f"{i} {c}" for i, c in enumerate(net.classes) if c != UNUSED_CLASS)


def _held_out(args, X, y):
    """With ``--data``, the digits ``train`` held out of that source (the same rule and fraction)."""
    if args.data is None:
        return X, y, ""
    from cnncore.datasets import held_out_split

    args.holdout = _holdout(args)
    _, _, Xv, yv = held_out_split(X, y, args.holdout)
    if len(Xv) == 0:
        raise CliError(f"--holdout {args.holdout} holds out no images of {len(X)}")
    return Xv, yv, f" held out of {args.data} (--holdout {args.holdout:g})"


def _select(X, y, rng, flag="--range"):
    if rng is None:
        return X, y, 0
    a, b = rng
    n = len(X)
    a = 0 if a is None else (a + n if a < 0 else a)
    b = n if b is None else (b + n if b < 0 else b)
    if not 0 <= a < b <= n:
        raise CliError(f"{flag} {rng[0] if rng[0] is not None else ''}:{rng[1] if rng[1] is not None else ''}: "
                       f"out of range for {n} images")
    return X[a:b], y[a:b], a


def _cmd_eval(args) -> int:
    from cnncore.training import evaluate

    net = _load_model(args.model)
    data = _data(args, "eval", net)
    X, y, which = _held_out(args, _as_input(data, net, "eval"), data.y)
    X, y, _ = _select(X, y, args.range)
    loss, acc, confusion, wrong, probs = evaluate(net, X, y)
    _refuse_not_a_number(net, probs, args.model)
    print(f"{len(X)} images{which}, loss {loss:.4f}, {len(wrong)} wrong")
    if _legend(net):
        print(_legend(net))
    print("confusion matrix (rows: true class, columns: predicted class)")
    print("      " + "".join(f"{p:>6}" for p in range(10)) + "   recall")
    for t in range(10):
        row = confusion[t]
        rec = row[t] / row.sum() if row.sum() else float("nan")
        print(f"{t:>6}" + "".join(f"{v:>6}" for v in row) + f"   {rec:.3f}")
    print(f"accuracy: {acc:.4f}")
    return 0


def _cmd_trace(args) -> int:
    from cnncore.trace import trace

    out = _output(args)
    net = _load_model(args.model)
    x, label, where = _one_picture(args, net, "trace")
    try:
        t = trace(net, x, label, lr=args.lr)
    except ValueError as e:     # a pass whose numbers overflow: the model or the learning rate
        raise CliError(f"trace: {args.model}: {e}") from None
    if net.optimizer_note and args.lr is None:
        print(f"cnnapp trace: note: {net.optimizer_note}", file=sys.stderr)
    t.save(out)
    from cnncore.update import rule_name
    rule = rule_name(t.settings)
    print(f"{where}: label {_named(net, t.label)}, predicted {_named(net, t.prediction)}, loss {t.loss:.4f} "
          f"({t.loss_next:.4f} after one {rule} step, lr {t.lr:g}); "
          f"{len(t.arrays)} arrays and {len(t.steps)} steps written to {out}")
    return 0


def _one_picture(args, net, command: str):
    """``(x float32 (C, H, W) in [0, 1], label, where)``: picture ``--index`` of ``--folder``, ``--data``
    or ``--images/--labels``, as ``net`` takes it; without ``--index`` the one the app traces first
    (one the model gets wrong or is least sure of, :func:`cnncore.defaults.trace_example`)."""
    import numpy as np

    _one_source(args, command)
    if args.folder is not None and args.index is not None:       # only that picture is read
        from cnncore.datasets.folder import FolderError, picture_at
        try:
            x, label, path = picture_at(args.folder, args.index, net.input_shape, net.classes)
        except (FolderError, ValueError) as e:
            raise CliError(f"{command}: {e}") from None
        return x.astype(np.float32) / np.float32(255), label, str(path)
    data = _data(args, command, net)
    X = _as_input(data, net, command)
    if args.index is not None and not 0 <= args.index < len(X):
        raise CliError(f"{command}: --index {args.index} is out of range (there are {len(X)} images, "
                       f"0..{len(X) - 1})")
    if args.index is None:
        from cnncore.defaults import trace_example
        args.index = trace_example(net, X, data.y)
    x = X[args.index]
    x = x.astype(np.float32) / np.float32(255) if x.dtype == np.uint8 else x.astype(np.float32)
    return x, int(data.y[args.index]), f"image {args.index}"


def _named(net, c: int) -> str:
    """Class ``c`` as a command prints it: ``3`` for a digit model, ``3 cat`` otherwise."""
    return str(c) if not _legend(net) else f"{c} {net.classes[c]}"


def _cmd_predict(args) -> int:
    import numpy as np

    from cnncore.datasets.folder import UNUSED_CLASS

    net = _load_model(args.model)
    x = _picture(args.image, net, "predict")
    p = _answer(net, x[None], args.model)[0]
    best = int(np.argmax(p))
    if _legend(net):
        print(f"class: {best} {net.classes[best]} ({net.dataset or 'named in the model'})")
        unused = [d for d in range(net.num_classes) if net.classes[d] == UNUSED_CLASS]
        for d in range(net.num_classes):
            if d not in unused:
                print(f"{d} {net.classes[d]}: {p[d]:.4f}")
        if unused:
            print(f"the {len(unused)} outputs no class uses: {p[unused].sum():.4f}")
        return 0
    print(f"digit: {best}")
    for d in range(10):
        print(f"{d}: {p[d]:.4f}")
    return 0


def _cmd_export(args) -> int:
    """``cnnapp export MODEL.npz --to torch --out DIR`` or ``--to onnx --out FILE.onnx``."""
    from cnncore import Output, OutputRefused
    from cnncore.export import MANIFEST_FILE, ExportError, export_onnx, export_torch, next_steps

    net = _load_model(args.model)
    title = Path(args.model).name
    try:
        if args.to == "torch":       # a folder: export_torch checks its three files before writing any
            model_path, weights_path = export_torch(net, Output(args.out, [args.model]), title)
            print(f"wrote {model_path}, {weights_path} and {model_path.with_name(MANIFEST_FILE)}")
        else:
            print(f"wrote {export_onnx(net, _output(args), title)}")
    except ExportError as e:
        raise CliError(f"export: {e}") from None
    except OutputRefused as e:
        raise CliError(f"--out {e}") from None
    text = next_steps(args.to, Path(args.out).resolve(), net.input_shape)
    print("next, in Python:\n    " + text.replace("\n", "\n    "))
    return 0


def _export_parser(sub) -> None:
    x = sub.add_parser("export", help="write a model as PyTorch code and weights, or as an ONNX file")
    x.add_argument("model", metavar="MODEL.npz")
    x.add_argument("--to", required=True, choices=("torch", "onnx"),
                   help="torch: DIR/model.py and DIR/weights.npz; onnx: one .onnx file (needs pip install "
                        "\"cnnlab[export]\")")
    x.add_argument("--out", required=True, metavar="DIR|FILE.onnx")
    x.set_defaults(func=_cmd_export)


def _inspect_input(args, net):
    """``(x (C, H, W) floats in [0, 1], label or −1, where)`` of ``inspect``: a picture file or one
    labelled picture."""
    if args.image is not None:
        if args.images is not None or args.data is not None or args.folder is not None or args.index is not None:
            raise CliError("inspect: give either --image or --images/--labels (or --data, --folder) with --index, "
                           "not both")
        return _picture(args.image, net, "inspect"), -1, args.image
    if args.index is None:
        raise CliError("inspect: give --index I with --images/--labels, --data or --folder (or an --image FILE)")
    return _one_picture(args, net, "inspect")


def _cmd_inspect(args) -> int:
    """Saliency, Grad-CAM of every conv layer and the smallest adversarial change, as one .npz."""
    import numpy as np

    from cnncore import atomic_savez
    from cnncore.probe import Probe

    out = _output(args)
    net = _load_model(args.model)
    x, label, where = _inspect_input(args, net)
    _answer(net, x[None], args.model)
    probe = Probe(net)
    g = probe.class_gradient(x, args.cls)
    attack = probe.smallest_attack(x, target=args.target)
    arrays = {"input": x[None], "label": np.int64(label), "predicted": np.int64(g.predicted),
              "saliency": g.saliency[None]}
    arrays.update({f"gradcam.L{i}": cam for i, cam in g.gradcam().items()})
    arrays.update({"adversarial": attack.image[None], "adversarial_predicted": np.int64(attack.predicted),
                   "epsilon": np.float64(attack.epsilon)})
    atomic_savez(out, arrays)
    change = (f"an L∞ change of {attack.epsilon:.3f} makes it answer {_named(net, attack.predicted)}"
              if attack.success else f"no change up to {attack.epsilon:.2f} makes it answer "
              + ("another class" if args.target is None else _named(net, args.target)))
    print(f"{where}: label {_named(net, label) if label >= 0 else 'unknown'}, predicted {_named(net, g.predicted)}; "
          f"{change}; written to {out}")
    return 0


def _inspect_parser(sub) -> None:
    s = sub.add_parser("inspect", help="saliency, Grad-CAM and an adversarial picture for one picture, as .npz")
    s.add_argument("model", metavar="MODEL.npz")
    _data_arguments(s)
    _seed_alias(s)
    s.add_argument("--index", type=_nonneg_int, metavar="I",
                   help="which picture of --images, --data or --folder (a folder's: class by class, each "
                        "class's files in sorted order, from 0)")
    s.add_argument("--image", "--png", dest="image", metavar="FILE",
                   help="a picture instead (PNG, JPEG, BMP or WebP, brought to the model's input; its label is "
                        "written as -1)")
    s.add_argument("--class", dest="cls", type=_digit, default=None, metavar="C",
                   help="the class (0..9) whose logit the saliency and Grad-CAM explain (default: the answer)")
    s.add_argument("--target", type=_digit, default=None, metavar="D",
                   help="push the adversarial picture towards this class (default: any other answer)")
    s.add_argument("--out", required=True, metavar="X.npz")
    s.set_defaults(func=_cmd_inspect)


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


def _cmd_gui(args) -> int:
    return _gui([])


def _data_arguments(p, default: str | None = None, folder: bool = True) -> None:
    """``--images/--labels``, ``--data`` (the sources of cnncore.datasets this installation has) or,
    with ``folder``, ``--folder`` (a folder of pictures)."""
    from cnncore.datasets import available_sources

    offered = [s for s in available_sources() if not s.files]
    p.add_argument("--images", metavar="F", help="IDX images file (.gz or raw)")
    p.add_argument("--labels", metavar="F", help="IDX labels file (.gz or raw)")
    p.add_argument("--data", choices=[s.key for s in offered],
                   help="; ".join(f"{s.key}: {s.help}" for s in offered) + (f" (default {default})" if default else ""))
    if folder:
        p.add_argument("--folder", metavar="DIR",
                       help="a folder of your own pictures (PNG, JPEG, BMP, WebP), one subfolder per class, classes in "
                            "the sorted order of the subfolders' names; each picture is brought to the model's input "
                            "by scaling its shorter side to fit and cutting out the centre, unreadable ones are "
                            "skipped and named")
    from cnncore.defaults import run_defaults
    d = run_defaults("generated")
    p.add_argument("--count", type=_positive_int, default=None,
                   help=f"generated: how many (default {d.count}, the app's); other sources: use at most this "
                        f"many (default {d.count}; your drawings and a folder: all)")
    p.add_argument("--data-seed", type=_nonneg_int, default=d.data_seed, metavar="N",
                   help=f"the generated digits' seed (default {d.data_seed}: the digits the app trains on)")


def _seed_alias(p) -> None:
    """``--seed``: the generated digits' seed, as ``--data-seed`` (kept for older scripts)."""
    p.add_argument("--seed", type=_nonneg_int, dest="data_seed", default=argparse.SUPPRESS,
                   help="the same as --data-seed")


def _holdout_argument(p, text: str) -> None:
    from cnncore.defaults import differences
    p.add_argument("--holdout", type=_fraction, default=None,
                   help=f"{text} (default {differences('holdout')}, the app's; a fixed shuffle picks "
                        "them, the app uses the same rule)")


def _holdout(args) -> float:
    """``--holdout``, or the default of the data source (the app's)."""
    from cnncore.defaults import run_defaults
    return args.holdout if args.holdout is not None else run_defaults(_source_key(args)).holdout


def _train_arguments(t) -> None:
    """train's data and learning settings; ``None`` defaults are filled from cnncore.defaults."""
    from cnncore.defaults import default_preset, differences

    t.add_argument("--arch", metavar="FILE|PRESET",
                   help=f"architecture JSON file or preset (default {default_preset(None)}; --data cifar10 and "
                        f"--folder: {default_preset('folder')})")
    _data_arguments(t, default="generated digits")
    t.add_argument("--epochs", type=_epochs(), default=None,
                   help=f"passes over the training images (default {differences('epochs')}, the app's)")
    t.add_argument("--batch-size", type=_positive_int, default=None, help=f"default {differences('batch_size')}")
    t.add_argument("--lr", type=_learning_rate(), default=None,
                   help=f"learning rate (default {differences('lr')}; adam's own is 0.003, sgd's 0.05)")
    t.add_argument("--optimizer", choices=("sgd", "adam"), default=None, help=f"default {differences('optimizer')}")
    t.add_argument("--momentum", type=_nonneg_float, default=None,
                   help=f"SGD momentum (default {differences('momentum')})")
    t.add_argument("--weight-decay", type=_nonneg_float, default=None, help=f"default {differences('weight_decay')}")
    t.add_argument("--schedule", choices=("cosine", "constant"), default=None,
                   help=f"default {differences('schedule')}")
    t.add_argument("--augment", type=_nonneg_int, default=None,
                   help=f"shift each training picture at random by up to N pixels, 0 = off (default "
                        f"{differences('augment')})")
    t.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help=f"mirror a random half of each batch left to right, for pictures of things; never for "
                        f"digits or letters (default {differences('flip')})")
    t.add_argument("--seed", type=_nonneg_int, default=0, help="the weights and the shuffles")


def _parser() -> _Parser:

    p = _Parser(prog="cnnapp", description="Draw digits, train a small CNN and step through backpropagation. "
                                           "Without arguments the app opens.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train a network and save it",
                       description="Train a network and save it. Settings not given come from the defaults "
                                   "table (cnncore/defaults.py, the app's), which differ by data source and preset "
                                   "as each option says.")
    _train_arguments(t)
    _holdout_argument(t, "fraction held out for evaluation")
    t.add_argument("--normalise", action="store_true",
                   help="scale each channel by the mean and spread of the training pictures, (x − mean) / std "
                        "(the numbers are kept in the model and go with its exports, which still take [0, 1])")
    t.add_argument("--threads", type=_positive_int, default=None, help="kernel threads (default: all CPUs)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--out", required=True, metavar="MODEL.npz")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("eval", help="accuracy and confusion matrix of a model on labelled images")
    e.add_argument("model", metavar="MODEL.npz")
    _data_arguments(e)
    _seed_alias(e)
    _holdout_argument(e, "with --data: score the digits train held out of it, the same fraction")
    e.add_argument("--range", type=_range, default=None, metavar="START:STOP", help="only these images")
    e.set_defaults(func=_cmd_eval)

    r = sub.add_parser("trace", help="record one image's forward and backward pass as .npz")
    r.add_argument("model", metavar="MODEL.npz")
    _data_arguments(r)
    _seed_alias(r)
    r.add_argument("--index", type=_nonneg_int, metavar="I",
                   help="which picture (a folder's: class by class, each class's files in sorted order, from 0; "
                        "default: among the first 100, the one the model gets wrong or is least sure of, as the "
                        "app's Backprop tab picks it)")
    r.add_argument("--lr", type=_learning_rate(), default=None,
                   help="show a plain gradient-descent update at this learning rate instead of the step the "
                        "model's own optimizer makes next from its saved state")
    r.add_argument("--out", required=True, metavar="TRACE.npz")
    r.set_defaults(func=_cmd_trace)

    q = sub.add_parser("predict", help="classify a picture (a digit, or a colour picture for a colour model)")
    q.add_argument("model", metavar="MODEL.npz")
    q.add_argument("image", metavar="PICTURE", help="PNG, JPEG, BMP or WebP, brought to the model's input")
    q.set_defaults(func=_cmd_predict)

    _export_parser(sub)
    _inspect_parser(sub)
    from .cli_lesson import add_lesson_parser       # cnnapp lesson new|show|report
    add_lesson_parser(sub)

    g = sub.add_parser("gui", help="open the app (the same as no arguments)")
    g.set_defaults(func=_cmd_gui)
    return p


def main(argv=None) -> int:
    """Entry point of the ``cnnapp`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if not argv:
            return _gui()
        args = _parser().parse_args(argv)
        if args.command is None:
            raise CliError("cnnapp: give a command (train, eval, trace, predict, export, inspect, lesson, gui)")
        return args.func(args)
    except CliError as e:
        print(f"error: {e}" if not str(e).startswith("cnnapp") else f"{e}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as e:
        # ModelFileError, IDXError, ArchitectureError and file-system errors: the user's files.
        print(f"cnnapp: {e}", file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main())
