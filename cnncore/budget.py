"""What a whole network costs to run, against the limits of :mod:`cnncore.limits`.

Every layer type says what one image costs it (``Layer.cost``, ``Layer.work``,
``Layer.memory``); this module adds the layers up and words the refusal:

* the work of one image's forward pass (:data:`~cnncore.limits.MAX_WORK`),
* the memory of one image's training pass (:data:`~cnncore.limits.MAX_PICTURE_BYTES`),
* the memory of a training batch (:data:`~cnncore.limits.MAX_BATCH_BYTES`),
* how many images one prediction call may run at once (:data:`~cnncore.limits.MAX_INFERENCE_BYTES`).

Each message is one line: which limit, the figure, and the layers that take most of it.
:mod:`cnncore.architecture` raises them as ``ArchitectureError`` before any array is made.
"""
from __future__ import annotations

from dataclasses import dataclass

from .limits import MAX_BATCH_BYTES, MAX_INFERENCE_BYTES, MAX_PARAMS, MAX_PICTURE_BYTES, MAX_WORK, size_text

__all__ = ["LayerCost", "network_problem", "batch_bytes", "batch_problem", "largest_batch", "inference_batch"]

#: The working float type's size: the per-image limits are counted in float32.
FLOAT32 = 4


@dataclass(frozen=True)
class LayerCost:
    """One layer's share of a network's cost for one image: ``work`` the steps of its forward pass
    (``Layer.work``), ``memory`` the values of its float type a training pass holds for it
    (``Layer.memory``)."""
    index: int
    text: str
    params: int
    work: int
    memory: int


def _largest(costs, key, unit) -> str:
    """``"largest: layer 1 (l2pool 1000×1000 s1) 1,000,000,000,000 (99.9%), …"``: the (up to) three
    layers with the largest share of ``key``, and how many more share it when none takes most."""
    total = sum(key(c) for c in costs) or 1
    top = sorted((c for c in costs if key(c)), key=key, reverse=True)
    text = "largest: " + ", ".join(f"layer {c.index} ({c.text}) {unit(key(c))} ({key(c) / total:.1%})"
                                   for c in top[:3])
    rest = [c for c in top[3:] if key(c) >= total / 1000]
    return text + (f", and {len(rest)} more layers of 0.1% or more" if rest else "")


def network_problem(costs: list[LayerCost]) -> tuple[str, int] | None:
    """``(message, layer that takes most)`` when the network as a whole is past a limit for one
    image (parameters, memory of a training pass, work of a forward pass), else None."""
    checks = (
        (lambda c: c.params, MAX_PARAMS, "the network has {} parameters, more than the {} this app handles",
         lambda v: f"{v:,}"),
        (lambda c: c.memory * FLOAT32, MAX_PICTURE_BYTES, "one image's training pass needs {} for the layers' "
         "arrays, more than the {} this app allows", size_text),
        (lambda c: c.work, MAX_WORK, "one image's forward pass takes {} steps (multiply-adds, and every value a "
         "pool or a resampling reads), more than the {} this app runs in reasonable time", lambda v: f"{v:,}"),
    )
    for key, limit, words, unit in checks:
        total = sum(key(c) for c in costs)
        if total > limit:
            return (words.format(unit(total), unit(limit)) + "; " + _largest(costs, key, unit),
                    max(costs, key=key).index)
    return None


def batch_bytes(costs: list[LayerCost], batch: int, itemsize: int, images: int | None = None) -> int:
    """Bytes of the layers' arrays in a training pass of ``batch`` images. Over ``images`` images
    the epoch's short last batch counts too: each layer keeps its kernels' buffers for both sizes."""
    return sum(c.memory for c in costs) * (batch + _last(batch, images)) * itemsize


def _last(batch: int, images: int | None) -> int:
    """The size of an epoch's short last batch (0 when the batches come out even)."""
    return images % batch if images and images > batch else 0


def batch_problem(costs: list[LayerCost], batch: int, itemsize: int, images: int | None = None) -> str | None:
    """Why a training batch of ``batch`` images (over ``images`` training images) does not fit
    :data:`~cnncore.limits.MAX_BATCH_BYTES`, or None; the message names a batch size that fits."""
    need = batch_bytes(costs, batch, itemsize, images)
    if need <= MAX_BATCH_BYTES:
        return None
    cap = fits = largest_batch(costs, itemsize, MAX_BATCH_BYTES)
    while fits > 1 and fits + _last(fits, images) > cap:
        fits -= 1            # its short last batch must fit beside it (at most cap/2 steps)
    last = _last(batch, images)
    what = f"a training batch of {batch:,} images" + (f" (and the epoch's last one of {last:,})" if last else "")
    return (f"{what} needs {size_text(need)} for the layers' arrays ({size_text(batch_bytes(costs, 1, itemsize))} "
            f"an image), more than the {size_text(MAX_BATCH_BYTES)} allowed; "
            + (f"use a batch size of at most {fits:,}" if fits else "not even one image fits"))


def largest_batch(costs: list[LayerCost], itemsize: int, budget: int) -> int:
    """The most images whose pass fits ``budget`` bytes (0 when not one does)."""
    per = batch_bytes(costs, 1, itemsize)
    return budget // per if per else budget


def inference_batch(costs: list[LayerCost], itemsize: int, asked: int) -> int:
    """How many images one forward pass without a backward pass may run at once: ``asked``, or
    fewer so they fit :data:`~cnncore.limits.MAX_INFERENCE_BYTES` (counted as a training pass,
    which holds more); at least 1."""
    return max(1, min(asked, largest_batch(costs, itemsize, MAX_INFERENCE_BYTES)))
