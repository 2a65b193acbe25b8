"""Every layer's backward pass against central differences, in float64."""
from __future__ import annotations

import numpy as np
import pytest

from cnncore import activations
from cnncore.architecture import describe_layer, parse_architecture
from cnncore.layers import build_layer, layer_class

H = 1e-6


def _layer(spec: dict, in_shape, dtype=np.float64, seed=0):
    spec = parse_architecture({"input": [1, 1, 1], "layers": [spec, {"type": "flatten"}]})["layers"][0]
    out = layer_class(spec["type"]).output_shape(spec, in_shape)
    layer = build_layer(0, spec, in_shape, out, dtype)
    rng = np.random.default_rng(seed)
    layer.init_params(rng)
    if layer.has_params:  # non-zero biases so db and the activation's kinks are exercised
        layer.b[...] = rng.standard_normal(layer.b.shape) * 0.3
    return layer


def _check(layer, x, rng, rtol=1e-6, atol=1e-8):
    """Loss = Σ y·R for a fixed random R; compare dx, dW, db with central differences."""
    y = layer.forward(x)
    R = rng.standard_normal(y.shape)
    dx = layer.backward(R.copy(), need_dx=True)
    grads = {"x": (x, dx)}
    if layer.has_params:
        grads["W"] = (layer.W, layer.dW)
        grads["b"] = (layer.b, layer.db)

    def loss():
        return float(np.sum(layer.forward(x) * R))

    for name, (arr, g) in grads.items():
        assert g.shape == arr.shape, name
        num = np.zeros_like(arr)
        flat, nflat = arr.reshape(-1), num.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + H
            lp = loss()
            flat[i] = old - H
            lm = loss()
            flat[i] = old
            nflat[i] = (lp - lm) / (2 * H)
        np.testing.assert_allclose(g, num, rtol=rtol, atol=atol, err_msg=f"{describe_layer(layer.spec)}: d{name}")


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "leaky_relu", "none"])
@pytest.mark.parametrize("kernel,stride,padding", [(3, 1, 0), (3, 2, 1), ([2, 3], [2, 1], [1, 0]), (1, 1, 0)])
def test_conv_backward(activation, kernel, stride, padding, rng):
    layer = _layer({"type": "conv", "filters": 3, "kernel": kernel, "stride": stride, "padding": padding,
                    "activation": activation}, (2, 7, 6))
    x = rng.random((2, 2, 7, 6))
    _check(layer, x, rng)


def test_conv_records_z_and_y(rng):
    layer = _layer({"type": "conv", "filters": 2, "kernel": 3, "activation": "tanh"}, (1, 5, 5))
    x = rng.random((1, 1, 5, 5))
    y = layer.forward(x)
    assert layer.x is x
    np.testing.assert_allclose(y, np.tanh(layer.z))
    # z by the definition, for one output element
    n, r, c = 1, 2, 0
    want = np.sum(layer.W[n, 0] * x[0, 0, r:r + 3, c:c + 3]) + layer.b[n]
    assert layer.z[0, n, r, c] == pytest.approx(want)


def test_conv_need_dx_false(rng):
    layer = _layer({"type": "conv", "filters": 2, "kernel": 3}, (1, 5, 5))
    layer.forward(rng.random((2, 1, 5, 5)))
    assert layer.backward(rng.random((2, 2, 3, 3)), need_dx=False) is None
    assert layer.dW.shape == (2, 1, 3, 3)


@pytest.mark.parametrize("size,stride", [(2, None), (3, 2), ([2, 3], [1, 2]), (2, 1)])
def test_maxpool_backward(size, stride, rng):
    spec = {"type": "maxpool", "size": size}
    if stride is not None:
        spec["stride"] = stride
    layer = _layer(spec, (2, 7, 8))
    x = rng.permutation(2 * 2 * 7 * 8).reshape(2, 2, 7, 8) / (2 * 2 * 7 * 8)  # no ties, gaps far above h
    _check(layer, x, rng)


def test_maxpool_argmax_is_flat_index_of_winner(rng):
    layer = _layer({"type": "maxpool", "size": 2}, (1, 4, 4))
    x = rng.random((1, 1, 4, 4))
    y = layer.forward(x)
    flat = x.reshape(1, 1, 16)
    np.testing.assert_array_equal(np.take_along_axis(flat, layer.argmax.reshape(1, 1, 4), axis=2).reshape(y.shape), y)


@pytest.mark.parametrize("size,stride", [(2, None), (3, 2), ([2, 3], [1, 2])])
def test_avgpool_backward(size, stride, rng):
    spec = {"type": "avgpool", "size": size}
    if stride is not None:
        spec["stride"] = stride
    layer = _layer(spec, (2, 7, 8))
    _check(layer, rng.random((2, 2, 7, 8)), rng)


def test_flatten_backward(rng):
    layer = _layer({"type": "flatten"}, (3, 4, 5))
    x = rng.random((2, 3, 4, 5))
    y = layer.forward(x)
    np.testing.assert_array_equal(y[1], x[1].reshape(-1))  # channel, then row, then column
    _check(layer, x, rng)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "leaky_relu", "none"])
def test_dense_backward(activation, rng):
    layer = _layer({"type": "dense", "units": 5, "activation": activation}, (7,))
    _check(layer, rng.standard_normal((3, 7)), rng)


def test_dense_weight_layout_is_units_by_inputs(rng):
    layer = _layer({"type": "dense", "units": 4, "activation": "none"}, (6,))
    assert layer.W.shape == (4, 6)
    x = rng.random((2, 6))
    np.testing.assert_allclose(layer.forward(x), x @ layer.W.T + layer.b)


@pytest.mark.parametrize("name", activations.ACTIVATIONS)
def test_activation_derivative(name, rng):
    z = rng.standard_normal(50) * 3
    z = z[np.abs(z) > 1e-3]  # away from the kink of the ReLU family
    y = activations.apply(name, z.copy())
    num = (activations.apply(name, z + H) - activations.apply(name, z - H)) / (2 * H)
    np.testing.assert_allclose(activations.derivative(name, z, y), num, rtol=1e-6, atol=1e-9)
    dy = rng.standard_normal(z.shape)
    np.testing.assert_allclose(activations.backward(name, dy, z, y), dy * num, rtol=1e-6, atol=1e-9)


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = activations.apply("sigmoid", np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(y, [0.0, 0.5, 1.0])


def test_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation"):
        activations.apply("swish", np.zeros(2))


def test_float32_layers_match_float64(rng):
    spec = {"type": "conv", "filters": 4, "kernel": 3, "padding": 1, "activation": "relu"}
    l64 = _layer(spec, (2, 6, 6), np.float64)
    l32 = _layer(spec, (2, 6, 6), np.float32)
    l32.W[...] = l64.W
    l32.b[...] = l64.b
    x = rng.random((3, 2, 6, 6))
    y64, y32 = l64.forward(x), l32.forward(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-5)
