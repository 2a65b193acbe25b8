"""Text 001's strided convolution: a 5×5 input, one 3×3 filter, stride 2, flattened into a prediction."""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import explain
from ..identities import dilate, dw_via_correlation
from ..kernels import conv2d_backward, conv2d_forward
from ..plurals import agrees, plural
from ..terms import num as _n
from ..terms import operand as _o
from .base import WorkedExample


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
        "z": "z = a ⋆ w (stride 2)", "dz": "∂L/∂z", "dw": "∂L/∂w (kernel)",
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
            num = " + ".join(f"{_o(wf[wi - 1])}·{_o(self._a(ai))}" for wi, ai in t)
            out.append(f"z{k} = {sym}")
            out.append(f"    = {num} = {_n(zf[k - 1])}")
        out.append("Flatten and predict: ŷ = v₁z₁ + v₂z₂ + v₃z₃ + v₄z₄ + c = "
                   + " + ".join(f"{_o(p['v'][k])}·{_o(zf[k])}" for k in range(4))
                   + f" + {_o(p['c'])} = {_n(r['yhat'])}")
        out.append(f"Loss: L = ½(ŷ − t)² = ½({_n(r['yhat'])} − {_o(p['t'])})² = {_n(r['loss'])}")
        out.append("∂L/∂zₖ = (ŷ − t)·vₖ:  " + ", ".join(f"∂L/∂z{k + 1} = {_n(dzf[k])}" for k in range(4)))
        out.append("Backward to the filter (each weight saw four inputs, one per output):")
        for i in range(1, 10):
            t = self.dw_terms(i)
            sym = " + ".join(f"a{ai}·∂L/∂z{zk}" for ai, zk in t)
            num = " + ".join(f"{_o(self._a(ai))}·{_o(dzf[zk - 1])}" for ai, zk in t)
            out.append(f"∂L/∂w{i} = {sym}")
            out.append(f"    = {num} = {_n(dwf[i - 1])}")
        k = next((k for k in range(9) if dwf[k] != 0), 0)       # a weight the step really moves
        out.append(f"Update with α = {_n(p['alpha'])}: new wᵢ = wᵢ − α·∂L/∂wᵢ, "
                   f"e.g. new w{k + 1} = {_n(wf[k])} − {_o(p['alpha'])}·{_o(dwf[k])} = "
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
                                notes=[f"ŷ − t = {_n(r['yhat'])} − {_o(p['t'])} = {_n(r['dyhat'])}: how far the "
                                       "prediction is off. The flattening passed z"
                                       f"{k} to ŷ with weight v{k}."])
            return bd
        elif name == "dz_dilated":
            S = self.STRIDE
            R = explain.Ref
            if index[0] % S or index[1] % S:
                bd = explain.custom("Dilation: an inserted zero", "dilate(dz)(u, v) = dz(u/S, v/S) where S divides "
                                    "both, else 0", R("dz_dilated", index), [("inserted zero", (0.0,), (None,))],
                                    value=0.0, notes=[f"S − 1 = {plural(S - 1, 'zero')} "
                                                      f"{agrees(S - 1, 'sits', 'sit')} between neighbouring gradients."])
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
