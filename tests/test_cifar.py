"""CIFAR-10 (issue 23 item 2): the binary archive fetched from a loopback server (never the internet),
checked, cached and resumed with HTTP Range; read from the archive without extracting it, only the
members expected and only as regular files of the right size; the shared 4,660 real pictures."""
from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from cnncore.datasets import FetchError, cifar
from cnncore.datasets.cifar import (CIFAR10, RECORD_BYTES, CifarError, fetch_cifar10, load_cifar10, parse_records,
                                    read_cifar10)
from conftest import SHARED_CIFAR

RECORDS = 7          # records per batch file in these tests (the real files hold 10,000)


@pytest.fixture(autouse=True)
def small_batches(monkeypatch, tmp_path):
    monkeypatch.setattr(cifar, "_BATCH_RECORDS", RECORDS)
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "userdata"))


def _records(n: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, n).astype(np.uint8)
    return np.concatenate([y[:, None], X.reshape(n, -1)], axis=1).tobytes(), X, y


def _archive(members: dict) -> bytes:
    """A gzip tar archive holding ``{name: bytes}`` (or a TarInfo-changing callable instead of bytes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if callable(data):
                data(info)
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _good_members():
    members, want = {"cifar-10-batches-bin/batches.meta.txt": b"airplane\n", "../../escape.bin": b"x" * 9}, {}
    for k, name in enumerate(CIFAR10.members["train"] + CIFAR10.members["test"]):
        data, X, y = _records(RECORDS, k)
        members[name], want[name] = data, (X, y)
    return members, want


@pytest.fixture(scope="module")
def archive_bytes():
    members, want = _good_members()
    return _archive(members), want


def test_parse_records_is_the_published_layout():
    data, X, y = _records(3, 0)
    got_X, got_y = parse_records(data)
    assert got_X.shape == (3, 3, 32, 32) and got_X.dtype == np.uint8
    np.testing.assert_array_equal(got_X, X)
    np.testing.assert_array_equal(got_y, y)
    rec = np.frombuffer(data, np.uint8)[:RECORD_BYTES]       # label, then red, green, blue planes row by row
    assert got_X[0, 1, 0, 5] == rec[1 + 1024 + 5] and got_X[0, 2, 31, 31] == rec[-1]
    with pytest.raises(CifarError, match="whole number"):
        parse_records(data[:-1])
    bad = bytearray(data)
    bad[0] = 10
    with pytest.raises(CifarError, match="label 10"):
        parse_records(bytes(bad))


def test_read_only_the_expected_members_without_extracting(tmp_path, archive_bytes, monkeypatch):
    data, want = archive_bytes
    path = tmp_path / "a.tar.gz"
    path.write_bytes(data)
    monkeypatch.chdir(tmp_path)
    X, y = read_cifar10(path, "train")
    assert X.shape == (5 * RECORDS, 3, 32, 32) and y.shape == (5 * RECORDS,)
    for k, name in enumerate(CIFAR10.members["train"]):
        np.testing.assert_array_equal(X[k * RECORDS:(k + 1) * RECORDS], want[name][0])
    Xt, yt = read_cifar10(path, "test")
    np.testing.assert_array_equal(yt, want[CIFAR10.members["test"][0]][1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar.gz"]      # nothing written, no ../../escape.bin
    assert not (tmp_path.parent.parent / "escape.bin").exists()
    with pytest.raises(ValueError, match="split"):
        read_cifar10(path, "validation")


def _member_as_link(info):
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"


@pytest.mark.parametrize("change, match", [
    ("drop", "lacks cifar-10-batches-bin/data_batch_3.bin"),
    ("short", "not a file of 7 records"),
    ("link", "not a file of 7 records"),
    ("twice", "appears twice"),
    ("not-gzip", "not a readable CIFAR-10 archive|truncated or damaged"),
    ("truncated", "truncated or damaged|not a readable"),
])
def test_a_damaged_or_foreign_archive_is_one_clear_error(tmp_path, change, match):
    members, _ = _good_members()
    name = CIFAR10.members["train"][2]
    if change == "drop":
        del members[name]
    elif change == "short":
        members[name] = members[name][:-RECORD_BYTES]
    elif change == "link":
        members[name] = _member_as_link
    path = tmp_path / "a.tar.gz"
    data = _archive(members)
    if change == "twice":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tf:
            for n in (name, name):
                info = tarfile.TarInfo(n)
                info.size = len(members[n])
                tf.addfile(info, io.BytesIO(members[n]))
        data = buf.getvalue()
    elif change == "not-gzip":
        data = b"PK\x03\x04 not a tar at all" * 10
    elif change == "truncated":
        data = data[: len(data) // 2]
    path.write_bytes(data)
    with pytest.raises(CifarError, match=match):
        read_cifar10(path, "train")


def test_an_archive_of_too_many_entries_is_refused(tmp_path):
    path = tmp_path / "many.tar.gz"
    path.write_bytes(_archive({f"f{i}": b"" for i in range(cifar._MEMBER_LIMIT + 1)}))
    with pytest.raises(CifarError, match="more than 64 entries"):
        read_cifar10(path)


# ----------------------------------------------------------------------------- the download

class RangeServer(http.server.SimpleHTTPRequestHandler):
    """Serves files with HTTP Range (206), or ignores Range (200) when ``honour`` is False; cuts the
    connection after ``cut`` bytes of a body once; records each request's Range header."""
    honour, cut, ranges = True, None, []

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        asked = self.headers.get("Range")
        type(self).ranges.append(asked)
        start = int(asked.split("=")[1].split("-")[0]) if asked and self.honour else 0
        if start >= len(data) and asked and self.honour:
            self.send_error(416)
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body, cut = data[start:], type(self).cut
        if cut is not None:
            type(self).cut = None
            body = body[:cut]
            self.close_connection = True
        self.wfile.write(body)
        self.wfile.flush()


