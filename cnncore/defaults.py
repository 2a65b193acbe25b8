"""The training defaults, in one table keyed by data source and preset.

::

    d = train_defaults("cifar10", None)      # no --arch: the source's own preset, "cifar"
    d.preset, d.epochs, d.flip               # "cifar", 15, True
    train_defaults("mnist", "lenet").epochs  # 6

:data:`BASE` holds the settings of every run; :data:`TABLE` the few that differ for a data source
or a preset, each row keyed by ``(source, preset)`` where ``"*"`` matches any. Rows apply from the
least to the most particular: ``("*", "*")``, then ``("*", preset)``, then ``(source, "*")``, then
``(source, preset)``, so a source may overrule what a preset asks for. The command line reads its
defaults here (``cnnapp train --help`` prints them from this table).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from .architecture import DEFAULT_PRESET

__all__ = ["TrainDefaults", "BASE", "TABLE", "train_defaults", "default_preset", "differences"]


@dataclass(frozen=True)
class TrainDefaults:
    """One run's default settings (the fields of :class:`cnncore.training.TrainConfig`, the preset
    and the held-out fraction). ``lr`` None: the optimizer's own default (Adam 0.003, SGD 0.05)."""
    preset: str = DEFAULT_PRESET
    epochs: int = 6
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    augment: int = 1
    flip: bool = False
    holdout: float = 0.1

    def config_fields(self) -> dict:
        """The settings :class:`~cnncore.training.TrainConfig` takes (all but the preset and the holdout)."""
        d = asdict(self)
        del d["preset"], d["holdout"]
        return d


#: Every run's defaults.
BASE = TrainDefaults()

#: ``(source, preset) -> {setting: value}``: where a source or a preset differs from :data:`BASE`.
#: Colour pictures of things are learnt from a few thousand pictures only with more passes over
#: them, each picture shifted by up to 2 pixels and mirrored half of the time (a mirrored cat is
#: still a cat; a mirrored digit is not a digit, so the digit sources never flip). The cifar preset
#: trained so on 3,294 of the shared CIFAR-10 pictures scores 59.0% on 1,000 others (mean of seeds
#: 0-5, none below 56%; benchmarks/bench_train.py measures it); at Adam's usual 0.003 it is 57.7%,
#: and a seed may drop to 54%. A rate (``lr``) here is for the default optimizer: another optimizer
#: named on the command line starts from its own default.
TABLE: dict[tuple[str, str], dict] = {
    ("*", "cifar"): {"epochs": 15, "lr": 0.0015, "augment": 2, "flip": True},
    ("cifar10", "*"): {"preset": "cifar"},
    ("folder", "*"): {"preset": "cifar"},
}


def _rows(source: str, preset: str):
    for key in (("*", "*"), ("*", preset), (source, "*"), (source, preset)):
        if key in TABLE:
            yield TABLE[key]


def default_preset(source: str | None) -> str:
    """The preset a run on ``source`` uses when none is named."""
    preset = BASE.preset
    for key in (("*", "*"), (source or "*", "*")):
        preset = TABLE.get(key, {}).get("preset", preset)
    return preset


def train_defaults(source: str | None, preset: str | None) -> TrainDefaults:
    """The defaults of a run on ``source`` (a key of :data:`cnncore.datasets.SOURCES`; None: the
    files the user names) with ``preset`` (None: the source's own, :func:`default_preset`; an
    architecture file the user wrote: pass its name, which matches only ``"*"`` rows)."""
    source = source or "*"
    preset = preset or default_preset(source)
    out = replace(BASE, preset=preset)
    for row in _rows(source, preset):
        out = replace(out, **{k: v for k, v in row.items() if k != "preset"})
    return out


def differences(setting: str) -> str:
    """``"6 (cifar preset: 15)"``: a setting's default and where it differs, for ``--help``."""
    names = {f.name for f in fields(TrainDefaults)}
    if setting not in names:
        raise KeyError(f"no default {setting!r} (defaults: {', '.join(sorted(names))})")
    base = getattr(BASE, setting)
    words = [f"{'preset' if s == '*' else 'source'} {p if s == '*' else s}" + ("" if "*" in (s, p) else f" with {p}")
             + f": {_show(row[setting])}" for (s, p), row in TABLE.items() if setting in row]
    return _show(base) + (f" ({'; '.join(words)})" if words else "")


def _show(v) -> str:
    if v is None:
        return "the optimizer's own"
    if isinstance(v, bool):
        return "on" if v else "off"
    return f"{v:g}" if isinstance(v, float) else str(v)
