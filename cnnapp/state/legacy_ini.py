"""An old settings file (``CNN Lab.conf``, written by ``QSettings``) read without Qt, into text only.

Earlier versions kept their settings in Qt's INI format. Qt turns a value written as
``@Variant(...)`` back into an object (PySide6 unpickles it: any code can run), so such a file is
never handed to Qt again: :func:`read_ini` follows Qt's grammar (``qsettings.cpp``: ``readIniLine``,
``readIniFile``, ``iniUnescapedKey``, ``iniUnescapedStringList``, ``stringToVariant``) as far as
needed to recover plain values, and builds nothing but ``str`` and lists of ``str``:

* a logical line ends at a line break outside double quotes; a backslash takes the byte after it
  along (a backslash before a line break continues the line); ``;`` starts a comment at the start of
  a line and ends the line elsewhere outside quotes;
* ``[section]`` starts a section (``[General]`` is the top level); in section names and keys
  ``\\`` stands for ``/`` and ``%XX`` / ``%UXXXX`` for a character;
* ``key=value``: the key is trimmed; in the value, escapes (``\\n``, ``\\x40``, ``\\101``, ...) are
  decoded, double quotes group text (keeping its spaces), and a comma outside quotes makes a list;
* a value that starts with ``@`` is one of Qt's typed values (``@Variant(...)`` and ``@DateTime(...)``
  hold a serialized object; ``@ByteArray``, ``@Rect``, ``@Size``, ``@Point``, ``@Invalid``): never
  decoded, only reported by its type; ``@@`` stands for text starting with ``@`` and ``@String(...)``
  for text.

Each step takes tokens (runs of plain bytes, escapes, quotes) with a regular expression, never
scanning a byte twice; lines past :data:`MAX_LINES` are not read, and a file is read at most
:data:`MAX_INI_BYTES` long. The store (:mod:`cnnapp.state.settings_store`) then keeps the values
the app understands.
"""
from __future__ import annotations

import re

__all__ = ["read_ini", "MAX_INI_BYTES", "MAX_LINES"]

#: An old settings file larger than this is not the app's (its own are a few kB).
MAX_INI_BYTES = 64 * 1024
#: Logical lines read at most (an old settings file of the app's has a few dozen).
MAX_LINES = 20000

_ESC = rb'\\(?:\r\n|\n\r|[\s\S])?'                  # a backslash takes the next byte (or a line break) along
# Qt's readIniLine, one token at a time (no token repeats a group, so none keeps a long
# backtracking stack): outside quotes and inside them.
_OUTSIDE = re.compile(rb'[^\n\r"\\;=]+|' + _ESC + rb'|[\n\r";=]')
_INSIDE = re.compile(rb'[^"\\]+|' + _ESC + rb'|"')
_SPACES = re.compile(rb"[ \t\r\n]*")
_COMMENT = re.compile(rb";[^\n\r]*")
_KEY_CODES = re.compile(r"\\|%U([0-9A-Fa-f]{4})|%([0-9A-Fa-f]{2})")
_VALUE_TOKENS = re.compile(rb'\\(?:x([0-9A-Fa-f]+)|([0-7]+)|(\r\n|\n\r|[\s\S]))?|"|,|[^\\",]+')
_ESCAPES = {b"a": "\a", b"b": "\b", b"f": "\f", b"n": "\n", b"r": "\r", b"t": "\t", b"v": "\v",
            b'"': '"', b"?": "?", b"'": "'", b"\\": "\\"}
#: Qt's typed values, by the prefix ``stringToVariant`` looks for (the value also ends in ``)``);
#: ``@String(...)`` is text (:func:`_text`).
_TYPED = ("@ByteArray(", "@Variant(", "@DateTime(", "@Rect(", "@Size(", "@Point(")


def _line_start(data: bytes, pos: int) -> int:
    """Past the spaces, line breaks and ``;`` comments before a logical line."""
    while True:
        pos = _SPACES.match(data, pos).end()
        if not data.startswith(b";", pos):
            return pos
        pos = _COMMENT.match(data, pos).end()


def _logical_lines(data: bytes):
    """``(line, equals)`` for each logical line, split as Qt's ``readIniLine`` splits them: it ends
    at a line break or ``;`` outside quotes; ``equals`` is where its first ``=`` outside quotes
    is, or -1."""
    n, pos = len(data), 0
    for _ in range(MAX_LINES):
        start = pos = _line_start(data, pos)
        if pos >= n:
            return
        eq, in_quotes = -1, False
        while pos < n:
            token = (_INSIDE if in_quotes else _OUTSIDE).match(data, pos).group()
            if token == b'"':
                in_quotes = not in_quotes
            elif not in_quotes and token in (b"\n", b"\r", b";"):
                break
            elif not in_quotes and token == b"=" and eq < 0:
                eq = pos - start
            pos += len(token)
        yield data[start:pos], eq