@pytest.fixture
def server(tmp_path, archive_bytes):
    www = tmp_path / "www"
    www.mkdir()
    data, _ = archive_bytes
    (www / CIFAR10.filename).write_bytes(data)
    handler = type("Handler", (RangeServer,), {"honour": True, "cut": None, "ranges": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{CIFAR10.filename}"
    yield url, handler, hashlib.md5(data).hexdigest(), data
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_the_published_archive():
    assert CIFAR10.md5 == "c32a1d4ab5d03f1284b67883e8d87530" and CIFAR10.filename == "cifar-10-binary.tar.gz"
    assert CIFAR10.urls == ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",)
    assert CIFAR10.classes[0] == "airplane" and CIFAR10.classes[9] == "truck" and len(set(CIFAR10.classes)) == 10


def test_download_once_with_progress_then_from_the_cache(server, tmp_path):
    url, handler, md5, data = server
    seen = []
    path = fetch_cifar10(tmp_path / "c", progress=lambda d, t, n: seen.append((d, t, n)), urls=[url], md5=md5)
    assert path.read_bytes() == data and sorted(p.name for p in path.parent.iterdir()) == [CIFAR10.filename]
    assert seen[0] == (0, len(data), CIFAR10.filename) and seen[-1][0] == len(data)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))
    seen.clear()
    assert fetch_cifar10(tmp_path / "c", progress=lambda *a: seen.append(a), urls=[url], md5=md5) == path
    assert handler.ranges == [None] and seen == [(len(data), len(data), CIFAR10.filename)]   # not asked again


