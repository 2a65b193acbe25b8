"""The one writer of every file the app and the command line write.

:func:`atomic_write` (and :func:`atomic_write_bytes`, :func:`atomic_write_text`,
:func:`atomic_savez` on top of it) is the only function that writes a user's file:

* Before writing anything it refuses a target that is a folder, FIFO, device or socket
  (:class:`NotARegularFile`), that lies in a folder that does not exist or in one of cnnlab's
  own (:class:`OwnFile`: its packages and assets, :mod:`cnncore.installation`), or that is one of
  the files the command reads (:class:`SameAsInput`: the same file by another name, a hard
  link or a symbolic link to it included). A command says what it reads by writing to an
  :class:`Output` (a path with its ``inputs``); the check is made again just before the
  rename, and a command calls :meth:`Output.check` first, to refuse before doing its work.
* It writes a temporary file beside the target, ``.<name>.<pid>.<host>.<random>.tmp``,
  fsyncs it and moves it over the target with ``os.replace``: the old file stays as it was
  or the new one is complete, whatever happens in between.
* A full disk (or another storage error) is :class:`WriteFailed`: one line naming the file
  and saying that the old one is intact.
* It sweeps the folder of temporary files that killed writers left: those of a process of
  this machine that is gone at once (on POSIX systems, where ``os.kill(pid, 0)`` tells), others
  (another machine's, a pid in use again, an older version's ``.<name>.XXXXXXXX.tmp``, any on
  Windows) once untouched for :data:`STALE_SECONDS`.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import IO, Callable, Iterable

# Read once: os.umask can only be read by setting it, which would race with
# other threads creating files.
_UMASK = os.umask(0)
os.umask(_UMASK)

__all__ = ["Output", "atomic_write", "atomic_write_all", "atomic_write_bytes", "atomic_write_text", "atomic_savez",
           "check_target", "OutputRefused", "NotARegularFile", "OwnFile", "SameAsInput", "WriteFailed",
           "STALE_SECONDS"]

#: A temporary file of ours untouched for this long belongs to a save that was killed.
STALE_SECONDS = 600

#: Which machine wrote a temporary file (its pid means something only there).
_HOST = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]
_TEMP = re.compile(r"\..+\.(?P<pid>[0-9]{1,10})\.(?P<host>[0-9a-f]{6})\.[a-z0-9_]{8}\.tmp")
#: Errors of the disk or the file system, said as "could not be written" (others pass unchanged).
_STORAGE_ERRORS = {getattr(errno, name) for name in
                   ("ENOSPC", "EDQUOT", "EFBIG", "EIO", "EROFS", "EACCES", "EPERM", "ENAMETOOLONG")
                   if hasattr(errno, name)}


class OutputRefused(OSError):
    """The target may not be written (nothing was): the message says why, in one line."""


class NotARegularFile(OutputRefused):
    """The target exists and is a device, FIFO, socket or folder: never replaced."""


class OwnFile(OutputRefused):
    """The target lies in a folder of cnnlab's own installation (the starter model, a module): never written."""


class SameAsInput(OutputRefused):
    """The target is a file the command reads (the same file by whatever name)."""


class OtherKind(OutputRefused):
    """The target exists and its name is not one of the kind written (a model over a lesson)."""


class WriteFailed(OSError):
    """Writing failed (a full disk, a read-only file system…); the old file is as it was."""

    def __init__(self, path, error: OSError, existed: bool, keep: str | None = None):
        keep = keep or ("the old file is intact" if existed else "nothing was written")
        super().__init__(f"{path}: could not be written ({error.strerror or error}); {keep}")
        self.errno = error.errno


#: The first bytes of a kind of file that has a mark of its own (a zip archive's: a model, a trace and a
#: lesson are zips): a file already there under the kind's name but without its mark is not replaced
#: (a picture or a student's notes renamed ``model.npz``).
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")        # a zip archive's first entry, or an empty archive
#: An ONNX model is a protobuf ModelProto, written field by field in the order of their numbers (as
#: protobuf's serializers do, the onnx package's and PyTorch's): its first is ir_version, field 1, a
#: varint: tag byte 0x08. (Text begins with no backspace, nor a picture or an archive.)
_ONNX = (b"\x08",)
MARKS = {".npz": _ZIP, ".cnnlesson": _ZIP, ".onnx": _ONNX}


