"""Carry a trained network on: PyTorch source code with its weights, or an ONNX graph.

* :func:`export_torch` writes ``model.py`` (readable code a learner can edit: an ``nn.Sequential``
  built layer by layer, each layer's output shape in a comment, ``load_model()``) and
  ``weights.npz`` beside it, plain arrays that NumPy reads without pickle.
* :func:`export_onnx` builds the ONNX graph with the ``onnx`` package alone (no PyTorch): input
  ``input`` of shape ``(N, C, H, W)`` with a dynamic batch axis ``N``, output ``logits``, opset
  :data:`ONNX_OPSET`; the class names are in its metadata (``classes``, JSON text).

Each layer type says what it is in PyTorch and ONNX in its own module
(:meth:`cnncore.layers.Layer.torch_modules`, :meth:`~cnncore.layers.Layer.onnx_nodes`,
:attr:`~cnncore.layers.Layer.torch_helper`); this module only puts the parts together.
The weights are written as float32, whatever the network's float type.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._atomic import atomic_savez, atomic_write_bytes, atomic_write_text
from .layers import layer_class
from .network import Network
from .tracekeys import layer_key

__all__ = ["export_torch", "export_onnx", "torch_source", "onnx_model", "OnnxGraph", "ExportError",
           "ONNX_OPSET", "EXPORT_EXTRA", "MODEL_FILE", "WEIGHTS_FILE", "next_steps"]

#: The ONNX operator set the graph uses (every operator here is in it unchanged since opset 11–13).
ONNX_OPSET = 17
#: The ONNX file format version that goes with opset 17 (readable by onnxruntime 1.13 and later).
_ONNX_IR_VERSION = 8
#: ``pip install cnnlab[export]`` installs what ONNX export needs.
EXPORT_EXTRA = "export"
MODEL_FILE = "model.py"
DEFAULT_TITLE = "A convolutional network"
WEIGHTS_FILE = "weights.npz"



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
    C, H, W = net.input_shape
    return (f"a float32 tensor of shape (N, {C}, {H}, {W}): N grey images of {H}×{W} pixels with\n"
            "values in [0, 1], scaled exactly as CNN Lab does: each 0–255 grey level divided by 255,\n"
            "light strokes (near 1) on a dark background (0); a drawing is first fitted into a 20×20\n"
            f"box and centred by its centre of mass in the {H}×{W} field, as MNIST's digits are.")


def _output_words(net: Network) -> str:
    learnt = f" of {net.dataset}" if net.dataset else ""
    return (f"the logits, a float32 tensor of shape (N, {net.num_classes}): one score per class{learnt}, "
            "in the order of CLASSES.\nSoftmax over the last axis gives the probabilities.")


def _layers(net: Network):
    """``(layer, class, spec)`` of every layer."""
    for layer in net.layers:
        yield layer, layer_class(layer.spec["type"]), layer.spec


def _shape(shape) -> str:
    return "(N, " + ", ".join(str(s) for s in shape) + ")"


# ----------------------------------------------------------------------------- PyTorch

_TORCH_TEMPLATE = '''"""{title}: {layers} layers, {params:,} parameters, exported from CNN Lab.

Input:  {input}
Output: {output}

    from model import load_model
    model = load_model()          # the weights come from {weights} beside this file
    logits = model(images)        # images as described above; returns (N, {classes})
"""
from pathlib import Path

import numpy as np
import torch
from torch import nn

#: The name of each output, in order{dataset}.
CLASSES = {classes_tuple}

{helpers}
def build() -> nn.Sequential:
    """The layers, with new random weights (load_model() puts the trained ones in)."""
    return nn.Sequential(
{modules}
    )


#: Which module of build() takes which weights of {weights} ("{first}.W" and "{first}.b" go to module {first_index}).
WEIGHTS = {weight_map}


def load_model(path=None) -> nn.Sequential:
    """The network with its trained weights, in eval mode.

    path: the weights file (default: {weights} beside this file); plain arrays, read without pickle.
    """
    model = build()
    path = Path(__file__).with_name("{weights}") if path is None else Path(path)
    with np.load(path, allow_pickle=False) as weights, torch.no_grad():
        for index, key in WEIGHTS.items():
            model[index].weight.copy_(torch.from_numpy(weights[key + ".W"]))
            model[index].bias.copy_(torch.from_numpy(weights[key + ".b"]))
    return model.eval()


if __name__ == "__main__":
    model = load_model()
    print(model)
    print("logits of a blank image:", model(torch.zeros(1, {input_shape})))
'''


def _torch_body(net: Network) -> tuple[list[str], list[str], dict]:
    """The module lines (with a comment per layer), the helper classes, and which module takes
    which layer's weights."""
    lines, helpers, weights, index = [], [], {}, 0
    for layer, cls, spec in _layers(net):
        lines.append(f"        # L{layer.index} {cls.describe(spec)}: output {_shape(layer.out_shape)}")
        if cls.torch_helper and cls.torch_helper not in helpers:
            helpers.append(cls.torch_helper)
        for k, module in enumerate(cls.torch_modules(spec, layer.in_shape)):
            if k == 0 and layer.has_params:
                weights[index] = f"L{layer.index}"
            lines.append(f"        {module},".ljust(80) + f"# [{index}]")
            index += 1
    return lines, helpers, weights


