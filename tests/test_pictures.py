"""The user's own pictures (issue 23 items 2 and 7): one picture brought to a model's input by one
rule (upright, grey or RGB over white, shorter side scaled, centre cut), whatever its format, mode
and size; a folder of them by class, with every bad input a clear line or a named skip."""
from __future__ import annotations

import os
import struct
import zlib

import subprocess
import sys
import numpy as np
import pytest
from PIL import Image

from cnncore import limits
from cnncore.datasets import folder as folder_module
from cnncore.datasets import pictures
from cnncore.datasets.folder import UNUSED_CLASS, FolderError, load_folder, model_classes, picture_at, scan_folder
from cnncore.datasets.pictures import PictureError, picture_input, read_picture
from cnncore.signature import Signature

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _bands(w: int, h: int, colours, axis: int = 1) -> np.ndarray:
    """An RGB picture (h, w, 3) of equal bands of ``colours`` along ``axis`` (1: left to right)."""
    n = w if axis == 1 else h
    idx = np.minimum(np.arange(n) * len(colours) // n, len(colours) - 1)
    rows = np.array(colours, np.uint8)[idx]
    return np.broadcast_to(rows[None] if axis == 1 else rows[:, None], (h, w, 3)).copy()


def _mode(path) -> str:
    with Image.open(path) as im:
        return im.mode


def _save(path, array, **kw):
    Image.fromarray(array).save(path, **kw)
    return path


# ----------------------------------------------------------------------------- one picture

def test_the_shorter_side_is_scaled_and_the_centre_cut(tmp_path):
    wide = _save(tmp_path / "wide.png", _bands(64, 32, [RED, GREEN, GREEN, BLUE]))
    x = read_picture(wide, (3, 32, 32))            # scale 1: columns 16..47 are kept, all green
    assert x.shape == (3, 32, 32) and x.dtype == np.uint8
    assert (x[1] == 255).all() and (x[0] == 0).all() and (x[2] == 0).all()
    tall = _save(tmp_path / "tall.png", _bands(30, 120, [RED, GREEN, GREEN, BLUE], axis=0))
    x = read_picture(tall, (3, 10, 10))            # scale 1/3: rows 15..44 of 120 → all green again
    assert np.abs(x[1].astype(int) - 255).max() <= 2 and x[0].max() <= 2 and x[2].max() <= 2
    small = _save(tmp_path / "small.png", _bands(8, 8, [RED, BLUE]))
    x = read_picture(small, (3, 32, 32))           # enlarged: left half red, right half blue
    assert x[0, :, :12].min() > 250 and x[2, :, -12:].min() > 250
    odd = read_picture(_save(tmp_path / "odd.png", _bands(50, 70, [GREEN])), (3, 28, 20))
    assert odd.shape == (3, 28, 20) and (odd[1] == 255).all()


def test_grey_and_colour_inputs_from_any_picture(tmp_path):
    rgb = _save(tmp_path / "c.png", _bands(32, 32, [(200, 100, 50)]))
    grey = read_picture(rgb, (1, 32, 32))
    assert grey.shape == (1, 32, 32) and abs(int(grey[0, 0, 0]) - round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)) <= 1
    g = _save(tmp_path / "g.png", np.full((32, 32), 90, np.uint8))
    assert (read_picture(g, (3, 32, 32)) == 90).all()                       # grey to RGB: three equal planes
    with pytest.raises(PictureError, match="4-channel inputs"):
        read_picture(g, (4, 32, 32))