def test_an_interrupted_download_resumes_where_it_stopped(server, tmp_path):
    url, handler, md5, data = server
    handler.cut = len(data) // 3
    with pytest.raises(FetchError, match="kept; the next try resumes"):
        fetch_cifar10(tmp_path / "c", urls=[url], md5=md5, timeout=10)
    part = tmp_path / "c" / (CIFAR10.filename + ".part")
    assert part.read_bytes() == data[:len(data) // 3]
    assert not (tmp_path / "c" / CIFAR10.filename).exists()           # never a half archive under its name
    path = fetch_cifar10(tmp_path / "c", urls=[url], md5=md5)
    assert handler.ranges == [None, f"bytes={len(data) // 3}-"]       # asked for the rest only
    assert path.read_bytes() == data and not part.exists()


def test_a_cancelled_download_keeps_what_arrived(server, tmp_path):
    url, handler, md5, data = server

    class Cancelled(Exception):
        pass

    def progress(done, total, name):
        if done > 1000:
            raise Cancelled
    with pytest.raises(Cancelled):
        fetch_cifar10(tmp_path / "c", progress=progress, urls=[url], md5=md5)
    assert (tmp_path / "c" / (CIFAR10.filename + ".part")).stat().st_size > 1000
    assert fetch_cifar10(tmp_path / "c", urls=[url], md5=md5).read_bytes() == data


def test_a_server_that_ignores_range_sends_it_all_again(server, tmp_path):
    url, handler, md5, data = server
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / (CIFAR10.filename + ".part")).write_bytes(b"garbage that is not the start of the file")
    handler.honour = False
    assert fetch_cifar10(folder, urls=[url], md5=md5).read_bytes() == data


def test_a_wrong_checksum_is_refused_and_the_bytes_dropped(server, tmp_path):
    url, handler, md5, data = server
    with pytest.raises(FetchError, match="wrong checksum"):
        fetch_cifar10(tmp_path / "c", urls=[url], md5="0" * 32)
    assert list((tmp_path / "c").iterdir()) == []


def test_a_partial_file_that_is_a_link_is_never_followed(server, tmp_path):
    url, handler, md5, data = server
    folder = tmp_path / "c"
    folder.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (folder / (CIFAR10.filename + ".part")).symlink_to(victim)
    with pytest.raises(FetchError, match="could not download"):
        fetch_cifar10(folder, urls=[url], md5=md5)
    assert victim.read_text() == "keep me"


def test_load_cifar10_and_the_source_table(server, tmp_path, monkeypatch):
    from cnncore import datasets
    from cnncore.datasets import available_sources, load_labelled
    url, handler, md5, data = server
    X, y = load_cifar10("test", tmp_path / "c", urls=[url], md5=md5)
    assert X.shape == (RECORDS, 3, 32, 32)
    src = {s.key: s for s in available_sources()}["cifar10"]
    assert src.app and src.classes == CIFAR10.classes and src.dataset == "CIFAR-10"
    assert {"cifar10", "folder"} <= {s.key for s in available_sources(for_app=True)}    # the app offers colour
    monkeypatch.setattr(datasets, "load_cifar10", lambda split, progress=None: load_cifar10(
        split, tmp_path / "c", progress, urls=[url], md5=md5))
    got = load_labelled("cifar10")
    assert got.X.shape == (5 * RECORDS, 3, 32, 32) and got.classes == CIFAR10.classes and got.dataset == "CIFAR-10"


# ----------------------------------------------------------------------------- the shared real pictures

def test_the_shared_pictures_read_as_the_readme_says(shared_cifar):
    X, y = shared_cifar
    assert X.shape == (4660, 3, 32, 32) and X.dtype == np.uint8
    assert np.bincount(y, minlength=10).tolist() == [479, 479, 444, 448, 489, 435, 464, 477, 481, 464]
    assert 0.3 < X.mean() / 255 < 0.7 and X[:, 2].mean() < X[:, 0].mean()       # CIFAR's planes: less blue than red
    assert Path(SHARED_CIFAR).name == "cifar10"