def torch_source(net: Network, title: str = DEFAULT_TITLE) -> str:
    """The text of ``model.py`` for ``net`` (see the module doc)."""
    lines, helpers, weights = _torch_body(net)
    first_index, first = next(iter(weights.items())) if weights else (0, "L0")
    return _TORCH_TEMPLATE.format(
        title=title, layers=len(net.layers), params=net.num_params(), input=_indent(_input_words(net)),
        output=_indent(_output_words(net)), weights=WEIGHTS_FILE, classes=net.num_classes,
        dataset=f" ({net.dataset})" if net.dataset else "", classes_tuple=repr(tuple(net.classes)),
        helpers="".join(h + "\n\n" for h in helpers), modules="\n".join(lines),
        weight_map="{" + ", ".join(f'{i}: "{k}"' for i, k in weights.items()) + "}",
        first=first, first_index=first_index, input_shape=", ".join(str(s) for s in net.input_shape))


def _indent(text: str) -> str:
    return text.replace("\n", "\n        ")


def _folder(out) -> Path:
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{out}: is a file; give a folder for model.py and {WEIGHTS_FILE}")
    if not folder.parent.is_dir():
        raise ExportError(f"{out}: the folder {folder.parent} does not exist")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as e:
        raise ExportError(f"{out}: cannot make the folder ({e.strerror or e})") from None
    return folder


def export_torch(net: Network, out, title: str = DEFAULT_TITLE) -> tuple[Path, Path]:
    """Write ``out/model.py`` and ``out/weights.npz`` (the folder is made if its parent exists);
    returns both paths. Each file is written atomically. PyTorch is not needed to write them."""
    folder = _folder(out)
    weights = {k: np.asarray(v, dtype=np.float32) for k, v in net.params().items()}
    weights_path = atomic_savez(folder / WEIGHTS_FILE, weights)
    model_path = atomic_write_text(folder / MODEL_FILE, torch_source(net, title))
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


def onnx_model(net: Network, title: str = DEFAULT_TITLE):
    """``net`` as an ``onnx.ModelProto`` (checked with ``onnx.checker``)."""
    onnx = _onnx()
    graph = OnnxGraph(onnx)
    x, shapes = "input", []
    for layer, cls, spec in _layers(net):
        graph.index = layer.index
        params = {"W": layer.W, "b": layer.b} if layer.has_params else {}
        x = cls.onnx_nodes(spec, layer.in_shape, graph, x, params)
        graph.nodes[-1].doc_string = f"L{layer.index} {cls.describe(spec)}: output {_shape(layer.out_shape)}"
        shapes.append(_float_tensor(onnx, x, layer.out_shape))
    graph.nodes.append(onnx.helper.make_node("Identity", [x], ["logits"], name="logits"))
    g = onnx.helper.make_graph(graph.nodes, "cnnlab", [_float_tensor(onnx, "input", net.input_shape)],
                               [_float_tensor(onnx, "logits", (net.num_classes,))], graph.constants,
                               doc_string=f"Input: {_input_words(net)}\nOutput: {_output_words(net)}",
                               value_info=shapes)
    model = onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", ONNX_OPSET)],
                                   ir_version=_ONNX_IR_VERSION, producer_name="cnnlab",
                                   doc_string=title)
    onnx.helper.set_model_props(model, {"classes": json.dumps(list(net.classes), ensure_ascii=False),
                                        "dataset": net.dataset})
    onnx.checker.check_model(model)
    return model


def export_onnx(net: Network, path, title: str = DEFAULT_TITLE) -> Path:
    """Write ``net`` as an ONNX file at ``path`` (atomically); needs the ``onnx`` package
    (:class:`ExportError` naming the extra to install when it is missing)."""
    model = onnx_model(net, title)
    return atomic_write_bytes(path, model.SerializeToString())
