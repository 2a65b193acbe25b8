"""The labelled pictures the tabs offer as samples to trace and look at, without Qt.

The held-out pictures of the last run the Train tab started, for every network that takes them (the
same shape and the same class names, so a sample's label is a class of that network). Else a network
that reads digits by MNIST's recipe (its signature's ``fit`` is ``"digit"``) gets generated digits,
made once; any other (a colour one, one trained on a folder of pictures) none until such a run: the
tabs then offer to open a picture.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .events import Event

#: Generated digits the tabs offer as samples to a digit network.
SAMPLE_COUNT = 100
SAMPLE_SEED = 2024
GENERATED = "generated digits"


@dataclass(frozen=True)
class SampleSet:
    """``X`` uint8 ``(N, C, H, W)`` or ``(N, H, W)`` (or floats in [0, 1]), ``y`` ``(N,)`` the true
    classes, ``classes`` the names they index, ``name`` the set's words ("generated digits",
    "held-out pictures of CIFAR-10")."""
    X: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    classes: tuple
    name: str

    def fits(self, net) -> bool:
        """Pictures ``net`` takes, labelled with its own classes."""
        shape = tuple(self.X.shape[1:]) if self.X.ndim == 4 else (1,) + tuple(self.X.shape[1:])
        return shape == tuple(net.input_shape) and tuple(self.classes) == tuple(net.classes)


class Samples:
    """The sample sets: :meth:`for_network` picks one. Event ``changed()``: a run's held-out
    pictures arrived (the sample boxes' ranges may change)."""

    def __init__(self) -> None:
        self.changed = Event()
        self._digits = None
        self._held_out = None
        self._fingerprinted = None          # (a set, its pictures' fingerprints)

    def keep_held_out(self, X, y, classes, name: str) -> None:
        """The held-out pictures of the run that starts now (``X (N, C, H, W)``, or ``(N, H, W)`` grey,
        ``y (N,)``, the classes the network learns from them, what the run names them)."""
        name = f"held-out pictures of {name or 'the latest run'}"
        self.keep(SampleSet(np.asarray(X), np.asarray(y), tuple(classes), name))

    def keep(self, held: SampleSet) -> None:
        """``held`` as the held-out pictures (those the last session kept, :mod:`cnncore.datasets.kept`)."""
        self._held_out = held
        self.changed.emit()

    @property
    def held_out(self) -> SampleSet | None:
        """The held-out pictures kept (of the last run, or the last session's), or None."""
        return self._held_out

    def for_network(self, net) -> SampleSet:
        """The samples ``net`` is offered (see the module text); an empty set when there are none."""
        held = self._held_out
        if net is not None and held is not None and held.fits(net):
            chosen = held
        elif net is None or net.signature.fit == "digit":
            chosen = self._generated()
        else:
            C, H, W = net.input_shape
            return SampleSet(np.zeros((0, C, H, W), np.uint8), np.zeros(0, np.uint8), tuple(net.classes), "")
        learnt = "" if net is None else _learnt(net, chosen, self._prints(chosen))
        return chosen if not learnt else replace(chosen, name=f"{chosen.name} ({learnt})")

    def _prints(self, chosen: SampleSet) -> np.ndarray:
        """The fingerprints of a set's pictures (:func:`cnncore.learnt.fingerprints`), made once a set."""
        if self._fingerprinted is None or self._fingerprinted[0] is not chosen:
            from cnncore.learnt import fingerprints
            self._fingerprinted = (chosen, fingerprints(chosen.X))
        return self._fingerprinted[1]

    def _generated(self) -> SampleSet:
        if self._digits is None:
            from cnncore.architecture import DIGIT_CLASSES
            from cnncore.datasets import generated_digits
            X, y = generated_digits(SAMPLE_COUNT, seed=SAMPLE_SEED)
            self._digits = SampleSet(X, y, DIGIT_CLASSES, GENERATED)
        return self._digits


def _learnt(net, held: SampleSet, prints) -> str:
    """What ``net`` learnt of ``held`` in words ("it learnt from 12 of them", "…may have learnt from
    some": a trained model of an older version), or "" for none."""
    from cnncore.learnt import how_many, learnt_count
    count = learnt_count(net, prints=prints)
    if count is None:
        return "this network may have learnt from some" if net.history else ""
    return "" if count == 0 else f"this network learnt from {how_many(count, len(held.X))} of them"


def none_to_pick(net) -> str:
    """Why a network has no samples yet, and what to do: one sentence for the user."""
    return (f"There are no pictures of {net.signature.words()} to pick from yet: train the network on the "
            "Train tab (its held-out pictures become the samples) or open a picture (Open a picture…).")