def test_a_copy_of_the_archive_on_this_computer_is_kept_as_a_download_is(tmp_path, archive_bytes):
    """No network: a teacher's copy (a USB stick) is checked against the sum and kept where the download
    goes; a download's .part is left as it was; a file that is not the archive is one line, nothing kept."""
    from cnncore.datasets import install_cifar10
    data, _ = archive_bytes
    copy = tmp_path / "usb" / "cifar-10-binary.tar.gz"
    copy.parent.mkdir()
    copy.write_bytes(data)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "cifar-10-binary.tar.gz.part").write_bytes(data[:100])        # a download under way
    md5 = hashlib.md5(data).hexdigest()
    seen = []
    kept = install_cifar10(copy, cache, lambda done, total, name: seen.append((done, total)), md5=md5)
    assert kept == cache / "cifar-10-binary.tar.gz" and kept.read_bytes() == data and seen[-1] == (len(data),) * 2
    assert (cache / "cifar-10-binary.tar.gz.part").read_bytes() == data[:100]
    assert fetch_cifar10(cache, urls=["http://127.0.0.1:9/never"], md5=md5) == kept      # no download now
    other = tmp_path / "notes.tar.gz"
    other.write_bytes(b"not the archive")
    with pytest.raises(CifarError, match=r"notes.tar.gz is not CIFAR-10's binary archive .*md5 [0-9a-f]{32}"):
        install_cifar10(other, tmp_path / "cache2" / "data" / "cifar-10", md5=md5)
    assert not (tmp_path / "cache2").exists()                        # no folder left behind, at any depth
    with pytest.raises(CifarError, match="not CIFAR-10's binary archive"):
        install_cifar10(other, cache, md5=md5)       # a kept archive does not make another file right
    assert kept.read_bytes() == data and sorted(p.name for p in cache.iterdir()) == [
        "cifar-10-binary.tar.gz", "cifar-10-binary.tar.gz.part"]
    assert install_cifar10(kept, cache, md5=md5) == kept            # the kept archive itself: nothing to do
    with pytest.raises(CifarError, match="folder"):
        install_cifar10(tmp_path / "usb", tmp_path / "cache2", md5=md5)
    with pytest.raises(CifarError, match=r"holds 15 bytes, the archive 170,052,171"):
        install_cifar10(other, tmp_path / "cache2")         # the published sum: its size is checked first
    assert not (tmp_path / "cache2").exists()


def test_train_takes_a_local_copy_with_archive(tmp_path, archive_bytes, monkeypatch, capsys):
    from dataclasses import replace

    from cnnapp.cli import main
    from cnncore.datasets import sources
    data, _ = archive_bytes
    monkeypatch.setattr(cifar, "CIFAR10", replace(CIFAR10, md5=hashlib.md5(data).hexdigest(), size=len(data),
                                                  urls=("http://127.0.0.1:9/never",)))
    monkeypatch.setattr(sources, "ARCHIVES", {**sources.ARCHIVES, "cifar10": cifar.CIFAR10})
    copy = tmp_path / "copy.tar.gz"
    copy.write_bytes(data)
    from cnncore.architecture import preset                       # lesson new took no --archive: it downloaded
    from cnncore.modelio import save_model
    from cnncore.network import Network
    save_model(tmp_path / "c0.npz", Network(preset("cifar"), seed=1))
    assert main(["lesson", "new", str(tmp_path / "c0.npz"), "--data", "cifar10", "--archive", str(copy), "--index", "3",
                 "--out", str(tmp_path / "c.cnnlesson")]) == 0
    assert "using the copy of CIFAR-10" in capsys.readouterr().out and (tmp_path / "c.cnnlesson").exists()
    argv = ["train", "--arch", "cifar", "--data", "cifar10", "--archive", str(copy), "--epochs", "1", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "c.npz")]) == 0
    out = capsys.readouterr().out
    assert "using the copy of CIFAR-10" in out and "on 30 images" in out          # 5 batch files of 7, 15 % held out
    assert main([*argv, "--out", str(copy)]) == 2 and "same file" in capsys.readouterr().err
    assert main(["train", "--data", "generated", "--archive", str(copy), "--out", str(tmp_path / "g.npz")]) == 2
    assert "--archive goes with --data cifar10" in capsys.readouterr().err
