"""Carry a trained network on: PyTorch source code with its weights, or an ONNX graph.

* :func:`export_torch` writes ``model.py`` (readable code a learner can edit: an ``nn.Sequential``
  built layer by layer, each layer's output shape in a comment, ``load_model()``),
  ``weights.npz`` beside it, plain arrays that NumPy reads without pickle, and last the manifest
  ``export.json`` that lets ``load_model()`` refuse the files of two different exports.
  The model's title, data set and class names are data: they go into ``model.py`` only as the
  ``repr()`` of constants, and the code is parsed back before it is written.
* :func:`export_onnx` builds the ONNX graph with the ``onnx`` package alone (no PyTorch): input
  ``input`` of shape ``(N, C, H, W)`` with a dynamic batch axis ``N``, output ``logits``, opset
  :data:`ONNX_OPSET`; the class names are in its metadata (``classes``, JSON text).

Each layer type says what it is in PyTorch and ONNX in its own module
(:meth:`cnncore.layers.Layer.torch_modules`, :meth:`~cnncore.layers.Layer.onnx_nodes`,
:attr:`~cnncore.layers.Layer.torch_helper`); this module only puts the parts together.
The weights are written as float32, whatever the network's float type.
"""
from __future__ import annotations

import ast
import hashlib
import io
import json
import re
import string
from pathlib import Path

import numpy as np

from ._atomic import Output, atomic_write_all, atomic_write_bytes
from .layers import layer_class
from .network import Network
from .tracekeys import layer_key

__all__ = ["export_torch", "export_onnx", "torch_source", "onnx_model", "OnnxGraph", "ExportError",
           "ONNX_OPSET", "EXPORT_EXTRA", "MODEL_FILE", "WEIGHTS_FILE", "MANIFEST_FILE", "MANIFEST_FORMAT",
           "next_steps"]

#: The ONNX operator set the graph uses (every operator here is in it unchanged since opset 11–13).
ONNX_OPSET = 17
#: The ONNX file format version that goes with opset 17 (readable by onnxruntime 1.13 and later).
_ONNX_IR_VERSION = 8
#: ``pip install cnnlab[export]`` installs what ONNX export needs.
EXPORT_EXTRA = "export"
MODEL_FILE = "model.py"
DEFAULT_TITLE = "A convolutional network"
WEIGHTS_FILE = "weights.npz"
#: Written last beside them: the format, the SHA-256 of both files, the input shape and the classes.
MANIFEST_FILE = "export.json"
MANIFEST_FORMAT = "cnnlab-torch-export-1"


def next_steps(kind: str, target, input_shape=(1, 28, 28)) -> str:
    """What to do next with an export written to ``target`` (the folder of a "torch" export, the
    file of an "onnx" one) for inputs of ``input_shape`` (C, H, W): two lines of Python, the
    path written with ``repr`` (never pasted in as text)."""
    shape = "(N, " + ", ".join(str(int(s)) for s in input_shape) + ")"
    if kind == "torch":
        return (f"from model import load_model     # run in {str(target)!r}, beside {MODEL_FILE} and {WEIGHTS_FILE}\n"
                f"logits = load_model()(images)    # images: float32 tensor {shape} in [0, 1]")
    if kind == "onnx":
        return ("import onnxruntime as ort\n"
                f"logits = ort.InferenceSession({str(target)!r}).run([\"logits\"], {{\"input\": images}})[0]"
                f"    # images: float32 {shape}")
    raise ValueError(f"no export {kind!r}: torch or onnx")


class ExportError(ValueError):
    """The export cannot be written (a missing package, an unusable target); the message says why."""


# ----------------------------------------------------------------------------- shared words

def _input_words(net: Network) -> str:
    """What the exported model takes, from the network's signature (shape, channels, normalisation)."""
    sig = net.signature
    C, H, W = sig.shape
    if sig.fit == "digit":                 # the convention of the digit sources and the Draw tab
        text = (f"a float32 tensor of shape (N, {C}, {H}, {W}): N grey images of {H}×{W} pixels with\n"
                "values in [0, 1], scaled exactly as CNN Lab does: each 0–255 grey level divided by 255,\n"
                "light strokes (near 1) on a dark background (0); a drawing is first fitted into a 20×20\n"
                f"box and centred by its centre of mass in the {H}×{W} field, as MNIST's digits are.")
    else:
        planes = {1: "one grey channel", 3: "its R, G and B planes in that order"}.get(C, f"{C} channels")
        text = (f"a float32 tensor of shape (N, {C}, {H}, {W}): N pictures of {H}×{W} pixels, {planes},\n"
                "values in [0, 1] (each 0–255 level divided by 255). CNN Lab brings a picture of another\n"
                f"size to {H}×{W} by scaling its shorter side to fit and cutting out the centre.")
    if sig.normalises:
        text += ("\nThe model normalises them itself (its first module): "
                 + sig.normalisation_words() + ".")
    return text


