"""Training diagnostics (cnncore.diagnostics): per-layer gradient norms, update ratios, dead ReLUs and
their reading; the layer that blew up when the loss became NaN; what differs between two runs."""
import math

import numpy as np
import pytest

from cnncore import reference as ref
from cnncore.datasets import generated_digits
from cnncore.diagnostics import (RunRecord, TrainingMonitor, explain_divergence, power_of_ten,
                                 setting_differences)
from cnncore.network import Network
from cnncore.training import BatchEvent, TrainConfig, Trainer

SMALL = {"input": [1, 12, 12], "layers": [
    {"type": "conv", "filters": 4, "kernel": 3, "stride": 1, "activation": "relu"},
    {"type": "maxpool", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 10}]}

# The conv's tanh keeps its output within ±1, so layer 0 cannot blow up: the first layer whose
# output can run away is the dense layer 2.
BOUNDED_FIRST = {"input": [1, 28, 28], "layers": [
    {"type": "conv", "filters": 4, "kernel": 5, "stride": 3, "activation": "tanh"},
    {"type": "flatten"},
    {"type": "dense", "units": 16, "activation": "leaky_relu"},
    {"type": "dense", "units": 10}]}


def test_power_of_ten():
    assert power_of_ten(4e-6) == "10⁻⁵" and power_of_ten(1e-6) == "10⁻⁶" and power_of_ten(20.0) == "10¹"


def test_gradient_norm_and_update_ratio_equal_a_hand_computation():
    net = Network(SMALL, seed=1, dtype=np.float64)
    rng = np.random.default_rng(0)
    x, labels = rng.random((5, 1, 12, 12)), rng.integers(0, 10, 5)
    monitor = TrainingMonitor(net)
    w_before = {i: net.layers[i].W.copy() for i in (0, 3)}
    net.loss_and_grads(x, labels)
    lr = 0.1
    for i in (0, 3):                                  # plain SGD on the weights only
        net.layers[i].W[...] -= lr * net.layers[i].dW
    r = monitor.observe(net)
    for i in (0, 3):
        layer = net.layers[i]
        g = math.sqrt((layer.dW ** 2).sum() + (layer.db ** 2).sum())
        assert r[i]["grad"] == pytest.approx(g, rel=1e-12)
        ratio = np.linalg.norm(layer.W - w_before[i]) / np.linalg.norm(layer.W)
        assert r[i]["update"] == pytest.approx(ratio, rel=1e-12)
        assert r[i]["update"] == pytest.approx(lr * np.linalg.norm(layer.dW) / np.linalg.norm(layer.W), rel=1e-9)
    assert monitor.series[0]["grad"] == [r[0]["grad"]] and "dead" not in monitor.series[3]


def test_dead_relus_are_the_units_never_active_in_the_window():
    net = Network(SMALL, seed=1, dtype=np.float64)
    conv = net.layers[0]
    conv.W[...] = 0
    conv.b[...] = [1.0, -1.0, 1.0, -1.0]             # filters 1 and 3: z = −1 everywhere, never active
    monitor = TrainingMonitor(net, window=3)
    rng = np.random.default_rng(2)
    for _ in range(4):
        net.loss_and_grads(rng.random((3, 1, 12, 12)), rng.integers(0, 10, 3))
        r = monitor.observe(net)
    assert r[0]["dead"] == pytest.approx(0.5)
    # one unit of filter 1 comes alive in one batch: it is not dead while that batch is in the window
    conv.b[1] = 0.0
    conv.W[1, 0, 1, 1] = 1.0                          # active wherever the pixel under the centre is > 0
    net.loss_and_grads(rng.random((3, 1, 12, 12)), rng.integers(0, 10, 3))
    assert monitor.observe(net)[0]["dead"] == pytest.approx(0.25)
    assert "never active" not in monitor.reading()


