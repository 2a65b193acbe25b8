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
    from cnncore.architecture import max_batch
    window.train.batch.setValue(1024)                    # the box offers at most what fits (issue 23)
    assert window.train.batch.value() == max_batch(spec) < 1024 and "at most" in window.train.batch.toolTip()
    window.train.batch.setMaximum(1024)                  # and Start refuses a batch that would not fit anyway
    window.train.batch.setValue(1024)
    assert not window.train.start()
    message = said[-1]
    assert "Cannot train: a training batch of 1,024 images needs" in message and "at most" in message
    assert window.train.controller.thread is None and not window.session.training


def test_no_save_of_the_app_replaces_a_file_of_cnnlabs_own(window, said):
    """A tour: Save model, browsing into the installation, wrote over assets/starter_model.npz (what every
    first launch starts with); the Build tab's Save… would have put an architecture in place of the
    concept checks. Each is refused in one line, and the files are as they were."""
    from cnnapp.settings import assets_dir, starter_model_path
    starter, questions = starter_model_path(), assets_dir() / "questions.json"
    before = starter.read_bytes(), questions.read_bytes()
    try:
        assert not window.save_model(str(starter))
        assert said[-1] == (f"Could not save the model: {starter} is one of cnnlab's own files: it is not replaced; "
                            "save under another name, in a folder of your own (nothing was written)")
        assert not window.build.save_file(str(questions))
        assert "questions.json is one of cnnlab's own files" in window.build.status.text()
        assert not window.session.model_file
    finally:
        after = starter.read_bytes(), questions.read_bytes()
        for path, old, now in zip((starter, questions), before, after):
            if now != old:
                path.write_bytes(old)          # (put back for the other tests)
    assert after == before