def _output_words(net: Network, order: str) -> str:
    """What the output is; the class names are named by where they are (``order``), never written
    here: this text goes into a docstring."""
    return (f"the logits, a float32 tensor of shape (N, {int(net.num_classes)}): one score per class, "
            f"in the order of {order}.\nSoftmax over the last axis gives the probabilities.")


def _layers(net: Network):
    """``(layer, class, spec)`` of every layer."""
    for layer in net.layers:
        yield layer, layer_class(layer.spec["type"]), layer.spec


def _shape(shape) -> str:
    return "(N, " + ", ".join(str(s) for s in shape) + ")"


# ----------------------------------------------------------------------------- PyTorch

# Data (the title, the data set, the class names, a digest) goes in only as ``repr()`` of a
# top-level constant ($title, $dataset, $classes, $weight_map, $sha); the rest is our own text and
# integers. torch_source() checks the result with ``ast`` before anything is written.
_TORCH_TEMPLATE = string.Template('''\
"""A convolutional network exported from CNN Lab: $layers layers, $params parameters.

TITLE names the model it came from, DATASET what it learnt, CLASSES its outputs.

Input:  $input
Output: $output

    from model import load_model
    model = load_model()          # the weights come from $weights beside this file
    logits = model(images)        # images as described above; returns (N, $classes_count)

Edit it as you like. load_model() first checks that $weights is the file exported with this
model.py (and the one $manifest, written last, records), so that an export interrupted
half-way is never run as half the old model and half the new.
"""
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

#: The model this was exported from, and the data set its classes come from.
TITLE = $title
DATASET = $dataset
#: The name of each output, in order.
CLASSES = $classes

$helpers
def build() -> nn.Sequential:
    """The layers, with new random weights (load_model() puts the trained ones in)."""
    return nn.Sequential(
$modules
    )


#: Which module of build() takes which weights of $weights ("$first.W" and "$first.b" go to module $first_index).
WEIGHTS = $weight_map
#: The SHA-256 of the $weights exported with this file.
WEIGHTS_SHA256 = $sha


class ExportMismatch(RuntimeError):
    """The weights are not the ones exported with this model.py."""


def load_model(path=None, check=True) -> nn.Sequential:
    """The network with its trained weights, in eval mode.

    path: the weights file (default: $weights beside this file); plain arrays, read without pickle.
    check: first make sure they are the weights exported with this file (check_export);
    check=False loads them anyway, e.g. after you replaced $weights on purpose.
    """
    path = Path(__file__).with_name("$weights") if path is None else Path(path)
    if check:
        check_export(path)
    model = build()
    with np.load(path, allow_pickle=False) as weights, torch.no_grad():
        for index, key in WEIGHTS.items():
            for name, part in (("weight", key + ".W"), ("bias", key + ".b")):
                param, array = getattr(model[index], name), weights[part]
                if tuple(param.shape) != array.shape:
                    raise ValueError(f"{part} in {path.name} has shape {array.shape}, but module "
                                     f"[{index}] of build() needs {tuple(param.shape)}")
                param.copy_(torch.from_numpy(array))
    return model.eval()


def check_export(path) -> None:
    """Raise ExportMismatch unless the weights file at path is the one exported with this
    model.py, and the one $manifest beside it records (when there is one)."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    recorded = [WEIGHTS_SHA256]
    manifest = Path(__file__).with_name("$manifest")
    if manifest.exists():
        try:
            recorded.append(json.loads(manifest.read_text(encoding="utf-8"))["files"]["$weights"])
        except (OSError, ValueError, KeyError, TypeError):
            recorded.append(None)
    if any(r != digest for r in recorded):
        raise ExportMismatch(f"{Path(path).parent}: this export was interrupted or edited: model.py and "
                             "$weights are from different exports; export again (or load_model(check=False) "
                             "to load these weights anyway)")


if __name__ == "__main__":
    model = load_model()
    print(model)
    print("logits of a blank image:", model(torch.zeros(1, $input_shape)))
''')
#: What model.py may hold at its top level besides its docstring, functions and classes.
_TORCH_IMPORTS = {"hashlib", "json", "pathlib", "numpy", "torch"}


