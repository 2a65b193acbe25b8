"""The app's settings: one JSON file of plain values that we parse ourselves, without Qt.

What the app remembers between launches (window geometry and splitters as base64 text, the tab,
each view's choices, quiz progress, the predict score) is kept as ``str``, ``int``, ``float``,
``bool``, ``None`` and lists and objects of them, nested at most :data:`MAX_DEPTH` deep, in
``settings.json``. Nothing else can come out of the file: it is read with ``json.loads`` after its
size (:data:`MAX_BYTES`) and nesting are checked, and every value is checked again on the way in
(:func:`is_plain`); one that is not plain is left out, alone. A file that cannot be read at all
(not JSON, too large, a folder or a pipe, ...) is renamed aside and the defaults are used.

An old INI file of an earlier version is read once by :func:`cnnapp.state.legacy_ini.read_ini`
(text only: Qt's ``@Variant`` objects are never decoded), its values moved here
(:func:`migrate`), and the file kept beside as ``<name>.migrated``.

Keys are paths of names: ``"window/tab"``, ``"learn/quiz"``. Every problem becomes one line for
the status bar (:meth:`SettingsStore.take_message`); nothing here raises for what a file holds,
and :meth:`SettingsStore.save` never raises.
"""
from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import numbers
import os
import re
import time
from pathlib import Path

from cnncore import atomic_write_text, json_nesting, read_regular

from .legacy_ini import MAX_INI_BYTES, read_ini

__all__ = ["SettingsStore", "SettingsFileError", "is_plain", "loads", "migrate", "number_or_text",
           "FILE_NAME", "MAX_BYTES", "MAX_DEPTH", "MAX_ITEMS", "MAX_TEXT"]

FILE_NAME = "settings.json"
#: A settings file larger than this is not ours (ours is a few kB).
MAX_BYTES = 1 << 20
#: Lists and objects nest at most this deep (the file itself is level 0).
MAX_DEPTH = 8
#: Items in one list or object; characters in one text.
MAX_ITEMS = 4096
MAX_TEXT = 1 << 16
_C_INT = (-2**31, 2**31 - 1)           # what a Qt widget can take
_NOT_PLAIN = object()                  # what the JSON reader makes of NaN, Infinity and huge integers


class SettingsFileError(ValueError):
    """A settings file that is not a JSON object of plain values; the text says why."""


# ------------------------------------------------------------------------------ plain values

def is_plain(v, depth: int = 0) -> bool:
    """Whether ``v`` is a plain value: ``None``, ``bool``, an ``int`` of 64 bits, a finite ``float``,
    a ``str`` of at most :data:`MAX_TEXT` characters, or a list / ``str``-keyed dict of plain
    values (at most :data:`MAX_ITEMS` items, nested at most :data:`MAX_DEPTH` deep)."""
    t = type(v)
    if v is None or t is bool:
        return True
    if t is int:
        return -2**63 <= v < 2**63
    if t is float:
        return math.isfinite(v)
    if t is str:
        return len(v) <= MAX_TEXT
    if depth >= MAX_DEPTH or t not in (list, dict) or len(v) > MAX_ITEMS:
        return False
    if t is list:
        return all(is_plain(x, depth + 1) for x in v)
    return all(type(k) is str and len(k) <= 256 and is_plain(x, depth + 1) for k, x in v.items())


def _plain_copy(v, where: str):
    """A copy of one of the app's own values as plain types (tuples become lists, NumPy numbers
    Python numbers); ``TypeError`` naming ``where`` for anything that cannot be kept."""
    if isinstance(v, (list, tuple)):
        out = [_plain_copy(x, where) for x in v]
    elif isinstance(v, dict):
        if not all(isinstance(k, str) for k in v):
            raise TypeError(f"setting {where}: a dict's keys must be texts")
        out = {k: _plain_copy(x, where) for k, x in v.items()}
    elif v is None or isinstance(v, (bool, str)):
        out = v
    elif isinstance(v, numbers.Integral):
        out = int(v)
    elif isinstance(v, numbers.Real):
        out = float(v)
    else:
        raise TypeError(f"setting {where}: {type(v).__name__} is not a plain value")
    if not is_plain(out):
        raise TypeError(f"setting {where}: {str(v)[:40]!r} is not a plain value (too large, too deep, "
                        f"or not a finite number)")
    return out


