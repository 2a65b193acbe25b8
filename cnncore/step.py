"""A network's whole training step, compiled: forward, loss, backward and the update in one call.

::

    step = compile_step(net, 32, adam, snapshot=True)       # adam over {"all": net.flat_params}
    status, loss, probs = step.run(x, labels)               # x (32, C, H, W) float32, labels (32,) intp

The step is a :class:`cnncore._kernels.Program`: a list of the kernels' loops on buffers laid
out once, which runs without the GIL and without returning to Python between layers (a batch-1
step of the layer-by-layer path spent about half its time in Python and in typed-memoryview
set-up). Each layer type, and each named pair of :mod:`cnncore.layers.pairs`, adds its own ops
(``compile_forward``, ``compile_backward``) through a :class:`StepBuilder`, on plans of its own
that run the same loops in the same order as the layer-by-layer path: a step is bit for bit
:meth:`Network.loss_and_grads` followed by the optimizer's ``step`` (``tests/test_step.py``), and
afterwards the layers keep what that path keeps.

A network with a layer that has no compiled form (an activation only NumPy applies, a pooling
type without ops), a normalised input (:mod:`cnncore.signature`) or float64 has no step: :func:`compile_step` returns None and training goes
through the layers. What only the layer-by-layer path computes exactly (a label out of range, a
NaN or infinity where the fast sums would spread it) stops the step before the update with
:data:`EXACT`; the caller runs that path then.
"""
from __future__ import annotations

import numpy as np

from ._dispatch import _kernels
from ._threads import get_num_threads, threads_set_to
from .optim import Adam, SGD

__all__ = ["TrainingStep", "StepBuilder", "compile_step", "ThreadPicker", "RunSteps", "DONE", "DIVERGED", "EXACT",
           "BATCH"]

#: What :meth:`TrainingStep.run` reports: the whole step ran; the loss was not finite (no
#: gradients, no update); a case for the layer-by-layer path (nothing updated).
DONE, DIVERGED, EXACT = _kernels.STEP_DONE, _kernels.STEP_DIVERGED, _kernels.STEP_EXACT

#: Stands for the batch of each run where an op reads the network's input.
BATCH = object()

#: What a layer keeps through :class:`~cnncore.layers.base.Kept` slots (``_x`` for ``x``).
_KEPT = ("x", "y", "dx", "dy")

_OPERANDS = (np.dtype(np.float32), np.dtype(np.intp), np.dtype(np.uint8))

#: Elements from which a copy splits over the kernels' threads (a quarter of a megabyte of float32).
COPY_PARALLEL_MIN = 65536


