"""Before Qt starts: can it open a window here? Said in one message, instead of Qt's abort.

On Linux, Qt's ``xcb`` platform plugin (the X11 one, also used under XWayland) needs system
libraries that a fresh desktop may lack (``libxcb-cursor0`` is the classic one on Ubuntu). When
one is missing, Qt prints "Could not load the Qt platform plugin xcb" and aborts the process,
which no ``try`` can catch. :func:`display_problem` looks for those libraries first, the way the
dynamic linker will (``ctypes.CDLL`` by file name), and returns what to install. Qt-free.
"""
from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["XCB_LIBRARIES", "INSTALL_LINES", "display_problem", "install_hint"]

#: The libraries Qt 6's xcb plugin loads (``ldd libqxcb.so``), by the name the linker looks for.
XCB_LIBRARIES = (
    "libxcb.so.1", "libX11-xcb.so.1", "libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-image.so.0",
    "libxcb-keysyms.so.1", "libxcb-randr.so.0", "libxcb-render-util.so.0", "libxcb-render.so.0",
    "libxcb-shape.so.0", "libxcb-shm.so.0", "libxcb-sync.so.1", "libxcb-util.so.1", "libxcb-xfixes.so.0",
    "libxcb-xkb.so.1", "libxkbcommon.so.0", "libxkbcommon-x11.so.0",
)

#: One line per platform that installs everything the xcb plugin needs (README says the same).
INSTALL_LINES = {
    "Debian/Ubuntu": "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 "
                     "libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 libegl1",
    "Fedora": "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-image xcb-util-keysyms "
              "xcb-util-renderutil libxkbcommon-x11 mesa-libEGL",
}


def _loads(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def _connects(display: str) -> bool:
    """True when an X server answers at ``display`` (libxcb's own connect, as Qt's plugin does)."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
        xcb.xcb_connect.restype = ctypes.c_void_p
        xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
        xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
        conn = xcb.xcb_connect(display.encode(), None)
        try:
            return conn is not None and xcb.xcb_connection_has_error(conn) == 0
        finally:
            if conn is not None:
                xcb.xcb_disconnect(conn)
    except (OSError, AttributeError):
        return True              # cannot tell: let Qt try


def install_hint() -> str:
    return "; ".join(f"on {system}: {line}" for system, line in INSTALL_LINES.items())


def display_problem(environ=None, platform: str | None = None, loads=None, connects=None) -> str | None:
    """A message when Qt could not open a window here, else None.

    Checked only on Linux and only when Qt would pick xcb: ``QT_QPA_PLATFORM`` unset (or "xcb")
    and an X display (``DISPLAY``) without a Wayland one. ``loads(name) -> bool`` stands in for
    the linker in tests, ``connects(display) -> bool`` for the X server.
    """
    env = os.environ if environ is None else environ
    loads = loads or _loads
    if not (platform or sys.platform).startswith("linux"):
        return None
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen and not chosen.startswith("xcb"):
        return None              # the user picked a plugin (offscreen, wayland, ...): Qt's business
    if not chosen and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return ("cnnapp: no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set). "
                "Start it from a desktop session, or over ssh with -X.")
    if not chosen and env.get("WAYLAND_DISPLAY"):
        return None              # Qt tries its Wayland plugin first
    missing = [name for name in XCB_LIBRARIES if not loads(name)]
    if not missing:
        display = env.get("DISPLAY", "")
        if display and not (connects or _connects)(display):
            return (f"cnnapp: no X server answers at DISPLAY={display}. Start cnnapp from the desktop "
                    "session it should open on (or check DISPLAY).")
        return None
    what = f"libraries {', '.join(missing)} are" if len(missing) > 1 else f"library {missing[0]} is"
    return (f"cnnapp: Qt cannot open a window: the system {what} missing. "
            f"Install them ({install_hint()}) and start cnnapp again.")