def _clean(d: dict, depth: int = 0) -> tuple[dict, int]:
    """The plain entries of a dict read from a file, and how many were left out (one by one: a
    bad value inside an object leaves out that value, not its neighbours)."""
    out, dropped = {}, max(0, len(d) - MAX_ITEMS)
    for k, v in itertools.islice(d.items(), MAX_ITEMS):
        if type(k) is not str or len(k) > 256:
            dropped += 1
        elif type(v) is dict and depth + 1 < MAX_DEPTH:
            out[k], n = _clean(v, depth + 1)
            dropped += n
        elif is_plain(v, depth + 1):
            out[k] = v
        else:
            dropped += 1
    return out, dropped


def loads(text: str):
    """Plain values from a JSON text, with limits: nested at most :data:`MAX_DEPTH` deep, no NaN or
    Infinity, integers of at most 20 digits (anything else raises :class:`SettingsFileError`)."""
    if len(text) > MAX_BYTES:
        raise SettingsFileError(f"is more than {MAX_BYTES:,} characters")
    if json_nesting(text) > MAX_DEPTH + 1:
        raise SettingsFileError(f"nests lists or objects more than {MAX_DEPTH} deep")
    try:
        return json.loads(text, parse_constant=lambda _: _NOT_PLAIN,
                          parse_int=lambda s: int(s) if len(s) <= 20 else _NOT_PLAIN)
    except json.JSONDecodeError as e:
        raise SettingsFileError(f"is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except (ValueError, RecursionError) as e:
        raise SettingsFileError(f"is not valid JSON ({type(e).__name__})") from None


def _load_file_data(raw: bytes) -> tuple[dict, int]:
    """The settings in a file's bytes and how many entries were left out as not plain."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SettingsFileError("is not UTF-8 text") from None
    data = loads(text)
    if type(data) is not dict:
        raise SettingsFileError("does not hold a JSON object")
    return _clean(data)


_INT = re.compile(r"[+-]?\d{1,18}")
_FLOAT = re.compile(r"[+-]?(\d{1,40}\.?\d{0,40}|\.\d{1,40})([eE][+-]?\d{1,3})?")


def number_or_text(s: str):
    """``"3"`` → 3, ``"0.0123"`` → 0.0123 (finite only); any other text stays text."""
    if _INT.fullmatch(s):
        return int(s)
    if _FLOAT.fullmatch(s):
        x = float(s)
        if math.isfinite(x):
            return x
    return s


# ------------------------------------------------------------------------------ migration

#: Groups of plain ``group/name`` values an earlier version wrote (each view's own, the window's).
APP_GROUPS = ("window", "splitters", "draw", "train", "backprop")


def _own_typed(key: str, kind: str) -> bool:
    """An earlier version's own typed value: window and splitter states as ``@ByteArray`` (dropped
    without a word: the window simply opens at its first size)."""
    return kind == "@ByteArray" and (key == "window/geometry" or key.startswith("splitters/"))


def _quiz_choice(v) -> list | None:
    parts = v if isinstance(v, list) else str(v).split(",")
    out = [number_or_text(p.strip()) for p in parts]
    return out if all(type(k) is int for k in out) else None


def migrate(values: dict, typed: dict) -> tuple[dict, int]:
    """The store's data from an old INI file's ``values`` and ``typed`` keys
    (:func:`~cnnapp.state.legacy_ini.read_ini`), and how many values were left out that were not
    the app's own plain values (Qt objects, a predict score that is not JSON). Numbers written as
    text come back as numbers; ``learn/quiz/<id>/status|choice`` become ``learn/quiz/<id>``
    objects; the predict score's JSON text becomes its object."""
    out: dict = {}
    left_out = sum(not _own_typed(key, kind) for key, kind in typed.items())
    for key, v in values.items():
        parts = key.split("/")
        if len(parts) == 2 and parts[0] in APP_GROUPS:
            if key == "backprop/predict_score":
                try:
                    v = loads(str(v))
                except SettingsFileError:
                    left_out += 1
                    continue
            else:
                v = [number_or_text(s) for s in v] if isinstance(v, list) else number_or_text(v)
            out.setdefault(parts[0], {})[parts[1]] = v
        elif len(parts) == 4 and parts[:2] == ["learn", "quiz"] and parts[3] in ("status", "choice"):
            v = _quiz_choice(v) if parts[3] == "choice" else v
            if v is not None:
                out.setdefault("learn", {}).setdefault("quiz", {}).setdefault(parts[2], {})[parts[3]] = v
    data, dropped = _clean(out)
    return data, left_out + dropped


# ------------------------------------------------------------------------------ the store

def _parts(key) -> list[str]:
    return [p for p in key.split("/") if p] if isinstance(key, str) else [str(p) for p in key]


def _read_only(path: Path) -> bool:
    """Whether the writer would refuse to replace ``path`` (no write bit, or not this user's to write)."""
    try:
        return not os.stat(path).st_mode & 0o222 or not os.access(path, os.W_OK)
    except OSError:
        return False


