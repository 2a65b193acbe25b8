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


# ------------------------------------------------------------ issue 22: one home for what a layer can teach

@pytest.fixture
def sumpool():
    """A throwaway window type (a sum, not a mean) that declares what it teaches, registered for one test."""
    from cnncore.layers import StepText, Teaching
    from cnncore.layers.pooling import Pool
    from cnncore.layers.words import window_fields
    from cnncore.pseudocode import Highlight, Listing
    from cnncore.terms import Term, finish, mk_ref, windows_covering

    def lit(part, index, spec, s_in, s_out):
        return Highlight((1,), f"window {index}") if part == "y" else None

    class SumPool(Pool):
        type = "sumpool"
        title = "Sum pooling"
        fields = window_fields("sum")
        quiz_tags = {"forward": ("sumpool",), "backward": ("sumpool",)}
        teaching = Teaching(predict={"forward": ("pool",), "backward": ("dx",)},
                            loops={"forward": (Listing("Sum pooling, forward (a throwaway)",
                                                       ("for every window (m, r, c):", "  y(m,r,c) = Σ of its x"),
                                                       "", lit),)},
                            examples=("pooling",))

        @classmethod
        def forward_step(cls, spec, s_in, s_out, is_last):
            return StepText("y(m,r,c) = Σ_i Σ_j x(m, rS+i, cS+j)", "Each window becomes its sum.", ("x", "y"))

        @classmethod
        def backward_step(cls, spec, s_in, s_out, has_dx):
            return StepText("dx(m, rS+i, cS+j) += dy(m,r,c)", "Each input gets the dy of every window holding it.",
                            ("dy",) + (("dx",) if has_dx else ()))

        @classmethod
        def explain(cls, spec, part, index, arrays, keys):
            (KH, KW), (SH, SW) = spec["size"], spec["stride"]
            if part == "y":
                m, r, c = index
                cells = [(m, r * SH + i, c * SW + j) for i in range(KH) for j in range(KW)]
                terms = [Term("x(" + ",".join(map(str, p)) + ")", (float(arrays("x")[p]),), float(arrays("x")[p]), (mk_ref(keys, (), "x", p),))
                         for p in cells]
                return finish(f"Sum pooling: y({m},{r},{c})", "y(m,r,c) = Σ_i Σ_j x(m, rS+i, cS+j)",
                              mk_ref(keys, (), "y", index), terms, None)
            if part == "dx":
                m, iy, ix = index
                H, W = arrays("x").shape[1:]
                terms = [Term(f"dy({m},{r},{c}) · 1", (float(arrays("dy")[m, r, c]), 1.0),
                              float(arrays("dy")[m, r, c]), (mk_ref(keys, (), "dy", (m, r, c)), None))
                         for r, c in windows_covering(H, W, KH, KW, SH, SW, iy, ix)]
                return finish(f"Sum pooling backward: dx({m},{iy},{ix})", "dx(m, rS+i, cS+j) += dy(m,r,c)",
                              mk_ref(keys, (), "dx", index), terms or [Term("no window", (0.0,), 0.0, (None,))], None)
            return None

        def forward(self, x, keep=True):
            (KH, KW), (SH, SW) = self.size, self.stride
            Ho, Wo = self.out_shape[1:]
            y = np.stack([np.stack([x[:, :, r * SH:r * SH + KH, c * SW:c * SW + KW].sum(axis=(2, 3))
                                    for c in range(Wo)], -1) for r in range(Ho)], -2)
            if keep:
                self.x, self.y = x, y
            return y

        def backward(self, dy, need_dx=True):
            (KH, KW), (SH, SW) = self.size, self.stride
            self.dy, self.dx = dy, np.zeros_like(self.x)
            for r in range(dy.shape[2]):
                for c in range(dy.shape[3]):
                    self.dx[:, :, r * SH:r * SH + KH, c * SW:c * SW + KW] += dy[:, :, r:r + 1, c:c + 1]
            return self.dx if need_dx else None

    try:
        yield SumPool
    finally:
        del LAYER_TYPES["sumpool"]


