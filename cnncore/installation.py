"""Where cnnlab itself is: the folders of its packages and of its assets, in a checkout or installed.

cnnlab is one distribution of two packages side by side, ``cnncore`` and ``cnnapp`` (in a checkout,
the repository's root; installed, ``site-packages``), and of its assets (the starter model, the
concept checks, the icon): ``<checkout>/assets`` in a checkout, ``cnnapp/assets`` once installed
(``setup.py`` installs the folder as the package ``cnnapp.assets``).

:func:`assets_dir` is where the app finds its assets; :func:`own_folders` lists every folder of
cnnlab's own, in which the one writer (:mod:`cnncore._atomic`) writes nothing: no save of the app or
of the command line replaces the starter model every first launch starts with, nor a module.
No Qt here: the writer and the command line ask too.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["PACKAGES", "assets_dir", "own_folders", "own_folder_of"]

#: The packages of the distribution, installed side by side.
PACKAGES = ("cnncore", "cnnapp")
#: This package's folder (links resolved): the others are beside it.
_CORE = Path(__file__).resolve().parent


def assets_dir(core: Path = _CORE) -> Path:
    """The shipped assets of the installation whose ``cnncore`` folder is ``core``: ``cnnapp/assets``
    when installed, else ``<checkout>/assets`` (looked for in that order: beside the packages of an
    installation lies ``site-packages``, where a folder ``assets`` would be another project's)."""
    installed, checkout = core.parent / "cnnapp" / "assets", core.parent / "assets"
    return installed if installed.is_dir() or not checkout.is_dir() else checkout


def own_folders(core: Path = _CORE) -> tuple[Path, ...]:
    """The folders of cnnlab's own installation whose ``cnncore`` folder is ``core`` (links resolved):
    its packages' and its assets' (each with everything below it)."""
    folders = [core.parent / name for name in PACKAGES] + [assets_dir(core)]
    return tuple(dict.fromkeys(Path(os.path.realpath(f)) for f in folders if f.is_dir()))


def own_folder_of(path, core: Path = _CORE) -> Path | None:
    """The folder of cnnlab's own (:func:`own_folders`) that ``path`` lies in, links resolved (a link of
    the user's to the starter model lies there too); None for a path elsewhere. Told by name, and where
    the names differ by what the folders are: macOS's file system ignores case while its realpath keeps
    the letters given ("…/CNNAPP/Assets/x.npz"), and a folder may be mounted at a second place."""
    folders = own_folders(core)
    where = os.path.normcase(os.path.realpath(path))
    for folder in folders:
        mine = os.path.normcase(str(folder))
        if where == mine or where.startswith(mine.rstrip(os.sep) + os.sep):
            return folder
    return _own_by_identity(Path(os.path.realpath(path)), folders)


def _own_by_identity(path: Path, folders) -> Path | None:
    """The one of ``folders`` that ``path`` or a folder above it is (the same folder on disk), or None."""
    own = []
    for folder in folders:
        with contextlib.suppress(OSError, ValueError):
            own.append((folder, os.stat(folder)))
    for place in (path, *path.parents):
        try:
            st = os.stat(place)
        except (OSError, ValueError):
            continue                    # (the file, or folders, not made yet)
        if st.st_ino == 0:              # a file system without inode numbers: the names have said it
            continue
        for folder, mine in own:
            if os.path.samestat(st, mine):
                return folder
    return None
