"""The compiled training step (cnncore.step): bit for bit the layer-by-layer path, on any thread
count; the cases it leaves to that path; networks without one; what the Trainer runs."""
from __future__ import annotations

import numpy as np
import pytest

import cnncore
from cnncore import step as step_module
from cnncore import training
from cnncore.architecture import preset
from cnncore.network import Network
from cnncore.optim import SGD, Adam
from cnncore.step import DIVERGED, DONE, EXACT, compile_step

_PARTS = ("x", "z", "y", "dy", "dz", "dx", "argmax")


def _pair(spec, opt_kind="adam", seed=0, **opt_args):
    """Two networks with the same weights and an optimizer each (as the Trainer makes them)."""
    out = []
    for _ in range(2):
        net = Network(spec, seed=seed)
        if opt_kind == "adam":
            opt = Adam({"all": net.flat_params}, lr=3e-3, decay_mask={"all": net.decay_mask}, **opt_args)
        else:
            opt = SGD({"all": net.flat_params}, lr=0.05, momentum=0.9, decay_mask={"all": net.decay_mask}, **opt_args)
        out.append((net, opt))
    return out


def _kept(net):
    return [{p: (None if getattr(l, p, None) is None else np.array(getattr(l, p))) for p in _PARTS}
            for l in net.layers]


def _same(a, b) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.mark.parametrize("name,batch,threads", [("lenet", 1, 1), ("lenet", 3, 2), ("lenet", 64, 2),
                                                ("wide", 1, 2), ("wide", 5, 1), ("wide", 33, 2),
                                                ("tiny", 1, 1), ("tiny", 7, 2)])
def test_a_compiled_step_is_bit_for_bit_the_layer_by_layer_step(name, batch, threads, dense_products):
    """Loss, probabilities, every gradient, the weights and Adam's moments after each of several
    steps, and every array the layers keep, bit for bit loss_and_grads + Adam.step (a dense layer's
    products by the BLAS and by the tiles)."""
    (a, oa), (b, ob) = _pair(preset(name), weight_decay=1e-3)
    before = cnncore.get_num_threads()
    cnncore.set_num_threads(threads)
    try:
        step = compile_step(b, batch, ob, snapshot=True)
        rng = np.random.default_rng(batch)
        for _ in range(4):
            x = rng.random((batch, 1, 28, 28)).astype(np.float32)
            labels = rng.integers(0, 10, batch).astype(np.intp)
            la, pa = a.loss_and_grads(x, labels)
            kept_a = _kept(a)
            snap = a.flat_params.copy()
            oa.step({"all": a.flat_grads})
            status, lb, pb = step.run(x, labels)
            assert status == DONE and lb == la and _same(pb, pa)
            assert _same(b.flat_grads, a.flat_grads) and _same(b.flat_params, a.flat_params)
            assert _same(step.snapshot, snap) and ob.t == oa.t
            assert _same(ob.m["all"], oa.m["all"]) and _same(ob.v["all"], oa.v["all"])
            for i, (ka, kb) in enumerate(zip(kept_a, _kept(b))):
                for part in _PARTS:
                    assert (ka[part] is None) == (kb[part] is None), (i, part)
                    if ka[part] is not None:
                        assert _same(np.ascontiguousarray(kb[part]), np.ascontiguousarray(ka[part])), (i, part)
    finally:
        cnncore.set_num_threads(before)


def _three_steps(name, batch, threads):
    """The losses, probabilities, weights and Adam's moments of three compiled steps on ``threads``."""
    (_, _), (net, opt) = _pair(preset(name), weight_decay=1e-3)
    before = cnncore.get_num_threads()
    cnncore.set_num_threads(threads)
    try:
        step = compile_step(net, batch, opt)
        rng, out = np.random.default_rng(batch), []
        for _ in range(3):
            x = rng.random((batch,) + tuple(net.input_shape)).astype(np.float32)
            status, loss, p = step.run(x, rng.integers(0, 10, batch).astype(np.intp))
            assert status == DONE
            out += [np.array([loss]), p.copy()]
    finally:
        cnncore.set_num_threads(before)
    return out + [net.flat_params.copy(), opt.m["all"].copy(), opt.v["all"].copy()]


