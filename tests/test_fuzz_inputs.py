"""Seeded fuzzing of every file the app and the command line read.

Valid model, architecture, IDX, PNG and drawings files, traces (of every layer type, with each
optimizer's step), models with optimizer state and lessons are made here, then mutated (bytes
flipped, inserted, deleted, truncated; integers set to extreme values; members of an archive
rewritten with correct checksums so the damage reaches the parsers; a member's values, type or
shape, a JSON entry's key, value or layer type changed); architectures of every layer type are
also made with extreme fields. Settings files are made from a grammar (``tests/settings_texts.py``:
old INI files with sections, ``%`` keys, quoted, continued and escaped values, lists, Qt's ``@``
types, deep nesting, huge numbers; JSON files with hostile values), some of them mutated too. Each
file goes through the Python API and, for some, through ``cnnapp`` in-process, and must give:

* from the API, a result or only the documented exception (``ModelFileError``,
  ``ArchitectureError``, ``IDXError``, ``PNGError``, ``DrawingsFileError``, ``TraceFileError``,
  ``LessonFileError``), and recover mode of the drawings always recovers; the settings never raise
  and hold plain values only (an old INI file gives text only);
* from the command line, exit 0, or exit 2 with exactly one line on stderr;
* at most :data:`PEAK_MB` MB allocated (traced by ``tracemalloc``, NumPy's buffers
  included) and at most :data:`SECONDS` seconds for one input.

The run is bounded by time: ``CNNLAB_FUZZ_SECONDS`` (default 5, shared by the kinds
of file); ``CNNLAB_FUZZ_SEED`` picks another seed. ``pytest -s`` prints the counts.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import struct
import time
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np
import pytest

from cnnapp.cli import main
from cnnapp.state.legacy_ini import read_ini
from cnnapp.state.settings_store import SettingsStore, is_plain
from cnncore.architecture import ArchitectureError, parse_architecture, preset, summarize
from cnncore.datasets import IDXError, load_idx_pair, read_idx
from cnncore.datasets.drawings import DrawingsDataset, DrawingsFileError
from cnncore.datasets.png import PNGError, read_png
from cnncore.modelio import ModelFileError, load_model, save_model
from cnncore.network import Network
from settings_texts import ini_text, json_text

BUDGET = float(os.environ.get("CNNLAB_FUZZ_SECONDS", "5"))
SEED = int(os.environ.get("CNNLAB_FUZZ_SEED", "14"))
#: Peak memory one input may take (a 20 M-parameter network alone is 240 MB with its gradients).
PEAK_MB = 512
#: Time one input may take.
SECONDS = 5.0
_EXTREMES = [0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 10**6, 2**20]


# ----------------------------------------------------------------------------- mutations

def mutate(data: bytes, rng) -> bytes:
    b = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        op = int(rng.integers(0, 7))
        pos = int(rng.integers(0, max(len(b), 1)))
        if op == 0 and b:                                    # flip a few bytes
            for _ in range(int(rng.integers(1, 9))):
                b[int(rng.integers(0, len(b)))] = int(rng.integers(0, 256))
        elif op == 1:                                        # an extreme 32-bit integer
            v = _EXTREMES[int(rng.integers(0, len(_EXTREMES)))]
            b[pos:pos + 4] = struct.pack(">I" if rng.random() < 0.5 else "<I", v)
        elif op == 2:                                        # truncate
            del b[pos:]
        elif op == 3:                                        # insert random bytes
            b[pos:pos] = rng.integers(0, 256, int(rng.integers(1, 64))).astype(np.uint8).tobytes()
        elif op == 4:                                        # delete a range
            del b[pos:pos + int(rng.integers(1, 64))]
        elif op == 5 and b:                                  # duplicate a range
            n = int(rng.integers(1, 256))
            b[pos:pos] = b[pos:pos + n]
        else:                                                # a huge or negative decimal number (text)
            b[pos:pos] = str(int(rng.choice([-1, 10**9, 2**31, 2**40, 10**30, 10**400]))).encode()
    return bytes(b)


def mutate_member(data: bytes, rng) -> bytes:
    """Rewrite one member of an .npz, mutated, with correct checksums."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = [(zi.filename, z.read(zi)) for zi in z.infolist()]
    except Exception:  # noqa: BLE001 - an earlier mutation broke the archive: mutate the bytes
        return mutate(data, rng)
    k = int(rng.integers(0, len(members)))
    name, body = members[k]
    if rng.random() < 0.2:
        name = name[:-4] + ("\n" if rng.random() < 0.5 else "") + ".npy"
    members[k] = (name, mutate(body, rng))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED if rng.random() < 0.3 else zipfile.ZIP_STORED) as z:
        for n, body in members:
            z.writestr(n, body)
    return out.getvalue()


