"""The app's Qt-free state objects (cnnapp.state), tested without Qt or a display."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnapp.state import IDLE, PAUSED, RUNNING, STEP_KINDS, Drawing, Event, Stepper, TrainingRun, step_kind

ROOT = Path(__file__).resolve().parents[1]


def _recorder(event):
    seen = []
    event.connect(lambda *a: seen.append(a[0] if len(a) == 1 else a))
    return seen


def test_the_state_package_imports_no_qt():
    code = ("import sys, cnnapp.state; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_event_calls_each_callback_once_in_order_and_disconnects():
    ev, calls = Event(), []
    first, second = (lambda x: calls.append(("a", x))), (lambda x: calls.append(("b", x)))
    ev.connect(first)
    ev.connect(second)
    ev.connect(first)                       # connecting twice calls once
    ev.emit(1)
    ev.disconnect(first)
    ev.emit(2)
    assert calls == [("a", 1), ("b", 1), ("b", 2)]


# ------------------------------------------------------------------ stepper
def test_stepper_index_is_clamped_and_announced_only_on_change():
    s = Stepper()
    seen = _recorder(s.index_changed)
    s.load(5)
    assert seen == [0]                      # a new sequence always shows its first step
    s.index = 3
    s.index = 3                             # no change, no event
    s.index = 99
    s.index = -4
    assert seen == [0, 3, 4, 0] and s.index == 0
    s.last()
    s.prev()
    assert s.index == 3 and s.can_go_on()
    s.first()
    assert s.index == 0 and not s.can_go_back()


def test_stepper_with_no_steps_stays_at_zero_and_never_plays():
    s = Stepper()
    s.load(0)
    s.index = 3
    s.toggle_play()
    s.playing = True
    assert (s.index, s.playing, s.can_go_back(), s.can_go_on()) == (0, False, False, False)
    with pytest.raises(ValueError):
        s.load(-1)


def test_stepper_play_stops_at_the_last_step_and_restarts_from_the_first():
    s = Stepper()
    playing = _recorder(s.playing_changed)
    s.load(3)
    s.toggle_play()
    s.next()
    s.next()
    assert s.index == 2 and s.playing
    s.next()                                # at the end: playing stops, the index stays
    assert s.index == 2 and not s.playing
    s.toggle_play()                         # from the end, play starts again at the first step
    assert s.index == 0 and s.playing
    s.load(4)                               # a new trace stops playing
    assert playing == [True, False, True, False] and not s.playing


def test_stepper_speed_in_quarter_steps_between_a_quarter_and_five():
    s = Stepper()
    seen = _recorder(s.speed_changed)
    s.speed = 2.1
    s.speed = 2.0                           # the same after rounding: no event
    s.speed = 100
    s.speed = 0
    assert seen == [2.0, 5.0, 0.25]
    assert s.interval_ms == 4000
    s.speed = 4
    assert s.interval_ms == 250
    with pytest.raises(ValueError):
        s.speed = float("nan")
    with pytest.raises((TypeError, ValueError)):
        s.speed = "fast"


def test_every_kind_of_trace_step_has_its_entry_and_an_unknown_one_no_error():
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.trace import trace
    net = Network(preset("tiny"), seed=0)
    tr = trace(net, np.zeros((28, 28), np.float32), 3)
    kinds = {st.kind for st in tr.steps}
    assert kinds == set(STEP_KINDS)
    for name, kind in STEP_KINDS.items():
        assert step_kind(name) is kind and re.fullmatch(r"#[0-9a-f]{6}", kind.colour) and kind.symbol
    other = step_kind("regularise")         # a kind added to cnncore.trace before the table
    assert other.symbol == "regularise" and re.fullmatch(r"#[0-9a-f]{6}", other.colour)
    assert len({k.colour for k in STEP_KINDS.values()}) == len(STEP_KINDS)


# ------------------------------------------------------------------ drawing
def _square(size=280, lo=40, hi=240):
    ink = np.zeros((size, size), np.float32)
    ink[lo:hi, lo:hi] = 1.0
    return ink


def test_drawing_image_is_the_preprocessed_ink_and_none_while_empty():
    from cnncore.datasets import preprocess_drawing
    d = Drawing()
    assert d.image() is None and d.is_empty()
    changed = _recorder(d.ink_changed)
    d.set_ink(np.zeros((280, 280)))
    assert d.image() is None
    d.set_ink(_square())
    img = d.image()
    assert img.shape == (28, 28) and img.dtype == np.float32
    assert np.array_equal(img, preprocess_drawing(_square()))
    assert d.image() is img                 # prepared once per ink
    d.set_ink(_square(lo=100, hi=140))
    assert d.image() is not img and d.is_small() and not Drawing().is_small()
    assert len(changed) == 3
    with pytest.raises(ValueError):
        d.set_ink(np.zeros(10))


def test_drawing_label_follows_the_guess_until_chosen_and_again_after_a_wipe():
    d = Drawing()
    seen = _recorder(d.label_changed)
    d.set_ink(_square())
    d.suggest_label(4)
    d.suggest_label(4)                      # same digit: no event
    d.choose_label(6)
    d.suggest_label(1)                      # the user's choice stands
    assert d.label == 6 and seen == [4, 6]
    d.set_ink(_square(lo=50))               # more ink: still the user's choice
    d.suggest_label(2)
    assert d.label == 6
    d.set_ink(np.zeros((280, 280)))         # wiped: the network's guess again
    d.suggest_label(2)
    assert d.label == 2
    for bad in (10, -1):
        with pytest.raises(ValueError):
            d.choose_label(bad)
    assert d.label == 2


# ------------------------------------------------------------------ training run
class _Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_training_run_phases_are_announced_once_and_a_second_start_is_refused():
    run = TrainingRun(clock=_Clock())
    phases = _recorder(run.phase_changed)
    run.resume()                            # nothing to resume
    run.pause()                             # nothing to pause
    run.start()
    with pytest.raises(RuntimeError):
        run.start()
    run.pause()
    run.pause()
    assert run.active and run.phase == PAUSED
    run.resume()
    run.finish()
    run.finish()
    assert phases == [RUNNING, PAUSED, RUNNING, IDLE] and not run.active


def test_training_run_progress_is_a_share_and_the_time_left_follows_the_pace():
    clock = _Clock()
    run = TrainingRun(clock=clock)
    seen = _recorder(run.progress_changed)
    run.start()
    assert np.isnan(run.seconds_left())
    clock.t += 30
    run.progress = 0.25
    assert np.isnan(run.seconds_left())     # one report: no pace yet
    clock.t += 10
    run.progress = 0.5
    assert run.seconds_left() == pytest.approx(20.0)    # 10 s a quarter, half left
    run.progress = 0.5                      # no change, no event
    run.progress = 7                        # kept inside [0, 1]
    with pytest.raises(ValueError):
        run.progress = float("nan")
    run.finish(done=True)
    assert seen == [0.0, 0.25, 0.5, 1.0] and run.progress == 1.0
    run.start()                             # a new run starts from nothing
    assert run.progress == 0.0 and seen[-1] == 0.0


def test_the_time_left_leaves_out_the_start_up_and_the_pauses():
    """A tour saw "about 59 s left" 1.1 s into an 11-s run: the seconds before the first report (starting
    the worker, making the data) were counted as the pace of training, and so would a pause be."""
    clock = _Clock()
    run = TrainingRun(clock=clock)
    run.start()
    clock.t += 20                           # the worker starts and makes its data
    run.progress = 0.1
    assert np.isnan(run.seconds_left())     # (from the start it would say 180 s)
    clock.t += 5
    run.progress = 0.2
    assert run.seconds_left() == pytest.approx(40.0)       # 5 s a tenth, 8 tenths left
    run.pause()
    clock.t += 300
    run.resume()
    clock.t += 1
    run.progress = 0.25                     # the report after the pause sets the pace's clock again
    assert run.seconds_left() == pytest.approx(37.5)
    clock.t += 2
    run.progress = 0.35
    assert run.seconds_left() == pytest.approx(7 / 0.2 * 0.65)


def test_training_run_keeps_the_points_until_each_plot_takes_them():
    run = TrainingRun(clock=_Clock())
    run.start()
    run.add_batches([0.1, 0.2], [2.3, 2.1], [900.0, 950.0])
    run.add_batches([0.3], [1.9], [1000.0])
    assert run.take_loss_points() == ([0.1, 0.2, 0.3], [2.3, 2.1, 1.9])
    assert not run.has_loss_points() and run.has_speed_points()
    assert run.take_speed_points() == ([0.1, 0.2, 0.3], [900.0, 950.0, 1000.0])
    assert run.take_loss_points() == ([], [])
    with pytest.raises(ValueError):
        run.add_batches([0.4], [1.8, 1.7], [1.0])
    run.add_batches([0.4], [1.8], [990.0])
    run.finish()
    run.start()                             # the last run's undrawn points go with it
    assert not run.has_loss_points() and not run.has_speed_points()


def test_a_run_from_trained_weights_numbers_its_epochs_after_theirs():
    """The accuracy plot numbered a run that went on from weights trained for 4 epochs 1, 2, 3: the session
    starts its run at the epochs the network's history counts (a part of an epoch as that part), and the
    run places and names its epochs after them."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.training import epoch_ends, epochs_done

    from cnnapp.state import Session
    history = [{"epoch": k + 1, "train_accuracy": 0.9} for k in range(4)]
    assert epochs_done(history) == 4.0 and epochs_done([]) == 0.0
    assert epoch_ends(history + [{"epoch": 5, "batches": [27, 54]}, "not a record"]) == [1, 2, 3, 4, 4.5]
    s = Session()
    net = Network(preset("tiny"), seed=0)
    net.history = history
    s.set_network(net, "trained before", trained=True)
    s.start_run(0)
    run = s.run
    assert run.first_epoch == 4.0 and run.epoch_number(1) == 5 and run.epoch_at(1) == 5.0
    run.add_batches([0.5, 1.0], [2.0, 1.5], [900.0, 950.0])
    assert run.take_loss_points()[0] == [4.5, 5.0] and run.take_speed_points()[0] == [4.5, 5.0]
    run.finish()
    net.history = history + [{"epoch": 5, "train_accuracy": 0.9, "batches": [27, 54]}]
    s.start_run(0)                          # after a run stopped half-way through an epoch
    assert run.epoch_at(1) == 5.5 and run.epoch_number(1) == 5
    run.finish()
    s.set_network(Network(preset("tiny"), seed=0), "new", trained=False)
    s.start_run(0)
    assert run.first_epoch == 0.0 and run.epoch_number(1) == 1 and run.epoch_at(0.25) == 0.25


