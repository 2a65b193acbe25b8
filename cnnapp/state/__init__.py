"""What the views show, kept without Qt, all of it in one :class:`Session`: each object validates in
its setters and emits its events only when a value really changes (the model of napari's
``components``). A view takes the session in its ``__init__`` and binds its widgets to it; the
objects are tested without a display."""
from .classes import (a_class, a_digit, class_kind, classes_of, known_classes, other_dataset, plural, shown_classes,
                      spelled_notes)
from .drawing import Drawing
from .events import Event
from .picture import DRAWING, FILE, LESSON, MISTAKE, OPENED, ORIGINS, SAMPLE, SKETCH, Picture
from .lesson_player import LessonPlayer, lesson_pictures, results_path_for
from .lesson_recorder import LessonRecorder
from .result import RunResult
from .scores import Scores
from .session import Session
from .stepper import STEP_KINDS, StepKind, Stepper, step_kind
from .training_run import IDLE, PAUSED, RUNNING, RunStart, TrainingRun

__all__ = ["Drawing", "Event", "STEP_KINDS", "StepKind", "Stepper", "step_kind",
           "IDLE", "PAUSED", "RUNNING", "RunStart", "TrainingRun", "LessonPlayer", "LessonRecorder",
           "lesson_pictures", "results_path_for", "Session", "Picture", "RunResult", "Scores",
           "DRAWING", "FILE", "LESSON", "MISTAKE", "OPENED", "ORIGINS", "SAMPLE", "SKETCH",
           "a_class", "a_digit", "class_kind", "classes_of", "known_classes", "other_dataset", "plural",
           "shown_classes", "spelled_notes"]