def _comment(text: str) -> str:
    """``text`` fit for a ``#`` comment: nothing that could end the line."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _torch_body(net: Network) -> tuple[list[str], list[str], dict]:
    """The module lines (with a comment per layer), the helper classes, and which module takes
    which layer's weights."""
    lines, helpers, weights, index = [], [], {}, 0
    sig = net.signature
    if sig.normalises:                    # the input normalisation comes first, so the model takes [0, 1]
        helpers.append(_TORCH_NORMALISE)
        lines.append(_comment(f"        # the input: {sig.normalisation_words()}"))
        lines.append(f"        Normalise(mean={sig.mean!r}, std={sig.std!r}),".ljust(80) + f"# [{index}]")
        index += 1
    for layer, cls, spec in _layers(net):
        lines.append(_comment(f"        # L{layer.index} {cls.describe(spec)}: output {_shape(layer.out_shape)}"))
        if cls.torch_helper and cls.torch_helper not in helpers:
            helpers.append(cls.torch_helper)
        for k, module in enumerate(cls.torch_modules(spec, layer.in_shape)):
            if k == 0 and layer.has_params:
                weights[index] = f"L{layer.index}"
            lines.append(f"        {module},".ljust(80) + f"# [{index}]")
            index += 1
    return lines, helpers, weights


_TORCH_NORMALISE = '''class Normalise(nn.Module):
    """(x - mean) / std per channel: the model takes pictures with values in [0, 1]."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std'''


def torch_source(net: Network, title: str = DEFAULT_TITLE, weights_sha256: str = "") -> str:
    """The text of ``model.py`` for ``net`` (see the module doc); ``weights_sha256`` is the digest
    of the ``weights.npz`` it goes with, which its ``load_model()`` checks.

    ``title``, the data set and the class names are data: they go in as ``repr()`` of constants
    (``TITLE``, ``DATASET``, ``CLASSES``), never into a docstring or a comment, and the text is
    parsed back before it is returned (:class:`ExportError` if it is not the expected module)."""
    lines, helpers, weights = _torch_body(net)
    first_index, first = next(iter(weights.items())) if weights else (0, "L0")
    constants = {"TITLE": str(title), "DATASET": str(net.dataset), "CLASSES": tuple(str(c) for c in net.classes),
                 "WEIGHTS": weights, "WEIGHTS_SHA256": str(weights_sha256)}
    text = _TORCH_TEMPLATE.substitute(
        layers=len(net.layers), params=f"{net.num_params():,}", input=_indent(_input_words(net)),
        output=_indent(_output_words(net, "CLASSES")), weights=WEIGHTS_FILE, manifest=MANIFEST_FILE,
        classes_count=int(net.num_classes), title=repr(constants["TITLE"]), dataset=repr(constants["DATASET"]),
        classes=repr(constants["CLASSES"]), helpers="".join(h + "\n\n" for h in helpers),
        modules="\n".join(lines), weight_map=repr(weights), sha=repr(constants["WEIGHTS_SHA256"]),
        first=first, first_index=first_index, input_shape=", ".join(str(int(s)) for s in net.input_shape))
    _check_module(text, constants)
    return _sealed(text)


#: The last line of a model.py as an export writes it: the SHA-256 of the text before it. A model.py
#: whose seal holds is one nobody edited (an export may replace it); any other is the user's.
SEAL = "# CNN Lab export, unedited while this holds: sha256 "


def _sealed(text: str) -> str:
    return f"{text}{SEAL}{hashlib.sha256(text.encode('utf-8')).hexdigest()}\n"


def _seal_holds(path: Path) -> bool:
    """Whether ``path`` is a model.py an export wrote, as it wrote it (its last line's seal holds), its
    lines ended with CR LF or not (Git on Windows converts them: the text is the same)."""
    from ._safeio import UnreadableFile, open_regular
    try:
        with open_regular(path, limit=1 << 22) as f:
            data = f.read()
    except (OSError, UnreadableFile):
        return False
    body, _, last = data.replace(b"\r\n", b"\n").rstrip(b"\n").rpartition(b"\n")
    seal = SEAL.encode("utf-8")
    digest = hashlib.sha256(body + b"\n").hexdigest()
    return last.startswith(seal) and last[len(seal):].decode("ascii", "replace") == digest


