"""Issue 23 item 4: the tabs on a colour model. A tiny 3×32×32 network trained in the app on a folder of
generated colour pictures (one with a file that is not a picture, which is skipped and named), then:
Backprop shows the picture, its R, G and B planes and the first filters as colour patches, a first-conv
z is the sum over the three planes term by term, predict mode asks and judges on it, the identities of
the first layer hold; Look's pages run on a held-out picture in colour; Draw offers a picture of your
own with the live prediction; CIFAR-10 downloads from a loopback server and trains (and, where the
shared pictures exist, on real CIFAR-10 pictures); the Build and Train tabs offer the colour preset
within the memory limit (pytest-qt, offscreen)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import hashlib  # noqa: E402
import io  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402
from test_gui_app import _no_leaked_windows, _private_dirs, window  # noqa: E402,F401

from cnncore.terms import num  # noqa: E402

pytestmark = [pytest.mark.gui,
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]

#: A tiny colour network: trains on a few dozen pictures in a second.
TINY_COLOUR = {"name": "tiny colour", "input": [3, 32, 32], "layers": [
    {"type": "conv", "filters": 4, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"},
    {"type": "maxpool", "size": 4, "stride": 4},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "none"}]}
CLASSES = ("blue", "green", "red")


def _picture(rng, colour: int, size) -> np.ndarray:
    """A ``size`` (h, w) RGB picture, uint8 (h, w, 3): a square of one strong colour on grey noise."""
    h, w = size
    a = rng.integers(60, 120, (h, w, 3)).astype(np.uint8)
    r0, c0 = rng.integers(0, h // 3), rng.integers(0, w // 3)
    a[r0:r0 + h // 2, c0:c0 + w // 2] = 30
    a[r0:r0 + h // 2, c0:c0 + w // 2, colour] = 230
    return a


@pytest.fixture
def colour_folder(tmp_path):
    """blue/, green/ and red/ of 14 PNG and JPEG pictures each of mixed sizes; one file that only
    calls itself a PNG (skipped) and a note that is not a picture (ignored)."""
    from PIL import Image
    rng = np.random.default_rng(5)
    root = tmp_path / "my pictures"
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        colour = {"red": 0, "green": 1, "blue": 2}[name]
        for k in range(14):
            size = ((32, 32), (40, 56), (64, 48))[k % 3]
            Image.fromarray(_picture(rng, colour, size)).save(root / name / f"{k:02d}.{'jpg' if k % 4 else 'png'}")
    (root / "green" / "broken.png").write_bytes(b"this is not a picture")
    (root / "red" / "notes.txt").write_text("taken on a sunny day")
    return root


def _tiny_colour(window):
    from cnncore.network import Network
    window.session.set_network(Network(TINY_COLOUR, seed=0), "a tiny colour network", trained=False)


def _train(window, qtbot, epochs: int = 3):
    with qtbot.waitSignal(window.train.trainingFinished, timeout=60000) as blocker:
        window.train.epochs.setValue(epochs)
        assert window.train.start()
    assert blocker.args[0].reason == "done", blocker.args[0].message


@pytest.fixture
def trained(window, qtbot, colour_folder):
    """The window with the tiny colour network trained on the folder."""
    _tiny_colour(window)
    train = window.train
    train.source.setCurrentIndex(train.source.findData("folder"))
    assert train.controls.set_picture_folder(colour_folder)
    _train(window, qtbot)
    return window


def test_a_run_stopped_before_its_first_batch_leaves_the_network_as_it_was(window, qtbot, colour_folder,
                                                                          monkeypatch):
    """Start on a folder, Stop at once: "Stopped before the first batch", the weights untouched, but
    the network had taken the folder's classes (the Draw tab then read a drawn 0 as "circle", and the
    restart brought the renamed model back). A run with no update leaves it as it was."""
    from cnnapp.train_worker import TrainWorker
    _tiny_colour(window)
    s, train = window.session, window.train
    net = s.network
    before = (net.classes, net.dataset, net.signature, net.flat_params.tobytes())
    train.source.setCurrentIndex(train.source.findData("folder"))
    assert train.controls.set_picture_folder(colour_folder)
    real = TrainWorker.__init__

    def stopped_at_once(self, *args, **kwargs):
        real(self, *args, **kwargs)
        load = self.load_data
        self.load_data = lambda: (self.stop(), load())[1]        # Stop pressed while the data is read
    monkeypatch.setattr(TrainWorker, "__init__", stopped_at_once)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000) as blocker:
        assert train.start()
    ev = blocker.args[0]
    assert ev.message == "stopped before the first batch" and not ev.changed
    assert (net.classes, net.dataset, net.signature, net.flat_params.tobytes()) == before
    assert s.network is net and not s.unsaved


def test_the_readable_count_is_of_the_folder_the_run_read(window, qtbot, colour_folder):
    """Pictures added between picking the folder and Start: the tab said "all 45 readable in the
    folder, of 42", the second number the one counted at the pick."""
    import shutil
    _tiny_colour(window)
    train = window.train
    train.source.setCurrentIndex(train.source.findData("folder"))
    assert train.controls.set_picture_folder(colour_folder)
    for k in range(3):
        shutil.copy(colour_folder / "red" / "00.png", colour_folder / "red" / f"extra{k}.png")
    _train(window, qtbot, epochs=1)
    files = len(list(colour_folder.rglob("*.*"))) - 1                     # (notes.txt is no picture)
    assert train.controls.data.count_all.text() == f"all {files - 1} readable in the folder, of {files}"


def test_the_look_menus_follow_a_run_that_taught_the_network_its_classes(window, qtbot, colour_folder):
    """The Look tab, open before a run on a folder, kept "class 0 … class 9" in its menus afterwards
    while the Backprop tab named blue, green and red."""
    _tiny_colour(window)
    look = window.look.ensure()
    train = window.train
    train.source.setCurrentIndex(train.source.findData("folder"))
    assert train.controls.set_picture_folder(colour_folder)
    _train(window, qtbot, epochs=1)
    for box in (look.cls, look.fool.target):
        assert [box.itemText(k) for k in range(1, box.count())] == list(CLASSES)
    assert [look.goal.itemText(k) for k in range(3)] == [f"the score of {c}" for c in CLASSES]


