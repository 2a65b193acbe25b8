"""``cnnapp train``: train a network on a data source and save it.

::

    cnnapp train [--arch FILE|PRESET] [--images F --labels F | --data SOURCE [--count N] | --folder DIR]
                 [--epochs N] [--batch-size N] [--lr X] [--optimizer sgd|adam] [--seed N]
                 [--augment N] [--flip|--no-flip] [--holdout FRACTION] --out MODEL.npz

What is not given comes from :mod:`cnncore.defaults`, the app's table, by data source and preset.
A run whose loss diverges saves nothing (exit status 1). Ctrl+C stops a run after its batch, as the
app's Stop does, and saves what it has learnt (exit status 130); a second Ctrl+C quits at once and
saves nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import time
from pathlib import Path

from .args import CliError, epochs, learning_rate, loss_text, nonneg_float, nonneg_int, positive_int
from .data import as_input, data, data_arguments, holdout_argument, source_key
from .outputs import output

__all__ = ["add_parser", "run", "network_and_config"]


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a network and save it",
                       description="Train a network and save it. Settings not given come from the defaults "
                                   "table (cnncore/defaults.py, the app's), which differ by data source and preset "
                                   "as each option says. Ctrl+C stops the run after its batch and saves what it "
                                   "has learnt (exit status 130); Ctrl+C again quits without saving.")
    _train_arguments(t)
    holdout_argument(t, "fraction held out for evaluation")
    t.add_argument("--normalise", action="store_true",
                   help="scale each channel by the mean and spread of the training pictures, (x − mean) / std "
                        "(the numbers are kept in the model and go with its exports, which still take [0, 1])")
    t.add_argument("--threads", type=positive_int, default=None,
                   help="kernel threads (default: all CPUs; at most 64, or 4 a CPU on a larger machine)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--out", required=True, metavar="MODEL.npz")
    t.set_defaults(func=run)


def _train_arguments(t) -> None:
    """train's data and learning settings; ``None`` defaults are filled from cnncore.defaults."""
    from cnncore.defaults import default_preset, differences

    t.add_argument("--arch", metavar="FILE|PRESET",
                   help=f"architecture JSON file or preset (default {default_preset(None)}; --data cifar10 and "
                        f"--folder: {default_preset('folder')})")
    data_arguments(t, default="generated digits")
    t.add_argument("--epochs", type=epochs(), default=None,
                   help=f"passes over the training images (default {differences('epochs')}, the app's)")
    t.add_argument("--batch-size", type=positive_int, default=None, help=f"default {differences('batch_size')}")
    t.add_argument("--lr", type=learning_rate(), default=None,
                   help=f"learning rate (default {differences('lr')}; adam's own is 0.003, sgd's 0.05)")
    t.add_argument("--optimizer", choices=("sgd", "adam"), default=None, help=f"default {differences('optimizer')}")
    t.add_argument("--momentum", type=nonneg_float, default=None,
                   help=f"SGD momentum (default {differences('momentum')})")
    t.add_argument("--weight-decay", type=nonneg_float, default=None, help=f"default {differences('weight_decay')}")
    t.add_argument("--schedule", choices=("cosine", "constant"), default=None,
                   help=f"default {differences('schedule')}")
    t.add_argument("--augment", type=nonneg_int, default=None,
                   help=f"shift each training picture at random by up to N pixels, 0 = off (default "
                        f"{differences('augment')})")
    t.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help=f"mirror a random half of each batch left to right, for pictures of things; never for "
                        f"digits or letters (default {differences('flip')})")
    t.add_argument("--seed", type=nonneg_int, default=0, help="the weights and the shuffles")


def run(args) -> int:
    import cnncore

    before = cnncore.get_num_threads()
    try:
        with _reader_may_go():
            return _train(args)
    finally:
        cnncore.set_num_threads(before)  # --threads is for this command only (matters when called in-process)