def fix_png_crcs(data: bytes) -> bytes:
    """Recompute every chunk's CRC, so the damage reaches the decoder."""
    out, pos = bytearray(data[:8]), 8
    while pos + 8 <= len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        body = data[pos + 4:pos + 8 + n]
        if pos + 12 + n > len(data):
            out += data[pos:]
            break
        out += data[pos:pos + 8 + n] + struct.pack(">I", zlib.crc32(body))
        pos += 12 + n
    return bytes(out)


# ----------------------------------------------------------------------------- valid seeds

def _png(grey: np.ndarray, color=0, filt=4, palette=False) -> bytes:
    g = (grey * 255).astype(np.uint8)
    H, W = g.shape
    if palette:
        color, px = 3, (g // 64)[..., None]
    else:
        px = g[..., None] if color == 0 else np.stack([g, g, g, np.full_like(g, 200)], axis=-1)
    raw = b"".join(bytes([filt]) + row.tobytes() for row in px.reshape(H, -1))  # filter bytes on raw rows

    def chunk(t, body):
        return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body))
    extra = chunk(b"PLTE", bytes(range(12))) + chunk(b"tRNS", b"\xff\x80") if palette else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, color, 0, 0, 0)) + extra
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _idx(X: np.ndarray) -> bytes:
    magic = 2051 if X.ndim == 3 else 2049
    return struct.pack(f">I{X.ndim}I", magic, *X.shape) + X.astype(np.uint8).tobytes()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(SEED)
    model = d / "model.npz"
    save_model(model, Network(preset("tiny"), seed=0))
    X = rng.integers(0, 256, (6, 28, 28)).astype(np.uint8)
    y = rng.integers(0, 10, 6).astype(np.uint8)
    (d / "images").write_bytes(_idx(X))
    (d / "labels").write_bytes(_idx(y))
    drawings = io.BytesIO()
    np.savez(drawings, images=X, labels=y)
    grey = rng.random((12, 10))
    return {
        "dir": d, "model": model, "images": d / "images", "labels": d / "labels",
        "model_bytes": model.read_bytes(),
        "arch": [json.dumps(preset(p)).encode() for p in ("tiny", "lenet")],
        "idx": [_idx(X), _idx(y), gzip.compress(_idx(X)), gzip.compress(_idx(y))],
        "png": [_png(grey, 0, 4), _png(grey, 6, 3), _png(grey, palette=True, filt=1)],
        "drawings": drawings.getvalue(),
    }


# ----------------------------------------------------------------------------- the runs

