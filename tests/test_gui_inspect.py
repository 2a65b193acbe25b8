"""The Look tab (issue 11): saliency and Grad-CAM follow the drawing, the adversarial digit, the dream,
all computed in workers on a copy of the network (pytest-qt, headless)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtWidgets  # noqa: E402

from test_gui_app import _circle, _no_leaked_windows, _private_dirs, stroke, window  # noqa: E402,F401

pytestmark = [pytest.mark.gui, pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]


@pytest.fixture
def view(qtbot):
    from cnnapp.settings import starter_model_path
    from cnnapp.views.inspect_view import InspectView
    from cnnapp.state import Session
    from cnncore.modelio import load_model
    session = Session()
    session.set_network(load_model(starter_model_path()), "the starter model", trained=True)
    v = InspectView(session)
    qtbot.addWidget(v)
    v.resize(1024, 640)
    yield v
    v.shutdown()


def _wait_gradients(qtbot, view, before=None):
    qtbot.waitUntil(lambda: view.gradients is not None and view.gradients is not before
                    and not view.look_job.busy(), timeout=10000)
    return view.gradients


def test_a_data_set_digit_shows_saliency_and_gradcam_of_every_conv_layer(qtbot, view):
    from cnncore.probe import Probe
    view.show()
    qtbot.waitExposed(view)
    g, cams = _wait_gradients(qtbot, view)
    X, y, _ = view.session.sample_set()
    x = X[view.sample_spin.value()].astype(np.float32) / 255
    expected = Probe(view.session.network).class_gradient(x)
    np.testing.assert_allclose(g.saliency, expected.saliency, rtol=1e-5, atol=1e-7)
    assert sorted(cams) == [0, 2]                                 # the starter model's two convs
    assert [p.isVisible() for p in view.cam_panels] == [True, True]
    assert view.cam_panels[0].image.image.shape == (28, 28, 3)
    assert f"answers <b>{expected.predicted}</b>" in view.answer.text()
    # another class to explain: the saliency of that digit's score
    other = (expected.predicted + 1) % 10
    view.cls.setCurrentIndex(view.cls.findData(other))
    g2, _ = _wait_gradients(qtbot, view, g)
    assert g2.cls == other
    np.testing.assert_allclose(g2.saliency, Probe(view.session.network).class_gradient(x, other).saliency,
                               rtol=1e-5, atol=1e-7)


def test_drawing_updates_the_saliency_while_the_pen_moves(qtbot, view):
    view.show()
    qtbot.waitExposed(view)
    first = _wait_gradients(qtbot, view)
    view.canvas.clear()
    stroke(view.canvas, _circle())
    g, _ = _wait_gradients(qtbot, view, first)
    assert view.session.picture.origin == "sketch" and view.session.picture.label is None
    x = view.current_input()
    from cnncore.probe import Probe
    np.testing.assert_allclose(g.saliency, Probe(view.session.network).class_gradient(x, g.cls).saliency,
                               rtol=1e-5, atol=1e-7)


def test_adversarial_digit_at_the_smallest_epsilon(qtbot, view):
    view.show()
    qtbot.waitExposed(view)
    _wait_gradients(qtbot, view)
    view.inner.setCurrentIndex(1)
    view.attack_result = None
    view.find_smallest()
    qtbot.waitUntil(lambda: view.attack_result is not None and not view.attack_job.busy(), timeout=20000)
    a = view.attack_result
    net = view.session.network
    assert a.success and int(net.predict(a.image[None])[0]) == a.predicted != a.original_predicted
    assert np.abs(a.change).max() <= a.epsilon <= 0.3
    assert view.eps.value() == int(np.ceil(a.epsilon * 100 - 1e-9))
    assert f"answers <b>{a.predicted}</b>" in view.attack_text.text()
    # towards a chosen digit, at the slider's budget
    target = (a.original_predicted + 2) % 10
    view.eps.setValue(30)
    view.attack_result = None
    view.target.setCurrentIndex(view.target.findData(target))
    qtbot.waitUntil(lambda: view.attack_result is not None and view.attack_result.target == target
                    and not view.attack_job.busy(), timeout=20000)
    b = view.attack_result
    assert b.epsilon == pytest.approx(0.3) and b.predicted == int(net.predict(b.image[None])[0])


def test_the_answer_beside_the_picture_follows_it_on_every_page(qtbot, view):
    """The line under the picture was written by the "Where it looks" page only: on "Fooling it" another
    digit, or another model, left it naming the old digit's answer beside the new one."""
    from cnncore.network import Network
    from cnncore.architecture import preset
    view.show()
    qtbot.waitExposed(view)
    _wait_gradients(qtbot, view)
    X, y, _ = view.session.sample_set()

    def answer_of(net, i):
        p = net.predict_proba(X[i][None].astype(np.float32) / 255)[0]
        return f"answers <b>{int(np.argmax(p))}</b>, {p.max():.0%} sure (it is {int(y[i])})"

    for page in (1, 2):                                   # Fooling it, What it wants to see
        view.inner.setCurrentIndex(page)
        for i in (3, 8):
            view.show_sample(i)
            assert answer_of(view.session.network, i) in view.answer.text(), (page, i)
    other = Network(preset("lenet"), seed=4)
    view.session.set_network(other, "another", trained=False)
    view.show_sample(5)
    assert answer_of(other, 5) in view.answer.text()


