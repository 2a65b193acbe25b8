"""Where the app keeps its settings and the user's files.

* Settings (window geometry, splitters, last choices): ``QSettings`` over an INI file
  (``<config folder>/cnnlab/CNN Lab.conf``; set ``CNNLAB_CONFIG_DIR`` to keep it as
  ``cnnlab.ini`` in that folder instead: the tests do, so they never touch the user's real
  settings). Only plain values are stored: numbers and strings, and byte arrays (window
  geometry, splitter states) as base64 text decoded here. Qt turns a value written as
  ``@Variant(...)`` back into a Python object by unpickling it, which can run any code, so
  before Qt ever opens the file :func:`qsettings` removes every line Qt could decode into
  anything but text (see :func:`_sanitise`), keeping the original beside it and saying so
  in :func:`take_message`.
* User files (drawings, models, traces): ``cnncore.datasets.user_data_dir()`` when present
  (honours ``CNNLAB_DATA_DIR``), else the platform's data folder from ``QStandardPaths``.
"""
from __future__ import annotations

import base64
import binascii
import math
import os
import re
import stat
import time
from pathlib import Path

from PySide6 import QtCore

ORGANIZATION = "cnnlab"
APPLICATION = "CNN Lab"


#: A settings file larger than this is not ours (ours is a few kB).
MAX_SETTINGS_BYTES = 1 << 20
_messages: list[str] = []


def settings_path() -> Path:
    """The INI file the settings live in."""
    folder = os.environ.get("CNNLAB_CONFIG_DIR")
    if folder:
        return Path(folder) / "cnnlab.ini"
    loc = QtCore.QStandardPaths.writableLocation(QtCore.QStandardPaths.GenericConfigLocation)
    return Path(loc or Path.home() / ".config") / ORGANIZATION / f"{APPLICATION}.conf"


def qsettings() -> QtCore.QSettings:
    """The app's settings; the file is made safe (:func:`_sanitise`) before Qt first reads it."""
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        note = _sanitise(path)
    except OSError as e:
        note = f"The settings file {path} could not be checked ({e.strerror or e}); defaults are used."
        path = path.with_name(path.name + ".unusable")
    if note:
        _messages.append(note)
    return QtCore.QSettings(str(path), QtCore.QSettings.IniFormat)


def take_message() -> str | None:
    """What :func:`qsettings` had to do to the settings file (once), or None."""
    return _messages.pop(0) if _messages else None


_LINE_END = re.compile(r"\r\n|\r|\n")


def _safe_line(line: str) -> bool | None:
    """True for a line Qt reads as plain text; None for an old ``@ByteArray`` value
    (harmless, dropped quietly); False for anything else (``@Variant``, escapes, ...).

    Qt decodes ``@Variant(``/``@ByteArray(``/``@Point(``... values and backslash escapes
    (``\\x40`` is ``@``), and joins a line ending in a backslash with the next. A line kept
    has no ``@`` at all and no backslash after its first ``=`` (keys may hold backslashes:
    Qt writes ``a/b/c`` as ``b\\c`` in section ``[a]``; keys are never decoded into objects).
    """
    text = line.strip()
    if not text:
        return True
    if text[0] == "[":
        return "@" not in text and "\\" not in text
    key, eq, val = text.partition("=")
    if val.strip().startswith("@ByteArray(") and eq:
        return None
    if "@" in text or "\\" in val or not eq and "\\" in key:
        return False
    return True


def _sanitise(path: Path) -> str | None:
    """Keep only lines Qt reads as plain text; returns a message when something was set aside."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SETTINGS_BYTES:
        what = "is not a regular file" if not stat.S_ISREG(info.st_mode) else "is far too large"
        aside = _set_aside(path)
        return f"The settings file {what}; it was moved aside to {aside.name} and the defaults are used."
    text = path.read_bytes().decode("latin-1")
    lines = _LINE_END.split(text)
    verdicts = [_safe_line(line) for line in lines]
    if all(v is True for v in verdicts):
        return None
    kept = "\n".join(line for line, v in zip(lines, verdicts) if v is True)
    if all(v is not False for v in verdicts):      # only old byte arrays: drop them quietly
        _rewrite(path, kept)
        return None
    aside = _set_aside(path)
    _rewrite(path, kept)
    return f"Ignored settings that could run code; see {aside.name}"


def _set_aside(path: Path) -> Path:
    target = path.with_name(f"{path.name}.refused-{time.strftime('%Y%m%d-%H%M%S')}")
    k = 1
    while target.exists():
        target = path.with_name(f"{path.name}.refused-{time.strftime('%Y%m%d-%H%M%S')}-{k}")
        k += 1
    os.replace(path, target)
    return target


def _rewrite(path: Path, text: str) -> None:
    from cnncore import atomic_write_bytes

    atomic_write_bytes(path, text.encode("latin-1"))


def bytes_value(s: QtCore.QSettings, key: str) -> QtCore.QByteArray | None:
    """A byte array stored with :func:`set_bytes` (base64 text), or None when absent or malformed."""
    v = s.value(key, None)
    if not isinstance(v, str) or len(v) > 65536:
        return None
    try:
        return QtCore.QByteArray(base64.b64decode(v.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def set_bytes(s: QtCore.QSettings, key: str, data) -> None:
    """Store a byte array as base64 text (never as Qt's ``@ByteArray``/``@Variant``)."""
    s.setValue(key, base64.b64encode(bytes(data)).decode("ascii"))


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
    if v is None or not isinstance(v, (str, int, float, bool)):   # only plain values, never objects
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


def read_group(s: QtCore.QSettings, prefix: str, keys) -> dict:
    """The saved ``prefix/key`` values of one view, as the plain strings or numbers stored: only
    the keys present, never an object. The view checks and converts each one itself."""
    out = {}
    for k in keys:
        v = s.value(f"{prefix}/{k}", None)
        if isinstance(v, (str, int, float, bool)):
            out[k] = v
    return out


def write_group(s: QtCore.QSettings, prefix: str, d: dict) -> None:
    for k, v in d.items():
        s.setValue(f"{prefix}/{k}", v)


def choice_index(v, count: int, default: int = 0) -> int:
    """A saved position in a list of ``count`` choices, or ``default`` when it is not one."""
    try:
        i = int(v)
    except (TypeError, ValueError, OverflowError):
        return default
    return i if 0 <= i < count else default
