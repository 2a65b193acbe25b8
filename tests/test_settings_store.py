"""The settings store (``cnnapp.state.settings_store``) and the one-time migration of an old INI file
(``cnnapp.state.legacy_ini``): nothing in the settings folder can run code, a file or folder that
cannot be used never stops the app (it is named, and a bad file set aside), and every value the
app writes comes back as it was."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnapp.state.legacy_ini import MAX_INI_BYTES, read_ini  # noqa: E402
from cnnapp.state.settings_store import (MAX_BYTES, MAX_DEPTH, MAX_TEXT, SettingsStore,  # noqa: E402
                                         is_plain)
from settings_texts import hostile_ini, ini_text  # noqa: E402


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    """Settings and user files go to a temporary folder, never the user's own."""
    monkeypatch.setenv("CNNLAB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "data"))


def _config() -> Path:
    return Path(os.environ["CNNLAB_CONFIG_DIR"])


# ----------------------------------------------------------------------------- the store

def test_values_come_back_with_their_type_and_range(tmp_path):
    s = SettingsStore.open(tmp_path / "c")
    s.set("window/tab", 2)
    s.set("train/lr", 0.0123)
    s.update("train", {"source": "mnist", "epochs": np.int64(7), "count": "1234"})
    s.update("learn/quiz", {"a/b c": {"status": "correct", "choice": (0, 2)}})
    s.set_bytes("window/geometry", b"\x01\xd9\xd0\xcb\x00\x03")
    assert s.save() and s.take_message() is None
    t = SettingsStore.open(tmp_path / "c")
    assert t.data == s.data and t.take_message() is None
    assert t.get("window/tab", 0, int, 0, 5) == 2 and t.get("window/tab", 0, int, 3, 5) == 0
    assert t.get("train/epochs", 0) == 7 and t.get("train/count", 0) == 1234      # text read as a number
    assert t.get("train/lr", 1.0) == pytest.approx(0.0123) and t.get("train/lr", 0) == 0   # not an int
    assert t.get("train/source", 0) == 0 and t.get("train/source", "") == "mnist"
    assert t.get("nothing/here", "x") == "x"
    assert t.group("learn/quiz") == {"a/b c": {"status": "correct", "choice": [0, 2]}}
    assert t.get_bytes("window/geometry") == b"\x01\xd9\xd0\xcb\x00\x03"
    assert t.get_bytes("train/source") is None                                  # not base64
    t.group("learn/quiz")["a/b c"]["status"] = "wrong"                          # a copy
    assert t.group("learn/quiz")["a/b c"]["status"] == "correct"
    t.set("train/count", 2**40)
    assert t.get("train/count", 5) == 5                                         # a Qt widget takes a C int


@pytest.mark.parametrize("value", [object(), float("nan"), float("inf"), b"bytes", {1: 2}, 2**64,
                                   "x" * (MAX_TEXT + 1), [[[[[[[[[1]]]]]]]]]])
def test_the_store_refuses_what_is_not_a_plain_value(tmp_path, value):
    s = SettingsStore.open(tmp_path)
    with pytest.raises(TypeError):
        s.set("train/x", value)
    assert s.data == {}


def test_values_in_the_file_that_are_not_plain_are_left_out_one_by_one(tmp_path):
    deep = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)          # with the file's and the group's
    (tmp_path / "settings.json").write_text(
        '{"train": {"lr": 0.5, "a": NaN, "b": Infinity, "c": 1e999, "d": ' + "9" * 30 + ', "e": '
        + deep + ', "f": "' + "x" * (MAX_TEXT + 1) + '", "epochs": 7}, "window": {"tab": 1}}')
    s = SettingsStore.open(tmp_path)
    assert s.data == {"train": {"lr": 0.5, "epochs": 7}, "window": {"tab": 1}}
    note = s.take_message()
    assert "Ignored 6 settings in " + str(tmp_path / "settings.json") in note
    assert (tmp_path / "settings.json").exists() and len(list(tmp_path.iterdir())) == 1   # not set aside


def test_saving_never_raises_and_says_where_it_failed(tmp_path):
    s = SettingsStore.open(tmp_path / "c")
    s.set("window/tab", 1)
    (tmp_path / "c" / "settings.json").mkdir()                   # something else took the name
    assert s.save() is False
    assert str(tmp_path / "c" / "settings.json") in s.take_message()
    (tmp_path / "c" / "settings.json").rmdir()
    (tmp_path / "c").rmdir()
    (tmp_path / "c").write_text("now a file")
    assert s.save() is False and s.take_message()


# ----------------------------------------------------------------------------- the old INI files

def test_the_ini_reader_reads_plain_values_as_qt_does(tmp_path):
    """Texts from Qt's INI grammar (quotes across lines, continuations, escapes, lists, comments,
    ``%`` keys), without ``@``: our reader gives every value ``QSettings`` gives."""
    pytest.importorskip("PySide6")
    from PySide6 import QtCore
    rng = np.random.default_rng(20)
    compared = 0
    for k in range(300):
        data = ini_text(rng, typed=False)
        path = tmp_path / f"{k}.ini"                              # a new name each time: Qt caches files
        path.write_bytes(data)
        qs = QtCore.QSettings(str(path), QtCore.QSettings.IniFormat)
        theirs = {key: qs.value(key) for key in qs.allKeys()
                  if key and not key.startswith("/") and "//" not in key and not key.endswith("/")}
        del qs
        ours, typed = read_ini(data)
        assert not typed
        for key, v in theirs.items():
            if v is not None:
                assert ours.get(key) == v, (data, key)
                compared += 1
    assert compared > 500