def _has_mark(path: Path, kind: str) -> bool | None:
    """Whether ``path`` begins as a file of ``kind`` does (True for a kind without a mark, or an
    empty file: nothing to lose; None when it cannot be read to tell)."""
    marks = MARKS.get(kind)
    if not marks:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(max(len(m) for m in marks))
    except OSError:
        return None
    return not head or head.startswith(marks)


class Output(os.PathLike):
    """Where a command writes one file, and the files it reads (``inputs``), which it never replaces.

    Path-like: it goes wherever a path does (``save_model(out, net)``, ``Trace.save(out)``,
    ``export_onnx(net, out)``) and the writer keeps its inputs. ``inputs`` that are ``None`` or
    do not exist are ignored. ``kinds``: the endings of the kind of file written (``(".csv",)``);
    a file already there with another name is not replaced (a student's ``x.results.json`` given
    as the ``--out`` of a table, a shell pattern having put it there), one of the kind is.
    ``spare``: a test of a file already there, which names what it is (``"a trained model"``) when
    this output must not replace it (a trace over a model: both are ``.npz``), else None. ``instead``:
    what a refusal tells the user to do (by default, to give the output another name).
    """

    def __init__(self, path, inputs: Iterable = (), kinds: Iterable[str] = (),
                 spare: Callable[[Path], str | None] | None = None, instead: str = ""):
        if isinstance(path, Output):
            inputs, kinds = (*path.inputs, *inputs), (*path.kinds, *kinds)
            spare, instead = spare or path.spare, instead or path.instead
        text = os.fspath(path)
        # "models/" names a folder, which Path forgets: no file is written under that name
        self.folder_named = path.folder_named if isinstance(path, Output) else \
            str(text).endswith(tuple(c for c in (os.sep, os.altsep) if c))
        self.path = Path(text)
        self.inputs = tuple(Path(os.fspath(p)) for p in inputs if p is not None)
        self.kinds = tuple(str(k).lower() for k in kinds)
        self.spare = spare
        self.instead = instead

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"Output({str(self.path)!r}, inputs={[str(p) for p in self.inputs]!r})"

    @property
    def folder(self) -> Path:
        """The folder the file is written in: the one its symbolic link (if it is one) points into."""
        written = self.written
        return written.parent if str(written.parent) else Path(".")

    @property
    def written(self) -> Path:
        """The file that is replaced: ``path``, or where it points where it is a symbolic link (the
        link stays a link, and the file it names gets the new content, as a shell's ``>`` does)."""
        return Path(os.path.realpath(self.path)) if self.path.is_symlink() else self.path

    def inside(self, name: str) -> "Output":
        """The file ``name`` in this output (a folder), with the same inputs."""
        return Output(self.path / name, self.inputs)

    def check(self) -> "Output":
        """Raise :class:`OutputRefused` (a subclass says which) unless the writer may put a file
        here: not a folder, FIFO, device or socket; in a folder that exists and is writable; not
        one of the inputs. Returns itself."""
        check_target(self.path)
        if self.folder_named:
            raise NotARegularFile(f"{self.path}{os.sep}: names a folder (it ends with {os.sep}); give a file's "
                                  "name (nothing was written)")
        self.check_not_own()
        if not self.folder.is_dir():
            raise OutputRefused(f"{self.path}: {self.folder} is a file, not a folder" if self.folder.exists()
                                else f"{self.path}: the folder {self.folder} does not exist")
        if not os.access(self.folder, os.W_OK):
            raise OutputRefused(f"{self.path}: cannot write in the folder {self.folder}")
        try:
            target = os.stat(self.path)
        except (OSError, ValueError):
            return self                 # nothing there yet: it is none of the inputs (a folder's thousands unasked)
        for source in self.inputs:
            if _same_file(self.path, source, target):
                raise SameAsInput(f"{self.path} is the same file as the input {source}: "
                                  f"{self._instead('give the output another name')} (nothing was written)")
        if not target.st_mode & 0o222 or not os.access(self.path, os.W_OK):
            raise OutputRefused(f"{self.path} exists and is read-only (or not yours to write): it is not replaced; "
                                f"{self._instead('give the output another name')} (nothing was written)")
        names = {self.path.name.lower(), self.written.name.lower()}      # (a link's, and the file it names)
        if self.kinds and not all(n.endswith(self.kinds) for n in names):
            raise OtherKind(f"{self.path} exists and is not a {' or '.join(self.kinds)} file: it is not replaced; "
                            f"{self._instead(f'give the output a name ending in {self.kinds[0]}')} (nothing was "
                            "written)")
        kind = next((k for k in self.kinds if self.path.name.lower().endswith(k)), None)
        mark = True if kind is None else _has_mark(self.path, kind)
        if not mark:
            what = "could not be read to tell what it is" if mark is None else \
                f"is not a {kind} file (it does not begin as one does)"
            raise OtherKind(f"{self.path} exists and {what}: it is not replaced; "
                            f"{self._instead('give the output another name')} (nothing was written)")
        spared = self.spare(self.written) if self.spare else None
        if spared:
            raise OtherKind(f"{self.path} is {spared}: it is not replaced by this file; "
                            f"{self._instead('give the output another name')} (nothing was written)")
        return self

    def check_not_own(self) -> None:
        """:class:`OwnFile` where the file written (a link's target) lies in a folder of cnnlab's own:
        the Save dialog browsed into the installation wrote over the starter model every first launch
        starts with. Part of :meth:`check`; alone, before a folder to write in is made."""
        from .installation import own_folder_of
        folder = own_folder_of(self.written)
        if folder is None:
            return
        if self.written.exists():
            raise OwnFile(f"{self.path} is one of cnnlab's own files: it is not replaced; "
                          f"{self._instead('save under another name, in a folder of your own')} (nothing was written)")
        raise OwnFile(f"{self.path}: {folder} is one of cnnlab's own folders, where nothing is saved; "
                      f"{self._instead('save in a folder of your own')} (nothing was written)")

    def _instead(self, default: str) -> str:
        return self.instead or default