@pytest.mark.parametrize("kind", ["png16", "palette", "alpha", "la", "cmyk", "bmp", "webp", "jpeg", "exif"])
def test_every_kind_of_file_and_mode(tmp_path, kind):
    """16-bit, palette, alpha (over white paper), CMYK, BMP, WebP, JPEG and an EXIF-rotated photo."""
    colour = np.array([30, 140, 220])
    want = colour
    if kind == "png16":
        a = np.full((16, 16), 40000, np.uint16)
        path = tmp_path / "a.png"
        Image.fromarray(a).save(path)
        assert _mode(path).startswith("I")
        want = np.array([round(40000 * 255 / 65535)] * 3)
    elif kind == "palette":
        path = _save(tmp_path / "a.png", _bands(16, 16, [tuple(colour)]).astype(np.uint8))
        with Image.open(path) as im:
            im.convert("P").save(path)
        assert _mode(path) == "P"
    elif kind == "alpha":                      # half transparent: halfway to white paper
        rgba = np.dstack([_bands(16, 16, [tuple(colour)]), np.full((16, 16), 128, np.uint8)])
        path = _save(tmp_path / "a.png", rgba)
        want = colour + (255 - colour) * (1 - 128 / 255)
    elif kind == "la":                         # fully transparent grey: white paper
        path = tmp_path / "a.png"
        Image.fromarray(np.dstack([np.zeros((16, 16), np.uint8)] * 2), "LA").save(path)
        want = np.array([255, 255, 255])
    elif kind == "cmyk":
        path = tmp_path / "a.jpg"
        Image.fromarray(_bands(16, 16, [tuple(colour)])).convert("CMYK").save(path, quality=95)
        assert _mode(path) == "CMYK"
    elif kind in ("bmp", "webp", "jpeg"):
        path = _save(tmp_path / f"a.{kind}", _bands(16, 16, [tuple(colour)]),
                     **({"quality": 95} if kind != "bmp" else {}))
    else:                                      # a phone photo stored on its side, EXIF orientation 6
        im = Image.fromarray(_bands(64, 32, [RED, BLUE], axis=1))          # red left, blue right
        exif = Image.Exif()
        exif[0x0112] = 6                                                   # display rotated 90° clockwise
        path = tmp_path / "a.jpg"
        im.save(path, exif=exif, quality=95)
        x = read_picture(path, (3, 32, 16))                                # upright: 32 wide, 64 tall
        assert x[0, :12].mean() > 200 and x[2, -12:].mean() > 200         # red on top, blue below
        return
    x = read_picture(path, (3, 8, 8)).astype(float)
    np.testing.assert_allclose(x.mean(axis=(1, 2)), want, atol=6)


def test_a_48_megapixel_photo_opens_the_limit_is_decoded_memory(tmp_path, monkeypatch):
    path = tmp_path / "phone.jpg"
    Image.new("RGB", (8000, 6000), (10, 120, 240)).save(path, quality=80)
    # 8000×6000 is 192 MB at 4 bytes a pixel; decoded at 1/8 (draft mode) it is 3 MB
    monkeypatch.setattr(pictures, "MAX_PICTURE_DECODED_BYTES", 40 << 20)
    x = read_picture(path, (3, 32, 32))
    np.testing.assert_allclose(x.reshape(3, -1).mean(axis=1), [10, 120, 240], atol=4)
    png = tmp_path / "big.png"
    Image.new("L", (4000, 3000), 7).save(png)            # a PNG has no draft mode: 48 MB decoded
    with pytest.raises(PictureError, match="48 MB decoded, more than the 42 MB"):
        read_picture(png, (3, 32, 32))


def test_16_bit_and_transparent_pictures_count_what_their_decoding_takes(tmp_path, monkeypatch):
    """A 16-bit PNG of 8,000×8,000 (134 kB) was let in as 256 MB (4 bytes a pixel) and took 1.7 GB
    on its way to 8 bits (float64 arrays of the whole picture); a transparent one about 1.2 GB."""
    import tracemalloc
    monkeypatch.setattr(pictures, "MAX_PICTURE_DECODED_BYTES", 40 << 20)
    levels = (np.arange(2000 * 2000, dtype=np.int64) * 7919 % 65536).astype(np.uint16).reshape(2000, 2000)
    wide = tmp_path / "wide.png"
    Image.fromarray(levels).save(wide, compress_level=1)
    tracemalloc.start()
    try:
        x = read_picture(wide, (1, 2000, 2000))          # 20 MB at 5 bytes a pixel: let in
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2000 * 2000 * 5                        # its levels (2 bytes), the result (1), bands
    want = np.clip(np.rint(levels * (255.0 / 65535)), 0, 255).astype(np.uint8)     # the rule of before
    np.testing.assert_array_equal(x[0], want)
    Image.fromarray(np.zeros((3000, 3000), np.uint16)).save(wide)
    with pytest.raises(PictureError, match="3,000×3,000 picture takes 45 MB decoded"):
        read_picture(wide, (1, 28, 28))                  # 5 bytes a pixel
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (1700, 1700), (0, 0, 0, 0)).save(clear)
    with pytest.raises(PictureError, match="1,700×1,700 picture takes 46 MB decoded"):
        read_picture(clear, (3, 32, 32))                # 16 bytes a pixel (4 at a time, 4 copies)


