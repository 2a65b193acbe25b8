"""The app and the other data sets: Fashion-MNIST downloaded from a loopback server and trained on;
then its class names on the probability bars, the confusion matrix, the gallery and the Backprop
tab, and the Draw tab saying the network learnt something other than digits."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import hashlib  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from cnncore.architecture import DIGIT_CLASSES  # noqa: E402
from cnncore.datasets import DOWNLOADS, MNIST_FILES, generated_digits  # noqa: E402
from conftest import write_idx  # noqa: E402
from test_gui_app import _no_leaked_windows, _private_dirs, _tiny_network, window  # noqa: E402,F401
from test_mnist_fetch import serve  # noqa: E402

pytestmark = [pytest.mark.gui,
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]

FASHION = DOWNLOADS["fashion"].classes


@pytest.fixture
def fashion_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    X, y = generated_digits(400, seed=11)          # stand-ins: the app does not look at the pictures
    write_idx(served / MNIST_FILES["train-images"], X)
    write_idx(served / MNIST_FILES["train-labels"], y)
    sums = {MNIST_FILES[k]: hashlib.md5((served / MNIST_FILES[k]).read_bytes()).hexdigest()
            for k in ("train-images", "train-labels")}
    base, server, thread = serve(served)
    yield base, sums
    server.shutdown()
    server.server_close()
    thread.join()


def _ticks(axis):
    return [text.strip() for _, text in axis._tickLevels[0]]


def test_fashion_downloads_trains_and_every_view_names_its_classes(window, qtbot, fashion_server):
    base, sums = fashion_server
    _tiny_network(window)
    train = window.train
    assert window.draw.probs.getPlotItem().getAxis("bottom").labelText == "digit"
    train.source.setCurrentIndex(train.source.findData("fashion"))
    train.epochs.setValue(1)
    real = train.controller.download
    calls = []
    train.controller.download = lambda key, **kw: calls.append(key) or real(key, mirrors=[base], checksums=sums)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000) as blocker:
        assert not train.start()                  # first the download, then the training
    assert calls == ["fashion"] and blocker.args[0].reason == "done"
    assert "Fashion-MNIST is ready" in train.download_bar.format()
    net = window.session.network
    assert net.classes == FASHION and net.dataset == "Fashion-MNIST"

    train.bottom_tabs.setCurrentWidget(train.confusion)
    plot = train.confusion.getPlotItem()
    assert _ticks(plot.getAxis("left")) == [f"{i} {c}" for i, c in enumerate(FASHION)]
    assert "predicted class" in plot.getAxis("bottom").labelText
    train.bottom_tabs.setCurrentWidget(train.gallery_page)
    if train.gallery.count():
        assert "\n→ " in train.gallery.item(0).text() and train.gallery.item(0).text().split("\n→ ")[0] in FASHION

    draw = window.draw
    X, _ = generated_digits(1, seed=3)
    draw.show_digit(X[0] / 255.0, 3)
    words = draw.model_label.text()
    assert "trained on Fashion-MNIST (10 classes: T-shirt/top, Trouser, Pullover, Dress, …), not on digits" in words
    assert any(name in draw.answer.text() for name in FASHION) and not draw.always_note.isVisibleTo(draw)
    assert _ticks(draw.probs.getPlotItem().getAxis("bottom")) == list(FASHION)

    bp = window.backprop
    from cnnapp.state import Picture
    window.session.set_picture(Picture("sketch", X[0] / 255.0, 9, what="a test picture"))
    assert bp.record()
    assert "true class <b>Ankle boot</b>" in bp.info.text()
    assert bp.label_combo.itemText(9) == "9 Ankle boot" and bp.true_label.text() == "true class"


def test_a_digits_model_keeps_the_digits(window):
    from cnncore.architecture import preset
    from cnncore.network import Network

    _tiny_network(window)
    other = Network(preset("tiny"), seed=0)
    other.learns(DOWNLOADS["kmnist"].classes, "Kuzushiji-MNIST")
    window.session.set_network(other, "k.npz", trained=True)
    assert "Kuzushiji-MNIST" in window.draw.model_label.text()
    assert window.backprop.label_combo.itemText(2) == "2 su"
    window.session.set_network(Network(preset("tiny"), seed=1), "digits.npz", trained=True)
    assert "not on digits" not in window.draw.model_label.text() and window.draw.always_note.isVisibleTo(window.draw)
    assert [window.backprop.label_combo.itemText(i) for i in range(10)] == list(DIGIT_CLASSES)
    x = np.zeros((28, 28), np.float32)
    x[8:20, 12:15] = 1
    window.draw.show_digit(x, 1)
    assert window.draw.answer.text().startswith("Looks like a") or window.draw.answer.text().startswith("Looks like an")


def test_a_grey_model_of_a_folders_two_classes_is_named_by_them_on_the_draw_tab(window):
    """A lenet learnt from a folder "grey" of cat/ and dog/: the Draw tab said "It learnt grey, not
    digits: … one of those ten classes", the folder's name as a data set's and ten for two."""
    from cnncore.architecture import preset
    from cnncore.datasets.folder import model_classes
    from cnncore.network import Network
    net = Network(preset("lenet"), seed=0)
    net.learns(model_classes(("cat", "dog")), "grey")
    window.session.set_network(net, "a folder's model", trained=True)
    words = window.draw.model_label.text()
    assert "trained on the pictures of the folder grey (2 classes: cat, dog), not on digits" in words
    assert "ten" not in words
    import numpy as np                               # the Train tab's maps are of the student's picture,

    from cnnapp.state import Picture                 # not a generated digit (the Backprop tab's picture)
    cat = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    window.session.set_picture(Picture("file", cat, 0, what="cat.png"))
    np.testing.assert_array_equal(window.train._sample(), cat[None])
    look = window.look.ensure()                      # the Look menus name its two classes, no "(unused)"
    for box in (look.cls, look.fool.target):
        assert [box.itemData(k) for k in range(box.count())] == [None, 0, 1]
    assert [look.goal.itemText(k) for k in range(2)] == ["the score of cat", "the score of dog"]
    assert not any("(unused)" in look.goal.itemText(k) for k in range(look.goal.count()))


