"""The ``cnnapp`` command line: train, eval, trace, predict, export (and, with no arguments, the GUI).

::

    cnnapp train [--arch FILE|PRESET] [--images F --labels F | --data SOURCE [--count N]]
                 [--epochs N] [--batch-size N] [--lr X] [--optimizer sgd|adam] [--seed N]
                 [--holdout FRACTION] --out MODEL.npz
    cnnapp eval MODEL.npz (--images F --labels F | --data SOURCE [--holdout F]) [--range START:STOP]
    cnnapp trace MODEL.npz (--images F --labels F | --data SOURCE) [--index I] --out TRACE.npz

SOURCE is one of the data sources of :mod:`cnncore.datasets.sources` (the app's too). What is not
given takes the defaults of :mod:`cnncore.defaults`, the app's: a model trained in the app and
scored with ``eval --data SOURCE`` is scored on the digits the app held out.
    cnnapp predict MODEL.npz IMAGE.png
    cnnapp export MODEL.npz --to torch --out DIR | --to onnx --out FILE.onnx
    cnnapp inspect MODEL.npz ((--images F --labels F | --data SOURCE) --index I | --png FILE) --out X.npz

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
    reads (``MODEL.npz``, ``--images``, ``--labels``, ``--png``, an ``--arch`` file), checked now,
    before any work: not one of them (the same file by any name), not a folder, FIFO, device
    or socket, in a folder that exists. The writer checks it again when it writes."""
    from cnncore import Output, OutputRefused

    inputs = [getattr(args, name, None) for name in ("model", "images", "labels", "png", "arch")]
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


def _image_for_network(grey, path):
    """A PNG's grey levels as one MNIST-style 28×28 input (light ink on dark, centred); a
    :class:`CliError` for a blank picture (one grey level, or no ink once it is centred), to which
    any network would give some answer that means nothing."""
    import numpy as np

    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    ink = 0 if border.mean() > 0.5 else 1  # a light border means dark ink on light paper
    if np.ptp(grey) < 1 / 255:
        x = np.zeros((28, 28), np.float32)
    elif grey.shape == (28, 28) and ink == 1:
        x = grey.astype(np.float32)
    else:
        from cnncore.datasets import preprocess_drawing
        x = preprocess_drawing(grey, ink=ink)
    if not x.any():
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
    net, config = _network_and_config(args)
    if args.threads:
        cnncore.set_num_threads(args.threads)
    trainer, n_train, n_val, source = _trainer(args, net, config)
    print(f"training {len(net.layers)}-layer network ({net.num_params()} parameters) on {n_train} images "
          f"from {source}, holding out {n_val}; {config.optimizer} lr {config.lr:g}, batch {config.batch_size}, "
          f"{config.epochs} epochs, {cnncore.get_num_threads()} thread(s)", flush=True)
    finished = _run_with_progress(trainer, config, n_val, tty=sys.stderr.isatty() and not args.quiet)
    if finished.reason == "diverged":     # such weights are no use: leave whatever is at --out as it was
        print(f"cnnapp train: {finished.message} Nothing was saved to {out}.", file=sys.stderr)
        return 1
    save_model(out, net, optimizer=trainer.optimizer)
    print(f"{finished.message}; saved to {out}")
    return 0


def _network_and_config(args):
    """The network to train (``--arch`` or the default preset) and the run's settings."""
    from cnncore.architecture import DEFAULT_PRESET, preset
    from cnncore.network import Network
    from cnncore.training import TrainConfig

    spec = _load_arch(args.arch) if args.arch else preset(DEFAULT_PRESET)
    try:
        config = TrainConfig(optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                             epochs=args.epochs, weight_decay=args.weight_decay, momentum=args.momentum,
                             seed=args.seed, schedule=args.schedule, augment=args.augment)
        return Network(spec, seed=args.seed), config
    except ValueError as e:
        raise CliError(f"train: {e}") from None


