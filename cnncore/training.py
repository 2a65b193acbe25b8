"""The training loop: a generator of per-batch and per-epoch events.

::

    trainer = Trainer(net, X_train, y_train, X_val, y_val, TrainConfig(epochs=5))
    for event in trainer.run():          # the app runs this in a worker thread
        if isinstance(event, BatchEvent): ...
        elif isinstance(event, EpochEvent): ...
        else: print(event.message)       # FinishedEvent, always the last one

:meth:`Trainer.pause`, :meth:`~Trainer.resume`, :meth:`~Trainer.stop` and
:meth:`~Trainer.set_lr` may be called from another thread; they take effect
between batches. The same network seed, data, config and seed give the same
weights bit for bit (the shuffles come from ``config.seed`` only).

A NaN or infinite loss stops training with reason ``"diverged"`` and puts back
the weights from before the update that broke them. A run can also diverge without
NaN: after each epoch, a mean loss far above a guess's (``ln 10``) or, after
:data:`JUDGE_AFTER_STEPS` updates, a network still scoring like a guess stops it with
reason ``"diverged"`` and a message saying what to change. Images with NaN or infinite
pixels are refused by :class:`Trainer` as bad inputs (never blamed on the learning rate).
"""
from __future__ import annotations

import math
import numbers
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .architecture import UNUSED_CLASS, check_batch
from .limits import MAX_EPOCHS, max_shift, pictures_problem
from .learnt import fingerprints, remember
from .network import Network, softmax, softmax_cross_entropy
from .optim import DEFAULT_LR, check_lr, check_setting, make_optimizer
from .step import DIVERGED, DONE, RunSteps

#: The loss of a network that guesses uniformly among the 10 digits.
CHANCE_LOSS = math.log(10)
#: Updates after which a network still at chance has not learned (a sound run is far past it).
JUDGE_AFTER_STEPS = 50
#: Pictures a network at its optimizer's usual learning rate sees before one still at chance is said to
#: be stuck: fewer is too little to learn from (a run of 100 pictures in batches of 1 was stopped, told
#: to try a smaller learning rate, and nothing was saved, where the same run in batches of 32 was kept).
JUDGE_AFTER_IMAGES = 2000

__all__ = ["TrainConfig", "Trainer", "BatchEvent", "EpochEvent", "FinishedEvent", "Failure", "Evaluation",
           "evaluate", "as_network_input", "shift_augment", "flip_augment", "epoch_part", "epoch_ends",
           "epochs_done", "numbered_from"]


@dataclass
class TrainConfig:
    """Knobs of a training run.

    ``lr=None`` picks the optimizer's default (Adam 0.003, SGD 0.05).
    ``schedule`` is ``"cosine"`` (the learning rate glides from ``lr`` to 0 over
    the run, which settles the weights at the end) or ``"constant"``.
    ``augment`` shifts each training image by up to that many pixels at random
    (0 = off); the default 1 costs little and keeps a small training set from
    being learnt by heart. ``flip`` mirrors a random half of each batch left to right (for
    pictures of things, where a mirrored cat is still a cat; never for digits or letters).
    ``momentum`` is used by SGD only.
    """
    optimizer: str = "adam"
    lr: float | None = None
    batch_size: int = 32
    epochs: int = 6
    weight_decay: float = 0.0
    momentum: float = 0.9
    seed: int = 0
    schedule: str = "cosine"
    augment: int = 1
    flip: bool = False

    def __post_init__(self):
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', not {self.optimizer!r}")
        if self.lr is None:
            self.lr = DEFAULT_LR[self.optimizer]
        self.lr = check_lr(self.lr)
        for name in ("batch_size", "epochs"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name.replace('_', ' ')} must be a positive integer, got {v!r}")
        if self.epochs > MAX_EPOCHS:
            raise ValueError(f"{self.epochs:,} epochs is more than the {MAX_EPOCHS:,} a run may have")
        self.weight_decay = check_setting("weight_decay", self.weight_decay, "weight decay")  # optim's ranges
        self.momentum = check_setting("momentum", self.momentum)
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', not {self.schedule!r}")
        if not isinstance(self.augment, numbers.Integral) or isinstance(self.augment, bool) or self.augment < 0:
            raise ValueError(f"augment must be a pixel count >= 0, got {self.augment!r}")
        if not isinstance(self.flip, (bool, np.bool_)):
            raise ValueError(f"flip must be True or False, got {self.flip!r}")
        self.flip = bool(self.flip)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BatchEvent:
    """After each batch. ``epoch`` and ``batch`` count from 1; ``progress`` is in (0, 1]."""
    epoch: int
    batch: int
    batches_per_epoch: int
    loss: float
    accuracy: float
    images_per_second: float
    progress: float
    lr: float = 0.0


