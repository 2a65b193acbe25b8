"""A whole network: gradients against central differences, the loss, seeds, copies."""
from __future__ import annotations

import numpy as np
import pytest

from cnncore.architecture import ArchitectureError, preset
from cnncore.network import Network, softmax, softmax_cross_entropy

SMALL = {"input": [2, 11, 10], "layers": [
    {"type": "conv", "filters": 3, "kernel": 3, "stride": 2, "padding": 1, "activation": "tanh"},
    {"type": "maxpool", "size": 2, "stride": 1},
    {"type": "conv", "filters": 4, "kernel": [2, 3], "activation": "leaky_relu"},
    {"type": "avgpool", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 6, "activation": "sigmoid"},
    {"type": "dense", "units": 10, "activation": "none"}]}


def test_whole_network_gradients_match_central_differences(rng):
    net = Network(SMALL, seed=3, dtype=np.float64)
    for layer in net.layers:
        if layer.has_params:
            layer.b[...] = rng.standard_normal(layer.b.shape) * 0.2
    x = rng.random((3, 2, 11, 10))
    labels = np.array([0, 7, 3])
    loss, probs = net.loss_and_grads(x, labels)
    grads = {k: v.copy() for k, v in net.grads().items()}
    h = 1e-6
    for key, p in net.params().items():
        flat = p.reshape(-1)
        for i in rng.choice(flat.size, size=min(flat.size, 25), replace=False):
            old = flat[i]
            flat[i] = old + h
            lp, _ = net.loss_and_grads(x, labels)
            flat[i] = old - h
            lm, _ = net.loss_and_grads(x, labels)
            flat[i] = old
            num = (lp - lm) / (2 * h)
            assert grads[key].reshape(-1)[i] == pytest.approx(num, rel=1e-5, abs=1e-9), f"{key}[{i}]"


def test_input_gradient_matches_central_differences(rng):
    net = Network(SMALL, seed=1, dtype=np.float64)
    x = rng.random((2, 2, 11, 10))
    labels = np.array([4, 9])
    logits = net.forward(x)
    _, _, dz = softmax_cross_entropy(logits, labels)
    dx = net.backward(dz, need_input_grad=True)
    assert dx.shape == x.shape
    h = 1e-6
    flat = x.reshape(-1)
    for i in rng.choice(flat.size, size=20, replace=False):
        old = flat[i]
        flat[i] = old + h
        lp = softmax_cross_entropy(net.forward(x), labels)[0]
        flat[i] = old - h
        lm = softmax_cross_entropy(net.forward(x), labels)[0]
        flat[i] = old
        assert dx.reshape(-1)[i] == pytest.approx((lp - lm) / (2 * h), rel=1e-5, abs=1e-9)


def test_first_layer_skips_input_gradient(rng):
    net = Network(preset("tiny"))
    net.loss_and_grads(rng.random((2, 1, 28, 28)), np.array([1, 2]))
    assert net.layers[0].dx is None and net.layers[1].dx is not None


def test_softmax_cross_entropy_values_and_stability():
    z = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    labels = np.array([2, 1])
    loss, p, dz = softmax_cross_entropy(z, labels)
    p0 = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(p[0], p0)
    np.testing.assert_allclose(p[1], [1, 0, 0], atol=1e-300)
    assert np.isfinite(loss)
    assert loss == pytest.approx((-np.log(p0[2]) + 1000.0) / 2)   # −log p = 1000 for the second row
    onehot = np.eye(3)[labels]
    np.testing.assert_allclose(dz, (p - onehot) / 2)
    np.testing.assert_allclose(softmax(z), p)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_a_sure_answer_costs_a_loss_of_plus_zero(dt):
    """p(label) rounds to 1: log p is 0 and the loss +0, which prints as 0.0000 (−0 printed "-0.0000"
    in ``cnnapp trace`` after a huge learning rate), in the compiled step's loss as well."""
    import math

    from cnncore.optim import SGD
    from cnncore.step import compile_step
    loss = softmax_cross_entropy(np.array([[200.0, 0.0, -50.0]], dtype=dt), np.array([0]))[0]
    assert loss == 0 and math.copysign(1.0, loss) == 1.0 and f"{loss:.4f}" == "0.0000"
    net = Network(preset("tiny"), seed=0)
    x = np.zeros((1, 1, 28, 28), np.float32)
    net.layers[-1].b[:] = [300.0] + [0.0] * 9        # class 0, surely
    step = compile_step(net, 1, SGD({"all": net.flat_params}, lr=0.01, decay_mask={"all": net.decay_mask}))
    loss = step.run(x, np.array([0], np.intp))[1]
    assert loss == 0 and math.copysign(1.0, loss) == 1.0