def _trainer(args, net, config):
    """``(trainer, training images, held-out images, data description)`` for ``--data`` or the files."""
    from cnncore.datasets import held_out_split
    from cnncore.training import Trainer

    X, y, source = _data(args, "train")
    _name_classes(net, args.data)
    args.holdout = _holdout(args)
    # The one held-out rule the app uses too (cnncore.datasets.held_out_split).
    X_tr, y_tr, X_val, y_val = held_out_split(X, y, args.holdout)
    n_train, n_val = len(X_tr), len(X_val)
    if n_train < 1:
        raise CliError(f"train: --holdout {args.holdout} leaves no training images out of {len(X)}")
    try:
        trainer = Trainer(net, X_tr, y_tr, X_val if n_val else None, y_val if n_val else None, config)
    except ValueError as e:
        raise CliError(f"train: {e}") from None
    return trainer, n_train, n_val, source


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


def _data(args, command: str):
    """``(X, y, description)`` of ``--images/--labels`` or ``--data`` (the table in
    :mod:`cnncore.datasets.sources`, the same the app offers)."""
    from cnncore.datasets import DOWNLOADS, SourceError, load_source
    from cnncore.defaults import run_defaults

    if (args.images is None) != (args.labels is None):
        raise CliError(f"{command}: --images and --labels go together")
    if args.images is not None and args.data is not None:
        raise CliError(f"{command}: give either --images/--labels or --data, not both")
    if args.images is not None:
        X, y = _load_pair(args.images, args.labels)
        return X, y, args.images
    if args.data is None and command != "train":
        raise CliError(f"{command}: give --images and --labels, or --data")
    tty = sys.stderr.isatty() and not getattr(args, "quiet", False)

    def progress(done, total, name):
        if tty:
            size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
            print(f"\r\033[Kgetting {name}: {size}", end="", file=sys.stderr, flush=True)
    key = args.data or "generated"
    count = args.count if args.count is not None else run_defaults(key).count
    try:
        return load_source(key, count=count, seed=args.data_seed, progress=progress)
    except SourceError as e:
        raise CliError(f"{command}: {e}") from None
    finally:
        if tty and args.data in DOWNLOADS:
            print("\r\033[K", end="", file=sys.stderr)


def _name_classes(net, key) -> None:
    """A network trained on ``--data key`` carries its class names (digits for --images/--labels)."""
    if key is not None:
        from cnncore.datasets.sources import source

        src = source(key)
        net.learns(src.classes, src.dataset)


def _legend(net) -> str:
    """``"classes: 0 T-shirt/top, 1 Trouser, …"`` for a network that learnt something else than digits."""
    from cnncore.architecture import DIGIT_CLASSES

    if tuple(net.classes) == DIGIT_CLASSES:
        return ""
    return f"classes ({net.dataset or 'named in the model'}): " + ", ".join(f"{i} {c}" for i, c in enumerate(net.classes))


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
    X, y, _ = _data(args, "eval")
    X, y, which = _held_out(args, X, y)
    X, y, _ = _select(X, y, args.range)
    if X.shape[1:] != net.input_shape[1:] or net.input_shape[0] != 1:
        raise CliError(f"eval: images are {X.shape[1]}×{X.shape[2]}, the model needs {net.input_shape}")
    loss, acc, confusion, wrong, probs = evaluate(net, X, y)
    _refuse_not_a_number(net, probs, args.model)
    print(f"{len(X)} images{which}, loss {loss:.4f}, {len(wrong)} wrong")
    if _legend(net):
        print(_legend(net))
    print("confusion matrix (rows: true digit, columns: predicted digit)")
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
    X, y, _ = _data(args, "trace")
    if args.index is not None and not 0 <= args.index < len(X):
        raise CliError(f"trace: --index {args.index} is out of range (the file has {len(X)} images, 0..{len(X) - 1})")
    if args.index is None:       # the picture the app traces first: one it gets wrong or is least sure of
        from cnncore.defaults import trace_example
        args.index = trace_example(net, X, y)
    try:
        t = trace(net, X[args.index], int(y[args.index]), lr=args.lr)
    except ValueError as e:     # a pass whose numbers overflow: the model or the learning rate
        raise CliError(f"trace: {args.model}: {e}") from None
    if net.optimizer_note and args.lr is None:
        print(f"cnnapp trace: note: {net.optimizer_note}", file=sys.stderr)
    t.save(out)
    from cnncore.update import rule_name
    rule = rule_name(t.settings)
    print(f"image {args.index}: label {t.label}, predicted {t.prediction}, loss {t.loss:.4f} "
          f"({t.loss_next:.4f} after one {rule} step, lr {t.lr:g}); "
          f"{len(t.arrays)} arrays and {len(t.steps)} steps written to {out}")
    return 0


