"""``cnnapp export``: a model as PyTorch code and weights, or as an ONNX graph (:mod:`cnncore.export`).

::

    cnnapp export MODEL.npz --to torch --out DIR | --to onnx --out FILE.onnx
"""
from __future__ import annotations

from pathlib import Path

from .answers import load_model
from .args import CliError
from .outputs import output

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    x = sub.add_parser("export", help="write a model as PyTorch code and weights, or as an ONNX file")
    x.add_argument("model", metavar="MODEL.npz")
    x.add_argument("--to", required=True, choices=("torch", "onnx"),
                   help="torch: DIR/model.py, DIR/weights.npz and the manifest DIR/export.json; onnx: one .onnx "
                        "file (needs pip install \"cnnlab[export]\")")
    x.add_argument("--out", required=True, metavar="DIR|FILE.onnx")
    x.set_defaults(func=run)


def run(args) -> int:
    """``cnnapp export MODEL.npz --to torch --out DIR`` or ``--to onnx --out FILE.onnx``."""
    from cnncore import Output, OutputRefused
    from cnncore.export import MANIFEST_FILE, ExportError, export_onnx, export_torch, next_steps

    net = load_model(args.model)
    title = Path(args.model).name
    try:
        if args.to == "torch":       # a folder: export_torch checks its three files before writing any
            model_path, weights_path = export_torch(net, Output(args.out, [args.model]), title)
            print(f"wrote {model_path}, {weights_path} and {model_path.with_name(MANIFEST_FILE)}")
        else:
            print(f"wrote {export_onnx(net, output(args, '.onnx'), title)}")
    except ExportError as e:
        raise CliError(f"export: {e}") from None
    except OutputRefused as e:
        raise CliError(f"--out {e}") from None
    text = next_steps(args.to, Path(args.out).resolve(), net.input_shape)
    print("next, in Python:\n    " + text.replace("\n", "\n    "))
    return 0