def test_fooling_a_picture_the_network_got_wrong_into_its_true_class_says_so():
    from types import SimpleNamespace
    from cnnapp.views.look_pages import attack_words
    names = [str(k) for k in range(10)]
    a = SimpleNamespace(success=True, original_predicted=0, predicted=4, epsilon=0.05, image=np.zeros((1, 4, 4)),
                        target=None, change=np.full((1, 4, 4), 0.05))
    assert "set it right" in attack_words(a, False, names, label=4)
    assert "set it right" not in attack_words(a, False, names, label=0)
    assert "set it right" not in attack_words(a, False, names)


def test_dream_animates_in_a_worker_and_stops(qtbot, view):
    view.show()
    qtbot.waitExposed(view)
    view.inner.setCurrentIndex(2)
    assert view.goal.count() == 10 + 8 + 16                 # ten digits, then every filter of both convs
    view.goal.setCurrentIndex(view.goal.findText("the score of digit 4"))
    frames = []
    view.toggle_dream()
    assert view.dream_running() and view.dream_button.text() == "Stop"
    view._dream_worker.frame.connect(frames.append)
    qtbot.waitUntil(lambda: len(frames) >= 3, timeout=10000)
    view.toggle_dream()                                     # stop
    qtbot.waitUntil(lambda: not view.dream_running(), timeout=10000)
    assert view.dream_button.text() == "Start"
    steps = [f.step for f in frames]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert "step" in view.dream_panel.caption.text()