def test_a_folder_trains_a_colour_network_and_names_what_it_skipped(trained, colour_folder):
    s, train = trained.session, trained.train
    net = s.network
    assert net.classes[:3] == CLASSES and net.classes[3] == "(unused)" and net.dataset == "my pictures"
    assert net.signature.fit == "picture"
    notes = train.controls.data.notes
    assert notes.isVisibleTo(train) and "green/broken.png" in notes.text() and "Skipped 1 picture" in notes.text()
    data = train.controls.data
    assert not data.download_bar.isVisibleTo(train)                       # "reading pictures: 41 of 41" went
    assert not data.count.isVisibleTo(train) and data.count_all.isVisibleTo(train)    # not a greyed 6,000
    files = len(list(colour_folder.rglob('*.*'))) - 1                     # (notes.txt is no picture)
    assert data.count_all.text() == f"all {files - 1} readable in the folder, of {files}"   # (broken.png)
    assert "red/notes.txt" in notes.text() and str(colour_folder) not in notes.text()   # named from the folder on
    X, y, name = s.sample_set()                                            # held-out pictures are the samples
    assert X.shape[1:] == (3, 32, 32) and len(X) == round(0.15 * 41) and name == "held-out pictures of my pictures"
    train.bottom_tabs.setCurrentWidget(train.confusion)
    ticks = [t.strip() for _, t in train.confusion.getPlotItem().getAxis("left")._tickLevels[0]]
    assert ticks[:3] == [f"{i} {c}" for i, c in enumerate(CLASSES)]
    live = train.live
    assert any(t.kind == "colour" and t.key == "L0.W" for t in live.tiles())   # the filters as colour patches
    from cnnapp.views.train_results import GALLERY_MAX
    gallery, r = train.gallery, s.result                                   # mistakes by their classes' names
    train.bottom_tabs.setCurrentWidget(train.gallery_page)
    shown = [gallery.item(k).text() for k in range(gallery.count())]
    assert r.mistakes and len(shown) == min(r.mistakes, GALLERY_MAX) and all("\n→ " in t for t in shown)
    count = train.results.gallery_count.text()                       # how many there are, beside the first 60
    assert f"{r.mistakes:,} held-out picture" in count and (("first 60" in count) == (r.mistakes > GALLERY_MAX))
    assert all(t.split("\n→ ")[0] in CLASSES + ("(unused)",) for t in shown)      # a name to a line: none cut
    assert gallery.gridSize().width() >= gallery.fontMetrics().horizontalAdvance("→ green")
    assert data.set_picture_folder(colour_folder)                          # chosen again: not read yet
    assert data.count_all.text() == f"all {files} in the folder"


def test_backprop_shows_the_picture_its_planes_and_colour_filters(trained, qtbot):
    s, bp = trained.session, trained.backprop
    trained.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: s.trace is not None, timeout=10000)
    tr = s.trace
    assert tr.arrays["input"].shape == (1, 3, 32, 32) and s.trace_picture.origin == "sample"
    grid = bp.maps.grid
    x_tiles = [t for t in grid.tiles() if t.key == "L0.x"]
    assert [t.kind for t in x_tiles] == ["colour", "plane", "plane", "plane"]
    assert [t.label for t in x_tiles[1:]] == ["channel 0 (R)", "channel 1 (G)", "channel 2 (B)"]
    colour_item = grid.map_items()[grid.tiles().index(x_tiles[0])]
    assert colour_item.image.shape == (32, 32, 3)                        # drawn in colour, as the picture is
    np.testing.assert_array_equal(colour_item.image[..., 1], np.rint(tr.arrays["input"][0, 1] * 255))
    w_tiles = [t for t in grid.tiles() if t.key == "L0.W"]
    assert sum(t.kind == "colour" for t in w_tiles) == 4 and len(w_tiles) == 4 * 4
    assert "R, G and B planes" in bp.explanation.text()


def test_the_true_class_is_one_of_the_classes_the_network_learnt(trained, qtbot):
    """The Backprop tab offered "5 (unused)" as a true class, and took it (loss 23.1; the Look tab then
    said "it is (unused)"). Only the folder's classes are offered, and the session refuses the others."""
    s, bp = trained.session, trained.backprop
    trained.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: s.trace is not None, timeout=10000)
    box = bp.label_combo
    assert [box.itemText(k) for k in range(box.count())] == [f"{i} {c}" for i, c in enumerate(CLASSES)]
    assert [box.itemData(k) for k in range(box.count())] == [0, 1, 2]
    with pytest.raises(ValueError, match="no class uses"):
        s.set_label(5)
    box.activated.emit(2)                                  # the third item is class 2
    assert s.picture.label == 2 and box.currentIndex() == 2


def test_a_first_conv_z_is_the_sum_over_the_three_planes(trained, qtbot):
    s, bp = trained.session, trained.backprop
    trained.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: s.trace is not None, timeout=10000)
    z = s.trace.arrays["L0.z"]
    index = (0, 1) + tuple(int(v) for v in np.unravel_index(np.argmax(np.abs(z[0, 1])), z.shape[2:]))
    s.select_element("L0.z", index)
    bd = bp.arithmetic.breakdown
    planes = {src.index[1] for t in bd.terms for src in t.sources if src is not None and src.array == "L0.x"}
    assert planes == {0, 1, 2}
    assert bd.error is not None and bd.error < 1e-4
    table = bp.arithmetic.table
    column = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert {c[-3:] for c in column if c.startswith("w(")} == {"[R]", "[G]", "[B]"}
    for t in bd.terms:                                    # each product's plane is its input's channel m
        m = next((src.index[1] for src in t.sources if src is not None and src.array == "L0.x"), None)
        assert (m is None) == t.label.startswith("b(") and (m is None or t.label.endswith(f"[{'RGB'[m]}]"))
    grid = bp.maps.grid                                   # each source framed where it is drawn
    for key in ("L0.W", "L0.x"):
        cells = {src.index for t in bd.terms for src in t.sources if src is not None and src.array == key}
        rects = {tuple(grid.scene_rect_of(key, i).getRect()) for i in cells if grid.scene_rect_of(key, i)}
        assert len(cells) == 27 and len(rects) == 27, (key, len(rects))    # (all 27 drew on one cell)
    notes = bp.arithmetic.notes.text()
    assert "R, G and B planes" in notes
    for m, name in enumerate("RGB"):                      # each plane's subtotal, as the notes say it
        sub = sum(t.value for t in bd.terms if t.label.endswith(f"[{name}]"))
        assert f"{name} (m = {m}): {num(sub).strip('()')} from 9 terms" in notes
    shown = bp.maps.grid.mark_elements(s.element, bd.sources())           # every plane's window outlined
    assert shown >= 3


