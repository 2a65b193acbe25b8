"""Counted words in plain English, one rule for every sentence the app and the command line show:
"1 window contains", "4 windows contain" (never "window(s)")."""
from __future__ import annotations


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` and the word in the number it needs: "1 digit", "2 digits", "1,000 digits", "0 zeros"."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def agrees(n: int, one: str, many: str) -> str:
    """The verb (or pronoun) that goes with ``n`` things: ``agrees(1, "contains", "contain")``."""
    return one if n == 1 else many