def _measure(fn, *args):
    """``(result or exception, seconds, peak MB)``; only the documented types may escape ``fn``."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        out = fn(*args)
    except Exception as e:  # noqa: BLE001 - the caller checks the type
        out = e
    finally:
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / (1 << 20)
        tracemalloc.stop()
    return out, seconds, peak


def _cli(capsys, argv) -> int:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc in (0, 2), (argv, rc, err)
    if rc == 2:
        assert err.count("\n") == 1 and "Traceback" not in err, err
    return rc


def _case_model(seeds, rng, path, capsys, k):
    data = seeds["model_bytes"]
    path.write_bytes(mutate_member(data, rng) if rng.random() < 0.6 else mutate(data, rng))
    yield load_model, (path,), ModelFileError
    if k % 5 == 0:
        _cli(capsys, ["eval", str(path), "--images", str(seeds["images"]), "--labels", str(seeds["labels"])])


def _case_arch(seeds, rng, path, capsys, k):
    text = mutate(seeds["arch"][k % 2], rng).decode("utf-8", errors="replace")
    for fn in (parse_architecture, summarize, Network):
        yield fn, (text,), ArchitectureError


def _case_idx(seeds, rng, path, capsys, k):
    src = seeds["idx"][k % 4]
    if k % 4 >= 2 and rng.random() < 0.5:                   # damage inside the gzip stream
        data = gzip.compress(mutate(gzip.decompress(src), rng))
    else:
        data = mutate(src, rng)
    path.write_bytes(data)
    yield read_idx, (path,), IDXError
    pair = (path, seeds["labels"]) if k % 2 == 0 else (seeds["images"], path)
    yield load_idx_pair, pair, IDXError
    if k % 5 == 0:
        _cli(capsys, ["eval", str(seeds["model"]), "--images", str(pair[0]), "--labels", str(pair[1])])


def _case_png(seeds, rng, path, capsys, k):
    data = mutate(seeds["png"][k % 3], rng)
    path.write_bytes(fix_png_crcs(data) if rng.random() < 0.7 else data)
    yield read_png, (path,), PNGError
    if k % 5 == 0:
        _cli(capsys, ["predict", str(seeds["model"]), str(path)])


def _case_drawings(seeds, rng, path, capsys, k):
    data = seeds["drawings"]
    path.write_bytes(mutate_member(data, rng) if rng.random() < 0.6 else mutate(data, rng))
    yield DrawingsDataset, (path,), DrawingsFileError
    ds = DrawingsDataset(path, recover=True)                 # never raises: moves a bad file aside
    ds.append(np.zeros((28, 28), np.uint8), 1)
    if ds.recovered_from is not None:
        ds.recovered_from.unlink()


# ----------------------------------------------------------------------------- traces, optimizer state, layers
# (issue 20: what the fuzzing above did not reach). Their valid seeds are made once, on first use.

#: A network of every layer type, with strides, padding and overlapping windows.
EVERY_LAYER = {"input": [1, 28, 28], "layers": [
    {"type": "conv", "filters": 3, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"},
    {"type": "l2pool", "size": 2}, {"type": "upsample", "factor": 2},
    {"type": "conv", "filters": 2, "kernel": [3, 5], "stride": 2, "padding": [0, 1], "activation": "tanh"},
    {"type": "avgpool", "size": 3, "stride": 1}, {"type": "downsample", "factor": 2},
    {"type": "maxpool", "size": 2, "stride": 1}, {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "none"}]}
#: Values a mutated number takes: the edges of every range the readers check, and worse.
_NUMBERS = [0, 1, -1, 0.5, 2, 1e-45, 1e-320, 1e38, -1e38, 1e308, float("inf"), -float("inf"), float("nan"),
            2**31, 2**53 + 1, 2**63 - 1, 10**30, 1 + 1j, True]
_DTYPES = ["int8", "int64", "uint64", "float16", "float32", "float64", "complex128", "bool", "<U5", ">f4"]


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _trained(spec, optimizer):
    from cnncore.training import TrainConfig, Trainer
    net = Network(spec, seed=1)
    X = np.random.default_rng(2).integers(0, 256, (20, 28, 28)).astype(np.uint8)
    list(Trainer(net, X, np.arange(20) % 10, config=TrainConfig(optimizer=optimizer, epochs=1, augment=0,
                                                                 batch_size=10)).run())
    return net


_MADE: dict = {}


def _made(seeds, what: str):
    """Valid traces (tiny and every layer type; plain, Adam's and SGD's step) and trained models
    (Adam, SGD with momentum), as bytes, made once."""
    if not _MADE:
        from cnncore.trace import trace
        image = np.random.default_rng(5).random((28, 28)).astype(np.float32)
        traces = []
        for spec in (preset("tiny"), EVERY_LAYER):
            traces.append(trace(Network(spec, seed=0), image, 4).arrays)
            traces += [trace(_trained(spec, o), image, 7).arrays for o in ("adam", "sgd")]
        _MADE["traces"] = [_npz_bytes(a) for a in traces]
        models = []
        for o in ("adam", "sgd"):
            save_model(seeds["dir"] / f"{o}.npz", _trained(preset("tiny"), o))
            models.append((seeds["dir"] / f"{o}.npz").read_bytes())
        _MADE["models"] = models
    return _MADE[what]


def _odd_value(a: np.ndarray, rng) -> np.ndarray:
    """``a`` with a changed value, type or shape."""
    op = int(rng.integers(0, 4))
    v = _NUMBERS[int(rng.integers(0, len(_NUMBERS)))]
    if op == 0 and a.size and a.dtype.kind in "fiuc":           # a few entries set to an odd number
        b = np.array(a, dtype=np.result_type(a.dtype, np.asarray(v).dtype), copy=True).reshape(-1)
        b[rng.integers(0, b.size, int(rng.integers(1, 4)))] = v
        return b.reshape(a.shape)
    if op == 1:                                                  # another type
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return a.astype(_DTYPES[int(rng.integers(0, len(_DTYPES)))])
            except (ValueError, TypeError, OverflowError):
                return a
    if op == 2:                                                  # another shape
        shapes = [(), (1,), (0,), (3,), a.shape[:-1], a.shape + (1,), (a.size + 1,), tuple(s + 1 for s in a.shape)]
        return np.full(shapes[int(rng.integers(0, len(shapes)))], v)
    return np.array(v)                                           # a lone number in place of the entry


def _odd_json(text: str, rng) -> str:
    """An architecture or optimizer entry with one value, key or layer type changed."""
    try:
        d = json.loads(text)
    except ValueError:
        return text
    node = d if "layers" not in d else d["layers"][int(rng.integers(0, len(d["layers"])))]
    key = list(node)[int(rng.integers(0, len(node)))] if node else "type"
    r = rng.random()
    if r < 0.25:
        node.pop(key, None)
    elif r < 0.5 and "type" in node:
        from cnncore.layers import LAYER_TYPES
        node["type"] = list(LAYER_TYPES)[int(rng.integers(0, len(LAYER_TYPES)))]
    else:
        v = _NUMBERS[int(rng.integers(0, len(_NUMBERS)))]
        node[key] = (str(v) if isinstance(v, complex) else v) if rng.random() < 0.8 else [v, 1]
    return json.dumps(d)


def _odd_trace(data: bytes, rng) -> bytes:
    arrays = dict(np.load(io.BytesIO(data)))
    key = list(arrays)[int(rng.integers(0, len(arrays)))]
    if rng.random() < 0.1:
        del arrays[key]
    elif key in ("architecture", "optimizer"):
        arrays[key] = np.array(_odd_json(str(arrays[key]), rng))
    else:
        arrays[key] = _odd_value(arrays[key], rng)
    return _npz_bytes(arrays)


def _case_trace(seeds, rng, path, capsys, k):
    from cnncore.trace import Trace, TraceFileError
    data = _made(seeds, "traces")[k % len(_made(seeds, "traces"))]
    r = rng.random()
    path.write_bytes(_odd_trace(data, rng) if r < 0.5 else mutate_member(data, rng) if r < 0.8 else mutate(data, rng))
    yield Trace.load, (path,), TraceFileError


def _case_optimizer(seeds, rng, path, capsys, k):
    arrays = dict(np.load(io.BytesIO(_made(seeds, "models")[k % 2])))
    opt = [key for key in arrays if key.startswith("opt.")]
    for _ in range(int(rng.integers(1, 3))):
        key = opt[int(rng.integers(0, len(opt)))] if rng.random() < 0.9 else "opt.extra"
        if rng.random() < 0.1:
            arrays.pop(key, None)
        else:
            arrays[key] = _odd_value(arrays.get(key, np.array(0.0)), rng)
    path.write_bytes(_npz_bytes(arrays))
    yield load_model, (path,), ModelFileError
    _cli(capsys, ["trace", str(path), "--images", str(seeds["images"]), "--labels", str(seeds["labels"]),
                  "--index", "0", "--out", str(path.with_suffix(".trace.npz"))])
    path.with_suffix(".trace.npz").unlink(missing_ok=True)


_FIELD_VALUES = [0, 1, 2, 3, 7, 28, 74, 1000, 4096, 65535, 2**31 - 1, 2**31, -1]


def _odd_layer(rng) -> dict:
    """A layer of any type with each field extreme, or absent, or of the wrong kind."""
    from cnncore.activations import ACTIVATIONS
    from cnncore.layers import LAYER_TYPES
    cls = list(LAYER_TYPES.values())[int(rng.integers(0, len(LAYER_TYPES)))]
    layer = {"type": cls.type}
    for f in cls.fields:
        if rng.random() < 0.2:
            continue
        if f.kind == "activation":
            names = list(ACTIVATIONS) + ["softmax", 3]
            layer[f.key] = names[int(rng.integers(0, len(names)))]
        else:
            pick = lambda: _FIELD_VALUES[int(rng.integers(0, len(_FIELD_VALUES)))]   # noqa: E731
            layer[f.key] = [pick(), pick()] if f.kind == "pair" and rng.random() < 0.4 else pick()
    return layer


def _case_layers(seeds, rng, path, capsys, k):
    """Architectures of every layer type with extreme fields: refused with ArchitectureError, or
    built, and then one picture's forward pass stays within the time and memory bounds."""
    sides = [1, 2, 5, 28, 64, 500, 2000, 65536]
    spec = {"input": [int(rng.choice([1, 3])), int(rng.choice(sides)), int(rng.choice(sides))],
            "layers": [_odd_layer(rng) for _ in range(int(rng.integers(1, 5)))]}
    if rng.random() < 0.8:
        spec["layers"] += [{"type": "flatten"}, {"type": "dense", "units": 10, "activation": "none"}]
    for fn in (summarize, Network):
        yield fn, (spec,), ArchitectureError
    try:
        net = Network(spec)
    except ArchitectureError:
        return
    yield net.predict_proba, (np.zeros((1, *net.input_shape), np.float32),), ()



