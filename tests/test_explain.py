"""Every breakdown's terms add up to the element the kernels computed."""
import math

import numpy as np
import pytest

from cnncore import (avgpool2d_backward, avgpool2d_forward, conv2d_backward, conv2d_forward,
                     maxpool2d_backward, maxpool2d_forward)
from cnncore import activations, explain

RNG_SEED = 1234
N_ELEMENTS = 25


def _close(a, b, tol=1e-10):
    return abs(a - b) <= tol * max(1.0, abs(b))


def _pick(rng, shape, k=N_ELEMENTS):
    return [tuple(int(rng.integers(0, s)) for s in shape) for _ in range(k)]


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1])
def test_conv_forward_terms_sum_to_kernel(stride, padding):
    rng = np.random.default_rng(RNG_SEED)
    x = rng.standard_normal((1, 2, 7, 6))
    w = rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(3)
    z = conv2d_forward(x, w, b, stride, padding)[0]
    for n, oy, ox in _pick(rng, z.shape):
        bd = explain.conv_forward_terms(x[0], w, b, stride, padding, n, oy, ox, value=z[n, oy, ox])
        assert _close(bd.total, z[n, oy, ox]), (n, oy, ox)
        assert len(bd.terms) == 2 * 9 + 1
        # padded positions are zero terms and only exist when there is padding
        pads = [t for t in bd.terms if t.padding]
        assert all(t.value == 0 for t in pads)
        if padding == 0:
            assert not pads


def test_conv_forward_padding_terms_at_corner():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.ones((1, 1, 3, 3))
    bd = explain.conv_forward_terms(x[0], w, np.zeros(1), 1, 1, 0, 0, 0)
    # the top-left window with padding 1 hangs over 5 padded cells
    assert sum(t.padding for t in bd.terms) == 5
    assert bd.total == 0 + 1 + 4 + 5
    srcs = bd.sources()["x"]
    assert srcs == {(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1)}


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1])
def test_conv_backward_terms_sum_to_kernel(stride, padding):
    rng = np.random.default_rng(RNG_SEED + stride + 10 * padding)
    x = rng.standard_normal((1, 2, 7, 7))
    w = rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(3)
    z = conv2d_forward(x, w, b, stride, padding)
    dz = rng.standard_normal(z.shape)
    dx, dw, db = conv2d_backward(dz, x, w, stride, padding)
    for m, iy, ix in _pick(rng, dx.shape[1:]):
        bd = explain.conv_backward_input_terms(dz[0], w, stride, padding, (7, 7), m, iy, ix)
        assert _close(bd.total, dx[0, m, iy, ix]), (m, iy, ix)
        # every term links an output position whose window contains (iy, ix)
        for t in bd.terms:
            n, oy, ox = t.sources[0].index
            assert oy * stride - padding <= iy < oy * stride - padding + 3
    for n, m, i, j in _pick(rng, dw.shape):
        bd = explain.conv_backward_weight_terms(dz[0], x[0], stride, padding, n, m, i, j)
        assert _close(bd.total, dw[n, m, i, j])
        assert len(bd.terms) == dz.shape[2] * dz.shape[3]
    for n in range(3):
        assert _close(explain.conv_backward_bias_terms(dz[0], n).total, db[n])


def test_conv_backward_input_skipped_by_stride():
    # 4x4 input, 1x1 filter, stride 2: odd rows/cols never enter a window
    x = np.ones((1, 1, 4, 4))
    w = np.full((1, 1, 1, 1), 3.0)
    dz = np.ones((1, 1, 2, 2))
    dx, _, _ = conv2d_backward(dz, x, w, 2, 0)
    bd = explain.conv_backward_input_terms(dz[0], w, 2, 0, (4, 4), 0, 1, 1)
    assert bd.total == dx[0, 0, 1, 1] == 0
    bd = explain.conv_backward_input_terms(dz[0], w, 2, 0, (4, 4), 0, 2, 2)
    assert bd.total == dx[0, 0, 2, 2] == 3