def _cmd_predict(args) -> int:
    import numpy as np

    net = _load_model(args.model)
    grey = read_png(args.image)
    x = _image_for_network(grey, args.image)
    if net.input_shape != (1, 28, 28):
        raise CliError(f"predict: the model needs inputs of {net.input_shape}, images give (1, 28, 28)")
    p = _answer(net, x[None, None], args.model)[0]
    best = int(np.argmax(p))
    if _legend(net):
        print(f"class: {best} {net.classes[best]} ({net.dataset or 'named in the model'})")
        for d in range(10):
            print(f"{d} {net.classes[d]}: {p[d]:.4f}")
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
    """``(x (28, 28) floats in [0, 1], label or −1, where)`` of ``inspect``: a PNG or one labelled image."""
    import numpy as np

    if net.input_shape != (1, 28, 28):
        raise CliError(f"inspect: the model needs inputs of {net.input_shape}, images give (1, 28, 28)")
    if args.png is not None:
        if args.images is not None or args.data is not None or args.index is not None:
            raise CliError("inspect: give either --png or --images/--labels (or --data) with --index, not both")
        return _image_for_network(read_png(args.png), args.png), -1, args.png
    if args.index is None:
        raise CliError("inspect: give --index I with --images/--labels or --data (or a --png FILE)")
    X, y, source = _data(args, "inspect")
    if not 0 <= args.index < len(X):
        raise CliError(f"inspect: --index {args.index} is out of range (there are {len(X)} images, "
                       f"0..{len(X) - 1})")
    return X[args.index].astype(np.float32) / np.float32(255), int(y[args.index]), f"image {args.index}"


def _cmd_inspect(args) -> int:
    """Saliency, Grad-CAM of every conv layer and the smallest adversarial change, as one .npz."""
    import numpy as np

    from cnncore import atomic_savez
    from cnncore.probe import Probe

    out = _output(args)
    net = _load_model(args.model)
    x, label, where = _inspect_input(args, net)
    _answer(net, x[None, None], args.model)
    probe = Probe(net)
    g = probe.class_gradient(x, args.cls)
    attack = probe.smallest_attack(x, target=args.target)
    arrays = {"input": x[None, None], "label": np.int64(label), "predicted": np.int64(g.predicted),
              "saliency": g.saliency[None]}
    arrays.update({f"gradcam.L{i}": cam for i, cam in g.gradcam().items()})
    arrays.update({"adversarial": attack.image[None], "adversarial_predicted": np.int64(attack.predicted),
                   "epsilon": np.float64(attack.epsilon)})
    atomic_savez(out, arrays)
    change = (f"an L∞ change of {attack.epsilon:.3f} makes it answer {attack.predicted}" if attack.success
              else f"no change up to {attack.epsilon:.2f} makes it answer "
                   + ("another digit" if args.target is None else str(args.target)))
    print(f"{where}: label {label if label >= 0 else 'unknown'}, predicted {g.predicted}; {change}; "
          f"written to {out}")
    return 0


def _inspect_parser(sub) -> None:
    s = sub.add_parser("inspect", help="saliency, Grad-CAM and an adversarial digit for one image, as .npz")
    s.add_argument("model", metavar="MODEL.npz")
    _data_arguments(s)
    _seed_alias(s)
    s.add_argument("--index", type=_nonneg_int, metavar="I", help="which image of --images or --data")
    s.add_argument("--png", metavar="FILE", help="a PNG of a digit instead (its label is written as -1)")
    s.add_argument("--class", dest="cls", type=_digit, default=None, metavar="C",
                   help="the digit whose logit the saliency and Grad-CAM explain (default: the answer)")
    s.add_argument("--target", type=_digit, default=None, metavar="D",
                   help="push the adversarial digit towards this answer (default: any other answer)")
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