@dataclass(frozen=True)
class Evaluation:
    """One pass of one set of weights over the held-out images: everything a result shows.

    ``confusion[t, p]`` (10, 10) counts images of true class ``t`` answered ``p``; ``misclassified``
    (K,) indexes the held-out images answered wrongly and ``predicted`` (K,) holds those answers.
    The accuracy, the count right, the matrix and the mistakes all come from this one pass, so
    they always agree (``right == confusion.trace() == count - len(misclassified)``).
    """
    loss: float
    accuracy: float
    confusion: np.ndarray = field(repr=False)
    misclassified: np.ndarray = field(repr=False)
    predicted: np.ndarray = field(repr=False)

    @property
    def count(self) -> int:
        """How many held-out images were scored."""
        return int(np.asarray(self.confusion).sum())

    @property
    def right(self) -> int:
        """How many of them the network answered correctly."""
        return self.count - len(self.misclassified)


@dataclass(frozen=True)
class EpochEvent:
    """After each epoch: training means over the epoch and a full pass over the held-out split.

    ``confusion[t, p]`` counts held-out images of true digit ``t`` predicted as
    ``p``; ``misclassified`` indexes ``X_val`` and ``predicted[k]`` is the digit the
    network answered for ``X_val[misclassified[k]]``: both come from the one pass
    that also gave ``val_accuracy`` (the same weights). Without a held-out split the
    ``val_*`` fields are NaN and the arrays are empty.
    """
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    confusion: np.ndarray = field(repr=False)
    misclassified: np.ndarray = field(repr=False)
    seconds: float = 0.0
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)

    @property
    def evaluation(self) -> Evaluation | None:
        """The held-out pass of this epoch's weights (None without a held-out split)."""
        if not np.isfinite(self.val_accuracy):
            return None
        return Evaluation(self.val_loss, self.val_accuracy, self.confusion, self.misclassified, self.predicted)


@dataclass(frozen=True)
class Failure:
    """What a run that met a NaN or infinite loss leaves for a diagnosis
    (:func:`cnncore.diagnostics.explain_divergence`): the weights that failed (``flat_params``
    order; the network itself is back at the last good ones), the batch and its labels, the
    loss, where it happened and the base learning rate of the run."""
    params: np.ndarray = field(repr=False)
    x: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    loss: float
    epoch: int
    batch: int
    lr: float
    step: int


@dataclass(frozen=True)
class FinishedEvent:
    """The last event: ``reason`` is "done", "stopped" or "diverged"; ``message`` says what happened.

    ``evaluation`` is the held-out pass of the weights the run ends with (made again when a stop
    comes mid-epoch or a NaN loss put earlier weights back): its accuracy, confusion matrix and
    mistakes belong together. ``val_accuracy`` and ``val_count`` repeat its accuracy and size;
    NaN, 0 and None without a held-out split or before any update. ``changed``: the run made an
    update (False for one stopped, or one that could not start, before its first batch).
    """
    reason: str
    message: str
    seconds: float = 0.0
    val_accuracy: float = float("nan")
    val_count: int = 0
    evaluation: Evaluation | None = field(default=None, repr=False)
    changed: bool = False