def test_reading_names_the_layer_that_stopped_learning():
    net = Network(SMALL, seed=1, dtype=np.float64)
    monitor = TrainingMonitor(net)
    rng = np.random.default_rng(3)
    for _ in range(3):
        net.loss_and_grads(rng.random((4, 1, 12, 12)), rng.integers(0, 10, 4))
        net.layers[0].W[...] *= 1 + 1e-3
        net.layers[3].W[...] *= 1 + 1e-6
        monitor.observe(net)
    assert monitor.reading() == ("Layer 3's updates are 10⁻⁶ of its weights: it has almost stopped learning.")
    for _ in range(3):
        net.loss_and_grads(rng.random((4, 1, 12, 12)), rng.integers(0, 10, 4))
        net.layers[0].W[...] *= 1.5                   # steps of a third of the weights
        monitor.observe(net)
    assert monitor.reading() == ("Layer 0's updates are 10⁻¹ of its weights at every step: the steps are "
                                 "too large, lower the learning rate.")


def test_reading_of_a_healthy_run():
    X, y = generated_digits(200, seed=4)
    net = Network(SMALL | {"input": [1, 28, 28]}, seed=0)
    trainer = Trainer(net, X, y, config=TrainConfig(epochs=1, batch_size=20))
    monitor = TrainingMonitor(net)
    for ev in trainer.run():
        if isinstance(ev, BatchEvent):
            monitor.observe(net)
    assert monitor.batches == 10
    assert monitor.reading().endswith("of its weights: a healthy pace."), monitor.reading()


def _hand_rms(params, x):
    """Output RMS of each layer of BOUNDED_FIRST, from NumPy and the slow twin only."""
    z0 = ref.conv2d_forward(x.astype(np.float64), params["L0.W"], params["L0.b"], 3, 0)
    y0 = np.tanh(z0)
    y1 = y0.reshape(len(x), -1)
    z2 = y1 @ params["L2.W"].T + params["L2.b"]
    y2 = np.where(z2 > 0, z2, 0.01 * z2)
    y3 = y2 @ params["L3.W"].T + params["L3.b"]
    return [float(np.sqrt(np.mean(np.square(a)))) for a in (y0, y1, y2, y3)]


def test_a_too_high_learning_rate_is_explained_naming_the_layer_that_blew_up():
    X, y = generated_digits(300, seed=1)
    net = Network(BOUNDED_FIRST, seed=0)
    config = TrainConfig(optimizer="sgd", lr=1e3, momentum=0.0, epochs=2, augment=0, schedule="constant")
    trainer = Trainer(net, X, y, config=config)
    events = list(trainer.run())
    assert events[-1].reason == "diverged"
    f = trainer.failure
    assert f is not None and not math.isfinite(f.loss)
    assert np.isfinite(net.flat_params).all()                # the network is back at the last good weights
    d = explain_divergence(net, f)
    # the same thing by hand: per layer output RMS with the failing weights over the good ones
    bad = Network(BOUNDED_FIRST, seed=0, dtype=np.float64)
    bad.flat_params[...] = f.params
    with np.errstate(over="ignore", invalid="ignore"):
        rms_bad = _hand_rms(bad.params(), f.x)
    good = {k: v.astype(np.float64) for k, v in net.params().items()}
    rms_good = _hand_rms(good, f.x)
    jumped = [i for i, (b, g) in enumerate(zip(rms_bad, rms_good)) if not (b / g < 100)]
    assert jumped and d.layer == jumped[0] == 2
    assert d.growth[0] == pytest.approx(rms_bad[0] / rms_good[0], rel=1e-3)
    assert "Layer 2 (dense 16 leaky_relu) blew up first" in d.message
    assert "learning rate (1e+03) is too high" in d.message
    assert d.suggested_lr <= config.lr / 10 and f"learning rate of {d.suggested_lr:g}" in d.message


def test_poisoned_weights_name_that_layer():
    """A layer whose weights are already infinite is where the values blow up."""
    net = Network(BOUNDED_FIRST, seed=0)
    X, y = generated_digits(64, seed=2)
    good = net.copy()
    net.layers[3].W[0, 0] = np.inf
    trainer = Trainer(net, X, y, config=TrainConfig(epochs=1, augment=0))
    assert list(trainer.run())[-1].reason == "diverged"
    d = explain_divergence(good, trainer.failure)
    assert d.layer == 3 and not math.isfinite(d.growth[3]) and "overflowed" in d.message