#: The array an export's weights.npz holds beside the weights (the bytes of its own name): what tells
#: a weights.npz an export wrote, one it may replace, from a model or one's own arrays of that name.
EXPORT_MARK = "cnnlab_export"


#: The arrays of an export's weights.npz as versions before :data:`EXPORT_MARK` wrote it: a layer's
#: weights and biases only (a model file holds its ``architecture`` too).
_OLD_WEIGHTS = re.compile(r"L\d+\.[Wb]\.npy")


def _has_export_mark(path: Path) -> bool:
    """Whether ``path`` is a zip an export wrote: it holds :data:`EXPORT_MARK`, or, written by an earlier
    version, layers' weights and biases and nothing else (such a file left behind by an interrupted
    export must not keep the next one out). Its names only are read."""
    import zipfile
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, ValueError):
        return False
    return f"{EXPORT_MARK}.npy" in names or (bool(names) and all(_OLD_WEIGHTS.fullmatch(n) for n in names))


def _check_module(text: str, constants: dict) -> None:
    """Raise :class:`ExportError` unless ``text`` parses to the module torch_source() means: a
    docstring, imports of :data:`_TORCH_IMPORTS`, the ``constants`` as literals with exactly
    these values, functions and classes without decorators or computed defaults, and the
    ``__main__`` guard; nothing else runs at import."""
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        raise ExportError(f"the generated model.py does not parse ({e.msg}): nothing was written") from None
    doc, *body = tree.body
    ok = isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)
    found = {}
    for node in body:
        if isinstance(node, ast.Import):
            ok &= all(a.name.split(".")[0] in _TORCH_IMPORTS for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            ok &= (node.module or "").split(".")[0] in _TORCH_IMPORTS
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                ok = False
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defaults = node.args.defaults + node.args.kw_defaults if isinstance(node, ast.FunctionDef) else []
            ok &= not node.decorator_list and all(isinstance(d, ast.Constant) for d in defaults if d is not None)
        else:
            ok &= ast.unparse(node).startswith("if __name__ == '__main__':\n")
    if not ok or found != constants:
        raise ExportError("the generated model.py is not the expected code (a fault in CNN Lab): nothing was written")


def _indent(text: str) -> str:
    return text.replace("\n", "\n        ")


def _folder(out: Output) -> Path:
    """The export's folder (made if its parent exists); :class:`ExportError` if it cannot be."""
    folder = out.path
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder}: is a file; give a folder for {MODEL_FILE} and {WEIGHTS_FILE}")
    if not folder.parent.is_dir():
        raise ExportError(f"{folder}: the folder {folder.parent} does not exist")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as e:
        raise ExportError(f"{folder}: cannot make the folder ({e.strerror or e})") from None
    return folder


def _unless_exported(name: str):
    """The spare test (:class:`~cnncore.Output`) of the export's ``model.py`` or manifest: a model.py
    already there is replaced only when an export wrote it and nobody changed it since (its seal
    holds), a weights.npz only when an export wrote it (it holds :data:`EXPORT_MARK`, or the manifest
    beside it records it as it is: a model or one's own arrays saved as weights.npz are kept), a
    manifest only when it is one; never a model.py edited by
    hand, the user's own, or a file a link names."""
    def spare(written: Path) -> str | None:
        if name == WEIGHTS_FILE:        # (an export from before the mark: its manifest records the file)
            recorded = (_manifest(written.parent) or {}).get("files")
            try:
                ours = _has_export_mark(written) or (isinstance(recorded, dict)
                                                     and recorded.get(WEIGHTS_FILE) == _sha256(written))
            except OSError:
                ours = False
        elif name == MODEL_FILE:        # (an export from before the seal: its manifest records the text)
            recorded = (_manifest(written.parent) or {}).get("files")
            try:
                ours = _seal_holds(written) or (isinstance(recorded, dict)
                                                and recorded.get(MODEL_FILE) == _sha256(written))
            except OSError:             # (one it cannot read is not one it may replace)
                ours = False
        else:
            ours = _manifest(written.parent) is not None
        return None if ours else "not a file an export wrote, as it wrote it (edited since, or another file)"
    return spare


