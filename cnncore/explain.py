"""Per-element arithmetic: the sum behind any single number of a forward or backward pass.

Each layer type computes the breakdowns of its own elements (``explain`` in its
module of :mod:`cnncore.layers`); the term functions take one sample's arrays (no
batch axis) and the layer's hyperparameters, pick one output element, and return
a :class:`Breakdown` (:mod:`cnncore.terms`):
the general equation in the texts' notation, every term with its real numbers,
where each number came from (so a view can highlight it on its map), the
total of the terms and, when known, the value the kernels computed.

Conventions (the texts' notation, 0-based as in the CMU slides):

* filters are stored ``w[n, m, i, j]`` with shape ``(F, C, KH, KW)`` but written
  ``w(m, n, i, j)``: channel ``m`` of filter ``n`` (the slides' order);
* ``y(m, r, c)`` is input map ``m`` of the layer (``y(l−1)``), ``z`` the affine
  map, ``dz``/``dY``/``dW`` the gradients of the loss with respect to them;
* ``S`` is the stride and ``P`` the zero padding.

Window positions that fall in the zero padding are *kept* as zero terms (with
``Term.padding`` set) so the whole ``K×K`` window can be drawn; they add 0.

:func:`breakdown` takes a :class:`cnncore.trace.Trace` key such as ``"L0.z"`` or
``"L2.dx"``, answers the parts every layer shares (its input, parameters, the
arriving gradient, the loss) itself, asks the layer's type for the rest, and
fills in ``value`` from the trace's arrays.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .layers import layer_class
from .plurals import plural
from .signature import channel_names
# Each layer type's term functions live in its own module; these names stay importable from here
# for the worked examples and existing callers.
from .layers.avgpool import avgpool_backward_terms, avgpool_forward_terms
from .layers.conv import (conv_backward_bias_terms, conv_backward_input_terms, conv_backward_weight_terms,
                          conv_forward_terms)
from .layers.dense import (dense_backward_bias_terms, dense_backward_input_terms, dense_backward_weight_terms,
                           dense_forward_terms)
from .layers.flatten import flatten_backward_terms, flatten_forward_terms
from .layers.maxpool import maxpool_backward_terms, maxpool_forward_terms
from .terms import (Breakdown, Ref, Term, activation_backward_terms, activation_forward_terms, custom, finish,
                    mk_ref, num)
from .tracekeys import WEIGHT_PARTS, layer_key, split_key
from .update import STATE_PARTS, UPDATE_PARTS, update_terms_for

__all__ = [
    "Ref", "Term", "Breakdown", "breakdown",
    "conv_forward_terms", "conv_backward_input_terms", "conv_backward_weight_terms",
    "conv_backward_bias_terms",
    "activation_forward_terms", "activation_backward_terms",
    "maxpool_forward_terms", "maxpool_backward_terms",
    "avgpool_forward_terms", "avgpool_backward_terms",
    "flatten_forward_terms", "flatten_backward_terms",
    "dense_forward_terms", "dense_backward_input_terms", "dense_backward_weight_terms",
    "dense_backward_bias_terms",
    "softmax_terms", "loss_terms", "loss_gradient_terms", "update_terms", "custom",
]


# ---------------------------------------------------------------------------------------- loss

def softmax_terms(z, k, *, value=None, keys=None, prefix=()):
    """``p(k) = e^{z(k) − max z} / Σ_j e^{z(j) − max z}`` as one product; ``z (K,)``."""
    keys = keys or {}
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    s = math.fsum(e)
    return finish(f"Softmax: p({k})", "p(k) = e^z(k) / Σ_j e^z(j)", mk_ref(keys, prefix, "probs", (k,)),
                  [Term(f"e^(z({k}) − max z) · 1/Σ e^(z − max z)", (float(e[k]), 1.0 / s), float(e[k]) / s,
                        (mk_ref(keys, prefix, "z", (k,)), None))], value,
                  ["The largest logit is subtracted first; that changes no probability but keeps "
                   "the exponentials from overflowing."])


#: Below this a probability is too small (and, in float32, too coarse) to take the loss as its log:
#: the loss is then written from the logits, log Σ_j e^z(j) − z(label), the same number.
TINY_P = 1e-30


def loss_terms(probs, label, *, logits=None, value=None, keys=None, prefix=()):
    """Cross-entropy ``L = −log p(label)``; ``probs (K,)``. Where p(label) is below :data:`TINY_P` and
    the ``logits`` are given, the loss is written as they give it (−log of a p that rounded to 0 is
    no number: a sure, wrong answer's loss was written "−log(0) = 690.8" beside its value, 199.6)."""
    keys = keys or {}
    p = float(probs[label])
    why = f"Only the probability given to the true class ({label}) enters the loss."
    if p >= TINY_P or logits is None:
        return finish("Cross-entropy loss L", "L = −log p(label)", mk_ref(keys, prefix, "loss", ()),
                      [Term(f"−log p({label})", (p,), -math.log(max(p, 1e-300)),
                            (mk_ref(keys, prefix, "probs", (label,)),), apply="−log")], value, [why])
    z = np.asarray(logits, dtype=np.float64)
    top = float(z.max())
    lse = top + math.log(math.fsum(np.exp(z - top)))
    return finish("Cross-entropy loss L", "L = −log p(label) = log Σ_j e^z(j) − z(label)",
                  mk_ref(keys, prefix, "loss", ()),
                  [Term("log Σ_j e^z(j)", (lse,), lse, (None,)),
                   Term(f"−z({label})", (-float(z[label]),), -float(z[label]),
                        (mk_ref(keys, prefix, "z", (label,)),))],
                  value, [why, f"p({label}) = {num(p)} is too small to take its log: the loss is worked out "
                               "from the logits instead, the same number."])


def loss_gradient_terms(probs, label, k, *, value=None, keys=None, prefix=()):
    """``dz(k) = p(k) − [k == label]`` for softmax followed by cross-entropy."""
    keys = keys or {}
    p = float(probs[k])
    hot = 1.0 if k == label else 0.0
    return finish(f"Loss gradient: dz({k})", "dz(k) = p(k) − onehot(k)", mk_ref(keys, prefix, "dz", (k,)),
                  [Term(f"p({k})", (p,), p, (mk_ref(keys, prefix, "probs", (k,)),)),
                   Term(f"−onehot({k})", (-hot,), -hot, (None,))], value,
                  ["Softmax and cross-entropy together have this simple gradient: the predicted "
                   "probability minus 1 for the true class, minus 0 for the others."])


def update_terms(w, dw, lr, index, *, value=None, keys=None, prefix=()):
    """Plain gradient descent on one parameter: ``w_new = w − α·dW``."""
    keys = keys or {}
    index = tuple(index)
    wv, g = float(np.asarray(w)[index]), float(np.asarray(dw)[index])
    idx = ",".join(map(str, index))
    return finish(f"Update: new w({idx})", "w_new = w − α · ∂L/∂w", mk_ref(keys, prefix, "w_new", index),
                  [Term(f"w({idx})", (wv,), wv, (mk_ref(keys, prefix, "w", index),)),
                   Term(f"−α · dW({idx})", (-float(lr), g), -float(lr) * g,
                        (None, mk_ref(keys, prefix, "dw", index)))], value,
                  [f"The learning rate α = {num(lr)} scales the step against the gradient."])


# ------------------------------------------------------------------------------- trace dispatch

_PIXEL_WORDS = "A pixel's level in the input picture, from 0 to 1; nothing computed it."
_PARAM_SUFFIXES = ("W", "b", "dW", "db") + UPDATE_PARTS + STATE_PARTS


def _batched(key: str) -> bool:
    return key not in ("loss", "loss_next", "architecture", "optimizer") and split_key(key)[1] not in _PARAM_SUFFIXES


def _layer_keys(i: int, records=()) -> dict:
    """Roles the term functions use (``"x"``, ``"w"``, ``"dw"``…) -> layer ``i``'s trace keys."""
    keys = {p: layer_key(i, p) for p in ("x", "y", "z", "dz", "dy", "dx", "b", "db", *records)}
    keys.update({"w": layer_key(i, "W"), "dw": layer_key(i, "dW"), "w_new": layer_key(i, "W_next"),
                 "probs": "probs", "loss": "loss"})
    return keys


def _with_batch_refs(bd: Breakdown, arrays: dict) -> Breakdown:
    """Prepend the batch index 0 to every ref into a batched trace array."""
    short = {}      # array name -> the index length that lacks the batch axis (None: leave as it is)

    def fix(ref):
        if ref is None:
            return ref
        if ref.array not in short:
            arr = arrays.get(ref.array)
            short[ref.array] = arr.ndim - 1 if arr is not None and _batched(ref.array) else None
        if len(ref.index) == short[ref.array]:
            return Ref(ref.array, (0,) + tuple(ref.index))
        return ref
    bd.terms = [replace(t, sources=tuple(fix(s) for s in t.sources)) for t in bd.terms]
    bd.target = fix(bd.target)
    return bd


def _plain(title, key, index, value, note):
    return Breakdown(title, "", Ref(key, tuple(index)),
                     [Term(key, (float(value),), float(value), (Ref(key, tuple(index)),))],
                     float(value), float(value), "sum", [note])


def _element_index(arr, key: str, index) -> tuple:
    """``index`` without the batch axis; IndexError when it does not fit ``arr``."""
    index = tuple(int(i) for i in np.atleast_1d(index)) if np.ndim(arr) else ()
    if _batched(key) and len(index) == arr.ndim:
        index = index[1:]
    elif _batched(key) and len(index) != arr.ndim - 1:
        raise IndexError(f"{key} has shape {arr.shape}; index {index} does not fit")
    full = ((0,) + index) if _batched(key) else index
    for i, s in zip(full, arr.shape):
        if not 0 <= i < s:
            raise IndexError(f"index {index} is outside {key} with shape {arr.shape}")
    return index


def breakdown(trace, key: str, index, step=None) -> Breakdown:
    """The arithmetic behind ``trace.arrays[key][index]``.

    ``index`` may include the batch axis of 1 or leave it out. ``step`` (a
    :class:`cnncore.trace.Step`) only matters for weights: in an ``"update"``
    step a weight element is explained as its update (the same as a click on
    ``L{i}.W_next``, :func:`cnncore.update.update_terms_for`). Every ref in the result
    indexes the trace's own arrays (batch axis included). Raises ``KeyError``
    for a key the trace does not hold and ``IndexError`` for an index outside it.
    """
    A = trace.arrays
    if key not in A:
        raise KeyError(f"the trace has no array {key!r}")
    arr = A[key]
    index = _element_index(arr, key, index)
    full = ((0,) + index) if _batched(key) else index
    bd = _dispatch(trace, key, index, step)
    i, part = split_key(key)
    if i is not None and part in layer_class(trace.spec["layers"][i]["type"]).positions:
        bd.value = None     # the element is a position, not a number the terms add up to
    elif getattr(step, "kind", None) == "update" and part in ("W", "b"):
        bd.value = float(A[layer_key(i, part + "_next")][full])     # the element shown is the new parameter
    else:
        bd.value = float(arr[full])
    return _name_colour_planes(_with_batch_refs(bd, A), trace)


def _name_colour_planes(bd: Breakdown, trace) -> Breakdown:
    """On a colour picture's pass, say which plane (R, G or B) each of the picture's numbers in
    ``bd`` belongs to: after its term's label (``w(0,2,0,0) · x(0,2,3) [R]``), and, for a sum over
    several planes (a first conv's z), what each plane adds up to. ``bd``'s refs carry the batch axis."""
    names = channel_names(trace.spec["input"][0])
    if len(names) < 2:
        return bd
    picture = ("input", layer_key(0, "x"))
    planes: dict = {}                   # plane m -> [terms]

    def plane(ref):
        return ref.index[1] if ref is not None and ref.array in picture and len(ref.index) == 4 else None

    for k, t in enumerate(bd.terms):
        m = next((plane(r) for r in t.sources if plane(r) is not None), None)
        if m is None and t.padding:         # a window position in the zero padding: its plane's all the same
            m = _padding_plane(t, bd.target)
        if m is not None:
            planes.setdefault(m, []).append(k)
            bd.terms[k] = replace(t, label=f"{t.label} [{names[m]}]")
    if len(planes) > 1:
        def padded(ks):
            n = sum(bd.terms[k].padding for k in ks)
            return f" ({n} in the padding)" if n else ""
        parts = [f"{names[m]} (m = {m}): {num(math.fsum(bd.terms[k].value for k in ks))} from "
                 f"{plural(len(ks), 'term')}{padded(ks)}"
                 for m, ks in sorted(planes.items())]
        rest = [t for k, t in enumerate(bd.terms) if not any(k in ks for ks in planes.values())]
        bd.notes.append("The sum runs over the picture's " + ", ".join(names[:-1]) + f" and {names[-1]} planes, "
                        "each through its own channel of the filter: " + "; ".join(parts)
                        + (f"; then {', '.join(t.label for t in rest)}: {num(math.fsum(t.value for t in rest))}"
                           if rest else "") + ".")
    target = plane(bd.target)
    weight = bd.target.array in {layer_key(0, p) for p in WEIGHT_PARTS} and len(bd.target.index) == 4
    if not planes and target is None and weight:        # a first filter's weight (or its update) alone
        m = bd.target.index[1]
        bd.notes.append(f"A weight of the first layer's filters for the picture's {names[m]} plane (input map m = {m}).")
    if len(planes) == 1 and target is None:
        m = next(iter(planes))
        bd.notes.append(f"The picture's numbers here are of its {names[m]} plane (input map m = {m}).")
    if target is not None:
        how = ", normalised as the first layer takes it" if trace.normalisation is not None \
            and bd.target.array != "input" else ""
        bd.notes.append(f"This is the {names[target]} level of pixel ({bd.target.index[2]}, {bd.target.index[3]}) "
                        f"of the colour picture{how} (input map m = {target}).")
    return bd


def _padding_plane(term, target) -> int | None:
    """The picture plane of a first-layer term whose input position lies in the zero padding: the
    input channel of its filter weight (``w(f, m, i, j)``), or of the filter gradient explained."""
    first = (layer_key(0, "W"), layer_key(0, "dW"))
    refs = [r for r in (*term.sources, target) if r is not None and r.array in first and len(r.index) == 4]
    return refs[0].index[1] if refs else None


def _dispatch_network(trace, key, index):
    """The elements that belong to no layer: the loss, the probabilities, the label, the input."""
    A = trace.arrays
    last = len(trace.spec["layers"]) - 1
    if key in ("probs", "loss"):
        keys = {"z": layer_key(last, "y"), "probs": "probs", "loss": "loss"}
        if key == "probs":
            return softmax_terms(A[layer_key(last, "y")][0], index[0], keys=keys)
        return loss_terms(A["probs"][0], int(A["label"][0]), logits=A[layer_key(last, "y")][0], keys=keys)
    if key == "label":
        return _plain("The true label", key, index, A["label"][0],
                      "The class the picture shows (the digit, for a picture of one): its true label, given with it.")
    if key == "loss_next":
        return _plain("The loss after the update", key, index, A[key],
                      f"This image's loss run again through the network with every parameter updated "
                      f"(it was {num(A['loss'])} before).")
    return _plain("An input pixel", key, index, A[key][(0,) + index],
                  _PIXEL_WORDS)


def _dispatch_links(trace, i, part, index, step):
    """Parts every layer has that another step computed: its input, its parameters, the arriving dy."""
    A = trace.arrays
    key = layer_key(i, part)
    if part == "x":
        if i == 0 and trace.normalisation is not None:
            return _normalised_pixel(trace, key, index)
        if i == 0:
            return _plain("An input pixel", key, index, A[key][(0,) + index],
                          _PIXEL_WORDS)
        bd = _dispatch(trace, layer_key(i - 1, "y"), index, step)
        bd.notes.append(f"Layer {i}'s input is layer {i - 1}'s output.")
        return bd
    if part in ("W", "b"):
        if getattr(step, "kind", None) == "update":
            return update_terms_for(A, trace.settings, i, part, index)
        return _plain("A learned parameter", key, index, A[key][index],
                      "A weight or bias: training sets it; nothing in this pass computed it.")
    if i == len(trace.spec["layers"]) - 1:     # part == "dy" of the last layer
        keys = {"probs": "probs", "dz": key}
        bd = loss_gradient_terms(A["probs"][0], int(A["label"][0]), index[0], keys=keys)
        bd.notes.append("This gradient of the loss with respect to the logits starts the backward pass.")
        return bd
    bd = _dispatch(trace, layer_key(i + 1, "dx"), index, step)
    bd.notes.append(f"The gradient arriving at layer {i}'s output is what layer {i + 1} sent back.")
    return bd


def _normalised_pixel(trace, key, index):
    """The first layer's input where the model normalises it: ``x′ = (x − μ) / σ`` of the picture's
    level ``x``, with its channel's mean ``μ`` and standard deviation ``σ``."""
    mean, std = trace.normalisation
    m, pix = index[0], ",".join(map(str, index))
    x, mu, sd = float(trace.arrays["input"][(0,) + tuple(index)]), float(mean[m]), float(std[m])
    terms = [Term(f"x({pix}) / σ", (x, 1 / sd), x / sd, (Ref("input", tuple(index)), None)),
             Term("−μ / σ", (-mu, 1 / sd), -mu / sd, (None, None))]
    return finish("A normalised pixel", "x′ = (x − μ) / σ", Ref(key, tuple(index)), terms, None,
                  [f"The model normalises its input: the first layer takes each level x of the picture less its "
                   f"channel's mean μ = {num(mu)}, divided by the channel's standard deviation σ = {num(sd)} "
                   f"(both of the pictures it learnt from). The picture's own level here is x = {num(x)}; "
                   "1/σ multiplies each term."])


def _dispatch(trace, key, index, step):
    i, part = split_key(key)
    if i is None:
        return _dispatch_network(trace, key, index)
    if part in ("x", "W", "b", "dy"):
        return _dispatch_links(trace, i, part, index, step)
    if part in UPDATE_PARTS:
        return update_terms_for(trace.arrays, trace.settings, i, part[0], index)
    if part in STATE_PARTS:
        what = "running mean m of its gradients" if part[0] == "m" else (
            "running mean v of its squared gradients" if trace.settings["name"] == "adam" else "velocity v")
        return _plain("Saved optimizer state", key, index, trace.arrays[key][index],
                      f"The optimizer's {what} before this update, as the model saved it.")
    layer = trace.spec["layers"][i]
    cls = layer_class(layer["type"])
    A = trace.arrays

    def arrays(p):   # one sample of a batched array; parameters as they are
        a = A[layer_key(i, p)]
        return a if p in _PARAM_SUFFIXES else a[0]

    bd = cls.explain(layer, part, index, arrays, _layer_keys(i, cls.records))
    if bd is None:
        raise KeyError(f"no breakdown for {key!r} in a {cls.type} layer")
    return bd
