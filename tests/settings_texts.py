"""Settings files for the tests: a real pickled ``@Variant`` payload in every form Qt's INI grammar
lets a value take, and a grammar of INI and JSON settings texts for the fuzz test.

The payload is the exact bytes PySide6's ``QSettings.setValue`` writes for a Python object: a
``QVariant`` in ``QDataStream`` version 4.0 (user type 127, the type name
``PySide::PyObjectWrapper``, then the object's pickle as a byte array); Qt reads it back at start-up
and PySide6 unpickles it. ``@DateTime(...)`` values are read the same way, in version 5.6 (user type
1024 and a null flag). ``tests/test_settings_store.py`` shows that ``QSettings`` runs each form.
"""
from __future__ import annotations

import json
import pickle
import struct


class MakeFile:
    """Unpickling this creates the file ``path`` (``open(path, "w")``): proof that code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def variant_payload(marker: str, datetime: bool = False) -> bytes:
    """What QSettings keeps inside ``@Variant(...)`` (or ``@DateTime(...)``) for ``MakeFile(marker)``."""
    name = b"PySide::PyObjectWrapper\0"
    body = pickle.dumps(MakeFile(marker), protocol=4)
    head = struct.pack(">Ib", 1024, 0) if datetime else struct.pack(">I", 127)
    return head + struct.pack(">I", len(name)) + name + struct.pack(">I", len(body)) + body


def hex_escaped(data: bytes) -> str:
    """Every byte as Qt's ``\\xNN`` escape (each ends at the next backslash)."""
    return "".join(f"\\x{b:02x}" for b in data)


def _octal_at(data: bytes) -> str:
    return "\\100" + hex_escaped(data[1:])


#: Every form an INI value can take that Qt decodes to ``@Variant(<payload>)``, as functions of the
#: marker file's path (the value's text after ``key=``).
PAYLOAD_FORMS = {
    "plain": lambda m: "@Variant(" + hex_escaped(variant_payload(m)) + ")",
    "quoted": lambda m: '"@Variant(' + hex_escaped(variant_payload(m)) + ')"',
    "escaped-at": lambda m: "\\x40Variant(" + hex_escaped(variant_payload(m)) + ")",
    "octal-at": lambda m: _octal_at(b"@Variant(" + variant_payload(m) + b")"),
    "continued": lambda m: "@Vari\\\nant(" + hex_escaped(variant_payload(m)) + ")",
    "continued-crlf": lambda m: "@Var\\\r\niant(" + hex_escaped(variant_payload(m)) + ")",
    "in-a-list": lambda m: "harmless, @Variant(" + hex_escaped(variant_payload(m)) + ")",
    "quoted-in-a-list": lambda m: '"a, b", "@Variant(' + hex_escaped(variant_payload(m)) + ')"',
    # a quote open across the line break: for Qt the second line is the list's next item
    # (its "=)" keeps a line check's "no backslash after =" happy and the value ending in ")")
    "quote-across-lines": lambda m: '"harmless\n",\\x40Variant(' + hex_escaped(variant_payload(m)) + "=)",
    "datetime": lambda m: "@DateTime(" + hex_escaped(variant_payload(m, datetime=True)) + ")",
}

#: Sections to plant the forms in: the top level, the app's own (one spelt with ``%XX``), another.
PAYLOAD_SECTIONS = ["General", "window", "train", "backprop", "draw", "splitters", "learn", "%74rain", "other"]

#: Harmless values around the payloads, as ``(section, line, key in the store, value expected)``.
HARMLESS = [
    ("window", "tab=2", "window/tab", 2),
    ("train", "lr=0.0123", "train/lr", 0.0123),
    ("train", "epochs=7", "train/epochs", 7),
    ("draw", "brush=11", "draw/brush", 11),
    ("backprop", "sample=17", "backprop/sample", 17),
    ("backprop", 'predict_score="{\\"dz1\\": [2, 5]}"', "backprop/predict_score", {"dz1": [2, 5]}),
    ("learn", "quiz\\step-loss\\status=correct", "learn/quiz/step-loss/status", "correct"),
    ("learn", 'quiz\\step-loss\\choice="0,2"', "learn/quiz/step-loss/choice", [0, 2]),
]