def _ini_texts(data: bytes) -> dict:
    """An old INI file's values: text (or lists of text) only, whatever the file holds."""
    values, typed = read_ini(data)
    for v in values.values():
        if not (type(v) is str or type(v) is list and all(type(x) is str for x in v)):
            raise AssertionError(f"the INI reader built {type(v).__name__}")
    return values


def _open_settings(folder, legacy) -> dict:
    """The load path the app takes at start (folder, JSON file or migration, setting aside), and
    a save: never raises, and holds plain values only."""
    store = SettingsStore.open(folder, legacy)
    if not is_plain(store.data):
        raise AssertionError(f"the settings hold what is not a plain value: {str(store.data)[:200]}")
    store.save()
    store.take_message()
    return store.data


def _case_settings(seeds, rng, path, capsys, k):
    folder = path.with_name(path.name + ".d")
    folder.mkdir()
    legacy = folder / "cnnlab.ini"
    if k % 2 == 0:
        data = ini_text(rng)
        data = mutate(data, rng) if rng.random() < 0.3 else data
        yield _ini_texts, (data,), ()
        legacy.write_bytes(data)
    else:
        data = json_text(rng)
        (folder / "settings.json").write_bytes(mutate(data, rng) if rng.random() < 0.3 else data)
    yield _open_settings, (folder, legacy), ()
    shutil.rmtree(folder)


