"""fetch_mnist against a local HTTP server on 127.0.0.1 (never the internet)."""
import gzip
import hashlib
import http.server
import socket
import struct
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from cnncore.datasets import FetchError, fetch_mnist, load_idx_pair, user_data_dir
from cnncore.datasets import mnist as mnist_module

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """Tests never touch the real user folder."""
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "userdata"))
    return tmp_path / "userdata"


def serve(folder):
    """Start a threaded HTTP server for ``folder`` on 127.0.0.1; returns (base_url, server, thread)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_address[1]}/", server, thread


@pytest.fixture
def http_dir(tmp_path):
    """A served folder; yields (folder, make_url(sub)) and shuts the server down afterwards."""
    root = tmp_path / "www"
    root.mkdir()
    base, server, thread = serve(root)
    yield root, lambda sub="": base + sub
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def digit_files():
    """Four small MNIST-format .gz files (from the shared digits when present) and their md5 table."""
    if (SHARED / "mnist8k-images-idx3-ubyte.gz").is_file():
        X, y = load_idx_pair(SHARED / "mnist8k-images-idx3-ubyte.gz", SHARED / "mnist8k-labels-idx1-ubyte.gz")
    else:  # the fetch logic does not depend on the content
        rng = np.random.default_rng(0)
        X, y = rng.integers(0, 256, (8000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 8000).astype(np.uint8)
    parts = {"train": slice(0, 6000), "t10k": slice(6000, 8000)}
    files = {}
    for prefix, sl in parts.items():
        xs, ys = X[sl], y[sl]
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(
            struct.pack(">IIII", 2051, len(xs), 28, 28) + xs.tobytes(), compresslevel=1, mtime=0)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(
            struct.pack(">II", 2049, len(ys)) + ys.tobytes(), compresslevel=1, mtime=0)
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    return files, md5


def put(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


def test_published_table():
    assert set(mnist_module.MNIST_MD5) == set(mnist_module.MNIST_FILES.values())
    assert len(mnist_module.MNIST_MIRRORS) >= 2
    assert all(url.endswith("/") for url in mnist_module.MNIST_MIRRORS)


def test_fetch_into_default_cache_and_load(http_dir, digit_files, data_dir):
    folder, url = http_dir
    files, md5 = digit_files
    put(folder / "m1", files)
    paths = fetch_mnist(mirrors=[url("m1/")], checksums=md5)
    assert set(paths) == {"train-images", "train-labels", "t10k-images", "t10k-labels"}
    assert user_data_dir() == data_dir
    for name, path in paths.items():
        assert path.parent == data_dir / "mnist"
        assert path.read_bytes() == files[path.name]
    X, y = load_idx_pair(paths["train-images"], paths["train-labels"])
    assert X.shape == (6000, 28, 28) and y.shape == (6000,)
    assert sorted(p.name for p in (data_dir / "mnist").iterdir()) == sorted(files)  # no temp files left


def test_cached_files_are_not_downloaded_again(http_dir, digit_files, tmp_path):
    folder, url = http_dir
    files, md5 = digit_files
    put(folder / "m1", files)
    cache = tmp_path / "cache"
    fetch_mnist(cache, mirrors=[url("m1/")], checksums=md5)
    for name in files:
        (folder / "m1" / name).unlink()  # the mirror is gone now
    calls = []
    paths = fetch_mnist(cache, progress=lambda d, t, n: calls.append((d, t, n)), mirrors=[url("m1/")],
                        checksums=md5)
    assert len(paths) == 4
    # One call per cached file, reporting it complete.
    assert sorted(n for _, _, n in calls) == sorted(files)
    assert all(d == t == len(files[n]) for d, t, n in calls)


def test_cached_file_with_wrong_checksum_is_replaced(http_dir, digit_files, tmp_path):
    folder, url = http_dir
    files, md5 = digit_files
    put(folder / "m1", files)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "train-labels-idx1-ubyte.gz").write_bytes(b"stale")
    paths = fetch_mnist(cache, mirrors=[url("m1/")], checksums=md5)
    assert paths["train-labels"].read_bytes() == files["train-labels-idx1-ubyte.gz"]


def test_404_mirror_then_good_one(http_dir, digit_files, tmp_path):
    folder, url = http_dir
    files, md5 = digit_files
    put(folder / "good", files)
    (folder / "empty").mkdir()
    paths = fetch_mnist(tmp_path / "c", mirrors=[url("empty/"), closed_port_url(), url("good")],
                        checksums=md5)
    assert all(p.read_bytes() == files[p.name] for p in paths.values())


def test_corrupt_file_rejected_by_checksum(http_dir, digit_files, tmp_path):
    folder, url = http_dir
    files, md5 = digit_files
    bad = dict(files)
    data = bytearray(files["t10k-images-idx3-ubyte.gz"])
    data[100] ^= 0xFF
    bad["t10k-images-idx3-ubyte.gz"] = bytes(data)
    put(folder / "bad", bad)
    cache = tmp_path / "c"
    with pytest.raises(FetchError, match=r"t10k-images-idx3-ubyte.gz from any mirror \(is the computer online\?\): "
                                        r"[^\n]*wrong checksum"):
        fetch_mnist(cache, mirrors=[url("bad/")], checksums=md5)
    assert not (cache / "t10k-images-idx3-ubyte.gz").exists()
    # A good mirror after the bad one wins, and only the good bytes are kept.
    put(folder / "good", files)
    paths = fetch_mnist(cache, mirrors=[url("bad/"), url("good/")], checksums=md5)
    assert paths["t10k-images"].read_bytes() == files["t10k-images-idx3-ubyte.gz"]


def test_every_mirror_failing_gives_a_clear_error(tmp_path, digit_files):
    _, md5 = digit_files
    dead = [closed_port_url(), closed_port_url()]
    with pytest.raises(FetchError) as info:
        fetch_mnist(tmp_path / "c", mirrors=dead, checksums=md5)
    message = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz from any mirror" in message
    assert all(d in message for d in dead)
    assert isinstance(info.value, OSError)
    assert list((tmp_path / "c").iterdir()) == []


def test_progress_reports_increasing_bytes(http_dir, digit_files, tmp_path):
    folder, url = http_dir
    files, md5 = digit_files
    put(folder / "m", files)
    calls = []
    fetch_mnist(tmp_path / "c", progress=lambda d, t, n: calls.append((d, t, n)), mirrors=[url("m/")],
                checksums=md5)
    for name, data in files.items():
        done = [d for d, _, n in calls if n == name]
        totals = {t for _, t, n in calls if n == name}
        assert totals == {len(data)}
        assert done[0] == 0 and done[-1] == len(data)
        assert all(a < b for a, b in zip(done, done[1:]))  # strictly increasing
    big = max(files, key=lambda n: len(files[n]))
    assert sum(1 for _, _, n in calls if n == big) > 3  # reported in chunks, not once at the end


def test_interrupted_download_leaves_no_partial_file(http_dir, digit_files, tmp_path):
    folder, url = http_dir
    files, md5 = digit_files
    put(folder / "m", files)
    cache = tmp_path / "c"

    class Cancelled(Exception):
        pass

    def progress(done, total, name):
        if name == "train-images-idx3-ubyte.gz" and done > 100_000:
            raise Cancelled

    with pytest.raises(Cancelled):
        fetch_mnist(cache, progress=progress, mirrors=[url("m/")], checksums=md5)
    assert list(cache.iterdir()) == []


class TruncatingHandler(QuietHandler):
    """Claims the full length but closes the connection half-way."""

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True


def test_connection_dropped_mid_file(tmp_path, digit_files):
    files, md5 = digit_files
    www = tmp_path / "www"
    put(www, files)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(TruncatingHandler, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        cache = tmp_path / "c"
        with pytest.raises(FetchError, match="IncompleteRead|connection closed"):
            fetch_mnist(cache, mirrors=[f"http://127.0.0.1:{server.server_address[1]}/"], checksums=md5,
                        timeout=10)
        assert list(cache.iterdir()) == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_empty_mirror_list_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="mirrors"):
        fetch_mnist(tmp_path, mirrors=[])


def test_load_mnist_fetches_only_its_split(http_dir, digit_files, tmp_path):
    from cnncore.datasets import load_mnist

    folder, url = http_dir
    files, md5 = digit_files
    put(folder / "m", files)
    cache = tmp_path / "c"
    X, y = load_mnist("test", cache, mirrors=[url("m/")], checksums=md5)
    assert X.shape == (2000, 28, 28) and X.dtype == np.uint8 and y.shape == (2000,)
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation", cache)


class GarbageHandler(QuietHandler):
    """Answers with something that is not HTTP at all."""

    def handle_one_request(self):
        self.raw_requestline = self.rfile.readline(65537)
        self.wfile.write(b"SSH-2.0-nonsense\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True


def test_garbled_response_is_a_fetch_error(tmp_path, digit_files):
    _, md5 = digit_files
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GarbageHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with pytest.raises(FetchError, match="could not download"):
            fetch_mnist(tmp_path / "c", mirrors=[f"http://127.0.0.1:{server.server_address[1]}/"],
                        checksums=md5, timeout=10)
        assert list((tmp_path / "c").iterdir()) == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
