"""The sizes past which a file, a setting or an architecture is refused: one home for all of them.

Files are checked against these *before* anything is allocated or inflated, so a small
file that declares (or would expand to) gigabytes is refused with a message instead of
filling the memory. The app and the command line share them.
"""
from __future__ import annotations

__all__ = ["MAX_PARAMS", "MAX_LAYERS", "MAX_FIELD", "MAX_ACTIVATIONS", "MAX_ARCH_TEXT", "MAX_JSON_DEPTH",
           "MAX_INT_DIGITS", "MAX_HISTORY_TEXT", "MAX_TRAINED_ON", "MAX_OPTIMIZER_TEXT", "MAX_IDX_BYTES", "MAX_DRAWINGS", "MAX_PNG_BYTES",
           "MAX_PNG_SIDE", "MAX_PNG_PIXELS", "MAX_WORK", "MAX_PICTURE_BYTES", "MAX_BATCH_BYTES",
           "MAX_INFERENCE_BYTES", "MAX_DATA_BYTES", "MAX_EPOCHS", "MIN_LR", "MAX_LR", "max_shift", "pictures_problem",
           "size_text"]

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
#: Fingerprints of the pictures one network learnt from (:mod:`cnncore.learnt`; 8 bytes each: the
#: full MNIST's 60,000 training digits are 480 kB of a model file). A network that learnt from more
#: forgets which (its past is then not known).
MAX_TRAINED_ON = 4_000_000
#: Characters of a trace's ``optimizer`` entry (JSON: the rule's numbers and a sentence; ours are
#: a few hundred).
MAX_OPTIMIZER_TEXT = 16_000
#: Bytes of data in one IDX file once decompressed (the full MNIST training images are 47 MB).
MAX_IDX_BYTES = 1 << 30
#: Drawings in the user's drawings file (each is 784 bytes).
MAX_DRAWINGS = 200_000
#: Bytes of one PNG file, and its size in pixels.
MAX_PNG_BYTES = 64 << 20
MAX_PNG_SIDE = 10_000
MAX_PNG_PIXELS = 16_000_000

# ----------------------------------------------------------------------------- work and memory
# A network can pass every per-layer limit above and still be far too slow or too large as a
# whole (20 parameters: upsample ×74, an L2 pool of 1000×1000 windows, downsample 1000; or
# [upsample 74, downsample 74] 127 times). These bound the whole network, checked when it is
# built (cnncore.architecture) and, for a batch, when training starts (cnncore.training).

#: Work of one picture's forward pass (``Layer.work``): multiply-adds of the layers with weights
#: (a strided convolution's kernels compute every stride-1 position), and for the others every
#: value they read or write (a pool reads each window whole). The largest preset (wide) needs
#: 1.1 M, wide on 3×64×64 colour pictures 7 M. Past this one picture takes seconds (the L2-pool
#: kernel takes about 0.7 G of its steps a second on one core, a convolution 30 G) and a
#: training epoch hours; the 20-parameter network of issue 20 needed 10¹².
MAX_WORK = 1_000_000_000
#: Memory of one picture's training pass (``Layer.memory``, summed over the layers, counted in
#: float32): what the forward pass keeps and the backward pass makes. A trace holds about this
#: much and writes it to its file. The wide preset needs 0.7 MB, wide on 3×64×64 pictures 3.5 MB.
MAX_PICTURE_BYTES = 64 << 20
#: The same for a training batch: the batch size times the above, plus the epoch's short last
#: batch (each layer keeps its kernels' buffers for both sizes). The wide preset at the app's
#: largest batch (1024) with the worst last batch (1023) needs 1.4 GB by this count (the count is
#: a little above the measured peak: 0.9 GB there); lenet on 3×32×32 colour pictures fits 2,900
#: images, wide on 3×64×64 290. More would crowd out the data, the app and the rest of a laptop
#: with 8 GB.
MAX_BATCH_BYTES = 2 << 30
#: Memory for the pictures one prediction call runs at once (``Network.predict_proba`` cuts a
#: long list into batches that fit, counted as a training pass, which holds more).
MAX_INFERENCE_BYTES = 256 << 20
#: The training pictures as the network reads them (float32): 60,000 MNIST digits are 188 MB;
#: this admits 340,000 28×28 digits, or 87,000 3×32×32 colour pictures.
MAX_DATA_BYTES = 1 << 30

# ----------------------------------------------------------------------------- training settings

