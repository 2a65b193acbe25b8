"""What the window says instead of showing nonsense (issue 20, items 8, 11 and 13): a network whose
output is not a number gets no bars and no trace, a trace file that is not a sound trace is
refused in one line, and a batch whose pass would not fit is refused at Start."""
import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("pytestqt")
from test_gui_app import _no_leaked_windows, _private_dirs, pytestmark, window  # noqa: E402,F401 - fixtures, marks


@pytest.fixture
def said(window):
    """Every message the window says, whole (the status bar cuts a long one to its width)."""
    out = []
    window.session.message.connect(lambda text, ms: out.append(text))
    return out


def _digit():
    x = np.zeros((28, 28), np.float32)
    x[5:23, 12:16] = 1
    return x


def _overflowing_network():
    """A network whose weights (1e38, as in a damaged file) overflow every sum to inf and NaN."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    net = Network(preset("tiny"), seed=0)
    net.flat_params *= 1e38 / np.abs(net.flat_params).max()
    return net


def test_the_draw_tab_shows_no_bars_for_an_output_that_is_not_a_number(window, said):
    window.session.set_network(_overflowing_network(), "a damaged model", trained=True)
    window.draw.canvas.set_array(_digit())
    window.draw.update_prediction()
    assert "not a number" in window.draw.answer.text()
    p = window.draw.probs.probabilities()
    assert np.isfinite(p).all() and not p.any()           # grey empty bars, no NaN
    assert "weights reach 1e+38" in said[-1]


def test_the_backprop_tab_records_no_trace_of_an_output_that_is_not_a_number(window, said):
    from cnnapp.state import Picture
    window.session.set_network(_overflowing_network(), "a damaged model", trained=True)
    window.session.set_picture(Picture("sketch", _digit(), 3))
    before = window.backprop.trace
    assert not window.backprop.record()
    assert window.backprop.trace is before
    message = said[-1]
    assert "nothing to trace" in message and "not a number" in message and "\n" not in message


@pytest.mark.parametrize("damage", ["no why", "infinite label", "avgpool for l2pool", "NaN"])
def test_open_trace_refuses_what_is_not_a_sound_trace_in_one_line(window, said, tmp_path, damage):
    from cnncore.network import Network
    from cnncore.trace import trace
    spec = {"input": [1, 28, 28], "layers": [
        {"type": "conv", "filters": 2, "kernel": 3, "activation": "relu"}, {"type": "l2pool", "size": 2},
        {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "none"}]}
    arrays = dict(trace(Network(spec, seed=0), _digit(), 4).arrays)
    if damage == "no why":
        settings = json.loads(str(arrays["optimizer"]))
        del settings["why"]
        arrays["optimizer"] = np.array(json.dumps(settings))
    elif damage == "infinite label":
        arrays["label"] = np.array([np.inf])
    elif damage == "avgpool for l2pool":
        arrays["architecture"] = np.array(str(arrays["architecture"]).replace('"l2pool"', '"avgpool"'))
    else:
        arrays["L1.y"] = np.where(arrays["L1.y"] > 0, np.nan, arrays["L1.y"])
    path = tmp_path / "t.npz"
    np.savez(path, **arrays)
    before = window.backprop.trace
    assert not window.backprop.open_trace(path)
    message = said[-1]
    assert message.startswith("Could not open the trace:") and "\n" not in message
    assert window.backprop.trace is before


def test_start_refuses_a_batch_whose_pass_would_not_fit(window, said):
    from cnncore.network import Network
    spec = {"input": [1, 28, 28], "layers": [
        {"type": "upsample", "factor": 4}, {"type": "conv", "filters": 32, "kernel": 3, "activation": "relu"},
        {"type": "maxpool", "size": 4}, {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "none"}]}
    window.session.set_network(Network(spec, seed=0), "a large network", trained=False)
    window.train.batch.setValue(1024)
    assert not window.train.start()
    message = said[-1]
    assert "Cannot train: a training batch of 1,024 images needs" in message and "at most" in message
    assert window.train.controller.thread is None and not window.session.training