def test_predict_questions_and_the_identities_on_three_channels(trained, qtbot):
    from cnncore import predict
    s, bp = trained.session, trained.backprop
    trained.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: s.trace is not None, timeout=10000)
    tr = s.trace
    forward = next(k for k, st in enumerate(tr.steps) if st.kind == "forward" and st.layer == 0)
    rng = np.random.default_rng(0)
    q = predict.question_at(tr, forward, "z", (0, 2, 3, 4))              # a z of the first conv: 27 products
    assert q is not None and q.key == "L0.z"
    assert {g.split(" = ")[0][-3:] for g in q.given if g.startswith("w(")} == {"[R]", "[G]", "[B]"}
    bp.maps.predict_button.setChecked(True)
    bp._rng = rng
    s.stepper.index = forward
    asked = bp.maps.predict.question
    assert asked is not None
    right = str(asked.answer) if not asked.is_choice else str(int(asked.answer) + asked.first)
    bp.maps.predict.answer.clear()
    qtbot.keyClicks(bp.maps.predict.answer, right)
    qtbot.keyClick(bp.maps.predict.answer, QtCore.Qt.Key_Return)
    assert bp.maps.predict.verdict.text().startswith("Right")
    bp.maps.predict_button.setChecked(False)
    backward = next(k for k, st in enumerate(tr.steps) if st.kind == "backward" and st.layer == 0)
    s.stepper.index = backward
    bp.maps.identity_button.setChecked(True)
    qtbot.waitUntil(lambda: bp.maps.identity is not None, timeout=5000)
    ident = bp.maps.identity
    assert bp.maps.map_stack.currentWidget() is ident and ident._sources[ident.source.currentIndex()] == ("trace", 0)
    assert ident.maps["x_padded"].shape[-3] == 3                          # the picture's three planes, padded
    np.testing.assert_allclose(ident.maps["dw_diff"], 0, atol=1e-5)       # the textbook dW is the kernels' dW


def test_look_pages_run_in_colour_on_a_held_out_picture(trained, qtbot):
    s = trained.session
    trained.tabs.setCurrentWidget(trained.look)
    look = trained.look.ensure()
    qtbot.waitUntil(lambda: look.gradients is not None and not look.look_job.busy(), timeout=20000)
    assert s.picture is not None and s.picture.shape == (3, 32, 32)
    assert [look.cls.itemText(k) for k in (1, 2, 3)] == list(CLASSES)     # whose score: by the classes' names
    where = look.where
    assert where.seen.image.image.shape == (32, 32, 3) and where.saliency_abs.image.image.shape == (32, 32, 3)
    assert where.saliency_abs.values.shape == (3, 32, 32)
    assert look.gradients[0].saliency.shape == (3, 32, 32)
    g = look.gradients[0].saliency                  # each caption the largest number of its own panel
    c = look.gradients[0].cls
    assert where.saliency.caption.text() == (f"largest |∂z_{c}/∂R + ∂z_{c}/∂G + ∂z_{c}/∂B| = "
                                             f"{np.abs(g.sum(axis=0)).max():.3g}")
    assert where.saliency_abs.caption.text().endswith(f"of a level = {np.abs(g).max():.3g}")
    assert any(p.isVisible() and p.image.image.shape == (32, 32, 3) for p in where.cam_panels)
    look.inner.setCurrentWidget(look.fool)
    qtbot.waitUntil(lambda: look.attack_result is not None and not look.attack_job.busy(), timeout=30000)
    a = look.attack_result
    assert a.image.shape == (3, 32, 32) and np.abs(a.change).max() <= a.epsilon + 1e-6
    assert look.fool.fooled.image.image.shape == (32, 32, 3) and look.fool.change.image.image.shape == (32, 32, 3)
    from cnnapp.views.look_pages import _eps
    assert look.fool.change.caption.text() == (f"levels changed by at most ±{_eps(np.abs(a.change).max())} "
                                               f"(budget ±{_eps(a.epsilon)})")
    look.inner.setCurrentWidget(look.dream)
    frames = []
    look.dream.dream_panel.image.sigImageChanged.connect(lambda: frames.append(look.dream.dream_panel.image.image))
    look.dream.goal.setCurrentIndex(0)
    look.toggle_dream()
    assert look.dream.dream_panel.title.text() == f"Painting for {CLASSES[0]}"      # a class by its name
    qtbot.waitUntil(lambda: len(frames) >= 2, timeout=20000)
    look.toggle_dream()
    qtbot.waitUntil(lambda: not look.dream_running(), timeout=20000)
    assert frames[-1].shape == (32, 32, 3)


def test_draw_offers_a_picture_of_your_own_with_the_live_prediction(trained, qtbot, tmp_path):
    from PIL import Image
    draw, s = trained.draw, trained.session
    trained.tabs.setCurrentWidget(draw)
    assert draw.left.currentWidget() is draw.picture_page and not draw.my_digits.isVisibleTo(draw)
    assert "The Draw tab is for digits" in draw.picture_page.note.text() and "3×32×32" in draw.picture_page.note.text()
    path = tmp_path / "mine.png"
    Image.fromarray(_picture(np.random.default_rng(1), 0, (90, 60))).save(path)     # a red one
    from cnnapp.widgets.open_picture import open_picture_file
    assert open_picture_file(s, path)
    assert s.picture.origin == "opened" and s.picture.shape == (3, 32, 32)
    p = draw.probs.probabilities()
    assert p.sum() == pytest.approx(1, abs=1e-5)
    assert any(name in draw.answer.text() for name in CLASSES)
    ticks = [t.strip() for _, t in draw.probs.getPlotItem().getAxis("bottom")._tickLevels[0]]
    assert ticks[:3] == list(CLASSES)
    from cnnapp.widgets.open_picture import paste_picture
    image = QtGui.QImage(str(path))
    assert paste_picture(s, image) and s.picture.what == "the picture on the clipboard"
    (tmp_path / "bad.png").write_bytes(b"no")
    said = []
    s.message.connect(lambda text, ms: said.append(text))
    assert not open_picture_file(s, tmp_path / "bad.png")
    # named by the file's name, not its whole path (the reason was cut at 1024 px, behind the folders)
    assert said[-1].startswith("Could not use bad.png: ") and str(tmp_path) not in said[-1] and "\n" not in said[-1]
    bp = trained.backprop                                                  # the Backprop tab traces it
    trained.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: s.trace is not None, timeout=10000)
    assert s.trace_picture is s.picture and bp.source.currentText() == "A picture you opened"
    assert "no true class given" in bp.info.text() and "true class <b>" not in bp.info.text()
    trained.tabs.setCurrentWidget(trained.look)                           # and the Look tab looks at it
    look = trained.look.ensure()
    qtbot.waitUntil(lambda: look.gradients is not None and not look.look_job.busy(), timeout=20000)
    assert look.input_pages.currentIndex() == 1 and look.picture_panel.image.image.shape == (32, 32, 3)
    np.testing.assert_array_equal(look.current_input(), s.picture.image)
    assert look.picture_panel.caption.text() == ("the picture on the clipboard: the middle 60×60 of its 60×90 pixels, "
                                                 "scaled down to 32×32")