def epoch_part(record) -> list | None:
    """``[batches done, of]`` where a history ``record`` is of a run stopped within an epoch (the
    ``"batches"`` :class:`Trainer` notes then), else None (a whole epoch, or not a record)."""
    part = record.get("batches") if isinstance(record, dict) else None
    ok = isinstance(part, list) and len(part) == 2 and all(isinstance(v, int) and v > 0 for v in part)
    return part if ok else None


def epoch_ends(history) -> list[float]:
    """Where each record of a network's ``history`` ends, in epochs trained: an epoch counts 1, the part
    of one a stopped run took counts that part (the records that are not dicts are left out)."""
    ends, at = [], 0.0
    for record in history or []:
        if isinstance(record, dict):
            part = epoch_part(record)
            at += part[0] / part[1] if part else 1.0
            ends.append(at)
    return ends


def epochs_done(history) -> float:
    """How many epochs a network with this ``history`` was trained for (:func:`epoch_ends`): a run that
    goes on from its weights numbers its epochs after these."""
    ends = epoch_ends(history)
    return ends[-1] if ends else 0.0


def numbered_from(epochs: float) -> int:
    """The number a run's epochs count on from, for a network trained for ``epochs`` (:func:`epochs_done`):
    its epoch ``k`` is epoch ``numbered_from(epochs) + k`` (5 for the first after 4, or after 4 and a part
    of one: a part counts none)."""
    return math.floor(epochs + 1e-9)


def _check_sizes(net: Network, X_train, X_val, config: TrainConfig) -> None:
    """Refuse, before any array of the run is made, training images whose float copy would not fit
    :data:`~cnncore.limits.MAX_DATA_BYTES`, a shift that moves whole pictures out of view and a batch
    whose pass would not fit :data:`~cnncore.limits.MAX_BATCH_BYTES`."""
    C, H, W = net.input_shape
    problem = pictures_problem(len(X_train) + (len(X_val) if X_val is not None else 0), C * H * W,
                               net.dtype.itemsize)
    if problem:
        raise ValueError(problem)
    if config.augment > max_shift(H, W):
        raise ValueError(f"shifting {H}×{W} pictures by up to {config.augment:,} pixels moves them out of view; "
                         f"augment by at most {max_shift(H, W)}")
    N = len(X_train)
    check_batch(net.spec, min(config.batch_size, N) or 1, net.dtype.itemsize, N)


def as_network_input(X, dtype=np.float32) -> np.ndarray:
    """Images as the network's input: ``(N, C, H, W)`` floats in [0, 1].

    uint8 images (MNIST's 0..255 grey levels) are divided by 255; ``(N, H, W)``
    gets a channel axis.
    """
    X = np.asarray(X)
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W) or (N, C, H, W), got {X.shape}")
    if X.dtype == np.uint8:
        out = X.astype(dtype)
        out /= out.dtype.type(255)
        return out
    return np.ascontiguousarray(X, dtype=dtype)


def _finite_images(X: np.ndarray, what: str) -> None:
    """ValueError naming the images with NaN or infinite pixels (bad inputs, not a bad learning rate)."""
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        bad = np.flatnonzero(~np.isfinite(X.reshape(len(X), -1)).all(axis=1))
        raise ValueError(f"{len(bad)} {what} image{'s' if len(bad) != 1 else ''} (first: number {bad[0]}) "
                         f"contain NaN or infinite pixel values; fix or drop them before training")


def _labels(y, n: int, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"{what} labels must have shape ({n},), got {y.shape}")
    if y.dtype.kind not in "iu" or (n and (y.min() < 0 or y.max() > 9)):
        raise ValueError(f"{what} labels must be integers 0..9")
    return y.astype(np.intp)