class _QuietWhenGone:
    """Standard output that a reader may close (``cnnapp train … | head -1``): from then on what is
    printed goes nowhere, and the run goes on to save its model (a BrokenPipeError in a print had
    ended it with nothing saved)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except OSError as e:
            self._gone(e)
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except OSError as e:
            self._gone(e)

    def _gone(self, e: OSError):
        """The reader went (a broken pipe; EINVAL on Windows): what is printed from now on goes to the
        null device, which ``reader_gone`` puts behind standard output."""
        if not isinstance(e, BrokenPipeError) and e.errno not in (errno.EPIPE, errno.EINVAL):
            raise e
        from .reader import reader_gone
        reader_gone()

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _reader_may_go():
    stream = sys.stdout
    if stream is None:
        yield
        return
    sys.stdout = _QuietWhenGone(stream)
    try:
        yield
    finally:
        sys.stdout = stream


def _train(args) -> int:
    import cnncore
    from cnncore.modelio import save_model
    from cnncore.plurals import plural

    from cnncore.modelio import not_a_model_file
    out = output(args, ".npz", spare=not_a_model_file)     # a model replaces a model, never other arrays
    _fill_defaults(args)
    net, config = network_and_config(args)
    if args.threads:
        if args.threads > cnncore.MAX_THREADS:
            raise CliError(f"--threads {args.threads}: at most {cnncore.MAX_THREADS} on this machine")
        cnncore.set_num_threads(args.threads)
    trainer, n_train, n_val, source = _trainer(args, net, config)
    epochs = plural(config.epochs, "epoch")
    print(f"training {len(net.layers)}-layer network ({net.num_params():,} parameters) on {n_train:,} images "
          f"from {source}, holding out {n_val:,}; {config.optimizer} lr {config.lr:g}, batch {config.batch_size}, "
          f"{epochs}, {_augment_words(config)}, {plural(cnncore.get_num_threads(), 'thread')}", flush=True)
    if getattr(args, "folder", None) is not None and net.input_shape[0] == 1:
        print(f"note: the pictures are read as this network takes them: {net.signature.brief()} (their colour is "
              "dropped)", flush=True)
    with _ctrl_c_stops(trainer) as interrupted:
        finished = _run_with_progress(trainer, config, n_val, tty=sys.stderr.isatty() and not args.quiet)
    if finished.reason == "diverged":     # such weights are no use: leave whatever is at --out as it was
        print(f"cnnapp train: {finished.message} Such weights are no use: nothing was saved to {out}.",
              file=sys.stderr)
        return 1
    save_model(out, net, optimizer=trainer.optimizer)
    print(f"{finished.message}; saved to {out}")
    return 130 if interrupted and finished.reason == "stopped" else 0


@contextlib.contextmanager
def _ctrl_c_stops(trainer):
    """Within the block, the first Ctrl+C asks ``trainer`` to stop after its batch (the run then ends
    as one the app stops, and what it learnt is saved); a second one raises KeyboardInterrupt as
    usual (quit, nothing saved). Yields a list that is not empty once Ctrl+C was pressed. (Outside
    the main thread, where a handler cannot be set, and where SIGINT is ignored, as under ``nohup``
    or ``&`` in a script, Ctrl+C is left as it is.)"""
    pressed: list = []

    def first(signum, frame):
        trainer.stop()                     # first: the words below may fail (stderr in mid-write)
        pressed.append(True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            os.write(2, b"\ncnnapp train: stopping after this batch to save what it has learnt "
                        b"(Ctrl+C again: quit without saving)\n")
        except OSError:
            pass

    try:
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            raise ValueError("ignored")
        before = signal.signal(signal.SIGINT, first)
    except ValueError:
        yield pressed
        return
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, before)


def _fill_defaults(args) -> None:
    """The settings not given on the command line, from the one table (cnncore.defaults, the app's)
    for this source and preset."""
    from dataclasses import replace

    from cnncore.defaults import run_defaults

    named = args.arch if _names_preset(args.arch) else None
    d = run_defaults(source_key(args), named if args.arch is None or named else "(a file)")
    args.arch = d.preset if args.arch is None else args.arch
    if args.lr is None and args.optimizer not in (None, d.optimizer):
        d = replace(d, lr=None)            # the table's rate is its optimizer's: another starts at its own
    for name in ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule", "augment",
                 "flip", "holdout"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(d, name))
    if args.flip and source_key(args) in _WRITTEN:
        print("note: --flip mirrors half of each batch; a mirrored digit or letter is no longer one, so the "
              "network learns from pictures it will never see", file=sys.stderr)


#: Sources of written digits or letters, which a mirror image turns into something else.
_WRITTEN = ("generated", "drawings", "shared", "mnist", "kmnist")


def _augment_words(config) -> str:
    pixels = f"{config.augment} pixel{'s' if config.augment != 1 else ''}"
    shifts = f"shifts of up to {pixels}" if config.augment else "no shifts"
    return shifts + (" and mirror images" if config.flip else "")


def _names_preset(value) -> bool:
    """``--arch`` names a preset: one of their names and no file by it (a folder named like one,
    "lenet" from an export, is not a file)."""
    from cnncore.architecture import PRESETS
    return value in PRESETS and not Path(value).is_file()


def load_arch(value: str) -> dict:
    """``--arch``: an architecture JSON file (read as a regular file only) or the name of a preset."""
    from cnncore import read_regular
    from cnncore.architecture import PRESETS, parse_architecture, preset
    from cnncore.limits import MAX_ARCH_TEXT

    path = Path(value)
    if not value.strip():       # (Path("") is the current folder: "is a folder" said nothing useful)
        raise CliError(f"--arch: give an architecture, a preset's name ({', '.join(sorted(PRESETS))}) or a JSON file")
    if not _names_preset(value) and (path.exists() or os.sep in value):
        try:
            data = read_regular(path, 4 * MAX_ARCH_TEXT)                    # never a FIFO or a device
        except (OSError, ValueError) as e:
            raise CliError(f"--arch {value}: cannot read the file ({getattr(e, 'strerror', None) or e})") from None
        try:
            return parse_architecture(data)             # (a model file, a picture: said what it seems to be)
        except ValueError as e:
            raise CliError(f"--arch {value}: {e}") from None
    if value in PRESETS:
        return preset(value)
    raise CliError(f"--arch {value!r}: no such file or preset (presets: {', '.join(sorted(PRESETS))})")


def network_and_config(args):
    """The network to train (``--arch``, a preset by default) and the run's settings."""
    from cnncore.network import Network
    from cnncore.training import TrainConfig

    spec = load_arch(args.arch)
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

    got = data(args, "train", net)
    net.learns(got.classes, got.dataset)
    if args.folder is not None:
        net.signature = net.signature.fitted("picture")
    X = as_input(got, net, "train")
    # The one held-out rule the app uses too (cnncore.datasets.held_out_split).
    X_tr, y_tr, X_val, y_val = held_out_split(X, got.y, args.holdout)
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
    return trainer, n_train, n_val, got.what


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
                      f"{ev.batch}/{ev.batches_per_epoch} loss {loss_text(ev.loss)} acc {ev.accuracy:.3f} "
                      f"{ev.images_per_second:,.0f} img/s ", end="", file=sys.stderr, flush=True)
        elif isinstance(ev, EpochEvent):
            if tty:
                print("\r\033[K", end="", file=sys.stderr)
            held = (f"held-out loss {loss_text(ev.val_loss)} accuracy {ev.val_accuracy:.4f}" if n_val
                    else "no held-out images")
            print(f"epoch {ev.epoch}/{config.epochs}: train loss {loss_text(ev.train_loss)} accuracy "
                  f"{ev.train_accuracy:.4f}, {held} ({ev.seconds:.2f} s training)", flush=True)
        else:
            finished = ev
    if tty:
        print("\r\033[K", end="", file=sys.stderr)
    return finished


def _bar(done: int, total: int, width: int = 28) -> str:
    filled = int(width * done / total) if total else width
    return "[" + "#" * filled + "." * (width - filled) + "]"
