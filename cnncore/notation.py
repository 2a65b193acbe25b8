"""The one notation every equation, worked example and trace step of the app uses, and its legend.

Only the blog post writes ``∗`` for true convolution (the filter turned, its eq. 2
and 3); the lecture slides write ``⊗`` for what their loops compute, which slides the
filter as it is, and call it "convolution", as the book chapter does. That operation
is correlation; this app writes it ``⋆``. The legend says who writes what and how
the forms meet, in our words; :data:`LEGEND` is what the app shows (Learn → Notation),
:data:`INTRO` the sentence above it.

A filter is written ``w(m,n,i,j)`` (input channel ``m`` first, as the slides do) but
stored ``W[n, m, i, j]`` (each filter's weights together, as the kernels read them):
:func:`written_index` turns a stored index into the written one, and every index
the learner reads goes through :func:`index_text`.
"""
from __future__ import annotations

__all__ = ["CONV", "CORR", "SLIDES_CONV", "INTRO", "LEGEND", "TEXT_TITLES", "legend_lines", "written_index",
           "index_text", "FILTER_PARTS"]

#: True convolution (the filter turned by 180° as it slides), the blog post's ``∗``.
CONV = "∗"
#: Correlation (the filter slid as it is), what every layer of this app computes forward.
CORR = "⋆"
#: The slides' sign for the operation their loops compute (a correlation, which they call convolution).
SLIDES_CONV = "⊗"

#: The three texts the app follows, by title (the order of ``/shared/texts``).
TEXT_TITLES = {
    "000": "Backpropagation In Convolutional Neural Networks (blog post)",
    "001": "Back propagation in CNN (book chapter)",
    "002": "Deep Neural Networks: Convolutional Networks III (CMU 11-785 lecture slides, Spring 2025)",
}

#: What the Notation page says above the legend.
INTRO = ("Every equation in the app is written with these symbols. A conv layer here slides each filter "
         "over its input as it is: that is correlation, written ⋆. Of the three texts, only the blog post "
         "writes ∗, for true convolution (the filter turned by 180°); the lecture slides write ⊗ for the "
         "operation their loops compute, which is the correlation ⋆, and call it “convolution”, as the "
         "book chapter does.")

_ROWS = (
    ("a ⋆ w", "correlation: (a ⋆ w)(r,c) = Σ_i Σ_j a(r+i, c+j)·w(i,j), i and j from 0 to K−1; the filter "
              "slides over the map as it is. Every conv layer here computes this forward."),
    ("a ⊗ w", "the lecture slides' sign for the same correlation (their loops compute a ⋆ w); the slides and "
              "the book chapter call it a convolution."),
    ("a ∗ w", "true convolution, as the blog post writes it with the filter's corner at 0 (its eq. 2): "
              "(a ∗ w)(r,c) = Σ_i Σ_j a(r−i, c−j)·w(i,j), i and j from 0 to K−1; the same kind of sum, "
              "with the filter turned by 180°."),
    ("centred form", "the blog post's eq. 3 writes the same true convolution with the filter's indices centred "
                     "on 0: (a ∗ w)(r,c) = Σ_i Σ_j a(r+i, c+j)·w(−i, −j). Turning a centred filter is "
                     "w(i,j) → w(−i,−j), and then a ∗ rot180(w) = a ⋆ w exactly."),
    ("rot180(w)", "w turned by 180° (flipped up-down and left-right): rot180(w)(i,j) = w(K−1−i, K−1−j). With "
                  "the corner form of ∗, a ∗ rot180(w) at (r,c) is a ⋆ w at (r−K+1, c−K+1): the same numbers "
                  "on the valid part, shifted by K−1."),
    ("z = rot180(w) ∗ a + b", "the blog post's forward pass (eq. 6): the same numbers as z = a ⋆ w + b (its eq. 7, "
                               "and the slides' loops): equal in the centred form, shifted by K−1 in the corner form."),
    ("∂C/∂w = rot180(δ) ∗ a", "the blog post's weight gradient (eq. 14), δ = dz: the same numbers as dW = a ⋆ dz, "
                               "the input correlated with the output gradient (shifted in the corner form, as above, by the "
                               "size of δ less 1)."),
    ("x, y, z", "a layer's input maps x (the slides' y(l−1)), its affine maps z and its output y = f(z)."),
    ("dx, dy, dz, dW, db", "gradients of the loss with respect to x, y, z, W and b (the slides write dY(l−1) "
                           "for dx, the blog post δ for dz)."),
    ("w(m,n,i,j)", "channel m of filter n, filter row i, column j (the slides' order). The arrays store it as "
                   "W[n, m, i, j], each filter's weights together; every index the app writes in ( ) is in the "
                   "written order."),
    ("m, n, r, c, i, j", "input channel m, filter (output channel) n, row r, column c, filter row i, filter "
                         "column j; every index counts from 0 (the slides' loops count from 1)."),
    ("S, P, K", "stride, zero padding on each side, filter size. At stride 1, P = (K − 1)/2 (odd K) keeps the "
                "output the size of the input: padding to keep the size, as the book chapter describes it."),
    ("pad_P(x)", "x with P rows and columns of zeros on every side, as the forward pass saw it."),
    ("dilate(dz)", "dz with S − 1 zeros between neighbouring values (the slides' upsampling)."),
    ("pad_K−1(·), unpad_P(·)", "add K − 1 rows and columns of zeros on every side; delete the P-wide border the "
                              "forward padding added."),
    ("Wᵀ", "the filters with input and output channels swapped."),
    ("⊙", "element-by-element product."),
    ("L = (1/T) Σ_t div_t", "the slides' loss over T images: the mean of each image's divergence (here its "
                            "cross-entropy), so a batch's gradient is the mean of its images' gradients."),
)


def legend_lines() -> list[tuple[str, str]]:
    """``(symbol, meaning)`` rows of the legend."""
    return list(_ROWS)


#: The legend as plain text, one symbol a line.
LEGEND = "\n".join(f"{sym}  —  {words}" for sym, words in _ROWS)

#: Trace parts that hold filters (or per-filter values) stored ``[n, m, i, j]``.
FILTER_PARTS = ("W", "dW", "W_next", "mW", "vW")


def written_index(index) -> tuple:
    """A filter's stored index ``(n, m, i, j)`` in the written order ``(m, n, i, j)``; any other
    index (no four axes) as it is."""
    index = tuple(int(k) for k in index)
    return (index[1], index[0], *index[2:]) if len(index) == 4 else index


def index_text(part: str, index) -> str:
    """``"(0,1,2,2)"``: an element of trace part ``part`` (``"W"``, ``"dz"``…; no batch axis) as the
    learner reads it, filters in the written order ``w(m,n,i,j)``."""
    index = written_index(index) if part in FILTER_PARTS else tuple(int(k) for k in index)
    return "(" + ",".join(map(str, index)) + ")"