def shift_augment(X: np.ndarray, max_shift: int, rng: np.random.Generator, out: np.ndarray,
                  scratch: np.ndarray | None = None) -> np.ndarray:
    """Shift each image of ``X (N, C, H, W)`` by a random whole number of pixels in
    ``[-max_shift, max_shift]`` along each axis (zeros move in), into ``out``.

    Image ``i`` becomes ``pad(X[i])[:, dy_i:dy_i + H, dx_i:dx_i + W]`` with the
    offset drawn uniformly from ``0..2·max_shift`` along each axis. The images
    of a batch arrive in random order, so drawing how many get each offset
    (multinomial) and giving the offsets out in runs along the batch is the
    same as drawing one offset per image, and every run is a plain slice copy.
    ``scratch`` may be a zeroed ``(≥N, C, H + 2·max_shift, W + 2·max_shift)``
    buffer reused between calls (only its interior is written; the border stays 0).
    """
    N, C, H, W = X.shape
    s = max_shift
    side = 2 * s + 1
    if scratch is None:
        scratch = np.zeros((N, C, H + 2 * s, W + 2 * s), dtype=X.dtype)
    pad = scratch[:N]
    pad[:, :, s:s + H, s:s + W] = X
    counts = rng.multinomial(N, np.full(side * side, 1.0 / (side * side)))
    start = 0
    for k, c in enumerate(counts.tolist()):
        if c:
            oy, ox = divmod(k, side)
            out[start:start + c] = pad[start:start + c, :, oy:oy + H, ox:ox + W]
            start += c
    return out


def flip_augment(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror each image of ``X (N, C, H, W)`` left to right with probability ½, in place
    (``X[i] ← X[i][:, :, ::-1]``); returns ``X``."""
    chosen = np.flatnonzero(rng.random(len(X)) < 0.5)
    X[chosen] = X[chosen][..., ::-1]
    return X


def evaluate(net: Network, X, y, batch_size: int = 500):
    """``(loss, accuracy, confusion (10, 10) int64, misclassified indices, probs)`` on a labelled set.
    The loss is the training loss's (:func:`~cnncore.network.softmax_cross_entropy`, log-sum-exp of
    the logits): a sure wrong answer's loss is its margin, not the log of a probability that rounded
    to 0."""
    X = as_network_input(X, net.dtype)
    y = _labels(y, len(X), "evaluation")
    logits = net.predict_logits(X, batch_size)
    with np.errstate(over="ignore", invalid="ignore"):
        probs = softmax(logits)
    N = len(y)
    if N == 0:
        return float("nan"), float("nan"), np.zeros((10, 10), np.int64), np.zeros(0, np.int64), probs
    with np.errstate(over="ignore", invalid="ignore"):
        loss = softmax_cross_entropy(logits, y)[0]     # the training loss's own pass (log-sum-exp)
    pred = probs.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    wrong = np.flatnonzero(pred != y).astype(np.int64)
    return loss, float(1 - len(wrong) / N), confusion, wrong, probs


def used_classes(classes, confusion) -> list[int]:
    """The rows and columns of a confusion matrix worth showing: every class but the outputs no class
    uses (a folder of 3 classes leaves 7; an output past the names is one), unless a picture was put
    in one or answered as one."""
    confusion = np.asarray(confusion)
    return [k for k in range(len(confusion)) if (k < len(classes) and str(classes[k]) != UNUSED_CLASS)
            or confusion[:, k].any() or confusion[k].any()]


@dataclass
class _Loop:
    """Where one run of :meth:`Trainer.run` is: its batch plan and buffers, the steps taken, the
    time spent, the smoothed speed, this epoch's sums and the latest held-out accuracy."""
    bs: int
    nb: int
    total: int
    rng: np.random.Generator
    xbuf: np.ndarray
    abuf: np.ndarray | None
    pbuf: np.ndarray | None
    snapshot: np.ndarray
    grads: dict
    #: The compiled steps of this run (the batch and the epoch's short last one), on the thread count
    #: picked (the setting's, or one where that is faster: another program has a core).
    steps: RunSteps
    step: int = 0
    train_seconds: float = 0.0
    ips: float | None = None
    last_eval: Evaluation | None = None     # the held-out pass of the weights as they are now
    evaluated: bool = False                 # last_eval is of the current weights
    order: np.ndarray | None = None
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    started: float = field(default_factory=time.perf_counter)

    def start_epoch(self, n: int) -> None:
        self.order = self.rng.permutation(n)
        self.loss_sum, self.correct, self.seen = 0.0, 0, 0

    def count_batch(self, n: int, loss: float, hits: int, seconds: float) -> None:
        self.train_seconds += seconds
        rate = n / seconds if seconds > 0 else float("inf")
        self.ips = rate if self.ips is None else 0.8 * self.ips + 0.2 * rate
        self.loss_sum += loss * n
        self.correct += hits
        self.seen += n