def _key_code(m) -> str:
    return "/" if m.group() == "\\" else chr(int(m.group(1) or m.group(2), 16))


def _unescape_key(raw: bytes) -> str:
    """A section name or key as Qt's ``iniUnescapedKey`` reads it (``\\`` → ``/``, ``%XX``, ``%UXXXX``)."""
    return _KEY_CODES.sub(_key_code, raw.decode("utf-8", errors="replace"))


class _Value:
    """The texts of one value as Qt's ``iniUnescapedStringList`` builds them."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.is_list = False
        self.pieces: list[str] = []
        self.size = 0                            # characters in ``pieces``
        self.keep = 0                            # trailing spaces before this are never chopped
        self.quoted = False

    def add(self, text: str) -> None:
        self.pieces.append(text)
        self.size += len(text)

    def end_item(self, chop: bool) -> None:
        s = "".join(self.pieces)
        if chop and not self.quoted:
            s = s[:self.keep] + s[self.keep:].rstrip(" \t")
        self.items.append(s)
        self.pieces, self.size, self.keep, self.quoted = [], 0, 0, False

    def result(self) -> str | list[str]:
        return self.items if self.is_list else self.items[0]


def _escape(m, v: _Value) -> bool:
    """Add the escape matched by ``m``; False for a backslash that ends the value."""
    hex_digits, oct_digits, other = m.groups()
    if hex_digits:                                            # Qt keeps the low 16 bits
        v.add(chr(int(hex_digits[-4:], 16)))
    elif oct_digits:
        v.add(chr(int(oct_digits[-6:], 8) & 0xFFFF))
    elif other is None:
        return False
    elif other in _ESCAPES:
        v.add(_ESCAPES[other])
    v.keep = v.size                                           # (any other byte after \ is skipped)
    return True


def _unescape_value(raw: bytes) -> str | list[str]:
    """The text (or list of texts) of a value, as Qt reads it before ``stringToVariant``."""
    if not any(c in raw for c in (b"\\", b'"', b",")):
        return raw.decode("utf-8", errors="replace").strip(" \t")
    v, in_quotes, skip_spaces = _Value(), False, True
    for m in _VALUE_TOKENS.finditer(raw):
        token = m.group()
        if token[:1] == b"\\":
            if not _escape(m, v):                             # a lone backslash at the end: no chop
                v.end_item(chop=False)
                return v.result()
        elif token == b'"':
            v.quoted, in_quotes = True, not in_quotes
            if not in_quotes:
                skip_spaces = True
                continue
        elif token == b"," and not in_quotes:
            v.is_list = True
            v.end_item(chop=True)
            skip_spaces = True
            continue
        else:
            if skip_spaces:
                token = token.lstrip(b" \t")
                v.keep = v.size
            v.add(token.decode("utf-8", errors="replace"))
        skip_spaces = False
    v.end_item(chop=True)
    return v.result()


def _typed(s: str) -> str | None:
    """The kind of Qt typed value ``s`` is (``"@Variant"``, ...), or None for text."""
    if s.startswith("@") and not s.startswith("@@") and (s == "@Invalid()" or s.endswith(")")):
        for prefix in _TYPED:
            if s.startswith(prefix):
                return prefix[:-1]
        if s == "@Invalid()":
            return "@Invalid"
    return None


def _text(s: str) -> str:
    if s.startswith("@@"):
        return s[1:]
    if s.startswith("@String(") and s.endswith(")"):
        return s[8:-1]
    return s


def read_ini(data: bytes) -> tuple[dict, dict]:
    """``(values, typed)`` of an INI file's bytes: ``values`` maps each key (``"section/key"``, the
    top level for ``[General]``) to its text or list of texts; ``typed`` maps each key whose value
    Qt would have decoded into an object to the kind (``"@Variant"``, ``"@ByteArray"``, ...).
    A later line for the same key wins, as in Qt. Never raises for any ``data``."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    values: dict = {}
    typed: dict = {}
    section = ""
    for line, eq in _logical_lines(data):
        if line.startswith(b"["):
            end = line.find(b"]")
            name = line[1:end if end >= 0 else len(line)].strip()
            if name.lower() == b"general":
                section = ""
            elif name.lower() == b"%general":
                section = name[1:].decode("latin-1") + "/"
            else:
                section = _unescape_key(name) + "/"
            continue
        if eq < 0:
            continue                                         # a line Qt ignores too
        key = section + _unescape_key(line[:eq].strip())      # as Qt keeps it, stray slashes and all
        value = _unescape_value(line[eq + 1:])
        kinds = [k for k in map(_typed, value if isinstance(value, list) else [value]) if k]
        if kinds:
            typed[key] = kinds[0]
            values.pop(key, None)
        else:
            values[key] = [_text(s) for s in value] if isinstance(value, list) else _text(value)
            typed.pop(key, None)
    return values, typed