@pytest.mark.parametrize("fn", activations.ACTIVATIONS)
def test_activation_terms(fn):
    rng = np.random.default_rng(7)
    z = rng.standard_normal((2, 4, 4))
    y = activations.apply(fn, z.copy())
    dy = rng.standard_normal(z.shape)
    dz = activations.backward(fn, dy, z, y)
    for idx in _pick(rng, z.shape, 10):
        assert _close(explain.activation_forward_terms(z, fn, idx).total, y[idx])
        assert _close(explain.activation_backward_terms(dy, z, fn, idx).total, dz[idx])


@pytest.mark.parametrize("size,stride", [(2, 2), (2, 1), (3, 2), (3, 1)])
def test_maxpool_terms(size, stride):
    rng = np.random.default_rng(size * 10 + stride)
    x = rng.standard_normal((1, 2, 7, 7))
    y, argmax = maxpool2d_forward(x, size, stride)
    dy = rng.standard_normal(y.shape)
    dx = maxpool2d_backward(dy, argmax, x.shape)
    for c, oy, ox in _pick(rng, y.shape[1:]):
        bd = explain.maxpool_forward_terms(x[0], size, stride, c, oy, ox)
        assert bd.combine == "max" and _close(bd.total, y[0, c, oy, ox])
        (win,) = [t for t in bd.terms if t.chosen]
        r, col = win.sources[0].index[1:]
        assert r * 7 + col == argmax[0, c, oy, ox]
    overlaps = 0
    for c in range(2):
        for iy in range(7):
            for ix in range(7):
                bd = explain.maxpool_backward_terms(dy[0], argmax[0], (7, 7), size, stride, c, iy, ix)
                assert _close(bd.total, dx[0, c, iy, ix]), (c, iy, ix)
                overlaps += sum(t.chosen for t in bd.terms) > 1
    if stride < size:
        assert overlaps > 0  # the += case really happened


def test_maxpool_overlap_accumulates():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0  # the centre wins all four overlapping 2x2 windows
    y, argmax = maxpool2d_forward(x, 2, 1)
    dy = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    bd = explain.maxpool_backward_terms(dy[0], argmax[0], (3, 3), 2, 1, 0, 1, 1)
    assert bd.total == 10.0 == maxpool2d_backward(dy, argmax, x.shape)[0, 0, 1, 1]
    assert sum(t.chosen for t in bd.terms) == 4


@pytest.mark.parametrize("size,stride", [(2, 2), (2, 1), (3, 2)])
def test_avgpool_terms(size, stride):
    rng = np.random.default_rng(size + stride)
    x = rng.standard_normal((1, 2, 6, 6))
    y = avgpool2d_forward(x, size, stride)
    dy = rng.standard_normal(y.shape)
    dx = avgpool2d_backward(dy, x.shape, size, stride)
    for c, oy, ox in _pick(rng, y.shape[1:]):
        assert _close(explain.avgpool_forward_terms(x[0], size, stride, c, oy, ox).total, y[0, c, oy, ox])
    for c, iy, ix in _pick(rng, x.shape[1:]):
        bd = explain.avgpool_backward_terms(dy[0], (6, 6), size, stride, c, iy, ix)
        assert _close(bd.total, dx[0, c, iy, ix])
        assert all(t.factors[1] == 1 / size ** 2 for t in bd.terms if len(t.factors) == 2)


def test_flatten_and_dense_terms():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 3))
    flat = x.reshape(-1)
    for k in range(flat.size):
        assert explain.flatten_forward_terms(x, k).total == flat[k]
    dflat = rng.standard_normal(flat.size)
    for idx in _pick(rng, x.shape, 8):
        assert explain.flatten_backward_terms(dflat, x.shape, *idx).total == dflat.reshape(x.shape)[idx]
    W = rng.standard_normal((4, flat.size))
    b = rng.standard_normal(4)
    z = W @ flat + b
    dz = rng.standard_normal(4)
    dx = W.T @ dz
    dW = np.outer(dz, flat)
    for k in range(4):
        assert _close(explain.dense_forward_terms(flat, W, b, k).total, z[k])
        assert explain.dense_backward_bias_terms(dz, k).total == dz[k]
    for j in range(flat.size):
        assert _close(explain.dense_backward_input_terms(dz, W, j).total, dx[j])
    for k, j in _pick(rng, dW.shape, 10):
        assert _close(explain.dense_backward_weight_terms(dz, flat, k, j).total, dW[k, j])


