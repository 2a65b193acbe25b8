"""The base of every worked example: editable ``params``, derived ``results``, written-out ``lines()``."""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import explain
from ..layers import LAYER_TYPES


class WorkedExample:
    """Base: editable ``params``, derived ``results``, written-out ``lines()``.

    ``labels`` maps every array name to a short caption; ``editable`` lists the
    params in display order, ``shown`` the results. ``settings`` holds the
    hyperparameters an example lets the learner change (see :meth:`set_setting`).
    """
    key = ""
    title = ""
    credit = ""
    summary = ""
    editable: tuple = ()
    shown: tuple = ()
    labels: dict = {}
    choices: dict = {}

    def __init__(self):
        self.settings = dict(self.default_settings())
        self.params = {k: np.array(v, dtype=np.float64) for k, v in self.default_params().items()}
        self.results: dict = {}
        self.recompute()

    # subclasses fill these in
    def default_settings(self) -> dict:
        return {}

    def default_params(self) -> dict:
        raise NotImplementedError

    def recompute(self) -> None:
        raise NotImplementedError

    def lines(self) -> list:
        return []

    def heading(self) -> str:
        """The title with the current settings (the class's ``title`` when it has none)."""
        return self.title

    def explain(self, name: str, index: tuple):
        """The breakdown of ``results[name][index]`` (``None`` when there is none)."""
        return None

    def chosen_cells(self) -> dict:
        """``array name -> set of indices`` to mark as chosen at all times (max-pool winners)."""
        return {}

    # editing
    def set_value(self, name: str, index, value: float) -> None:
        """Change one editable number and recompute everything downstream."""
        if name not in self.params:
            raise KeyError(f"{name!r} is not an editable array of this example")
        value = float(value)
        if not np.isfinite(value):
            raise ValueError("a worked example needs finite numbers")
        self.params[name][tuple(index) if np.ndim(self.params[name]) else ()] = value
        self.recompute()

    def setting_text(self, name: str, value) -> str:
        """How one choice of setting ``name`` is shown (its value, by default)."""
        return str(value)

    def set_setting(self, name: str, value) -> None:
        if name not in self.choices or value not in self.choices[name]:
            raise ValueError(f"{name} must be one of {self.choices.get(name)}")
        old = dict(self.settings)
        self.settings[name] = value
        try:
            self.reshape_params()
            self.recompute()
        except ValueError:
            self.settings = old
            self.reshape_params()
            self.recompute()
            raise

    def reshape_params(self) -> None:
        """Bring params whose shape depends on a setting back in line (after a setting change)."""

    def _fit_refs(self, bd):
        """Trim the leading unit axes of refs so they index this example's own arrays."""
        if bd is None:
            return None
        arrays = {**self.results, **self.params}

        def fit(ref):
            if ref is None or ref.array not in arrays:
                return ref
            nd = np.ndim(arrays[ref.array])
            idx = tuple(ref.index)
            return explain.Ref(ref.array, idx[len(idx) - nd:] if len(idx) > nd else idx)
        bd.terms = [dataclasses.replace(t, sources=tuple(fit(s) for s in t.sources)) for t in bd.terms]
        bd.target = fit(bd.target)
        return bd

    def reset(self) -> None:
        self.settings = dict(self.default_settings())
        self.params = {k: np.array(v, dtype=np.float64) for k, v in self.default_params().items()}
        self.recompute()


# -------------------------------------------------------------------------------- text 001 (a)


def example_layer_types(key: str) -> list:
    """The registered layer types that declare the worked example ``key``, in registry order."""
    return [cls for cls in LAYER_TYPES.values() if key in cls.teaching.examples]