def test_the_ini_reader_builds_text_only_and_finds_every_payload(tmp_path):
    text, markers = hostile_ini(tmp_path)
    values, typed = read_ini(text.encode("latin-1"))
    assert all(isinstance(v, str) or isinstance(v, list) and all(isinstance(s, str) for s in v)
               for v in values.values())
    assert len(typed) == len(markers) and set(typed.values()) == {"@Variant", "@DateTime"}
    assert values["train/lr"] == "0.0123" and values["learn/quiz/step-loss/choice"] == "0,2"
    assert values["other/after_the_payloads"] == "still read"


def test_qt_runs_every_payload_planted_in_the_old_file(tmp_path):
    """The same file handed to QSettings runs each payload (so the tests below can fail)."""
    text, markers = hostile_ini(tmp_path)
    path = tmp_path / "hostile.ini"
    path.write_bytes(text.encode("latin-1"))
    reader = ("import sys\nfrom PySide6 import QtCore\n"
              "s = QtCore.QSettings(sys.argv[1], QtCore.QSettings.IniFormat)\n"
              "[s.value(k) for k in s.allKeys()]\n")
    subprocess.run([sys.executable, "-c", reader, str(path)], check=True, timeout=120,
                   env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, capture_output=True)
    ran = [Path(m).name for m in markers if Path(m).exists()]
    assert len(ran) == len(markers), sorted(set(Path(m).name for m in markers) - set(ran))


def test_an_old_file_of_the_apps_own_values_moves_quietly_and_is_read_once(tmp_path):
    legacy = tmp_path / "cnnlab.ini"
    legacy.write_text('[window]\ngeometry=@ByteArray(\\x1\\xd9\\xd0\\xcb\\0\\x3)\ntab=2\n'
                      '[splitters]\ntrainSplitter=@ByteArray(\\0\\0\\0\\xff)\n'
                      '[backprop]\npredict_score="{\\"dz1\\": [2, 5]}"\ncolours=purple-white-orange\n'
                      '[learn]\nquiz\\q1\\status=right\nquiz\\q1\\choice=1, 3\n', encoding="latin-1")
    s = SettingsStore.open(tmp_path, legacy)
    assert s.take_message() is None                               # written by an earlier version: no alarm
    assert s.data == {"window": {"tab": 2},
                      "backprop": {"predict_score": {"dz1": [2, 5]}, "colours": "purple-white-orange"},
                      "learn": {"quiz": {"q1": {"status": "right", "choice": [1, 3]}}}}
    assert not legacy.exists() and (tmp_path / "cnnlab.ini.migrated").exists()
    assert json.loads((tmp_path / "settings.json").read_text()) == s.data
    legacy.write_text("[window]\ntab=5\n")                        # read once: settings.json now rules
    assert SettingsStore.open(tmp_path, legacy).get("window/tab", 0) == 2 and legacy.exists()


@pytest.mark.parametrize("make", [lambda p: p.write_text("[window]\ntab=2\n" + ";" * MAX_INI_BYTES),
                                  lambda p: os.mkfifo(p), lambda p: p.mkdir()],
                         ids=["too large", "a FIFO", "a folder"])
def test_an_old_file_that_cannot_be_read_is_set_aside_and_named(tmp_path, make):
    legacy = tmp_path / "cnnlab.ini"
    make(legacy)
    s = SettingsStore.open(tmp_path, legacy)
    aside = [p.name for p in tmp_path.iterdir() if p.name.startswith("cnnlab.ini.unreadable-")]
    note = s.take_message()
    assert s.data == {} and len(aside) == 1 and not os.path.lexists(legacy)
    assert note.startswith(f"The old settings file {legacy} ") and aside[0] in note


def test_60000_brackets_in_an_old_predict_score_leave_out_that_value_alone(tmp_path):
    """(100,000 would make the file larger than an old settings file can be: it is set aside.)"""
    legacy = tmp_path / "cnnlab.ini"
    legacy.write_text("[backprop]\npredict_score=" + "[" * 60000 + "\nspeed=9\n")
    s = SettingsStore.open(tmp_path, legacy)
    assert s.data == {"backprop": {"speed": 9}}
    assert "Ignored 1 setting that" in s.take_message()


def _deep_value(path: Path) -> None:
    path.write_text('{"train": {"lr": ' + "[" * 100000 + "]" * 100000 + '}}')


_BAD_FILES = {
    "100000 brackets": _deep_value,
    "100000 open brackets": lambda p: p.write_text('{"backprop": {"predict_score": ' + "[" * 100000),
    "not JSON": lambda p: p.write_text("[window]\ntab=2\n"),
    "not UTF-8": lambda p: p.write_bytes(b'{"a": "\xff\xfe"}'),
    "not an object": lambda p: p.write_text("[1, 2]"),
    "over 1 MB": lambda p: p.write_text('{"a": "' + "x" * MAX_BYTES + '"}'),
    "a FIFO": lambda p: os.mkfifo(p),
    "a folder": lambda p: (p.mkdir(), (p / "inside").write_text("x")),
}


def test_each_unreadable_file_gives_the_defaults_and_a_message(tmp_path):
    """Without the window: the store opens empty (plain), says why, and never raises."""
    for k, make in enumerate(_BAD_FILES.values()):
        folder = tmp_path / str(k)
        folder.mkdir()
        make(folder / "settings.json")
        s = SettingsStore.open(folder)
        assert s.data == {} and is_plain(s.data) and s.take_message()