def test_same_seed_same_weights_bit_for_bit():
    a, b, c = Network(preset("lenet"), seed=5), Network(preset("lenet"), seed=5), Network(preset("lenet"), seed=6)
    for k in a.params():
        assert a.params()[k].tobytes() == b.params()[k].tobytes()
    assert any(a.params()[k].tobytes() != c.params()[k].tobytes() for k in a.params())


def test_init_scales():
    net = Network(preset("wide"), seed=0, dtype=np.float64)
    W0 = net.params()["L0.W"]   # relu: He, std sqrt(2 / fan_in) with fan_in = 1·3·3
    assert W0.std() == pytest.approx(np.sqrt(2 / 9), rel=0.25)  # 144 draws
    assert not net.params()["L0.b"].any()


def test_params_are_live_and_keys_match_grads(rng):
    net = Network(preset("lenet"))
    assert list(net.params()) == ["L0.W", "L0.b", "L2.W", "L2.b", "L5.W", "L5.b"]
    net.params()["L5.b"][3] = 100.0
    assert net.predict(rng.random((4, 1, 28, 28))).tolist() == [3, 3, 3, 3]
    net.loss_and_grads(rng.random((2, 1, 28, 28)), [0, 1])
    g = net.grads()
    assert list(g) == list(net.params())
    assert all(g[k].shape == net.params()[k].shape for k in g)
    assert net.params()["L5.W"].shape == (10, 256)


