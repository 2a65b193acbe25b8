"""The teaching layer of the app: worked examples, per-element arithmetic, identities,
concept checks and a live gradient check.

``LearnPanel`` (the "Learn" tab), ``ArithmeticPanel`` (the sum behind a clicked
heatmap pixel) and ``IdentityView`` are Qt widgets, imported lazily so that
``cnnapp.learn.questions`` can be used without Qt.
"""
from __future__ import annotations

__all__ = ["LearnPanel", "ArithmeticPanel", "IdentityView"]


def __getattr__(name):
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
