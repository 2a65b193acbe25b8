"""Training runs and data downloads for the window, out of the views: the worker threads, the kernel
threads left to the GUI while a run goes on, the collector's pause, and what the session learns of
a run (its start, the copy of the weights the window runs, each epoch's result, its end).

Whether a run goes on is the session's answer (:attr:`cnnapp.state.Session.training`); this object
only keeps the threads that carry it out.
"""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6 import QtCore

from cnncore.datasets.sources import DRAWINGS_FILE

from .train_worker import TrainWorker
from .workers import DownloadWorker, start_in_thread

_ORPHANS: list = []   # threads still blocked in a read when their window closed


class RunRefused(Exception):
    """A run cannot start now; the message says why, in one sentence for the user."""


@dataclass(frozen=True)
class DataChoice:
    """The data of a run: source ``key`` (:data:`cnncore.datasets.SOURCES`), at most ``count``
    images (None: all), the share ``holdout`` held out, the ``files`` the user named: ``(images,
    labels)`` for "idx", the folder for "folder"."""
    key: str
    count: int | None
    holdout: float
    files: tuple | str | None = None


def shape_problem(key: str, net, short: bool = False) -> str | None:
    """Why ``net`` cannot learn from source ``key`` (:func:`cnncore.datasets.sources.input_problem`: its
    pictures are of another shape), or None; ``short``: without what to do (a note beside the button
    that does it)."""
    from cnncore.datasets.sources import input_problem, source
    from cnncore.defaults import default_preset
    text = None if net is None else input_problem(key, net.input_shape)
    if text is None or short:
        return text
    return (f"{text}: use the {default_preset(key)} preset (or build a network of "
            f"{'×'.join(map(str, source(key).shape))} on the Build tab)")


def fitting_source(key: str, net, offered, trained: bool = False) -> str:
    """The source to offer ``net``: of the sources ``offered`` whose pictures it takes, the one a
    ``trained`` network learnt from (:func:`learnt_sources`; ``key`` where it is one of them), else
    ``key`` when it takes that source's pictures, else the first. (A digit model opened after a
    colour one stayed on "A folder of pictures", whose pictures any network takes.)"""
    if net is None:
        return key
    fits = [k for k in offered if shape_problem(k, net) is None]
    learnt = [k for k in learnt_sources(net) if k in fits] if trained else []
    if learnt:
        return key if key in learnt else learnt[0]
    return key if key in fits else next(iter(fits), key)


def learnt_sources(net) -> list[str]:
    """The sources ``net``'s classes come from: the one of its data set (by name and classes: a
    folder named "CIFAR-10" of other classes is a folder); a folder of pictures for classes of no
    source; every digit source for the digits (none for other classes)."""
    from cnncore.architecture import DIGIT_CLASSES
    from cnncore.datasets.sources import SOURCES
    by_set = {(s.dataset, tuple(s.classes)): s.key for s in SOURCES if s.dataset}
    if net.dataset:
        return [by_set.get((net.dataset, tuple(net.classes)), "folder")]
    return [s.key for s in SOURCES if not s.dataset and s.key != "folder"] if net.classes == DIGIT_CLASSES else []


def learnt_from(choice: DataChoice, net) -> tuple[tuple, str, str]:
    """``(class names, data set's name, fitting rule)`` a network takes on when it learns from
    ``choice``: a source's own classes; a folder's subfolders (listed now: :class:`RunRefused` when it
    cannot give classes), whose pictures it then reads by the picture rule, as the command line's
    ``train --folder`` does. Every other source keeps the network's usual rule."""
    from cnncore.datasets.folder import FolderError, class_name, model_classes, scan_folder
    from cnncore.datasets.sources import source
    if choice.key != "folder":
        src = source(choice.key)
        return src.classes, src.dataset, net.signature.default_fit
    try:
        classes = model_classes(scan_folder(choice.files).classes)
    except FolderError as e:
        raise RunRefused(str(e)) from None
    return classes, class_name(Path(choice.files).resolve().name), "picture"


def _downloaded(paths: dict):
    """The files a download left (:class:`cnnapp.workers.DownloadWorker`'s ``{name: path}``) as the
    source reads them: an archive's path, or the training images and labels."""
    if "archive" in paths:
        return paths["archive"]
    return (next(p for k, p in paths.items() if "train" in k and "image" in k),
            next(p for k, p in paths.items() if "train" in k and "label" in k))