def _png_header_only(path, w: int, h: int):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
    return path


def test_a_20000_pixel_square_png_is_refused_before_decoding(tmp_path):
    path = _png_header_only(tmp_path / "huge.png", 20000, 20000)
    with pytest.raises(PictureError, match=r"20,000×20,000 picture takes 1,600 MB decoded, more than the 268 MB"):
        read_picture(path, (3, 32, 32))
    with pytest.raises(PictureError):                   # past even the pixels a header may declare
        read_picture(_png_header_only(tmp_path / "absurd.png", 60000, 60000), (3, 32, 32))


@pytest.mark.parametrize("content, match", [
    (b"", "an empty file \\(0 bytes\\)"),
    (b"GIF89a" + b"\0" * 40, "a GIF picture, which this app does not read"),
    (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "."),              # truncated
    (b"\xff\xd8\xff\xe0" + b"\0" * 30, "."),            # a JPEG that ends at once
])
def test_a_damaged_file_is_a_picture_error_naming_it(tmp_path, content, match):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(PictureError, match=match) as e:
        read_picture(path, (3, 32, 32))
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


def test_a_folder_or_a_fifo_is_no_picture(tmp_path):
    with pytest.raises(PictureError, match="folder"):
        read_picture(tmp_path, (3, 32, 32))
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    with pytest.raises(PictureError, match="named pipe"):
        read_picture(fifo, (3, 32, 32))


def test_a_model_fits_a_picture_by_its_own_rule(tmp_path):
    """A digit model gets MNIST's recipe (dark ink on paper turned round and centred), any other the
    picture rule."""
    ink = np.full((90, 60), 255, np.uint8)
    ink[20:70, 25:35] = 0                                   # a dark "1" on white paper
    path = _save(tmp_path / "one.jpg", np.dstack([ink] * 3), quality=95)
    digit = picture_input(path, Signature((1, 28, 28)))
    assert digit.shape == (1, 28, 28) and digit.dtype == np.float32
    assert digit[0, 14, 14] > 0.8 and digit[0, 0, 0] < 0.05          # light ink in the centre, dark around
    plain = picture_input(path, Signature((1, 28, 28), fit="picture"))
    assert plain[0, 0, 0] > 0.95 and plain.min() < 0.05               # the paper stays white


# ----------------------------------------------------------------------------- a folder

def _folder(root, classes: dict, size=(12, 10)):
    """``classes``: name -> list of (file name, RGB colour); writes PNGs (or any suffix's format)."""
    for name, files in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for fname, colour in files:
            _save(root / name / fname, _bands(*size, [colour]))
    return root


def test_classes_are_the_sorted_subfolders_and_mixed_sizes_are_the_normal_case(tmp_path):
    root = tmp_path / "pics"
    _folder(root, {"dog": [("b.png", BLUE), ("a.jpg", BLUE)], "cat": [("z.webp", RED)], "bird": [("x.bmp", GREEN)]})
    _save(root / "cat" / "wide.png", _bands(300, 20, [RED]))
    (root / "cat" / "deeper").mkdir()
    _save(root / "cat" / "deeper" / "c.png", _bands(5, 90, [RED]))
    (root / ".hidden").mkdir()
    _save(root / ".hidden" / "h.png", _bands(8, 8, [GREEN]))
    got = load_folder(root, (3, 16, 16))
    assert got.classes == ("bird", "cat", "dog")                       # torchvision's ImageFolder order
    assert got.y.tolist() == [0, 1, 1, 1, 2, 2]
    assert [p.name for p in got.paths] == ["x.bmp", "c.png", "wide.png", "z.webp", "a.jpg", "b.png"]
    assert got.X.shape == (6, 3, 16, 16)
    np.testing.assert_allclose(got.X[got.y == 1].mean(axis=(0, 2, 3)), [255, 0, 0], atol=3)
    assert model_classes(got.classes) == ("bird", "cat", "dog") + (UNUSED_CLASS,) * 7


