"""What the views show, kept without Qt: each object validates in its setters and emits its events
only when a value really changes (the model of napari's ``components``). A view takes one in its
``__init__`` and binds its widgets to it; the objects are tested without a display."""
from .drawing import Drawing
from .events import Event
from .stepper import STEP_KINDS, StepKind, Stepper, step_kind
from .training_run import IDLE, PAUSED, RUNNING, TrainingRun

__all__ = ["Drawing", "Event", "STEP_KINDS", "StepKind", "Stepper", "step_kind",
           "IDLE", "PAUSED", "RUNNING", "TrainingRun"]