def test_run_differences_name_the_settings_that_differ():
    a = RunRecord("run 1", TrainConfig(lr=0.003).to_dict() | {"architecture": "lenet"}, seed=0)
    b = RunRecord("run 2", TrainConfig(lr=0.03, batch_size=64).to_dict() | {"architecture": "lenet"}, seed=0)
    assert setting_differences(a, b) == ["batch size: 32 → 64", "lr: 0.003 → 0.03"]
    c = RunRecord("run 3", dict(a.settings), seed=5)
    assert setting_differences(a, c) == ["seed: 0 → 5"]
    assert setting_differences(a, RunRecord("same", dict(a.settings), seed=0)) == []
    a.add_batches([0.25, 0.5], [2.0, 1.5], [0.0, 0.25])
    assert a.batch_x == [0.25, 0.5] and a.batch_loss == [2.0, 1.5] and a.batch_accuracy == [0.0, 0.25]


def test_the_end_of_a_cosine_schedule_is_no_fault():
    """Issue 21, item 8: at the end of every cosine run the reading said "Layer 0's updates are 10⁻⁶ of
    its weights: it has almost stopped learning": the schedule bringing the rate to 0, not a fault."""
    rng = np.random.default_rng(3)
    readings = []
    for rates in ((3e-3,) * 25 + (3e-5,) * 25, (None,) * 50, (3e-3,) * 50):
        net = Network(SMALL, seed=1, dtype=np.float64)
        monitor = TrainingMonitor(net)
        for k, lr in enumerate(rates):
            net.loss_and_grads(rng.random((4, 1, 12, 12)), rng.integers(0, 10, 4))
            for i in (0, 3):
                net.layers[i].W[...] *= 1 + (1e-3 if k < 25 else 1e-6)     # the last steps are tiny
            monitor.observe(net, lr)
        readings.append(monitor.reading())
    at_the_end, unknown, constant = readings
    assert "stopped learning" not in at_the_end and "schedule" in at_the_end, at_the_end
    assert "come down to 1% of where it started" in at_the_end and "10⁻⁶" in at_the_end, at_the_end
    assert "almost stopped learning" in unknown and "almost stopped learning" in constant     # the rate did not fall


@pytest.mark.parametrize("n", [1, 2, 7])
def test_the_units_ever_active_are_those_of_any_z_above_0_for_every_layout(n):
    # a compiled step's z is a view of wide rows (each row longer than the map, each plane padded):
    # the monitor reduces the memory those rows span; any layout must give np.any(z > 0, axis=0)
    from cnncore.diagnostics import _ever_positive
    rng = np.random.default_rng(n)
    wide = rng.standard_normal((n, 3, 5 * 9 + 4)).astype(np.float32)
    wide[rng.random(wide.shape) < 0.1] = np.nan
    wide[rng.random(wide.shape) < 0.05] = -0.0
    wide[rng.random(wide.shape) < 0.05] = np.inf
    layouts = {"wide rows": wide[:, :, :45].reshape(n, 3, 5, 9)[..., :7],
               "contiguous": np.ascontiguousarray(wide[:, :, :45].reshape(n, 3, 5, 9)),
               "every other column": wide[:, :, :45].reshape(n, 3, 5, 9)[..., ::2],
               "batch last": np.moveaxis(wide[:, :, :45].reshape(n, 3, 5, 9), 0, -1).copy().transpose(3, 0, 1, 2),
               "dense": wide[:, 0, :20],
               "float64 wide rows": wide.astype(np.float64)[:, :, :45].reshape(n, 3, 5, 9)[..., :7],
               "reversed columns": wide[:, :, :45].reshape(n, 3, 5, 9)[..., ::-1]}
    for name, z in layouts.items():
        got = _ever_positive(z)
        assert got.shape == z.shape[1:] and got.dtype == bool, name
        np.testing.assert_array_equal(got, np.any(z > 0, axis=0), err_msg=name)


def test_a_dead_unit_is_one_not_active_in_any_of_the_window_s_batches():
    # the monitor keeps, for each unit, the last batch it was active in: the share of those older
    # than the window is the share of units no batch of the window saw active
    net = Network(SMALL, seed=1)
    monitor = TrainingMonitor(net, window=4)
    rng = np.random.default_rng(5)
    masks = []
    for k in range(11):
        active = rng.random((4, 10, 10)) < 0.15
        monitor._note_active(0, active)
        masks.append(active)
        alive = np.logical_or.reduce(masks[-4:])
        assert monitor.dead_fraction(0) == pytest.approx(1 - alive.mean()), k