# ------------------------------------------------------------------ the session (no Qt, no display)
def test_the_session_announces_training_only_on_change_and_a_trained_starter_is_no_starter():
    from cnncore.architecture import preset
    from cnncore.network import Network

    from cnnapp.state import Session
    s = Session()
    seen = []
    s.training_changed.connect(seen.append)
    s.set_network(Network(preset("tiny")), "the starter model", trained=True, starter=True)
    assert s.is_starter and not s.unsaved
    s.start_run()
    s.run.pause()
    s.end_run(done=False, changed_weights=True)
    assert seen == [True, False]
    assert not s.is_starter and s.unsaved and s.source == "trained here"


def test_main_window_touches_no_private_attribute_of_a_view():
    text = (ROOT / "cnnapp" / "main_window.py").read_text(encoding="utf-8")
    reach = re.findall(r"self\.(?:draw|build|train|backprop|learn)\.(_\w+)", text)
    assert reach == []
    assert '" in self.session.source' not in text and "in session.source" not in text


def test_a_colour_network_not_trained_yet_has_classes_not_digits():
    """The cifar preset built and not trained has the default names 0–9 but reads no digit: its
    classes are "class 3", not "a 3"; a grey 28×28 network's are digits; a trained one's are named."""
    from cnncore.architecture import preset
    from cnncore.network import Network

    from cnnapp.state import a_class, class_kind, other_dataset

    colour, grey = Network(preset("cifar"), seed=0), Network(preset("lenet"), seed=0)
    assert class_kind(colour) == "class" and a_class(colour, 3) == "class 3" and other_dataset(colour)
    assert class_kind(grey) == "digit" and a_class(grey, 3) == "a 3" and other_dataset(grey) == ""
    colour.learns(("airplane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"), "CIFAR-10")
    assert class_kind(colour) == "class" and a_class(colour, 3) == "cat" and other_dataset(colour) == "CIFAR-10"


