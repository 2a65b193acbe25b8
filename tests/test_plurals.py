"""The counted words of the sums and questions (cnncore.plurals): a tour met "1 window(s) contain this
pixel; it won 1 of them" under a max pooling's dx, and "2 thread(s)" from `cnnapp train`."""
from __future__ import annotations

import re

import numpy as np

from cnncore import explain, maxpool2d_backward, maxpool2d_forward
from cnncore.layers.avgpool import avgpool_backward_terms
from cnncore.layers.conv import conv_backward_input_terms
from cnncore.layers.l2pool import l2pool_backward_terms
from cnncore.plurals import agrees, plural

UNSURE = re.compile(r"\w\(s\)")


def test_a_count_takes_the_word_in_its_number():
    assert [plural(n, "window") for n in (0, 1, 2, 1000)] == ["0 windows", "1 window", "2 windows",
                                                              "1,000 windows"]
    assert plural(3, "child", "children") == "3 children"
    assert (agrees(1, "contains", "contain"), agrees(2, "contains", "contain")) == ("contains", "contain")


def test_a_pooling_gradient_counts_its_windows_in_words():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 4, 4))
    y, argmax = maxpool2d_forward(x, 2, 2)
    dy = rng.standard_normal(y.shape)
    dx = maxpool2d_backward(dy, argmax, x.shape)
    wins = losses = 0
    for iy in range(4):
        for ix in range(4):
            (note,) = explain.maxpool_backward_terms(dy[0], argmax[0], (4, 4), 2, 2, 0, iy, ix).notes
            won = dx[0, 0, iy, ix] != 0
            assert note == ("1 window contains this pixel; it won it." if won else
                            "1 window contains this pixel; it did not win it.")
            wins, losses = wins + won, losses + (not won)
    assert wins and losses
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0                             # the centre wins all four overlapping windows
    y, argmax = maxpool2d_forward(x, 2, 1)
    note = explain.maxpool_backward_terms(np.ones((1, 2, 2)), argmax[0], (3, 3), 2, 1, 0, 1, 1).notes[0]
    assert note.startswith("4 windows contain this pixel; it won 4 of them.")
    for notes in (avgpool_backward_terms(np.ones((1, 2, 2)), (4, 4), 2, 2, 0, 1, 1).notes,
                  l2pool_backward_terms(np.ones((1, 2, 2)), np.ones((1, 4, 4)), np.ones((1, 2, 2)), 2, 2, 0, 1,
                                        1).notes):
        assert notes[0].startswith("1 window contains this pixel;") and not UNSURE.search(" ".join(notes))


def test_a_convolutions_input_gradient_counts_its_positions_and_filters_in_words():
    dz, w = np.ones((1, 3, 3)), np.ones((1, 1, 2, 2))
    (corner,) = conv_backward_input_terms(dz, w, 2, 0, (6, 6), 0, 0, 0).notes
    assert corner == ("1 output position per filter had this input inside its window; it links to it through "
                      "one filter element of the one filter.")
    dz, w = np.ones((2, 5, 5)), np.ones((2, 1, 2, 2))
    (middle,) = conv_backward_input_terms(dz, w, 1, 0, (6, 6), 0, 2, 2).notes
    assert middle == ("4 output positions per filter had this input inside their window; each links to it "
                      "through one filter element, over all 2 filters.")


def test_train_counts_its_epochs_and_threads_in_words(tmp_path, capsys):
    from cnnapp.cli import main
    rc = main(["train", "--arch", "tiny", "--data", "generated", "--count", "60", "--epochs", "1", "--threads", "1",
               "--quiet", "--out", str(tmp_path / "m.npz")])
    first = capsys.readouterr().out.splitlines()[0]
    assert rc == 0 and "1 epoch," in first and first.endswith("1 thread") and not UNSURE.search(first)


def test_no_sentence_of_the_app_counts_with_an_s_in_brackets():
    """Every text of cnncore and cnnapp counts with cnncore.plurals, never "input(s)", "zero(s)",
    "channel(s)" (the worked examples, the predict questions, the sums), which a student reads as a doubt."""
    import io
    import tokenize
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    found = []
    for path in sorted([*root.glob("cnncore/**/*.py"), *root.glob("cnnapp/**/*.py")]):
        for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
            is_text = tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1)
            if not is_text or tok.string.lstrip("rbufRBUF").startswith(('"""', "'''")):
                continue                                # (a docstring may say "map(s)" of the code)
            text = tok.string
            while re.search(r"\{[^{}]*\}", text):          # an f-string's code is not its words
                text = re.sub(r"\{[^{}]*\}", "", text)
            if UNSURE.search(text):
                found.append(f"{path.relative_to(root)}:{tok.start[0]}")
    assert not found


def test_a_filter_of_one_channel_is_asked_about_in_words():
    """A tour: predict mode on the first conv of a grey network offered "one part of every z map (1 input
    maps)"."""
    from cnncore import predict
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.trace import trace
    net = Network(preset("lenet"), seed=0)
    tr = trace(net, np.zeros((1, 28, 28), np.float32), 3)
    q = predict.question_at(tr, 0, "filter_map", (2, 0, 1, 1))
    assert q.prompt.startswith("Layer 0: filter 2 has 1 channel, one per input map.")
    assert q.choices[-1] == "one part of every z map (1 input map)"


def test_a_single_filter_and_a_single_term_are_counted_in_words():
    """Edge cases of the same rule: the slides' loops of a conv of one filter ("over all 1 filters") and a
    colour picture's sum through a 1×1 filter ("R (m = 0): … from 1 terms")."""
    from cnncore.architecture import parse_architecture
    from cnncore.explain import breakdown
    from cnncore.network import Network
    from cnncore.pseudocode import _conv_backward_lit
    spec = parse_architecture({"input": [1, 6, 6], "layers": [
        {"type": "conv", "filters": 1, "kernel": 3}, {"type": "flatten"}, {"type": "dense", "units": 10}]})
    lit = _conv_backward_lit("dx", (0, 2, 2), spec["layers"][0], (1, 6, 6), (1, 4, 4))
    assert "over the one filter" in lit.words and "1 filters" not in lit.words
    from cnncore.trace import trace
    net = Network({"input": [3, 4, 4], "layers": [{"type": "conv", "filters": 2, "kernel": 1}, {"type": "flatten"},
                                                 {"type": "dense", "units": 10}]}, seed=0)
    tr = trace(net, np.full((3, 4, 4), 0.5, np.float32), 1)
    step = next(s for s in tr.steps if s.kind == "forward" and s.layer == 0)
    note = " ".join(breakdown(tr, "L0.z", (0, 1, 2, 2), step).notes)
    assert "from 1 term" in note and "1 terms" not in note
