"""The Look tab's painting of what a class or a filter wants to see (a dream, animated in a worker):
:class:`Dreaming`, a part of :class:`~cnnapp.views.inspect_view.InspectView`."""
from __future__ import annotations

from ..workers import FramesWorker, start_in_thread

__all__ = ["Dreaming"]


class Dreaming:
    """Start, stop and show the painting (the view's ``dream`` page, ``session``, ``_probe()`` and
    ``class_word()``; ``_dream_thread`` and ``_dream_worker`` while one goes on)."""

    def toggle_dream(self) -> None:
        if self._dream_thread is not None:
            self._dream_worker.stop()
            return
        probe = None if self._closed else self._probe()
        if probe is None:
            return
        goal = self.dream.goals[self.dream.goal.currentIndex()]
        self._dream_worker = worker = FramesWorker(lambda: probe.dream(goal, steps=240, every=3))
        model = self.session.model_id
        worker.frame.connect(lambda f: self._show_dream_frame(f, worker, model))
        self._dream_worker.failed.connect(self._on_failed)
        self._dream_thread = start_in_thread(self._dream_worker, self, "look-dream")
        self._dream_thread.finished.connect(self._on_dream_end)
        self.dream.dream_button.setText("Stop")
        what = self.class_word(goal.index) if goal.layer is None else goal.describe()     # a class by its name
        self.dream.dream_panel.title.setText(f"Painting for {what}")

    def _show_dream_frame(self, frame, worker, model) -> None:
        """A frame of the painting going on, unless it is of another network's (frames queued before
        another model was opened came after its page was cleared)."""
        if worker is self._dream_worker and model == self.session.model_id:
            self.dream.show_frame(frame)

    def _on_dream_end(self) -> None:
        if self._dream_thread is not None:
            self._dream_thread.deleteLater()
        self._dream_thread = self._dream_worker = None
        self.dream.dream_button.setText("Start")

    def dream_running(self) -> bool:
        return self._dream_thread is not None