def test_a_colour_model_file_opens_and_the_tabs_say_how_to_get_a_picture(window, qtbot, tmp_path):
    from cnncore.architecture import preset
    from cnncore.modelio import save_model
    from cnncore.network import Network
    save_model(tmp_path / "colour.npz", Network(preset("cifar"), seed=0))
    said = []
    window.session.message.connect(lambda text, ms: said.append(text))
    assert window.open_model(tmp_path / "colour.npz")
    assert window.session.input_shape == (3, 32, 32)
    bp = window.backprop
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: "Open a picture" in bp.info.text(), timeout=5000)      # no samples before a run
    assert "train the network" in bp.info.text()
    assert "b00020" not in bp.info.text() and not any("Could not record" in t for t in said)   # not a failure
    assert not bp.record() and "b00020" in bp.info.text() and "Could not record" in said[-1]  # asked for: it is
    assert not bp.sample_spin.isEnabled()
    assert window.train.batch.maximum() < 1024                             # the cifar preset's memory limit
    from cnncore.architecture import check_batch
    check_batch(window.session.network.spec, window.train.batch.maximum(), 4, 50_000)
    with pytest.raises(Exception):
        check_batch(window.session.network.spec, 1024, 4, 50_000)


@pytest.mark.parametrize("classes, source", [(("cat", "dog"), "folder"), (None, "cifar10")])
def test_a_model_learnt_from_a_folder_named_like_a_data_set_brings_the_folder(window, tmp_path, classes, source):
    """A folder named "CIFAR-10" (of two classes of the student's) gave its model the data set's name,
    and opening the model picked the CIFAR-10 source: a source is known by its name and its classes."""
    from cnncore.architecture import preset
    from cnncore.datasets.folder import model_classes
    from cnncore.datasets.sources import source as data_source
    from cnncore.modelio import save_model
    from cnncore.network import Network
    net = Network(preset("cifar"), seed=0)
    net.learns(model_classes(classes) if classes else data_source("cifar10").classes, "CIFAR-10")
    save_model(tmp_path / "m.npz", net)
    data = window.train.controls.data
    data.source.setCurrentIndex(0)
    assert window.open_model(tmp_path / "m.npz") and data.key() == source


def test_a_folder_no_network_can_learn_from_is_refused_when_picked_and_when_restored(window, colour_folder):
    """A folder of one class was taken ("1 classes, 14 pictures") and refused only at Start, as
    "Stopped: could not start"; one that became unusable by the next start was dropped without a word."""
    import shutil
    said = []
    window.session.message.connect(lambda text, ms: said.append(text))
    data = window.train.controls.data
    one = colour_folder.parent / "one class"
    shutil.copytree(colour_folder / "red", one / "red")
    assert not data.set_picture_folder(one) and "only one class (red)" in said[-1]
    assert data.picture_folder is None and "1 classes" not in data.folder_button.text()
    empty = colour_folder.parent / "empty class"
    shutil.copytree(colour_folder / "red", empty / "red")
    (empty / "blue").mkdir()
    assert not data.set_picture_folder(empty) and "blue holds no pictures" in said[-1]
    assert data.set_picture_folder(colour_folder)
    shutil.rmtree(colour_folder / "green")
    shutil.rmtree(colour_folder / "blue")
    window.train.controls.apply_settings({"source": "folder", "folder": str(colour_folder)})
    assert said[-1].startswith("The folder of pictures chosen last time cannot be used now") and "only one" in said[-1]
    # (the source stays a folder, with a note that stays: a colour network fell back on grey digits)
    assert data.key() == "folder" and "cannot be used now" in data.notes.text() and not data.notes.isHidden()


def test_build_offers_the_colour_preset_and_inputs_larger_than_28(window):
    build = window.build
    build.confirm = lambda text: True                 # the starter model's trained weights may go
    assert build.preset_combo.findText("cifar") >= 0
    ed = build.editor
    ed.in_sides[0].setValue(64)
    ed.in_sides[1].setValue(64)
    ed.channels.setCurrentIndex(ed.channels.findData(3))
    assert ed.spec()["input"] == [3, 64, 64] and ed.valid(), ed.problem()
    from cnnapp.widgets.arch_editor import COLS
    kernel = ed.table.open_cell(ed.table.model().index(0, COLS.index("Kernel / size")))
    assert kernel.accessibleName() == "layer 0 kernel" and kernel.maximum() >= 64
    assert build.apply() and window.session.input_shape == (3, 64, 64)
    assert window.draw.left.currentWidget() is window.draw.picture_page


def test_a_colour_source_says_the_network_must_take_its_pictures_and_switches(window, qtbot):
    from cnncore.architecture import preset
    from cnncore.network import Network
    window.session.set_network(Network(preset("lenet"), seed=0), "lenet", trained=False)
    train = window.train
    train.source.setCurrentIndex(train.source.findData("cifar10"))
    data = train.controls.data
    assert data.fit_note.isVisibleTo(train) and "colour (RGB) 32×32" in data.fit_note.text()
    assert data.preset_button.isVisibleTo(train) and data.preset_button.text() == "Use the cifar preset"
    said = []
    window.session.message.connect(lambda text, ms: said.append(text))
    assert not train.start()                                  # refused before any download, saying what to do
    assert "cifar preset" in said[-1] and train.controller.dl_thread is None
    data.preset_button.click()
    assert window.session.input_shape == (3, 32, 32) and not data.fit_note.isVisibleTo(train)
    assert train.epochs.value() == 15 and train.controls.flip.isChecked() and train.controls.shift.value() == 2
    assert "Krizhevsky" in train.source.itemData(train.source.currentIndex(), QtCore.Qt.ToolTipRole)
    assert "Krizhevsky" in window.about_text()


@pytest.fixture
def cifar_server(tmp_path, monkeypatch):
    """A loopback server with a small CIFAR-10 archive (7 records a batch) and its md5."""
    import http.server
    import threading
    from functools import partial

    from cnncore.datasets import cifar
    from test_cifar import RECORDS, _archive, _good_members
    monkeypatch.setattr(cifar, "_BATCH_RECORDS", RECORDS)
    www = tmp_path / "www"
    www.mkdir()
    data = _archive(_good_members()[0])
    (www / cifar.CIFAR10.filename).write_bytes(data)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(
        type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None}), directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/{cifar.CIFAR10.filename}", hashlib.md5(data).hexdigest()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_cifar10_downloads_with_progress_and_trains(window, qtbot, cifar_server):
    url, md5 = cifar_server
    _tiny_colour(window)
    train = window.train
    train.source.setCurrentIndex(train.source.findData("cifar10"))
    real = train.controller.download
    train.controller.download = lambda key, **kw: real(key, mirrors=[url], checksums=md5)
    shown = []
    train.download_bar.valueChanged.connect(shown.append)
    with qtbot.waitSignal(train.trainingFinished, timeout=60000) as blocker:
        train.epochs.setValue(1)
        assert not train.start()                  # first the download, then the training
    assert blocker.args[0].reason == "done" and shown
    assert "CIFAR-10 is ready" in train.download_bar.format()
    net = window.session.network
    assert net.dataset == "CIFAR-10" and net.classes[3] == "cat"
    assert window.session.sample_set()[2] == "held-out pictures of CIFAR-10"