def test_unreadable_pictures_are_skipped_counted_and_named_never_a_crash(tmp_path):
    root = _folder(tmp_path / "p", {"a": [("1.png", RED), ("2.png", RED)], "b": [("3.png", BLUE)]})
    (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (root / "b" / "empty.png").write_bytes(b"")
    _png_header_only(root / "b" / "huge.png", 20000, 20000)
    (root / "b" / "notes.txt").write_text("not a picture")
    (root / "b" / "Thumbs.db").write_bytes(b"\0" * 10)
    got = load_folder(root, (3, 8, 8))
    assert len(got.X) == 3 and got.y.tolist() == [0, 0, 1]
    assert sorted(p.name for p, _ in got.skipped) == ["broken.jpg", "empty.png", "huge.png"]
    assert dict((p.name, why) for p, why in got.skipped)["huge.png"].startswith("a 20,000×20,000 picture takes")
    assert sorted(p.name for p in got.ignored) == ["Thumbs.db", "notes.txt"]
    skipped, ignored = got.notes()
    assert skipped.startswith("skipped 3 pictures that could not be read: ") and "broken.jpg" in skipped
    assert ignored.startswith("ignored 2 files that are not PNG, JPEG, BMP or WebP pictures")


@pytest.mark.parametrize("make, match", [
    ("no-subfolders", "no subfolders \\(its 2 pictures lie loose in it\\); put each class's pictures"),
    ("one-class", "only one class \\(cat\\)"),
    ("empty-class", "the class folder dog holds no pictures"),
    ("all-broken-class", "no picture of the class folder dog could be read"),
    ("eleven-classes", "11 class folders; a network here has 10 outputs"),
    ("same-names", "give the same class name"),
    ("unused-name", "\\(unused\\) names a network's outputs that no class uses, not a class; rename"),
    ("not-a-folder", "not a folder"),
    ("missing", "no such folder"),
])
def test_a_folder_that_cannot_be_learnt_is_one_clear_line(tmp_path, make, match):
    root = tmp_path / "p"
    root.mkdir()
    if make == "no-subfolders":
        _save(root / "a.png", _bands(4, 4, [RED]))
        _save(root / "b.png", _bands(4, 4, [RED]))
    elif make == "one-class":
        _folder(root, {"cat": [("a.png", RED)]})
    elif make in ("empty-class", "all-broken-class"):
        _folder(root, {"cat": [("a.png", RED)]})
        (root / "dog").mkdir()
        if make == "all-broken-class":
            (root / "dog" / "x.png").write_bytes(b"broken")
    elif make == "same-names":                 # equal once shortened to a class name's 40 characters
        _folder(root, {"x" * 45 + "a": [("a.png", RED)], "x" * 45 + "b": [("b.png", RED)]})
    elif make == "unused-name":                # the name of the outputs no class uses: scored as another's
        _folder(root, {"(unused)": [("a.png", RED)], "z": [("b.png", RED)]})
    elif make == "eleven-classes":             # (refused before the pictures below are looked for)
        _folder(root, {f"c{i:02d}": [("a.png", RED)] for i in range(11)})
    elif make == "not-a-folder":
        root = root / "file.png"
        _save(root, _bands(4, 4, [RED]))
    else:
        root = root / "nowhere"
    with pytest.raises(FolderError, match=match) as e:
        load_folder(root, (3, 8, 8))
    assert "\n" not in str(e.value)


def test_a_symlink_loop_is_skipped_by_name(tmp_path):
    root = _folder(tmp_path / "p", {"a": [("1.png", RED)], "b": [("2.png", BLUE)]})
    os.symlink(root / "a", root / "a" / "again")              # a/again -> a: a loop
    os.symlink(root, root / "b" / "up")                       # b/up -> the root: a loop through the top
    os.symlink(root / "b" / "2.png", root / "a" / "linked.png")   # a link to a picture is read
    got = load_folder(root, (3, 8, 8))
    assert got.y.tolist() == [0, 0, 1] and [p.name for p in got.paths] == ["1.png", "linked.png", "2.png"]
    loops = sorted(str(p.relative_to(root)) for p, why in got.folders_skipped
                   if why == "a link back to a folder already read")
    assert loops == ["a/again", "b/up"] and got.skipped == []     # folders, not pictures that failed
    notes = got.notes()
    assert len(notes) == 1 and notes[0].startswith("did not read 2 folders: ") and "picture" not in notes[0]


def test_a_folder_in_a_model_s_classes_for_eval(tmp_path):
    classes = model_classes(("bird", "cat", "dog"))
    root = _folder(tmp_path / "t", {"dog": [("a.png", BLUE)], "bird": [("b.png", GREEN)]})
    (root / "cat").mkdir()                                     # an empty class is fine to score
    got = load_folder(root, (3, 8, 8), classes=classes)
    assert got.y.tolist() == [0, 2] and got.classes == classes
    _folder(root, {"horse": [("h.png", RED)]})
    with pytest.raises(FolderError, match="the model has no class 'horse' \\(its classes: bird, cat, dog\\)"):
        load_folder(root, (3, 8, 8), classes=classes)
    x, label, path = picture_at(root, 1, (3, 8, 8), model_classes(("bird", "cat", "dog", "horse")))
    assert label == 2 and path.name == "a.png" and (x[2] == 255).all()
    with pytest.raises(FolderError, match="--index 9 is out of range \\(it has 3 picture files, 0..2\\)"):
        picture_at(root, 9, (3, 8, 8), model_classes(("bird", "cat", "dog", "horse")))


def test_too_many_pictures_or_too_much_memory_is_refused_before_reading(tmp_path, monkeypatch):
    root = _folder(tmp_path / "p", {"a": [(f"{i}.png", RED) for i in range(6)], "b": [("x.png", BLUE)]})
    reads = []
    monkeypatch.setattr(folder_module, "read_picture", lambda *a: reads.append(a))
    monkeypatch.setattr(folder_module, "MAX_FOLDER_PICTURES", 5)
    with pytest.raises(FolderError, match="more than 5 pictures"):
        load_folder(root, (3, 8, 8))
    monkeypatch.setattr(folder_module, "MAX_FOLDER_PICTURES", 100)
    monkeypatch.setattr(limits, "MAX_DATA_BYTES", 7 * 3 * 8 * 8 * 4 - 1)      # as the network reads them
    with pytest.raises(FolderError, match="7 pictures need .* as the network reads them"):
        load_folder(root, (3, 8, 8))
    assert reads == []                                        # nothing half-done


def test_a_hundred_thousand_files_are_listed(tmp_path):
    """100,000 files in a class folder (a scan of names only: no picture is opened)."""
    root = tmp_path / "p"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
    for i in range(100_000):
        (root / "a" / f"{i:06d}.png").touch()
    (root / "b" / "x.jpg").touch()
    scan = scan_folder(root)
    assert scan.counts() == [100_000, 1] and scan.files[0][0].name == "000000.png"
    assert limits.MAX_FOLDER_PICTURES >= 100_000


def test_progress_is_reported_while_a_folder_is_read(tmp_path):
    root = _folder(tmp_path / "p", {"a": [(f"{i}.png", RED) for i in range(300)], "b": [("x.png", BLUE)]})
    seen = []
    load_folder(root, (3, 4, 4), progress=lambda done, total, what: seen.append((done, total, what)))
    assert seen == [(256, 301, "pictures"), (301, 301, "pictures")]


def test_a_picture_s_bytes_fit_as_its_file_does(tmp_path, monkeypatch):
    """A picture on the clipboard arrives as PNG bytes: the model's own rule fits it, the same numbers as
    from a file; too many bytes or bytes that are no picture are one line naming it."""
    from cnncore.datasets.pictures import picture_bytes_input
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(path)
    for sig in (Signature((3, 32, 32)), Signature((1, 28, 28), fit="picture"), Signature((1, 28, 28))):
        got = picture_bytes_input(path.read_bytes(), sig)
        np.testing.assert_array_equal(got, picture_input(path, sig))
        assert got.shape == sig.shape and got.dtype == np.float32
    with pytest.raises(PictureError, match=r"^the picture on the clipboard: .*") as e:
        picture_bytes_input(b"not a picture", Signature((3, 32, 32)), "the picture on the clipboard")
    assert "\n" not in str(e.value)
    monkeypatch.setattr(pictures, "MAX_PICTURE_FILE_BYTES", 100)
    with pytest.raises(PictureError, match="more than the 100 a picture file may have"):
        picture_bytes_input(path.read_bytes(), Signature((3, 32, 32)))


def test_every_picture_size_gives_a_crop_inside_the_picture():
    """A 49×49 picture (and 239×206, 98×248, 250×49…: one size in twenty for a 32×32 input) could not be
    read: "box offset can't be negative", the crop starting an ulp below 0."""
    from cnncore.datasets.pictures import crop_box
    for W, H in ((32, 32), (28, 28), (40, 24)):
        for w in range(1, 301):
            for h in range(1, 301):
                left, top, right, bottom = crop_box(w, h, W, H)
                assert 0 <= left < right <= w and 0 <= top < bottom <= h, (w, h, W, H)
                assert (right - left == w) or (bottom - top == h)        # one side whole
                assert abs((right - left) * H - (bottom - top) * W) <= 1e-9 * w * h   # the input's proportions


@pytest.mark.parametrize("size", [(49, 49), (239, 206), (98, 248), (250, 49)])
def test_a_picture_of_a_size_that_was_refused_is_read(tmp_path, size):
    from PIL import Image
    w, h = size
    Image.fromarray(np.full((h, w, 3), 200, np.uint8)).save(tmp_path / "p.png")
    got = read_picture(tmp_path / "p.png", (3, 32, 32))
    assert got.shape == (3, 32, 32) and got.min() == got.max() == 200


def test_a_link_out_of_the_folder_is_never_followed(tmp_path):
    """A shared folder with a link to the user's own pictures (or to /) brought them into a run, a
    trace and a lesson handed to a class: links that leave the folder are skipped and named, at any
    depth and for a class folder too; links within it are still read."""
    private = _folder(tmp_path / "home" / "Pictures", {"me": [("private.png", GREEN)]})
    root = _folder(tmp_path / "share", {"a": [("1.png", RED)], "b": [("2.png", BLUE)]})
    os.symlink(private / "me", root / "b" / "zz")                    # a folder elsewhere
    os.symlink(private / "me" / "private.png", root / "a" / "p.png")  # a picture elsewhere
    os.symlink("/", root / "b" / "root")                              # everything
    os.symlink(private, root / "c")                                   # a class folder elsewhere
    os.symlink(root / "b" / "2.png", root / "a" / "within.png")      # within: read
    got = load_folder(root, (3, 8, 8))
    assert [p.name for p in got.paths] == ["1.png", "within.png", "2.png"] and got.classes[:2] == ("a", "b")
    assert len(got.classes) == 2 or "c" not in got.classes
    out = sorted(str(p.relative_to(root)) for p, why in got.folders_skipped if "outside the folder" in why)
    assert out == ["a/p.png", "b/root", "b/zz", "c"]
    note = [n for n in got.notes() if n.startswith("did not read")]
    assert note and note[0].startswith("did not read 4 links: ")


def test_a_photo_with_damaged_exif_is_read_without_a_warning(tmp_path):
    """A JPEG whose EXIF block is damaged made Pillow print "…/TiffImagePlugin.py:982: UserWarning:
    Corrupt EXIF data" (no file named) on the command line and while a folder was read."""
    import io
    from PIL import Image
    exif = Image.Exif()
    exif[0x0112] = 6                                          # "stored on its side"
    buffer = io.BytesIO()
    Image.new("RGB", (20, 12), (200, 10, 10)).save(buffer, "JPEG", exif=exif.tobytes())
    data = bytearray(buffer.getvalue())
    at = data.find(b"Exif\x00\x00") + 10                       # the first directory's offset: far past the end
    data[at:at + 4] = b"\xff\xff\xff\x7f"
    (tmp_path / "bad.jpg").write_bytes(bytes(data))
    code = ("import sys; from cnncore.datasets.pictures import read_picture; "
            "x = read_picture(sys.argv[1], (3, 8, 8)); print(x.shape, x[0].mean() > x[2].mean())")
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path / "bad.jpg")], capture_output=True,
                         text=True, timeout=120)     # (as the command line runs: pytest records warnings its own way)
    assert run.returncode == 0 and run.stdout == "(3, 8, 8) True\n" and run.stderr == "", run.stderr