def test_the_confusion_matrix_shows_the_classes_in_use(qtbot):
    """A model of a folder's two classes drew a 10×10 matrix, its 2×2 squeezed in a corner by eight
    "(unused)" rows and columns. Those go, unless a picture was answered as one of them."""
    import numpy as np

    from cnnapp.widgets.confusion_plot import ConfusionPlot
    from cnncore.datasets.folder import model_classes
    plot = ConfusionPlot()
    qtbot.addWidget(plot)
    plot.set_classes(model_classes(("cat", "dog")), "class")
    m = np.zeros((10, 10), np.int64)
    m[0, 0], m[0, 1], m[1, 1] = 5, 2, 7
    plot.set_matrix(m)
    left = plot.getPlotItem().getAxis("left")._tickLevels[0]
    assert [t.strip() for _, t in left] == ["0 cat", "1 dog"] and len(plot._labels) == 4
    assert [lbl.textItem.toPlainText() for lbl in plot._labels] == ["5", "2", "", "7"]
    assert plot._img.image.shape == (2, 2) and plot.matrix().shape == (10, 10)
    m[1, 6] = 1                                      # a dog answered as output 6, which no class uses
    plot.set_matrix(m)
    assert [t.strip() for _, t in plot.getPlotItem().getAxis("left")._tickLevels[0]][-1] == "6 (unused)"
    assert plot._img.image.shape == (3, 3) and len(plot._labels) == 9
    plot.set_classes([str(i) for i in range(10)], "digit")
    plot.set_matrix(np.eye(10, dtype=np.int64))
    assert plot._img.image.shape == (10, 10) and len(plot._labels) == 100


def test_a_true_class_is_never_an_output_no_class_uses(window, qtbot):
    """The Backprop box lists a network's classes only, but three ways still put an unused output in
    as the true class (the box then blank, the loss "true class (unused)"): the network's own answer
    for a picture nobody labelled, a drawing's digit on a network of cats and dogs, and a digit's
    class carried to such a network when it is opened."""
    import numpy as np

    from cnnapp.state import Picture
    from cnncore.architecture import preset
    from cnncore.datasets.folder import model_classes
    from cnncore.network import Network
    s, bp = window.session, window.backprop
    x = np.random.default_rng(1).random((28, 28)).astype(np.float32)
    s.set_picture(Picture("file", x, 3, what="a digit 3"))           # a digit network's true class 3
    net = Network(preset("lenet"), seed=0)
    net.learns(model_classes(("cat", "dog")), "pets")
    net.layers[-1].b[7] = 50                                         # it answers output 7, which is unused
    window.session.set_network(net, "a folder's model", trained=True)
    assert s.picture is not None and s.picture.label is None         # 3 is no class of this network
    assert s.true_label() in (0, 1)
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: s.trace is not None, timeout=10000)
    assert s.trace.label in (0, 1) and bp.label_combo.currentIndex() in (0, 1)
    assert "true class <b>(unused)" not in bp.input_row.info.text()       # (it may say so: "network says")
    for digit in (7, 0):                             # a digit is no class of cats and dogs, even output 0
        window.draw.show_digit(x, digit)
        s.take_drawing()
        assert s.picture.label is None and s.true_label() in (0, 1)