def strides4(a: np.ndarray) -> list[int]:
    """The strides of ``a`` in elements, as four axes (leading axes of 1 first)."""
    return [0] * (4 - a.ndim) + [s // a.dtype.itemsize for s in a.strides]


def _merged(shape: list, a: list, b: list) -> list:
    """A copy's four axes (``shape``, strides ``a`` and ``b``) in the order the destination is
    laid out, each axis that continues the next one in both arrays folded into it, leading axes
    of 1 first: ``shape + a + b``. The flipped filters of a full convolution copy runs of KH·KW
    values, one filter's after another's, instead of rows of KW scattered over the destination."""
    axes = sorted(((n, s, t) for n, s, t in zip(shape, a, b) if n != 1), key=lambda x: -abs(x[2]))
    out = []
    for n, s, t in reversed(axes):
        if out and s == out[0][0] * out[0][1] and t == out[0][0] * out[0][2]:
            m, s0, t0 = out[0]
            out[0] = (m * n, s0, t0)
        else:
            out.insert(0, (n, s, t))
    out = [(1, 0, 0)] * (4 - len(out)) + out
    return [n for n, _, _ in out] + [s for _, s, _ in out] + [t for _, _, t in out]


def _split_rows(sizes: list) -> list:
    """A copy's axes (``shape + src strides + dst strides``, four each) whose two outer axes hold one
    plane (every row merged into the third) with its rows cut into at most 64 planes of equal rows,
    so that the planes split over threads: 14,336 rows of 14 become 64 planes of 224 rows; a single
    row (a contiguous copy) is cut into runs the same way."""
    n, s, t = sizes[0:4], sizes[4:8], sizes[8:12]
    if n[0] * n[1] > 1:
        return sizes
    if n[2] == 1:                     # one row (a contiguous copy): runs of it
        k = _parts(n[3])
        return [1, k, 1, n[3] // k] + [0, s[3] * (n[3] // k), 0, s[3]] + [0, t[3] * (n[3] // k), 0, t[3]]
    k = _parts(n[2])
    rows = n[2] // k
    return [1, k, rows, n[3]] + [0, s[2] * rows, s[2], s[3]] + [0, t[2] * rows, t[2], t[3]]


def _parts(n: int) -> int:
    """The most equal parts, at most 64 and fewer than ``n``, that ``n`` splits into (1: none)."""
    return max((d for d in range(2, min(64, n - 1) + 1) if n % d == 0), default=1)


class StepBuilder:
    """Collects the ops of a compiled step for ``batch`` samples of ``input_shape`` (float32).

    Ops take the arrays a plan laid out and sizes the plan derived from them, as the plans'
    own calls pass them to the loops: nothing checks them again when the step runs. The
    program keeps every array an op points into alive."""

    def __init__(self, batch: int, input_shape: tuple):
        self.batch = batch
        self.x_shape = (batch,) + tuple(input_shape)
        self.program = _kernels.Program((batch, int(np.prod(input_shape))))
        #: ``(object, {attribute: value})``: set after each complete step (what layers keep).
        self.kept: list[tuple] = []
        #: What a stage's forward ops left for its backward ops, by stage.
        self.saved: dict = {}
        self._buffers: dict = {}         # id -> bytes of each memory block an op points into

    def op(self, kind: str, nt: int, act: int, arrays, sizes, scalars=()) -> None:
        """Append an op of ``kind`` (a key of ``_kernels.OPS``) reading and writing ``arrays``
        (None for a NULL pointer)."""
        pointers = []
        for a in arrays:
            if a is None:
                pointers.append(0)
                continue
            if a.dtype not in _OPERANDS:
                raise TypeError(f"cnncore: a compiled step reads float32 arrays, not {a.dtype}")
            self.program.keep(a)
            pointers.append(a.__array_interface__["data"][0])
            root = a
            while isinstance(root.base, np.ndarray):
                root = root.base
            self._buffers[id(root)] = root.nbytes
        self.program.add(_kernels.OPS[kind], nt, act, pointers, [int(s) for s in sizes], scalars)

    #: The ops a pair may run (:meth:`both`): none of them stops the step or touches the run's sums.
    PAIRED = ("rows", "dense", "colsum")

    @property
    def buffers(self) -> dict:
        """``{id: bytes}`` of each block of memory the ops point into (the network's own weights and
        gradients too, which every step of it shares)."""
        return dict(self._buffers)

    def both(self, nt: int, first: tuple, second: tuple) -> None:
        """Two ops side by side, one a thread where ``nt`` > 1, each ``(kind, act, arrays, sizes)``:
        ops of :data:`PAIRED` that neither read what the other writes (the products of a layer's
        backward pass that each run on one thread)."""
        if first[0] not in self.PAIRED or second[0] not in self.PAIRED:
            raise ValueError(f"cnncore: a pair of ops runs {', '.join(self.PAIRED)} only")
        self.program.add(_kernels.OPS["both"], nt, 0, [], [])
        for kind, act, arrays, sizes in (first, second):
            self.op(kind, 1, act, arrays, sizes)

    def copy(self, src, dst: np.ndarray) -> None:
        """``dst[...] = src`` for arrays of one shape with any strides (``src`` may be :data:`BATCH`)."""
        if src is BATCH:
            if dst.shape != self.x_shape:
                raise ValueError(f"cnncore: the batch {self.x_shape} cannot go into {dst.shape}")
            src_strides = [0] * (4 - len(self.x_shape)) + _contiguous(self.x_shape)
            src = None
        else:
            if src.shape != dst.shape or src.dtype != dst.dtype:
                raise ValueError(f"cnncore: a copy of {src.dtype} {src.shape} into {dst.dtype} {dst.shape}")
            if np.shares_memory(src, dst):      # (the loops read and write through restrict pointers)
                raise ValueError("cnncore: a copy's source and destination overlap")
            src_strides = strides4(src)
        shape = [1] * (4 - dst.ndim) + list(dst.shape)
        sizes = _merged(shape, src_strides, strides4(dst))
        nt = 1
        if dst.size >= COPY_PARALLEL_MIN:
            sizes = _split_rows(sizes)
            nt = get_num_threads() if sizes[0] * sizes[1] > 1 else 1
        self.op("copy", nt, 0, [src, dst], sizes)

    def exact(self, a: np.ndarray, b: np.ndarray) -> None:
        """Stop with :data:`EXACT` where neither ``a`` nor ``b`` is all finite (contiguous arrays):
        the case the layer-by-layer path recomputes from the windows alone."""
        for v in (a, b):
            if not v.flags.c_contiguous:
                raise ValueError("cnncore: a finiteness check reads contiguous arrays")
        self.op("exact", 1, 0, [a, b], [a.size, b.size])

    def keep(self, obj, **values) -> None:
        """After each complete step set these attributes of ``obj`` (a layer's ``x``, ``y``, ``dx``
        and ``dy`` through their :class:`~cnncore.layers.base.Kept` slots)."""
        self.kept.append((obj, {("_" + k if k in _KEPT else k): v for k, v in values.items()}))


def _contiguous(shape) -> list[int]:
    """The strides in elements of a C-contiguous array of ``shape``."""
    out, s = [], 1
    for n in reversed(shape):
        out.append(s)
        s *= n
    return out[::-1]


class TrainingStep:
    """The compiled training step of a network for one batch size (see :func:`compile_step`)."""

    def __init__(self, net, batch: int, optimizer, builder: StepBuilder, probs, snapshot):
        self.net, self.batch, self.optimizer = net, batch, optimizer
        self._program = builder.program
        self._kept = builder.kept
        self._probs = probs
        #: The weights from before the last update (``flat_params`` order), when asked for.
        self.snapshot = snapshot
        #: The thread setting the ops were built for (a new setting needs a new step).
        self.threads = get_num_threads()
        #: The memory its ops point into, ``{id: bytes}`` (:attr:`StepBuilder.buffers`; the program keeps
        #: each block alive, so an id stays its block's while the step lives).
        self.buffers = builder.buffers

    def run(self, x: np.ndarray, labels: np.ndarray):
        """One step on ``x (batch, C, H, W)`` float32 and ``labels (batch,)`` intp, both C-contiguous:
        ``(status, loss, probs)``. With :data:`DONE` the gradients are in ``net.flat_grads``, the
        layers keep what a training pass keeps, the snapshot holds the weights from before the
        update and the optimizer has stepped; ``probs`` is the step's own buffer, overwritten by
        the next run. With :data:`DIVERGED` only the loss was computed; with :data:`EXACT` nothing
        was updated."""
        opt = self.optimizer
        if type(opt) is Adam:
            status = self._program.run(x, labels, *opt.next_step())
        else:
            status = self._program.run(x, labels)
        loss = 0.0 - self._program.total / self.batch      # +0, not −0, as softmax_cross_entropy
        if status == DONE:
            if type(opt) is Adam:
                opt.t += 1
            elif opt is not None:
                opt.step({"all": self.net.flat_grads})
            for obj, values in self._kept:
                obj.__dict__.update(values)
        return status, loss, self._probs


def compile_step(net, batch: int, optimizer=None, snapshot=False) -> TrainingStep | None:
    """The compiled training step of ``net`` for ``batch`` samples, or None when the network has
    no compiled form (float64, or a layer without ops). ``optimizer``: None (forward and backward
    alone), or an :class:`~cnncore.optim.Adam` (its update is an op of the step) or
    :class:`~cnncore.optim.SGD` (run after it) over ``{"all": net.flat_params}``, as
    :class:`~cnncore.training.Trainer` makes them. ``snapshot``: True, or an array like
    ``flat_params`` to write into, keeps a copy of the weights from before each update
    (:attr:`TrainingStep.snapshot`)."""
    if optimizer is not None:
        if type(optimizer) not in (Adam, SGD) or list(optimizer.params) != ["all"] \
                or optimizer.params["all"] is not net.flat_params:
            raise ValueError("a compiled step updates with Adam or SGD over {'all': net.flat_params}")
    if net.dtype != np.float32 or net.signature.normalises:
        return None         # (a normalised input: the step has no op for it yet)
    b = StepBuilder(batch, net.input_shape)
    y = BATCH
    for stage in net.stages:
        y = stage.compile_forward(b, y)
        if y is None:
            return None
    probs, d = _loss(b, y)
    for stage in reversed(net.stages):
        d = stage.compile_backward(b, d, stage.index > 0)
    snap = None
    if snapshot is not False and snapshot is not None:
        snap = np.empty_like(net.flat_params) if snapshot is True else snapshot
        if snap.shape != net.flat_params.shape or snap.dtype != net.flat_params.dtype:
            raise ValueError("cnncore: a snapshot must be an array like the network's flat_params")
    if type(optimizer) is Adam:
        _adam(b, optimizer, net.flat_grads, snap)     # (each run of the weights copied as it updates them)
    elif snap is not None:
        b.copy(net.flat_params, snap)
    return TrainingStep(net, batch, optimizer, b, probs, snap)


def _loss(b: StepBuilder, logits: np.ndarray):
    """Softmax cross-entropy of ``logits (N, K)`` and each run's labels: ``(probs, dlogits)``."""
    if logits.ndim != 2 or not logits.flags.c_contiguous:
        raise ValueError("cnncore: the logits of a compiled step must be a contiguous (N, K) array")
    probs, dlogits = np.empty_like(logits), np.empty_like(logits)
    b.op("loss", 1, 0, [logits, probs, dlogits], logits.shape)
    return probs, dlogits


def _adam(b: StepBuilder, opt: Adam, grads: np.ndarray, snap: np.ndarray | None) -> None:
    """The optimizer's update of its one flat group, as :meth:`Adam.step` makes it (the scalars of
    each step come with :meth:`TrainingStep.run`), copying the weights into ``snap`` first unless
    it is None."""
    p, m, v = opt._flat["all"]
    decay, mask = opt._decay["all"]
    if grads.shape != p.shape:
        raise ValueError("cnncore: the gradients do not match the parameters")
    scalars = (opt.weight_decay, opt.beta1, 1 - opt.beta1, opt.beta2, 1 - opt.beta2, opt.eps, opt._tiny[p.dtype.char])
    b.op("adam", _update_threads(b, opt), 0, [p, grads, m, v, mask, snap], [p.size, decay], scalars)


def _update_threads(b: StepBuilder, opt: Adam) -> int:
    """Threads of the update: one in a step of one sample, else the optimizer's own count. A
    one-sample step forms its largest gradients (the dense layers') on one thread, in that core's
    cache; an update on two threads moves half of them and their moments to the other core, and
    the next step's passes move them back. Measured on 2 cores (AMD EPYC, Zen 4), batch 1: wide
    215 -> 180 µs a step (avx2 kernels; its dense layer's backward pass 42 -> 15 µs), cifar
    266 -> 243; no gain at batches 4 and 16, where the other passes take longer, and at batch 64
    two threads are faster (wide's update 34–59 µs against 70–84)."""
    return 1 if b.batch == 1 else opt.threads()


class ThreadPicker:
    """Which thread count a run's compiled steps take: the kernels' setting, or one thread.

    Where other programs keep a core busy, a step's loops on two threads wait at every barrier
    for the thread that lost its core (measured on 2 cores: about ten times slower than one
    thread). And a small step may be faster on one core even on an idle machine, where values one
    core wrote are slow to reach the other (2 vCPUs of an AMD EPYC, Zen 4, under KVM: a cache
    line 170 ns one way; cifar's batch-1 step 416–423 µs on two threads, 260–265 on one, in
    other minutes 203 on two). A step gives the same bits on any thread count
    (``tests/test_step.py``), so a run may change its count at any step: after :data:`FIRST`
    seconds of steps, and then every :data:`EVERY`, a trial of :data:`TRIAL` seconds compares the
    two counts, and the count with fewer seconds per image is kept: one thread only where it is
    :data:`MARGIN` times as fast as the setting's count. (That VM's two cores were at times slow to
    share a step's values: lenet's step at batch 64 took 1.03–1.06 ms on two threads, in other
    seconds 1.95–2.2 ms, and 1.85 ms on one throughout. One thread kept for the slow seconds cost
    44 % in the fast ones, two kept cost 12 %: a count is left for fewer threads on a clear gain.)

    With ``interleave`` (both counts' steps at hand: :class:`RunSteps` keeps them where they are
    small), the trial alternates the counts in turns of :data:`TURN` steps, so that a machine whose
    speed drifts (another program, a virtual machine's neighbours; that VM's step times moved
    two-fold from one minute to the next) slows both alike; the first step of a turn, which finds
    the last turn's values in the other core's cache, is not counted. Without it, the other count
    runs alone after the main count's stretch (a large step, made again at each change of count).

    ``threads()``: the count of the next step; ``record(seconds, images, threads)`` after each
    step, with the count it ran on (a step made on a count asked before ``interleave`` changed
    is not counted: it may not be the count the trial expects now)."""

    FIRST, EVERY, TRIAL, TURN, MARGIN = 0.3, 4.0, 0.25, 4, 1.25

    def __init__(self, threads: int, interleave: bool = False):
        #: The kernels' thread setting this picker was made for.
        self.setting = threads
        self.main = threads
        #: Whether trials alternate the counts turn by turn (see the class text).
        self.interleave = interleave
        self._other = 1 if threads > 1 else None
        self._trying = False
        self._due = self.FIRST          # seconds of steps on the main count until the next trial
        self._stretch = [0.0, 0]        # this stretch: seconds, images
        self._main_cost = None          # seconds per image of the main count's last stretch
        self._turns = {}                # an interleaved trial: count -> [seconds, images] counted
        self._step = 0                  # steps into an interleaved trial
        #: Trials ended so far (the first ends about FIRST + TRIAL seconds into a run).
        self.trials = 0

    def threads(self) -> int:
        return self._asked()

    def _asked(self) -> int:
        """The count the next step should run on (what :meth:`threads` says; :meth:`record` compares
        with it without going through the public method, which tests replace)."""
        if not self._trying:
            return self.main
        if self.interleave:
            return self._other if (self._step // self.TURN) % 2 else self.main
        return self._other

    def record(self, seconds: float, images: int, threads: int | None = None) -> None:
        if self._other is None or threads not in (None, self._asked()):
            return
        if self._trying and self.interleave:
            self._count_turn(seconds, images)
            return
        st = self._stretch
        st[0] += seconds
        st[1] += images
        if self._trying:
            if st[0] >= self.TRIAL:
                self._end_trial(st[0] / st[1], self._main_cost)
        elif st[0] >= self._due:
            self._main_cost = st[0] / st[1]
            self._trying, self._stretch, self._turns, self._step = True, [0.0, 0], {}, 0

    def _count_turn(self, seconds: float, images: int) -> None:
        n, first = self._asked(), self._step % self.TURN == 0
        self._step += 1
        if not first:
            t = self._turns.setdefault(n, [0.0, 0])
            t[0] += seconds
            t[1] += images
        done = sum(t[0] for t in self._turns.values()) >= self.TRIAL and len(self._turns) == 2
        if done and self._step % (2 * self.TURN) == 0:          # (after whole turns of both)
            cost = {k: t[0] / t[1] for k, t in self._turns.items()}
            self._end_trial(cost[self._other], cost[self.main])

    def _end_trial(self, other: float, main: float) -> None:
        """The trial's seconds per image on the other count and on the main one."""
        if other * (self.MARGIN if self._other < self.setting else 1.0) < main:
            self.main, self._other = self._other, self.main
        self._trying, self._stretch, self._due = False, [0.0, 0], self.EVERY
        self.trials += 1


class RunSteps:
    """A run's compiled steps, made as its batches need them, on the thread count its
    :class:`ThreadPicker` picks: what :class:`~cnncore.training.Trainer` runs, and what
    ``benchmarks/bench_train.py`` times.

    ``get(n)``: the step for batches of ``n`` on the count picked now (None for a network without
    one); ``record(seconds, n)`` after running it. The steps are made anew when the kernels' thread
    setting changed. Both counts' steps are kept where together they hold at most
    :data:`BOTH_BYTES` (the picker's trials then alternate the counts); else only one count's (a
    step has buffers of its own, hundreds of MB at a large batch; making one again takes
    milliseconds)."""

    #: Memory the steps of both thread counts may hold together.
    BOTH_BYTES = 64 << 20

    def __init__(self, net, optimizer=None, snapshot=False):
        self.net, self.optimizer, self.snapshot = net, optimizer, snapshot
        self.picker = ThreadPicker(get_num_threads())
        self._steps: dict = {}
        self._ran_on = None         # the thread count of the step get() gave last
        self._apart = False         # both counts' steps were found not to fit: never in turns again

    def get(self, n: int) -> TrainingStep | None:
        if self.picker.setting != get_num_threads():
            self.picker, self._steps = ThreadPicker(get_num_threads()), {}
        key = (n, self.picker.threads())
        self._ran_on = key[1]
        step = self._steps.get(key, False)
        if step is False:
            if not self.picker.interleave:
                self._steps = {k: v for k, v in self._steps.items() if k[1] == key[1]}
            with threads_set_to(key[1]):
                step = self._steps[key] = compile_step(self.net, n, self.optimizer, snapshot=self.snapshot)
            self._fit_memory(key[1])
        return step

    def held(self) -> int:
        """Bytes of the memory the steps kept point into, each block once (the weights they share too)."""
        blocks: dict = {}
        for s in self._steps.values():
            if s is not None:
                blocks.update(s.buffers)
        return sum(blocks.values())

    def _fit_memory(self, threads: int) -> None:
        """Turns where both counts' steps fit in :data:`BOTH_BYTES` (where one count's are all there is
        yet, the other's, about as large, must fit beside them); else one count's steps only, from
        then on: the other's may be a little larger than the guess, and a guess made again each
        time one count's steps are dropped would switch turns on and off at every step of a trial
        (each step made anew, none counted: the trial never ended)."""
        both = len({k[1] for k in self._steps}) > 1
        held = self.held()
        self._apart = self._apart or (both and held > self.BOTH_BYTES)
        self.picker.interleave = not self._apart and (held <= self.BOTH_BYTES if both
                                                      else 2 * held <= self.BOTH_BYTES)
        if not self.picker.interleave and both:
            self._steps = {k: v for k, v in self._steps.items() if k[1] == threads}

    def record(self, seconds: float, images: int) -> None:
        """The last step :meth:`get` gave took ``seconds`` for ``images``."""
        self.picker.record(seconds, images, self._ran_on)
