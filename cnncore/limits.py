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


# ----------------------------------------------------------------------------- pictures (issue 23)
# Colour pictures and folders of the user's own pictures (cnncore.datasets.pictures), the CIFAR-10
# archive (cnncore.datasets.cifar). Kept in one block so the other limits can move around it.

__all__ += ["MAX_PICTURE_BYTES", "MAX_PICTURE_DECODED_BYTES", "MAX_PICTURE_DECLARED_PIXELS", "MAX_FOLDER_PICTURES",
            "MAX_FOLDER_ENTRIES", "MAX_FOLDER_BYTES", "MAX_FOLDER_DEPTH", "MAX_CLASS_NAME"]

#: Bytes of one picture file (PNG, JPEG, BMP or WebP): a 48-megapixel phone JPEG is 10 to 25 MB.
MAX_PICTURE_BYTES = 128 << 20
#: Memory one picture may take once decoded, counted as 4 bytes a pixel after a JPEG was decoded
#: at a reduced scale (Pillow's draft mode: a 48-megapixel photo decodes at 1/8 of each side for
#: a 32×32 input). The limit is on this memory, not on the file's pixels: a 20,000×20,000 PNG
#: (1.6 GB) is refused, a 48-megapixel PNG (192 MB) opens.
MAX_PICTURE_DECODED_BYTES = 256 << 20
#: Pixels a picture's header may declare at all: Pillow's decompression-bomb bound while we open a
#: picture (its own default, 179 megapixels, would refuse a 200-megapixel phone JPEG that decodes
#: in 3 MB at 1/8 scale).
MAX_PICTURE_DECLARED_PIXELS = 1 << 30
#: Picture files in one folder of pictures (the whole CIFAR-10 as files is 60,000).
MAX_FOLDER_PICTURES = 250_000
#: Entries (files and folders of every kind) listed in a folder of pictures before giving up.
MAX_FOLDER_ENTRIES = 1_000_000
#: Bytes of a folder's pictures at the model's input size, 1 byte a value (60,000 of 3×32×32: 184 MB).
MAX_FOLDER_BYTES = 2 << 30
#: Levels of subfolders read inside one class's folder.
MAX_FOLDER_DEPTH = 16
#: Characters of one class name (a folder's name is shortened to it).
MAX_CLASS_NAME = 40
