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

Which examples the Learn tab shows is the layer types' own declaration
(``Teaching.examples``, :func:`worked_examples`).
* :class:`MultiChannelExample` — two input maps, two filters, after the slides'
  ``z(l,n,x,y) = Σ_m Σ_i Σ_j w_l(m,n,i,j) y(l−1,m,x+i,y+j) + b_l(n)``, written in the
  app's one notation (:mod:`cnncore.notation`: input ``x``, indices ``r, c``),
  with the slides' 5×5 binary map and ``[[1,0,1],[0,1,0],[1,0,1]]`` filter as
  the first channel, and the backward pass both ways (kernels and identities).

The texts give no numbers for the first two examples (they are in figures),
so the defaults are our own small integers.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np

from . import activations, explain
from .identities import dilate, dw_via_correlation, dx_via_convolution, flip_filters
from .kernels import conv2d_backward, conv2d_forward
from .layers import LAYER_TYPES
from .shapes import conv_output_size, output_size_words
from .terms import num as _n

__all__ = ["WorkedExample", "StridedConvExample", "PoolingExample", "MultiChannelExample",
           "EXAMPLE_TYPES", "worked_examples", "example_layer_types", "identity_maps"]


def identity_maps(dz, x, w, stride, padding) -> dict:
    """The maps of the textbook backward pass of one conv layer, for drawing.

    ``dz (F, Ho, Wo)``, ``x (C, H, W)``, ``w (F, C, KH, KW)`` (one sample).
    Returns ``x_padded (C, H + 2P, W + 2P)`` (the input as the forward pass saw it),
    ``dz_dilated (F, ·, ·)``, ``dz_padded`` (dilated, then ``K−1`` zeros on every
    side), ``w_flipped (C, F, KH, KW)``, ``dx_identity``/``dx_kernel``/``dx_diff (C, H, W)``
    and ``dw_identity``/``dw_kernel``/``dw_diff (F, C, KH, KW)``.
    The identity results come from :mod:`cnncore.identities`, the kernel ones from
    :func:`cnncore.conv2d_backward`.
    """
    dz = np.asarray(dz, dtype=np.float64)[None]
    x = np.asarray(x, dtype=np.float64)[None]
    w = np.asarray(w, dtype=np.float64)
    _, _, KH, KW = w.shape
    d = dilate(dz, stride)
    dx_k, dw_k, _ = conv2d_backward(dz, x, w, stride, padding)
    dx_i = dx_via_convolution(dz, w, x.shape, stride, padding)
    dw_i = dw_via_correlation(dz, x, (KH, KW), stride, padding)
    PH, PW = (padding, padding) if np.ndim(padding) == 0 else tuple(padding)
    return {
        "x_padded": np.pad(x[0], ((0, 0), (PH, PH), (PW, PW))),
        "dz_dilated": d[0],
        "dz_padded": np.pad(d[0], ((0, 0), (KH - 1, KH - 1), (KW - 1, KW - 1))),
        "w_flipped": flip_filters(w),
        "dx_identity": dx_i[0], "dx_kernel": dx_k[0], "dx_diff": dx_i[0] - dx_k[0],
        "dw_identity": dw_i, "dw_kernel": dw_k, "dw_diff": dw_i - dw_k,
    }


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