def test_softmax_loss_terms():
    rng = np.random.default_rng(5)
    z = rng.standard_normal(10) * 3
    p = np.exp(z - z.max())
    p /= p.sum()
    label = 4
    for k in range(10):
        assert _close(explain.softmax_terms(z, k).total, p[k])
        g = explain.loss_gradient_terms(p, label, k)
        assert _close(g.total, p[k] - (k == label))
    assert _close(explain.loss_terms(p, label).total, -math.log(p[label]))


def test_update_terms():
    w = np.array([[0.5, -1.0]])
    dw = np.array([[2.0, 0.25]])
    bd = explain.update_terms(w, dw, 0.1, (0, 1))
    assert _close(bd.total, -1.0 - 0.1 * 0.25)


def test_written_out_and_error():
    x = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    w = np.array([[[[1.0, -1.0], [0.5, 0.0]]]])
    bd = explain.conv_forward_terms(x, w, np.array([0.25]), 1, 0, 0, 0, 0, value=0.75)
    assert bd.total == 1 - 2 + 1.5 + 0 + 0.25
    assert bd.error == 0
    text = bd.written_out()
    assert text.endswith("= 0.75") and "(−1)" in text


# ------------------------------------------------------------------ the trace dispatcher

SPEC = {"input": [2, 12, 12], "layers": [
    {"type": "conv", "filters": 3, "kernel": 3, "stride": 2, "padding": 1, "activation": "relu"},
    {"type": "maxpool", "size": 3, "stride": 1},
    {"type": "conv", "filters": 2, "kernel": 2, "stride": 1, "padding": 0, "activation": "tanh"},
    {"type": "avgpool", "size": 2, "stride": 1},
    {"type": "flatten"},
    {"type": "dense", "units": 5, "activation": "sigmoid"},
    {"type": "dense", "units": 10, "activation": "none"}]}


def _written_value(term) -> float:
    """What a term's written form (``0.5·(−2)``, ``sigmoid(0.18)``, ``−log(0.1)``) works out to."""
    product = math.prod(float(f) for f in term.factors)
    if term.apply == "−log":
        return -math.log(product)
    if term.apply:
        return float(activations.apply(term.apply, np.array([product]))[0])
    return product


def test_a_function_term_is_written_as_the_function_of_its_number():
    """The loss was written out "0.1002 = 2.301" and a sigmoid "0.1842 = 0.5459": the argument,
    then the value, with nothing between. The function is written around its number now."""
    p = np.array([0.1002, 0.8998])
    assert explain.loss_terms(p, 0).written_out() == f"−log(0.1002) = {explain.num(-math.log(0.1002))}"
    z = np.array([[-0.1202, 0.1842]])
    assert explain.activation_forward_terms(z, "relu", (0, 0)).written_out() == "relu(−0.1202) = 0"
    assert explain.activation_forward_terms(z, "sigmoid", (0, 1)).written_out() == "sigmoid(0.1842) = 0.5459"


