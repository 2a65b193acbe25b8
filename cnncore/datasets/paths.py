"""Where the app keeps its data, and where the shared test digits are.

:func:`user_data_dir` follows each platform's convention for per-user
application data (the same folders ``platformdirs.user_data_dir("cnnlab",
appauthor=False)`` gives), written with the standard library only:

* Linux and other Unix: ``$XDG_DATA_HOME/cnnlab`` (default ``~/.local/share/cnnlab``)
* macOS: ``~/Library/Application Support/cnnlab``
* Windows: ``%LOCALAPPDATA%\\cnnlab``

The environment variable ``CNNLAB_DATA_DIR`` overrides all of these (tests set
it so they never touch the real home folder).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["APP_NAME", "DATA_DIR_ENV", "user_data_dir", "shared_mnist_dir",
           "SHARED_MNIST_IMAGES", "SHARED_MNIST_LABELS"]

APP_NAME = "cnnlab"
DATA_DIR_ENV = "CNNLAB_DATA_DIR"
SHARED_MNIST_IMAGES = "mnist8k-images-idx3-ubyte.gz"
SHARED_MNIST_LABELS = "mnist8k-labels-idx1-ubyte.gz"


def user_data_dir() -> Path:
    """The folder for the user's data (MNIST cache, drawings). Not created here.

    Returns ``$CNNLAB_DATA_DIR`` when that is set and not empty, otherwise the
    platform's per-user data folder with ``cnnlab`` appended (see module doc).
    """
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    home = Path.home()
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA")
        root = Path(base) if base else home / "AppData" / "Local"
    elif sys.platform == "darwin":
        root = home / "Library" / "Application Support"
    else:
        base = os.environ.get("XDG_DATA_HOME", "").strip()
        # The XDG spec says a relative path here is invalid and must be ignored.
        root = Path(base) if base and os.path.isabs(base) else home / ".local" / "share"
    return root / APP_NAME


def shared_mnist_dir() -> Path | None:
    """The 8,000 shared real digits beside the repository, or None when absent.

    Looks for ``<repository root>/../shared/data/mnist`` holding both
    ``mnist8k-images-idx3-ubyte.gz`` and ``mnist8k-labels-idx1-ubyte.gz``, and only
    from a developer checkout (the package imported from a folder with the project's
    ``pyproject.toml``): an installed copy lives in site-packages and never looks
    beside it. (The data is never part of the repository or of an installed package.)
    """
    repo_root = Path(__file__).resolve().parents[2]
    if not (repo_root / "pyproject.toml").is_file():
        return None
    folder = (repo_root.parent / "shared" / "data" / "mnist").resolve()
    if (folder / SHARED_MNIST_IMAGES).is_file() and (folder / SHARED_MNIST_LABELS).is_file():
        return folder
    return None