def hostile_ini(marker_dir) -> tuple[str, list[str]]:
    """An INI text with every payload form in every section (each making its own marker file in
    ``marker_dir``), also on keys the app reads, and :data:`HARMLESS` values around them.
    Returns the text (to be written as latin-1) and the marker paths."""
    markers, lines = [], []
    app_keys = {"window": "geometry", "train": "count", "backprop": "speed", "draw": "brush_evil",
                "splitters": "trainSplitter", "learn": "quiz\\step-flatten\\status"}
    for section in PAYLOAD_SECTIONS:
        lines.append(f"[{section}]")
        lines += [line for s, line, _, _ in HARMLESS if s == section]
        for name, form in PAYLOAD_FORMS.items():
            marker = f"{marker_dir}/{section.strip('%')}-{name}"
            markers.append(marker)
            lines.append(f"evil_{section.strip('%')}_{name.replace('-', '_')}={form(marker)}")
        if section in app_keys:
            marker = f"{marker_dir}/{section}-app-key"
            markers.append(marker)
            lines.append(f"{app_keys[section]}={PAYLOAD_FORMS['quote-across-lines'](marker)}")
        lines.append("after_the_payloads=still read")
    return "\n".join(lines) + "\n", markers


def hostile_json(marker_dir) -> tuple[str, list[str]]:
    """A settings.json whose values are the payload's text (as a string could hold it) on the
    keys the app reads, with :data:`HARMLESS` values beside them."""
    markers = []

    def evil(name):
        marker = f"{marker_dir}/json-{name}"
        markers.append(marker)
        return "@Variant(" + variant_payload(marker).decode("latin-1") + ")"
    data = {"window": {"tab": 2, "geometry": evil("geometry")},
            "train": {"lr": 0.0123, "epochs": 7, "count": evil("count"), "source": evil("source")},
            "draw": {"brush": 11}, "splitters": {"trainSplitter": evil("splitter")},
            "backprop": {"sample": 17, "predict_score": {"dz1": [2, 5], "dx": evil("score")},
                         "speed": evil("speed"), "colours": evil("colours")},
            "learn": {"quiz": {"step-loss": {"status": "correct", "choice": [0, 2]},
                               "step-flatten": {"status": evil("status"), "choice": evil("choice")}}},
            evil("group"): {"x": 1}}
    return json.dumps(data), markers


# ----------------------------------------------------------------------------- a grammar

_WORDS = ["0", "1", "-3", "7", "0.05", "1e-3", "2.5", "1" * 30, "1e999", "-0", "nan", "inf", "true",
          "mnist", "blue-white-red", "x y", "é", "", " ", "\t", "Dz1"]
_ESCAPES = ["\\n", "\\t", "\\\\", '\\"', "\\x41", "\\x4", "\\x", "\\101", "\\7", "\\q", "\\;", "\\,",
            "\\\n", "\\\r\n", "\\\r"]
_TYPED = ["@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x18PySide::PyObjectWrapper\\0\\0\\0\\0\\x5\\x80\\x4K\\x1.)",
          "@ByteArray(\\x1\\xd9\\xd0)", "@Rect(1 2 3 4)", "@Size(1 2)", "@Point(1 2)", "@Invalid()",
          "@String(text)", "@@at", "@DateTime(\\0\\0\\x4\\0\\0)", "@Variant(", "\\x40Variant(\\0)", "@"]
_SECTIONS = ["General", "general", "%general", "window", "train", "backprop", "draw", "splitters",
             "learn", "%74rain", "a\\b", "%U00e9", "", "x y"]
_KEYS = {"window": ["geometry", "tab"], "train": ["lr", "count", "epochs", "source", "holdout", "batch"],
         "backprop": ["speed", "source", "sample", "predict_score", "colours"], "draw": ["brush"],
         "splitters": ["trainSplitter", "drawSplitter"],
         "learn": ["quiz\\step-loss\\status", "quiz\\step-loss\\choice", "quiz\\%41\\status"]}


def _pick(rng, seq):
    """One item of ``seq`` as it is (``rng.choice`` would turn a mixed list into NumPy strings)."""
    return seq[int(rng.integers(0, len(seq)))]