def _trace(dtype):
    from cnncore.network import Network
    from cnncore.trace import trace
    net = Network(SPEC, seed=3, dtype=dtype)
    img = np.random.default_rng(4).random((2, 12, 12))
    return trace(net, img, 7)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_breakdown_of_every_trace_array(dtype, tol):
    tr = _trace(dtype)
    rng = np.random.default_rng(11)
    checked = set()
    for key, arr in tr.arrays.items():
        if key in ("architecture", "label") or arr.dtype.kind not in "f":
            continue
        shape = arr.shape
        for _ in range(6 if arr.ndim else 1):
            idx = tuple(int(rng.integers(0, s)) for s in shape)
            bd = explain.breakdown(tr, key, idx)
            scale = max(1.0, max((abs(t.value) for t in bd.terms), default=0.0))
            assert abs(bd.total - bd.value) <= tol * scale, (key, idx, bd.total, bd.value)
            assert bd.value == pytest.approx(float(arr[idx]))
            for t in bd.terms:                  # each term is what its written form says
                assert t.value == pytest.approx(_written_value(t), rel=1e-9, abs=1e-12), (key, idx, t)
            # every source ref points inside an array of the trace
            for t in bd.terms:
                for s in t.sources:
                    if s is not None:
                        a = tr.arrays[s.array]
                        assert len(s.index) == a.ndim and all(0 <= i < n for i, n in zip(s.index, a.shape))
            checked.add(key.split(".")[-1])
    assert {"z", "y", "dz", "dx", "dy", "dW", "db", "x", "W", "probs", "loss"} <= checked


def test_breakdown_index_without_batch_axis_and_update_step():
    tr = _trace(np.float64)
    a = explain.breakdown(tr, "L0.z", (0, 1, 2, 3))
    b = explain.breakdown(tr, "L0.z", (1, 2, 3))
    assert a.total == b.total and a.target == b.target == explain.Ref("L0.z", (0, 1, 2, 3))
    update = next(s for s in tr.steps if s.kind == "update" and s.layer == 0)
    bd = explain.breakdown(tr, "L0.W", (1, 0, 2, 2), step=update)
    W, dW = tr.arrays["L0.W"][1, 0, 2, 2], tr.arrays["L0.dW"][1, 0, 2, 2]
    assert bd.total == pytest.approx(W - tr.lr * dW)
    # the element of an update step is the new weight: the sum must agree with it
    assert bd.value == pytest.approx(W - tr.lr * dW) and bd.error == pytest.approx(0, abs=1e-12)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-6)):
        t = _trace(dtype)
        for st in (s for s in t.steps if s.kind == "update"):
            for part in ("W", "b"):
                key = f"L{st.layer}.{part}"
                idx = tuple(np.unravel_index(t.arrays[key].size - 1, t.arrays[key].shape))
                b = explain.breakdown(t, key, idx, step=st)
                assert abs(b.error) <= tol * max(1.0, abs(b.value)), (key, b.error)
    with pytest.raises(KeyError):
        explain.breakdown(tr, "L9.z", (0,))
    with pytest.raises(IndexError):
        explain.breakdown(tr, "L0.z", (5, 0, 0))


def test_breakdown_maxpool_overlap_in_trace():
    tr = _trace(np.float64)
    dx = tr.arrays["L1.dx"][0]
    # some input of the overlapping 3x3/stride-1 pool won more than one window
    found = False
    for idx in np.ndindex(*dx.shape):
        bd = explain.breakdown(tr, "L1.dx", idx)
        if sum(t.chosen for t in bd.terms) > 1:
            found = True
            assert bd.total == pytest.approx(dx[idx])
    assert found


def test_breakdown_of_non_float_and_scalar_keys():
    tr = _trace(np.float64)
    bd = explain.breakdown(tr, "L1.argmax", (0, 2, 1, 1))
    assert bd.value is None and bd.combine == "max"
    (win,) = [t for t in bd.terms if t.chosen]
    W = tr.arrays["L1.x"].shape[-1]
    assert win.sources[0].index[2] * W + win.sources[0].index[3] == tr.arrays["L1.argmax"][0, 2, 1, 1]
    assert explain.breakdown(tr, "label", (0,)).value == 7
    loss = explain.breakdown(tr, "loss", ())
    assert loss.total == pytest.approx(float(tr.arrays["loss"]))
    px = explain.breakdown(tr, "input", (0, 1, 3, 4))
    assert px.value == tr.arrays["input"][0, 1, 3, 4]


# --------------------------------------------------------------------------- a colour picture's planes