def test_a_new_layer_type_is_taught_from_its_own_declaration(sumpool, qtbot):
    """Predict mode, the Backprop tab's loops panel and the Learn tab's worked examples all read
    ``Teaching``: a type they have never heard of asks its questions, shows its loops and runs in
    the pooling example, with no line of theirs naming it."""
    from cnncore.network import Network
    from cnncore.predict import KINDS, LEVEL_UP, Score, ask, judge
    from cnncore.trace import trace
    from cnnapp.learn.examples_view import WorkedExamplesView
    from cnnapp.widgets.loops_panel import LoopsPanel
    spec = {"input": [1, 8, 8], "layers": [{"type": "conv", "filters": 2, "kernel": 3, "padding": 1},
                                           {"type": "sumpool", "size": 2}, {"type": "flatten"},
                                           {"type": "dense", "units": 10}]}
    t = trace(Network(spec, seed=0), np.random.default_rng(0).random((8, 8)), 3)
    rng = np.random.default_rng(0)
    # 1. predict mode asks its declared kinds, judged against its own sums
    fwd = next(k for k, s in enumerate(t.steps) if s.kind == "forward" and s.layer_type == "sumpool")
    q = ask(t, fwd, Score(), rng)
    assert q.kind == "pool" and "Σ_i Σ_j x(m, rS+i, cS+j)" in q.prompt
    _, m, r, c = q.index
    assert q.answer == pytest.approx(float(t.arrays["L1.x"][0, m, 2 * r:2 * r + 2, 2 * c:2 * c + 2].sum()))
    assert judge(q, repr(q.answer)).right and not judge(q, "0").right
    mastered = Score()
    for lv in (1, 2):
        for _ in range(LEVEL_UP):
            mastered.record(next(k for k, v in KINDS.items() if v.level == lv), True)
    back = next(k for k, s in enumerate(t.steps) if s.kind == "backward" and s.layer_type == "sumpool")
    assert ask(t, back, mastered, rng).kind == "dx"
    # 2. the loops panel shows its loops and lights the line of a clicked y
    panel = LoopsPanel()
    qtbot.addWidget(panel)
    panel.show_step(t, t.steps[fwd])
    assert not panel.isHidden() and "Sum pooling, forward (a throwaway)" in panel.text()
    assert panel.mark("L1.y", (0, 1, 2, 3)) and panel.lit == {0: (1,)}
    panel.show_step(t, t.steps[back])                     # it declares no backward loops
    assert panel.isHidden()
    # 3. the Learn tab's pooling example offers it and runs it
    view = WorkedExamplesView()
    qtbot.addWidget(view)
    page = view.page("pooling")
    box = page.setting_boxes["type"]
    assert "Sum pooling" in [box.itemText(k) for k in range(box.count())]
    box.setCurrentIndex([box.itemText(k) for k in range(box.count())].index("Sum pooling"))
    ex = page.example
    assert ex.heading() == "4×4 sum pooling, 2×2 windows, stride 2"
    assert ex.results["y"][0, 1] == ex.params["x"][:2, 2:].sum()
    assert ex.explain("y", (0, 1)).total == ex.results["y"][0, 1]
    assert "y12 = x13 + x14 + x23 + x24" in "\n".join(ex.lines())


def test_a_worked_example_no_example_has_is_an_error(sumpool, monkeypatch):
    from cnncore.examples import worked_examples
    from cnncore.layers import Teaching
    monkeypatch.setattr(sumpool, "teaching", Teaching(examples=("abacus",)))
    with pytest.raises(ValueError, match="'sumpool' declares the worked example 'abacus'"):
        worked_examples()


def test_an_activation_that_gives_no_negative_logits_is_a_caution_on_the_output_layer_only():
    """A tour: a ReLU on the output layer was taken without a word. An activation that cannot give a
    negative number (ReLU, sigmoid) or squashes every number into (−1, 1) (tanh) there is allowed, with
    why it hurts; elsewhere, and for the others, nothing is said."""
    import math

    from cnncore.architecture import NUM_CLASSES
    dense = layer_class("dense")
    for name in activations.ACTIVATIONS:
        last = dense.caution({"type": "dense", "units": 10, "activation": name}, True)
        z = np.linspace(-5, 5, 101, dtype=np.float32)
        y = activations.apply(name, z)
        cannot = bool((y >= 0).all()) or float(y.max() - y.min()) <= 2      # never negative, or squashed
        assert bool(last) == cannot, name
        assert dense.caution({"type": "dense", "units": 32, "activation": name}, False) == ""
        if cannot:
            assert last.startswith(f"With {name} on the output layer, ") and last.endswith(
                "The output layer usually has no activation (none).")
    assert layer_class("flatten").caution({"type": "flatten"}, True) == ""
    assert "its gradient is 0" in dense.caution({"type": "dense", "units": 10, "activation": "relu"}, True)
    # the sigmoid's numbers: logits in (0, 1), so at best one class at 1 and the others at 0
    best = math.e / (math.e + NUM_CLASSES - 1)
    words = activations.get("sigmoid").on_output
    assert f"of {NUM_CLASSES} classes" in words and f"e/(e + {NUM_CLASSES - 1}) ≈ {best:.0%}" in words
    assert f"never falls below {-math.log(best):.2f}" in words
    # tanh's: logits in (−1, 1), so at best one class at 1 and the others at −1
    best = math.e ** 2 / (math.e ** 2 + NUM_CLASSES - 1)
    words = activations.get("tanh").on_output
    assert f"of {NUM_CLASSES} classes" in words and f"e²/(e² + {NUM_CLASSES - 1}) ≈ {best:.0%}" in words
    assert f"never falls below {-math.log(best):.2f}" in words
