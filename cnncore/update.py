"""The update step of a trace: one step of the model's own optimizer, taken on this one image's gradient.

:func:`next_update` runs it on a traced network copy: the optimizer the model was
trained with (SGD with momentum or Adam, :mod:`cnncore.optim`) is resumed from
the state the model keeps (``net.optimizer_state``, a model file's ``opt.*``)
with its hyperparameters, and makes one step with the gradient of the one traced
image: a batch of one, where training follows the mean gradient of a batch of T
images (the slides' ``L = (1/T) Σ_t div_t``; :data:`BATCH_WORDS` says so). A network without that state (never trained in this session, a file
without ``opt.*``) gets plain gradient descent ``w ← w − α·dW`` with
:data:`PLAIN_LR`, and the step says so; ``lr=`` forces plain gradient descent at
that rate. The trace keeps (see :mod:`cnncore.trace`)::

    optimizer        JSON text: name, lr, momentum or beta1/beta2/eps, weight_decay,
                     step (updates made before this one), source ("saved", "asked",
                     "none") and why (a sentence saying which rule is shown and why)
    L{i}.W_next, L{i}.b_next     the parameters after the step
    L{i}.mW, L{i}.vW, L{i}.mb, L{i}.vb   the optimizer's state before the step
                     (Adam: m and v; SGD with momentum: the velocity v only)
    loss_next        this image's loss recomputed with the new parameters

:func:`update_terms_for` is the per-element breakdown of one new weight or bias,
every term with its numbers.
"""
from __future__ import annotations

import json
import math

import numpy as np

from ._safeio import UnreadableFile, read_json
from .notation import index_text
from .optim import HYPER, SGD, check_setting, optimizer_from_state
from .training import TrainConfig
from .terms import Ref, Term, finish, num, operand
from .tracekeys import layer_key, split_key

__all__ = ["PLAIN_LR", "BATCH_WORDS", "UPDATE_PARTS", "STATE_PARTS", "next_update", "read_settings", "state_parts", "rule_name",
           "update_terms_for", "rule_equation", "rule_words"]

#: Learning rate of the plain gradient-descent step shown when a model has no optimizer state.
PLAIN_LR = 0.01

#: What the update step says about its batch of one (the slides' mean loss over T images), a clause.
BATCH_WORDS = ("; it follows this one image's gradient, a batch of one, while training follows the mean gradient "
               "of a batch of T images, (1/T) Σ_t ∂div_t/∂w, as the slides' loss L = (1/T) Σ_t div_t is their mean "
               f"(T = {TrainConfig.batch_size} unless the Train tab says otherwise)")

#: Trace parts a layer with parameters gets from the update step.
UPDATE_PARTS = ("W_next", "b_next")
#: The optimizer's per-parameter state before the step: ``m``/``v`` of the weights and biases.
STATE_PARTS = ("mW", "vW", "mb", "vb")


def rule_name(settings: dict) -> str:
    """"Adam", "SGD with momentum" or "SGD"."""
    if settings["name"] == "adam":
        return "Adam"
    return "SGD with momentum" if settings.get("momentum") else "SGD"


def state_parts(settings: dict) -> tuple[str, ...]:
    """The state parts a trace holds for this rule (Adam both moments, SGD with momentum its velocity)."""
    if settings["name"] == "adam":
        return STATE_PARTS
    return ("vW", "vb") if settings.get("momentum") else ()


# ------------------------------------------------------------------------------- the step itself

def _layer_state(state: dict, params: dict) -> dict:
    """A trainer's state over one flat buffer (``m.all``, ``v.all``) cut into ``m.L0.W``… pieces."""
    out = {k: v for k, v in state.items() if not k.endswith(".all")}
    for moment in ("m", "v"):
        flat = state.get(f"{moment}.all")
        if flat is None:
            continue
        flat = np.asarray(flat).reshape(-1)
        total = sum(p.size for p in params.values())
        if flat.size != total:
            raise ValueError(f"the saved state holds {flat.size:,} values for {total:,} parameters")
        o = 0
        for k, p in params.items():
            out[f"{moment}.{k}"] = flat[o:o + p.size].reshape(p.shape)
            o += p.size
    return out


def _optimizer(net, lr):
    """``(optimizer, source, why)`` for the step shown."""
    params = net.params()
    if lr is not None:
        return (SGD(params, float(lr), momentum=0.0), "asked",
                f"Plain gradient descent at the learning rate asked for (α = {float(lr):g}), not the "
                "optimizer the model was trained with.")
    state = getattr(net, "optimizer_state", None)
    note = getattr(net, "optimizer_note", "")
    if note:
        why = f"{note[0].upper()}{note[1:]}, so this is plain gradient descent with α = {PLAIN_LR:g}."
    elif state:
        try:
            opt, missing = optimizer_from_state(_layer_state(state, params), params)
        except ValueError as e:
            why = (f"The model's saved optimizer state cannot be used ({e}), so this is plain gradient "
                   f"descent with α = {PLAIN_LR:g}.")
        else:
            assumed = (f" The file does not record {', '.join(missing)}; the default is shown for "
                       f"{'them' if len(missing) > 1 else 'it'}." if missing else "")
            return (opt, "saved", f"One step of the model's own optimizer ({rule_name(opt.settings())}), resumed from the "
                                  f"state it saved after {opt.t:,} updates, with its settings.{assumed}")
    else:
        why = ("This network keeps no optimizer state (it was not trained in this session and its file "
               f"holds none), so the step shown is plain gradient descent with α = {PLAIN_LR:g}: the rule "
               "every optimizer starts from, without momentum or running averages.")
    return SGD(params, PLAIN_LR, momentum=0.0), "none", why