@pytest.mark.parametrize("name,batch", [("lenet", 64), ("wide", 1), ("wide", 9), ("tiny", 5), ("cifar", 3),
                                        ("cifar", 35)])     # (35: the dense products just thin halves)
def test_a_compiled_step_gives_the_same_bits_on_one_thread_and_on_two(name, batch, dense_products, monkeypatch):
    """Every loop of the step split between two threads (no call too small for them; the update of a
    one-sample step runs on one whatever the threshold): the losses,
    probabilities, weights and Adam's moments bit for bit one thread's."""
    monkeypatch.setattr(cnncore._threads, "_PARALLEL_MIN_WORK", 0)
    for one, two in zip(_three_steps(name, batch, 1), _three_steps(name, batch, 2)):
        assert _same(one, two)


def test_a_compiled_step_runs_sgd_after_its_passes():
    (a, oa), (b, ob) = _pair(preset("lenet"), "sgd")
    step = compile_step(b, 4, ob)
    rng = np.random.default_rng(3)
    for _ in range(3):
        x, labels = rng.random((4, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 4).astype(np.intp)
        a.loss_and_grads(x, labels)
        oa.step({"all": a.flat_grads})
        assert step.run(x, labels)[0] == DONE
    assert _same(b.flat_params, a.flat_params) and _same(ob.v["all"], oa.v["all"])


def test_a_loss_that_is_not_finite_stops_the_step_before_the_gradients_and_the_update():
    (a, oa), (b, ob) = _pair(preset("tiny"))
    b.flat_params[:] = np.float32(1e30)       # logits of ±inf: the loss is NaN
    a.flat_params[:] = b.flat_params
    step = compile_step(b, 2, ob)
    x, labels = np.ones((2, 1, 28, 28), np.float32), np.array([1, 2], np.intp)
    weights, grads = b.flat_params.copy(), b.flat_grads.copy()
    status, loss, _ = step.run(x, labels)
    want = a.loss_and_grads(x, labels)[0]
    assert status == DIVERGED and not np.isfinite(loss) and np.isnan(loss) == np.isnan(want)
    assert _same(b.flat_params, weights) and _same(b.flat_grads, grads) and ob.t == 0


def test_a_label_out_of_range_is_left_to_the_checked_path():
    (_, _), (b, ob) = _pair(preset("lenet"))
    step = compile_step(b, 2, ob)
    weights = b.flat_params.copy()
    assert step.run(np.zeros((2, 1, 28, 28), np.float32), np.array([3, 10], np.intp))[0] == EXACT
    assert _same(b.flat_params, weights) and ob.t == 0
    with pytest.raises(ValueError, match="labels must be integers"):
        b.loss_and_grads(np.zeros((2, 1, 28, 28), np.float32), np.array([3, 10]))


@pytest.mark.parametrize("what", ["x", "labels"])
def test_a_compiled_step_refuses_a_batch_it_was_not_made_for(what):
    (_, _), (b, ob) = _pair(preset("tiny"))
    step = compile_step(b, 3, ob)
    x, labels = np.zeros((3, 1, 28, 28), np.float32), np.zeros(3, np.intp)
    bad = {"x": (np.zeros((4, 1, 28, 28), np.float32), labels), "labels": (x, np.zeros(3, np.int32))}[what]
    with pytest.raises(ValueError):
        step.run(*bad)


@pytest.mark.parametrize("spec,dtype", [
    ({"input": [1, 28, 28], "layers": [{"type": "conv", "filters": 4, "kernel": 5, "activation": "sigmoid"},
                                       {"type": "flatten"}, {"type": "dense", "units": 10}]}, np.float32),
    ({"input": [1, 28, 28], "layers": [{"type": "conv", "filters": 4, "kernel": 5},
                                       {"type": "avgpool", "size": 2}, {"type": "flatten"},
                                       {"type": "dense", "units": 10}]}, np.float32),
    (preset("lenet"), np.float64)], ids=["sigmoid", "avgpool", "float64"])
def test_a_network_with_a_layer_without_ops_has_no_compiled_step(spec, dtype):
    net = Network(spec, seed=0, dtype=dtype)
    assert compile_step(net, 2) is None


def test_the_trainer_runs_the_compiled_step_and_trains_as_the_layers_would(monkeypatch):
    """The same run, weights and losses with the compiled step as without it (the Trainer's other
    path), batches of 16 and the epoch's short last batch of 8 included. (Under emulation a step
    outlasts the ThreadPicker's first trial: a step is then made again for the other count.)"""
    rng = np.random.default_rng(5)
    X, y = (rng.random((40, 28, 28)) * 255).astype(np.uint8), rng.integers(0, 10, 40)
    config = training.TrainConfig(batch_size=16, epochs=2, seed=1)
    made = []
    real = step_module.compile_step
    monkeypatch.setattr(step_module, "compile_step", lambda *a, **k: made.append(a[1]) or real(*a, **k))
    compiled = Network(preset("lenet"), seed=2)
    losses = [e.loss for e in training.Trainer(compiled, X, y, config=config).run()
              if isinstance(e, training.BatchEvent)]
    assert set(made) == {8, 16}      # (again for a batch size where the ThreadPicker tried another count)
    monkeypatch.setattr(step_module, "compile_step", lambda *a, **k: None)
    layered = Network(preset("lenet"), seed=2)
    want = [e.loss for e in training.Trainer(layered, X, y, config=config).run()
            if isinstance(e, training.BatchEvent)]
    assert losses == want and _same(compiled.flat_params, layered.flat_params)
    assert compiled.optimizer_state["t"] == layered.optimizer_state["t"] == 6


@pytest.mark.parametrize("rows, planes", [(14336, 64), (24576, 64), (7 * 5, 7), (97, 1)])
def test_a_large_copys_rows_are_cut_into_planes_for_the_threads_without_changing_what_goes_where(rows, planes):
    """A copy whose axes merged into rows alone (a strip of padded rows into a pool's gradient) has no
    planes to split over threads: its rows become ``planes`` planes of as many rows (a prime count of
    rows stays one plane), each value still going where it went."""
    from cnncore.step import _split_rows
    n = [1, 1, rows, 14, 0, 0, 16, 1, 0, 0, 14, 1]
    got = _split_rows(n)
    assert got[:4] == [1, planes, rows // planes, 14]

    def targets(m):
        idx = np.indices(m[:4]).reshape(4, -1)
        return sorted(zip((np.array(m[4:8])[:, None] * idx).sum(0), (np.array(m[8:])[:, None] * idx).sum(0)))

    assert targets(got) == targets(n)
    assert _split_rows([2, 3, 4, 5] + n[4:]) == [2, 3, 4, 5] + n[4:]       # planes already: as it was
    one = [1, 1, 1, 73728, 0, 0, 0, 1, 0, 0, 0, 1]                          # a contiguous copy: one row
    assert _split_rows(one)[:4] == [1, 64, 1, 1152] and targets(_split_rows(one)) == targets(one)


def test_a_copy_split_over_threads_copies_every_value(monkeypatch):
    """The compiled step's copy on two threads (planes split between them) gives the array NumPy does."""
    from cnncore import step as stp
    from cnncore._threads import threads_set_to
    from cnncore.step import StepBuilder
    rng = np.random.default_rng(3)
    src = rng.standard_normal((64, 16, 14, 16)).astype(np.float32)[..., 1:15]
    dst = np.zeros((64 * 16 * 14, 14), np.float32).reshape(64, 16, 14, 14)
    b = StepBuilder(1, (1, 2, 2))
    monkeypatch.setattr(stp, "COPY_PARALLEL_MIN", 1000)
    with threads_set_to(2):
        b.copy(src, dst)
    b.program.run(np.zeros((1, 4), np.float32), np.zeros(1, np.intp))
    np.testing.assert_array_equal(dst, src)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7])
