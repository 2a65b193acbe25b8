"""The sizes past which a file, a setting or an architecture is refused: one home for all of them.

Files are checked against these *before* anything is allocated or inflated, so a small
file that declares (or would expand to) gigabytes is refused with a message instead of
filling the memory. The app and the command line share them.
"""
from __future__ import annotations

__all__ = ["MAX_PARAMS", "MAX_LAYERS", "MAX_FIELD", "MAX_ACTIVATIONS", "MAX_ARCH_TEXT", "MAX_JSON_DEPTH",
           "MAX_INT_DIGITS", "MAX_HISTORY_TEXT", "MAX_IDX_BYTES", "MAX_DRAWINGS", "MAX_PNG_BYTES",
           "MAX_PNG_SIDE", "MAX_PNG_PIXELS"]

#: Weights and biases of one network (20 M float32 = 80 MB, and Adam keeps two more copies).
MAX_PARAMS = 20_000_000
#: Layers in one architecture.
MAX_LAYERS = 256
#: The largest integer any architecture field (filters, units, kernel, stride, padding, size,
#: input sizes) may hold: Qt's spin boxes and the kernels take C ints.
MAX_FIELD = 2**31 - 1
#: Values one layer may produce for one image (a conv's maps, a dense layer's units), and
#: the size of the input (a batch of 32 such maps in float32 is 512 MB).
MAX_ACTIVATIONS = 4_000_000
#: Characters in an architecture's JSON text (ours are a few hundred).
MAX_ARCH_TEXT = 1_000_000
#: Nesting of an architecture's JSON (ours is 4 deep: object, layers, layer, [h, w]).
MAX_JSON_DEPTH = 16
#: Digits of one integer in an architecture's JSON.
MAX_INT_DIGITS = 30
#: Characters of a model's training history (JSON text).
MAX_HISTORY_TEXT = 16_000_000
#: Bytes of data in one IDX file once decompressed (the full MNIST training images are 47 MB).
MAX_IDX_BYTES = 1 << 30
#: Drawings in the user's drawings file (each is 784 bytes).
MAX_DRAWINGS = 200_000
#: Bytes of one PNG file, and its size in pixels.
MAX_PNG_BYTES = 64 << 20
MAX_PNG_SIDE = 10_000
MAX_PNG_PIXELS = 16_000_000