def test_a_folder_made_of_links_to_elsewhere_says_so(tmp_path):
    """ds/cat -> ../pics/cats and ds/dog -> ../pics/dogs said "no subfolders; put each class's pictures
    in a subfolder", which it had."""
    pics = _folder(tmp_path / "pics", {"cats": [("1.png", RED)], "dogs": [("2.png", BLUE)]})
    ds = tmp_path / "ds"
    ds.mkdir()
    os.symlink(pics / "cats", ds / "cat")
    os.symlink(pics / "dogs", ds / "dog")
    with pytest.raises(FolderError, match=r"its class folders \(cat, dog\) are links to places outside it"):
        scan_folder(ds)


def test_pictures_lying_beside_the_class_folders_are_named_as_left_out(tmp_path):
    """A tour: pics/loose.png beside pics/apple/ and pics/pear/ was in neither note: dropped without a word."""
    root = _folder(tmp_path / "pics", {"apple": [("a.png", RED)], "pear": [("p.png", GREEN)]})
    _save(root / "loose.png", _bands(8, 8, [BLUE]))
    _save(root / "Zloose.jpg", _bands(8, 8, [BLUE]))
    (root / "README.txt").write_text("my pictures")
    got = load_folder(root, (3, 16, 16))
    assert len(got.X) == 2 and [p.name for p in got.loose] == ["Zloose.jpg", "loose.png"]
    assert got.notes()[-1] == (f"left out 2 pictures lying beside the class folders (a picture's class is the "
                               f"folder it is in): {root / 'Zloose.jpg'}, {root / 'loose.png'}")
    assert not load_folder(_folder(tmp_path / "tidy", {"a": [("a.png", RED)], "b": [("b.png", RED)]}),
                           (3, 16, 16)).notes()


