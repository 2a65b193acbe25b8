"""A convolution's input gradient ``dx``, two ways (:func:`input_grad_parts` picks one for a layer).

Both give dx(c, r, s) = Σ_f Σ_(i,j) dz(f, y, x) · w(f, c, i, j) over the windows that reached
(r, s): as the textbook's full convolution (:class:`_FullConvParts`: ``dz`` dilated by the stride,
zero-padded by K − 1, correlated with the flipped, channel-swapped filters, the forward padding
stripped), or as the transposed convolution's scatter (:class:`_FoldParts`: the products of each
tap, Σ_f w(f, c, i, j) · dz(f, y, x), added where the tap's window put them). The first runs long
tiles over whole maps; the second never multiplies padding, which is most of the full convolution's
work where the maps are small beside the filters (lenet's second layer: 56 % of the products) or
the stride dilates dz.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._dispatch import _kernels
from ..plans import _ALIGN, _FB, _PB, _Padded, _WideConv, _grown, _round_up, _slack

if TYPE_CHECKING:
    from .conv_plan import ConvPlan

__all__ = ["input_grad_parts", "shared_dz"]

#: A float32 layer takes its dx by the scatter where the scatter's multiply-adds (whole tiles), plus
#: its adds into dx, come to under :data:`_FOLD_SHARE` of the full convolution's multiply-adds. A
#: layer of stride 1 sums each vector of a row of dx in a register (``cnn_fold_rows``): its adds
#: count :data:`_ROWS_ADD_COST` times the vector's lanes each; a strided layer adds each value into
#: dx in memory (``cnn_fold_plane``): :data:`_FOLD_ADD_COST` times the lanes a value. Measured, dx
#: alone, time of the scatter over the full convolution's, AMD EPYC (Zen 4), batch 64 (batch 1):
#: lenet's second layer 0.69 (0.78) avx512, 0.68 (0.98) avx2, 0.57 (0.58) base; a 3×3, stride-2
#: layer 0.36–0.50; wide's second 1.07–1.14 (AVX), 0.99 base; cifar's second 1.06–1.08, 0.97 base;
#: 3×3 layers of 8 channels on 32×32 1.29–1.77; 5×5 on 28×28 with padding 2 1.17–1.31.
_ROWS_ADD_COST = 4.0
_FOLD_ADD_COST = 1.5
_FOLD_SHARE = 0.8


def _by_scatter(plan: "ConvPlan") -> bool:
    """Whether ``plan``'s layer takes dx by the scatter (see :data:`_FOLD_SHARE`). float64 layers (the
    worked examples, the checks against the textbook) keep the full convolution, whose sums run in
    the textbook's order."""
    if plan.dtype != np.float32:
        return False
    C, H, W = plan.x_shape[1:]
    F, _, KH, KW = plan.w_shape
    Ho, Wo = plan.z_shape[2:]
    (rows, width), _, _ = _full_layout(plan)
    full_work = _round_up(C, _FB) * _round_up((rows - KH + 1) * width, _PB) * F * KH * KW
    lanes = _kernels.VECTOR_LANES[plan.dtype.itemsize]
    if plan.stride == (1, 1):       # a vector of each row of dx for each of its taps' rows
        adds = _ROWS_ADD_COST * lanes * C * KH * KW * Ho * -(-W // lanes)
    else:                           # each product into its place
        adds = _FOLD_ADD_COST * lanes * C * KH * KW * Ho * Wo
    fold_work = _round_up(C * KH * KW, _FB) * _round_up(Ho * Wo, _PB) * F + adds
    return fold_work < _FOLD_SHARE * full_work


def input_grad_parts(plan: "ConvPlan"):
    """The dx parts of ``plan``'s layer: :class:`_FoldParts` or :class:`_FullConvParts`."""
    return _FoldParts(plan) if _by_scatter(plan) else _FullConvParts(plan)


def shared_dz(plan: "ConvPlan"):
    """The full convolution's padded dz where the filter gradient can read it too, else None.

    A stride-1 layer whose padded dz rows are as wide as its padded input's (a 3×3 layer with
    padding 1: 16 columns for 14) holds dz at the place the filter gradient's wide rows put it,
    one plane of the padded dz apart: its zero columns and rows are the wide rows' zeros. Both
    loops then read one dz, and the gradient pass writes it once instead of twice (the plan keeps
    it: ``ConvPlan.dz_pad``). Only where each plane's dz starts on a cache line, as the filter gradient's own rows did (a
    plane of a width that left them off the lines made its loop a quarter slower: 11×11 inputs,
    3×3 filters, no padding)."""
    N, _, _, W = plan.x_shape
    F, KW = plan.w_shape[0], plan.kernel[1]
    Ho, Wo = plan.z_shape[2:]
    (rows, width), (top_row, left), _ = _full_layout(plan)
    start, Lr = top_row * width + left, _round_up(Ho * width, _PB)
    if plan.stride != (1, 1) or F % _FB or width != W + 2 * plan.padding[1] or Lr > rows * width \
            or rows * width * plan.dtype.itemsize % _ALIGN or _by_scatter(plan):
        return None
    return _Padded((N, F, rows, width), plan.dtype, max(_slack(KW), start),
                   slice(top_row, top_row + Ho), slice(left, left + Wo), at=start)


def _shared_padding_width(out_rows, width, left, Wd, first, W, KW):
    """Row width of the padded dz for dx: ``width`` (each row padded on both sides), or
    less when that saves wide-row positions and a row's right padding can be the next
    row's ``left`` zero columns. A tap that reads past the end of a narrower row then
    reads the next row's first columns, zeros while it reads fewer than ``left`` of
    them: true of every kept output column ``first ≤ s < first + W`` when
    ``first + W − 1 + KW − 1 − narrow < left``. Lenet's second layer: 12, not 16."""
    narrow = max(left + Wd, first + W)
    fits = first + W + KW - 2 - narrow < left
    if fits and _round_up(out_rows * narrow, _PB) < _round_up(out_rows * width, _PB):
        return narrow
    return width


def _full_layout(plan: "ConvPlan"):
    """The padded dz of the full convolution: ``((rows, width), (first row, first column) of dz
    in it, (first column kept of each output row, forward padding rows left out))``. Rows and
    columns that reach only the forward padding of dx are left out (up to K − 1 on each side),
    so the wide rows cover little more than dx itself: 16×16 instead of 18×18 planes for a 3×3,
    padding-1 layer."""
    H, W = plan.x_shape[2:]
    KH, KW = plan.kernel
    (PH, PW), Wd = plan.padding, plan._hd_wd[1]
    Hp, Wp = H + 2 * PH, W + 2 * PW
    AH, AW = min(PH, KH - 1), min(PW, KW - 1)
    rows, left, top = Hp + KH - 1 - 2 * AH, KW - 1 - AW, PW - AW
    width = _shared_padding_width(rows - KH + 1, Wp + KW - 1 - 2 * AW, left, Wd, top, W, KW)
    return (rows, width), (KH - 1 - AH, left), (top, AH)


class _FullConvParts:
    """dx as a full convolution: the dilated ``dz`` padded by ``K − 1`` (``dpad``; the gradient
    pass writes dz into ``dpad.inner``), convolved with the flipped, channel-swapped filters,
    what is left of the forward padding stripped."""

    def __init__(self, plan: "ConvPlan"):
        N, C, H, W = plan.x_shape
        F, _, KH, KW = plan.w_shape
        (SH, SW), PH = plan.stride, plan.padding[0]
        (rows, width), (top_row, left), (top, AH) = _full_layout(plan)
        Hd, Wd = plan._hd_wd
        self.dpad = plan.dz_pad or _Padded((N, F, rows, width), plan.dtype, _slack(KW),
                                       slice(top_row, top_row + Hd, SH), slice(left, left + Wd, SW))
        self.conv = _WideConv(self.dpad, C, KH, KW, own_weights=True, cols=top + W)
        # w(f, c, i, j) lands at row c, tap (f, KH−1−i, KW−1−j): rot180(w), channels swapped
        self.flipped = self.conv.rows.reshape(C, F, KH, KW).transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
        self.strip = self.conv.result[:, :, PH - AH:PH - AH + H, top:top + W]
        self.dx = np.empty((N, C, H, W), dtype=plan.dtype)

    def run(self, w, nt: int) -> np.ndarray:
        np.copyto(self.flipped, w)
        self.conv.run(self.conv.rows, None, nt)
        np.copyto(self.dx, self.strip)
        return self.dx

    def compile(self, step, w, nt: int) -> np.ndarray:
        step.copy(w, self.flipped)
        self.conv.compile(step, self.conv.rows, None, nt)
        step.copy(self.strip, self.dx)
        return self.dx


class _FoldParts:
    """dx as the transposed convolution's scatter, sample by sample (:func:`cnncore._kernels.conv_fold`):
    the products cols((c, i, j), p) = Σ_f w(f, c, i, j) · dz(f, p) by the wide-row tiles (a 1×1
    convolution over dz's F planes, the weights' rows ``wt`` (C·KH·KW rounded up to the tiles, F)),
    then each row added into dx where its tap's window put it (a few channels at a time, as soon as
    their products are made). ``dpad.inner``: the contiguous dz
    (N, F, Ho, Wo) the gradient pass writes."""

    def __init__(self, plan: "ConvPlan"):
        N, C, H, W = plan.x_shape
        F, _, KH, KW = plan.w_shape
        Ho, Wo = plan.z_shape[2:]
        (SH, SW), (PH, PW) = plan.stride, plan.padding
        P, R = Ho * Wo, _round_up(C * KH * KW, _FB)
        Lr = _round_up(P, _PB)
        everything = slice(None)
        self.dpad = _Padded((N, F, Ho, Wo), plan.dtype, Lr - P, everything, everything)
        self.off = np.arange(F, dtype=np.intp) * P
        self.wt = np.zeros((R, F), dtype=plan.dtype)
        # w(f, c, i, j) lands at row (c, i, j), column f
        self.w_into = self.wt[:C * KH * KW].T.reshape(F, C, KH, KW)
        self.bias = np.zeros(R, dtype=plan.dtype)
        self.geometry = np.array([F * P, F, R, Lr, N, C, H, W, Ho, Wo, KH, KW, SH, SW, PH, PW], dtype=np.intp)
        self.dx = np.empty((N, C, H, W), dtype=plan.dtype)
        self._cols = None

    def cols(self, nt: int) -> np.ndarray:
        """The products' scratch, one (R, Lr) and its slack a thread."""
        self._cols = _grown(self._cols, _kernels.fold_scratch(self.geometry, nt), self.wt.dtype)
        return self._cols

    def run(self, w, nt: int) -> np.ndarray:
        np.copyto(self.w_into, w)
        _kernels.conv_fold(self.dpad.buf, self.geometry, self.off, self.wt, self.bias, self.cols(nt), self.dx, nt)
        return self.dx

    def compile(self, step, w, nt: int) -> np.ndarray:
        step.copy(w, self.w_into)
        step.op("fold", nt, 0, [self.dpad.buf, self.off, self.wt, self.bias, self.cols(nt), self.dx], self.geometry)
        return self.dx
