"""Trace files are read member by member against their architecture, and shown only when they are
the pass they claim to be (issue 20, items 9 and 11).

A 1.8 MB trace whose unused member inflated to 1.8 GB froze the window 9 s; an ``optimizer``
entry without ``why`` raised ``KeyError``, ``label = inf`` ``OverflowError``; a trace whose
architecture said ``avgpool`` for an ``l2pool`` layer opened and explained L2 norms as
averages; NaN traces opened without a word. Each is a one-line ``TraceFileError`` now.
"""
from __future__ import annotations

import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest

from cnncore.layers import LAYER_TYPES
from cnncore.network import Network
from cnncore.trace import Trace, TraceFileError, trace
from cnncore.training import TrainConfig, Trainer

#: Every layer type, with strides, padding and overlapping windows.
EVERY = {"input": [1, 28, 28], "layers": [
    {"type": "conv", "filters": 3, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"},
    {"type": "l2pool", "size": 2},
    {"type": "upsample", "factor": 2},
    {"type": "conv", "filters": 2, "kernel": [3, 5], "stride": 2, "padding": [0, 1], "activation": "tanh"},
    {"type": "avgpool", "size": 3, "stride": 1},
    {"type": "downsample", "factor": 2},
    {"type": "maxpool", "size": 2, "stride": 1},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "none"}]}
IMAGE = np.random.default_rng(5).random((28, 28)).astype(np.float32)