def test_an_output_no_class_uses_is_said_as_such_not_as_a_name():
    """A network of three classes whose strongest output is one no class uses (it has not learnt
    enough) was said to look like "(unused)" on the Draw tab and the Look tab."""
    from cnncore.architecture import preset
    from cnncore.network import Network

    from cnnapp.state import a_class
    from cnnapp.state.classes import class_name

    for net in (Network(preset("cifar"), seed=0), Network(preset("lenet"), seed=0)):     # colour, grey
        net.learns(("blue triangle", "green square", "red circle") + ("(unused)",) * 7, "my pictures")
        assert a_class(net, 1) == "green square" and a_class(net, 5) == "output 5, which no class uses"
        assert class_name(net, 2) == "red circle" and class_name(net, 7) == "output 7 (no class)"


def test_held_out_samples_say_how_many_the_network_learnt_from():
    """After a run here, a model opened from a file (trained elsewhere, on other settings) was offered
    "sample 7 of the held-out pictures of the last run": pictures it may have learnt from. The samples
    now say how many of them the network learnt from (the fingerprints its runs keep)."""
    from cnncore.architecture import preset
    from cnncore.learnt import fingerprints, remember
    from cnncore.network import Network
    from cnnapp.state.samples import GENERATED, Samples
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), np.array([1, 2, 3, 4, 5])
    net = Network(preset("tiny"), seed=0)
    samples = Samples()
    samples.keep_held_out(X, y, net.classes, "")
    assert samples.for_network(net).name == "held-out pictures of the latest run"        # learnt from none
    remember(net, fingerprints(rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)))      # other pictures
    assert samples.for_network(net).name == "held-out pictures of the latest run"
    remember(net, fingerprints(X[[1, 3]].astype(np.float32) / 255))                 # two of them, as floats
    assert samples.for_network(net).name == "held-out pictures of the latest run (this network learnt from 2 of them)"
    remember(net, fingerprints(X))
    assert samples.for_network(net).name.endswith("(this network learnt from all of them)")
    net.trained_on, net.history = None, [{"epoch": 1}]               # a trained model of an older version
    assert samples.for_network(net).name.endswith("(this network may have learnt from some)")
    samples = Samples()                                              # the generated digits too
    net = Network(preset("tiny"), seed=0)
    assert samples.for_network(net).name == GENERATED
    remember(net, fingerprints(samples.for_network(net).X[:7]))
    assert samples.for_network(net).name == GENERATED + " (this network learnt from 7 of them)"


