"""Input gradients (cnncore.probe): saliency and Grad-CAM against a hand-written NumPy pass over the
slow twin, central differences and PyTorch autograd; adversarial digits checked by the engine; dreams."""
import numpy as np
import pytest

from cnncore import reference as ref
from cnncore.probe import EPS_MAX, Goal, Probe, grad_cam, smoothness_penalty, upsample_map
from cnncore.network import Network

SPEC = {"input": [1, 12, 12], "layers": [
    {"type": "conv", "filters": 3, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"},
    {"type": "maxpool", "size": 2, "stride": 2},
    {"type": "conv", "filters": 4, "kernel": 3, "stride": 1, "padding": 0, "activation": "tanh"},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "none"}]}


@pytest.fixture
def net64():
    net = Network(SPEC, seed=3, dtype=np.float64)
    for k, v in net.params().items():          # biases away from 0, so the ReLU masks are not trivial
        if k.endswith(".b"):
            v[...] = np.linspace(-0.2, 0.3, v.size)
    return net


@pytest.fixture
def image():
    return np.random.default_rng(7).random((1, 12, 12))


def twin_pass(net, x, c):
    """The logits, ∂z_c/∂x and (A, ∂z_c/∂A) of both convs, from cnncore.reference and NumPy only."""
    p = net.params()
    z0 = ref.conv2d_forward(x, p["L0.W"], p["L0.b"], 1, 1)
    a0 = np.maximum(z0, 0)
    m1, arg = ref.maxpool2d_forward(a0, 2, 2)
    z2 = ref.conv2d_forward(m1, p["L2.W"], p["L2.b"], 1, 0)
    a2 = np.tanh(z2)
    logits = a2.reshape(1, -1) @ p["L4.W"].T + p["L4.b"]
    da2 = p["L4.W"][c].reshape(a2.shape)                 # ∂z_c/∂(flattened a2) is row c of W
    dz2 = da2 * (1 - a2 ** 2)
    dm1, _, _ = ref.conv2d_backward(dz2, m1, p["L2.W"], 1, 0)
    da0 = ref.maxpool2d_backward(dm1, arg, a0.shape)
    dz0 = da0 * (z0 > 0)
    dx, _, _ = ref.conv2d_backward(dz0, x, p["L0.W"], 1, 1)
    return logits[0], dx[0], {0: (a0[0], da0[0]), 2: (a2[0], da2[0])}