def test_a_painting_of_the_last_network_is_gone_when_another_is_opened(qtbot, view):
    """Frames of a dream queued before another model was opened came after its page was cleared: the
    new colour model's page showed the grey dream, titled "Painting for square"."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    view.show()
    qtbot.waitExposed(view)
    view.inner.setCurrentIndex(2)
    frames = []
    view.toggle_dream()
    view._dream_worker.frame.connect(frames.append)
    qtbot.waitUntil(lambda: len(frames) >= 2, timeout=10000)
    view.session.set_network(Network(preset("cifar"), seed=0), "another model", trained=False)
    qtbot.waitUntil(lambda: not view.dream_running(), timeout=10000)
    qtbot.wait(100)                                          # (any frame still queued comes now)
    assert view.dream_panel.image.image is None and view.dream_panel.caption.text() == ""
    assert view.dream_panel.title.text() == "Painted input"


def test_looking_while_training_never_touches_the_live_network(qtbot, view):
    """While training, the view reads Session.view_network() (the snapshot), and the probe copies it."""
    session = view.session
    live = session.network
    session.start_run()
    before = live.flat_params.copy()
    live.flat_params[:] = np.nan                # a network mid-update: must never be read
    view.show()
    qtbot.waitExposed(view)
    g, _ = _wait_gradients(qtbot, view)
    assert np.isfinite(g.saliency).all()
    assert np.isnan(live.flat_params).all()
    assert all(layer.y is None for layer in session.view_network().layers)   # nothing kept on the snapshot
    live.flat_params[:] = before
    session.end_run(done=False, changed_weights=False)


def test_the_look_tab_in_the_window_follows_the_draw_tab_and_closes_cleanly(qtbot, window):
    window.draw.canvas.clear()
    stroke(window.draw.canvas, _circle())
    window.tabs.setCurrentWidget(window.look)
    look = window.look.ensure()
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Loo&k"
    window.findChild(QtWidgets.QPushButton, "lookFromDraw").click()
    qtbot.waitUntil(lambda: look.gradients is not None and not look.look_job.busy(), timeout=10000)
    np.testing.assert_array_equal(look.current_input()[0], window.session.drawing.image())
    # a new drawing on the Draw tab is what the Look tab shows next
    window.tabs.setCurrentWidget(window.draw)
    before = look.current_input().copy()
    stroke(window.draw.canvas, [(0.2, 0.8), (0.8, 0.2)])
    window.tabs.setCurrentWidget(window.look)
    assert not np.array_equal(look.current_input(), before)
    np.testing.assert_array_equal(look.current_input()[0], window.session.drawing.image())
    # drawing on the Look tab's own sheet stops following the Draw tab
    stroke(look.canvas, [(0.3, 0.3), (0.6, 0.6)])
    window.tabs.setCurrentWidget(window.draw)
    stroke(window.draw.canvas, [(0.5, 0.1), (0.5, 0.9)])
    mine = look.current_input().copy()
    window.tabs.setCurrentWidget(window.look)
    np.testing.assert_array_equal(look.current_input(), mine)
    look.inner.setCurrentIndex(2)
    look.toggle_dream()
    assert look.dream_running()
    window.close()                                   # stops the dream and waits for it
    assert not look.dream_running() or not look._dream_thread.isRunning()


def test_data_set_digits_come_from_what_the_train_tab_loaded(qtbot, view):
    X, y, what = view.session.sample_set()
    assert what == "generated digits" and X.shape[1:] == (28, 28)
    mine = (np.full((3, 28, 28), 200, np.uint8), np.array([1, 2, 3], np.uint8))
    view.session.samples.keep_held_out(*mine, view.session.classes, "MNIST")    # a run's held-out digits
    assert view.sample_spin.maximum() == 2
    view.show_sample(2)
    np.testing.assert_allclose(view.current_input(), mine[0][2:] / 255, rtol=1e-6)
    assert view.session.picture.label == 3 and "held-out pictures of MNIST" in view.session.picture.what


def test_a_network_of_other_classes_is_spoken_of_by_their_names(qtbot, view):
    names = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot")
    view.session.network.learns(names, "fashion")
    view.session.model_changed.emit()
    assert view.cls.itemText(8) == "Sneaker" and view.target.itemText(1) == "T-shirt"
    assert view.goal.itemText(9) == "the score of Boot"
    view.show()
    qtbot.waitExposed(view)
    g, _ = _wait_gradients(qtbot, view)
    assert f"answers <b>{names[g.predicted]}</b>" in view.answer.text()


def test_nothing_starts_a_thread_after_shutdown(qtbot, view):
    """A live-drawing timer or a click after the window closed must not start a worker thread: it would
    be destroyed with the view while still running (Qt aborts the process)."""
    view.show()
    qtbot.waitExposed(view)
    _wait_gradients(qtbot, view)
    stroke(view.canvas, _circle())                 # arms the live timer
    view.shutdown()
    assert not view._live.isActive()
    view.refresh()
    view.run_attack()
    view.find_smallest()
    view.toggle_dream()
    qtbot.wait(200)
    assert not view.look_job.busy() and not view.attack_job.busy() and not view.dream_running()


@pytest.mark.parametrize("width, height", [(740, 600), (1024, 640), (1900, 1000)])
def test_every_page_fits_its_width_beside_an_open_lesson_dock(qtbot, view, width, height):
    """With the Lesson dock open on a 1024-px screen the Look tab is about 740 px wide: the Fooling
    page's three pictures and its controls then ran off its right edge (a horizontal scroll bar).
    The pictures take the room there is (96 to 300 px), and the first page's two rows fit its height."""
    view.resize(width, height)
    view.show()
    qtbot.waitExposed(view)
    _wait_gradients(qtbot, view)
    for k in range(view.inner.count()):
        view.inner.setCurrentIndex(k)
        page = view.inner.widget(k)
        qtbot.waitUntil(lambda: page.isVisible(), timeout=2000)
        QtWidgets.QApplication.processEvents()
        assert page.horizontalScrollBar().maximum() == 0, (k, page.horizontalScrollBar().maximum())
    side = view.fool.original.view.width()
    assert 96 <= side <= 300 and (side == 300) == (width > 1500)
    assert view.where.verticalScrollBar().maximum() == 0 or height < 620