class StridedConvExample(WorkedExample):
    """5×5 input ``a``, 3×3 filter ``w``, stride 2, no padding → 2×2 ``z``, flattened to ``ŷ``.

    ``ŷ = Σ_k v_k z_k + c`` and ``L = ½ (ŷ − t)²``, so ``∂L/∂z_k = (ŷ − t)·v_k``.
    Numbering is 1-based and row-major as in the text: ``a_1 … a_25``,
    ``w_1 … w_9``, ``z_1 … z_4``. One gradient step gives ``w_new = w − α ∂L/∂w``.
    """
    key = "strided_conv"
    title = "5×5 input, 3×3 filter, stride 2"
    credit = "After the worked example of the book chapter “Back propagation in CNN”."
    summary = ("A single 3×3 filter slides over a 5×5 input two steps at a time, giving four "
               "outputs z₁…z₄. They are flattened and combined into one prediction ŷ, compared "
               "with a target t. Every weight touches all four outputs, so each ∂L/∂wᵢ is a "
               "sum of four products. Change any number and watch the rest follow.")
    editable = ("a", "w", "v", "c", "t", "alpha")
    shown = ("z", "dz", "dw", "w_new", "dz_dilated", "dw_identity")
    labels = {
        "a": "input a (a₁…a₂₅)", "w": "filter w (w₁…w₉)", "v": "readout weights v₁…v₄",
        "c": "readout bias c", "t": "target t", "alpha": "learning rate α",
        "z": "z = w ⋆ a (stride 2)", "dz": "∂L/∂z", "dw": "∂L/∂w (kernel)",
        "w_new": "w − α·∂L/∂w", "dz_dilated": "∂L/∂z dilated by the stride",
        "dw_identity": "a ⋆ dilated ∂L/∂z (stride 1)",
    }
    STRIDE = 2

    def default_params(self):
        a = [[1, 0, 2, 1, 0],
             [0, 1, 3, 1, 2],
             [2, 1, 0, 0, 1],
             [1, 3, 1, 2, 0],
             [0, 2, 1, 1, 3]]
        w = [[1, 0, -1],
             [0, 2, 0],
             [-1, 0, 1]]
        return {"a": a, "w": w, "v": [0.5, -0.5, 0.25, 1.0], "c": 0.0, "t": 2.0, "alpha": 0.01}

    def recompute(self):
        p = self.params
        a, w = p["a"][None, None], p["w"][None, None]
        z = conv2d_forward(a, w, np.zeros(1), self.STRIDE, 0)           # (1, 1, 2, 2)
        zf = z.reshape(-1)                                                # flatten: z_1 … z_4
        yhat = float(zf @ p["v"] + p["c"])
        err = yhat - float(p["t"])
        dz = (err * p["v"]).reshape(z.shape)                              # ∂L/∂z_k = (ŷ − t)·v_k
        _, dw, _ = conv2d_backward(dz, a, w, self.STRIDE, 0)
        self.results = {
            "z": z[0, 0], "yhat": np.float64(yhat), "loss": np.float64(0.5 * err * err),
            "dyhat": np.float64(err), "dz": dz[0, 0], "dw": dw[0, 0],
            "w_new": p["w"] - float(p["alpha"]) * dw[0, 0],
            "dz_dilated": dilate(dz, self.STRIDE)[0, 0],
            "dw_identity": dw_via_correlation(dz, a, (3, 3), self.STRIDE, 0)[0, 0],
        }

    # 1-based numbering of the text
    @staticmethod
    def a_number(r, c) -> int:
        return r * 5 + c + 1

    def z_terms(self, k: int) -> list:
        """``[(w number, a number), …]`` of ``z_k`` (k = 1…4), in the text's numbering."""
        oy, ox = divmod(k - 1, 2)
        return [(i * 3 + j + 1, self.a_number(oy * self.STRIDE + i, ox * self.STRIDE + j))
                for i in range(3) for j in range(3)]

    def dw_terms(self, i: int) -> list:
        """``[(a number, z number), …]``: ``∂L/∂w_i = Σ a_p ∂L/∂z_k`` (i = 1…9)."""
        fi, fj = divmod(i - 1, 3)
        return [(self.a_number(oy * self.STRIDE + fi, ox * self.STRIDE + fj), oy * 2 + ox + 1)
                for oy in range(2) for ox in range(2)]

    def _a(self, num):
        return self.params["a"].reshape(-1)[num - 1]

    def lines(self):
        p, r = self.params, self.results
        wf, zf, dzf, dwf = p["w"].reshape(-1), r["z"].reshape(-1), r["dz"].reshape(-1), r["dw"].reshape(-1)
        out = ["Forward pass (stride 2, no padding, output (5 − 3)/2 + 1 = 2 per side):"]
        for k in range(1, 5):
            t = self.z_terms(k)
            sym = " + ".join(f"w{wi}·a{ai}" for wi, ai in t)
            num = " + ".join(f"{_n(wf[wi - 1])}·{_n(self._a(ai))}" for wi, ai in t)
            out.append(f"z{k} = {sym}")
            out.append(f"    = {num} = {_n(zf[k - 1])}")
        out.append("Flatten and predict: ŷ = v₁z₁ + v₂z₂ + v₃z₃ + v₄z₄ + c = "
                   + " + ".join(f"{_n(p['v'][k])}·{_n(zf[k])}" for k in range(4))
                   + f" + {_n(p['c'])} = {_n(r['yhat'])}")
        out.append(f"Loss: L = ½(ŷ − t)² = ½({_n(r['yhat'])} − {_n(p['t'])})² = {_n(r['loss'])}")
        out.append(f"∂L/∂zₖ = (ŷ − t)·vₖ:  " + ", ".join(f"∂L/∂z{k + 1} = {_n(dzf[k])}" for k in range(4)))
        out.append("Backward to the filter (each weight saw four inputs, one per output):")
        for i in range(1, 10):
            t = self.dw_terms(i)
            sym = " + ".join(f"a{ai}·∂L/∂z{zk}" for ai, zk in t)
            num = " + ".join(f"{_n(self._a(ai))}·{_n(dzf[zk - 1])}" for ai, zk in t)
            out.append(f"∂L/∂w{i} = {sym}")
            out.append(f"    = {num} = {_n(dwf[i - 1])}")
        k = next((k for k in range(9) if dwf[k] != 0), 0)       # a weight the step really moves
        out.append(f"Update with α = {_n(p['alpha'])}: new wᵢ = wᵢ − α·∂L/∂wᵢ, "
                   f"e.g. new w{k + 1} = {_n(wf[k])} − {_n(p['alpha'])}·{_n(dwf[k])} = "
                   f"{_n(r['w_new'].reshape(-1)[k])}")
        out.append("The same ∂L/∂w is the input correlated (⋆) at stride 1 with ∂L/∂z dilated by the stride "
                   "(one zero between neighbours), see the last two grids; the chapter calls this a convolution.")
        return out

    def explain(self, name, index):
        p, r = self.params, self.results
        keys = {"x": "a", "w": "w", "b": "c", "z": "z", "dz": "dz", "dw": "dw"}
        index = tuple(index)
        bd = None
        if name == "z":
            bd = explain.conv_forward_terms(p["a"][None], p["w"][None, None], None, self.STRIDE, 0,
                                            0, *index, value=r["z"][index], keys=keys)
        elif name in ("dw", "dw_identity"):
            bd = explain.conv_backward_weight_terms(r["dz"][None], p["a"][None], self.STRIDE, 0, 0, 0,
                                                    *index, value=r[name][index], keys=keys)
        elif name == "dz":
            k = index[0] * 2 + index[1] + 1
            R = explain.Ref
            bd = explain.custom(f"Chain rule: ∂L/∂z{k}", "∂L/∂zₖ = ∂L/∂ŷ · ∂ŷ/∂zₖ = (ŷ − t) · vₖ",
                                R("dz", index),
                                [(f"(ŷ − t) · v{k}", (r["dyhat"], p["v"][k - 1]), (None, R("v", (k - 1,))))],
                                value=r["dz"][index],
                                notes=[f"ŷ − t = {_n(r['yhat'])} − {_n(p['t'])} = {_n(r['dyhat'])}: how far the "
                                       "prediction is off. The flattening passed z"
                                       f"{k} to ŷ with weight v{k}."])
            return bd
        elif name == "dz_dilated":
            S = self.STRIDE
            R = explain.Ref
            if index[0] % S or index[1] % S:
                bd = explain.custom("Dilation: an inserted zero", "dilate(dz)(u, v) = dz(u/S, v/S) where S divides "
                                    "both, else 0", R("dz_dilated", index), [("inserted zero", (0.0,), (None,))],
                                    value=0.0, notes=[f"S − 1 = {S - 1} zero(s) sit between neighbouring gradients."])
            else:
                src = (index[0] // S, index[1] // S)
                k = src[0] * 2 + src[1] + 1
                bd = explain.custom("Dilation: a copied gradient", "dilate(dz)(u, v) = dz(u/S, v/S)",
                                    R("dz_dilated", index), [(f"∂L/∂z{k}", (r["dz"][src],), (R("dz", src),))],
                                    value=r["dz_dilated"][index],
                                    notes=["Each gradient lands where its window started in the input."])
            return bd
        elif name == "w_new":
            bd = explain.update_terms(p["w"], r["dw"], p["alpha"], index, value=r["w_new"][index],
                                      keys={"w": "w", "dw": "dw", "w_new": "w_new"})
        return self._text_labels(self._fit_refs(bd))

    def _text_labels(self, bd):
        """Relabel terms in the text's 1-based numbering: ``w3 · a13``, ``a1 · ∂L/∂z2``."""
        if bd is None:
            return None

        def num(ref):
            if ref is None:
                return None
            if ref.array == "a":
                return f"a{self.a_number(*ref.index)}"
            if ref.array in ("w", "dw", "w_new"):
                k = ref.index[0] * 3 + ref.index[1] + 1
                return {"w": f"w{k}", "dw": f"∂L/∂w{k}", "w_new": f"new w{k}"}[ref.array]
            if ref.array in ("z", "dz"):
                k = ref.index[0] * 2 + ref.index[1] + 1
                return f"z{k}" if ref.array == "z" else f"∂L/∂z{k}"
            return None

        terms = []
        for t in bd.terms:
            names = [num(s_) for s_ in t.sources]
            if t.label.startswith("−α"):
                label = f"−α · {names[1]}"
            elif all(names):
                label = " · ".join(names)
            else:
                label = t.label
            terms.append(dataclasses.replace(t, label=label))
        bd.terms = terms
        target = num(bd.target)
        if target:
            bd.title = bd.title.split(":")[0] + f": {target}"
        return bd


# ------------------------------------------------------------------------------ text 001 (b)

def _diff(a) -> str:
    """The largest |difference|: ``0`` when none, else in 1.2e−16 form (rounding)."""
    v = float(np.abs(a).max()) if np.size(a) else 0.0
    return "0" if v == 0 else f"{v:.1e} (rounding)".replace("-", "−")


def _page_cells(text: str) -> str:
    """``x(0,1,2)`` -> ``x23`` and ``(1,2)`` -> ``x23`` in a note: the pooling page's 1-based names."""
    text = re.sub(r"\b(dx|dy|x|y)\(0,(\d+),(\d+)\)", lambda m: f"{m[1]}{int(m[2]) + 1}{int(m[3]) + 1}", text)
    return re.sub(r"\((\d+),(\d+)\)", lambda m: f"x{int(m[1]) + 1}{int(m[2]) + 1}", text)


def _page_names(bd):
    """Name every term, note and the target as the pooling page's lines do: ``x13``, ``y12``, ``dy21``, 1-based."""
    if bd is None:
        return None
    bd.terms = [dataclasses.replace(t, label=_page_cells(t.label), note=_page_cells(t.note)) for t in bd.terms]
    bd.notes = [_page_cells(n) for n in bd.notes]
    t = bd.target
    if t is not None and t.array in ("x", "y", "dy", "dx"):
        bd.title = bd.title.split(":")[0] + f": {t.array}{t.index[-2] + 1}{t.index[-1] + 1}"
    return bd


def _lowered(title: str) -> str:
    """``"Max pooling"`` -> ``"max pooling"``; ``"L2-norm pooling"`` stays as it is."""
    return title[:1].lower() + title[1:] if title[1:2].islower() else title


class PoolingExample(WorkedExample):
    """Pooling a 4×4 grid with any layer type that declares this example (``Teaching.examples``,
    max pooling first), 2×2 windows (or 3×3), stride 2 (or 1: overlapping).

    The example runs the layer type itself on ``x (4, 4)`` and ``dy``, and its breakdowns are
    the type's own (:meth:`cnncore.layers.Layer.explain`), named as the book chapter's page
    names the cells: ``x11 … x44``.
    """
    key = "pooling"
    title = "Pooling a 4×4 grid (after the book chapter's example)"
    credit = ("After the max-pooling example of the book chapter “Back propagation in CNN”; mean pooling and "
              "overlapping windows follow the CMU lecture slides “Deep Neural Networks: Convolutional Networks "
              "III”, and L2-norm pooling is the one the blog post “Backpropagation In Convolutional Neural "
              "Networks” names.")
    editable = ("x", "dy")
    shown = ("y", "dx")
    labels = {"x": "input x (4×4)", "dy": "incoming gradient dy = ∂L/∂y",
              "y": "pooled output y", "dx": "gradient routed back ∂L/∂x"}

    def __init__(self):
        self.types = {cls.type: cls for cls in example_layer_types(self.key)}
        if not self.types:
            raise ValueError("no layer type declares the pooling example")
        self.choices = {"type": tuple(self.types), "stride": (2, 1), "size": (2, 3)}
        kinds = ", ".join(_lowered(cls.title) for cls in self.types.values())
        self.summary = (f"Pooling keeps one number per window ({kinds}) and has nothing to learn. Going "
                        "backward, each window's gradient goes back to the inputs that made its number, by the "
                        "type's own rule: all of it to the winner of a max, an even share of a mean. With stride "
                        "1 the windows overlap and an input can collect gradient from several windows (+=).")
        self._arrays: dict = {}
        super().__init__()

    def heading(self):
        s = self.settings
        kind = _lowered(self.types[s["type"]].title)
        return f"4×4 {kind}, {s['size']}×{s['size']} windows, stride {s['stride']}"

    def setting_text(self, name, value) -> str:
        return self.types[value].title if name == "type" else super().setting_text(name, value)

    def default_settings(self):
        return {"type": next(iter(self.types)), "size": 2, "stride": 2}

    def default_params(self):
        x = [[1, 3, 2, 1],
             [4, 2, 0, 5],
             [3, 1, 6, 2],
             [0, 2, 4, 3]]
        return {"x": x, "dy": self._default_dy(self.out_hw(self.default_settings()))}

    @staticmethod
    def _default_dy(hw):
        return (np.arange(1, hw[0] * hw[1] + 1, dtype=np.float64) / 10).reshape(hw)

    def out_hw(self, settings=None):
        s = settings or self.settings
        return conv_output_size((4, 4), s["size"], s["stride"], 0)

    def reshape_params(self):
        hw = self.out_hw()
        if self.params["dy"].shape != hw:
            self.params["dy"] = self._default_dy(hw)

    def _spec(self) -> dict:
        s = self.settings
        return {"type": s["type"], "size": [s["size"]] * 2, "stride": [s["stride"]] * 2}

    def recompute(self):
        """Run the chosen layer type forward on ``x`` and backward on ``dy`` (float64, one map)."""
        cls, spec = self.types[self.settings["type"]], self._spec()
        layer = cls(0, spec, (1, 4, 4), cls.output_shape(spec, (1, 4, 4)), np.float64)
        layer.forward(np.ascontiguousarray(self.params["x"][None, None]), keep=True)
        layer.backward(np.ascontiguousarray(self.params["dy"][None, None]))
        self._arrays = {p: np.array(getattr(layer, p)[0], dtype=getattr(layer, p).dtype)
                        for p in ("x", "y", "dy", "dx", *cls.records)}
        self.results = {"y": self._arrays["y"][0], "dx": self._arrays["dx"][0]}

    def chosen_cells(self):
        """The cells the type records as positions (a max-pool's winners), flat ``row·4 + column``."""
        cells = set()
        for part in self.types[self.settings["type"]].positions:
            cells |= {divmod(int(k), 4) for k in self._arrays[part].ravel()}
        return {"x": cells} if cells else {}

    def explain(self, name, index):
        if name not in ("y", "dx"):
            return None
        cls = self.types[self.settings["type"]]
        keys = {p: p for p in self._arrays}
        bd = cls.explain(self._spec(), name, (0, *index), self._arrays.__getitem__, keys)
        return _page_names(self._fit_refs(bd))

    @staticmethod
    def _symbols(bd) -> str:
        names = [t.label for t in bd.terms]
        if bd.combine == "max":
            return f"max({', '.join(names)})"
        if bd.combine == "norm":
            return f"sqrt({' + '.join(names)})"
        return " + ".join(names)

    def lines(self):
        s, r = self.settings, self.results
        K, S = s["size"], s["stride"]
        Ho, Wo = r["y"].shape
        out = [f"Output size per side: {output_size_words(4, K, S)}."]
        for oy in range(Ho):
            for ox in range(Wo):
                bd = self.explain("y", (oy, ox))
                won = [t.label for t in bd.terms if t.chosen]
                out.append(f"y{oy + 1}{ox + 1} = {self._symbols(bd)} = {bd.written_out(limit=9)}"
                           + (f"  (winner {won[0]})" if won and bd.combine == "max" else ""))
        out.append("Backward, each input collects what the windows holding it send back (+=):")
        zero = 0
        for iy in range(4):
            for ix in range(4):
                if r["dx"][iy, ix] == 0:
                    zero += 1
                    continue
                bd = self.explain("dx", (iy, ix))
                out.append(f"∂L/∂x{iy + 1}{ix + 1} = {self._symbols(bd)} = {bd.written_out(limit=9)}")
        if zero:
            out.append(f"The other {zero} input(s) get 0 from the windows that hold them (or lie in none).")
        return out


# ------------------------------------------------------------------------------------- text 002

class MultiChannelExample(WorkedExample):
    """Two 5×5 input maps ``Y(l−1, m)``, two filters of two channels, bias, ReLU.

    Stored ``w[n, m, i, j]`` and written ``w_l(m, n, i, j)`` as in the slides.
    The incoming gradient ``dY(l)`` is editable; backward gives ``dz``, ``dY(l−1)``,
    ``dw`` and ``db``, and :func:`identity_maps` the same by whole-map convolutions.
    """
    key = "multichannel"
    title = "Two input maps, two filters (after the lecture slides)"
    credit = ("After “Deep Neural Networks: Convolutional Networks III” (CMU 11-785 lecture slides); the "
              "first input map and the first filter channel are the slides' own 5×5 and 3×3 example. The "
              "slides call the input y(l−1, m) and its gradient dY(l−1, m); here they are x(m) and dx(m).")
    summary = ("Each filter has one 3×3 channel per input map; each filter makes one affine map "
               "z(n). Going backward, dz = dy·f′(z); the gradient for input map m gathers "
               "channel m of every filter, and the gradient for channel m of filter n pairs "
               "input map m with dz(n). Click any output number to see its sum.")
    editable = ("y0", "w", "b", "dy")
    shown = ("z", "y", "dz", "dy0", "dw", "db")
    labels = {"y0": "input maps x(m)", "w": "filters: w(m, n, ·, ·) for each n, m",
              "b": "biases b(n)", "dy": "incoming gradient dy(n)",
              "z": "affine maps z(n)", "y": "outputs y(n) = relu(z)",
              "dz": "dz(n) = dy·f′(z)", "dy0": "input gradient dx(m)",
              "dw": "filter gradient dW(m, n, ·, ·)", "db": "bias gradient db(n)"}
    choices = {"stride": (1, 2), "padding": (0, 1)}
    ACTIVATION = "relu"

    def default_settings(self):
        return {"stride": 1, "padding": 0}

    def default_params(self):
        slide_map = [[1, 1, 1, 0, 0],
                     [0, 1, 1, 1, 0],
                     [0, 0, 1, 1, 1],
                     [0, 0, 1, 1, 0],
                     [0, 1, 1, 0, 0]]
        second = [[0, 1, 0, 2, 1],
                  [1, 0, 1, 0, 2],
                  [2, 1, 0, 1, 0],
                  [0, 2, 1, 0, 1],
                  [1, 0, 2, 1, 0]]
        slide_filter = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
        w = np.zeros((2, 2, 3, 3))
        w[0, 0] = slide_filter
        w[0, 1] = [[0, 1, 0], [0, -1, 0], [0, 1, 0]]
        w[1, 0] = [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]
        w[1, 1] = [[1, 1, 1], [0, 0, 0], [-1, -1, -1]]
        return {"y0": [slide_map, second], "w": w, "b": [0.0, -1.0],
                "dy": self._default_dy(self.out_hw(self.default_settings()))}

    @staticmethod
    def _default_dy(hw):
        g = np.array([0.1, -0.2, 0.3, -0.1, 0.2, 0.1, -0.3, 0.2, 0.1])
        n = hw[0] * hw[1]
        return np.stack([np.resize(g, n).reshape(hw), np.resize(g[::-1], n).reshape(hw)])

    def out_hw(self, settings=None):
        s = settings or self.settings
        return conv_output_size((5, 5), 3, s["stride"], s["padding"])

    def reshape_params(self):
        hw = self.out_hw()
        if self.params["dy"].shape[1:] != hw:
            self.params["dy"] = self._default_dy(hw)

    def recompute(self):
        s, p = self.settings, self.params
        x, w, b = p["y0"][None], p["w"], p["b"]
        z = conv2d_forward(x, w, b, s["stride"], s["padding"])
        y = activations.apply(self.ACTIVATION, z.copy())
        dz = activations.backward(self.ACTIVATION, p["dy"][None], z, y)
        dx, dw, db = conv2d_backward(np.ascontiguousarray(dz), x, w, s["stride"], s["padding"])
        self.results = {"z": z[0], "y": y[0], "dz": dz[0], "dy0": dx[0], "dw": dw, "db": db}
        self.results.update(identity_maps(dz[0], p["y0"], w, s["stride"], s["padding"]))

    def lines(self):
        s, p, r = self.settings, self.params, self.results
        S, P = s["stride"], s["padding"]
        bd = self.explain("z", (0, 0, 0))
        out = [f"Stride S = {S}, padding P = {P}: each output map has {output_size_words(5, 3, S, P)} rows "
               "and as many columns.",
               "z(n,r,c) = Σ_m Σ_i Σ_j w(m,n,i,j) · x(m, rS+i−P, cS+j−P) + b(n)",
               f"z(0,0,0) = {bd.written_out(limit=19)}"]
        first = sum(t.value for t in bd.terms[:9])
        out.append(f"    of which channel m = 0 (the slides' map and filter) gives {_n(first)}")
        out.append("dz(n,r,c) = dy(n,r,c) · f′(z(n,r,c)),  f′(z) = 1 if z > 0 else 0")
        bd = self.explain("dy0", (0, 2, 2))
        out.append("dx(m,r,c) = Σ_n Σ_(r′,c′) dz(n,r′,c′) · w(m,n, r−r′S+P, c−c′S+P)")
        out.append(f"dx(0,2,2) = {bd.written_out(limit=18)}")
        bd = self.explain("dw", (0, 0, 1, 2))
        out.append("dW(m,n,i,j) = Σ_(r,c) dz(n,r,c) · x(m, rS+i−P, cS+j−P)")
        out.append(f"dW(0,0,1,2) = {bd.written_out(limit=18)}")
        out.append("Textbook way: dx = unpad_P(pad_K−1(dilate(dz)) ⋆ rot180(W)ᵀ), the dz maps dilated by S, "
                   "padded by K−1, correlated with the turned, channel-swapped filters and the forward padding "
                   f"cut away; largest difference from the kernels: {_diff(r['dx_diff'])}. dW = pad_P(x) ⋆ "
                   f"dilate(dz), the input padded by P = {P} as in the forward pass and correlated with the dilated "
                   f"dz (its first 3×3); largest difference {_diff(r['dw_diff'])}.")
        return out

    def explain(self, name, index):
        s, p, r = self.settings, self.params, self.results
        S, P = s["stride"], s["padding"]
        keys = {"x": "y0", "w": "w", "b": "b", "z": "z", "dz": "dz", "dy": "dy", "dx": "dy0", "dw": "dw"}
        index = tuple(index)
        if name == "z":
            return explain.conv_forward_terms(p["y0"], p["w"], p["b"], S, P, *index, value=r["z"][index],
                                              keys=keys)
        if name == "y":
            return explain.activation_forward_terms(r["z"], self.ACTIVATION, index, value=r["y"][index],
                                                    keys={"z": "z", "y": "y"})
        if name == "dz":
            return explain.activation_backward_terms(p["dy"], r["z"], self.ACTIVATION, index,
                                                     value=r["dz"][index], keys=keys)
        if name == "dy0":
            return explain.conv_backward_input_terms(r["dz"], p["w"], S, P, (5, 5), *index,
                                                     value=r["dy0"][index], keys=keys)
        if name == "dw":
            n, m, i, j = index
            return explain.conv_backward_weight_terms(r["dz"], p["y0"], S, P, n, m, i, j,
                                                      value=r["dw"][index], keys=keys)
        if name == "db":
            return explain.conv_backward_bias_terms(r["dz"], index[0], value=r["db"][index], keys=keys)
        return None


#: Every worked example by its key; a layer type names the ones it appears in (``Teaching.examples``).
EXAMPLE_TYPES = {cls.key: cls for cls in (StridedConvExample, MultiChannelExample, PoolingExample)}


def example_layer_types(key: str) -> list:
    """The registered layer types that declare the worked example ``key``, in registry order."""
    return [cls for cls in LAYER_TYPES.values() if key in cls.teaching.examples]


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
