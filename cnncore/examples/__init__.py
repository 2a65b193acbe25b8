"""The texts' worked examples as small, editable computations.

Each example holds its editable numbers in ``params`` (float64 arrays), and
recomputes everything downstream with the cnncore kernels whenever one of them
changes (:meth:`WorkedExample.set_value`). Views show ``params`` as editable
grids, ``results`` as read-only grids and :meth:`WorkedExample.lines` as the
equations written out with the current numbers. :meth:`WorkedExample.explain`
gives the :class:`cnncore.explain.Breakdown` of any result element.

* :class:`StridedConvExample` — the book chapter's example (text 001): a 5×5
  input, one 3×3 filter, stride 2, no padding, a 2×2 output flattened into a
  prediction; each ``z_i`` and each ``∂L/∂w_i`` written in its 1-based
  notation (``∂L/∂w_1 = a_1 ∂L/∂z_1 + a_3 ∂L/∂z_2 + a_11 ∂L/∂z_3 + a_13 ∂L/∂z_4``).
* :class:`PoolingExample` — the same chapter's 4×4 max pooling with 2×2
  windows and stride 2, forward and backward, run with any pooling type that
  declares it (mean and L2-norm pooling too) and overlapping windows as an
  option, following the CMU slides (text 002).
* :class:`MultiChannelExample` — two input maps, two filters, after the slides'
  ``z(l,n,x,y) = Σ_m Σ_i Σ_j w_l(m,n,i,j) y(l−1,m,x+i,y+j) + b_l(n)``, written in the
  app's one notation (:mod:`cnncore.notation`: input ``x``, indices ``r, c``),
  with the slides' 5×5 binary map and ``[[1,0,1],[0,1,0],[1,0,1]]`` filter as
  the first channel, and the backward pass both ways (kernels and identities).

Which examples the Learn tab shows is the layer types' own declaration
(``Teaching.examples``, :func:`worked_examples`).

The texts give no numbers for the first two examples (they are in figures),
so the defaults are our own small integers. One module per example (``strided``,
``pooling``, ``multichannel``) on the base in ``base``.
"""
from __future__ import annotations

from ..layers import LAYER_TYPES
from .base import WorkedExample, example_layer_types
from .multichannel import MultiChannelExample, identity_maps
from .pooling import PoolingExample
from .strided import StridedConvExample

__all__ = ["WorkedExample", "StridedConvExample", "PoolingExample", "MultiChannelExample",
           "EXAMPLE_TYPES", "worked_examples", "example_layer_types", "identity_maps"]


#: Every worked example by its key; a layer type names the ones it appears in (``Teaching.examples``).
EXAMPLE_TYPES = {cls.key: cls for cls in (StridedConvExample, MultiChannelExample, PoolingExample)}


def worked_examples() -> list:
    """The worked example classes the layer types declare, in registry order, each once; an example
    key no example has is an error (never skipped)."""
    out = []
    for cls in LAYER_TYPES.values():
        for key in cls.teaching.examples:
            if key not in EXAMPLE_TYPES:
                raise ValueError(f"layer type {cls.type!r} declares the worked example {key!r}; there are "
                                 f"only {', '.join(EXAMPLE_TYPES)}")
            if EXAMPLE_TYPES[key] not in out:
                out.append(EXAMPLE_TYPES[key])
    return out