def next_update(net, lr: float | None = None) -> dict:
    """Make the update on ``net`` (a copy whose layers hold one image's gradients; its
    parameters change) and return the trace entries it adds, except ``loss_next``."""
    opt, source, why = _optimizer(net, lr)
    settings = {**opt.settings(), "source": source, "why": why}
    out = {"optimizer": np.array(json.dumps(settings))}
    state = opt.state_dict()
    params = net.params()
    for key in params:
        i, part = split_key(key)
        for moment in ("m", "v"):
            if f"{moment}.{key}" in state and moment + ("W" if part == "W" else "b") in state_parts(settings):
                out[layer_key(i, moment + part)] = np.array(state[f"{moment}.{key}"], copy=True)
    grads = {layer_key(layer.index, p): np.ascontiguousarray(getattr(layer, "d" + p))
             for layer in net.layers if layer.has_params for p in ("W", "b")}
    opt.step(grads)
    for key, p in params.items():
        i, part = split_key(key)
        out[layer_key(i, part + "_next")] = np.array(p, copy=True)
    return out


#: Where a trace's update rule came from (see :func:`next_update`).
SOURCES = ("saved", "asked", "none")


def read_settings(arrays: dict) -> dict:
    """The ``optimizer`` entry of a trace as a dict, every key the views read checked: the name,
    each hyperparameter (:func:`cnncore.optim.check_setting`), ``step`` (a count from 0),
    ``source`` and the ``why`` sentence. ``ValueError`` naming the first that is wrong."""
    if "optimizer" not in arrays:
        raise ValueError("the optimizer entry is missing")
    try:
        s = read_json(str(arrays["optimizer"]), 2)
    except UnreadableFile as e:
        raise ValueError(f"the optimizer entry {e}") from None
    if not isinstance(s, dict) or not isinstance(s.get("name"), str) or s["name"] not in HYPER:
        raise ValueError("the optimizer entry names neither sgd nor adam")
    for key in ("lr", "weight_decay", *HYPER[s["name"]]):
        try:
            check_setting(key, s.get(key))
        except ValueError as e:
            raise ValueError(f"the optimizer entry's {e}") from None
    step = s.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= 2**53:
        raise ValueError(f"the optimizer entry's step is {str(step)[:20]}, not a count of updates")
    if s.get("source") not in SOURCES:
        raise ValueError(f"the optimizer entry's source must be one of {', '.join(SOURCES)}")
    why = s.get("why")
    if not isinstance(why, str) or not why.strip() or not why.isprintable():
        raise ValueError("the optimizer entry has no sentence saying why its rule is shown ('why')")
    return s


# --------------------------------------------------------------------------------- words

def rule_equation(s: dict) -> str:
    """The update rule with its numbers, e.g. ``m ← β1·m + (1−β1)·g; … [α = 0.003, …]``."""
    g = "L = (1/T) Σ_t div_t, T = 1 here;  " + ("g = ∂L/∂w + λ·w" if s["weight_decay"] else "g = ∂L/∂w")
    if s["name"] == "adam":
        return (f"{g};  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  m̂ = m/(1−β1ᵗ);  v̂ = v/(1−β2ᵗ);  "
                f"w ← w − α·m̂/(√v̂ + ε)   [α = {s['lr']:g}, β1 = {s['beta1']:g}, β2 = {s['beta2']:g}, "
                f"ε = {s['eps']:g}, λ = {s['weight_decay']:g}, t = {s['step'] + 1}]")
    if s["momentum"]:
        return (f"{g};  v ← μ·v + g;  w ← w − α·v   [α = {s['lr']:g}, μ = {s['momentum']:g}, "
                f"λ = {s['weight_decay']:g}]")
    return f"{g};  w ← w − α·g   [α = {s['lr']:g}" + (f", λ = {s['weight_decay']:g}]" if s["weight_decay"] else "]")


