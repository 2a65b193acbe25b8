"""A network's classes in words: the digits, or what it learnt instead (Fashion-MNIST's clothes, …)."""
from __future__ import annotations

from cnncore.architecture import DIGIT_CLASSES, UNUSED_CLASS


def a_digit(d: int) -> str:
    """The digit with its English article: "a 3", "an 8"."""
    return f"{'an' if int(d) == 8 else 'a'} {int(d)}"


def classes_of(net) -> tuple[str, ...]:
    """The names of a network's classes: the digits, or what it learnt instead (Fashion-MNIST's…)."""
    return tuple(getattr(net, "classes", DIGIT_CLASSES)) if net is not None else DIGIT_CLASSES


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
    return f"output {int(k)} (no class)" if name == UNUSED_CLASS else name


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
    return f"class {name}" if classes_of(net) == DIGIT_CLASSES else name


def class_kind(net) -> str:
    """"digit" for a network of digits, "class" for one that learnt another data set."""
    return "class" if other_dataset(net) else "digit"


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` and the word in the number it needs: "1 digit", "2 digits", "1,000 digits"."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