def same_file(a, b) -> bool:
    """``a`` and ``b`` name the same existing file (as the writer tells an input by any of its names)."""
    try:
        return _same_file(Path(a), Path(b), os.stat(a))
    except (OSError, ValueError):
        return False


def _same_file(a: Path, b: Path, sa: os.stat_result) -> bool:
    """``a`` (whose ``os.stat`` is ``sa``) and ``b`` name the same existing file (symbolic links
    followed, hard links, ``./x`` and ``x``, another case on a case-insensitive file system)."""
    try:
        sb = os.stat(b)
    except (OSError, ValueError):
        return False
    if sa.st_ino == 0 or sb.st_ino == 0:        # a file system without inode numbers
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))
    return os.path.samestat(sa, sb)


def check_target(path) -> None:
    """Raise :class:`NotARegularFile` when ``path`` exists and is not a regular file (or a
    link to one): ``os.replace`` would put a regular file in place of a device node
    such as ``/dev/full``, a FIFO or a socket."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as e:                # a name too long for the file system, a loop of links…
        short = str(path) if len(str(path)) <= 80 else f"{str(path)[:40]}…{str(path)[-20:]}"
        raise OutputRefused(f"{short}: cannot be a file's name here ({e.strerror or e}); give another "
                            "(nothing was written)") from None
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "not a regular file")
        raise NotARegularFile(f"{path}: exists and is {kind}; only a regular file is ever replaced")


# ----------------------------------------------------------------------------- temporary files

def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine may still be running (True when it cannot be told)."""
    if os.name != "posix" or pid <= 0:
        return True         # Windows' os.kill would end the process: leave it to the age rule
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True          # someone else's process (EPERM), or no such pid number
    return True


def _temp_name_prefix(name: str) -> str:
    return f".{name[:120]}.{os.getpid()}.{_HOST}."


def _sweep(folder: Path, name: str) -> None:
    """Delete temporary files of ours in ``folder`` left by writers that were killed: at once when
    the process that wrote it (on this machine) is gone, else once untouched for
    :data:`STALE_SECONDS`; an older version's ``.<name>.XXXXXXXX.tmp`` of this ``name`` by age."""
    older = re.compile(re.escape(f".{name}.") + r"[a-z0-9_]{8}\.tmp")
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        ours = _TEMP.fullmatch(entry.name)
        if not ours and not older.fullmatch(entry.name):
            continue
        gone = bool(ours) and ours["host"] == _HOST and int(ours["pid"]) != os.getpid() and not _alive(int(ours["pid"]))
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and (gone or now - info.st_mtime > STALE_SECONDS):
                os.unlink(entry.path)
        except OSError:
            pass


