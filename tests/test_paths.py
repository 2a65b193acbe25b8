"""user_data_dir and shared_mnist_dir."""
import sys
from pathlib import Path

import pytest

from cnncore.datasets import paths
from cnncore.datasets import shared_mnist_dir, user_data_dir


def test_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "x"))
    assert user_data_dir() == tmp_path / "x"
    assert not (tmp_path / "x").exists()  # not created by asking


@pytest.mark.parametrize("platform, env, expected", [
    ("linux", {}, "HOME/.local/share/cnnlab"),
    ("linux", {"XDG_DATA_HOME": "/xdg"}, "/xdg/cnnlab"),
    ("linux", {"XDG_DATA_HOME": "relative/ignored"}, "HOME/.local/share/cnnlab"),
    ("darwin", {}, "HOME/Library/Application Support/cnnlab"),
    ("win32", {"LOCALAPPDATA": "/appdata/local"}, "/appdata/local/cnnlab"),
    ("win32", {}, "HOME/AppData/Local/cnnlab"),
])
def test_platform_defaults(monkeypatch, tmp_path, platform, env, expected):
    for var in ("CNNLAB_DATA_DIR", "XDG_DATA_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path))
    assert user_data_dir() == Path(expected.replace("HOME", str(tmp_path)))


def test_empty_override_is_ignored(monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA_DIR", "")
    assert user_data_dir().name == "cnnlab"


def test_shared_mnist_dir_is_beside_the_repo():
    expected = Path(paths.__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
    found = shared_mnist_dir()
    if (expected / "mnist8k-images-idx3-ubyte.gz").is_file():
        assert found == expected.resolve()
    else:
        assert found is None
