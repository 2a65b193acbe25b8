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