# ----------------------------------------------------------------------------- the writer

def atomic_write(path, write_fn: Callable[[IO], None], mode: str = "wb", encoding: str | None = None) -> Path:
    """Call ``write_fn(f)`` on a temporary file beside ``path``, then move it into place.

    ``path`` is a path or an :class:`Output` (whose inputs are then never replaced).
    ``mode`` is ``"wb"`` (default) or ``"w"`` (then ``encoding`` defaults to UTF-8).
    Raises :class:`OutputRefused` before writing anything (see :meth:`Output.check`), and
    :class:`WriteFailed` when the disk is full or refuses the file; if ``write_fn`` raises,
    its exception passes. In every case the temporary file is removed and ``path`` is as
    it was. Returns ``path`` as a :class:`pathlib.Path`.
    """
    return atomic_write_all([(path, write_fn, mode, encoding)])[0]


def atomic_write_all(files) -> list[Path]:
    """:func:`atomic_write` of several files at once, each a ``(path, write_fn, mode, encoding)``: all
    are written to temporary files first and moved into place only when every one is written, so a
    full disk or a ``write_fn`` that raises leaves each ``path`` as it was (:class:`WriteFailed` then
    says "nothing was written" truly). Returns the paths."""
    staged, current, moved = [], None, []
    try:
        for path, write_fn, mode, encoding in files:
            current = Output(path).check()
            staged.append(_stage(current, write_fn, mode, encoding))
        for current, _, _ in staged:
            current.check()      # again: something may have appeared there meanwhile
        for current, tmp, _ in staged:
            os.replace(tmp, current.written)
            moved.append(current.written.name)
    except BaseException as e:
        for _, tmp, _ in staged:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(e, OSError) and not isinstance(e, (OutputRefused, WriteFailed)) and e.errno in _STORAGE_ERRORS:
            keep = None if not moved else (f"{' and '.join(moved)} {'was' if len(moved) == 1 else 'were'} "
                                           "replaced already, the rest not: write them again")
            raise WriteFailed(current.path, e, current.written.exists(), keep) from e
        raise
    return [out.path for out, _, _ in staged]


def _stage(out: Output, write_fn, mode: str, encoding: str | None) -> tuple:
    """``write_fn`` on a temporary file beside ``out`` (written, synced, given ``out``'s permissions):
    ``(out, the temporary file, whether out existed)``. The temporary file is removed if this fails."""
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', not {mode!r}")
    dest = out.written
    _sweep(out.folder, dest.name)
    existed = dest.exists()
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_name_prefix(dest.name), suffix=".tmp", dir=out.folder)
    except OSError as e:
        raise WriteFailed(out.path, e, existed) from e
    try:
        kwargs = {"encoding": encoding or "utf-8", "newline": ""} if mode == "w" else {}
        with os.fdopen(fd, mode, **kwargs) as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        _set_mode(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return out, tmp, existed


def _set_mode(tmp: str, dest: Path) -> None:
    """Give the temporary file (mkstemp makes it private, 0600) the permissions of the file it
    replaces (a private file stays private), or the usual ones for a new file."""
    try:
        mode = os.stat(dest).st_mode & 0o777                # (never a setuid, setgid or sticky bit)
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    except OSError:
        return
    try:
        os.chmod(tmp, mode)
    except OSError:
        pass


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (a path or an :class:`Output`) atomically."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` (a path or an :class:`Output`) atomically."""
    return atomic_write(path, lambda f: f.write(text), mode="w", encoding=encoding)


def atomic_savez(path, arrays: dict, compressed: bool = False) -> Path:
    """``np.savez`` (or ``savez_compressed``) of ``arrays`` to ``path`` (a path or an
    :class:`Output`), atomically.

    The name is used exactly as given (NumPy would add ``.npz`` to a bare name).
    """
    import numpy as np

    save = np.savez_compressed if compressed else np.savez
    return atomic_write(path, lambda f: save(f, **arrays))
