"""Two input maps and two filters after text 002's multi-channel sum, and the identities of its backward pass."""
from __future__ import annotations

import numpy as np

from .. import activations, explain
from ..identities import dilate, dw_via_correlation, dx_via_convolution, flip_filters
from ..kernels import conv2d_backward, conv2d_forward
from ..shapes import conv_output_size, output_size_words
from ..terms import num as _n
from ..terms import zeros_as_by_hand
from .base import WorkedExample


def _diff(a) -> str:
    """The largest |difference|: ``0`` when none, else in 1.2e−16 form (rounding)."""
    v = float(np.abs(a).max()) if np.size(a) else 0.0
    return "0" if v == 0 else f"{v:.1e} (rounding)".replace("-", "−")


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
        # a z of 0.1 + 0.2 − 0.3 is 2.8e−17 in floats: 0, as by hand, before ReLU reads its sign
        z = zeros_as_by_hand(z, max(float(np.abs(x).max(initial=0) * np.abs(w).max(initial=0)),
                                    float(np.abs(b).max(initial=0))))
        y = activations.apply(self.ACTIVATION, z.copy())
        dz = activations.backward(self.ACTIVATION, p["dy"][None], z, y)
        dx, dw, db = conv2d_backward(np.ascontiguousarray(dz), x, w, s["stride"], s["padding"])
        self.results = {"z": z[0], "y": y[0], "dz": dz[0], "dy0": dx[0], "dw": dw, "db": db}
        self.results.update(identity_maps(dz[0], p["y0"], w, s["stride"], s["padding"]))

    def lines(self):
        s, r = self.settings, self.results
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