def _make_folder(folder: Path) -> str | None:
    """Create the settings folder; why it cannot hold the settings, or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return "it is a file, not a folder"
    except NotADirectoryError:
        return "a part of that path is a file, not a folder"
    except OSError as e:
        return e.strerror or str(e)
    if not os.access(folder, os.W_OK | os.X_OK):
        return "the folder is read-only"
    return None


def _settings(n: int) -> str:
    return "1 setting" if n == 1 else f"{n:,} settings"


def _free_name(path: Path, tag: str, keep_suffix: bool = False) -> Path:
    """``<name>.<tag>`` (``keep_suffix``: ``<stem>.<tag><suffix>``), or with ``-1``, ``-2``, ... after the
    tag when that exists."""
    def named(k: int) -> Path:
        tagged = tag + (f"-{k}" if k else "")
        return path.with_name(f"{path.stem}.{tagged}{path.suffix}" if keep_suffix else f"{path.name}.{tagged}")
    k = 0
    while os.path.lexists(named(k)):
        k += 1
    return named(k)


def set_aside(path: Path, why: str = "unreadable", keep_suffix: bool = False) -> Path:
    """Rename a file the app could not read out of its way, beside it (``<name>.<why>-<time>``, or with
    ``keep_suffix`` ``<stem>.<why>-<time><suffix>``, so that the Open dialog of its kind still lists it;
    never over another file): the new path. ``OSError`` where it cannot be renamed."""
    aside = _free_name(path, f"{why}-{time.strftime('%Y%m%d-%H%M%S')}", keep_suffix)
    os.replace(path, aside)
    return aside


class SettingsStore:
    """The settings kept in one folder.

    :meth:`open` reads them (migrating an old INI file once); :meth:`get` reads one value with its
    type and range, :meth:`group` a view's dict of values; :meth:`set`, :meth:`update` and
    :meth:`remove` change them in memory, :meth:`save` writes ``settings.json`` atomically.
    ``writable`` is False when the folder cannot keep them (then nothing is written).
    """

    def __init__(self, folder, data: dict | None = None) -> None:
        self.folder = Path(folder)
        self.path = self.folder / FILE_NAME
        self.data: dict = data if data is not None else {}
        self.writable = True
        self._messages: list[str] = []
        self._saved: str | None = None          # the text last written: an unchanged store is not written again

    # -------------------------------------------------------------- reading the file
    @classmethod
    def open(cls, folder, legacy=None) -> "SettingsStore":
        """The settings in ``folder`` (created when missing). When it has no ``settings.json`` yet,
        the old INI file ``legacy`` (if any) is migrated and renamed ``<name>.migrated``."""
        store = cls(folder)
        problem = _make_folder(store.folder)
        if problem:
            store.writable = False
            store._say(f"Settings cannot be kept in {store.folder} ({problem}): the app starts with its "
                       f"defaults and will not remember this session's changes; make it a folder you may write to.")
        if os.path.lexists(store.path):
            store._read()
        elif legacy is not None and os.path.lexists(legacy):
            store._migrate(Path(legacy))
        return store

    def _read(self) -> None:
        try:
            self.data, dropped = _load_file_data(read_regular(self.path, MAX_BYTES))
        except ValueError as e:               # read_regular's UnreadableFile, or a SettingsFileError
            self._set_aside(self.path, str(e))
            return
        except OSError as e:
            self._set_aside(self.path, f"could not be read ({e.strerror or e})")
            return
        if dropped:
            self._say(f"Ignored {_settings(dropped)} in {self.path} that were not plain values (too long, "
                      f"nested too deep, or not a finite number); the others are used.")
        if self.writable and _read_only(self.path):    # said now: at the close nobody would read it
            self.writable = False
            self._say(f"The settings file {self.path} is read-only: the app uses it, but will not remember this "
                      "session's changes.")

    def _migrate(self, legacy: Path) -> None:
        try:
            raw = read_regular(legacy, MAX_INI_BYTES)
        except (ValueError, OSError) as e:    # a folder, a FIFO, too large; or not readable at all
            why = str(e) if isinstance(e, ValueError) else f"could not be read ({e.strerror or e})"
            self._set_aside(legacy, why, old=True)
            return
        self.data, left_out = migrate(*read_ini(raw))
        if not self.writable or not self.save():
            return                                  # used this time; read again next time
        aside = _free_name(legacy, "migrated")
        try:
            os.replace(legacy, aside)
        except OSError:                             # settings.json now exists: never read again
            aside = legacy
        if left_out:
            self._say(f"Ignored {_settings(left_out)} that could run code or were not plain values; the rest "
                      f"moved from {legacy} to {FILE_NAME} (the old file is kept as {aside.name}).")

    def _set_aside(self, path: Path, why: str, old: bool = False) -> None:
        """Rename an unreadable file out of the way and say so (naming both)."""
        what = "The old settings file" if old else "The settings file"
        try:
            aside = set_aside(path)
        except OSError as e:
            if not old:
                self.writable = False
            self._say(f"{what} {path} {why}; it could not be set aside ({e.strerror or e}), so the app "
                      f"starts with its defaults" + (" and will not save them." if not old else "."))
            return
        self._say(f"{what} {path} {why}; set aside as {aside.name}, the defaults are used.")

    # -------------------------------------------------------------- values
    def _node(self, parts: list[str]):
        node = self.data
        for p in parts:
            if type(node) is not dict or p not in node:
                return None
            node = node[p]
        return node

    def get(self, key, default, kind=None, lo=None, hi=None):
        """The value at ``key`` (``"window/tab"``) as ``kind`` (``type(default)`` unless given), or
        ``default`` when it is absent, of another type, or outside ``[lo, hi]``. Numbers written as
        text are read as numbers; an ``int`` must fit a C int unless ``lo``/``hi`` say otherwise;
        lists and dicts come back as copies."""
        v = self._node(_parts(key))
        kind = kind or type(default)
        if kind in (int, float) and type(v) is str:
            v = number_or_text(v.strip())
        if kind is int and type(v) is float and v.is_integer():
            v = int(v)
        if kind is float and type(v) is int:
            v = float(v)
        if type(v) is not kind:
            return default
        if kind is int:
            lo, hi = _C_INT[0] if lo is None else lo, _C_INT[1] if hi is None else hi
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return default
        return _plain_copy(v, key) if kind in (list, dict) else v

    def group(self, key) -> dict:
        """A copy of the dict at ``key`` (a view's group, ``"learn/quiz"``), empty when absent."""
        return self.get(key, {}, dict)

    def get_bytes(self, key) -> bytes | None:
        """Bytes kept as base64 text (:meth:`set_bytes`), or None when absent or not base64."""
        v = self._node(_parts(key))
        if type(v) is not str:
            return None
        try:
            return base64.b64decode(v.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            return None

    def set(self, key, value) -> None:
        """Keep ``value`` at ``key``; ``TypeError`` when it is not a plain value (a fault of the
        app's, caught by the tests: the store never refuses what the app writes)."""
        parts = _parts(key)
        if not parts:
            raise KeyError("an empty settings key")
        value = _plain_copy(value, "/".join(parts))
        if not is_plain(value, len(parts)):
            raise TypeError(f"setting {'/'.join(parts)}: nested more than {MAX_DEPTH} deep")
        node = self.data
        for p in parts[:-1]:
            if type(node.get(p)) is not dict:
                node[p] = {}
            node = node[p]
        node[parts[-1]] = value

    def set_bytes(self, key, data) -> None:
        """Keep bytes as base64 text."""
        self.set(key, base64.b64encode(bytes(data)).decode("ascii"))

    def update(self, key, values: dict) -> None:
        """Set each ``name: value`` of ``values`` under ``key`` (names may hold any character)."""
        for name, v in values.items():
            self.set(_parts(key) + [str(name)], v)

    def remove(self, key) -> None:
        parts = _parts(key)
        node = self._node(parts[:-1])
        if type(node) is dict:
            node.pop(parts[-1], None)

    # -------------------------------------------------------------- writing the file
    def text(self) -> str:
        """The file's text for the settings held now."""
        return json.dumps(self.data, indent=1, sort_keys=True, allow_nan=False) + "\n"

    def save(self) -> bool:
        """Write ``settings.json`` atomically when the settings changed. False (with a message,
        once) when they could not be written; never raises."""
        if not self.writable:
            return False
        try:
            text = self.text()
            if text != self._saved:
                atomic_write_text(self.path, text)
                self._saved = text
            return True
        except (OSError, ValueError, TypeError) as e:     # cnncore's WriteFailed, OutputRefused: OSErrors
            why = f"{self.path} ({e.strerror})" if isinstance(e, OSError) and e.strerror else f"{e}"
            self._say(f"Settings could not be saved: {why}; they are kept until the app closes.")
            return False

    # -------------------------------------------------------------- messages
    def _say(self, text: str) -> None:
        if text not in self._messages:
            self._messages.append(text)

    def take_message(self) -> str | None:
        """What happened to the settings files (one line), once; None when nothing did."""
        text = " ".join(self._messages) or None
        self._messages.clear()
        return text