def test_a_copy_of_flipped_filters_reverses_every_row(k):
    """A full convolution's filters, flipped and channel-swapped, copied by a compiled step: rows of
    K·K values read backwards (a vector loop of their own, with a remainder) land where NumPy puts them."""
    from cnncore.step import StepBuilder
    w = np.random.default_rng(k).standard_normal((6, 5, k, k)).astype(np.float32)
    flipped = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
    dst = np.full(flipped.shape, np.nan, np.float32)
    into = np.full((5, 6, k, k), np.nan, np.float32)          # the step's way: the destination flipped
    b = StepBuilder(1, (1, 2, 2))
    b.copy(flipped, dst)
    b.copy(w, into.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    b.program.run(np.zeros((1, 4), np.float32), np.zeros(1, np.intp))
    np.testing.assert_array_equal(dst, flipped)
    np.testing.assert_array_equal(into, flipped)


@pytest.mark.parametrize("make, run", [
    (lambda a: a, 300),                                                 # contiguous: one run
    (lambda a: a.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1], 25),          # a full convolution's flipped filters
    (lambda a: np.zeros((4, 3, 7, 8))[:, :, 1:-1, 2:-1], 5),            # padded planes: a row at a time
    (lambda a: a[:, :1], 25),                                           # an axis of 1
    (lambda a: a.reshape(a.shape[0], -1)[:, ::2], 38),                  # every other value, two axes
])
def test_a_copys_axes_are_merged_and_ordered_without_changing_what_goes_where(make, run):
    """A compiled step's copy (``_merged``): its axes in the destination's order, an axis that continues
    the next one in both arrays folded into it, copy the same values to the same places as the four
    axes did (the copy loop emulated by index arithmetic on the flat buffers), in runs of ``run``."""
    from cnncore.step import _merged, strides4
    base = np.arange(4 * 3 * 5 * 5, dtype=np.float64).reshape(4, 3, 5, 5)
    dst = make(np.empty_like(base))
    src = make(base) if make(base).shape == dst.shape else np.ones(dst.shape)

    def targets(shape, a, b):
        idx = np.indices(shape).reshape(len(shape), -1)
        return sorted(zip((np.array(a)[:, None] * idx).sum(0), (np.array(b)[:, None] * idx).sum(0)))

    shape = [1] * (4 - dst.ndim) + list(dst.shape)
    n = _merged(shape, strides4(src), strides4(dst))
    assert n[3] == run
    assert targets(n[:4], n[4:8], n[8:]) == targets(shape, strides4(src), strides4(dst))