def test_copy_is_independent(rng):
    net = Network(preset("tiny"), seed=2)
    other = net.copy()
    x = rng.random((3, 1, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(net.forward(x), other.forward(x))
    other.params()["L0.W"][...] = 0
    assert net.params()["L0.W"].any()


def test_predict_proba_chunks_and_sums_to_one(rng):
    net = Network(preset("tiny"))
    x = rng.random((7, 1, 28, 28))
    p = net.predict_proba(x, batch_size=3)
    assert p.shape == (7, 10) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(p, softmax(net.forward(x)), rtol=1e-6)
    assert net.predict(x).tolist() == p.argmax(axis=1).tolist()
    assert net.forward(x[:, 0]).shape == (7, 10)   # (N, H, W) gets its channel axis


def test_bad_inputs(rng):
    net = Network(preset("tiny"))
    with pytest.raises(ValueError, match=r"input must have shape \(N, 1, 28, 28\)"):
        net.forward(np.zeros((2, 1, 27, 28)))
    with pytest.raises(ValueError, match="labels must have shape"):
        net.loss_and_grads(np.zeros((2, 1, 28, 28)), [1, 2, 3])
    with pytest.raises(ValueError, match="labels must be integers 0..9"):
        net.loss_and_grads(np.zeros((2, 1, 28, 28)), [1, 10])
    with pytest.raises(ValueError, match="missing"):
        net.set_params({})
    bad = {k: np.zeros((1,)) for k in net.params()}
    with pytest.raises(ValueError, match="has shape"):
        net.set_params(bad)
    with pytest.raises(TypeError):
        Network(preset("tiny"), dtype=np.int32)
    with pytest.raises(ArchitectureError):
        Network({"layers": [{"type": "dense", "units": 10}]})


def test_predictions_leave_the_training_arrays_alone(rng):
    """The app predicts from the GUI thread while the worker trains: that must not touch layer caches."""
    net = Network(preset("lenet"))
    x = rng.random((4, 1, 28, 28)).astype(np.float32)
    net.forward(x)
    kept = [(l.x, l.y) for l in net.layers]
    net.predict_proba(rng.random((3, 1, 28, 28)))
    net.forward(rng.random((2, 1, 28, 28)), keep=False)
    assert all(l.x is a and l.y is b for l, (a, b) in zip(net.layers, kept))


def test_one_image_is_the_single_home_of_image_coercion():
    """trace and gradient_check read one image the same way, through Network.one_image."""
    from cnncore.gradcheck import gradient_check
    from cnncore.trace import trace
    net = Network(preset("tiny"), seed=0)
    img = (np.arange(28 * 28) % 256).astype(np.uint8).reshape(28, 28)
    x = net.one_image(img)
    assert x.shape == (1, 1, 28, 28) and np.allclose(x[0, 0], img / 255)
    for shape in ((1, 28, 28), (1, 1, 28, 28)):
        assert np.array_equal(net.one_image(x.reshape(shape)), x)
    with pytest.raises(ValueError, match=r"\(28, 28\), \(1, 28, 28\) or \(1, 1, 28, 28\)"):
        net.one_image(np.zeros((27, 28)))
    tr = trace(net, img, 3)
    assert np.allclose(tr.arrays["input"], x)
    a = gradient_check(net, img, 3, "L0.W", (0, 0, 1, 1))
    b = gradient_check(net, img / 255, 3, "L0.W", (0, 0, 1, 1))
    assert a.analytic == pytest.approx(b.analytic, rel=1e-6) and a.loss == pytest.approx(b.loss, rel=1e-9)


def test_network_maps_copies_the_filters_and_the_sample_maps_without_qt():
    from cnncore.network import network_maps
    net = Network(preset("tiny"), seed=0)
    sample = np.zeros((28, 28), np.float32)
    sample[8:20, 12:16] = 1.0
    snap, maps = network_maps(net, sample)
    conv = [l for l in net.layers if l.has_params and l.W.ndim == 4]
    spatial = [l for l in net.layers if len(l.out_shape) == 3]
    assert set(maps) == {"sample", f"L{conv[0].index}.W"} | {f"L{l.index}.y" for l in spatial}
    assert np.array_equal(maps[f"L{conv[0].index}.W"], conv[0].W)
    first = net.layers[0]
    assert maps[f"L{first.index}.y"].shape == (1,) + tuple(first.out_shape)
    snap.flat_params[:] = 0                     # a copy: the network keeps its weights
    assert np.any(net.flat_params != 0)
    assert set(network_maps(net)[1]) == {f"L{conv[0].index}.W"}


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_softmax_cross_entropy_pass_matches_the_formulas(dt, rng):
    """The compiled pass against NumPy's formulas, row by row, at batch 1 and 64; a label
    outside the classes is an IndexError, never a read out of bounds."""
    for n in (1, 64):
        z = (rng.standard_normal((n, 10)) * 5).astype(dt)
        labels = rng.integers(0, 10, n)
        loss, p, dz = softmax_cross_entropy(z, labels)
        e = np.exp(z.astype(np.float64) - z.max(axis=1, keepdims=True))
        want_p = e / e.sum(axis=1, keepdims=True)
        tol = dict(rtol=1e-5, atol=1e-7) if dt == np.float32 else dict(rtol=1e-12, atol=1e-15)
        assert p.dtype == dt and dz.dtype == dt
        np.testing.assert_allclose(p, want_p, **tol)
        np.testing.assert_allclose(dz, (want_p - np.eye(10)[labels]) / n, **tol)
        want_loss = -np.log(want_p[np.arange(n), labels]).mean()     # (float32 rounds log near 1)
        assert loss == pytest.approx(want_loss, rel=1e-5, abs=1e-6 if dt == np.float32 else 1e-13)
    with pytest.raises(IndexError):
        softmax_cross_entropy(z, np.full(64, 10))
    with pytest.raises(IndexError):
        softmax_cross_entropy(z, np.full(64, -1))