def test_cifar10_from_a_copy_on_this_computer_trains_offline(window, qtbot, tmp_path, monkeypatch):
    """No network: "Use a copy on this computer…" keeps a teacher's copy of the archive (checked, as a
    download is) and the run starts without a download."""
    from dataclasses import replace

    from cnncore.datasets import cifar
    from test_cifar import RECORDS, _archive, _good_members
    monkeypatch.setattr(cifar, "_BATCH_RECORDS", RECORDS)
    data = _archive(_good_members()[0])
    monkeypatch.setattr(cifar, "CIFAR10", replace(cifar.CIFAR10, md5=hashlib.md5(data).hexdigest(), size=len(data),
                                                  urls=("http://127.0.0.1:9/never",)))
    copy = tmp_path / "usb" / "cifar-10-binary.tar.gz"
    copy.parent.mkdir()
    copy.write_bytes(data)
    _tiny_colour(window)
    train = window.train
    window.tabs.setCurrentWidget(train)
    box = train.controls.data
    train.source.setCurrentIndex(train.source.findData("folder"))
    assert not box.archive_button.isVisible()
    train.source.setCurrentIndex(train.source.findData("cifar10"))
    assert box.archive_button.isVisible()
    notes = tmp_path / "usb" / "notes.txt"
    notes.write_text("not the archive")
    chosen = [notes]
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(chosen[0]), ""))
    with qtbot.waitSignal(train.controller.downloadFailed, timeout=20000) as failed:
        qtbot.mouseClick(box.archive_button, QtCore.Qt.LeftButton)
    assert failed.args[0].startswith(f"Could not use the copy: {notes} is not CIFAR-10's binary archive")
    qtbot.waitUntil(lambda: train.dl_thread is None, timeout=5000)
    chosen[0] = copy
    with qtbot.waitSignal(train.controller.downloaded, timeout=20000):
        qtbot.mouseClick(box.archive_button, QtCore.Qt.LeftButton)
    assert f"copied from {copy}" in window.statusBar().currentMessage()
    with qtbot.waitSignal(train.trainingFinished, timeout=60000) as blocker:
        train.epochs.setValue(1)
        assert train.start()                      # no download first: the copy is kept
        assert not box.archive_button.isEnabled()     # not while a run reads the archive
    assert blocker.args[0].reason == "done" and window.session.network.dataset == "CIFAR-10"
    assert not box.archive_button.isHidden() and copy.read_bytes() == data


def test_cifar10_offline_offers_the_download_again_or_a_folder(window, qtbot):
    _tiny_colour(window)
    train = window.train
    train.source.setCurrentIndex(train.source.findData("cifar10"))
    with qtbot.waitSignal(window.session.message, timeout=20000,
                          check_params_cb=lambda text, ms: "Could not download CIFAR-10" in text):
        train.controller.download("cifar10", mirrors=["http://127.0.0.1:9/cifar-10-binary.tar.gz"])
    qtbot.waitUntil(lambda: train.dl_thread is None, timeout=20000)
    assert "A folder of pictures" in train.eta.text()


def test_real_cifar10_pictures_train_and_trace(window, qtbot, shared_cifar, tmp_path, monkeypatch):
    """The shared 4,660 real CIFAR-10 pictures, served as the archive: the app trains the tiny colour
    network on them and traces a held-out one (skipped, saying why, where they are absent)."""
    import gzip
    import http.server
    import tarfile
    import threading
    from functools import partial

    from cnncore.datasets import cifar
    from conftest import SHARED_CIFAR_FILE
    records = gzip.decompress(SHARED_CIFAR_FILE.read_bytes())
    per = len(records) // cifar.RECORD_BYTES // 5
    monkeypatch.setattr(cifar, "_BATCH_RECORDS", per)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tf:
        for k, name in enumerate(cifar.CIFAR10.members["train"] + cifar.CIFAR10.members["test"]):
            chunk = records[(k % 5) * per * cifar.RECORD_BYTES:((k % 5) + 1) * per * cifar.RECORD_BYTES]
            info = tarfile.TarInfo(name)
            info.size = len(chunk)
            tf.addfile(info, io.BytesIO(chunk))
    (tmp_path / cifar.CIFAR10.filename).write_bytes(buf.getvalue())
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(
        type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None}),
        directory=str(tmp_path)))
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        _tiny_colour(window)
        train = window.train
        train.source.setCurrentIndex(train.source.findData("cifar10"))
        url = f"http://127.0.0.1:{httpd.server_address[1]}/{cifar.CIFAR10.filename}"
        real = train.controller.download
        train.controller.download = lambda key, **kw: real(key, mirrors=[url],
                                                            checksums=hashlib.md5(buf.getvalue()).hexdigest())
        with qtbot.waitSignal(train.trainingFinished, timeout=120000) as blocker:
            train.epochs.setValue(2)
            assert not train.start()
        assert blocker.args[0].reason == "done"
        X, y, _ = window.session.sample_set()
        assert len(X) == round(0.15 * 5 * per)
        bp = window.backprop
        window.tabs.setCurrentWidget(bp)
        qtbot.waitUntil(lambda: window.session.trace is not None, timeout=10000)
        p = window.session.trace_picture
        assert np.array_equal(np.rint(p.image * 255).astype(np.uint8), X[p.index])
        assert "true class <b>" in bp.info.text()
    finally:
        httpd.shutdown()
        httpd.server_close()


# ----------------------------------------------------------------------------- the small screen, the quiz

def _text_items_inside(grid) -> list:
    """The maps' visible words whose right end lies past the maps' width (cut off)."""
    width = grid.view.width()
    return [t.text() for t in grid._texts if t.isVisible() and t.sceneBoundingRect().right() > width + 1]