KINDS = {"model": _case_model, "architecture": _case_arch, "idx": _case_idx, "png": _case_png,
         "drawings": _case_drawings, "settings": _case_settings}


# A lesson (cnncore.lesson): the .cnnlesson file, mutated in its members and bytes, and a student's
# results file; only LessonFileError may escape, and a lesson that is accepted can be followed.

def _lesson_seed(seeds):
    """``(lesson, its file's bytes, a student's results as bytes)``, made once: a tiny model, two
    pictures, a note, a predict question and a multiple choice."""
    if "lesson" not in seeds:
        from cnncore.lesson import (ChoiceQuestion, Element, Lesson, LessonRun, PredictQuestion, Source, Stop,
                                    save_lesson)
        X = np.random.default_rng(SEED).integers(0, 256, (2, 28, 28)).astype(np.uint8)
        stops = (Stop("backprop", 0, 0, "# Look\n\nThe *z* maps."),
                 Stop("backprop", 1, 3, "", Element("probs", (0, 7)), PredictQuestion("softmax")),
                 Stop("learn", 0, 4, "", None, ChoiceQuestion("Which?", ("a", "b", "c"), (0, 2))))
        lesson = Lesson(Network(preset("tiny"), seed=0), X, [2, 7], stops, Source("generated", 0, (0, 1)), "fuzz")
        save_lesson(seeds["dir"] / "seed.cnnlesson", lesson)
        run = LessonRun(lesson, "Ada")
        run.next()
        run.answer("0.1")
        run.next()
        run.answer([0, 2])
        seeds["lesson"] = (lesson, (seeds["dir"] / "seed.cnnlesson").read_bytes(),
                           json.dumps(run.results.to_json()).encode())
    return seeds["lesson"]