def test_saliency_and_gradcam_equal_the_numpy_twin(net64, image):
    probe = Probe(net64)
    for c in (None, 4):
        g = probe.class_gradient(image, c)
        cls = g.predicted if c is None else c
        assert g.cls == cls
        logits, dx, maps = twin_pass(net64, image[None], cls)
        np.testing.assert_allclose(g.logits, logits, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(g.saliency, dx, rtol=1e-10, atol=1e-12)
        assert np.abs(dx).max() > 1e-3                     # not a vacuous comparison of zeros
        cams = g.gradcam()
        assert sorted(cams) == [0, 2]
        for i, (A, dA) in maps.items():
            np.testing.assert_allclose(g.maps[i], A, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(g.map_grads[i], dA, rtol=1e-10, atol=1e-12)
            alpha = dA.mean(axis=(1, 2))
            by_hand = np.maximum(sum(alpha[k] * A[k] for k in range(len(A))), 0)
            np.testing.assert_allclose(cams[i], by_hand, rtol=1e-10, atol=1e-12)
            assert cams[i].shape == A.shape[1:]


def test_saliency_equals_central_differences(net64, image):
    g = Probe(net64).class_gradient(image, 6)
    h = 1e-6
    rng = np.random.default_rng(0)
    for _ in range(20):
        r, col = rng.integers(0, 12, size=2)
        up, down = image.copy(), image.copy()
        up[0, r, col] += h
        down[0, r, col] -= h
        numeric = (net64.forward(up[None], keep=False)[0, 6] - net64.forward(down[None], keep=False)[0, 6]) / (2 * h)
        assert g.saliency[0, r, col] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_map_gradient_equals_central_differences(net64, image):
    """∂z_c/∂A of the first conv: perturb A and run the layers after it."""
    g = Probe(net64).class_gradient(image, 2)
    A = g.maps[0]
    rest = net64.layers[1:]

    def z_c(a):
        y = a[None]
        for layer in rest:
            y = layer.forward(y, keep=False)
        return y[0, 2]
    h = 1e-6
    rng = np.random.default_rng(1)
    # where A > 0 (at A = 0 the ReLU has a kink and a max-pool window of zeros a tie)
    for k, r, col in rng.permutation(np.argwhere(A > 0.05))[:15]:
        up, down = A.copy(), A.copy()
        up[k, r, col] += h
        down[k, r, col] -= h
        assert g.map_grads[0][k, r, col] == pytest.approx((z_c(up) - z_c(down)) / (2 * h), rel=1e-5, abs=1e-8)


def test_saliency_and_gradcam_equal_pytorch_autograd(net64, image):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    F = torch.nn.functional
    p = {k: torch.tensor(v) for k, v in net64.params().items()}
    x = torch.tensor(image[None], requires_grad=True)
    a0 = torch.relu(F.conv2d(x, p["L0.W"], p["L0.b"], padding=1))
    a2 = torch.tanh(F.conv2d(F.max_pool2d(a0, 2, 2), p["L2.W"], p["L2.b"]))
    logits = a2.flatten(1) @ p["L4.W"].T + p["L4.b"]
    c = int(logits.argmax())
    dx, da0, da2 = torch.autograd.grad(logits[0, c], (x, a0, a2))
    g = Probe(net64).class_gradient(image)
    assert g.cls == c
    np.testing.assert_allclose(g.saliency, dx[0].numpy(), rtol=1e-9, atol=1e-12)
    cams = g.gradcam()
    for i, (A, dA) in {0: (a0, da0), 2: (a2, da2)}.items():
        alpha = dA[0].mean(dim=(1, 2))
        cam = torch.relu((alpha[:, None, None] * A[0]).sum(0)).detach().numpy()
        np.testing.assert_allclose(cams[i], cam, rtol=1e-9, atol=1e-12)


def test_float32_probe_is_close_to_float64_and_leaves_the_network_alone(net64, image):
    net32 = Network(SPEC, seed=3)
    net32.set_params({k: v.astype(np.float32) for k, v in net64.params().items()})
    before = net32.flat_params.copy()
    net32.forward(image[None].astype(np.float32))             # arrays a training step would keep
    kept = net32.layers[0].y.copy()
    g32 = Probe(net32).class_gradient(image, 1)
    g64 = Probe(net32, dtype=np.float64).class_gradient(image, 1)
    assert g64.saliency.dtype == np.float64 and g32.saliency.dtype == np.float32
    np.testing.assert_allclose(g32.saliency, g64.saliency, rtol=1e-3, atol=1e-5)
    np.testing.assert_array_equal(net32.flat_params, before)
    np.testing.assert_array_equal(net32.layers[0].y, kept)


def test_grad_cam_by_hand():
    A = np.array([[[1.0, 2.0], [0.0, 1.0]], [[3.0, 0.0], [1.0, 1.0]]])
    dA = np.array([[[1.0, 1.0], [1.0, 1.0]], [[-2.0, 0.0], [0.0, 0.0]]])    # α = (1, −0.5)
    np.testing.assert_allclose(grad_cam(A, dA), [[0.0, 2.0], [0.0, 0.5]])


def test_upsample_map_by_hand_and_against_pytorch():
    m = np.array([[0.0, 1.0], [2.0, 3.0]])
    up = upsample_map(m, (4, 4))
    # pixel centres: rows sample at −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
    np.testing.assert_allclose(up[0], [0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(up[:, 0], [0.0, 0.5, 1.5, 2.0])
    np.testing.assert_allclose(upsample_map(np.full((5, 5), 0.7), (28, 28)), np.full((28, 28), 0.7))
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    r = np.random.default_rng(2).random((8, 8))
    expected = torch.nn.functional.interpolate(torch.tensor(r)[None, None], size=(28, 28), mode="bilinear",
                                               align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(upsample_map(r, (28, 28)), expected, rtol=1e-12, atol=1e-12)


def test_smoothness_penalty_gradient_equals_central_differences():
    x = np.random.default_rng(3).random((1, 1, 5, 6))
    P, g = smoothness_penalty(x)
    assert P == pytest.approx(((x[..., 1:, :] - x[..., :-1, :]) ** 2).sum() + ((x[..., 1:] - x[..., :-1]) ** 2).sum())
    h = 1e-6
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        assert g[idx] == pytest.approx((smoothness_penalty(up)[0] - smoothness_penalty(down)[0]) / (2 * h), abs=1e-6)


# ----------------------------------------------------------------------------- adversarial

@pytest.fixture(scope="module")
def starter():
    from cnncore.modelio import load_model
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "assets" / "starter_model.npz"
    return load_model(path)


@pytest.fixture(scope="module")
def digits():
    from cnncore.datasets import generated_digits
    X, y = generated_digits(40, seed=123)
    return X.astype(np.float32) / 255, y


def _check_attack(net, a, x, target=None):
    d = a.image.astype(np.float64) - x.astype(np.float64)
    assert np.abs(d).max() <= a.epsilon                       # within the budget, exactly
    assert 0 <= a.image.min() and a.image.max() <= 1
    assert a.epsilon <= EPS_MAX
    assert int(net.predict(a.image[None])[0]) == a.predicted      # the engine answers what it says
    assert int(net.predict(x[None])[0]) == a.original_predicted


def test_smallest_attack_changes_the_answer_within_the_budget(starter, digits):
    X, y = digits
    probe = Probe(starter)
    changed = 0
    for i in range(6):
        a = probe.smallest_attack(X[i])
        _check_attack(starter, a, X[i][None])
        if a.success:
            changed += 1
            assert a.predicted != a.original_predicted
            # the smallest ε: a smaller budget does not change the answer
            for f in (0.5, 0.9):
                smaller = probe.attack(X[i], a.epsilon * f)
                _check_attack(starter, smaller, X[i][None])
                assert not smaller.success and smaller.predicted == a.original_predicted
        else:
            assert a.predicted == a.original_predicted and a.epsilon == pytest.approx(EPS_MAX)
    assert changed == 6


def test_targeted_attack_reaches_the_target(starter, digits):
    X, y = digits
    probe = Probe(starter)
    x = X[0]
    orig = int(starter.predict(x[None, None])[0])
    target = (orig + 3) % 10
    a = probe.smallest_attack(x, target=target)
    _check_attack(starter, a, x[None], target)
    assert a.success and a.predicted == target and a.target == target


def test_attack_refuses_a_budget_past_the_limit(starter, digits):
    with pytest.raises(ValueError, match="budget"):
        Probe(starter).attack(digits[0][0], 0.5)
    with pytest.raises(ValueError, match="budget"):
        Probe(starter).attack(digits[0][0], 0.0)


def test_bad_inputs_are_refused(starter):
    probe = Probe(starter)
    with pytest.raises(ValueError, match="28, 28"):
        probe.class_gradient(np.zeros((27, 28)))
    with pytest.raises(ValueError, match="class must be one of 0..9"):
        probe.class_gradient(np.zeros((28, 28)), 10)
    with pytest.raises(ValueError, match="not a conv layer"):
        next(probe.dream(Goal.of_filter(1, 0)))


# ----------------------------------------------------------------------------- dreams

def test_goal_gradient_of_a_filter_equals_central_differences(net64, image):
    probe = Probe(net64)
    x = image[None]
    goal = Goal.of_filter(2, 1)
    s, g = probe.goal_gradient(x, goal)

    def score(v):                                   # the filter's z, before its tanh: by the twin
        p = net64.params()
        a0 = np.maximum(ref.conv2d_forward(v, p["L0.W"], p["L0.b"], 1, 1), 0)
        m1 = ref.maxpool2d_forward(a0, 2, 2)[0]
        return ref.conv2d_forward(m1, p["L2.W"], p["L2.b"], 1, 0)[0, 1].mean()
    assert s == pytest.approx(score(x))
    h = 1e-6
    for r, col in ((3, 4), (6, 6), (10, 2)):
        up, down = x.copy(), x.copy()
        up[0, 0, r, col] += h
        down[0, 0, r, col] -= h
        assert g[0, 0, r, col] == pytest.approx((score(up) - score(down)) / (2 * h), rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("goal", [Goal.of_class(7), Goal.of_filter(0, 2), Goal.of_filter(2, 5)])
def test_dream_raises_its_goal(starter, goal):
    frames = list(Probe(starter).dream(goal, steps=40, every=10))
    assert [f.step for f in frames] == [0, 10, 20, 30, 40]
    assert frames[-1].score > frames[0].score + 0.5 * abs(frames[0].score)
    for f in frames:
        assert f.image.shape == (1, 28, 28) and 0 <= f.image.min() and f.image.max() <= 1
    if goal.layer is None:
        assert int(starter.predict(frames[-1].image[None])[0]) == 7


def test_no_module_takes_a_name_of_the_standard_library():
    """``cnncore/inspect.py`` shadowed ``inspect`` for any script run from inside the package folder
    (and read as the standard module in tracebacks); no module of ours takes such a name."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    ours = {p.stem for pkg in ("cnncore", "cnnapp") for p in (root / pkg).rglob("*.py")}
    # cnncore/trace.py too takes a standard name (``trace``, the line tracer); renaming it touches the
    # trace file format's code, left to its own change: it is the one name allowed here.
    clash = sorted(ours & set(sys.stdlib_module_names) - {"__init__", "__main__", "trace"})
    assert not clash, clash
