"""One word for one thing in every sentence the app shows: its texts (the string literals of ``cnnapp``
and ``cnncore``, docstrings left out) and the README, read from the source."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _shown_strings():
    """(where, text) of every string literal of the two packages that is not a docstring."""
    for path in sorted((ROOT / "cnnapp").rglob("*.py")) + sorted((ROOT / "cnncore").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {id(node.body[0].value) for node in ast.walk(tree)
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                yield f"{path.relative_to(ROOT)}:{node.lineno}", node.value
    for k, line in enumerate((ROOT / "README.md").read_text(encoding="utf-8").splitlines(), 1):
        yield f"README.md:{k}", line


def test_the_key_that_gives_an_answer_is_called_return_everywhere():
    """A tour: a wrong answer said "then Enter" while the lesson panel's tooltips, the keyboard shortcuts
    box (Ctrl+Return) and the README said "Return" for the same key. Every text says Return."""
    said = list(_shown_strings())
    assert any(re.search(r"\bReturn\b", text) for _, text in said)            # (the scan reads the texts)
    enter = [f"{where}: {text.strip()[:70]}" for where, text in said if re.search(r"\bEnter\b", text)]
    assert not enter, "the key is called Return:\n" + "\n".join(enter)