_COLOUR = {"input": [3, 6, 6], "layers": [
    {"type": "conv", "filters": 2, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"},
    {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "none"}]}


def _colour_trace(spec=_COLOUR):
    from cnncore.network import Network
    from cnncore.trace import trace
    net = Network(spec, seed=3)
    x = np.random.default_rng(4).random(tuple(spec["input"]), dtype=np.float32)
    return trace(net, x, 2)


def test_a_first_conv_z_on_a_colour_picture_names_each_plane_and_its_subtotal():
    """Issue 23: z(n,r,c) of the first conv sums over the R, G and B planes; each product says its
    plane, and a note gives what each plane adds up to, which with the bias is z itself."""
    tr = _colour_trace()
    bd = explain.breakdown(tr, "L0.z", (0, 1, 2, 3))
    z = float(tr.arrays["L0.z"][0, 1, 2, 3])
    planes = {"R": [], "G": [], "B": []}
    for t in bd.terms:
        m = next((s.index[1] for s in t.sources if s is not None and s.array == "L0.x"), None)
        if m is None:
            assert t.label.startswith("b(") and "[" not in t.label
            bias = t.value
        else:
            assert t.label.endswith(f" [{'RGB'[m]}]"), t.label
            planes["RGB"[m]].append(t.value)
    assert [len(v) for v in planes.values()] == [9, 9, 9]
    note = next(n for n in bd.notes if n.startswith("The sum runs over the picture's R, G and B planes"))
    for m, name in enumerate("RGB"):
        assert f"{name} (m = {m}): {explain.num(math.fsum(planes[name]))} from 9 terms" in note
    assert f"then b(1): {explain.num(bias)}." in note and "(−" not in note
    assert _close(math.fsum(sum(planes.values(), [])) + bias, z, 1e-5)


def test_a_colour_pixel_and_a_first_filter_gradient_say_their_plane():
    tr = _colour_trace()
    bd = explain.breakdown(tr, "input", (0, 1, 4, 5))
    assert "This is the G level of pixel (4, 5) of the colour picture (input map m = 1)." in bd.notes
    bd = explain.breakdown(tr, "L0.dW", (1, 2, 0, 1))       # dW(m = 2): products of dz and the B plane
    assert "The picture's numbers here are of its B plane (input map m = 2)." in bd.notes
    assert all(t.label.endswith(" [B]") for t in bd.terms if any(s is not None and s.array == "L0.x"
                                                                  for s in t.sources))
    for key in ("L0.W", "L0.W_next"):           # a first filter's weight, and its update, name their plane too
        bd = explain.breakdown(tr, key, (1, 2, 0, 1))
        assert "A weight of the first layer's filters for the picture's B plane (input map m = 2)." in bd.notes, key


def test_a_first_conv_z_at_the_edge_counts_its_padding_in_each_plane():
    """At the picture's corner 15 of the 27 window positions lie in the zero padding: each belongs to its
    plane (its filter weight's input channel), not to a list of unnamed terms after the planes."""
    tr = _colour_trace()
    bd = explain.breakdown(tr, "L0.z", (0, 0, 0, 0))
    products = [t for t in bd.terms if not t.label.startswith("b(")]
    assert len(products) == 27 and sum(t.padding for t in products) == 15
    for t in products:
        w = next(s for s in t.sources if s is not None and s.array == "L0.W")
        assert t.label.endswith(f" [{'RGB'[w.index[1]]}]"), t.label
    note = next(n for n in bd.notes if n.startswith("The sum runs over the picture's R, G and B planes"))
    for m, name in enumerate("RGB"):
        assert f"{name} (m = {m}): " in note and "from 9 terms (5 in the padding)" in note
    assert note.split("; then ")[1].startswith("b(0): ")


def test_the_first_layers_input_of_a_normalising_model_is_the_pixel_normalised():
    """A model that normalises its input hands the first layer (x − μ) / σ: its L0.x was called a
    pixel's level "nothing computed" (−1.628 for a level of 0.086). It is worked out from the
    picture's level and its channel's μ and σ; the picture itself is still a level from 0 to 1."""
    from cnncore.network import Network
    from cnncore.trace import trace
    net = Network(_COLOUR, seed=3)
    net.normalises((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))
    x = np.random.default_rng(4).random((3, 6, 6), dtype=np.float32)
    tr = trace(net, x, 2)
    bd = explain.breakdown(tr, "L0.x", (0, 1, 4, 5))
    level = float(x[1, 4, 5])
    assert bd.equation == "x′ = (x − μ) / σ" and _close(bd.total, (level - 0.48) / 0.24, 1e-12)
    assert _close(bd.total, bd.value, 1e-6) and bd.value == tr.arrays["L0.x"][0, 1, 4, 5]
    assert [s.array for t in bd.terms for s in t.sources if s is not None] == ["input"]
    assert bd.terms[0].label.endswith(" [G]") and any("μ = 0.48" in n and "σ = 0.24" in n for n in bd.notes)
    assert any("normalised as the first layer takes it" in n for n in bd.notes)
    px = explain.breakdown(tr, "input", (0, 1, 4, 5))
    assert px.value == level and any("from 0 to 1" in n for n in px.notes)
    plain = explain.breakdown(_colour_trace(), "L0.x", (0, 1, 4, 5))
    assert plain.title == "An input pixel" and len(plain.terms) == 1


def test_a_grey_picture_and_a_later_layer_name_no_plane():
    grey = dict(_COLOUR, input=[1, 6, 6])
    bd = explain.breakdown(_colour_trace(grey), "L0.z", (0, 1, 2, 3))
    assert not any("[" in t.label for t in bd.terms) and not any("planes" in n for n in bd.notes)
    deep = dict(_COLOUR, layers=[_COLOUR["layers"][0], dict(_COLOUR["layers"][0]), *_COLOUR["layers"][1:]])
    bd = explain.breakdown(_colour_trace(deep), "L1.z", (0, 0, 2, 3))    # sums over maps, not colours
    assert not any("[" in t.label for t in bd.terms) and not any("R, G and B" in n for n in bd.notes)


def test_a_sure_wrong_answers_loss_is_written_from_the_logits():
    """p(label) rounded to 0: the loss was written "−log(0) = 690.8" beside its value, 199.6."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.trace import trace
    net = Network(preset("tiny"), seed=0)
    net.layers[-1].b[:] = 0
    net.layers[-1].b[3] = 200.0
    t = trace(net, np.random.default_rng(0).random((28, 28)).astype(np.float32), 5)
    bd = explain.breakdown(t, "loss", ())
    assert float(t.arrays["probs"][0, 5]) < explain.TINY_P and t.loss > 150
    assert bd.total == pytest.approx(bd.value, rel=1e-6) and "−log" not in bd.written_out()
    assert all(term.value == pytest.approx(_written_value(term)) for term in bd.terms)
    sure = explain.loss_terms(np.array([0.25, 0.75]), 1, logits=np.array([0.0, math.log(3)]))
    assert sure.written_out() == f"−log(0.75) = {explain.num(-math.log(0.75))}"      # the textbook's form


def test_a_written_out_sum_counts_its_left_out_terms_in_words():
    """"(1 zero terms)" and "(1 more terms)": one term is one term."""
    from cnncore.terms import Breakdown, Term
    terms = [Term(f"t{k}", (float(v), 1.0), float(v), (None, None)) for k, v in enumerate([1, 0, 2, 3, 0, 0])]
    b = Breakdown("z", "z = Σ t", None, terms[:2] + terms[2:4], 6.0)
    assert b.written_out(limit=2, skip_zero=True).count("(1 more term)") == 1
    assert "(1 zero term)" in b.written_out(skip_zero=True)
    b = Breakdown("z", "z = Σ t", None, terms, 6.0)
    assert "(3 zero terms)" in b.written_out(skip_zero=True) and "(2 more terms)" in b.written_out(limit=4)


def test_zero_up_to_rounding_is_relative_to_the_largest_term():
    from cnncore.terms import zero_up_to_rounding
    assert zero_up_to_rounding(2.8e-17, 0.3) and not zero_up_to_rounding(0.0, 0.3)
    assert not zero_up_to_rounding(2.8e-17, 1e-6)            # small numbers of a small sum are kept
    assert not zero_up_to_rounding(1e-3, 1.0)
