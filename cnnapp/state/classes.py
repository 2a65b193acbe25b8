"""A network's classes in words: the digits, or what it learnt instead (Fashion-MNIST's clothes, …).

A class is named as its folder was (a folder of pictures named "⛵"); a character that no font of the
computer draws would show as an empty box. :func:`shown_name` is the one rule for what the screen shows
instead: the character spelled by its Unicode name, ":sailboat:" (its code point, ":U+732B:", where the
name is only that), and :func:`spelled_notes` says which it was, for a tooltip. The window tells which
characters its fonts draw (:func:`draw_names_with`); without it every character is drawn.
"""
from __future__ import annotations

import unicodedata

from cnncore.architecture import DIGIT_CLASSES, UNUSED_CLASS
from cnncore.plurals import plural  # noqa: F401 - (the app's views count with it, as the core does)

_draws = [lambda code: True]         # whether the screen's fonts draw a character (by its code point)


def draw_names_with(test) -> None:
    """Spell class names for a screen whose fonts draw the characters ``test(code point)`` accepts."""
    _draws[0] = test


def _undrawn(ch: str) -> bool:
    """A character no font draws (a combining mark or a format character, e.g. an emoji's variation
    selector, goes with the character before it and is never spelled; nor is a space)."""
    kind = unicodedata.category(ch)
    return kind[0] not in "MZ" and kind not in ("Cc", "Cf") and not _draws[0](ord(ch))


def spelling(ch: str) -> str:
    """A character by its Unicode name in small letters ("sailboat"), or its code point ("U+732B") where
    it has no name or its name is only the code point ("CJK UNIFIED IDEOGRAPH-732B")."""
    code = f"{ord(ch):04X}"
    name = unicodedata.name(ch, "")
    return f"U+{code}" if not name or name.endswith(code) else name.lower()


def shown_name(name: str) -> str:
    """A class name as the screen can show it: each character no font draws spelled between colons,
    "⛵" as ":sailboat:", "猫" as ":U+732B:" (the rest as it is)."""
    return "".join(f":{spelling(ch)}:" if _undrawn(ch) else ch for ch in str(name))


def spelled_notes(names) -> str:
    """For a tooltip: the names :func:`shown_name` spells and what each was ("No font of this computer
    draws this character: ⛵ (U+26F5 SAILBOAT) is shown as :sailboat:."), "" when it spells none."""
    spelled = [n for n in dict.fromkeys(str(n) for n in names) if shown_name(n) != n]
    if not spelled:
        return ""
    notes = []
    for name in spelled[:6]:
        codes = ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".strip() for ch in name if _undrawn(ch))
        notes.append(f"{name} ({codes}) is shown as {shown_name(name)}")
    one = len(spelled) == 1 and sum(map(_undrawn, spelled[0])) == 1
    return (f"No font of this computer draws {'this character' if one else 'these characters'}: " + "; ".join(notes)
            + ("; …" if len(spelled) > 6 else "") + ".")


def a_digit(d: int) -> str:
    """The digit with its English article: "a 3", "an 8"."""
    return with_article(str(int(d)))


def with_article(name: str) -> str:
    """A class name with its English article: "a 3", "an 8", "a cat", "an airplane" (by its first
    letter: a digit's name as :func:`a_digit` says it)."""
    name = str(name)
    if name.isdigit():
        return f"{'an' if name.startswith('8') or name in ('11', '18') else 'a'} {name}"
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def classes_of(net) -> tuple[str, ...]:
    """The names of a network's classes: the digits, or what it learnt instead (Fashion-MNIST's…)."""
    return tuple(getattr(net, "classes", DIGIT_CLASSES)) if net is not None else DIGIT_CLASSES


def shown_classes(net) -> tuple[str, ...]:
    """A network's class names as the screen shows them (:func:`shown_name`)."""
    return tuple(shown_name(c) for c in classes_of(net))


def known_classes(net) -> list[int]:
    """The outputs that are classes of ``net`` (a folder of two gives [0, 1]): not those no class uses,
    which the menus leave out and which are never a true class."""
    return [k for k, c in enumerate(classes_of(net)) if c != UNUSED_CLASS]


def reads_digits(net) -> bool:
    """Whether a network's classes are the ten digits: it has their names and takes a digit's
    picture. (A colour network not trained yet has the names "0"…"9" too, and no digit to read.)"""
    if classes_of(net) != DIGIT_CLASSES:
        return False
    signature = getattr(net, "signature", None)
    return signature is None or signature.fit == "digit"


def other_dataset(net) -> str:
    """The data set a network learnt when its classes are not the digits; "" for digits."""
    if reads_digits(net):
        return ""
    return getattr(net, "dataset", "") or "another data set"


def class_name(net, k: int) -> str:
    """Output ``k``'s class by its name ("cat", "3"), or "output 5 (no class)" for an output no class
    uses (a network's answer where it has not learnt enough; never a true class)."""
    name = classes_of(net)[int(k)]
    return f"output {int(k)} (no class)" if name == UNUSED_CLASS else shown_name(name)


def a_class(net, k: int) -> str:
    """Class ``k`` in words: "a 3" for digits, the class's own name ("Sneaker", "tsu") otherwise,
    "class 3" where the names are only numbers (a colour network not trained yet), and "output 5,
    which no class uses" for an output of a network of fewer classes (its answer where it has not
    learnt enough: it is never a true class)."""
    if reads_digits(net):
        return a_digit(k)
    name = classes_of(net)[int(k)]
    if name == UNUSED_CLASS:
        return f"output {int(k)}, which no class uses"
    return f"class {name}" if classes_of(net) == DIGIT_CLASSES else shown_name(name)


def class_kind(net) -> str:
    """"digit" for a network of digits, "class" for one that learnt another data set."""
    return "class" if other_dataset(net) else "digit"


