"""Workers that run off the GUI thread: the download of a data set, jobs whose latest request is the
only one worth finishing (:class:`LatestJob`), frames made one after another (:class:`FramesWorker`),
and :func:`start_in_thread`, which gives each its ``QThread``. Training has a module of its own,
:mod:`cnnapp.train_worker`; its thread lowers its priority with :func:`be_nice` as these do.
"""
from __future__ import annotations

import threading
import time

from PySide6 import QtCore

from .training_session import UPDATE_HZ

def be_nice(increment: int = 10) -> None:
    """Lower this thread's CPU priority (Linux: per-thread nice), so that on a busy machine the
    GUI thread wins the CPU when it needs it and the training takes what is left."""
    try:
        import os
        import threading
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + increment))
    except (AttributeError, OSError):  # not Linux, or not allowed: keep the default priority
        pass


class _Cancelled(Exception):
    pass


class DownloadWorker(QtCore.QObject):
    """Fetches a downloadable set (``key``: MNIST, Fashion-MNIST, Kuzushiji-MNIST with
    ``cnncore.datasets.fetch_download``; CIFAR-10's archive with ``fetch_cifar10``, resumable):
    checksums, cache in the data folder. ``mirrors`` and ``checksums`` stand in for the published
    servers and sums (for an archive: its URLs and its md5); ``finished`` gives ``{name: path}``
    (an archive's is ``{"archive": path}``). ``local``: a copy of the archive on this computer, kept
    instead of a download (``install_cifar10``: the same checks, no network)."""

    progress = QtCore.Signal(object, object, str)    # done bytes, total bytes (or None), file name
    finished = QtCore.Signal(object)                  # dict name -> path
    failed = QtCore.Signal(str)

    def __init__(self, cache_dir=None, mirrors=None, checksums=None, key: str = "mnist", local=None):
        super().__init__()
        self.key = key
        self.local = local
        self.cache_dir = cache_dir
        self.mirrors = mirrors
        self.checksums = checksums
        self._last = 0.0
        self._cancelled = False

    def cancel(self) -> None:
        """Stop at the next chunk (thread-safe); fetch_download then removes the partial file."""
        self._cancelled = True

    @QtCore.Slot()
    def run(self) -> None:
        from cnncore.datasets.sources import ARCHIVES, source
        try:
            if self.local is not None:
                from cnncore.datasets import install_cifar10
                paths = {"archive": install_cifar10(self.local, self.cache_dir, self._progress, md5=self.checksums)}
            elif self.key in ARCHIVES:
                from cnncore.datasets import fetch_cifar10
                paths = {"archive": fetch_cifar10(self.cache_dir, self._progress, self.mirrors, md5=self.checksums)}
            else:
                from cnncore.datasets import fetch_download
                kw = {"cache_dir": self.cache_dir, "progress": self._progress}
                if self.mirrors is not None:
                    kw["mirrors"] = self.mirrors
                if self.checksums is not None:
                    kw["checksums"] = self.checksums
                paths = fetch_download(self.key, **kw)
        except Exception as e:  # noqa: BLE001
            if self.local is not None:
                said = f"{self.local}: {e.strerror}" if isinstance(e, OSError) and e.strerror else str(e)
                self.failed.emit(f"Could not use the copy: {said}")
            else:
                self.failed.emit(f"Could not download {source(self.key).dataset}: {e}")
            return
        self.finished.emit(paths)

    def _progress(self, done, total, name) -> None:
        if self._cancelled:
            raise _Cancelled("the download was cancelled")
        now = time.perf_counter()
        if now - self._last >= 1.0 / UPDATE_HZ or (total and done >= total):
            self._last = now
            self.progress.emit(done, total, str(name))


def start_in_thread(worker: QtCore.QObject, parent: QtCore.QObject, name: str) -> QtCore.QThread:
    """Run ``worker.run`` in a new QThread (a child of ``parent``). The thread quits when the
    worker says it is done; the caller keeps a reference to the worker until the thread's
    ``finished`` signal and then drops it.

    The worker object never changes threads: ``run`` is called directly by the thread's
    ``started`` signal, in the new thread, and the worker's signals reach the GUI queued (they
    are emitted off the receivers' thread). Moving it there and back deadlocked: a
    ``moveToThread`` home at the end of a run waits for a Qt lock while holding the GIL, and
    the GUI thread, destroying widgets under that lock, waited for the GIL."""
    thread = QtCore.QThread(parent)
    thread.setObjectName(name)
    thread.started.connect(worker.run, QtCore.Qt.DirectConnection)
    worker.finished.connect(thread.quit)
    if isinstance(worker, DownloadWorker):
        worker.failed.connect(thread.quit)
    thread.start()
    return thread


class JobWorker(QtCore.QObject):
    """Runs ``job()`` once in its thread: ``done(result)`` or ``failed(message)``, then ``finished``."""

    done = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    finished = QtCore.Signal()

    def __init__(self, job):
        super().__init__()
        self.job = job

    @QtCore.Slot()
    def run(self) -> None:
        try:
            result = self.job()
        except Exception as e:  # noqa: BLE001 - reported in the window
            self.failed.emit(str(e))
        else:
            self.done.emit(result)
        finally:
            self.finished.emit()


class LatestJob(QtCore.QObject):
    """One job at a time in a worker thread, for a view that follows its input live: a job submitted
    while another runs waits, and a newer one replaces it (only the latest request matters).

    Signals (in the GUI thread): ``done(result)``, ``failed(message)``."""

    done = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    def __init__(self, parent: QtCore.QObject, name: str):
        super().__init__(parent)
        self.name = name
        self._pending = None
        self._thread = None
        self._worker = None
        self._closed = False

    def submit(self, job) -> None:
        """Run ``job`` (after the running one, replacing any waiting one); ignored after :meth:`shutdown`."""
        if self._closed:
            return
        self._pending = job
        if self._thread is None:
            self._start_next()

    def busy(self) -> bool:
        return self._thread is not None or self._pending is not None

    def _start_next(self) -> None:
        job, self._pending = self._pending, None
        if job is None:
            return
        self._worker = JobWorker(job)
        self._worker.done.connect(self.done)
        self._worker.failed.connect(self.failed)
        self._thread = start_in_thread(self._worker, self, self.name)
        self._thread.finished.connect(self._on_end)

    def _on_end(self) -> None:
        if self._thread is not None:
            self._thread.deleteLater()
        self._thread = self._worker = None
        self._start_next()

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Drop the waiting job, wait for the running one and take no more (window closing): a thread
        started later would be destroyed with its parent while still running."""
        self._closed = True
        self._pending = None
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait(timeout_ms)
            QtCore.QCoreApplication.sendPostedEvents(self, QtCore.QEvent.MetaCall)


class FramesWorker(QtCore.QObject):
    """Plays a generator of frames (``make_frames()``, called in the worker thread), one
    ``frame(object)`` signal at most every ``interval`` seconds so a learner sees it evolve;
    :meth:`stop` ends it at the next frame. ``failed(message)`` on an error, ``finished`` last."""

    frame = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    finished = QtCore.Signal()

    def __init__(self, make_frames, interval: float = 0.05):
        super().__init__()
        self.make_frames = make_frames
        self.interval = interval
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @QtCore.Slot()
    def run(self) -> None:
        be_nice()
        try:
            for f in self.make_frames():
                self.frame.emit(f)
                if self._stop.wait(self.interval):
                    break
        except Exception as e:  # noqa: BLE001 - reported in the window
            self.failed.emit(str(e))
        finally:
            self.finished.emit()