def test_the_confusion_matrix_names_a_new_models_classes_before_any_result(window, qtbot, tmp_path):
    """With no result of either model, the matrix kept the digit model's axes ("true digit", 0–9)
    after a colour model of its own classes was opened."""
    from cnncore.architecture import preset
    from cnncore.datasets.folder import model_classes
    from cnncore.modelio import save_model
    from cnncore.network import Network
    train = window.train
    window.tabs.setCurrentWidget(train)
    train.bottom_tabs.setCurrentWidget(train.confusion)
    net = Network(preset("cifar"), seed=0)
    net.learns(model_classes(("blue_stripe", "green_square")), "shapes")
    save_model(tmp_path / "c.npz", net)
    window.confirm = lambda text: True
    assert window.open_model(tmp_path / "c.npz")
    qtbot.waitUntil(lambda: "true class" in train.confusion.getPlotItem().getAxis("left").labelText, timeout=3000)
    ticks = [t.strip() for _, t in train.confusion.getPlotItem().getAxis("left")._tickLevels[0]]
    assert ticks == ["0 blue_stripe", "1 green_square"]


def test_a_trace_of_another_network_names_its_outputs_by_number(window, qtbot, tmp_path):
    """A trace file of another network, opened beside a model of cats and dogs, was read in that
    model's names ("true class dog"): its outputs are named by number."""
    import numpy as np

    from cnncore.architecture import preset
    from cnncore.datasets.folder import model_classes
    from cnncore.network import Network
    from cnncore.trace import trace
    trace(Network(preset("tiny"), seed=5), np.random.default_rng(2).random((28, 28)).astype(np.float32),
          1).save(tmp_path / "t.npz")
    pets = Network(preset("lenet"), seed=0)
    pets.learns(model_classes(("cat", "dog")), "pets")
    window.session.set_network(pets, "a folder's model", trained=True)
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    assert bp.open_trace(tmp_path / "t.npz")
    text = bp.input_row.info.text()
    assert "<b>1</b>" in text and "dog" not in text and "cat" not in text
    trace(pets, np.zeros((28, 28), np.float32), 1).save(tmp_path / "own.npz")
    assert bp.open_trace(tmp_path / "own.npz") and "<b>dog</b>" in bp.input_row.info.text()    # its own names


def test_a_drawings_class_on_a_network_of_other_classes_is_the_one_chosen_for_it(window, qtbot):
    """On a network of cats and dogs that takes drawings, the class chosen on the Backprop tab was lost
    at the next stroke (and a stop of the drawing was refused); a digit chosen for a digit network
    became "cat" when such a network was opened."""
    import numpy as np

    from cnncore.architecture import preset
    from cnncore.datasets.folder import model_classes
    from cnncore.network import Network
    s = window.session
    x = np.zeros((28, 28), np.float32)
    x[6:22, 12:16] = 1.0
    window.draw.show_digit(x, 1)
    s.take_drawing()
    s.set_label(0)                                   # a digit network: the Draw tab's digit, chosen: 0
    assert s.picture.label == 0
    pets = Network(preset("lenet"), seed=0)
    pets.learns(model_classes(("cat", "dog")), "pets")
    s.set_network(pets, "a folder's model", trained=True)
    assert s.picture is not None and s.picture.origin == "drawing" and s.picture.label is None   # no "cat"
    s.set_label(1)                                   # "dog", chosen for it on the Backprop tab
    x[6:8, 10:18] = 1.0                              # a stroke more: the class chosen stays
    window.draw.canvas.set_array(x)
    s.drawing.finish()
    assert s.picture.label == 1 and s.drawing_picture().label == 1
    window.lessons.record()
    assert window.lessons.recorder.capture("draw") == 0                       # the stop takes it