def _data_arguments(p, default: str | None = None) -> None:
    """``--images/--labels`` or ``--data`` (the sources of cnncore.datasets this installation has)."""
    from cnncore.datasets import available_sources

    offered = [s for s in available_sources() if not s.files]
    p.add_argument("--images", metavar="F", help="IDX images file (.gz or raw)")
    p.add_argument("--labels", metavar="F", help="IDX labels file (.gz or raw)")
    p.add_argument("--data", choices=[s.key for s in offered],
                   help="; ".join(f"{s.key}: {s.help}" for s in offered) + (f" (default {default})" if default else ""))
    from cnncore.defaults import run_defaults
    d = run_defaults("generated")
    p.add_argument("--count", type=_positive_int, default=None,
                   help=f"generated: how many (default {d.count}, the app's); other sources: use at most this "
                        f"many (default {d.count}; your drawings: all)")
    p.add_argument("--data-seed", type=_nonneg_int, default=d.data_seed, metavar="N",
                   help=f"the generated digits' seed (default {d.data_seed}: the digits the app trains on)")


def _seed_alias(p) -> None:
    """``--seed``: the generated digits' seed, as ``--data-seed`` (kept for older scripts)."""
    p.add_argument("--seed", type=_nonneg_int, dest="data_seed", default=argparse.SUPPRESS,
                   help="the same as --data-seed")


def _holdout_argument(p, text: str) -> None:
    from cnncore.defaults import run_defaults
    p.add_argument("--holdout", type=_fraction, default=None,
                   help=f"{text} (default {run_defaults('generated').holdout:g}, the app's; a fixed shuffle picks "
                        "them, the app uses the same rule)")


def _holdout(args) -> float:
    """``--holdout``, or the default of the data source (the app's)."""
    from cnncore.defaults import run_defaults
    key = args.data or ("idx" if getattr(args, "images", None) else "generated")
    return args.holdout if args.holdout is not None else run_defaults(key).holdout


def _parser() -> _Parser:
    from cnncore.architecture import DEFAULT_PRESET
    from cnncore.defaults import run_defaults

    p = _Parser(prog="cnnapp", description="Draw digits, train a small CNN and step through backpropagation. "
                                           "Without arguments the app opens.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train a network and save it")
    t.add_argument("--arch", metavar="FILE|PRESET", help=f"architecture JSON file or preset (default {DEFAULT_PRESET})")
    _data_arguments(t, default="generated digits")
    t.add_argument("--epochs", type=_epochs(), default=run_defaults("generated").epochs,
                   help=f"passes over the training images (default {run_defaults('generated').epochs}, the app's)")
    t.add_argument("--batch-size", type=_positive_int, default=32)
    t.add_argument("--lr", type=_learning_rate(), default=None, help="learning rate (default: adam 0.003, sgd 0.05)")
    t.add_argument("--optimizer", choices=("sgd", "adam"), default="adam")
    t.add_argument("--momentum", type=_nonneg_float, default=0.9, help="SGD momentum (default 0.9)")
    t.add_argument("--weight-decay", type=_nonneg_float, default=0.0)
    t.add_argument("--schedule", choices=("cosine", "constant"), default="cosine")
    t.add_argument("--augment", type=_nonneg_int, default=1,
                   help="shift training images at random by up to N pixels (default 1; 0 = off)")
    t.add_argument("--seed", type=_nonneg_int, default=0, help="the weights and the shuffles")
    _holdout_argument(t, "fraction held out for evaluation")
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
                   help="which image (default: among the first 100, the one the model gets wrong or is least "
                        "sure of, as the app's Backprop tab picks it)")
    r.add_argument("--lr", type=_learning_rate(), default=None,
                   help="show a plain gradient-descent update at this learning rate instead of the step the "
                        "model's own optimizer makes next from its saved state")
    r.add_argument("--out", required=True, metavar="TRACE.npz")
    r.set_defaults(func=_cmd_trace)

    q = sub.add_parser("predict", help="classify a PNG image of a digit")
    q.add_argument("model", metavar="MODEL.npz")
    q.add_argument("image", metavar="IMAGE.png")
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