def rule_words(s: dict) -> str:
    """What the rule does, in our words, after the sentence saying why it is the one shown."""
    if s["name"] == "adam":
        what = ("Adam keeps running averages of each parameter's gradient (m) and squared gradient (v), "
                "divides m by 1 − β1ᵗ and v by 1 − β2ᵗ to make up for starting at 0 (the hatted m and v "
                "of the equation), and moves the parameter by about α along the corrected m, less where its "
                "gradients have been large")
    elif s["momentum"]:
        what = ("SGD with momentum keeps a velocity v per parameter, the gradient plus μ times the last "
                "velocity, so steps grow in directions the gradient keeps pointing to")
    else:
        what = "Gradient descent moves every weight and bias a small step against its gradient"
    if s["weight_decay"]:
        what += "; weight decay adds λ·w to a weight's gradient (not a bias's), pulling weights towards 0"
    return f"{s['why']} {what}{BATCH_WORDS}."


# ----------------------------------------------------------------------------- per element

def _lines_adam(s, w, g, m0, v0, decays):
    b1, b2, eps, t = s["beta1"], s["beta2"], s["eps"], s["step"] + 1
    m = b1 * m0 + (1 - b1) * g
    v = b2 * v0 + (1 - b2) * g * g
    mh, vh = m / (1 - b1 ** t), v / (1 - b2 ** t)
    o = operand                             # a number after an operator, or squared: (−0.3)²
    lines = [f"m = β1·m + (1−β1)·g = {o(b1)}·{o(m0)} + {o(1 - b1)}·{o(g)} = {num(m)}",
             f"v = β2·v + (1−β2)·g² = {o(b2)}·{o(v0)} + {o(1 - b2)}·{o(g)}² = {num(v)}",
             f"m̂ = m/(1−β1ᵗ) = {o(m)}/(1−{o(b1)}^{t}) = {num(mh)}",
             f"v̂ = v/(1−β2ᵗ) = {o(v)}/(1−{o(b2)}^{t}) = {num(vh)}",
             f"√v̂ + ε = {o(math.sqrt(vh))} + {o(eps)} = {num(math.sqrt(vh) + eps)}"]
    term = ("−α · m̂ · 1/(√v̂ + ε)", (-s["lr"], mh, 1 / (math.sqrt(vh) + eps)))
    return lines, term


def _lines_sgd(s, w, g, m0, v0, decays):
    if not s["momentum"]:
        return [], ("−α · g", (-s["lr"], g))
    v = s["momentum"] * v0 + g
    return ([f"v = μ·v + g = {operand(s['momentum'])}·{operand(v0)} + {operand(g)} = {num(v)}"],
            ("−α · v", (-s["lr"], v)))


def _made_from(settings: dict, part: str, decays: bool) -> str:
    """What the step's numbers are made of, where a factor is not the element its source names
    (m̂ is not dW's element, only made from it)."""
    grad = f"d{part}"
    g = f"g (this {grad} + λ·w)" if decays else f"this {grad}"
    made = (f"m̂ and 1/(√v̂ + ε) are made from {g} and the m and v kept from the last step"
            if settings["name"] == "adam" else
            f"v is made from {g} and the v kept from the last step" if settings["momentum"] else
            "g = dW + λ·w" if decays else "")
    return made


def update_terms_for(arrays: dict, settings: dict, i: int, part: str, index) -> "Breakdown":  # noqa: F821
    """The new value of parameter ``L{i}.{part}[index]`` (``part`` ``W`` or ``b``), term by term:
    ``w`` and the optimizer's step, with every intermediate number (g, m, v, m̂, v̂) in the notes."""
    index = tuple(int(k) for k in index)
    key, grad = layer_key(i, part), layer_key(i, "d" + part)
    w, g0 = float(arrays[key][index]), float(arrays[grad][index])
    decays = part == "W" and settings["weight_decay"] > 0
    g = g0 + settings["weight_decay"] * w if decays else g0
    state = {m: float(arrays[layer_key(i, m + part)][index]) if layer_key(i, m + part) in arrays else 0.0
             for m in ("m", "v")}
    lines, (label, factors) = (_lines_adam if settings["name"] == "adam" else _lines_sgd)(
        settings, w, g, state["m"], state["v"], decays)
    gline = (f"g = ∂L/∂w + λ·w = {num(g0)} + {operand(settings['weight_decay'])}·{operand(w)} = {num(g)}" if decays
             else f"g = ∂L/∂{'w' if part == 'W' else 'b'} = {num(g)}"
             + ("  (biases do not decay)" if part == "b" and settings["weight_decay"] else ""))
    state_ref = Ref(layer_key(i, "v" + part), index) if layer_key(i, "v" + part) in arrays else None
    sources = (None, Ref(grad, index)) + ((state_ref,) if len(factors) == 3 else ())
    idx = index_text(part, index)       # a filter in the written order w(m,n,i,j)
    terms = [Term(f"{part.lower()}{idx}", (w,), w, (Ref(key, index),)),
             Term(label, factors, math.prod(factors), sources, note=_made_from(settings, part, decays))]
    eq = rule_equation(settings).split("   [")[0]
    return finish(f"Update: new {part.lower()}{idx}", eq, Ref(layer_key(i, part + "_next"), index), terms,
                  float(arrays[layer_key(i, part + "_next")][index]) if layer_key(i, part + "_next") in arrays
                  else None, ["\n".join([gline, *lines]) + "\n", settings["why"]])