def _manifest(folder: Path) -> dict | None:
    """The export manifest in ``folder``, or None (none, or not one)."""
    from ._safeio import UnreadableFile, open_regular, read_json
    try:
        with open_regular(folder / MANIFEST_FILE, limit=1 << 16) as f:
            manifest = read_json(f.read().decode("utf-8"), max_depth=4)
    except (OSError, UnicodeDecodeError, UnreadableFile):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT else None


def _one_file_each(targets: dict) -> None:
    """:class:`~cnncore.OutputRefused` when one of the export's files is a link (to another of them, or
    into another export's folder) or two are one file (hard links)."""
    from ._atomic import OutputRefused, same_file
    for target in targets.values():
        if target.path.is_symlink():
            raise OutputRefused(f"{target.path} is a link (to {target.written}): an export writes its own files, "
                                "never through a link; export to another folder (nothing was written)")
    names = list(targets)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if same_file(targets[a].written, targets[b].written):
                raise OutputRefused(f"{targets[a].path} and {targets[b].path} are one file (hard links): an export "
                                    "writes each of its files apart; export to another folder (nothing was written)")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_torch(net: Network, out, title: str = DEFAULT_TITLE) -> tuple[Path, Path]:
    """Write ``out/weights.npz``, ``out/model.py`` and, last, ``out/export.json``; returns the
    paths of ``model.py`` and ``weights.npz``. PyTorch is not needed to write them.

    ``out`` is a folder (made if its parent exists; ``.`` will do), as a path or an
    :class:`~cnncore.Output` whose inputs none of the three files may be. Every target is
    checked before any is written (:class:`~cnncore.OutputRefused`: a FIFO, a folder, an
    input, a file an export did not write). The three are written together
    (:func:`~cnncore._atomic.atomic_write_all`: a full disk leaves the folder as it was); the
    manifest ``export.json`` (:data:`MANIFEST_FORMAT`, the SHA-256 of both files, the input
    shape, the classes) is moved into place last, and ``model.py`` holds the digest of its
    ``weights.npz``, so its ``load_model()`` refuses a pair from two exports, in one line.
    """
    out = Output(out)
    targets = {name: Output(out.inside(name), kinds=(Path(name).suffix,), instead="export to another folder",
                            spare=_unless_exported(name))
               for name in (WEIGHTS_FILE, MODEL_FILE, MANIFEST_FILE)}
    if out.path.is_dir():
        _one_file_each(targets)         # (first: a check reads what a link names)
        for name in (MANIFEST_FILE, MODEL_FILE, WEIGHTS_FILE):     # (whether weights.npz is ours reads the other two)
            targets[name].check()
    targets[WEIGHTS_FILE].check_not_own()       # (before its folder is made: none among cnnlab's own)
    _folder(out)
    buffer = io.BytesIO()
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in net.params().items()}
    np.savez(buffer, **arrays, **{EXPORT_MARK: np.frombuffer(EXPORT_MARK.encode("ascii"), np.uint8)})
    weights = buffer.getvalue()
    digest = hashlib.sha256(weights).hexdigest()
    source = torch_source(net, title, digest).encode("utf-8")
    manifest = {"format": MANIFEST_FORMAT,
                "files": {WEIGHTS_FILE: digest, MODEL_FILE: hashlib.sha256(source).hexdigest()},
                "input_shape": [int(s) for s in net.input_shape], "classes": list(net.classes)}
    text = json.dumps(manifest, indent=1, ensure_ascii=True) + "\n"
    weights_path, model_path, _ = atomic_write_all([
        (targets[WEIGHTS_FILE], lambda f: f.write(weights), "wb", None),
        (targets[MODEL_FILE], lambda f: f.write(source), "wb", None),
        (targets[MANIFEST_FILE], lambda f: f.write(text), "w", "utf-8")])
    return model_path, weights_path


# ----------------------------------------------------------------------------- ONNX

def _onnx():
    """The ``onnx`` package, or :class:`ExportError` saying which extra installs it."""
    try:
        import onnx
    except ImportError:
        raise ExportError(f"ONNX export needs the onnx package: pip install \"cnnlab[{EXPORT_EXTRA}]\" "
                          "(or pip install onnx)") from None
    return onnx


