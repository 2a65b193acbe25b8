"""The layer-type registry: one home per type, read by everything else; an unknown type is an error."""
from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import numpy as np
import pytest

from cnncore import activations
from cnncore.architecture import ArchitectureError, describe_layer, parse_architecture, summarize
from cnncore.layers import LAYER_TYPES, Layer, build_layer, layer_class
from cnncore.tracekeys import layer_key, split_key

ROOT = Path(__file__).resolve().parent.parent


def _string_literals(path: Path) -> set:
    """The values of every plain string literal in a Python file (f-strings and docstrings count
    only when their whole value is the string)."""
    out = set()
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
        if tok.type == tokenize.STRING:
            try:
                out.add(ast.literal_eval(tok.string))
            except (ValueError, SyntaxError):
                pass      # an f-string
    return out


def literal_files(name: str) -> list[str]:
    """The non-test source files of cnncore/ and cnnapp/ holding ``name`` as a string literal."""
    files = []
    for pkg in ("cnncore", "cnnapp"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if name in _string_literals(path):
                files.append(str(path.relative_to(ROOT)))
    return files


@pytest.mark.parametrize("name", list(LAYER_TYPES))
def test_a_layer_type_is_named_in_at_most_two_source_files(name):
    # conv may appear a third time, in the textbook-identities view
    files = literal_files(name)
    assert 1 <= len(files) <= (3 if name == "conv" else 2), files


def test_the_literal_counter_sees_a_literal():
    files = literal_files("Kind of layer: ")   # a literal the Build editor has, to prove the counter finds one
    assert files == ["cnnapp/widgets/arch_editor.py"]


@pytest.mark.parametrize("name", list(LAYER_TYPES))
def test_every_type_declares_what_the_app_shows(name):
    cls = LAYER_TYPES[name]
    assert issubclass(cls, Layer) and cls.type == name and cls.title
    assert set(cls.quiz_tags) == {"forward", "backward"} and all(cls.quiz_tags.values())
    for f in cls.fields:
        assert f.kind in ("count", "pair", "activation") and f.column and f.tooltip, f
        assert f.new is not None, f


def test_unknown_type_is_an_error_everywhere():
    with pytest.raises(ValueError, match="unknown layer type 'pool'"):
        layer_class("pool")
    with pytest.raises(ValueError, match="unknown layer type"):
        build_layer(0, {"type": "pool"}, (1, 4, 4), (1, 2, 2), np.float32)
    with pytest.raises(ValueError, match="unknown layer type"):
        describe_layer({"type": "pool", "size": [2, 2]})
    with pytest.raises(ArchitectureError, match="unknown layer type"):
        summarize({"layers": [{"type": "pool", "size": 2}, {"type": "flatten"}]})
    with pytest.raises(ValueError):
        layer_class(None)


def test_parsing_follows_the_fields():
    spec = parse_architecture({"layers": [
        {"type": "conv", "filters": 2, "kernel": 3}, {"type": "maxpool", "size": [2, 3]},
        {"type": "flatten"}, {"type": "dense", "units": 4}, {"type": "dense", "units": 10}]})
    conv, pool, _, hidden, last = spec["layers"]
    assert conv == {"type": "conv", "filters": 2, "kernel": [3, 3], "stride": [1, 1], "padding": [0, 0],
                    "activation": "relu"}
    assert pool["stride"] == [2, 3]                       # stride defaults to the window size
    assert hidden["activation"] == "relu" and last["activation"] == "none"
    with pytest.raises(ArchitectureError, match="'stride' must be an integer or a pair"):
        parse_architecture({"layers": [{"type": "maxpool", "size": 2, "stride": None}, {"type": "flatten"}]})


def test_trace_keys_round_trip():
    for i, part in [(0, "x"), (12, "dW"), (3, "argmax")]:
        assert split_key(layer_key(i, part)) == (i, part)
    assert split_key("probs") == (None, "probs")
    assert split_key("L1x") == (None, "L1x")
    assert split_key("L.x") == (None, "L.x")


def test_activation_table():
    assert activations.ACTIVATIONS == tuple(activations.TABLE)
    for name, a in activations.TABLE.items():
        assert a.name == name and a.formula.startswith("f(z)") and a.derivative.startswith("f′(z)")
        assert a.words and a.grad_words
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        activations.get("swish")
    assert activations.init_std("relu", 8, 2) == pytest.approx(0.5)
    assert activations.init_std("tanh", 6, 2) == pytest.approx(0.5)


@pytest.mark.parametrize("name", list(LAYER_TYPES))
def test_every_type_has_a_concept_check_for_each_step(name):
    from cnnapp.learn.questions import load_questions, questions_for_step
    qs = load_questions()
    for kind in ("forward", "backward"):
        assert questions_for_step(qs, kind, name), (kind, name)