def _value(rng, typed: bool) -> str:
    parts = []
    for _ in range(int(rng.integers(0, 6))):
        r = rng.random()
        if r < 0.35:
            parts.append(_pick(rng, _WORDS))
        elif r < 0.55:
            parts.append(_pick(rng, _ESCAPES))
        elif r < 0.65:
            parts.append('"' + _pick(rng, _WORDS) + _pick(rng, [",", ";", "=", "", "\n"]) + '"')
        elif r < 0.75:
            parts.append(_pick(rng, [", ", ",", '"', ";", "="]))
        elif r < 0.85 and typed:
            parts.append(_pick(rng, _TYPED))
        elif r < 0.92:
            depth = _pick(rng, [1, 8, 9, 40, 3000])
            parts.append(json.dumps({"dz1": [1, 2]}) if rng.random() < 0.5 else "[" * depth + "]" * depth)
        else:
            parts.append(str(int(rng.integers(-2**31, 2**31))))
    text = "".join(parts)
    return text if typed else text.replace("@", "")


def ini_text(rng, typed: bool = True) -> bytes:
    """An INI settings text from Qt's grammar: sections (the app's, ``%``-encoded, odd ones), keys
    (the app's, with ``\\`` and ``%``), values built from words, numbers (huge ones too), escapes,
    line continuations, quotes (some left open), lists, comments and, when ``typed``, Qt's
    ``@``-types. Without ``typed`` no ``@`` appears at all (so nothing in it is an object for Qt)."""
    lines = []
    for _ in range(int(rng.integers(1, 12))):
        r = rng.random()
        if r < 0.2:
            lines.append("[" + _pick(rng, _SECTIONS) + _pick(rng, ["]", "]", " ]", ""]))
            continue
        if r < 0.27:
            lines.append(";" + _value(rng, typed))
            continue
        if r < 0.32:
            lines.append(_pick(rng, ["", "  ", "no equals sign", "=", "\\"]))
            continue
        group = _pick(rng, list(_KEYS))
        key = _pick(rng, _KEYS[group] + ["k", "K%41", "a\\b", " spaced "])
        lines.append(key + _pick(rng, ["=", " = ", "= ", "=="]) + _value(rng, typed))
    newline = _pick(rng, ["\n", "\r\n", "\r"])
    text = newline.join(lines) + _pick(rng, ["", newline])
    head = b"\xef\xbb\xbf" if rng.random() < 0.1 else b""
    return head + text.encode("utf-8")


def _json_value(rng, depth: int):
    r = rng.random()
    if depth > 0 and r < 0.3:
        return {_pick(rng, ["window", "train", "tab", "lr", "quiz", "x", "step-loss", "@Variant("]):
                _json_value(rng, depth - 1) for _ in range(int(rng.integers(0, 4)))}
    if depth > 0 and r < 0.45:
        return [_json_value(rng, depth - 1) for _ in range(int(rng.integers(0, 4)))]
    return _pick(rng, [0, 1, -7, 2**31, 2**63, 0.5, 1e308, True, False, None, "text", "@Variant(\x00\x7f)",
                       "x" * 70000, "\ud800", "[" * 50, 12.0])


def json_text(rng) -> bytes:
    """A settings.json text: objects of groups holding plain values, and hostile ones (nested up to
    40 deep or 100,000 ``[``, NaN, Infinity, integers of hundreds of digits, lone surrogates,
    texts over the limit, a list or number instead of the object)."""
    groups = ["window", "train", "backprop", "draw", "learn", "splitters"]
    data = {_pick(rng, groups): _json_value(rng, int(rng.integers(0, 12))) for _ in range(int(rng.integers(0, 6)))}
    text = json.dumps(data)
    r, more = rng.random(), text[:-1] + (", " if data else "")
    if r < 0.1:
        text = more + '"deep": ' + "[" * 100000 + "]" * 100000 * int(rng.integers(0, 2)) + "}"
    elif r < 0.2:
        text = more + '"n": ' + _pick(rng, ["NaN", "Infinity", "-Infinity", "1" * 500, "1e999"]) + "}"
    elif r < 0.25:
        text = _pick(rng, ["[]", "3", '"text"', "null", "", "{"])
    return text.encode("utf-8", errors="surrogatepass")
