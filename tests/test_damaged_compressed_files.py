"""Compressed .npz files with damaged deflate data give clear errors, never a traceback."""
import struct

import numpy as np
import pytest

from cnncore.architecture import preset
from cnncore.datasets.drawings import DrawingsDataset, DrawingsFileError
from cnncore.modelio import ModelFileError, load_model
from cnncore.network import Network


def _break_first_deflate_block(path):
    data = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[26:30])   # first local file header
    data[30 + name_len + extra_len] = 0xFF                     # block type 11: reserved, invalid
    path.write_bytes(bytes(data))


def test_damaged_compressed_drawings_are_moved_aside(tmp_path):
    path = tmp_path / "my_digits.npz"
    np.savez_compressed(path, images=np.zeros((3, 28, 28), np.uint8), labels=np.zeros(3, np.uint8))
    _break_first_deflate_block(path)
    damaged = path.read_bytes()
    with pytest.raises(DrawingsFileError, match="damaged"):
        DrawingsDataset(path)
    assert path.read_bytes() == damaged                        # left as it was
    ds = DrawingsDataset(path, recover=True)
    assert len(ds) == 0 and ds.recovered_from is not None
    assert ds.recovered_from.read_bytes() == damaged


def test_damaged_compressed_model_is_a_model_file_error(tmp_path):
    net = Network(preset("tiny"), seed=0)
    arrays = {"architecture": np.array(__import__("json").dumps(net.spec))}
    arrays.update({k: v for k, v in net.params().items()})
    path = tmp_path / "model.npz"
    np.savez_compressed(path, **arrays)
    _break_first_deflate_block(path)
    with pytest.raises(ModelFileError, match="not a readable model file"):
        load_model(path)