def test_an_empty_file_and_one_cut_short_are_called_so(tmp_path):
    """A tour: a zero-byte zero.png read "not a PNG, JPEG, BMP or WebP picture" and a half-copied one
    Pillow's "image file is truncated (43 bytes not processed)"."""
    import io
    from PIL import Image
    (tmp_path / "zero.png").write_bytes(b"")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(buf, "PNG")
    (tmp_path / "half.png").write_bytes(buf.getvalue()[:len(buf.getvalue()) // 2])
    (tmp_path / "words.png").write_text("not a picture")
    said = {}
    for name in ("zero.png", "half.png", "words.png"):
        with pytest.raises(PictureError) as e:
            read_picture(tmp_path / name, (3, 16, 16))
        said[name] = str(e.value)
    assert said["zero.png"].endswith("zero.png: an empty file (0 bytes)")
    assert "half.png: a PNG file cut short or damaged: it ends, or goes wrong, before the picture does" in said["half.png"]
    assert said["words.png"].endswith("words.png: not a PNG, JPEG, BMP or WebP picture")


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "BMP", "WEBP"])
def test_a_picture_cut_anywhere_is_called_cut_short_by_its_kind(tmp_path, kind):
    """A review: a JPEG cut at 30 bytes read Pillow's "Truncated File Read", a WebP "could not create
    decoder object", a PNG cut in its header "not a PNG, JPEG, BMP or WebP picture"."""
    import io
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(buf, kind)
    data = buf.getvalue()
    for cut in (16, 40, len(data) // 2):
        path = tmp_path / f"cut{cut}.{kind.lower()}"
        path.write_bytes(data[:cut])
        with pytest.raises(PictureError) as e:
            read_picture(path, (3, 16, 16))
        name = "WebP" if kind == "WEBP" else kind
        assert f"a {name} file cut short or damaged" in str(e.value) and "BufferedReader" not in str(e.value), cut


@pytest.mark.parametrize("size, mode, shape, fit, words", [
    ((2000, 50), "RGB", (3, 32, 32), "picture", "the middle 50×50 of its 2,000×50 pixels, scaled down to 32×32"),
    ((5, 5), "RGB", (3, 32, 32), "picture", "its 5×5 pixels, scaled up to 32×32"),
    ((32, 32), "RGB", (3, 32, 32), "picture", "its 32×32 pixels"),
    ((60, 40), "L", (3, 32, 32), "picture",
     "the middle 40×40 of its 60×40 pixels, scaled down to 32×32; a grey picture, so its R, G and B planes are the same"),
    ((64, 64), "RGB", (1, 28, 28), "picture", "its 64×64 pixels, scaled down to 28×28; its colours made grey"),
    ((90, 120), "RGBA", (1, 28, 28), "digit", "read as a digit by MNIST's recipe from its 90×120 pixels: the paper made "
     "black and the ink white, fitted into 20×20 and centred in 28×28; its transparent parts laid on white; its "
     "colours made grey"),
])
def test_a_picture_says_how_it_was_brought_to_the_input(tmp_path, size, mode, shape, fit, words):
    """Open a picture… said only "Showing the picture wide.png, brought to the network's 3×32×32": not
    that the network sees the middle fortieth of a wide photo, a tiny one blown up, or a grey one in
    three equal planes. The reader notes what it did (:class:`Fitting`), as it reads."""
    from cnncore.datasets.pictures import fitted_input
    w, h = size
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    im = Image.fromarray(a).convert(mode)
    if mode == "RGBA":
        im.putalpha(Image.fromarray(np.where(rng.random((h, w)) < 0.5, 0, 255).astype(np.uint8)))
    im.save(tmp_path / "p.png")
    x, how = fitted_input(tmp_path / "p.png", Signature(shape, fit=fit))
    assert x.shape == shape and how.words() == words


def test_a_photo_on_its_side_says_it_was_turned_and_its_upright_size(tmp_path):
    from cnncore.datasets.pictures import fitted_input
    exif = Image.Exif()
    exif[0x0112] = 6                                          # stored turned: shown turned a quarter clockwise
    Image.fromarray(_bands(300, 100, [RED, BLUE])).save(tmp_path / "side.jpg", exif=exif)
    x, how = fitted_input(tmp_path / "side.jpg", Signature((3, 32, 32)))
    assert how.size == (100, 300) and how.turned and how.colour
    assert how.words() == "the middle 100×100 of its 100×300 pixels, scaled down to 32×32; turned upright as the camera noted"
    assert how.notes() == ["the network sees only the middle 100×100 of the picture's 100×300 pixels (its input is "
                           "32×32): crop the picture to the part that matters"]


def test_a_gif_tiff_or_heic_picture_is_called_so_with_what_to_do(tmp_path):
    """A GIF opened, or a folder of a phone's HEIC photos, was "not a PNG, JPEG, BMP or WebP picture"
    or "ignored": a student could not tell it was a picture, nor what would make it one to use."""
    Image.fromarray(_bands(20, 20, [RED])).save(tmp_path / "a.gif")
    Image.fromarray(_bands(20, 20, [RED])).save(tmp_path / "b.png", format="TIFF")     # (a TIFF named .png)
    for name, kind in (("a.gif", "GIF"), ("b.png", "TIFF")):
        with pytest.raises(PictureError, match=f"{name}: a {kind} picture, which this app does not read: save it as "
                                               "PNG or JPEG \\(a picture viewer's Save as…\\) to use it$"):
            read_picture(tmp_path / name, (3, 8, 8))
    root = _folder(tmp_path / "p", {"a": [("1.png", RED)], "b": [("2.png", BLUE)]})
    (root / "a" / "IMG_0001.HEIC").write_bytes(b"\0\0\0\x18ftypheic" + bytes(20))
    (root / "b" / "cat.gif").write_bytes((tmp_path / "a.gif").read_bytes())
    (root / "b" / "notes.txt").write_text("no picture")
    ignored = load_folder(root, (3, 8, 8)).notes()[0]
    assert ignored.startswith("ignored 3 files that are not PNG, JPEG, BMP or WebP pictures: ")
    assert ignored.endswith("; 2 of them are pictures of another kind: save them as PNG or JPEG (a picture viewer's "
                            "Save as…) to use them")


@pytest.mark.parametrize("ink, paper", [(20, "white"), (255, "black")])
def test_a_drawing_on_a_transparent_sheet_shows_whatever_its_ink(tmp_path, ink, paper):
    """A white 7 on a transparent sheet (an icon for a dark screen) was laid on white paper and vanished:
    a digit model called it blank, a colour model saw a white square. It is laid on black where
    nothing would show on white; a dark digit stays on white."""
    from cnncore.datasets.pictures import fitted_input
    sheet = np.zeros((60, 40, 4), np.uint8)
    sheet[10:50, 18:24] = (ink, ink, ink, 255)                 # a stroke, opaque; the rest transparent
    Image.fromarray(sheet, "RGBA").save(tmp_path / "seven.png")
    digit, how = fitted_input(tmp_path / "seven.png", Signature((1, 28, 28)))
    assert digit.max() > 0.9 and digit[0, 0, 0] == 0 and how.transparent == paper
    assert f"its transparent parts laid on {paper}" in how.words()
    picture, _ = fitted_input(tmp_path / "seven.png", Signature((3, 32, 32)))
    assert picture.max() - picture.min() > 0.8                              # the stroke shows on its paper
