"""Where the app keeps its settings and the user's files.

* Settings (window geometry, splitters, tab, each view's choices, quiz progress, the predict
  score): ``<config folder>/cnnlab/settings.json``, a JSON file of plain values that the app parses
  itself (:class:`cnnapp.state.settings_store.SettingsStore`: no Qt, no object can come out of
  it); set ``CNNLAB_CONFIG_DIR`` to keep it in that folder instead (the tests do, so they never
  touch the user's real settings). :func:`load_store` reads it when the window starts,
  :func:`store` gives the same store to every part of the app. An INI file of an earlier version
  (``CNN Lab.conf``, or ``cnnlab.ini`` under ``CNNLAB_CONFIG_DIR``) is migrated once by a reader
  that builds only text (:mod:`cnnapp.state.legacy_ini`) and kept as ``<name>.migrated``; it is
  never handed to ``QSettings``, which would unpickle a ``@Variant(...)`` value in it.
* User files (drawings, models, traces): ``cnncore.datasets.user_data_dir()`` when present
  (honours ``CNNLAB_DATA_DIR``), else the platform's data folder from ``QStandardPaths``.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from PySide6 import QtCore

from .state.settings_store import FILE_NAME, SettingsStore

ORGANIZATION = "cnnlab"
APPLICATION = "CNN Lab"

_store: SettingsStore | None = None


def config_folder() -> Path:
    """The folder the settings live in."""
    folder = os.environ.get("CNNLAB_CONFIG_DIR")
    if folder:
        return Path(folder)
    loc = QtCore.QStandardPaths.writableLocation(QtCore.QStandardPaths.GenericConfigLocation)
    return Path(loc or Path.home() / ".config") / ORGANIZATION


def settings_path() -> Path:
    """The settings file (``settings.json`` in :func:`config_folder`)."""
    return config_folder() / FILE_NAME


def legacy_settings_path() -> Path:
    """Where an earlier version kept its settings (an INI file written by ``QSettings``)."""
    if os.environ.get("CNNLAB_CONFIG_DIR"):
        return config_folder() / "cnnlab.ini"
    return config_folder() / f"{APPLICATION}.conf"


def load_store() -> SettingsStore:
    """Read the settings from their file (once when the app starts; migrating an old INI file)."""
    global _store
    _store = SettingsStore.open(config_folder(), legacy_settings_path())
    return _store


def store() -> SettingsStore:
    """The app's settings, read by :func:`load_store` (read now when they were not yet, or when
    ``CNNLAB_CONFIG_DIR`` moved them since)."""
    if _store is None or _store.folder != config_folder():
        return load_store()
    return _store


def keep_scores(scores):
    """Fill ``scores`` (:class:`cnnapp.state.Scores`: predict mode's score, the concept checks'
    progress) from the settings store and keep them there, the file saved at every answer."""
    scores.read(store())

    def save() -> None:
        s = store()
        scores.write(s)
        s.save()
    scores.changed.connect(save)
    return scores


def data_dir() -> Path:
    """The folder for the user's own files; created when missing."""
    path = None
    try:
        from cnncore.datasets import user_data_dir
        path = Path(user_data_dir())
    except Exception:  # datasets not importable: fall back on Qt's idea of the data folder
        env = os.environ.get("CNNLAB_DATA_DIR")
        if env:
            path = Path(env)
        else:
            loc = QtCore.QStandardPaths.writableLocation(QtCore.QStandardPaths.AppDataLocation)
            path = Path(loc) if loc else Path.home() / ".cnnlab"
    path.mkdir(parents=True, exist_ok=True)
    return path


def assets_dir() -> Path:
    """The shipped assets: ``<repo>/assets`` in a checkout, ``cnnapp/assets`` when installed
    (:func:`cnncore.installation.assets_dir`; nothing the app saves may go there)."""
    from cnncore.installation import assets_dir as shipped
    return shipped()


def starter_model_path() -> Path:
    return assets_dir() / "starter_model.npz"


def session_model_path() -> Path:
    """Where the network in use is kept between launches (written on close)."""
    return data_dir() / "last_session_model.npz"


def session_samples_path() -> Path:
    """Where the held-out pictures the network in use is offered are kept between launches."""
    return data_dir() / "last_session_pictures.npz"


def session_drawing_path() -> Path:
    """Where the Draw tab's sheet is kept between launches (its ink, 8-bit grey)."""
    return data_dir() / "last_session_drawing.npy"


def session_edits_path() -> Path:
    """Where the Build tab's edits not in use yet are kept between launches (an architecture file)."""
    return data_dir() / "last_session_build_edits.json"


def set_clamped(widget, v) -> None:
    """``widget.setValue(v)`` for a spin box or slider, with ``v`` kept inside its range
    (a hand-edited or stale settings file must not stop the app from starting)."""
    try:
        v = float(v)
    except (TypeError, ValueError, OverflowError):
        return
    if not math.isfinite(v):
        return
    v = min(max(v, widget.minimum()), widget.maximum())
    widget.setValue(v if isinstance(widget.minimum(), float) else int(round(v)))


def choice_index(v, count: int, default: int = 0) -> int:
    """A saved position in a list of ``count`` choices, or ``default`` when it is not one."""
    try:
        i = int(v)
    except (TypeError, ValueError, OverflowError):
        return default
    return i if 0 <= i < count else default
