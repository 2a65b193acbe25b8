"""A run's result as the Train tab shows it: one evaluation of one set of weights, with the images
it scored, so the text, the confusion matrix and the gallery of mistakes can never disagree."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class RunResult:
    """``evaluation``: a :class:`cnncore.training.Evaluation` (one pass over the held-out images);
    ``images`` ``(N, H, W)`` uint8 or ``(N, C, H, W)`` floats in [0, 1] and ``labels`` ``(N,)``: those
    images; ``epoch``: epochs finished when it was made; ``final``: made of the weights the run ended
    with (else of an epoch's, while the run goes on); ``model``: the model it belongs to
    (:attr:`Session.model_id`)."""
    evaluation: object = field(repr=False)
    images: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    epoch: int
    final: bool
    model: int

    def __post_init__(self):
        n = self.evaluation.count
        if len(self.images) != n or len(self.labels) != n:
            raise ValueError(f"the result scored {n} images, {len(self.images)} images and {len(self.labels)} "
                             "labels came with it")

    @property
    def mistakes(self) -> int:
        return len(self.evaluation.misclassified)

    def mistake(self, k: int) -> tuple[np.ndarray, int, int, int]:
        """Mistake ``k``: ``(image (C, H, W) float32 in [0, 1], true class, answer, held-out index)``."""
        e = self.evaluation
        i = int(e.misclassified[k])
        img = np.asarray(self.images[i])
        img = img.astype(np.float32) / 255 if img.dtype == np.uint8 else img.astype(np.float32)
        if img.ndim == 2:
            img = img[None]
        return img, int(self.labels[i]), int(e.predicted[k]), i