class RunController(QtCore.QObject):
    """Starts, steers and ends the session's training runs and fetches the downloadable data sets.

    Signals (GUI thread): ``started(worker)`` (panels may follow its signals), ``status(str)``,
    ``ready()`` (the data is loaded: the last run's curves may go), ``progress(dict)``,
    ``epochEnded(EpochEvent)`` (the progress's batches and the event's epoch count the run's epochs from
    1: the session's run places them on the network's count, :meth:`TrainingRun.epoch_at`), ``snapshot(maps)``, ``finished(FinishedEvent)`` (the session has
    taken the end of the run already), ``failed(str)``; ``downloadProgress(done, total, name)``,
    ``downloaded(key)``, ``downloadFailed(str)``; from the worker's thread while the data is read:
    ``reading(done, total, what)`` (a folder's pictures), ``notes(str)`` (one line for each kind of file
    of a folder skipped or ignored), ``folderRead(read, pictures)`` (how many of its pictures could be read).
    """
    started = QtCore.Signal(object)
    status = QtCore.Signal(str)
    ready = QtCore.Signal()
    progress = QtCore.Signal(object)
    epochEnded = QtCore.Signal(object)
    snapshot = QtCore.Signal(object)
    finished = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    downloadProgress = QtCore.Signal(object, object, str)
    downloaded = QtCore.Signal(str)
    downloadFailed = QtCore.Signal(str)
    reading = QtCore.Signal(object, object, str)
    notes = QtCore.Signal(str)
    folderRead = QtCore.Signal(int, int)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.worker = self.thread = None
        self.dl_worker = self.dl_thread = None
        self._ready = False
        self._epochs = 0
        self._was = None                   # the network's (classes, data set, signature) before the run
        self._saved_threads = None
        self._gc_frozen = False
        self._after_download = None        # (key, start): a run waiting for its download

    # ------------------------------------------------------------------ data
    def loader(self, choice: DataChoice, then=None):
        """A callable for the worker thread returning ``(X, y, X_val, y_val)``. A set not downloaded
        yet is fetched first (``then()`` is called when it is ready) and :class:`RunRefused` says so.
        A folder's pictures are read at the network's input (``reading`` reports their progress,
        ``notes`` the files skipped or ignored)."""
        from cnncore.datasets.sources import source

        from .settings import data_dir
        src = source(choice.key)
        problem = shape_problem(choice.key, self.session.network)
        if problem:
            raise RunRefused(problem)
        files = choice.files
        if src.download is not None:
            paths = self.session.datasets.get(f"{choice.key}_paths")
            if paths is None:
                self._after_download = (choice.key, then)
                self.download(choice.key)
                raise RunRefused(f"{src.dataset} is being downloaded first; training starts when it is ready")
            files = _downloaded(paths)
        elif choice.key in ("idx", "folder") and not files:
            raise RunRefused("choose a folder with IDX images and labels files first" if choice.key == "idx"
                             else "choose the folder of pictures first (one subfolder per class)")
        from cnncore.defaults import uses_whole
        count = None if uses_whole(choice.key) else choice.count
        net = self.session.network
        shape = tuple(net.input_shape) if net is not None else None     # a folder's pictures are fitted to it
        drawings = data_dir() / DRAWINGS_FILE

        def load():
            from cnncore.datasets import SourceError, held_out_split, load_labelled
            from cnncore.defaults import run_defaults
            got = load_labelled(choice.key, count=count, seed=run_defaults(choice.key).data_seed, files=files,
                                drawings=drawings, shape=shape, progress=self.reading.emit, training=True)
            if choice.key == "folder" and net is not None and tuple(got.classes) != tuple(net.classes):  # start()'s
                raise SourceError("the folder's class subfolders changed since Start was pressed; press it again")
            for note in got.notes:      # a folder's files named from the folder on: the column is narrow
                note = note.replace(f"{Path(files)}{os.sep}", "") if choice.key == "folder" else note
                self.notes.emit(note[:1].upper() + note[1:] + ".")
            if choice.key == "folder":      # (the pictures there now: it may have changed since it was picked)
                self.folderRead.emit(len(got.y), len(got.y) + got.skipped)
            return held_out_split(got.X, got.y, choice.holdout)
        return load

    # ------------------------------------------------------------------ runs
    def start(self, loader, config, sample, choice: DataChoice) -> TrainWorker:
        """Train the session's network with ``config`` on what ``loader`` returns (in the worker's
        thread), the data ``choice`` says; ``sample`` (one picture, ``(H, W)`` or ``(C, H, W)``) is the
        input whose maps the snapshots carry."""
        s = self.session
        if s.training:
            raise RunRefused("a run is going on already")
        if s.network is None:
            raise RunRefused("Build a network on the Build tab first.")
        classes, dataset, fit = learnt_from(choice, s.network)
        net = s.network                 # what it was, should the run end before its first update
        self._was = (net.classes, net.dataset, net.signature)
        net.learns(classes, dataset)    # the classes of what it learns from now on
        net.signature = net.signature.fitted(fit)
        s.start_run(config.seed)
        self._ready, self._epochs = False, 0
        self._limit_threads()
        self.worker = w = TrainWorker(s.network, loader, config, sample)
        w.status.connect(self.status)
        w.ready.connect(self._on_ready)
        w.progress.connect(self.progress)
        w.epochDone.connect(self._on_epoch)
        w.snapshot.connect(self._on_snapshot)
        w.finished.connect(self._on_finished)
        w.failed.connect(self.failed)
        w.notice.connect(self.session.say)
        self.started.emit(w)
        self.thread = thread = start_in_thread(w, self, "training")
        thread.finished.connect(lambda: self._on_thread_end(thread))
        self._pause_full_collections(True)
        return w

    def stop(self) -> None:
        if self.worker is not None and self.session.training:
            self.worker.stop()

    def pause(self, on: bool) -> None:
        if self.worker is None or not self.session.training:
            return
        if on:
            self.worker.pause()
            self.session.run.pause()
        else:
            self.worker.resume()
            self.session.run.resume()

    def set_lr(self, lr: float) -> bool:
        """The learning rate of the next batches; False when no run goes on."""
        if self.worker is None or not self.session.training:
            return False
        self.worker.set_lr(lr)
        return True

    def _on_ready(self) -> None:
        self._ready = True
        w, s = self.worker, self.session
        if w is not None and w.X_val is not None and len(w.X_val):
            s.samples.keep_held_out(w.X_val, w.y_val, w.net.classes, w.net.dataset)
        self.ready.emit()

    def _on_epoch(self, ev) -> None:
        s, w = self.session, self.worker
        self._epochs = s.run.epoch_number(ev.epoch)           # (numbered after the network's earlier ones)
        if w is not None:
            s.set_result(s.result_of(ev.evaluation, w.X_val, w.y_val, self._epochs, final=False))
        self.epochEnded.emit(ev)
        msg = f"Epoch {self._epochs}: training accuracy {ev.train_accuracy:.1%}"
        if ev.evaluation is not None:
            msg += f", held-out accuracy {ev.val_accuracy:.1%}"
        s.say(msg, 8000)

    def _on_snapshot(self, net, maps) -> None:
        self.session.set_snapshot(net)          # the other tabs (predictions) follow on their own
        self.snapshot.emit(maps)

    def _on_finished(self, ev) -> None:
        """The run's end: the result of the weights it ends with, then the session hears of it."""
        s, w = self.session, self.worker
        self._restore_threads()
        self._pause_full_collections(False)
        if not ev.changed:
            self._put_back()
        elif w is not None and (ev.evaluation is not None or self._ready):
            # the held-out pass of the weights it ends with; none (a run that changed the weights but
            # could not score them): no result, rather than an older one of other weights
            s.set_result(s.result_of(ev.evaluation, w.X_val, w.y_val, self._epochs, final=True))
        self._was = None
        s.end_run(done=ev.reason == "done", changed_weights=ev.changed)     # (a blow-up keeps its last good ones)
        self.finished.emit(ev)

    def _on_thread_end(self, thread) -> None:
        thread.deleteLater()
        if thread is not self.thread:
            return
        self._pause_full_collections(False)
        self.thread = self.worker = None
        if self.session.training:           # the worker ended without a word
            self._restore_threads()
            self._put_back()
            self.session.end_run(done=False, changed_weights=False)

    def _put_back(self) -> None:
        """A run that made no update leaves the network as it was, classes and all (a folder's names
        on the starter model's untouched weights said it had learnt them)."""
        net = self.session.network
        if self._was is not None and net is not None:
            classes, dataset, signature = self._was
            net.learns(classes, dataset)
            net.signature = signature
        self._was = None

    def _limit_threads(self) -> None:
        """Leave one core to the GUI thread while the run goes on (the kernels use the others)."""
        import cnncore
        self._saved_threads = cnncore.get_num_threads()
        cnncore.set_num_threads(max(1, min(self._saved_threads, (os.cpu_count() or 2) - 1)))

    def _restore_threads(self) -> None:
        if self._saved_threads:
            import cnncore
            cnncore.set_num_threads(self._saved_threads)
        self._saved_threads = None

    def _pause_full_collections(self, pause: bool) -> None:
        """During a run the garbage collector's full passes leave out the objects made before it.
        A full pass visits every object the window holds (52 ms here: the longest stutter while
        reports arrive); the garbage of earlier runs is collected first, in one pass as the run
        starts. Paired: nothing else in the app freezes the collector."""
        if pause and not self._gc_frozen:
            gc.collect()
            gc.freeze()
        elif not pause and self._gc_frozen:
            gc.unfreeze()
        self._gc_frozen = pause

    # ------------------------------------------------------------- downloads
    def download(self, key: str = "mnist", mirrors=None, checksums=None, local=None) -> None:
        """Fetch a set of ``cnncore.datasets.DOWNLOADS`` in a worker thread (``mirrors``, ``checksums``:
        other servers and files, for tests), or keep ``local``, a copy of an archive on this computer."""
        if self.dl_thread is not None:
            if local is not None:
                self.session.say("A download is under way: the copy can be used once it has ended (or failed).", 0)
            return
        self.dl_worker = DownloadWorker(mirrors=mirrors, checksums=checksums, key=key, local=local)
        self.dl_worker.progress.connect(self.downloadProgress)
        self.dl_worker.finished.connect(self._on_download_done)
        self.dl_worker.failed.connect(self._on_download_failed)
        self.downloadProgress.emit(None, None, key)
        self.dl_thread = start_in_thread(self.dl_worker, self, f"{key}-download")
        self.dl_thread.finished.connect(self._on_download_thread_end)

    def downloading(self) -> bool:
        return self.dl_thread is not None

    def _on_download_done(self, paths) -> None:
        from cnncore.datasets.sources import source
        key = self.dl_worker.key if self.dl_worker is not None else "mnist"
        local = self.dl_worker.local if self.dl_worker is not None else None
        self.session.datasets[f"{key}_paths"] = {str(k): str(v) for k, v in dict(paths).items()}
        self.session.say(f"{source(key).dataset} " + (f"copied from {local} and checked." if local is not None
                                                      else "downloaded and checked."))
        self.downloaded.emit(key)
        waiting, self._after_download = self._after_download, None
        if waiting is not None and waiting[0] == key and waiting[1] is not None and not self.session.training:
            QtCore.QTimer.singleShot(0, self, waiting[1])

    def _on_download_failed(self, msg: str) -> None:
        self._after_download = None
        self.downloadFailed.emit(msg)

    def _on_download_thread_end(self) -> None:
        if self.dl_thread is not None:
            self.dl_thread.deleteLater()
        self.dl_thread = self.dl_worker = None

    # -------------------------------------------------------------- closing
    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop the run and the download and wait for their threads (window closing)."""
        ok = self._wait(self.thread, self.worker, self.worker.stop if self.worker is not None else None,
                        timeout_ms)
        if self.thread is not None:
            # Deliver the worker's last queued signals (finished, ...) now, not after closing.
            QtCore.QCoreApplication.sendPostedEvents(self, QtCore.QEvent.MetaCall)
            if self.session.training:
                self._restore_threads()
                self.session.end_run(done=False, changed_weights=False)
            self._pause_full_collections(False)
        cancel = self.dl_worker.cancel if self.dl_worker is not None else None   # stops at the next chunk
        return self._wait(self.dl_thread, self.dl_worker, cancel, timeout_ms) and ok

    @staticmethod
    def _wait(thread, worker, stop, timeout_ms: int) -> bool:
        if thread is None:
            return True
        if stop is not None:
            stop()
        thread.quit()
        if thread.wait(timeout_ms):
            return True
        # Still preparing data or stuck in a network read: let it end on its own rather than
        # destroy a running thread with this object.
        _ORPHANS.append((thread, worker))
        thread.setParent(None)
        return False
