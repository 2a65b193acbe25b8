"""Where the app keeps its settings and the user's files.

* Settings (window geometry, splitters, last choices): ``QSettings``. Set the environment
  variable ``CNNLAB_CONFIG_DIR`` to keep them in an INI file in that folder instead
  (the tests do, so they never touch the user's real settings).
* User files (drawings, models, traces): ``cnncore.datasets.user_data_dir()`` when present
  (honours ``CNNLAB_DATA_DIR``), else the platform's data folder from ``QStandardPaths``.
"""
from __future__ import annotations

import math

import os
from pathlib import Path

from PySide6 import QtCore

ORGANIZATION = "cnnlab"
APPLICATION = "CNN Lab"


def qsettings() -> QtCore.QSettings:
    folder = os.environ.get("CNNLAB_CONFIG_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return QtCore.QSettings(str(Path(folder) / "cnnlab.ini"), QtCore.QSettings.IniFormat)
    return QtCore.QSettings(ORGANIZATION, APPLICATION)


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
    """The shipped assets: ``<repo>/assets`` in a checkout, ``cnnapp/assets`` when installed."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "assets", here / "assets"):
        if cand.is_dir():
            return cand
    return here.parent / "assets"


def starter_model_path() -> Path:
    return assets_dir() / "starter_model.npz"


def session_model_path() -> Path:
    """Where the network in use is kept between launches (written on close)."""
    return data_dir() / "last_session_model.npz"


def value(s: QtCore.QSettings, key: str, default, kind=None):
    """Read a setting with a type; falls back on ``default`` when absent or malformed."""
    v = s.value(key, None)
    if v is None:
        return default
    kind = kind or type(default)
    try:
        if kind is bool:
            return v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes")
        out = kind(v)
    except (TypeError, ValueError, OverflowError):
        return default
    if isinstance(out, float) and not math.isfinite(out):
        return default
    if isinstance(out, int) and not -2**31 <= out < 2**31:   # Qt widgets take C ints
        return default
    return out


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