def test_a_small_budget_is_said_to_its_tenth_of_a_percent():
    """ε = 0.003 was said as "no pixel … moved by more than 0% of full brightness"."""
    from types import SimpleNamespace
    from cnnapp.views.look_pages import attack_words
    a = SimpleNamespace(success=True, original_predicted=0, predicted=4, epsilon=0.003, image=np.zeros((3, 4, 4)),
                        target=None, change=np.full((3, 4, 4), -0.003))
    words = attack_words(a, True, [str(k) for k in range(10)])
    assert "more than 0.3% of full brightness" in words and "R, G or B level" in words


def test_a_large_smallest_budget_is_not_said_to_be_a_change_one_barely_sees():
    """ "The smallest budget found, ε = 0.238, it answers blue triangles" beside "Changes a person barely
    sees can be enough": a 24 % change is plain to see, and the words now say so."""
    from types import SimpleNamespace
    from cnnapp.views.look_pages import attack_words
    names = [str(k) for k in range(10)]
    big = SimpleNamespace(success=True, original_predicted=0, predicted=4, epsilon=0.238, image=np.zeros((1, 4, 4)),
                          target=None, change=np.full((1, 4, 4), 0.238))
    words = attack_words(big, True, names)
    assert words.startswith("It answered 0. The smallest budget found is ε = 0.238: it answers <b>4</b>, and no pixel")
    assert "plain to see" in words
    small = np.full((1, 4, 4), 0.03)
    assert "plain to see" not in attack_words(SimpleNamespace(**{**vars(big), "epsilon": 0.03, "change": small}), True,
                                              names)


def test_the_change_said_is_the_change_made_not_the_budget():
    """At the default budget ε = 0.1 the attack stopped once the answer turned, having moved no level by more
    than 0.0375; the page said no level moved by more than 10 % and called the change plain to see. And a
    picture the change set right was also said not to fool the network easily, "a airplane"."""
    from types import SimpleNamespace
    from cnnapp.views.look_pages import attack_words
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    change = np.zeros((3, 4, 4))
    change[1, 2, 3] = -0.0375
    a = SimpleNamespace(success=True, original_predicted=3, predicted=0, epsilon=0.1, image=np.zeros((3, 4, 4)),
                        target=None, change=change)
    words = attack_words(a, False, names)
    assert "moved by more than 3.8% of full brightness" in words and "plain to see" not in words
    right = attack_words(SimpleNamespace(**{**vars(a), "change": np.full((3, 4, 4), 0.1)}), False, names, label=0)
    assert "this picture is an airplane" in right and "plain to see" not in right


def test_the_look_sheet_says_what_picture_it_shows(window):
    """A sample the app picked sat on the Look tab's sheet under "Draw a digit, or pick one:", as if it
    were ink of one's own (a digit just drawn on the Draw tab was not it)."""
    s = window.session
    s.take_sample(5, picked=True)
    view = window.look.ensure()
    assert view.sheet_words.text().startswith("Shown: sample 5 of the ")
    s.set_picture(None)
    assert view.sheet_words.text() == "Draw a digit, or pick one:"


def test_a_grey_network_of_things_is_not_spoken_of_as_digits(view):
    """A 28×28 grey network that learnt Fashion-MNIST draws on the sheet as a digit network does, but its
    classes are clothes: the sample button said "Data set digit" and its tip "this digit of the data set"."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    net = Network(preset("tiny"), seed=0)
    net.learns(("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"),
               "Fashion-MNIST")
    view.session.set_network(net, "fashion", trained=False)
    assert view.digits() and view.sample_button.text() == "Data set picture"
    assert view.fool.target.itemText(0) == "any other class" and "digit" not in view.sample_button.toolTip()
    assert "the class the network answers" in view.cls.toolTip() and "a class you choose" in view.fool.target.toolTip()
    assert view.sample_spin.accessibleName() == "Sample number"
    view.session.set_network(Network(preset("tiny"), seed=0), "digits", trained=False)
    assert view.sample_button.text() == "Data set digit" and view.fool.target.itemText(0) == "any other digit"
    assert "the digit the network answers" in view.cls.toolTip()
