"""The session: everything the window shows, in one object without Qt.

The current model (the network, where it came from, what it takes and the copy the window may run
while it trains), the drawing, the picture the Backprop and Look tabs look at, the training run
(and where the last one started) and its last consistent result, the trace, the step and the
element selected on it. Every tab renders from it and listens to
its events; none keeps a copy of its own. Setters validate, and an event fires only on a change.
Opening another model starts over: the result, the mistakes and the trace of the old one go, and
a picture that was one of its mistakes says so.

All of it is changed in the GUI thread (workers report there through Qt's queued signals), so the
events need no lock.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .classes import (a_class, class_kind, class_name, classes_of, known_classes, other_dataset, reads_digits,
                      shown_classes, spelled_notes)
from .drawing import Drawing
from .events import Event
from .picture import DRAWING, FILE, MISTAKE, OPENED, SAMPLE, Picture
from .result import RunResult
from .samples import SAMPLE_COUNT, SAMPLE_SEED, Samples, none_to_pick  # noqa: F401  (the seed: lessons)
from .scores import Scores
from .stepper import Stepper
from .training_run import RunStart, TrainingRun

#: Why the app picked a sample (:func:`cnncore.defaults.trace_example`), in its words.
_PICK_REASON = ", the one the network gets wrong or is least sure of"


#: Why the picture, its true class or the trace cannot change while a lesson's question waits.
HELD = "Answer the lesson's question first: until then the picture and its true class are the stop's"
#: What a view shows instead of the network's answer while a lesson's question waits.
HELD_NOTE = "<i>What the network says of it is shown after your answer to the lesson's question.</i>"


class Session:
    """What the window shows. Events (``Event``, each only on a change):

    * ``model_changed()``: another network (opened, built, the starter model): all of the old one is gone;
    * ``weights_changed()``: the same network with new weights (a run went on or ended);
    * ``training_changed(bool)``: a run started or ended (``run.phase_changed`` says pause too);
    * ``result_changed(RunResult | None)``, ``picture_changed(Picture | None)``,
      ``trace_changed(Trace | None)``;
    * ``element_changed((key, index) | None)``: the element selected on the step shown (a click on a
      map, a lesson's stop); another step or trace drops it;
    * ``lesson_changed(LessonPlayer | None)``: a lesson is followed now, or none (another model ends it);
    * ``held_changed(bool)``: :attr:`answer_held` changed (a stop's question waits, or was answered);
    * ``message(text, ms)``: something for the status bar, for ``ms`` ms (0: until the next).

    The drawing (:class:`Drawing`), the run (:class:`TrainingRun`) and the step (:class:`Stepper`)
    are objects of their own with their own events, and so are the learner's answers (:class:`Scores`).
    """

    def __init__(self) -> None:
        for name in ("model_changed", "weights_changed", "training_changed", "result_changed",
                     "picture_changed", "trace_changed", "element_changed", "lesson_changed", "held_changed",
                     "message"):
            setattr(self, name, Event())
        self.drawing = Drawing()
        self.run = TrainingRun()
        self.stepper = Stepper()
        self.scores = Scores()          # predict mode's score and the concept checks' progress
        self.samples = Samples()        # the pictures offered as samples (samples.changed: new ones)
        self.datasets: dict = {}        # name -> what was loaded or downloaded so far
        self.data_files: dict = {}      # source key -> the files picked for it ("idx": (images, labels))
        self._network = None
        self.source = ""                # e.g. "the starter model", "trained here", a file name
        self.is_starter = False         # the network is the starter model as shipped
        self.trained = False            # weights differ from a fresh initialisation
        self.unsaved = False            # trained here and not saved since
        self.model_file = None          # the model file the network was opened from or saved to (a Path)
        self.model_id = 0               # counts the models of this session
        #: Counts the weights the window has run (another model, a run's copy, the run's end): what a
        #: view computed for one count is stale at the next (training changes the network in place).
        self.weights_version = 0
        self._snapshot = None
        self._result = None
        self._picture = None
        self._drawing_wiped = False     # the drawing looked at was wiped: the next one is looked at
        self._drawing_class = None      # a drawing's class chosen for a network not of digits (the Backprop tab)
        self._sample_set = None         # the SampleSet a SAMPLE picture was taken from
        self._trace = self._trace_picture = None
        #: The trace shown was recorded during a run, with the weights it had then (they move on).
        self.trace_during_run = False
        self._element = None
        self._start = None              # RunStart of this model's last run
        self._start_before = None       # the one before it, while the run has made no update yet
        self._before_again = None       # what restore_start replaced, until a run updates the weights
        self.lesson = None              # the LessonPlayer a student follows (cnnapp.state.lesson_player)
        self._held = False              # answer_held as held_changed last said it
        self._was_training = False
        self.stepper.index_changed.connect(lambda k: self.select_element(None))
        self.run.phase_changed.connect(self._on_phase)
        self.drawing.finished.connect(self._follow_drawing)
        self.drawing.ink_changed.connect(self._follow_wiped_sheet)
        self.drawing.label_changed.connect(self._follow_drawing_label)
        self.samples.changed.connect(self._follow_samples)

    # ================================================================ the model
    @property
    def network(self):
        """The current :class:`cnncore.network.Network` (owned by the run while one goes on)."""
        return self._network

    @property
    def input_shape(self) -> tuple | None:
        """What the network takes, ``(C, H, W)``; None without a network."""
        return tuple(self._network.input_shape) if self._network is not None else None

    @property
    def takes_drawings(self) -> bool:
        """The network (or none yet) takes the Draw tab's sheet: grey 28×28 digits, read by MNIST's
        recipe. Else the tabs offer a picture of your own instead: so too for a grey 28×28 network that
        learnt a folder's pictures as they are (dark ink on white paper stays so), to which a drawing
        (light ink on black) meant nothing, and whose pictures the Look tab's sheet showed as negatives."""
        from cnncore.architecture import DIGIT_SHAPE
        net = self._network
        return net is None or (tuple(net.input_shape) == DIGIT_SHAPE and net.signature.fit == "digit")

    @property
    def classes(self) -> tuple[str, ...]:
        """The names of the network's classes (the digits, or what it learnt instead), as the screen shows
        them (:func:`~cnnapp.state.classes.shown_name`: a character no font draws is spelled)."""
        return shown_classes(self.view_network())

    def class_notes(self, *ks: int) -> str:
        """For a tooltip: which names of classes ``ks`` (all when none given) are spelled on this screen,
        and what they are ("" for none)."""
        names = classes_of(self.view_network())
        return spelled_notes(names[int(k)] for k in ks) if ks else spelled_notes(names)

    @property
    def class_kind(self) -> str:
        """"digit", or "class" for a network that learnt another data set."""
        return class_kind(self.view_network())

    @property
    def other_dataset(self) -> str:
        return other_dataset(self.view_network())

    def a_class(self, k: int) -> str:
        return a_class(self.view_network(), k)

    def class_name(self, k: int) -> str:
        """Output ``k``'s class by its name; "output 5 (no class)" for one no class uses."""
        return class_name(self.view_network(), k)

    def set_network(self, net, source: str, trained: bool, starter: bool = False, file=None,
                    unsaved: bool = False) -> None:
        """Use ``net`` from now on: a new model (opened from ``file``, a path, or None; ``unsaved``: one
        the learner has not saved, the last session's that was trained and not saved). Refused while a
        run goes on (it owns the network)."""
        if self.training:
            raise RuntimeError("a training run owns the network: stop it first")
        self.follow_lesson(None)                # a lesson's stops are about its own network
        self._drawing_class = None              # (a class chosen for the drawing was the old network's)
        self._network = net
        self.source, self.trained, self.is_starter, self.unsaved = str(source), bool(trained), bool(starter), unsaved
        self.model_file = file
        self.model_id += 1
        self.weights_version += 1
        self._snapshot = self._start = self._start_before = self._before_again = None
        # every field first, then the events: a listener sees the new model whole
        had_result, self._result = self._result is not None, None
        had_trace = self._drop_trace()
        old, self._picture = self._picture, self._picture_for_new_model()
        if had_result:
            self.result_changed.emit(None)
        if had_trace:
            self.trace_changed.emit(None)
        if self._picture is not old:
            self.picture_changed.emit(self._picture)
        self.model_changed.emit()

    def follow_lesson(self, player) -> None:
        """Follow ``player`` (a :class:`~cnnapp.state.lesson_player.LessonPlayer` that has begun), or no lesson."""
        if player is not self.lesson:
            if self.lesson is not None:
                self.lesson.changed.disconnect(self._follow_held)
            self.lesson = player
            if player is not None:
                player.changed.connect(self._follow_held)
            self.lesson_changed.emit(player)
            self._follow_held()

    def _follow_held(self) -> None:
        if self.answer_held != self._held:
            self._held = self.answer_held
            self.held_changed.emit(self._held)

    @property
    def known_classes(self) -> list[int]:
        """The outputs that are the network's classes (:func:`~cnnapp.state.classes.known_classes`)."""
        return known_classes(self.view_network())

    @property
    def answer_held(self) -> bool:
        """A lesson's question waits for the student: what the network says of the picture is shown
        nowhere yet, and its true class stays as the stop set it."""
        return self.lesson is not None and self.lesson.must_answer

    def mark_trained(self, source: str = "trained here") -> None:
        """The same network, trained here since it was set: no longer the starter model as shipped."""
        self.source, self.trained, self.unsaved, self.is_starter = source, True, True, False

    def mark_saved(self, file) -> None:
        """The network was saved to ``file`` (a path): nothing of it is unsaved now."""
        self.unsaved = False
        self.model_file = file

    def choose_files(self, key: str, files) -> None:
        """The user picked ``files`` for data source ``key`` (``"idx"``: ``(images, labels)``; ``"folder"``:
        the folder), as :func:`cnncore.datasets.load_labelled` takes them: what a run reads from it, and
        what nothing the app writes may replace (:meth:`kept_files`)."""
        from cnncore.datasets.sources import source
        source(key)
        self.data_files[key] = files

    def kept_files(self, model: bool = True) -> list:
        """The user's files the app reads, which nothing it writes may replace (the writer refuses
        them: :class:`cnncore.Output`): unless ``model`` is False (Save model replaces it on purpose),
        the model file the network came from; and every data source's files as the source names them
        (:func:`cnncore.datasets.source_files`): the drawings, the downloaded sets in the data folder,
        the IDX files or the folder of pictures picked in the Train tab."""
        from cnncore.datasets import SOURCES, source_files
        kept = [self.model_file] if model and self.model_file else []
        for s in SOURCES:
            fetched = self.datasets.get(f"{s.key}_paths")      # a download's files, where it put them
            files = self.data_files.get(s.key, tuple(fetched.values()) if fetched else None)
            kept += source_files(s.key, files=files)
        return kept

    def view_network(self):
        """The network the window may run: the run's copy while one goes on, else the network."""
        return self._snapshot if self.training and self._snapshot is not None else self._network

    def view_key(self) -> tuple:
        """What a view's picture of the network is computed from: ``(picture, model_id,
        weights_version)``. A view keeps the key of what it shows; another key means show it again."""
        return self._picture, self.model_id, self.weights_version

    # ================================================================== the run
    @property
    def training(self) -> bool:
        """The one answer to "is a run going on" (running or paused): the run's phase."""
        return self.run.active

    def start_run(self, seed: int = 0) -> None:
        """A run begins, shuffling with ``seed``: from now on the window runs a copy
        (:meth:`view_network`), and the weights it starts from are kept (:meth:`same_start`). Its epochs
        are numbered after those the network was trained for (:attr:`TrainingRun.first_epoch`)."""
        from cnncore.training import epochs_done
        if self._network is None:
            raise RuntimeError("there is no network to train")
        self._snapshot = self._network.copy()
        self._start_before, self._start = self._start, RunStart(self._network.copy(), int(seed), self.model_id)
        self.run.start(epochs_done(self._network.history))

    def same_start(self) -> RunStart | None:
        """Where this model's last run started (its weights and shuffle seed), or None. A run that made no
        update (it could not begin, or was stopped before its first batch) is no start to go back to: the
        one before it is (or none)."""
        return self._start if self._start is not None and self._start.model == self.model_id else None

    def restore_start(self) -> RunStart:
        """Put back the weights (history, optimizer state) the last run started from, so that the
        next run with :attr:`RunStart.seed` sees the same start and the same shuffles."""
        start = self.same_start()
        if start is None or self.training:
            raise RuntimeError("no run of this network to start again" if start is None
                               else "a training run owns the network: stop it first")
        net, old = self._network, start.network
        self._before_again = (net.copy(), self.source, self.trained, self.unsaved, self.is_starter, self._result)
        np.copyto(net.flat_params, old.flat_params)
        net.history = [dict(h) for h in old.history]
        net.trained_on = old.trained_on
        net.optimizer_state = old.copy().optimizer_state
        self.mark_trained()
        self._new_weights(True)
        return start

    def set_snapshot(self, net) -> None:
        """A copy of the weights the run has now (the window runs it)."""
        if self.training:
            self._snapshot = net
            self.weights_version += 1
            self.weights_changed.emit()

    def end_run(self, done: bool, changed_weights: bool) -> None:
        """The run ended (``done``: every batch ran); ``changed_weights``: it made updates."""
        self._snapshot = None
        if not changed_weights:
            self._start = self._start_before        # (nothing moved from this start: none to go back to)
        self._start_before = None
        if changed_weights:
            self.mark_trained()
        elif self._before_again is not None:
            self._put_back_before_again()
            changed_weights = True              # (back to the weights the tabs showed before)
        self._before_again = None
        self.run.finish(done=done)
        self._new_weights(changed_weights)

    def cancel_again(self) -> None:
        """A run from the same start that could not begin: the weights :meth:`restore_start` replaced come
        back (nothing when none was replaced)."""
        if self._before_again is not None:
            self._put_back_before_again()
            self._before_again = None
            self._new_weights(True)

    def _put_back_before_again(self) -> None:
        """A run from the same start that made no update: the weights it replaced come back, with their
        history, source and result (a stop before the first batch lost a trained, unsaved network)."""
        was, self.source, self.trained, self.unsaved, self.is_starter, self._result = self._before_again
        net = self._network
        np.copyto(net.flat_params, was.flat_params)
        net.history, net.trained_on = was.history, was.trained_on
        net.optimizer_state = was.optimizer_state
        self.result_changed.emit(self._result)

    def _new_weights(self, changed: bool) -> None:
        """The network's weights are no longer those the window last showed. A trace recorded with
        the old ones (the update it shows, its loss, the optimizer's state) is dropped when they
        ``changed``: the Backprop tab records the picture again with the weights there are now. A
        lesson's trace stays: it is made with the lesson's own model."""
        stale = changed and self.lesson is None and self._drop_trace()
        self.weights_version += 1
        self.weights_changed.emit()
        if stale:
            self.trace_changed.emit(None)
        if changed and self.lesson is None and self._picture is not None and self._picture.picked:
            self._pick_again()          # "the one it gets wrong or is least sure of" of these weights

    def _on_phase(self, phase: str) -> None:
        if self.training != self._was_training:
            self._was_training = self.training
            self.training_changed.emit(self.training)

    @property
    def result(self) -> RunResult | None:
        """The last consistent result of this model's run (an epoch's, or the run's end), or None."""
        return self._result

    def set_result(self, result: RunResult | None) -> None:
        if result is not None and result.model != self.model_id:
            return               # made for a model that is gone: nothing of it is shown
        if result is not self._result:
            self._result = result
            self.result_changed.emit(result)

    def result_of(self, evaluation, images, labels, epoch: int, final: bool) -> RunResult | None:
        """A :class:`RunResult` of this model (None without an evaluation)."""
        if evaluation is None or images is None:
            return None
        return RunResult(evaluation, images, labels, int(epoch), bool(final), self.model_id)

    # ============================================================== the picture
    @property
    def picture(self) -> Picture | None:
        """What the Backprop and Look tabs look at (None: not chosen yet)."""
        return self._picture

    def set_picture(self, picture: Picture | None) -> None:
        """Look at ``picture`` from now on; the trace of another picture goes. A true class the
        network has no use for (an output no class uses) is no true class: nobody gave one."""
        self._check_held(picture)
        if picture is not None:
            self._check_fits(picture)
            picture = self._known_label(picture)
        if picture is self._picture:
            return
        if picture is not None and not picture.picked:
            self._drawing_wiped = False     # another picture chosen: a drawing to come is not followed
        self._picture = picture
        if self._trace_picture is not picture and self._drop_trace():
            self.trace_changed.emit(None)
        self.picture_changed.emit(picture)

    def _check_fits(self, p: Picture) -> None:
        shape = self.input_shape
        if p.origin != FILE and shape is not None and p.shape != shape:
            raise ValueError(f"the network takes pictures of {' × '.join(map(str, shape))}, "
                             f"this one is {' × '.join(map(str, p.shape))}")
        if p.label is not None and p.label >= len(self.classes):
            raise ValueError(f"the network knows {len(self.classes)} classes, not a class {p.label}")

    def _check_held(self, picture) -> None:
        """``ValueError`` while a lesson's question waits, for any picture but the lesson's own: another
        one's trace would say what the network answers."""
        if self.answer_held and picture is not self._picture and not self.lesson.shows(picture):
            raise ValueError(HELD)

    def _known_label(self, p: Picture) -> Picture:
        """``p``, or ``p`` without its true class where that is an output no class uses (a drawing's
        7 for a network of cats and dogs, a digit's class carried to such a network)."""
        if p.label is not None and p.label not in self.known_classes:
            return replace(p, label=None)
        return p

    def set_label(self, label: int) -> None:
        """The picture's true class. A drawing's is the Draw tab's digit: it is chosen there too."""
        if self.answer_held:
            raise ValueError(HELD)
        p = self._picture or self.ensure_picture()
        label = int(label)
        if not 0 <= label < len(self.classes):
            raise ValueError(f"a true class is 0 to {len(self.classes) - 1}, not {label}")
        if label not in self.known_classes:
            raise ValueError(f"output {label} is one no class uses: a true class is one the network learnt")
        if p.origin == DRAWING and not reads_digits(self.view_network()):
            self._drawing_class = label             # the drawing's class for this network; the Draw tab's digit stays
            self.set_picture(p.with_label(label))
        elif p.origin == DRAWING:
            self.drawing.choose_label(label)        # the picture follows (_follow_drawing_label)
            if self._picture is not None and self._picture.label != label:
                self.set_picture(self._picture.with_label(label))
        elif p.label != label:      # (a class the learner gave: the picture is theirs, not the app's pick)
            self.set_picture(replace(p, label=label, picked=False, what=p.what.removesuffix(_PICK_REASON)))

    def true_label(self, picture: Picture | None = None) -> int:
        """The picture's true class; for one nobody labelled, the network's answer."""
        p = picture or self._picture
        if p is None:
            raise ValueError("there is no picture")
        if p.label is not None:
            return p.label
        net = self.view_network()
        if net is None:
            return 0
        known = known_classes(net)              # its answer among its classes
        return known[int(np.argmax(net.predict_proba(net.one_image(p.image))[0][known]))]

    def drawing_picture(self) -> Picture | None:
        """The Draw tab's drawing as a picture (the digit chosen for it its class), or None for an empty sheet."""
        image = self.drawing.image()
        return None if image is None else Picture(DRAWING, image, self._drawing_label(), what="your drawing")

    def _drawing_label(self) -> int | None:
        """The drawing's true class: for a network of digits the Draw tab's digit once the learner chose
        it (before, the box shows the network's guess, which is no truth: a scribbled X is no 4); for
        another (of clothes, of a folder's classes) the class chosen for it on the Backprop tab; else none."""
        if reads_digits(self.view_network()):
            return self.drawing.label if self.drawing.label_chosen else None
        return self._drawing_class

    def drawing_class_chosen(self) -> bool:
        """Whether the drawing's true class was chosen (not the network's guess at it)."""
        return self.drawing.label_chosen if reads_digits(self.view_network()) else self._drawing_class is not None

    def take_drawing(self) -> Picture:
        """Look at the Draw tab's drawing (and follow it as it changes)."""
        p = self.drawing_picture()
        if p is None:
            raise ValueError("The Draw tab's sheet is empty: draw a digit there first.")
        self.set_picture(p)
        return p

    def sample_set(self):
        """``(X, y, name)``: labelled pictures to pick samples from (:class:`~cnnapp.state.samples.Samples`):
        the held-out pictures of the last run when the network takes them, else generated digits for a
        digit network (none for any other: ``X`` is empty)."""
        got = self.samples.for_network(self.view_network())
        return got.X, got.y, got.name

    def take_sample(self, i: int, picked: bool = False) -> Picture:
        """Look at sample ``i`` of :meth:`sample_set` (its label is its true class); ``ValueError``
        when there are none."""
        got = self.samples.for_network(self.view_network())
        X, y = got.X, got.y
        if not len(X):
            raise ValueError(none_to_pick(self.view_network()))
        i = int(i) % len(X)
        img = _pixels(X[i])
        what = f"sample {i} of the {got.name}" + (_PICK_REASON if picked else "")
        p = Picture(SAMPLE, img, int(y[i]), index=i, what=what, picked=picked)
        before, self._sample_set = self._sample_set, got      # (set before the picture's event)
        try:
            self.set_picture(p)
        except ValueError:
            self._sample_set = before
            raise
        return p

    def _follow_samples(self) -> None:
        """A run's new held-out pictures: a sample of the set they replace is taken again from the new
        one (the app's pick picked again, the learner's number kept), so that its number and words stay
        true (sample 29 is the new set's 29, not the old set's under the new set's name)."""
        p, got = self._picture, self.samples.for_network(self.view_network())
        if p is None or p.origin != SAMPLE or self.lesson is not None or got is self._sample_set:
            return
        if p.picked:
            self._pick_again()
        elif len(got.X):
            self._retake(got, min(p.index, len(got.X) - 1), False)     # (as the sample box keeps it in range)

    def _pick_again(self) -> None:
        """Pick the sample the network in view gets wrong or is least sure of (none: nothing changes)."""
        net = self.view_network()
        got = self.samples.for_network(net)
        if net is None or not len(got.X):
            return
        from cnncore.defaults import trace_example
        try:
            i = trace_example(net, got.X, got.y)
        except Exception as e:  # noqa: BLE001 - the picture stays as it was, and the window says why
            self.say(f"Could not pick a sample again: {e}")
            return
        self._retake(got, i, True)

    def _retake(self, got, i: int, picked: bool) -> None:
        """Look at sample ``i`` of the set ``got``, unless the picture is that one already (the same split
        again: its trace stays); a failure is said, and the picture stays as it was."""
        p = self._picture
        if p is not None and p.origin == SAMPLE and p.picked == picked and p.index == i and got.name in p.what \
                and int(got.y[i]) == p.label and np.array_equal(_pixels(got.X[i]), p.image):
            self._sample_set = got
            return
        try:
            self.take_sample(i, picked=picked)
        except Exception as e:  # noqa: BLE001
            self.say(f"Could not take sample {i} of the {got.name}: {e}")

    def take_opened(self, read, what: str) -> Picture:
        """Look at a picture of the user's own, ``read(signature)`` bringing it to the network's input
        by the network's rule and saying how (:func:`cnncore.datasets.pictures.fitted_input` of a file,
        or ``fitted_bytes_input`` of the clipboard's bytes: the input and its
        :class:`~cnncore.datasets.pictures.Fitting`); ``ValueError`` (a ``PictureError``) says why it
        cannot be used."""
        net = self.view_network()
        if net is None:
            raise ValueError("there is no network to show a picture to")
        x, how = read(net.signature)
        p = Picture(OPENED, x, None, what=what, how=how.words())
        self.set_picture(p)
        return p

    def take_mistake(self, k: int) -> Picture:
        """Look at mistake ``k`` of the result (a held-out image the network got wrong)."""
        r = self._result
        if r is None or not 0 <= k < r.mistakes:
            raise ValueError("there is no such mistake in the last result")
        img, true, answer, i = r.mistake(k)
        when = "at the end of the run" if r.final else f"after epoch {r.epoch}"
        what = f"a held-out {self.class_kind} the network got wrong {when} (it answered {self.class_name(answer)})"
        p = Picture(MISTAKE, img, true, index=i, what=what)
        self.set_picture(p)
        return p

    def nothing_to_pick(self) -> str | None:
        """Why there is no picture to look at and none to pick (none chosen, no samples: a colour
        network before a run here), in one sentence saying what to do; None when there is one."""
        net = self.view_network()
        if self._picture is not None or net is None or len(self.sample_set()[0]):
            return None
        return none_to_pick(net)

    def ensure_picture(self) -> Picture:
        """The picture; when none is chosen, the sample the network gets wrong or is least sure of."""
        if self._picture is not None:
            return self._picture
        net = self.view_network()
        if net is None:
            raise ValueError("There is no network yet.")
        why = self.nothing_to_pick()
        if why:
            raise ValueError(why)
        X, y, _ = self.sample_set()
        from cnncore.defaults import trace_example
        return self.take_sample(trace_example(net, X, y), picked=True)

    def _follow_drawing(self) -> None:
        """The drawing looked at follows the sheet; so does one wiped and drawn again (or undone)."""
        p = self._picture
        wiped = self._drawing_wiped and (p is None or p.picked)
        if (p is not None and p.origin == DRAWING or wiped) and not self.drawing.is_empty():
            self._drawing_wiped = False
            try:
                self.take_drawing()
            except Exception as e:  # noqa: BLE001 - preprocessing failed: the old picture stays
                self.say(f"Could not prepare the drawing: {e}")

    def _follow_wiped_sheet(self) -> None:
        """The sheet wiped (Clear, or undone to nothing): the drawing looked at is gone, and so is its
        trace (the Backprop tab traced the erased drawing, and took a digit chosen on the empty sheet
        as its true class), and the class chosen for it."""
        if not self.drawing.is_empty():
            return
        self._drawing_class = None
        if self._picture is not None and self._picture.origin == DRAWING:
            self.set_picture(None)
            self._drawing_wiped = True      # (the next drawing, or Undo, is looked at again)

    def _follow_drawing_label(self, label: int) -> None:
        p = self._picture
        if p is not None and p.origin == DRAWING and p.label != self._drawing_label():
            self.set_picture(p.with_label(self._drawing_label()))

    def _picture_for_new_model(self) -> Picture | None:
        """The picture for a new model: one the app picked is picked again, a mistake of the old model
        says whose it was, one the new model cannot take goes."""
        p = self._picture
        if p is None or p.picked:
            return None
        if p.origin == DRAWING:         # the drawing as the new network takes it (its class, or none)
            try:
                p = self.drawing_picture()
            except ValueError:
                return None
            if p is None:
                return None
        if p.origin == MISTAKE:
            p = Picture(MISTAKE, p.image, p.label, p.index,
                        p.what.replace("the network got wrong", "the previous network got wrong"))
        try:
            self._check_fits(p)
        except ValueError:
            return None
        return self._known_label(p)

    def checked_input(self):
        """What the Learn tab's checks run on: ``(image (C, H, W), true class, words)``: the trace's
        input when the trace is of this network, else the picture (picked when none is chosen)."""
        net, tr = self.view_network(), self._trace
        if tr is not None and net is not None and tr.spec == net.spec:
            return np.asarray(tr.arrays["input"])[0], tr.label, f"the Backprop tab's input, {self._trace_picture.what}"
        p = self.ensure_picture()
        if p.shape != tuple(net.input_shape):
            raise ValueError(f"the picture ({p.what}) is not of the size this network takes")
        return p.image, self.true_label(p), p.what

    # ================================================================ the trace
    @property
    def trace(self):
        """The recorded pass of :attr:`trace_picture` (a :class:`cnncore.trace.Trace`), or None."""
        return self._trace

    @property
    def trace_picture(self) -> Picture | None:
        return self._trace_picture

    def trace_classes(self) -> tuple[str, ...]:
        """The names of the shown trace's outputs: the network's classes; for a trace opened from a file,
        those it names (the digits where it names none), in the network's words where they are the same."""
        tr = self._trace
        if tr is None:
            return ()
        if self._trace_picture.origin == FILE and tr.classes != tuple(self.classes):
            return tr.classes
        return self.classes

    def record(self):
        """Trace the picture (chosen, else picked) with the network the window may run."""
        net = self.view_network()
        if net is None:
            raise ValueError("There is no network to trace.")
        p = self.ensure_picture()
        if p.shape != tuple(net.input_shape):
            raise ValueError(f"the network takes pictures of {' × '.join(map(str, net.input_shape))}, "
                             f"this one is {' × '.join(map(str, p.shape))}")
        from cnncore.trace import trace
        tr = trace(net, p.image, self.true_label(p))
        self.show_trace(tr, p, during_run=self.training)
        return tr

    def open_trace(self, tr, name: str) -> None:
        """Show a trace read from a file (recorded with its own network): its input is the picture."""
        p = Picture(FILE, np.asarray(tr.arrays["input"])[0], tr.label, what=f"the file {name}")
        self._check_held(p)
        self._picture = p
        self.show_trace(tr, p)
        self.picture_changed.emit(p)

    def show_trace(self, tr, picture: Picture, during_run: bool = False) -> None:
        """Show ``tr``, the trace of ``picture`` (the session's picture), from its first step;
        ``during_run``: recorded with the weights a run had then (:attr:`trace_during_run`)."""
        self.stepper.playing = False
        self._trace, self._trace_picture = tr, picture
        self.trace_during_run = during_run
        self.trace_changed.emit(tr)
        self.stepper.load(len(tr.steps))         # (a new step drops the element selected)

    @property
    def element(self) -> tuple | None:
        """``(key, index)`` of the element selected on the step shown (``index`` the full index,
        batch axis included), or None."""
        return self._element

    def select_element(self, key: str | None, index=()) -> None:
        """Select ``trace.arrays[key][index]`` (None: nothing); ``ValueError`` when the trace has no such element."""
        el = None
        if key is not None:
            arr = self._trace.arrays.get(key) if self._trace is not None else None
            index = tuple(int(i) for i in index)
            if arr is None or len(index) != np.ndim(arr) or not all(0 <= i < n for i, n in zip(index, np.shape(arr))):
                raise ValueError(f"the trace has no element {key}{list(index)}")
            el = (key, index)
        if el != self._element:
            self._element = el
            self.element_changed.emit(el)

    def _drop_trace(self) -> bool:
        """Forget the trace (the caller says so, once the session is whole again); True if there was one."""
        if self._trace is None:
            return False
        self.stepper.playing = False
        self._trace = self._trace_picture = None
        self.stepper.load(0)
        return True

    # ============================================================== messages
    def say(self, text: str, ms: int = 6000) -> None:
        self.message.emit(str(text), int(ms))


def _pixels(x) -> np.ndarray:
    """A sample as the tabs look at it: float32, levels 0-255 scaled to [0, 1]."""
    x = np.asarray(x)
    return x.astype(np.float32) / 255 if x.dtype == np.uint8 else x.astype(np.float32)