def test_a_character_no_font_draws_is_spelled_by_its_unicode_name():
    """A tour: a class named "⛵" showed as an empty box without an emoji font. One rule spells such a
    character, between colons, by its name, or by its code point where the name is only that; an
    emoji's variation selector goes with it; the tooltip's note says what each was."""
    from cnnapp.state import classes
    classes.draw_names_with(lambda code: code < 0x2600 or code == 0xFE0F)      # no emoji, no CJK font
    try:
        assert classes.shown_name("⛵") == ":sailboat:" and classes.shown_name("猫") == ":U+732B:"
        assert classes.shown_name("boat ⛵\ufe0f") == "boat :sailboat:\ufe0f"
        assert classes.shown_name("Sneaker") == "Sneaker" and classes.spelled_notes(["cat", "dog"]) == ""
        assert classes.spelled_notes(["⛵", "cat"]) == ("No font of this computer draws this character: ⛵ (U+26F5 "
                                                       "SAILBOAT) is shown as :sailboat:.")
        assert classes.spelled_notes(["⛵", "猫"]).startswith("No font of this computer draws these characters: ⛵")

        class Net:
            classes = ("⛵", "cat") + ("(unused)",) * 8
            signature = None
        assert classes.class_name(Net, 0) == classes.a_class(Net, 0) == ":sailboat:"
        assert classes.shown_classes(Net)[:2] == (":sailboat:", "cat") and classes.classes_of(Net)[0] == "⛵"
    finally:
        classes.draw_names_with(lambda code: True)