#: Epochs of one run (at a second an epoch, 10,000 are three hours; the app's box stops there too).
MAX_EPOCHS = 10_000
#: Learning rates a run, a trace's step or the app's boxes accept. Adam moves a weight by about
#: the rate each step, SGD by the rate times a gradient (mostly below 0.1): at 1e-5, 1,000 steps
#: move a weight by 0.01 at most, a tenth of a starting weight, already too little to see; a
#: smaller rate looks like a broken run (and 1e-320, a denormal, is computed 100 times more
#: slowly). From about 1 on, every network here diverges, which is worth showing (the diagnostics'
#: examples use up to 1,000, where the first steps overflow); more is a typo (at 1e308 the first
#: step overflows to inf whatever the gradient). The app's box shows 5 decimals.
MIN_LR = 1e-5
MAX_LR = 1000.0


def max_shift(height: int, width: int) -> int:
    """The largest random shift (pixels, ``--augment``) for pictures of ``height × width``: a
    shift by a whole side moves every pixel out of the picture."""
    return max(min(height, width) - 1, 0)


def pictures_problem(count: int, values: int, itemsize: int = 4) -> str | None:
    """Why ``count`` pictures of ``values`` numbers each do not fit :data:`MAX_DATA_BYTES` as the
    network reads them (floats of ``itemsize`` bytes), or None: asked before they are made or read."""
    per = max(values * itemsize, 1)
    if count * per <= MAX_DATA_BYTES:
        return None
    return (f"{count:,} pictures need {size_text(count * per)} as the network reads them ({per:,} bytes each), "
            f"more than the {size_text(MAX_DATA_BYTES)} allowed; use at most {MAX_DATA_BYTES // per:,}")


def size_text(nbytes: float) -> str:
    """``"1.5 GB"``, ``"64 MB"``, ``"12 kB"``: a memory figure for a message."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if nbytes >= size:
            value = nbytes / size
            return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"
    return f"{int(nbytes)} bytes"


# ----------------------------------------------------------------------------- lessons (cnncore.lesson)
# A lesson file (.cnnlesson) and a student's results file come from someone else: these bound
# what they may declare, checked from the zip's and the arrays' headers before anything is read.
__all__ += ["MAX_LESSON_STOPS", "MAX_LESSON_PICTURES", "MAX_LESSON_PICTURE_BYTES", "MAX_LESSON_TEXT",
            "MAX_NOTE_CHARS", "MAX_TITLE_CHARS", "MAX_QUESTION_CHARS", "MAX_CHOICES", "MAX_CHOICE_CHARS",
            "MAX_STUDENT_CHARS", "MAX_RESULTS_BYTES"]

#: Stops of one lesson: one stop per step of a 256-layer network's trace is 769; a class hour
#: holds a few dozen.
MAX_LESSON_STOPS = 1_000
#: Pictures one lesson carries, and their bytes together (64 colour pictures of 3×224×224 are
#: 9.6 MB; a digit is 784 bytes).
MAX_LESSON_PICTURES = 256
MAX_LESSON_PICTURE_BYTES = 64 << 20
#: Bytes of a lesson's text (``lesson.json``: the stops, notes and questions). A lesson of 100
#: stops with a page of notes each is about 300 kB.
MAX_LESSON_TEXT = 16 << 20
#: Characters of one teacher's note (Markdown): about ten pages.
MAX_NOTE_CHARS = 30_000
#: Characters of a lesson's title, of a question's text, of one of its choices; choices of a question.
MAX_TITLE_CHARS = 200
MAX_QUESTION_CHARS = 2_000
MAX_CHOICE_CHARS = 500
MAX_CHOICES = 12
#: Characters of a student's name, and bytes of a results file (a full lesson's answers are a
#: few hundred kB).
MAX_STUDENT_CHARS = 100
MAX_RESULTS_BYTES = 4 << 20


# ----------------------------------------------------------------------------- pictures (issue 23)
# Colour pictures and folders of the user's own pictures (cnncore.datasets.pictures), the CIFAR-10
# archive (cnncore.datasets.cifar). Kept in one block so the other limits can move around it. A folder's
# pictures as the network reads them are bounded by MAX_DATA_BYTES (pictures_problem) like every source's.

__all__ += ["MAX_PICTURE_FILE_BYTES", "MAX_PICTURE_DECODED_BYTES", "MAX_PICTURE_DECLARED_PIXELS", "MAX_FOLDER_PICTURES",
            "MAX_FOLDER_ENTRIES", "MAX_FOLDER_DEPTH", "MAX_CLASS_NAME", "MAX_CLASSES_TEXT"]

#: Bytes of one picture file (PNG, JPEG, BMP or WebP): a 48-megapixel phone JPEG is 10 to 25 MB.
MAX_PICTURE_FILE_BYTES = 128 << 20
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
#: Levels of subfolders read inside one class's folder.
MAX_FOLDER_DEPTH = 16
#: Characters of one class name (a folder's name is shortened to it).
MAX_CLASS_NAME = 40
#: Characters of the class names' entry of a model or trace file (JSON: ten names and their quotes).
MAX_CLASSES_TEXT = 2000
