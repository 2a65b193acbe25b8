"""A teacher recording a lesson in the app, without Qt: stops captured from the session as the teacher
moves through the app (the tab, the picture, the trace step, the selected element), notes and
questions edited in place, the lesson written through :func:`cnncore.lesson.save_lesson`.

A lesson holds one network: the one in use at the first stop. A stop captured after it changed
(another model, a run that went on) is refused, saying so. A lesson opened to be edited
(:meth:`LessonRecorder.from_lesson`) is put into the session as a student's would be, its stops kept.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from cnncore.lesson import TABS, ChoiceQuestion, Element, Lesson, PredictQuestion, Source, Stop, save_lesson
from cnncore.lesson.stops import check_stop
from cnncore.predict import KINDS, element_key, kinds_for, question_at, why_not_asked

from .events import Event
from .lesson_player import lesson_pictures
from .picture import DRAWING, LESSON, SAMPLE

__all__ = ["LessonRecorder", "choice_question", "choice_lines"]


class LessonRecorder:
    """The lesson being recorded from ``session``: ``stops`` (:class:`cnncore.lesson.Stop`), the
    pictures they look at, the network, ``title``. Every edit is checked as the lesson file will
    be (``ValueError``, one line, and nothing changes). Event ``changed()`` after every edit;
    ``unsaved``: an edit since it was opened or last saved; ``file``: the file it was opened from or last
    saved to (None: not saved yet), where Save writes it."""

    def __init__(self, session, title: str = ""):
        self.session = session
        self.title = title
        self.stops: list[Stop] = []
        self.model = None               # a copy of the network at the first stop
        self._model_id = None
        self._pictures: list = []       # (session Picture, uint8 (C, H, W), label, index in its data set)
        self._traces: dict = {}
        self._source = None             # the source of a lesson opened to be edited
        self.changed = Event()
        self.unsaved = False
        self.file = None
        self._handed_out = None         # the id of the lesson ``file`` held when it was opened to be edited
        self.changed.connect(self._edited)

    def _edited(self) -> None:
        self.unsaved = True

    @classmethod
    def from_lesson(cls, session, lesson) -> "LessonRecorder":
        """Edit ``lesson``: its model and first picture put into the session (a new session), its stops kept."""
        rec = cls(session, lesson.title)
        session.set_network(lesson.model.copy(), f"the lesson {lesson.title or 'being edited'}", trained=True)
        rec.model, rec._model_id = lesson.model.copy(), session.model_id
        for p, x, y, i in zip(lesson_pictures(lesson), lesson.pictures, lesson.labels, lesson.source.indices):
            rec._pictures.append((p, np.array(x), int(y), i))
        rec.stops = list(lesson.stops)
        rec._source = lesson.source
        rec.file, rec._handed_out = lesson.file, lesson.id
        session.set_picture(rec._pictures[0][0])
        return rec

    # ------------------------------------------------------------- capturing
    def capture(self, tab: str, page: str = "") -> int:
        """A stop of what the session shows now on ``tab`` (one of :data:`cnncore.lesson.TABS`; its
        ``page``, :data:`cnncore.lesson.PAGES`): the traced picture (or the picture), the step, the
        selected element when it is on that step's maps. Returns its index; ``ValueError`` when the
        network is not the lesson's."""
        if tab not in TABS:
            raise ValueError(f"a stop's tab is one of {', '.join(TABS)}, not {tab!r}")
        s = self.session
        if s.training:      # (the weights move under the stop: it would keep others than those shown)
            raise ValueError("a run is going on: a stop keeps the weights it shows, so stop or finish the run "
                             "first")
        net = s.view_network()
        if net is None:
            raise ValueError("there is no network to make a lesson of")
        self._check_network(net)
        p, drawn = self._shown_picture(tab)
        if p.shape != tuple(net.input_shape):
            raise ValueError(f"the picture ({p.what}) is not one this network takes")
        if p.label is None or (p.origin == DRAWING and not s.drawing_class_chosen()):
            # (the network's own answer, or its guess at a drawing, would be "right" for every student)
            where = "the Draw tab's digit, or the Backprop tab's true class" if p.origin == DRAWING else \
                "the Backprop tab's true class"
            shown = "" if p.origin == DRAWING else (
                f"; the box shows the network's answer, {s.class_name(s.true_label(p))}, until you choose (choose "
                "it again if it is right)")
            raise ValueError(f"{p.what} has no true class yet: choose it ({where}) and add the stop again{shown}")
        if drawn:                          # (only now: a refused stop changes nothing)
            p = s.take_drawing()
        picture = self._picture_index(p)
        steps = self._lesson_steps()
        traced = s.trace is not None and s.trace_picture is p
        step = min(s.stepper.index, len(steps) - 1) if traced else 0
        element = None
        if traced and s.element is not None and s.element[0] in steps[step].maps:
            element = Element(*s.element)
        self.stops.append(Stop(tab, picture, step, "", element, page=page))
        self.changed.emit()
        return len(self.stops) - 1

    def _shown_picture(self, tab: str):
        """``(picture, drawn)``: the picture the window shows on ``tab``, the traced one (or the
        session's); on the Draw tab the sheet's drawing, ``drawn`` where it is not the session's
        picture yet (the stop makes it so, as the Backprop tab follows a drawing)."""
        s = self.session
        shown = s.trace_picture if s.trace is not None else s.ensure_picture()
        sheet = s.drawing_picture() if tab == "draw" and s.takes_drawings else None
        if sheet is None:
            return shown, False
        same = shown.origin == DRAWING and shown.label == sheet.label and np.array_equal(shown.image, sheet.image)
        return (shown, False) if same else (sheet, True)

    def _check_network(self, net) -> None:
        if self.model is None:
            self.model, self._model_id = net.copy(), self.session.model_id
            return
        if self._model_id != self.session.model_id or self.model.spec != net.spec or \
                not np.array_equal(self.model.flat_params, net.flat_params):
            raise ValueError("the network changed since the first stop, and a lesson holds one network: save "
                             "this lesson first, or record a new one")

    def _picture_index(self, p) -> int:
        for k, (q, *_rest) in enumerate(self._pictures):
            if q is p:
                return k
        x = np.clip(np.round(np.asarray(p.image) * 255), 0, 255).astype(np.uint8)
        label = int(p.label)
        for k, (_, y, lab, _i) in enumerate(self._pictures):
            if lab == label and np.array_equal(x, y):
                return k
        self._pictures.append((p, x, label, p.index if p.origin in (SAMPLE, LESSON) else None))
        return len(self._pictures) - 1

    def _lesson_steps(self) -> list:
        """The steps of a trace through the lesson's network (made once)."""
        if getattr(self, "_steps_of", None) is not self.model:
            from cnncore.trace import build_steps
            self._steps, self._steps_of = build_steps(self.model.spec), self.model
        return self._steps

    # ---------------------------------------------------------------- editing
    def set_title(self, title: str) -> None:
        from cnncore.lesson.stops import check_text
        from cnncore.limits import MAX_TITLE_CHARS
        title = check_text(title, "the title", MAX_TITLE_CHARS)
        if title != self.title:               # (the same title again is no change to save)
            self.title = title
            self.changed.emit()

    def set_note(self, k: int, note: str) -> None:
        """Stop ``k``'s note (Markdown)."""
        self._edit(k, note=note)

    def set_question(self, k: int, question) -> None:
        """Stop ``k``'s question: None, a :class:`PredictQuestion` (about the stop's element: checked to
        make a fair question on its picture) or a :class:`ChoiceQuestion`."""
        self._edit(k, question=question)

    def predict_kinds(self, k: int) -> list[tuple[str, str]]:
        """``(kind, words)`` of the predict questions stop ``k``'s element can be asked about."""
        stop = self.stops[k]
        if stop.element is None:
            return []
        step = self._lesson_steps()[stop.step]
        return [(kind, KINDS[kind].words) for kind in kinds_for(step) if element_key(step, kind) == stop.element.key]

    def line(self, k: int) -> str:
        """Stop ``k`` in one line, as ``cnnapp lesson show`` writes it."""
        from cnncore.lesson.make import stop_line
        return stop_line(k, self.stops[k], self._lesson_steps(), [y for _, _, y, _ in self._pictures],
                         self.model.classes)

    def remove(self, k: int) -> None:
        del self.stops[k]
        self.changed.emit()

    def move(self, k: int, by: int) -> int:
        """Move stop ``k`` ``by`` places (clamped); returns where it is now."""
        to = max(0, min(len(self.stops) - 1, k + by))
        if to != k:
            self.stops.insert(to, self.stops.pop(k))
            self.changed.emit()
        return to

    def _edit(self, k: int, **changes) -> None:
        stop = replace(self.stops[k], **changes)          # the stop checks its own fields
        from cnncore.trace import expected_shapes
        check_stop(stop, k, self._lesson_steps(), expected_shapes(self.model.spec), len(self._pictures))
        if isinstance(stop.question, PredictQuestion) and self._asked(stop) is None:
            why = why_not_asked(self._traces[stop.picture], stop.step, stop.question.kind, stop.element.index)
            raise ValueError(f"{stop.element} makes no fair {KINDS[stop.question.kind].words!r} question on "
                             f"this picture: {why}; select another element")
        if self.stops[k] != stop:
            self.stops[k] = stop
            self.changed.emit()

    def _asked(self, stop: Stop):
        from cnncore.trace import trace
        if stop.picture not in self._traces:
            _, x, y, _ = self._pictures[stop.picture]
            self._traces[stop.picture] = trace(self.model, x, y)
        return question_at(self._traces[stop.picture], stop.step, stop.question.kind, stop.element.index)

    # ------------------------------------------------------------------ saving
    def lesson(self) -> Lesson:
        """The lesson recorded so far (``ValueError`` before the first stop)."""
        if not self.stops:
            raise ValueError("the lesson has no stops yet: add one (F9) where the class should look")
        X = np.stack([x for _, x, _, _ in self._pictures])
        labels = [y for _, _, y, _ in self._pictures]
        source = self._make_source()
        return Lesson(self.model, X, labels, self.stops, source, self.title)

    def _make_source(self) -> Source:
        indices = tuple(i for *_, i in self._pictures)
        if self._source is not None:
            return Source(self._source.key, self._source.seed, indices)
        from .session import SAMPLE_SEED
        X, _, name = self.session.sample_set()
        generated = name == "generated digits"
        return Source("generated" if generated else name[:40] or "app", SAMPLE_SEED if generated else 0, indices)

    def replaces_handed_out(self, path) -> bool:
        """Whether saving to ``path`` writes a changed lesson over the one its file held when it was opened
        to be edited: students who answered that version have their answers read with it only (a changed
        lesson is another version)."""
        if self._handed_out is None or not self._is_file(path):
            return False
        try:
            return self.lesson().id != self._handed_out
        except ValueError:       # (a lesson that cannot be saved: the save says why)
            return False

    def _is_file(self, path) -> bool:
        return self.file is not None and Path(path).resolve() == Path(self.file).resolve()

    def save(self, path):
        """Write the lesson to ``path`` (never over the files the app reads: the model file, the
        drawings), which Save writes to from now on; returns the path. ``ValueError`` or ``OSError``
        with the reason (nothing written)."""
        from cnncore import Output
        lesson = self.lesson()
        written = save_lesson(Output(path, self.session.kept_files()), lesson)
        if not (self._is_file(written) and lesson.id == self._handed_out):
            self._handed_out = None     # (saved as it was handed out: still asked before a change goes over it)
        self.file, self.unsaved = Path(written), False
        return written


def choice_question(text: str, lines: str) -> ChoiceQuestion:
    """The teacher's multiple choice from its ``text`` and its choices, one per line, the right ones
    starting with ``*`` (``"* conv\\nmaxpool\\n* dense"``); ``ValueError`` saying what is missing."""
    choices, right = [], []
    for line in lines.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("*"):
            right.append(len(choices))
            line = line[1:].strip()
        choices.append(line)
    if not right:
        raise ValueError("mark the right choices with a * at the start of their line")
    return ChoiceQuestion(text.strip(), tuple(choices), tuple(right))


def choice_lines(q: ChoiceQuestion) -> str:
    """The lines :func:`choice_question` reads back into ``q``."""
    return "\n".join(("* " if k in q.right else "") + c for k, c in enumerate(q.choices))
