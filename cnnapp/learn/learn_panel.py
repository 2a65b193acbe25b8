"""The "Learn" tab: worked examples, concept checks, gradient check, identities.

The app gives it what it has with :meth:`LearnPanel.set_network` (the current
network, image and label, for the gradient check) and :meth:`LearnPanel.set_trace`
(a recorded backprop trace, for the identity view). Without them every sub-tab
still works on its own small example.
"""
from __future__ import annotations

from PySide6 import QtWidgets

from .examples_view import WorkedExamplesView
from .gradcheck_view import GradCheckView
from .identity_view import IdentityView
from .notation_view import NotationView
from .quiz_view import ConceptChecksView

__all__ = ["LearnPanel"]


class LearnPanel(QtWidgets.QWidget):
    """Sub-tabs: Worked examples, Concept checks, Gradient check, Identities, Notation (the legend)."""

    def __init__(self, parent=None, scores=None):
        super().__init__(parent)
        self.setObjectName("learnPanel")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setObjectName("learnTabs")
        self.tabs.setAccessibleName("Learn pages")
        self.examples = WorkedExamplesView()
        self.quiz = ConceptChecksView(scores=scores)     # the session's progress, when the window gives it
        self.gradcheck = GradCheckView()
        self.identities = IdentityView()
        self.notation = NotationView()
        self.tabs.addTab(self.examples, "Worked examples")
        self.tabs.addTab(self.quiz, "Concept checks")
        self.tabs.addTab(self.gradcheck, "Gradient check")
        self.tabs.addTab(self.identities, "Identities")
        self.tabs.addTab(self.notation, "Notation")
        lay.addWidget(self.tabs)
        # the identity view follows the multi-channel worked example as it is edited
        page = self.examples.page("multichannel")
        self.identities.set_example(page.example)
        page.changed.connect(self.identities.refresh)

    def set_network(self, net, image=None, label=None, source: str = "") -> None:
        """Check gradients of this network on this image ``(C, H, W)`` and true label."""
        self.gradcheck.set_network(net, image, label, source)

    def ask_about(self, step) -> bool:
        """Open the concept check that fits a backprop :class:`cnncore.trace.Step`; False if none."""
        if self.quiz.ask_about(step.kind, step.layer_type):
            self.tabs.setCurrentWidget(self.quiz)
            return True
        return False

    def set_trace(self, trace) -> None:
        """Offer the conv layers of a recorded trace in the identity view."""
        self.identities.set_trace(trace)
