"""The teaching layer of the app: worked examples, per-element arithmetic, identities,
concept checks and a live gradient check.

``LearnPanel`` (the "Learn" tab), ``ArithmeticPanel`` (the sum behind a clicked
heatmap pixel) and ``IdentityView`` are Qt widgets, imported lazily so that
``cnnapp.learn.questions`` can be used without Qt.
"""
from __future__ import annotations

__all__ = ["LearnPanel", "ArithmeticPanel", "IdentityView"]


def _guard_pyside():
    # PySide6 6.12.0 on Python 3.11 loses a reference to True on every Python-side
    # Signal.emit; see _refpin. Only done when Qt is already loaded (a Qt widget is coming).
    import sys
    if "PySide6.QtCore" in sys.modules:
        from ._refpin import install
        install()


def __getattr__(name):
    if name in __all__:
        _guard_pyside()
    if name == "LearnPanel":
        from .learn_panel import LearnPanel
        return LearnPanel
    if name == "ArithmeticPanel":
        from .arithmetic_panel import ArithmeticPanel
        return ArithmeticPanel
    if name == "IdentityView":
        from .identity_view import IdentityView
        return IdentityView
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
