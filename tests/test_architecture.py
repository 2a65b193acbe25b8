"""Architecture parsing, shape inference, summaries, presets and every error path."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from cnncore.architecture import (DEFAULT_PRESET, PRESETS, ArchitectureError, LayerSummary, infer_shapes,
                                  parse_architecture, preset, summarize, to_json)
from cnncore.network import Network

EXAMPLE = {"input": [1, 28, 28],
           "layers": [
               {"type": "conv", "filters": 8, "kernel": 5, "stride": 1, "padding": 0, "activation": "relu"},
               {"type": "maxpool", "size": 2, "stride": 2},
               {"type": "conv", "filters": 16, "kernel": 5, "activation": "relu"},
               {"type": "avgpool", "size": 2},
               {"type": "flatten"},
               {"type": "dense", "units": 10, "activation": "none"}]}


def test_issue_example_parses_with_defaults_filled():
    spec = parse_architecture(EXAMPLE)
    conv2 = spec["layers"][2]
    assert conv2 == {"type": "conv", "filters": 16, "kernel": [5, 5], "stride": [1, 1], "padding": [0, 0],
                     "activation": "relu"}
    assert spec["layers"][3] == {"type": "avgpool", "size": [2, 2], "stride": [2, 2]}
    assert spec["layers"][4] == {"type": "flatten"}


def test_parse_accepts_json_text_and_does_not_touch_input():
    before = copy.deepcopy(EXAMPLE)
    a = parse_architecture(EXAMPLE)
    b = parse_architecture(json.dumps(EXAMPLE))
    assert a == b and EXAMPLE == before
    a["layers"][0]["filters"] = 99
    assert parse_architecture(EXAMPLE)["layers"][0]["filters"] == 8  # a copy, not shared


def test_parse_is_idempotent_and_to_json_round_trips():
    spec = parse_architecture(EXAMPLE)
    assert parse_architecture(spec) == spec
    assert parse_architecture(to_json(EXAMPLE)) == spec


def test_dense_activation_default_depends_on_position():
    spec = parse_architecture({"input": [1, 4, 4], "layers": [
        {"type": "flatten"}, {"type": "dense", "units": 5}, {"type": "dense", "units": 10}]})
    assert spec["layers"][1]["activation"] == "relu"
    assert spec["layers"][2]["activation"] == "none"


def test_shapes_params_macs_of_example():
    rows = summarize(EXAMPLE)
    assert [r.out_shape for r in rows] == [(8, 24, 24), (8, 12, 12), (16, 8, 8), (16, 4, 4), (256,), (10,)]
    assert rows[0].in_shape == (1, 28, 28)
    assert [r.params for r in rows] == [8 * 25 + 8, 0, 16 * 8 * 25 + 16, 0, 0, 2560 + 10]
    assert rows[0].macs == 8 * 24 * 24 * 25 and rows[2].macs == 16 * 8 * 8 * 8 * 25 and rows[5].macs == 2560
    assert rows[0].text == "conv 8 5×5 s1 p0 relu"
    assert rows[1].text == "maxpool 2×2 s2"
    assert rows[5].text == "dense 10 none"
    assert all(isinstance(r, LayerSummary) and r.error is None for r in rows)
    assert [r.index for r in rows] == list(range(6))
    assert infer_shapes(EXAMPLE)[2] == ((8, 12, 12), (16, 8, 8))


def test_rectangular_kernel_stride_padding_shapes():
    spec = {"input": [2, 9, 7], "layers": [
        {"type": "conv", "filters": 3, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0]},
        {"type": "flatten"}, {"type": "dense", "units": 10}]}
    rows = summarize(spec)
    assert rows[0].out_shape == (3, 5, 6)          # (9 + 2 - 3)//2 + 1, (7 - 2)//1 + 1
    assert rows[0].text == "conv 3 3×2 s2×1 p1×0 relu"
    net = Network(spec)
    assert net.forward(np.zeros((1, 2, 9, 7))).shape == (1, 10)


def test_misfit_message_names_layer_and_numbers():
    spec = copy.deepcopy(EXAMPLE)
    spec["layers"][2]["kernel"] = 13            # 12×12 maps, no padding
    with pytest.raises(ArchitectureError) as e:
        infer_shapes(spec)
    assert str(e.value) == "layer 2 (conv 13×13, padding 0) needs an input of at least 13×13 but gets 12×12"
    assert e.value.layer == 2
    with pytest.raises(ArchitectureError, match="layer 2"):
        Network(spec)


def test_misfit_with_padding_and_pool():
    spec = {"input": [1, 4, 4], "layers": [
        {"type": "conv", "filters": 2, "kernel": 7, "padding": 1}, {"type": "flatten"},
        {"type": "dense", "units": 10}]}
    with pytest.raises(ArchitectureError, match=r"^layer 0 \(conv 7×7, padding 1\) needs an input of at least "
                                                r"5×5 but gets 4×4$"):
        infer_shapes(spec)
    spec = {"input": [1, 3, 3], "layers": [{"type": "maxpool", "size": 4}, {"type": "flatten"},
                                           {"type": "dense", "units": 10}]}
    with pytest.raises(ArchitectureError, match=r"layer 0 \(maxpool 4×4, stride 4\) needs an input of at least "
                                                r"4×4 but gets 3×3"):
        infer_shapes(spec)


def test_summarize_marks_misfit_and_blanks_later_shapes():
    spec = copy.deepcopy(EXAMPLE)
    spec["layers"][2]["kernel"] = 13
    rows = summarize(spec)
    assert rows[0].error is None and rows[1].error is None
    assert "needs an input of at least 13×13 but gets 12×12" in rows[2].error
    assert rows[2].in_shape == (8, 12, 12) and rows[2].out_shape is None
    assert all(r.in_shape is None and r.out_shape is None and r.error is None for r in rows[3:])
    assert rows[2].params == 16 * 8 * 169 + 16  # still known: it depends only on the input channels


def test_dense_needs_flat_input():
    spec = {"input": [1, 8, 8], "layers": [{"type": "conv", "filters": 2, "kernel": 3},
                                           {"type": "dense", "units": 10}]}
    with pytest.raises(ArchitectureError, match=r"layer 1 \(dense 10\) needs a flat vector but gets 2 maps of "
                                                r"6×6; put a flatten layer before it") as e:
        infer_shapes(spec)
    assert e.value.layer == 1


@pytest.mark.parametrize("t", ["conv", "maxpool", "avgpool"])
def test_spatial_layer_after_flatten(t):
    layer = {"type": t, "size": 2} if t != "conv" else {"type": "conv", "filters": 2, "kernel": 1}
    spec = {"input": [1, 8, 8], "layers": [{"type": "flatten"}, layer, {"type": "dense", "units": 10}]}
    with pytest.raises(ArchitectureError, match=rf"layer 1 \({t}\) needs maps .* but gets a flat vector of 64"):
        infer_shapes(spec)


def test_last_layer_must_give_ten():
    spec = {"input": [1, 8, 8], "layers": [{"type": "flatten"}, {"type": "dense", "units": 12}]}
    with pytest.raises(ArchitectureError, match=r"layer 1 \(dense 12 none\) is the last layer, so it must give 10 "
                                                r"outputs .* but it gives 12") as e:
        infer_shapes(spec)
    assert e.value.layer == 1
    assert summarize(spec)[1].error is not None
    spec = {"input": [1, 5, 5], "layers": [{"type": "conv", "filters": 10, "kernel": 5}]}
    with pytest.raises(ArchitectureError, match="gives 10 maps of 1×1"):
        infer_shapes(spec)
    # ...and a flatten of those ten 1×1 maps is fine
    spec["layers"].append({"type": "flatten"})
    assert infer_shapes(spec)[-1][1] == (10,)


def test_the_last_layers_outputs_are_one_per_class_for_a_colour_network_too():
    """A tour: the cifar preset's last layer cut to 5 units was told it must give "one logit per digit";
    a network of things has classes (an airplane, a cat), digits only for a digit network."""
    from cnncore.architecture import preset
    spec = preset("cifar")
    spec["layers"][-1]["units"] = 5
    (error,) = [r.error for r in summarize(spec) if r.error]
    assert "one logit per class" in error and "digit" not in error


def test_an_architecture_read_from_a_file_that_is_not_text_says_what_it_seems_to_be():
    """The bytes of a file given as an architecture: a zip archive is a model file (or a trace), bytes that
    are not UTF-8 text a picture, never "'utf-8' codec can't decode byte 0x89"."""
    with pytest.raises(ArchitectureError, match=r"^is a zip archive \(a model file\?\), not an architecture"):
        parse_architecture(b"PK\x03\x04" + bytes(20))
    with pytest.raises(ArchitectureError, match=r"^is not text \(a picture\?\), not an architecture") as e:
        parse_architecture(b"\x89PNG\r\n\x1a\n" + bytes(20))
    assert "codec" not in str(e.value)
    tiny = preset("tiny")
    assert parse_architecture(json.dumps(tiny).encode())["layers"] == parse_architecture(tiny)["layers"]



def test_an_architecture_file_saved_with_a_byte_order_mark_is_read():
    """Windows' Notepad (before 2019) and PowerShell 5's `Out-File -Encoding utf8` begin a UTF-8 file with a
    byte order mark: an architecture edited so was refused with "Unexpected UTF-8 BOM (decode using
    utf-8-sig)", words no student can act on. The mark is no part of the text."""
    tiny = preset("tiny")
    marked = "\ufeff".encode() + json.dumps(tiny).encode()
    assert parse_architecture(marked)["layers"] == parse_architecture(tiny)["layers"]


