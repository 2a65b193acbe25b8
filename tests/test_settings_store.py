"""The settings store (``cnnapp.state.settings_store``) and the one-time migration of an old INI file
(``cnnapp.state.legacy_ini``): nothing in the settings folder can run code, a file or folder that
cannot be used never stops the app (it is named, and a bad file set aside), and every value the
app writes comes back as it was."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import errno  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnapp.state.legacy_ini import MAX_INI_BYTES, read_ini  # noqa: E402
from cnnapp.state.settings_store import (MAX_BYTES, MAX_DEPTH, MAX_TEXT, SettingsStore,  # noqa: E402
                                         is_plain)
from settings_texts import hostile_ini, hostile_json, ini_text  # noqa: E402



def gui(test):
    """A test that opens the app's window (``pytest -m gui`` selects these)."""
    test = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")(test)
    return pytest.mark.gui(test)


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    """Settings and user files go to a temporary folder, never the user's own."""
    monkeypatch.setenv("CNNLAB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "data"))


def _config() -> Path:
    return Path(os.environ["CNNLAB_CONFIG_DIR"])


def _window(qtbot):
    from cnnapp.main_window import MainWindow
    w = MainWindow()
    qtbot.addWidget(w)
    qtbot.wait(1)                           # (what it has to say as it starts is said once it is up)
    return w


def _note(w) -> str:
    """The status bar's whole message (its tooltip when the bar shows it cut short)."""
    bar = w.statusBar()
    return bar.toolTip() or bar.currentMessage()


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


# ----------------------------------------------------------------------------- the app, hostile files

def _assert_harmless_values_shown(w):
    from cnnapp import settings as st
    assert w.tabs.currentIndex() == 2 and w.draw.brush.value() == 11
    assert w.train.lr.value() == pytest.approx(0.0123) and w.train.epochs.value() == 7
    assert w.backprop.sample_spin.value() == 17 and w.backprop.predict.score.to_dict() == {"dz1": [2, 5]}
    quiz = st.store().group("learn/quiz")["step-loss"]
    assert quiz == {"status": "correct", "choice": [0, 2]}


@gui
def test_no_payload_in_an_old_file_runs_and_its_plain_values_are_kept(qtbot, tmp_path):
    name = "cnnlab.ini"
    text, markers = hostile_ini(tmp_path)
    _config().mkdir()
    (_config() / name).write_bytes(text.encode("latin-1"))
    w = _window(qtbot)
    assert not [m for m in markers if Path(m).exists()]
    _assert_harmless_values_shown(w)
    note = _note(w)
    assert f"Ignored {len(markers)} settings that could run code" in note
    assert f"moved from {_config() / name} to settings.json" in note and "cnnlab.ini.migrated" in note
    assert (_config() / "cnnlab.ini.migrated").exists() and not (_config() / name).exists()
    assert "Variant" not in (_config() / "settings.json").read_text()
    w.close()
    w2 = _window(qtbot)                                          # and at the next start
    _assert_harmless_values_shown(w2)
    assert not [m for m in markers if Path(m).exists()]
    w2.close()


@gui
def test_no_payload_in_the_json_file_runs_and_the_rest_is_used(qtbot, tmp_path):
    text, markers = hostile_json(tmp_path)
    _config().mkdir()
    (_config() / "settings.json").write_text(text)
    w = _window(qtbot)
    _assert_harmless_values_shown(w)
    assert w.train.count.value() == 6000 and w.backprop.speed.value() == 4    # the payload's keys: defaults
    w.learn.ensure()
    assert w.learn.content.quiz.status("step-flatten") is None
    w.close()
    assert not [m for m in markers if Path(m).exists()]


# ----------------------------------------------------------------------------- the app, every value back

def _change_every_setting(w, qtbot):
    """Give every view's setting a value that is not its default; returns the quiz view."""
    from cnncore.predict import Score
    w.draw.brush.setValue(11)
    t = w.train
    t.source.setCurrentIndex(t.source.findData("drawings"))
    t.optimizer.setCurrentIndex(1 - t.optimizer.currentIndex())
    for spin, v in ((t.count, 1234), (t.holdout, 0.2), (t.lr, 0.0123), (t.batch, 16), (t.epochs, 7)):
        spin.setValue(v)
    t.schedule.setCurrentIndex(1 - t.schedule.currentIndex())
    bp = w.backprop
    bp.speed.setValue(9)
    bp.source.setCurrentIndex(2)
    bp.sample_spin.setValue(17)
    bp.set_colours("purple-white-orange")
    bp.predict.set_score(Score.from_dict({"dz1": [2, 5], "sign": [0, 3], "winner": [4, 4]}))
    w.learn.ensure()
    quiz = w.learn.content.quiz
    for i, q in enumerate(quiz.questions[:4]):
        quiz.show_question(i)
        chosen = sorted(q.correct_set) if i % 2 == 0 else [k for k in range(len(q.answers)) if k not in q.correct_set][:1]
        for k in chosen:
            quiz.choose(k)
        quiz.check()
    w.tabs.setCurrentIndex(3)
    w.resize(700, 500)
    w.train.splitter.setSizes([360, 900])
    return quiz


@gui
def test_every_value_the_app_writes_comes_back_and_nothing_is_refused(qtbot):
    from cnnapp import settings as st
    w = _window(qtbot)
    w.show()
    qtbot.waitExposed(w)
    try:
        quiz = _change_every_setting(w, qtbot)
        views = {name: view.settings_dict() for name, view in w._views_with_settings().items()}
        score = w.session.scores.predict.to_dict()
        progress = st.store().group("learn/quiz")
        assert len(progress) == 4 and {p["status"] for p in progress.values()} == {"correct", "wrong"}
        statuses = [quiz.status(q.id) for q in quiz.questions]
        w.save_settings()
        states = {sp.objectName(): bytes(sp.saveState()) for sp in w._splitters()}
        geometry, sizes = bytes(w.saveGeometry()), w.train.splitter.sizes()
        w.close()
        text = st.settings_path().read_text()
        assert "@" not in text and json.loads(text)["backprop"]["predict_score"] == score
        w2 = _window(qtbot)
        assert "etting" not in _note(w2)           # nothing refused, nothing to say
        assert {name: view.settings_dict() for name, view in w2._views_with_settings().items()} == views
        assert w2.session.scores.predict.to_dict() == score == w2.backprop.predict.score.to_dict()
        w2.learn.ensure()
        assert [w2.learn.content.quiz.status(q.id) for q in quiz.questions] == statuses
        assert st.store().get_bytes("window/geometry") == geometry
        assert {name: st.store().get_bytes(f"splitters/{name}") for name in states} == states
        assert w2.train.splitter.sizes()[0] == sizes[0] and w2.tabs.currentIndex() == 3
        w2.close()
    finally:
        w.backprop.set_colours("blue-white-red")


# ----------------------------------------------------------------------------- files that cannot be used

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


@gui
@pytest.mark.parametrize("kind", list(_BAD_FILES))
def test_a_settings_file_that_cannot_be_read_is_set_aside_and_named(qtbot, kind):
    from cnnapp import settings as st
    _config().mkdir()
    path = _config() / "settings.json"
    _BAD_FILES[kind](path)
    w = _window(qtbot)                                           # starts, with the defaults
    assert w.train.lr.value() == pytest.approx(0.003)
    aside = [p for p in _config().iterdir() if p.name.startswith("settings.json.unreadable-")]
    assert len(aside) == 1
    note = _note(w)
    assert str(path) in note and aside[0].name in note and "defaults" in note
    w.tabs.setCurrentIndex(1)
    w.close()                                                    # a new file is written
    assert json.loads(path.read_text())["window"]["tab"] == 1
    assert st.store().take_message() is None


def _a_file_in_the_way(folder: Path, monkeypatch) -> str:
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("not a folder")
    return "it is a file, not a folder"


def _read_only_parent(folder: Path, monkeypatch) -> str:
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.parent.chmod(0o555)
    if os.access(folder.parent, os.W_OK):                        # root may write anyway: what a user meets
        real = Path.mkdir

        def refused(self, *a, **k):
            if self == folder:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
            return real(self, *a, **k)
        monkeypatch.setattr(Path, "mkdir", refused)
    return os.strerror(errno.EACCES)


@gui
@pytest.mark.parametrize("cause", [_a_file_in_the_way, _read_only_parent])
def test_a_config_folder_that_cannot_keep_settings_is_named_and_the_app_starts(qtbot, monkeypatch, tmp_path, cause):
    folder = tmp_path / "parent" / "config"
    monkeypatch.setenv("CNNLAB_CONFIG_DIR", str(folder))
    why = cause(folder, monkeypatch)
    try:
        w = _window(qtbot)
        note = _note(w)
        assert f"Settings cannot be kept in {folder} ({why}): the app starts with its defaults" in note
        w.close()                                                # saving at close raises nothing
        assert not (folder / "settings.json").exists()
    finally:
        folder.parent.chmod(0o755)


def test_each_unreadable_file_gives_the_defaults_and_a_message(tmp_path):
    """Without the window: the store opens empty (plain), says why, and never raises."""
    for k, make in enumerate(_BAD_FILES.values()):
        folder = tmp_path / str(k)
        folder.mkdir()
        make(folder / "settings.json")
        s = SettingsStore.open(folder)
        assert s.data == {} and is_plain(s.data) and s.take_message()


def test_nothing_in_the_app_hands_a_file_to_qsettings():
    """No module of the app uses ``QSettings`` (a file it reads can run code at start-up)."""
    import ast

    import cnnapp
    users = []
    for path in Path(cnnapp.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Attribute, ast.Name, ast.alias)) and "QSettings" in (
                    getattr(node, "attr", None), getattr(node, "id", None), getattr(node, "name", None)):
                users.append(f"{path.name}:{node.lineno}" if hasattr(node, "lineno") else path.name)
    assert not users


@pytest.mark.skipif(os.name != "posix", reason="permission bits as POSIX has them")
def test_a_read_only_settings_file_is_said_when_the_app_starts(tmp_path):
    """A read-only settings.json: its values were used, and the save at the close failed with a message
    nobody sees. That the changes will not be kept is said as the app starts."""
    s = SettingsStore.open(tmp_path / "c")
    s.data["train"] = {"epochs": 3}
    assert s.save()
    s.path.chmod(0o444)
    t = SettingsStore.open(tmp_path / "c")
    assert t.data["train"] == {"epochs": 3} and "is read-only" in (t.take_message() or "")
    t.data["train"] = {"epochs": 4}
    assert not t.save() and json.loads(s.path.read_text())["train"] == {"epochs": 3}     # not written, and
    assert t.take_message() is None                                    # no second word nobody would read