def _seconds_words(loop: "_Loop") -> str:
    """The run's seconds of training, and of the whole run where the held-out checks of every epoch
    (and the rest) took much longer: "3.42 s" read as the whole of a run that took 9 s."""
    whole = time.perf_counter() - loop.started
    if whole < 1.25 * loop.train_seconds + 0.5:
        return f"{loop.train_seconds:.2f} s"
    return f"{loop.train_seconds:.2f} s of training ({whole:.1f} s with the held-out checks of each epoch)"


class Trainer:
    """Trains ``net`` in place on ``(X_train, y_train)``, evaluating on ``(X_val, y_val)`` each epoch.

    Images are uint8 ``(N, H, W)`` (one channel) or ``(N, C, H, W)``, or floats ``(N, C, H, W)`` in [0, 1];
    labels are ints 0..9. ``X_val`` may be ``None`` (no held-out split).
    """

    def __init__(self, net: Network, X_train, y_train, X_val=None, y_val=None, config: TrainConfig | None = None):
        self.net = net
        self.config = config if config is not None else TrainConfig()
        #: What the run's epochs are called: its epoch ``k`` is epoch ``first_epoch + k`` of the network's
        #: (a run from weights trained for 4 epochs says "epoch 5" of its first; a part of one counts none).
        #: Counted again as each run starts (a Trainer run again goes on after its first run's epochs).
        self.first_epoch = numbered_from(epochs_done(net.history))
        _check_sizes(net, X_train, X_val, self.config)
        self.X = as_network_input(X_train, net.dtype)
        if self.X.shape[1:] != net.input_shape:
            raise ValueError(f"training images have shape {self.X.shape[1:]}, the network needs {net.input_shape}")
        if len(self.X) == 0:
            raise ValueError("there are no training images")
        _finite_images(self.X, "training")
        self.y = _labels(y_train, len(self.X), "training")
        if X_val is not None and len(X_val):
            self.X_val = as_network_input(X_val, net.dtype)
            if self.X_val.shape[1:] != net.input_shape:
                raise ValueError(f"held-out images have shape {self.X_val.shape[1:]}, the network needs {net.input_shape}")
            _finite_images(self.X_val, "held-out")
            self.y_val = _labels(y_val, len(self.X_val), "held-out")
        else:
            self.X_val, self.y_val = None, None
        # One flat buffer holds every weight and bias: the update is a few array operations.
        self.optimizer = make_optimizer(self.config.optimizer, {"all": net.flat_params}, self.config.lr,
                                        self.config.momentum, self.config.weight_decay,
                                        decay_mask={"all": net.decay_mask})
        self._lock = threading.Lock()
        self._base_lr = float(self.config.lr)
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._runs = 0
        self._prints = None                 # the training pictures' fingerprints (cnncore.learnt)
        #: After a NaN or infinite loss: what a diagnosis needs (:class:`Failure`), else None.
        self.failure: Failure | None = None

    # ------------------------------------------------------------------ controls (any thread)
    def pause(self):
        """Hold before the next batch until :meth:`resume` or :meth:`stop`."""
        self._running.clear()

    def resume(self):
        self._running.set()

    def stop(self):
        """Finish after the current batch with reason "stopped" (also ends a pause)."""
        self._stop.set()
        self._running.set()

    def set_lr(self, lr: float):
        """Change the base learning rate from the next batch on (the schedule still applies)."""
        lr = check_lr(lr)
        with self._lock:
            self._base_lr = lr

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def lr(self) -> float:
        with self._lock:
            return self._base_lr

    # ------------------------------------------------------------------ the loop
    def _lr_at(self, step: int, total: int) -> float:
        base = self.lr
        if self.config.schedule == "cosine":
            return base * 0.5 * (1 + math.cos(math.pi * step / total))
        return base

    def run(self):
        """Generator of :class:`BatchEvent` (every batch), :class:`EpochEvent` (every epoch)
        and a final :class:`FinishedEvent`.

        When the run ends the network keeps its optimizer's state (``net.optimizer_state``, with
        the base learning rate: the rate a further run starts with), so a trace can show the
        update this optimizer really makes next and a saved model carries it. A run that made no
        update leaves the network's state as it was (an Adam's moments are not lost to an SGD run
        stopped before its first batch).
        """
        self._updates = 0
        self.first_epoch = numbered_from(epochs_done(self.net.history))
        try:
            yield from self._run()
        finally:
            self.optimizer.lr = self.lr
            if self._updates:
                self.net.optimizer_state = self.optimizer_state()
                self.net.optimizer_note = ""

    def optimizer_state(self) -> dict:
        """The optimizer's state now as plain arrays (copies), with the base learning rate (the rate a
        further run starts with, not the schedule's of the last batch): what ``net.optimizer_state``
        holds when a run ends, and what a model saved between two batches carries."""
        state = {k: np.array(v, copy=True) for k, v in self.optimizer.state_dict().items()}
        state["lr"] = np.array(self.lr, dtype=np.float64)
        return {"name": np.array(self.optimizer.name), **state}

    def _run(self):
        cfg = self.config
        loop = self._new_loop()
        for epoch in range(1, cfg.epochs + 1):
            loop.start_epoch(len(self.X))
            for b in range(loop.nb):
                if not self._running.is_set():
                    self._running.wait()
                if self._stop.is_set():
                    yield self._stopped(loop, epoch, b)
                    return
                ev = self._train_batch(loop, epoch, b)
                yield ev
                if isinstance(ev, FinishedEvent):
                    return
            yield self._end_epoch(loop, epoch)
            val = loop.last_eval.accuracy if loop.last_eval is not None else float("nan")
            verdict = self._diverged_without_nan(epoch, loop.loss_sum / loop.seen, loop.correct / loop.seen,
                                                 val, loop.step)
            if verdict:
                yield self._finished(loop, "diverged", verdict)
                return
        yield self._finished(loop, "done", f"trained {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} "
                                           f"({loop.total} batch{'es' if loop.total != 1 else ''}) in "
                                           f"{_seconds_words(loop)}")

    def _new_loop(self) -> "_Loop":
        """The batch plan and buffers of one run, and its own shuffling stream."""
        cfg = self.config
        N = len(self.X)
        bs = min(cfg.batch_size, N)
        nb = (N + bs - 1) // bs
        # Run k of this trainer shuffles with its own stream, so "train again" sees new orders
        # while every run stays reproducible.
        rng = np.random.default_rng([cfg.seed, self._runs])
        self._runs += 1
        xbuf = np.empty((bs,) + self.X.shape[1:], dtype=self.X.dtype)
        a = cfg.augment
        abuf = np.empty_like(xbuf) if a else None
        pbuf = (np.zeros((bs, xbuf.shape[1], xbuf.shape[2] + 2 * a, xbuf.shape[3] + 2 * a), dtype=xbuf.dtype)
                if a else None)
        snapshot = np.empty_like(self.net.flat_params)
        if self._prints is None:            # (before the clock starts: a tenth of a second for 60,000)
            self._prints = fingerprints(self.X)
        return _Loop(bs, nb, nb * cfg.epochs, rng, xbuf, abuf, pbuf, snapshot, {"all": self.net.flat_grads},
                     RunSteps(self.net, self.optimizer, snapshot))

    def _stopped(self, loop: "_Loop", epoch: int, b: int) -> FinishedEvent:
        """The run stopped as asked, before batch ``b`` (0-based) of ``epoch`` ("after epoch N" where no
        batch of ``epoch`` ran)."""
        named = self.first_epoch + epoch
        where = f"after epoch {named - 1}" if b == 0 and epoch > 1 else \
            f"in epoch {named}, before batch {b + 1} of {loop.nb}"
        finished = self._finished(loop, "stopped", f"stopped {where}, as you asked")
        if b > 0 and loop.seen:
            self._note_part(loop, epoch, b)
        return finished

    def _note_part(self, loop: "_Loop", epoch: int, batches: int) -> None:
        """Note in ``net.history`` the part of the run's ``epoch`` a stopped run took (``"batches": [done,
        of]``): the weights went through it, and its held-out scores are theirs, not the last whole epoch's."""
        e = loop.last_eval
        nan = float("nan")
        self.net.history.append({"epoch": self.first_epoch + epoch, "train_loss": loop.loss_sum / loop.seen,
                                 "train_accuracy": loop.correct / loop.seen,
                                 "val_loss": e.loss if e is not None else nan,
                                 "val_accuracy": e.accuracy if e is not None else nan,
                                 "seconds": loop.train_seconds, "images": loop.seen, "batches": [batches, loop.nb]})

    def _finished(self, loop: "_Loop", reason: str, message: str) -> FinishedEvent:
        """The last event, with the held-out pass of the weights the run ends with: the last epoch's
        when no update came since, else a new one (none before the first update)."""
        if not loop.evaluated and loop.step > 0 and self.X_val is not None:
            loop.last_eval = self._evaluation()
            loop.evaluated = True
        ev = loop.last_eval if loop.step > 0 else None
        acc, n = (ev.accuracy, ev.count) if ev is not None else (float("nan"), 0)
        return FinishedEvent(reason, message, loop.train_seconds, acc, n, ev, changed=loop.step > 0)

    def _train_batch(self, loop: "_Loop", epoch: int, b: int):
        """One gradient step on batch ``b``: its :class:`BatchEvent`, or the :class:`FinishedEvent`
        of a loss that is no longer finite (the last weights with a finite loss are put back)."""
        cfg, net, opt = self.config, self.net, self.optimizer
        flat = net.flat_params
        t0 = time.perf_counter()
        idx = loop.order[b * loop.bs:(b + 1) * loop.bs]
        n = len(idx)
        xb = np.take(self.X, idx, axis=0, out=loop.xbuf[:n])
        if cfg.augment:
            xb = shift_augment(xb, cfg.augment, loop.rng, loop.abuf[:n], loop.pbuf)
        if cfg.flip:                          # xb is a buffer of the loop's: flipped in place
            flip_augment(xb, loop.rng)
        yb = self.y[idx]
        lr = self._lr_at(loop.step, loop.total)
        opt.lr = lr
        step = loop.steps.get(n)
        status, loss, probs = None, None, None
        if step is not None:
            t_step = time.perf_counter()
            status, loss, probs = step.run(xb, yb)
            loop.steps.record(time.perf_counter() - t_step, n)
        if status not in (DONE, DIVERGED):    # no step, or a case only the layer-by-layer path computes exactly
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is caught just below
                loss, probs = net.loss_and_grads(xb, yb)
        if not math.isfinite(loss):
            self.failure = Failure(flat.copy(), np.array(xb), yb.copy(), loss, epoch, b + 1, self.lr, loop.step)
            if loop.step > 0:
                np.copyto(flat, loop.snapshot)
                loop.evaluated = False          # the weights went back one update
            wd = self.config.weight_decay
            cure = ("a smaller learning rate or weight decay" if wd >= 0.1 else "a smaller learning rate")
            return self._finished(
                loop, "diverged",
                f"the loss became {loss} in epoch {self.first_epoch + epoch}, batch {b + 1} (learning rate {lr:.3g}"
                f"{f', weight decay {wd:g}' if wd else ''}); training stopped at the last weights that "
                f"gave a finite loss. Try {cure}.")
        if status != DONE:
            np.copyto(loop.snapshot, flat)
            with np.errstate(over="ignore", invalid="ignore"):
                opt.step(loop.grads)
        loop.step += 1
        if loop.step == 1:                  # the network learns from the run's pictures from now on
            remember(net, self._prints)
        self._updates = loop.step
        loop.evaluated = False
        dt = time.perf_counter() - t0
        hits = int(np.count_nonzero(probs.argmax(axis=1) == yb))
        loop.count_batch(n, loss, hits, dt)
        return BatchEvent(epoch, b + 1, loop.nb, loss, hits / n, loop.ips, loop.step / loop.total, lr)

    def _end_epoch(self, loop: "_Loop", epoch: int) -> EpochEvent:
        """Score the held-out images, note the epoch in ``net.history``."""
        net = self.net
        vl, va, conf, wrong, predicted = self._held_out()
        if self.X_val is not None:
            loop.last_eval, loop.evaluated = Evaluation(vl, va, conf, wrong, predicted), True
        net.clear()
        train_loss, train_acc = loop.loss_sum / loop.seen, loop.correct / loop.seen
        net.history.append({"epoch": self.first_epoch + epoch, "train_loss": train_loss,
                            "train_accuracy": train_acc, "val_loss": vl, "val_accuracy": va,
                            "seconds": loop.train_seconds, "images": loop.seen})
        return EpochEvent(epoch, train_loss, train_acc, vl, va, conf, wrong, loop.train_seconds, predicted)

    def _diverged_without_nan(self, epoch: int, loss: float, accuracy: float, val_accuracy: float,
                              step: int) -> str | None:
        """What went wrong when an epoch's mean loss exploded, or when the network still scores
        like a guess after :data:`JUDGE_AFTER_STEPS` updates; None for a run that learns."""
        exploded = loss > 4 * CHANCE_LOSS
        at_chance = (step >= JUDGE_AFTER_STEPS and loss > 0.9 * CHANCE_LOSS and accuracy < 0.2
                     and not val_accuracy >= 0.2)
        lr, default = self.lr, DEFAULT_LR.get(self.config.optimizer, 0.01)
        usual = default / 100 <= lr <= 10 * default
        if at_chance and usual and step * self.config.batch_size < JUDGE_AFTER_IMAGES:
            at_chance = False           # (too few pictures seen yet to say it cannot learn)
        if not (exploded or at_chance):
            return None
        named = self.first_epoch + epoch
        what = (f"the mean loss of epoch {named} is {loss:.4g}, far above the {CHANCE_LOSS:.2f} of a blind guess"
                if exploded else
                f"after epoch {named} ({step} updates) the network still scores like a guess "
                f"(accuracy {accuracy:.0%}, loss {loss:.3g}; guessing gives 10% and {CHANCE_LOSS:.2f})")
        if exploded or lr > 10 * default:
            advice = (f"the learning rate {lr:.3g} is far too large for {self.config.optimizer}: the weights "
                      f"jumped past any minimum. Try {default:g} (the default) or 10 times smaller than now")
        elif lr < default / 100:
            advice = f"the learning rate {lr:.3g} is too small to move the weights; try {default:g} (the default)"
        else:
            advice = ("try a smaller learning rate, another optimizer, or check that the labels match the images")
        return f"{what}; training stopped. Most likely {advice}."

    def _held_out(self):
        """``(loss, accuracy, confusion, misclassified, predicted)`` of the current weights on the
        held-out split, all from one pass (NaN and empty arrays without a split)."""
        if self.X_val is None:
            return (float("nan"), float("nan"), np.zeros((10, 10), np.int64), np.zeros(0, np.int64),
                    np.zeros(0, np.int64))
        vl, va, conf, wrong, probs = evaluate(self.net, self.X_val, self.y_val)
        self.net.clear()
        return vl, va, conf, wrong, probs.argmax(axis=1)[wrong].astype(np.int64)

    def _evaluation(self) -> Evaluation:
        """The held-out pass of the current weights (there is a held-out split)."""
        return Evaluation(*self._held_out())