class OnnxGraph:
    """The nodes and constants of an ONNX graph, built layer by layer.

    Names are the trace's, ``L{i}.…`` (:func:`cnncore.tracekeys.layer_key`), for the layer
    :attr:`index` being added: a node's output is named after its operator (``L0.Conv``),
    a constant after what it is (``L0.W``)."""

    def __init__(self, onnx):
        self._onnx = onnx
        self.nodes, self.constants, self.index = [], [], 0
        self._names = set()

    def _name(self, what: str) -> str:
        name, n = layer_key(self.index, what), 1
        while name in self._names:
            n += 1
            name = layer_key(self.index, f"{what}{n}")
        self._names.add(name)
        return name

    def constant(self, what: str, array) -> str:
        """A constant tensor (float weights as float32); returns its name."""
        a = np.asarray(array)
        a = a.astype(np.float32) if a.dtype.kind == "f" else a
        name = self._name(what)
        self.constants.append(self._onnx.numpy_helper.from_array(np.ascontiguousarray(a), name))
        return name

    def node(self, op: str, inputs: list, **attributes) -> str:
        """One node of operator ``op`` reading ``inputs``; returns the name of its output."""
        out = self._name(op)
        self.nodes.append(self._onnx.helper.make_node(op, list(inputs), [out], name=out, **attributes))
        return out


def _float_tensor(onnx, name: str, shape: tuple):
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["N", *shape])


def _utf8(text: str) -> str:
    """``text`` with any lone surrogate (an undecodable byte of a file name) as a backslash escape."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def onnx_model(net: Network, title: str = DEFAULT_TITLE):
    """``net`` as an ``onnx.ModelProto`` (checked with ``onnx.checker``)."""
    onnx = _onnx()
    graph = OnnxGraph(onnx)
    x, shapes = _onnx_normalise(graph, net), []
    for layer, cls, spec in _layers(net):
        graph.index = layer.index
        params = {"W": layer.W, "b": layer.b} if layer.has_params else {}
        x = cls.onnx_nodes(spec, layer.in_shape, graph, x, params)
        graph.nodes[-1].doc_string = f"L{layer.index} {cls.describe(spec)}: output {_shape(layer.out_shape)}"
        shapes.append(_float_tensor(onnx, x, layer.out_shape))
    graph.nodes.append(onnx.helper.make_node("Identity", [x], ["logits"], name="logits"))
    words = f"Input: {_input_words(net)}\nOutput: {_output_words(net, 'the classes in its metadata')}"
    g = onnx.helper.make_graph(graph.nodes, "cnnlab", [_float_tensor(onnx, "input", net.input_shape)],
                               [_float_tensor(onnx, "logits", (net.num_classes,))], graph.constants,
                               doc_string=words,
                               value_info=shapes)
    model = onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", ONNX_OPSET)],
                                   ir_version=_ONNX_IR_VERSION, producer_name="cnnlab",
                                   doc_string=_utf8(title))
    # Data, as data: protobuf strings, which nothing evaluates (UTF-8: a file name's undecodable
    # bytes are written as backslash escapes).
    onnx.helper.set_model_props(model, {"classes": _utf8(json.dumps(list(net.classes), ensure_ascii=False)),
                                        "dataset": _utf8(net.dataset)})
    onnx.checker.check_model(model)
    return model


def _onnx_normalise(graph: OnnxGraph, net: Network) -> str:
    """The input's normalisation ``(x − mean) / std`` (Sub and Div nodes, named ``L0.…``, before
    layer 0's own) when the network has one; returns the name of what layer 0 reads."""
    sig = net.signature
    if not sig.normalises:
        return "input"
    shape = (1, sig.channels, 1, 1)
    mean = graph.constant("input_mean", np.reshape(sig.mean, shape))
    std = graph.constant("input_std", np.reshape(sig.std, shape))
    x = graph.node("Div", [graph.node("Sub", ["input", mean]), std])
    graph.nodes[-1].doc_string = f"the input: {sig.normalisation_words()}"
    return x


def export_onnx(net: Network, path, title: str = DEFAULT_TITLE) -> Path:
    """Write ``net`` as an ONNX file at ``path`` (a path or an :class:`~cnncore.Output`,
    atomically); needs the ``onnx`` package (:class:`ExportError` naming the extra to install
    when it is missing). The title, data set and class names are metadata strings."""
    model = onnx_model(net, title)
    return atomic_write_bytes(path, model.SerializeToString())