def test_at_1024_by_640_the_titles_and_the_three_plane_sum_are_in_view(trained, qtbot):
    """The colour titles were cut at the maps' edge; the sum of a clicked z sat below the step's words."""
    s, bp = trained.session, trained.backprop
    trained.resize(1024, 640)
    trained.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: s.trace is not None, timeout=10000)
    s.stepper.index = next(k for k, st in enumerate(s.trace.steps) if st.kind == "forward" and st.layer == 0)
    qtbot.wait(50)
    grid = bp.maps.grid
    assert _text_items_inside(grid) == []
    view = bp.text_scroll.viewport()
    top = lambda: bp.arithmetic.mapTo(view, QtCore.QPoint(0, 0)).y()      # noqa: E731
    assert top() > view.height() // 2                                   # below the step's long words
    s.select_element("L0.z", (0, 1, 5, 5))
    qtbot.waitUntil(lambda: 0 <= top() < view.height() // 2, timeout=3000)
    assert bp.arithmetic.table.rowCount() == 28 and not bp.arithmetic.table.visibleRegion().isEmpty()
    s.stepper.next()                                                    # the next step's words from their start
    assert bp.text_scroll.verticalScrollBar().value() == 0


def _quiz_about_the_first_conv(window, qtbot):
    """Quiz me on the first conv's forward step: the question the Learn tab then shows."""
    s, bp = window.session, window.backprop
    window.tabs.setCurrentWidget(bp)
    qtbot.waitUntil(lambda: s.trace is not None, timeout=10000)
    s.stepper.index = next(k for k, st in enumerate(s.trace.steps) if st.kind == "forward" and st.layer == 0)
    bp.nav.quiz_button.click()
    quiz = window.learn.ensure().quiz
    assert window.tabs.currentWidget() is window.learn
    return quiz.questions[quiz.current]


def test_quiz_me_on_the_first_conv_of_a_colour_network_asks_about_the_three_planes(trained, qtbot):
    assert _quiz_about_the_first_conv(trained, qtbot).id == "colour-planes-sum"


def test_quiz_me_on_a_grey_first_conv_asks_another_question_first(window, qtbot):
    q = _quiz_about_the_first_conv(window, qtbot)
    assert q.step == "forward conv" and q.id != "colour-planes-sum"


# ----------------------------------------------------------------------------- transitions

def _open_saved(window, tmp_path, name, net) -> None:
    from cnncore.modelio import save_model
    save_model(tmp_path / name, net)
    assert window.open_model(tmp_path / name)


def test_a_colour_model_after_a_grey_one_and_back_every_tab_follows(window, qtbot, tmp_path):
    """One session: opening a model changes what every tab shows (Draw's page, Look's input, Backprop's
    choices and trace, the Train tab's source), and back again."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    s, bp, draw, train = window.session, window.backprop, window.draw, window.train
    look = window.look.ensure()

    def drawing_offered():
        return bp.source.model().item(bp.source.findText("Your drawing")).isEnabled()

    def traced(shape):
        window.tabs.setCurrentWidget(bp)
        qtbot.waitUntil(lambda: s.trace is not None, timeout=10000)
        assert s.trace.arrays["input"].shape == shape

    traced((1, 1, 28, 28))
    grey = s.network
    for shape, net in (((3, 32, 32), Network(preset("cifar"), seed=0)), ((1, 28, 28), grey),
                       ((3, 32, 32), Network(preset("cifar"), seed=1))):
        colour = shape[0] == 3
        _open_saved(window, tmp_path, f"m{id(net)}.npz", net)
        assert s.input_shape == shape and s.trace is None                  # the old model's trace went
        assert (draw.left.currentWidget() is draw.picture_page) == colour
        assert look.input_pages.currentIndex() == (1 if colour else 0)
        assert drawing_offered() == (not colour)
        assert train.source.currentData() == ("cifar10" if colour else "generated")
        assert not train.controls.data.fit_note.isVisibleTo(train)
        if colour:                                                        # no samples: a picture of one's own
            window.tabs.setCurrentWidget(bp)
            qtbot.waitUntil(lambda: "Open a picture" in bp.info.text(), timeout=5000)
            from cnnapp.widgets.open_picture import paste_picture
            image = QtGui.QImage(40, 30, QtGui.QImage.Format_RGB888)
            image.fill(QtGui.QColor(200, 30, 30))
            assert paste_picture(s, image)
        traced((1,) + shape)


def test_stop_a_colour_run_midway_and_look_at_other_tabs_meanwhile(window, qtbot, colour_folder):
    """During a run the tabs look at the network as it trains (a copy); Stop ends the run at once."""
    _tiny_colour(window)
    s, train = window.session, window.train
    train.source.setCurrentIndex(train.source.findData("folder"))
    assert train.controls.set_picture_folder(colour_folder)
    train.epochs.setValue(500)
    with qtbot.waitSignal(train.trainingStarted, timeout=20000):
        assert train.start()
    qtbot.waitUntil(lambda: s.samples.for_network(s.view_network()).X.shape[0] > 0, timeout=30000)
    assert s.training
    window.tabs.setCurrentWidget(window.backprop)                         # a held-out picture, traced
    qtbot.waitUntil(lambda: s.trace is not None, timeout=20000)
    assert s.trace.arrays["input"].shape == (1, 3, 32, 32)
    window.tabs.setCurrentWidget(window.look)
    look = window.look.ensure()
    qtbot.waitUntil(lambda: look.gradients is not None and not look.look_job.busy(), timeout=20000)
    assert look.gradients[0].saliency.shape == (3, 32, 32)
    window.tabs.setCurrentWidget(window.draw)
    assert window.draw.probs.probabilities() is not None and s.training
    with qtbot.waitSignal(train.trainingFinished, timeout=30000) as blocker:
        train.stop()
    assert blocker.args[0].reason == "stopped" and not s.training
    assert s.network.classes[:3] == CLASSES and s.input_shape == (3, 32, 32)
    assert train.controls.start_button.isEnabled() and train.source.isEnabled()


def test_a_restart_remembers_the_colour_network_its_source_and_folder(qtbot, colour_folder):
    """The settings keep the source (and a folder of pictures' folder), the session the network; a
    remembered CIFAR-10 starts no download until Start is pressed (offline-safe at start)."""
    from cnnapp.main_window import MainWindow
    w = MainWindow(load_settings=False)
    qtbot.addWidget(w)
    _tiny_colour(w)
    w.train.source.setCurrentIndex(w.train.source.findData("folder"))
    assert w.train.controls.set_picture_folder(colour_folder)
    w.close()
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert w2.session.input_shape == (3, 32, 32) and w2.draw.left.currentWidget() is w2.draw.picture_page
    assert w2.train.source.currentData() == "folder"
    assert w2.train.controls.data.picture_folder == str(colour_folder)
    assert "3 classes" in w2.train.controls.folder_button.text()
    w2.train.source.setCurrentIndex(w2.train.source.findData("cifar10"))
    w2.close()
    w3 = MainWindow()
    qtbot.addWidget(w3)
    try:
        assert w3.train.source.currentData() == "cifar10" and w3.train.dl_thread is None
        assert w3.session.input_shape == (3, 32, 32) and not w3.train.controls.data.fit_note.isVisibleTo(w3.train)
    finally:
        w3.close()


@pytest.mark.parametrize("spacing", [30, 50, 60, 120, None])
def test_class_names_under_the_bars_never_run_into_each_other(spacing):
    """At 1024 px the Draw tab's bars are about 30 px apart and names on two alternating lines read
    "blue_stripered_circle"; the names now take turns on as many lines as they need (up to 3),
    shortened past that, and the outputs no class uses are left unnamed."""
    from cnnapp.widgets.plots import NAME_ROWS, class_ticks
    width = lambda t: 7 * len(t)                               # noqa: E731 - 7 px a character
    classes = ("blue_stripe", "green_square", "red_circle") + ("(unused)",) * 7
    (ticks,), rows = class_ticks(classes, spacing, width)
    assert rows == {30: 3, 50: 2, 60: 2, 120: 1, None: 2}[spacing] and rows <= NAME_ROWS
    names = [t.split("\n")[-1] for _, t in ticks]
    assert names[3:] == [""] * 7 and [t.count("\n") for _, t in ticks] == [i % rows for i in range(10)]
    if spacing is not None:
        for i in range(10 - rows):                             # the next name on the same line
            assert (width(names[i]) + width(names[i + rows])) / 2 + 8 <= rows * spacing
    assert names[1] == ("green_squa…" if spacing == 30 else "green_square")       # (82 px of room)
    assert class_ticks([str(d) for d in range(10)], 30, width)[1] == 1


def test_the_bars_are_the_classes_a_network_has_each_with_its_room(qtbot):
    """A network of three classes had ten bars, seven of them unnamed, and its names had a tenth of
    the plot each ("blue triang…"): one bar a class now, the winner in the accent colour, and an
    unused output's probability nowhere."""
    from cnnapp.widgets.plots import ProbabilityPlot
    plot = ProbabilityPlot()
    qtbot.addWidget(plot)
    plot.resize(300, 200)
    plot.set_classes(("blue triangle", "green square", "red circle") + ("(unused)",) * 7, "class")
    p = np.array([0.1, 0.7, 0.15] + [0.05 / 7] * 7)
    plot.set_probabilities(p)
    x, heights = plot._bars.opts["x"], plot._bars.opts["height"]
    assert list(x) == [0, 1, 2] and np.allclose(heights, p[:3])
    colours = [b.color().name() for b in plot._bars.opts["brushes"]]
    assert colours[1] != colours[0] == colours[2] and plot._text.toPlainText() == "70%"
    (lo, hi), _ = plot.getPlotItem().vb.viewRange()
    assert lo < 0 < 2 < hi < 4
    names = [t.strip() for _, t in plot.getPlotItem().getAxis("bottom")._tickLevels[0]]
    assert names == ["blue triangle", "green square", "red circle"]     # whole: 90 px of room each
    plot.set_probabilities(np.eye(10)[6])                   # an unused output wins: no bar is the answer
    assert plot._text.toPlainText() == "" and not plot._text.isVisible()
    assert np.allclose(plot._bars.opts["height"], 0)
    plot.set_classes([str(d) for d in range(10)])
    assert list(plot._bars.opts["x"]) == list(range(10)) and np.allclose(plot._bars.opts["height"], 0)


def test_a_trained_model_brings_the_source_it_learnt_from_an_untrained_one_keeps_the_choice(window):
    """A digit model opened after one of a folder's colour pictures kept "A folder of pictures" (any
    network takes a folder's pictures), and Start asked for a folder."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    s, train = window.session, window.train
    colour = Network(preset("cifar"), seed=0)
    colour.learns(("cat", "dog") + ("(unused)",) * 8, "my pictures")
    s.set_network(colour, "opened from pets.npz", trained=True)
    assert train.source.currentData() == "folder"
    s.set_network(Network(preset("tiny"), seed=0), "opened from m.npz", trained=True)      # digits
    assert train.source.currentData() == "generated"
    train.source.setCurrentIndex(train.source.findData("drawings"))
    s.set_network(Network(preset("lenet"), seed=0), "opened from n.npz", trained=True)     # digits again
    assert train.source.currentData() == "drawings"                  # a digit source: kept
    train.source.setCurrentIndex(train.source.findData("folder"))
    s.set_network(Network(preset("cifar"), seed=2), "a network built on the Build tab", trained=False)
    assert train.source.currentData() == "folder"                    # untrained: the learner's choice


def test_look_with_no_picture_yet_says_so_where_the_picture_goes_not_as_an_error(window, qtbot):
    """A colour network with nothing to look at: the status bar said "Look: There are no pictures …" the
    moment the tab showed, as if something had failed."""
    _tiny_colour(window)
    window.statusBar().clearMessage()
    window.tabs.setCurrentWidget(window.look)
    look = window.look.ensure()
    qtbot.waitUntil(lambda: "no pictures" in look.picture_panel.caption.text(), timeout=3000)
    assert "Look:" not in window.statusBar().currentMessage()
    assert not look.sample_button.isEnabled()


def test_a_grey_network_trained_on_a_folder_shows_the_maps_of_one_of_its_pictures(window, qtbot, colour_folder,
                                                                                  monkeypatch):
    """The grey 28×28 network trained on a folder of shapes showed "sample input (28 × 28)" as a digit
    drawn on the Draw tab, during the run and after: a run on pictures that are not digits shows the
    maps of its first held-out picture."""
    train = window.train
    assert window.session.takes_drawings                     # the starter network: grey 28×28 digits
    train.source.setCurrentIndex(train.source.findData("folder"))
    assert train.controls.set_picture_folder(colour_folder)
    samples, start = [], train.controller.start
    monkeypatch.setattr(train.controller, "start",
                        lambda loader, config, sample, choice: (samples.append(sample),
                                                                start(loader, config, sample, choice))[1])
    _train(window, qtbot, epochs=1)
    assert samples == [None]
    train.source.setCurrentIndex(train.source.findData("generated"))
    asked = []
    train.confirm = lambda text: asked.append(text) or True   # it learnt blue, green, red: asked first
    _train(window, qtbot, epochs=1)
    assert len(samples) == 2 and samples[1] is not None       # digits: the drawing (or a generated digit)
    assert asked and "learnt blue, green, red" in asked[0] and "(0, 1, 2, 3 and 6 more)" in asked[0]


def test_a_run_that_could_not_read_its_folder_takes_its_reading_bar_away(window, qtbot, colour_folder):
    """A tour: a class folder of empty files was taken, Start said "Stopped: could not start: … no picture of
    the class folder blue could be read", and "reading pictures: 10 of 10" stayed on screen."""
    for p in (colour_folder / "blue").iterdir():
        p.write_bytes(b"")
    _tiny_colour(window)
    train = window.train
    train.source.setCurrentIndex(train.source.findData("folder"))
    assert train.controls.set_picture_folder(colour_folder)
    said = []
    window.session.message.connect(lambda text, ms: said.append(text))
    with qtbot.waitSignal(train.trainingFinished, timeout=60000):
        assert train.start()
    qtbot.waitUntil(lambda: not train.is_running(), timeout=10000)
    assert any("could not start" in t and "blue" in t for t in said), said
    assert not train.controls.data.download_bar.isVisibleTo(train)


def test_an_output_of_the_network_is_hovered_by_its_class():
    """The logits, probabilities and their gradient were described as "element 3": each is one class's."""
    from cnncore.architecture import UNUSED_CLASS
    from cnncore.network import Network
    from cnncore.trace import trace
    from cnnapp.views.backprop_maps import describe
    spec = {"input": [3, 6, 6], "layers": [{"type": "flatten"}, {"type": "dense", "units": 10, "activation": "none"}]}
    tr = trace(Network(spec, seed=0), np.zeros((3, 6, 6), np.float32), 2)
    names = ("plane", "car", "bird", "cat", "deer", UNUSED_CLASS, "frog", "horse", "ship", "truck")
    for key in ("probs", "L1.y", "L1.dy"):
        assert describe(tr, key, (0, 3), 0.25, names).endswith("(output 3: cat)"), key
    assert describe(tr, "probs", (0, 5), 0.0, names).endswith("(output 5, which no class uses)")
    assert describe(tr, "L0.y", (0, 3), 0.5, names).endswith("(element 3)")       # not an output
    assert describe(tr, "probs", (0, 3), 0.25).endswith("(element 3)")                # no names given


def test_a_trace_file_names_its_outputs_as_its_own_network_did(trained, tmp_path):
    """A trace opened from a file is recorded with its own network: the info line and the hover name its
    outputs as that network named them (the file keeps the names; digits where it kept none), not with the
    session's model's classes (the hover said "car" for a digit trace's output 3)."""
    from cnncore.architecture import preset
    from cnncore.network import Network
    from cnncore.trace import Trace, trace
    from cnnapp.views.backprop_maps import describe
    s = trained.session
    path = tmp_path / "digits.npz"
    trace(Network(preset("tiny"), seed=0), np.zeros((28, 28), np.float32), 3).save(path)
    s.open_trace(Trace.load(path), path.name)
    assert s.trace_classes() == tuple(str(k) for k in range(10))
    assert describe(s.trace, "probs", (0, 3), 0.1, s.trace_classes()).endswith("(output 3: 3)")
    bp = trained.backprop
    bp._on_hover("probs", (0, 3), 0.1)
    assert bp.maps.hover_label.text().endswith("(output 3: 3)")
    other = trained.session.network.copy()          # the same architecture, outputs named otherwise
    named = ("ant", "bee", "cow", "dog", "eel", "fox", "gnu", "hen", "ibis", "jay")
    other.learns(named)
    path = tmp_path / "animals.npz"
    trace(other, np.zeros(other.input_shape, np.float32), 2).save(path)
    s.open_trace(Trace.load(path), path.name)
    from PySide6 import QtWidgets
    info = bp.findChild(QtWidgets.QLabel, "backpropInfo")
    assert s.trace.classes == named and s.trace_classes() == named and "<b>cow</b>" in info.text()
    bp._on_hover("probs", (0, 3), 0.1)
    assert bp.maps.hover_label.text().endswith("(output 3: dog)")


def test_a_grey_network_that_learnt_a_folder_s_pictures_is_offered_pictures_not_the_sheet(window, qtbot,
                                                                                         colour_folder):
    """A grey 28×28 network trained on a folder takes pictures as they are (dark on white stays so), yet
    the Draw tab fed it drawings read as MNIST's (light ink on black), and the Look tab drew its pictures
    as negatives on a "Draw a digit" sheet. It is offered a picture of its own, as a colour network is,
    until it learns digits again."""
    train, draw = window.train, window.draw
    train.source.setCurrentIndex(train.source.findData("folder"))
    assert train.controls.set_picture_folder(colour_folder)
    _train(window, qtbot, epochs=1)
    assert window.session.network.signature.fit == "picture" and window.session.input_shape == (1, 28, 28)
    assert not window.session.takes_drawings
    assert draw.left.currentWidget() is draw.picture_page and not draw.my_digits.isVisibleTo(draw)
    assert "this network learnt from pictures, which it takes as they are" in draw.picture_page.note.text()
    window.tabs.setCurrentWidget(window.look)
    look = window.look.ensure()
    assert look.input_pages.currentIndex() == 1                # a picture, not the sheet
    train.source.setCurrentIndex(train.source.findData("generated"))
    train.confirm = lambda text: True
    _train(window, qtbot, epochs=1)
    assert window.session.takes_drawings and draw.left.currentWidget() is not draw.picture_page
    assert look.input_pages.currentIndex() == 0


def test_a_picture_opened_on_the_draw_tab_of_a_digit_network_is_put_on_its_sheet(window, qtbot, tmp_path,
                                                                                 monkeypatch):
    """File → Open a picture… on the Draw tab of a digit network said "Showing the picture 3.png" over the
    sheet drawn before: the picture was on no tab in sight. It goes on the sheet, the answer with it."""
    from PIL import Image

    from cnncore.datasets.pictures import picture_input
    paper = np.full((120, 90), 235, np.uint8)
    paper[20:100, 40:52] = 30                                   # a dark 1 on grey paper
    Image.fromarray(paper).save(tmp_path / "one.png")
    draw = window.draw
    window.tabs.setCurrentWidget(draw)
    draw.canvas.clear()
    assert window.session.takes_drawings and draw.canvas.is_empty()
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "one.png"), ""))
    action = next(a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "Open a &picture…")
    action.trigger()
    assert window.session.picture.origin == "opened" and not draw.canvas.is_empty()
    wanted = picture_input(tmp_path / "one.png", window.session.network.signature)[0]
    got = draw.network_input()                                 # the sheet's digit is the picture's
    assert np.corrcoef(got.ravel(), wanted.ravel())[0, 1] > 0.8          # (re-fitted from the sheet)
    assert "Draw a digit" not in draw.answer.text()