MALFORMED = [
    ("{not json", None, "not valid JSON"),
    ([1, 2], None, "must be a JSON object"),
    ({"input": [1, 28, 28], "layers": [], "colour": 1}, None, "unknown key 'colour'"),
    ({"input": [1, 28], "layers": [{"type": "flatten"}]}, None, "'input' must be"),
    ({"input": [0, 28, 28], "layers": [{"type": "flatten"}]}, None, "'input' must be"),
    ({"input": [1, 28, 28]}, None, "missing 'layers'"),
    ({"layers": {"type": "flatten"}}, None, "'layers' must be a list"),
    ({"layers": []}, None, "'layers' is empty"),
    ({"layers": ["conv"]}, 0, "each layer must be an object"),
    ({"layers": [{"filters": 3}]}, 0, "missing 'type'"),
    ({"layers": [{"type": "pool"}]}, 0, "unknown layer type \"pool\""),
    ({"layers": [{"type": "flatten"}, {"type": "dense", "units": 10, "bias": True}]}, 1, "unknown key 'bias'"),
    ({"layers": [{"type": "conv", "kernel": 3}]}, 0, "missing 'filters'"),
    ({"layers": [{"type": "conv", "filters": 3}]}, 0, "missing 'kernel'"),
    ({"layers": [{"type": "maxpool"}]}, 0, "missing 'size'"),
    ({"layers": [{"type": "flatten"}, {"type": "dense"}]}, 1, "missing 'units'"),
    ({"layers": [{"type": "conv", "filters": 0, "kernel": 3}]}, 0, "'filters' must be at least 1"),
    ({"layers": [{"type": "conv", "filters": 2.5, "kernel": 3}]}, 0, "'filters' must be a positive integer"),
    ({"layers": [{"type": "conv", "filters": True, "kernel": 3}]}, 0, "'filters' must be a positive integer"),
    ({"layers": [{"type": "conv", "filters": 2, "kernel": [3, 3, 3]}]}, 0, "'kernel' must be an integer or a pair"),
    ({"layers": [{"type": "conv", "filters": 2, "kernel": "3"}]}, 0, "'kernel' must be an integer or a pair"),
    ({"layers": [{"type": "conv", "filters": 2, "kernel": 0}]}, 0, "'kernel' must be at least 1"),
    ({"layers": [{"type": "conv", "filters": 2, "kernel": 3, "stride": 0}]}, 0, "'stride' must be at least 1"),
    ({"layers": [{"type": "conv", "filters": 2, "kernel": 3, "padding": -1}]}, 0, "'padding' must be at least 0"),
    ({"layers": [{"type": "conv", "filters": 2, "kernel": 3, "activation": "softmax"}]}, 0, "unknown activation"),
    ({"layers": [{"type": "maxpool", "size": 2, "stride": [1, 0]}]}, 0, "'stride' must be at least 1"),
    ({"layers": [{"type": "flatten"}, {"type": "dense", "units": -3}]}, 1, "'units' must be at least 1"),
    ({"layers": [{"type": "flatten"}], "name": 3}, None, "'name' must be a string"),
]