def _follow(path):
    """Open a lesson and answer every question it asks (a number, or the first choice)."""
    from cnncore.lesson import LessonRun, load_lesson
    run = LessonRun(load_lesson(path), "Ada")
    while True:
        if run.must_answer:
            q = run.question
            run.answer([0] if hasattr(q, "right") else 0 if q.is_choice else "0.5")
        if not run.next():
            return run.score()


_HOSTILE = [None, True, False, -1, 0, 1, 2**31, 2**63, 10**30, 1e308, -0.0, "", "x" * 1000, "\ud800", "L0.z\n",
            [], [0] * 9, [[[[]]]], {}, {"type": "choice"}, {"key": "probs", "index": [0, 0]}]


def _mutate_json(data: bytes, rng) -> bytes:
    """One value of a JSON text (any depth) replaced by a hostile one: the damage reaches the checks
    behind the parser."""
    obj = json.loads(data)
    paths, todo = [], [((), obj)]
    while todo:
        where, v = todo.pop()
        paths.append(where)
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        todo += [(where + (key,), child) for key, child in items]
    where = paths[int(rng.integers(1, len(paths)))] if len(paths) > 1 else ()
    parent = obj
    for key in where[:-1]:
        parent = parent[key]
    if where:
        parent[where[-1]] = _HOSTILE[int(rng.integers(0, len(_HOSTILE)))]
    return json.dumps(obj).encode()


def _with_member(data: bytes, name: str, body: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members[name] = body
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in members.items():
            z.writestr(n, b)
    return out.getvalue()


def _case_lesson(seeds, rng, path, capsys, k):
    from cnncore.lesson import LessonFileError, load_results
    lesson, data, results = _lesson_seed(seeds)
    if k % 3 == 2:
        path.write_bytes(_mutate_json(results, rng) if rng.random() < 0.5 else mutate(results, rng))
        yield load_results, (path,), LessonFileError
        yield load_results, (path, lesson), LessonFileError
        return
    r = rng.random()
    if r < 0.35:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            text = z.read("lesson.json")
        data = _with_member(data, "lesson.json", _mutate_json(text, rng))
    path.write_bytes(mutate_member(data, rng) if 0.35 <= r < 0.75 else mutate(data, rng) if r >= 0.75 else data)
    yield _follow, (path,), LessonFileError


KINDS["trace"] = _case_trace
KINDS["optimizer"] = _case_optimizer
KINDS["layers"] = _case_layers
KINDS["lesson"] = _case_lesson


@pytest.mark.parametrize("kind", list(KINDS))
def test_fuzzed_files_give_documented_errors_within_memory_and_time(seeds, kind, capsys, tmp_path):
    rng = np.random.default_rng([SEED, list(KINDS).index(kind)])
    stop = time.perf_counter() + BUDGET / len(KINDS)
    counts = {"inputs": 0, "accepted": 0, "refused": 0}
    worst_seconds = worst_mb = 0.0
    k = 0
    while time.perf_counter() < stop or k < 20:
        path = tmp_path / f"{kind}-{k}"
        for fn, args, allowed in KINDS[kind](seeds, rng, path, capsys, k):
            out, seconds, peak = _measure(fn, *args)
            counts["inputs"] += 1
            if isinstance(out, Exception):
                assert isinstance(out, allowed), f"{kind} case {k}: {fn.__name__} raised {out!r}"
                assert "\n" not in str(out), f"{kind} case {k}: two-line message {str(out)!r}"
                counts["refused"] += 1
            else:
                counts["accepted"] += 1
            assert seconds < SECONDS, f"{kind} case {k}: {fn.__name__} took {seconds:.1f} s"
            assert peak < PEAK_MB, f"{kind} case {k}: {fn.__name__} allocated {peak:.0f} MB"
            worst_seconds, worst_mb = max(worst_seconds, seconds), max(worst_mb, peak)
        if path.exists():
            path.unlink()
        k += 1
    with capsys.disabled():
        print(f"\nfuzz {kind}: {k} files, {counts['inputs']} calls, {counts['accepted']} accepted, "
              f"{counts['refused']} refused with the documented error; slowest {worst_seconds:.3f} s, "
              f"peak {worst_mb:.1f} MB")
