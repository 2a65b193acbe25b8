"""A run's steps may move between thread counts (cnncore.step.ThreadPicker): where other programs
take a core, one thread beats two waiting at every barrier for the one that lost its core."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import cnncore
from cnncore.architecture import preset
from cnncore.network import Network
from cnncore.step import RunSteps, ThreadPicker
from cnncore.training import TrainConfig, Trainer


def _steps(picker, cost, seconds):
    """Record steps of 10 images for ``seconds``, each costing ``cost[threads]`` seconds an image;
    the thread counts taken, step by step."""
    taken, t = [], 0.0
    while t < seconds:
        n = picker.threads()
        taken.append(n)
        picker.record(10 * cost[n], 10)
        t += 10 * cost[n]
    return taken


def test_it_moves_to_one_thread_where_that_is_faster_and_tries_two_again():
    picker = ThreadPicker(2)
    taken = _steps(picker, {2: 0.01, 1: 0.001}, 10.0)     # two threads ten times slower
    assert taken[0] == 2 and picker.main == 1
    first_one = taken.index(1)
    assert sum(0.1 for n in taken[:first_one]) <= ThreadPicker.FIRST + 0.1   # found within FIRST s
    assert taken.count(2) < 0.2 * len(taken) and 2 in taken[first_one + 1:]  # tried again later


def test_it_keeps_the_setting_where_that_is_faster():
    picker = ThreadPicker(2)
    taken = _steps(picker, {2: 0.001, 1: 0.0017}, 10.0)
    assert picker.main == 2 and 0 < taken.count(1) < 0.1 * len(taken)


def _drifting(picker, cost, seconds, slow_until):
    """As :func:`_steps`, on a machine twice as slow until ``slow_until`` seconds (a neighbour's load)."""
    taken, t = [], 0.0
    while t < seconds:
        n = picker.threads()
        taken.append(n)
        dt = 10 * cost[n] * (2 if t < slow_until else 1)
        picker.record(dt, 10)
        t += dt
    return taken


def test_a_trial_in_turns_is_not_fooled_by_a_machine_that_drifts():
    """Two threads are faster, but the machine was slow while they ran alone: the trial of one thread
    after that stretch kept one thread (runs at batch 64 went 40 % slower on a VM whose speed drifts);
    turns of both counts within one trial see both at the same speed."""
    slow, cost = ThreadPicker.FIRST, {2: 0.001, 1: 0.0015}
    alone = ThreadPicker(2, interleave=False)
    _drifting(alone, cost, ThreadPicker.FIRST + 3 * ThreadPicker.TRIAL, slow)
    in_turns = ThreadPicker(2, interleave=True)
    _drifting(in_turns, cost, ThreadPicker.FIRST + 3 * ThreadPicker.TRIAL, slow)
    assert alone.trials == in_turns.trials == 1
    assert (alone.main, in_turns.main) == (1, 2)        # the first fooled, the second not


def test_a_trial_in_turns_moves_to_one_thread_where_that_is_faster():
    picker = ThreadPicker(2, interleave=True)
    taken = _steps(picker, {2: 0.002, 1: 0.001}, 10.0)
    assert picker.main == 1 and picker.trials >= 2
    first = taken.index(1)
    # turns of TURN steps each, main count first
    assert taken[first - ThreadPicker.TURN:first] == [2] * ThreadPicker.TURN
    assert taken[first:first + ThreadPicker.TURN] == [1] * ThreadPicker.TURN
    assert taken.count(2) < 0.2 * len(taken)


@pytest.mark.parametrize("interleave", [False, True])
def test_one_thread_must_be_clearly_faster_to_be_kept(interleave):
    """One thread kept where two were only a little slower cost 44 % whenever the cores shared values
    quickly again; two kept where one was a little faster cost 12 %."""
    little = ThreadPicker(2, interleave=interleave)
    _steps(little, {2: 0.00112, 1: 0.001}, 10.0)
    clear = ThreadPicker(2, interleave=interleave)
    _steps(clear, {2: 0.0014, 1: 0.001}, 10.0)
    assert little.main == 2 and clear.main == 1 and little.trials >= 2


def test_one_thread_is_never_tried_against_itself():
    picker = ThreadPicker(1)
    assert set(_steps(picker, {1: 0.001}, 5.0)) == {1}


@pytest.mark.skipif(not cnncore.openmp_enabled(), reason="the kernels were built without OpenMP")
def test_a_run_that_changes_its_thread_count_every_step_gives_the_same_weights(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (200, 28, 28)).astype(np.uint8)
    y = rng.integers(0, 10, 200).astype(np.uint8)
    config = TrainConfig(epochs=2, batch_size=32, seed=3)

    def train():
        net = Network(preset("lenet"), seed=1)
        for _ in Trainer(net, X[:160], y[:160], X[160:], y[160:], config).run():
            pass
        return net.flat_params.copy()

    before = cnncore.get_num_threads()
    cnncore.set_num_threads(2)
    try:
        steady = train()
        counts = itertools.cycle([2, 1])
        monkeypatch.setattr(ThreadPicker, "threads", lambda self: next(counts))
        held = []
        compiled = RunSteps.get

        def watched(self, n):
            step = compiled(self, n)
            held.append({threads for _, threads in self._steps})
            return step
        monkeypatch.setattr(RunSteps, "get", watched)
        monkeypatch.setattr(RunSteps, "BOTH_BYTES", 0)     # as for large steps: one count's steps at a time
        flipping = train()
    finally:
        cnncore.set_num_threads(before)
    np.testing.assert_array_equal(flipping, steady)
    assert {2} in held and {1} in held and all(len(h) == 1 for h in held)   # one count's buffers at a time



def test_a_convolution_takes_a_second_thread_from_half_the_work_of_the_other_loops(monkeypatch):
    """Compute-bound passes (a convolution's) use every thread from half the threshold of the other loops,
    whose values would go back and forth between the cores' caches: wide's second layer at batch 1 runs on
    both cores, tiny's dense layer at batch 64 on one."""
    import cnncore._threads as th
    import cnncore.plans as plans
    from cnncore.layers.conv_plan import ConvPlan
    from cnncore.layers.dense import DensePlan
    monkeypatch.setattr(th, "_num_threads", 2)
    least = th._PARALLEL_MIN_WORK
    assert th.threads_for(least) == 2 and th.threads_for(least - 1) == 1
    assert th.threads_for((least + 1) // 2, compute_bound=True) == 2 and th.threads_for((least + 1) // 2) == 1
    assert th.threads_for((least + 1) // 2 - 1, compute_bound=True) == 1
    seen, conv_wide = [], plans._kernels.conv_wide
    monkeypatch.setattr(plans._kernels, "conv_wide", lambda *a: seen.append(a[6]) or conv_wide(*a))
    plan = ConvPlan(1, (16, 14, 14), 32, 3, 1, 1, np.float32)             # wide's second layer, batch 1
    assert least // 2 <= plan._fwd_work < least
    rng = np.random.default_rng(0)
    plan.forward(rng.random(plan.x_shape, np.float32), rng.random(plan.w_shape, np.float32), np.zeros(32, np.float32))
    assert seen == [2]
    dense = DensePlan(64, 8 * 12 * 12, 10, "none")                         # tiny's dense layer, batch 64
    assert least // 2 <= 64 * 8 * 12 * 12 * 10 < least and dense._nt == 1


def test_a_one_sample_step_updates_on_one_thread(monkeypatch):
    """Its gradients were formed on one thread: an update on two moved half of them to the other core and
    back. A larger batch's update takes the optimizer's own count."""
    import cnncore._threads as th
    from cnncore.optim import Adam
    from cnncore.step import StepBuilder, _update_threads
    monkeypatch.setattr(th, "_num_threads", 2)
    net = Network(preset("wide"), seed=0)
    opt = Adam({"all": net.flat_params})
    assert opt.threads() == 2
    assert _update_threads(StepBuilder(1, net.input_shape), opt) == 1
    assert _update_threads(StepBuilder(64, net.input_shape), opt) == 2


@pytest.mark.skipif(not cnncore.openmp_enabled(), reason="the kernels were built without OpenMP")
def test_a_runs_steps_follow_the_thread_setting_and_are_made_once_per_batch_and_count():
    """RunSteps (what the Trainer and bench_train run): one step per batch size on the count picked,
    the same object again while nothing changed, made anew for a new thread setting."""
    before = cnncore.get_num_threads()
    cnncore.set_num_threads(2)
    try:
        steps = RunSteps(Network(preset("tiny"), seed=0))
        a, b = steps.get(4), steps.get(3)
        assert steps.get(4) is a and steps.get(3) is b and a is not b and steps.picker.setting == 2
        assert 0 < steps.held() < RunSteps.BOTH_BYTES and steps.picker.interleave     # small: both counts kept
        cnncore.set_num_threads(1)
        c = steps.get(4)
        assert c is not a and steps.picker.setting == 1 and steps.picker.threads() == 1
    finally:
        cnncore.set_num_threads(before)


@pytest.mark.skipif(not cnncore.openmp_enabled(), reason="the kernels were built without OpenMP")
def test_small_steps_of_both_counts_are_made_once_and_large_ones_one_count_at_a_time(monkeypatch):
    """Trials in turns need both counts' steps at hand: each (batch, count) is compiled once, however many
    trials a run makes; where they would not fit in BOTH_BYTES only one count's are kept."""
    from cnncore import step as step_module
    rng = np.random.default_rng(0)
    X, y = (rng.random((40, 28, 28)) * 255).astype(np.uint8), rng.integers(0, 10, 40)
    monkeypatch.setattr(ThreadPicker, "FIRST", 0.0)
    monkeypatch.setattr(ThreadPicker, "EVERY", 0.0)
    monkeypatch.setattr(ThreadPicker, "TRIAL", 1e-9)
    made, real = [], step_module.compile_step
    monkeypatch.setattr(step_module, "compile_step", lambda *a, **k: made.append((a[1], cnncore.get_num_threads()))
                        or real(*a, **k))
    before = cnncore.get_num_threads()
    cnncore.set_num_threads(2)
    try:
        for _ in Trainer(Network(preset("tiny"), seed=1), X, y, config=TrainConfig(batch_size=16, epochs=12)).run():
            pass
        assert sorted(set(made)) == [(8, 1), (8, 2), (16, 1), (16, 2)] and len(made) == 4
        steps = RunSteps(Network(preset("tiny"), seed=1))
        steps.get(16)
        monkeypatch.setattr(RunSteps, "BOTH_BYTES", steps.held())      # one count's steps fit, not two
        steps._fit_memory(2)
        assert not steps.picker.interleave
        for n in (16, 8):
            steps._steps[(n, 1)] = real(steps.net, n)
            steps._fit_memory(2)
            assert {k[1] for k in steps._steps} == {2}
    finally:
        cnncore.set_num_threads(before)


def test_a_step_is_counted_under_the_count_it_ran_on():
    """RunSteps makes a step on the count the picker asks, and making it may switch the trial to
    turns or out of them (memory): the picker then expected another count for that step, and it
    counted one thread's seconds as two threads'. A step whose count is not the one expected now
    is left out of the trial."""
    picker = ThreadPicker(2, interleave=False)
    _steps(picker, {2: 0.001, 1: 0.001}, ThreadPicker.FIRST)
    while picker.threads() == 2:                      # into the trial of one thread alone
        picker.record(0.01, 10, 2)
    picker.interleave = True                          # (RunSteps switched to turns as it made the step)
    for _ in range(200):                              # steps made on one thread, slow: not counted
        picker.record(1.0, 10, 1 if picker.threads() == 2 else 2)
    assert picker.trials == 0 and picker.main == 2
    for _ in range(ThreadPicker.TURN):                # (no count given: counted as asked)
        picker.record(1.0, 10)
    assert picker._turns


def test_steps_a_little_too_large_for_turns_do_not_switch_turns_at_every_step(monkeypatch):
    """One count's steps fitting twice in BOTH_BYTES but both counts' together not (the two-thread
    step holds a little more): each step made switched the trial into turns and out again, so no
    step was counted, the trial never ended and every step was made anew (found by review)."""
    from cnncore import step as step_module

    class Made:
        def __init__(self, threads):
            self.buffers = {id(self): (36 if threads == 2 else 30) << 20}

    made = []
    monkeypatch.setattr(step_module, "compile_step", lambda *a, **k: made.append(cnncore.get_num_threads())
                        or Made(cnncore.get_num_threads()))
    before = cnncore.get_num_threads()
    cnncore.set_num_threads(2)
    try:
        steps = RunSteps(net=None)
        for _ in range(2000):
            steps.get(16)
            steps.record(0.001, 16)
    finally:
        cnncore.set_num_threads(before)
    assert steps.picker.trials >= 1 and len(made) < 200 and not steps.picker.interleave
