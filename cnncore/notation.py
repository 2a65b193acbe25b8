"""The one notation every equation, worked example and trace step of the app uses, and its legend.

The texts write ``∗`` for true convolution (the filter flipped, text 000 eq. 2)
while the slides' loops and this app's kernels slide the filter as it is, which
is correlation; this app writes that ``⋆``. The legend says both and how they
meet, in our words; :data:`LEGEND` is what the app shows (Learn → Notation).
"""
from __future__ import annotations

__all__ = ["CONV", "CORR", "LEGEND", "TEXT_TITLES", "legend_lines"]

#: True convolution (the filter turned by 180° as it slides), as in the texts' ``∗``.
CONV = "∗"
#: Correlation (the filter slid as it is), what every layer of this app computes forward.
CORR = "⋆"

#: The three texts the app follows, by title (the order of ``/shared/texts``).
TEXT_TITLES = {
    "000": "Backpropagation In Convolutional Neural Networks (blog post)",
    "001": "Back propagation in CNN (book chapter)",
    "002": "Deep Neural Networks: Convolutional Networks III (CMU 11-785 lecture slides, Spring 2025)",
}

_ROWS = (
    ("a ⋆ w", "correlation: (a ⋆ w)(r,c) = Σ_i Σ_j a(r+i, c+j)·w(i,j); the filter slides over the map "
              "as it is. Every conv layer here computes this forward."),
    ("a ∗ w", "true convolution: (a ∗ w)(r,c) = Σ_i Σ_j a(r−i, c−j)·w(i,j); the same sum with the filter "
              "turned by 180°. This is the texts' ∗ (blog post, eq. 2)."),
    ("rot180(w)", "w turned by 180° (flipped up-down and left-right), so a ∗ rot180(w) = a ⋆ w."),
    ("z = rot180(w) ∗ a + b", "the blog post's forward pass (eq. 6): the same numbers as z = w ⋆ a + b (its eq. 7, "
                               "and the slides' loops)."),
    ("∂C/∂w = rot180(δ) ∗ a", "the blog post's weight gradient (eq. 14), δ = dz: the same as dW = a ⋆ dz, "
                               "the input correlated with the output gradient."),
    ("x, y, z", "a layer's input maps x (the slides' y(l−1)), its affine maps z and its output y = f(z)."),
    ("dx, dy, dz, dW, db", "gradients of the loss with respect to x, y, z, W and b (the slides write dY(l−1) "
                           "for dx, the blog post δ for dz)."),
    ("m, n, r, c, i, j", "input channel m, filter (output channel) n, row r, column c, filter row i, filter "
                         "column j; every index counts from 0."),
    ("S, P, K", "stride, zero padding on each side, filter size."),
    ("dilate(dz)", "dz with S − 1 zeros between neighbouring values (the slides' upsampling)."),
    ("pad_K−1(·), unpad_P(·)", "add K − 1 rows and columns of zeros on every side; delete the P-wide border the "
                              "forward padding added."),
    ("Wᵀ", "the filters with input and output channels swapped."),
    ("⊙", "element-by-element product."),
)


def legend_lines() -> list[tuple[str, str]]:
    """``(symbol, meaning)`` rows of the legend."""
    return list(_ROWS)


#: The legend as plain text, one symbol a line.
LEGEND = "\n".join(f"{sym}  —  {words}" for sym, words in _ROWS)
