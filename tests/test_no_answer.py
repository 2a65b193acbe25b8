"""When there is no answer, the command says so (issue 20, items 13 and 14).

Weights of 1e38 overflow every sum: the probabilities are NaN, and ``predict`` printed
"digit: 0" and exited 0, ``trace`` wrote "loss nan". A PNG whose image data held 10 of its 28
rows was read with the rest as 0, a palette PNG without its palette as black, and a blank
picture got "digit: 4". Each is now refused in one line, exit status 2.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cnnapp.cli import main
from cnncore.architecture import preset
from cnncore.datasets.png import PNGError, read_png
from cnncore.modelio import save_model
from cnncore.network import Network
from cnncore.trace import trace


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("answers")
    net = Network(preset("tiny"), seed=0)
    save_model(d / "good.npz", net)
    net.flat_params *= 1e38 / np.abs(net.flat_params).max()          # a damaged file's weights
    save_model(d / "huge.npz", net)
    digit = np.zeros((28, 28), np.uint8)
    digit[5:23, 12:16] = 255
    Image.fromarray(digit).save(d / "digit.png")
    return d


def _run(capsys, *argv):
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr()


@pytest.mark.parametrize("command", [
    ["predict", "{m}", "{d}/digit.png"],
    ["eval", "{m}", "--data", "generated", "--count", "30"],
    ["trace", "{m}", "--data", "generated", "--count", "30", "--index", "0", "--out", "{d}/t.npz"],
    ["inspect", "{m}", "--png", "{d}/digit.png", "--out", "{d}/i.npz"],
], ids=["predict", "eval", "trace", "inspect"])
def test_an_output_that_is_not_a_number_is_refused_by_every_command(files, capsys, command):
    argv = [a.format(m=files / "huge.npz", d=files) for a in command]
    rc, out = _run(capsys, *argv)
    assert rc == 2 and out.err.count("\n") == 1, out
    assert "not a number" in out.err and "weights reach 1e+38" in out.err and "huge.npz" in out.err
    assert "nan" not in out.out and "digit:" not in out.out
    good = [a.format(m=files / "good.npz", d=files) for a in command]
    assert _run(capsys, *good)[0] == 0


def test_trace_refuses_a_pass_that_is_not_a_number():
    net = Network(preset("tiny"), seed=0)
    net.flat_params *= 1e38 / np.abs(net.flat_params).max()
    with pytest.raises(ValueError, match="nothing to trace: the network's output is not a number"):
        trace(net, np.ones((28, 28), np.float32), 3)


def test_an_update_step_that_overflows_is_reported_not_written(files, capsys, tmp_path):
    """At the largest learning rate a network with large (finite) weights overflows in its step."""
    net = Network(preset("tiny"), seed=0)
    net.flat_params *= 1e16
    with pytest.raises(ValueError, match=r"the update step \(α = 1000\) overflows: .* is not a number"):
        trace(net, np.ones((28, 28), np.float32), 3, lr=1000)
    save_model(tmp_path / "big.npz", net)
    out = tmp_path / "t.npz"
    rc, said = _run(capsys, "trace", tmp_path / "big.npz", "--data", "generated", "--count", "30", "--index", "0",
                    "--lr", "1000", "--out", out)
    assert rc == 2 and said.err.count("\n") == 1 and "smaller learning rate" in said.err and not out.exists()


# ----------------------------------------------------------------------------- PNG and blank pictures

def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(W, H, color, raw, extra=b"", interlace=0):
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, color, 0, 0, interlace)) + extra
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


def _rows(g):
    return b"".join(b"\x00" + row.tobytes() for row in g)


def _adam7(g):
    """The filtered rows of ``g`` in Adam7 order (filter 0)."""
    out = b""
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                           (0, 1, 1, 2)):
        sub = g[y0::dy, x0::dx]
        if sub.size:
            out += _rows(sub)
    return out


GREY = (np.arange(28 * 28) * 7 % 251).astype(np.uint8).reshape(28, 28)


def test_a_png_missing_rows_is_refused(tmp_path):
    path = tmp_path / "short.png"
    path.write_bytes(_png(28, 28, 0, _rows(GREY[:10])))
    with pytest.raises(PNGError, match="holds 290 of the 812 bytes its 28 rows need"):
        read_png(path)
    path.write_bytes(_png(28, 28, 0, _rows(GREY)))
    np.testing.assert_array_equal(np.rint(read_png(path) * 255), GREY)


def test_an_interlaced_png_is_counted_by_its_passes(tmp_path):
    whole, short = tmp_path / "a7.png", tmp_path / "a7-short.png"
    g = GREY[:, :27]                                   # a width that leaves some passes narrower
    whole.write_bytes(_png(27, 28, 0, _adam7(g), interlace=1))
    short.write_bytes(_png(27, 28, 0, _adam7(g)[:-5], interlace=1))
    np.testing.assert_array_equal(np.rint(read_png(whole) * 255), g)
    with pytest.raises(PNGError, match="bytes its 28 rows need"):
        read_png(short)


def test_a_palette_png_without_its_palette_is_refused(tmp_path):
    path = tmp_path / "p.png"
    path.write_bytes(_png(28, 28, 3, _rows(GREY % 4)))
    with pytest.raises(PNGError, match="palette image without its palette"):
        read_png(path)
    palette = _chunk(b"PLTE", bytes(np.repeat([0, 85, 170, 255], 3).astype(np.uint8)))
    path.write_bytes(_png(28, 28, 3, _rows(GREY % 4), palette))
    np.testing.assert_allclose(read_png(path), (GREY % 4) * 85 / 255)


@pytest.mark.parametrize("level", [0, 128, 255])
@pytest.mark.parametrize("command", ["predict", "inspect"])
def test_a_blank_picture_has_no_digit_to_read(files, capsys, tmp_path, level, command):
    png = tmp_path / "blank.png"
    Image.fromarray(np.full((40, 30), level, np.uint8)).save(png)
    argv = ["predict", files / "good.npz", png] if command == "predict" else \
        ["inspect", files / "good.npz", "--png", png, "--out", tmp_path / "i.npz"]
    rc, out = _run(capsys, *argv)
    assert rc == 2 and out.err.count("\n") == 1 and "blank" in out.err and "no digit to read" in out.err
    assert "digit:" not in out.out