def test_a_pair_of_ops_run_side_by_side_is_two_ops_and_nothing_else():
    """An op that runs the next two at once must have those two: a program ending before them, or a
    pair inside a pair, is refused rather than run past its list."""
    from cnncore._dispatch import _kernels
    both, colsum = _kernels.OPS["both"], _kernels.OPS["colsum"]
    a, out, out2 = np.ones((2, 3), np.float32), np.zeros(3, np.float32), np.zeros(3, np.float32)
    program = _kernels.Program((2, 3))
    program.keep(a, out, out2)
    program.add(both, 2, 0, [], [])
    program.add(colsum, 1, 0, [a.ctypes.data, out.ctypes.data], [2, 3])
    with pytest.raises(ValueError, match="malformed"):
        program.add(both, 2, 0, [], [])
    x, labels = np.zeros((2, 3), np.float32), np.zeros(2, np.intp)
    with pytest.raises(ValueError, match="pair"):
        program.run(x, labels)
    # (the pair's second op writes an array of its own: two ops side by side never write one array,
    # and a race there summed [3, 3, 3] under arm64 emulation)
    program.add(colsum, 1, 0, [a.ctypes.data, out2.ctypes.data], [2, 3])
    assert program.run(x, labels) == DONE and np.array_equal(out, [2, 2, 2]) and np.array_equal(out2, [2, 2, 2])
    from cnncore.step import StepBuilder
    with pytest.raises(ValueError, match="pair"):     # an op that can stop the step is never paired
        StepBuilder(2, (3,)).both(2, ("loss", 0, [a, a, a], [2, 3]), ("colsum", 0, [a, out], [2, 3]))