def _saved(tmp_path, arrays, name="t.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def traces():
    """A plain step, Adam's and SGD with momentum's next step, of the network of every layer type."""
    out = {"plain": trace(Network(EVERY, seed=0), IMAGE, 4)}
    for name in ("adam", "sgd"):
        net = Network(EVERY, seed=1)
        X = np.random.default_rng(2).integers(0, 256, (20, 28, 28)).astype(np.uint8)
        list(Trainer(net, X, np.arange(20) % 10, config=TrainConfig(optimizer=name, epochs=1, augment=0,
                                                                     batch_size=10)).run())
        out[name] = trace(net, IMAGE, 7)
    assert {s.layer_type for s in out["plain"].steps if s.layer is not None} == set(LAYER_TYPES)
    return out


@pytest.mark.parametrize("kind", ["plain", "adam", "sgd"])
def test_a_sound_trace_of_every_layer_type_opens_as_it_was_saved(traces, tmp_path, kind):
    t = traces[kind]
    path = tmp_path / "t.npz"
    t.save(path)
    back = Trace.load(path)
    assert list(back.arrays) == list(t.arrays) and back.settings == t.settings
    for k, a in t.arrays.items():
        np.testing.assert_array_equal(back.arrays[k], a)


# ----------------------------------------------------------------------------- item 9: members

def _zip_with(src, extra: dict, compress=zipfile.ZIP_DEFLATED) -> bytes:
    """The trace archive ``src`` with members added or replaced; a value is bytes or an
    iterator of byte chunks (streamed into the archive, never held whole)."""
    out = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", compress) as zout:
        for zi in zin.infolist():
            if zi.filename not in extra:
                zout.writestr(zi.filename, zin.read(zi))
        for name, body in extra.items():
            with zout.open(name, "w", force_zip64=True) as m:
                for part in ([body] if isinstance(body, bytes) else body):
                    m.write(part)
    return out.getvalue()


def _npy_header(shape, dtype="<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def _zeros(nbytes, chunk=1 << 20):
    for _ in range(nbytes // chunk):
        yield bytes(chunk)


MB = 1 << 20


def _load_peak(path):
    tracemalloc.start()
    try:
        try:
            Trace.load(path)
            out = None
        except TraceFileError as e:
            out = str(e)
        return out, tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()


def test_an_entry_no_trace_has_is_refused_without_inflating_it(traces, tmp_path):
    src = traces["plain"]
    src.save(tmp_path / "src.npz")
    big = _npy_header((64 * MB,)) + b"".join(_zeros(256 * MB))           # 256 MB of zeros, 0.25 MB deflated
    path = tmp_path / "t.npz"
    path.write_bytes(_zip_with(tmp_path / "src.npz", {"unused.npy": big}))
    assert path.stat().st_size < 2 * MB
    text, peak = _load_peak(path)
    assert text is not None and "it holds unused, which a trace of its architecture does not have" in text
    assert peak < 32, peak


def test_an_entry_holding_more_than_its_header_declares_is_refused_unread(traces, tmp_path):
    traces["plain"].save(tmp_path / "src.npz")
    x = traces["plain"].arrays["L0.x"]
    body = (_npy_header(x.shape) + x.tobytes() + bytes(chunk) for chunk in [0] + [MB] * 256)
    path = tmp_path / "t.npz"
    path.write_bytes(_zip_with(tmp_path / "src.npz", {"L0.x.npy": body}))
    text, peak = _load_peak(path)
    assert text is not None and "entry 'L0.x' is damaged" in text and "its header declares 3,264" in text
    assert peak < 32, peak


def test_an_entry_of_another_shape_or_type_is_refused_before_it_is_read(traces, tmp_path):
    arrays = dict(traces["plain"].arrays)
    arrays["L4.y"] = arrays["L4.y"].astype(np.float16)
    with pytest.raises(TraceFileError, match="L4.y holds float16 values, not the float32 numbers of its network"):
        Trace.load(_saved(tmp_path, arrays))
    arrays["L4.y"] = traces["plain"].arrays["L4.y"]
    arrays["L0.W"] = np.full(arrays["L0.W"].shape, 1e300)          # would overflow as the network's float32
    with pytest.raises(TraceFileError, match="L0.W holds float64 values, not the float32 numbers"):
        Trace.load(_saved(tmp_path, arrays))
    arrays = {k: (a.astype(np.float16) if a.dtype == np.float32 else a) for k, a in traces["plain"].arrays.items()}
    with pytest.raises(TraceFileError, match="input holds float16 values, not the float32 or float64 numbers"):
        Trace.load(_saved(tmp_path, arrays))


# ----------------------------------------------------------------------------- item 11: consistency

def _settings(t, **change):
    s = json.loads(str(t.arrays["optimizer"]))
    for k, v in change.items():
        if v is None:
            s.pop(k)
        else:
            s[k] = v
    return np.array(json.dumps(s))


def _swap(t, old, new):
    text = str(t.arrays["architecture"])
    assert f'"{old}"' in text
    return np.array(text.replace(f'"{old}"', f'"{new}"', 1))


def _poke(t, key, value, where=(0,)):
    a = np.array(t.arrays[key], copy=True)
    a.reshape(-1)[where] = value
    return a


BROKEN = {
    "no why": ("adam", lambda t: {"optimizer": _settings(t, why=None)}, "no sentence saying why"),
    "why not text": ("plain", lambda t: {"optimizer": _settings(t, why=["a", "b"])}, "'why'"),
    "no source": ("sgd", lambda t: {"optimizer": _settings(t, source="elsewhere")}, "source must be one of"),
    "beta1 is 1": ("adam", lambda t: {"optimizer": _settings(t, beta1=1.0)}, "beta1 is 1; it must be"),
    "lr is huge": ("plain", lambda t: {"optimizer": _settings(t, lr=1e308)}, "lr is 1e+308"),
    "step below 0": ("adam", lambda t: {"optimizer": _settings(t, step=-1)}, "step is -1"),
    "step a float": ("adam", lambda t: {"optimizer": _settings(t, step=2.5)}, "step is 2.5"),
    "lr missing": ("sgd", lambda t: {"optimizer": _settings(t, lr=None)}, "lr is None"),
    "label inf": ("plain", lambda t: {"label": np.array([np.inf])}, "label holds float64 values, not integers"),
    "label -inf": ("plain", lambda t: {"label": np.array([-np.inf])}, "label holds float64"),
    "label bool": ("plain", lambda t: {"label": np.array([True])}, "label holds bool"),
    "avgpool for l2pool": ("plain", lambda t: {"architecture": _swap(t, "l2pool", "avgpool")},
                           "L1.y is not what layer 1 (avgpool 2×2 s2) computes"),
    "l2pool for avgpool": ("adam", lambda t: {"architecture": _swap(t, "avgpool", "l2pool")},
                           "L4.y is not what layer 4 (l2pool 3×3 s1) computes"),
    "another activation": ("plain", lambda t: {"architecture": _swap(t, "tanh", "sigmoid")},
                           "L3.y is not what layer 3"),
    "another image": ("plain", lambda t: {"input": _poke(t, "input", 0.5, slice(None))}, "L0.x is not what"),
    "another weight": ("sgd", lambda t: {"L8.W": _poke(t, "L8.W", 3.0)}, "L8.z is not what layer 8"),
    "another step": ("adam", lambda t: {"L8.W_next": _poke(t, "L8.W_next", 1.0)}, "L8.W_next is not what"),
    "another state": ("adam", lambda t: {"L0.vW": _poke(t, "L0.vW", 0.25)}, "is not what"),
    "a winner moved": ("plain", lambda t: {"L6.argmax": _poke(t, "L6.argmax", t.arrays["L6.argmax"].flat[0] + 1)},
                       "L6.argmax is not what"),
    "NaN in a map": ("plain", lambda t: {"L2.y": _poke(t, "L2.y", np.nan)}, "L2.y holds NaN or infinite values"),
    "inf in a gradient": ("sgd", lambda t: {"L0.dW": _poke(t, "L0.dW", np.inf)}, "L0.dW holds NaN or infinite"),
    "NaN loss after": ("adam", lambda t: {"loss_next": np.array(np.nan)}, "loss_next holds NaN"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_trace_that_is_not_its_own_pass_is_refused_in_one_line(traces, tmp_path, case):
    kind, change, words = BROKEN[case]
    arrays = {**traces[kind].arrays, **change(traces[kind])}
    with pytest.raises(TraceFileError) as e:
        Trace.load(_saved(tmp_path, arrays))
    assert words in str(e.value) and "\n" not in str(e.value)


def test_a_model_opened_as_a_trace_is_named_a_model(tmp_path):
    """Open trace… on a model file said only "no 'optimizer' entry"; the model reader already names
    a trace opened as a model."""
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    save_model(tmp_path / "m.npz", Network(preset("tiny"), seed=0))
    with pytest.raises(TraceFileError, match="m.npz: .*this is a model file, not a trace"):
        Trace.load(tmp_path / "m.npz")


COLOUR = {"input": [3, 8, 8], "layers": [
    {"type": "conv", "filters": 2, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"},
    {"type": "maxpool", "size": 2, "stride": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "none"}]}
PICTURE = np.random.default_rng(6).random((3, 8, 8)).astype(np.float32)
MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)


@pytest.fixture(scope="module")
def normalised():
    """A trace of a colour model that normalises its input: its first layer takes (x − mean) / std."""
    net = Network(COLOUR, seed=3)
    net.normalises(MEAN, STD)
    return trace(net, PICTURE, 2)


def test_a_trace_of_a_model_that_normalises_its_input_opens_as_it_was_saved(normalised, tmp_path):
    """The trace keeps the normalisation (a trace of a normalised colour model could not be opened: its pass
    made again from the picture alone gave another L0.x, and the file was called not its own)."""
    t = normalised
    assert np.allclose(t.arrays["L0.x"][0], (PICTURE - np.array(MEAN)[:, None, None]) / np.array(STD)[:, None, None],
                       atol=1e-6)
    path = tmp_path / "n.npz"
    t.save(path)
    back = Trace.load(path)
    assert [tuple(v) for v in back.normalisation] == [MEAN, STD]
    assert back.arrays.keys() == t.arrays.keys()
    assert all(np.array_equal(back.arrays[k], t.arrays[k]) for k in t.arrays)
    assert trace(Network(COLOUR, seed=3), PICTURE, 2).normalisation is None


@pytest.mark.parametrize("case, said", [
    ("one", "'input_mean' without 'input_std'"),
    ("shape", "'input_std' must hold one float per input channel (3)"),
    ("zero", "standard deviation must be from"),
    ("other", "the input normalisation it names does not give its first layer's input"),
    ("old", "if the model normalises its input, this trace is from a version that did not keep how"),
])
def test_a_trace_with_a_normalisation_that_does_not_fit_is_refused_in_one_line(normalised, tmp_path, case, said):
    """Half a normalisation, one of the wrong size, a std of 0, another normalisation than the pass had, and a
    trace of a normalised model from before traces kept it: each a one-line refusal that says which."""
    arrays = dict(normalised.arrays)
    if case == "one":
        del arrays["input_std"]
    elif case == "shape":
        arrays["input_std"] = np.array([0.25, 0.24])
    elif case == "zero":
        arrays["input_std"] = np.array([0.25, 0.0, 0.26])
    elif case == "other":       # the pass made again from another normalisation gives another L0.x
        arrays["input_mean"] = np.array([0.5, 0.48, 0.45])
    else:
        del arrays["input_mean"], arrays["input_std"]
    with pytest.raises(TraceFileError) as e:
        Trace.load(_saved(tmp_path, arrays))
    assert said in str(e.value) and "\n" not in str(e.value)


def test_a_trace_keeps_the_names_of_its_outputs_and_refuses_bad_ones(normalised, tmp_path):
    """A trace names its network's outputs where they are not the digits (a trace opened from a file was
    named with whatever model the window had); its names are checked as a model file's."""
    import json
    net = Network(COLOUR, seed=3)
    names = ("ant", "bee", "cow", "dog", "eel", "fox", "gnu", "hen", "ibis", "jay")
    net.learns(names)
    t = trace(net, PICTURE, 2)
    assert Trace.load(_saved(tmp_path, t.arrays)).classes == names and normalised.classes[3] == "3"
    for bad, said in ((["ant"] * 10, "names 'ant' twice"), (names[:9], "must list 10 short names"),
                      ([n * 50 for n in names], "must list 10 short names")):
        arrays = dict(t.arrays, classes=np.array(json.dumps(list(bad))))
        with pytest.raises(TraceFileError, match=said):
            Trace.load(_saved(tmp_path, arrays))
    with pytest.raises(TraceFileError, match="characters long"):
        Trace.load(_saved(tmp_path, dict(t.arrays, classes=np.array("x" * 3000))))