@pytest.mark.parametrize("spec,layer,message", MALFORMED, ids=[m[2] for m in MALFORMED])
def test_malformed_specs(spec, layer, message):
    with pytest.raises(ArchitectureError, match=message.replace("(", r"\(")) as e:
        parse_architecture(spec)
    assert e.value.layer == layer
    if layer is not None:
        assert str(e.value).startswith(f"layer {layer}")
    with pytest.raises(ArchitectureError):  # summarize raises only for malformed specs, like these
        summarize(spec)


def test_architecture_error_is_value_error():
    assert issubclass(ArchitectureError, ValueError)


def test_presets():
    assert set(PRESETS) == {"tiny", "lenet", "wide", "cifar"}
    assert PRESETS["cifar"]["input"] == [3, 32, 32] and PRESETS["lenet"]["input"] == [1, 28, 28]
    assert DEFAULT_PRESET in PRESETS
    for name in PRESETS:
        rows = summarize(PRESETS[name])
        assert rows[-1].out_shape == (10,) and all(r.error is None for r in rows), name
        Network(PRESETS[name])
    p = preset("lenet")
    p["layers"][0]["filters"] = 1
    assert PRESETS["lenet"]["layers"][0]["filters"] != 1
    with pytest.raises(ArchitectureError, match="unknown preset 'nope'"):
        preset("nope")


def test_preset_sizes_are_ordered():
    cost = {n: sum(r.macs for r in summarize(PRESETS[n])) for n in PRESETS}
    assert cost["tiny"] < cost["lenet"] < cost["wide"]


def test_a_network_is_named_by_a_preset_only_where_it_is_that_preset():
    """An edited preset keeps the preset's name in its spec, and a file may name its network anything:
    the app names the last session's network by a preset only where its input and layers are the
    preset's."""
    from cnncore.architecture import preset_of
    assert all(preset_of(Network(preset(name)).spec) == name for name in PRESETS)
    edited = preset("tiny")
    edited["layers"][0]["filters"] = 32
    assert preset_of(Network(edited).spec) is None
    odd = preset("tiny")
    odd["name"] = "<b>My LeNet</b>"
    assert preset_of(Network(odd).spec) is None
