"""Issue 13 item 1: ``cnnapp`` says what to install instead of Qt's "could not load the xcb plugin" abort."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cnnapp.display_check import INSTALL_LINES, XCB_LIBRARIES, display_problem

X11 = {"DISPLAY": ":0"}


def test_a_missing_xcb_library_is_named_with_the_line_that_installs_it():
    msg = display_problem(X11, "linux", loads=lambda name: name != "libxcb-cursor.so.0")
    assert msg is not None and "libxcb-cursor.so.0 is missing" in msg and "libxcb-icccm.so.4" not in msg
    assert INSTALL_LINES["Debian/Ubuntu"] in msg and INSTALL_LINES["Fedora"] in msg
    assert "libxcb-cursor0" in INSTALL_LINES["Debian/Ubuntu"] and "xcb-util-cursor" in INSTALL_LINES["Fedora"]


def test_no_x_server_at_the_display_is_said_before_qt_aborts():
    msg = display_problem(X11, "linux", loads=lambda name: True, connects=lambda d: False)
    assert msg is not None and "DISPLAY=:0" in msg
    if sys.platform.startswith("linux"):
        from cnnapp.display_check import _connects
        if all(_loads_real(n) for n in XCB_LIBRARIES):
            assert not _connects(":987")         # nothing listens there


def _loads_real(name):
    from cnnapp.display_check import _loads
    return _loads(name)


def test_nothing_to_say_when_qt_can_open_a_window_or_is_told_where():
    assert display_problem(X11, "linux", loads=lambda name: True, connects=lambda d: True) is None
    never = lambda name: False  # noqa: E731
    assert display_problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux", loads=never) is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux", loads=never) is None
    assert display_problem(X11, "darwin", loads=never) is None
    assert display_problem(X11, "win32", loads=never) is None
    assert display_problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux", loads=never) is not None
    assert "DISPLAY" in display_problem({}, "linux", loads=never)


def test_the_list_covers_what_the_installed_plugin_links():
    """Every xcb/xkb library the installed libqxcb.so needs (per ldd) is checked."""
    import shutil

    import pytest
    PySide6 = pytest.importorskip("PySide6")
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.is_file() or shutil.which("ldd") is None:
        pytest.skip("no libqxcb.so or ldd here (not Linux)")
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True).stdout
    out += subprocess.run(["ldd", str(plugin.parents[2] / "lib" / "libQt6XcbQpa.so.6")],
                          capture_output=True, text=True).stdout
    needed = {line.split()[0] for line in out.splitlines()
              if line.strip().startswith(("libxcb", "libX11-xcb", "libxkbcommon"))}
    assert needed and needed <= set(XCB_LIBRARIES), needed - set(XCB_LIBRARIES)


def test_cnnapp_prints_the_line_and_exits_2_instead_of_aborting(tmp_path):
    """The real command, with a library faked missing: one message, exit status 2, no abort."""
    code = ("import sys, cnnapp.display_check as d; d._loads = lambda n: n != 'libxcb-icccm.so.4'; "
            "from cnnapp.cli import main; sys.exit(main([]))")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":99", CNNLAB_CONFIG_DIR=str(tmp_path), CNNLAB_DATA_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                       cwd=Path(__file__).resolve().parents[1])
    if sys.platform.startswith("linux"):
        assert r.returncode == 2, r.stderr
        assert "libxcb-icccm.so.4" in r.stderr and "sudo apt install" in r.stderr
        assert "Traceback" not in r.stderr and "Aborted" not in r.stderr


def test_readme_and_ci_say_the_same():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    for line in INSTALL_LINES.values():
        assert line in readme
    ci = (root / ".ci" / "run").read_text(encoding="utf-8")
    xvfb = "CNNLAB_TEST_PLATFORM=xcb xvfb-run -a python -m pytest -q -m gui"
    assert xvfb in ci and xvfb in readme
    debian = INSTALL_LINES["Debian/Ubuntu"].split()[3:]
    assert all(pkg in ci for pkg in debian), [p for p in debian if p not in ci]
