"""Reading the user's files without trusting them: regular files only, sizes checked first.

* :func:`open_regular` opens a file for reading only when it is a regular file, so a FIFO
  (which would block), ``/dev/zero`` (which never ends) or a folder gives a clear error.
* :func:`read_regular` reads a whole regular file of at most ``limit`` bytes.
* :func:`npz_members` opens an ``.npz`` archive and reads every member's ``.npy`` header,
  never its data, so a reader can check the shapes and types a file declares (and what
  they would cost in memory) before reading a byte of them; :func:`read_member` then reads
  one member, at most the size its header declared. An archive may also hold named text
  entries (a lesson's ``lesson.json``), each of a bounded declared size, read by :func:`read_text`.
* :func:`user_archive` is how a reader opens the user's archive (a model, a lesson, a trace): a
  regular file, ``PK`` first, the members' headers checked, and every failure of opening it or of
  reading it in the ``with`` block one line of the reader's own error class (:func:`reading`).

Every problem raises :class:`UnreadableFile` (a ``ValueError``) whose text does not name the
file: each reader puts it in its own error type, after the file's name.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import stat
import zipfile

import numpy as np

__all__ = ["UnreadableFile", "read_json", "json_nesting", "open_regular", "why_unreadable", "member_text", "read_regular",
           "npz_members", "read_member", "read_text", "MemberInfo", "user_archive", "reading", "unknown_format"]


class UnreadableFile(ValueError):
    """A file that is not a regular file, too large, or not the archive it should be."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path, limit: int | None = None):
    """Open ``path`` for binary reading when it is a regular file of at most ``limit`` bytes.

    Raises ``FileNotFoundError``/``PermissionError`` as ``open`` does, and
    :class:`UnreadableFile` for a folder, FIFO, device or socket, or a file over ``limit``.
    A FIFO is opened without waiting for a writer, so this never blocks.
    """
    fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(f"is {_kind(info.st_mode)}, not a regular file")
        if limit is not None and info.st_size > limit:
            raise UnreadableFile(f"is {info.st_size:,} bytes, more than the {limit:,} this kind of file "
                                 f"can sensibly be")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


_FORMAT = re.compile(r"cnnlab-([a-z-]+)-([0-9]{1,6})")


def unknown_format(kind: str, found: str, known) -> str:
    """Why a file of ``kind`` ("model", "lesson", "results") whose format is ``found`` cannot be read
    by a version that reads the formats ``known``, in one line a user can act on: one of a later
    version of the same kind (``cnnlab-lesson-9``) says to update cnnlab (it said "unknown lesson
    format"), anything else that it is no format cnnlab knows."""
    found = found[:40]
    reads = " and ".join(repr(k) for k in known)
    m, latest = _FORMAT.fullmatch(found), [_FORMAT.fullmatch(k) for k in known]
    if m and all(k and k.group(1) == m.group(1) and int(k.group(2)) < int(m.group(2)) for k in latest):
        return (f"it was written by a newer version of cnnlab ({kind} format {found!r}; this version reads "
                f"{reads}): update cnnlab to open it")
    return f"unknown {kind} format {found!r} (this version reads {reads})"


def why_unreadable(e: OSError) -> str:
    """What :func:`open_regular`'s error means, in words that follow the file's name."""
    if isinstance(e, FileNotFoundError):
        return "no such file"
    if isinstance(e, IsADirectoryError):
        return "is a folder, not a regular file"
    if isinstance(e, PermissionError):
        return "permission denied"
    if isinstance(e, UnreadableFile):
        return str(e)
    return f"cannot read the file ({e.strerror or e})"


def read_regular(path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see :func:`open_regular`)."""
    with open_regular(path, limit) as f:
        size = os.fstat(f.fileno()).st_size        # read(limit) would reserve ``limit`` bytes at once
        data = f.read(min(size, limit) + 1)
    if len(data) > limit:                       # it grew while we read it
        raise UnreadableFile(f"is more than the {limit:,} bytes this kind of file can sensibly be")
    return data


class MemberInfo:
    """One ``.npy`` member of an archive: its name (without ``.npy``), shape, dtype and byte size;
    ``zinfo`` its zip entry and ``offset`` where its data starts (the header's length)."""

    __slots__ = ("name", "zipname", "shape", "dtype", "nbytes", "zinfo", "offset")

    def __init__(self, name, zipname, shape, dtype, zinfo=None, offset=0):
        self.name, self.zipname, self.shape, self.dtype = name, zipname, tuple(shape), dtype
        self.zinfo, self.offset = zinfo, offset
        n = 1
        for s in self.shape:
            n *= int(s)
        self.nbytes = n * dtype.itemsize

    @property
    def size(self) -> int:
        return self.nbytes // self.dtype.itemsize if self.dtype.itemsize else 0


# zipfile, zlib and NumPy's header parser raise a long and version-dependent list of types for
# damaged bytes (BadZipFile, zlib.error, EOFError, ValueError, SyntaxError and tokenize.TokenError
# from ast.literal_eval, OverflowError, RecursionError, MemoryError, ...). The input is untrusted
# data and every one of them means "this file is damaged", so here, and only around those calls,
# every Exception becomes UnreadableFile.
_DAMAGE = Exception


_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def npz_members(f, *, max_members: int, max_bytes: int, texts: dict[str, int] | None = None,
                container: str = "an .npz archive") -> tuple[zipfile.ZipFile, dict[str, MemberInfo]]:
    """The archive open on ``f`` and its members' headers, keyed by name without ``.npy``.

    Refuses (with :class:`UnreadableFile`) a file that is not a zip archive, more than
    ``max_members`` members, a member that is not a ``.npy`` array, a damaged header, an
    array of Python objects, and members that together declare more than ``max_bytes``.
    ``texts`` (entry name -> its largest size in bytes) names the entries that may be text
    instead: each is refused when it declares more, counts towards ``max_bytes`` and is left
    out of the result (read it with :func:`read_text`). The caller closes the returned ``ZipFile``;
    ``container`` names the format in a refusal ("a zip archive" for a lesson file).
    """
    try:
        zf = zipfile.ZipFile(f)
    except _DAMAGE as e:
        what = container.split(" ", 1)[1] if container.startswith(("a ", "an ")) else container
        raise UnreadableFile(f"is truncated or corrupt, not a readable {what} ({_why(e)})") from None
    try:
        return zf, _headers(zf, max_members, max_bytes, texts or {})
    except BaseException:
        zf.close()
        raise


def _headers(zf: zipfile.ZipFile, max_members: int, max_bytes: int, texts: dict) -> dict[str, MemberInfo]:
    infos = zf.infolist()
    if len(infos) > max_members:
        raise UnreadableFile(f"holds {len(infos)} entries, more than the {max_members} expected")
    out: dict[str, MemberInfo] = {}
    total = 0
    for zi in infos:
        if _holds_more(zi):
            raise UnreadableFile(f"entry {_short(zi.filename)} holds more data than the {zi.file_size:,} bytes "
                                 "it declares")
        if zi.filename in texts:
            if zi.file_size > texts[zi.filename]:
                raise UnreadableFile(f"entry {_short(zi.filename)} declares {zi.file_size:,} bytes, more than the "
                                     f"{texts[zi.filename]:,} it may hold")
            total += zi.file_size
            continue
        if not zi.filename.endswith(".npy"):
            lesson = " (this is a lesson, .cnnlesson: open it as one)" if zi.filename == "lesson.json" else ""
            raise UnreadableFile(f"entry {_short(zi.filename)} is not a NumPy array (.npy){lesson}")
        name = zi.filename[:-4]
        try:
            with zf.open(zi) as m:
                version = np.lib.format.read_magic(m)
                reader = _HEADER_READERS.get(version)
                if reader is None:
                    raise ValueError(f".npy format version {version[0]}.{version[1]} is not one NumPy writes")
                shape, fortran, dtype = reader(m)
                offset = m.tell()
        except _DAMAGE as e:
            raise UnreadableFile(f"has its entry {_short(name)} damaged ({_why(e)})") from None
        if dtype.hasobject:
            raise UnreadableFile(f"has an entry {_short(name)} that holds Python objects (pickles), which are "
                                 "never read")
        info = MemberInfo(name, zi.filename, shape, dtype, zi, offset)
        total += info.nbytes
        if total > max_bytes:
            raise UnreadableFile(f"declares {total:,} bytes of arrays or more, over the {max_bytes:,} allowed")
        out[name] = info
    return out


def _holds_more(zi: zipfile.ZipInfo) -> bool:
    """Whether an entry's stored data is longer than any honest encoding of its declared size: a
    stored entry is its size, a deflated one at most zlib's ``deflateBound`` of it (the rest would
    inflate past the declared size; ``zipfile`` stops there, but such an entry is not what it says)."""
    n = zi.file_size
    if zi.compress_type == zipfile.ZIP_STORED:
        return zi.compress_size != n
    if zi.compress_type == zipfile.ZIP_DEFLATED:
        return zi.compress_size > n + (n >> 12) + (n >> 14) + (n >> 25) + 13 + 64
    return False


def read_member(zf: zipfile.ZipFile, info: MemberInfo) -> np.ndarray:
    """Read one member whose header :func:`npz_members` checked; raises :class:`UnreadableFile`,
    also for a member whose zip entry holds more (or less) than its header declares: nothing past
    the declared array is ever inflated."""
    if info.zinfo is not None and info.zinfo.file_size != info.offset + info.nbytes:
        raise UnreadableFile(f"entry {_short(info.name)} is damaged (it holds {info.zinfo.file_size:,} bytes, "
                             f"its header declares {info.offset + info.nbytes:,})")
    try:
        with zf.open(info.zinfo or info.zipname) as m:
            a = np.lib.format.read_array(m, allow_pickle=False)
    except _DAMAGE as e:
        raise UnreadableFile(f"entry {_short(info.name)} is damaged ({_why(e)})") from None
    if a.shape != info.shape or a.dtype != info.dtype:
        raise UnreadableFile(f"entry {_short(info.name)} is damaged (its header changed while reading)")
    return a


def read_text(zf: zipfile.ZipFile, name: str, limit: int) -> str:
    """The UTF-8 text of entry ``name`` (one :func:`npz_members` let through as text): never more
    than ``limit`` bytes read, and no more than its declared size inflated (``zipfile`` stops there,
    and a stream that goes on fails its checksum); :class:`UnreadableFile` when it is damaged or
    not UTF-8 text."""
    try:
        info = zf.getinfo(name)
        if info.file_size > limit:
            raise UnreadableFile(f"entry {_short(name)} declares {info.file_size:,} bytes, more than the {limit:,} "
                                 "it may hold")
        with zf.open(info) as m:
            data = m.read(limit + 1)
    except UnreadableFile:
        raise
    except _DAMAGE as e:
        raise UnreadableFile(f"entry {_short(name)} is damaged ({_why(e)})") from None
    if len(data) != info.file_size:
        raise UnreadableFile(f"entry {_short(name)} is damaged (it holds {len(data):,} bytes, not the "
                             f"{info.file_size:,} it declares)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnreadableFile(f"entry {_short(name)} is not UTF-8 text ({_why(e)})") from None


def member_text(a: np.ndarray, name: str) -> str:
    """A 0-d unicode array as ``str``; :class:`UnreadableFile` when it holds code points that
    are not characters (past U+10FFFF, or surrogates): NumPy turns those into ``str`` objects
    that later make Python itself fail (SystemError) when they are sliced or printed."""
    codes = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("=")).reshape(1).view(np.uint32)
    if codes.size and (codes.max() > 0x10FFFF or ((codes >= 0xD800) & (codes <= 0xDFFF)).any()):
        raise UnreadableFile(f"entry {_short(name)} is not valid text (it holds impossible characters)")
    return str(a[()])


def _short(name: str) -> str:
    """A member name fit for a one-line message (newlines and control characters escaped)."""
    return repr(name[:60] + ("…" if len(name) > 60 else ""))


def _why(e: BaseException) -> str:
    text = " ".join(str(e).split())[:160]
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


# ----------------------------------------------------------------------------- the user's archive

@contextlib.contextmanager
def user_archive(path, error: type, *, kind: str, container: str = "an .npz archive", max_members: int,
                 max_bytes: int, texts: dict[str, int] | None = None, refused: tuple = ()):
    """The user's archive at ``path`` open for reading: ``with user_archive(...) as (zf, members):``,
    ``members`` the headers of :func:`npz_members` (``max_members``, ``max_bytes`` and ``texts`` are
    its limits). A regular file only; one that does not start as a zip archive does (``PK``) is
    refused before zipfile looks at it. Every failure, of opening it or of what the ``with`` block
    reads, is ``error`` (the reader's class) of one line naming ``path``: see :func:`reading`, which
    ``kind`` ("model file") and ``refused`` go to; ``container`` names the format in a refusal
    ("is not a model file (not an .npz archive)")."""
    with reading(path, error, kind, refused):
        try:
            f = open_regular(path)
        except (OSError, UnreadableFile) as e:
            raise error(f"{path}: {why_unreadable(e)}") from None
        with f:
            _check_magic(f, path, error, kind, container)
            zf, members = npz_members(f, max_members=max_members, max_bytes=max_bytes, texts=texts,
                                      container=container)
            with zf:
                yield zf, members


def _check_magic(f, path, error: type, kind: str, container: str) -> None:
    try:
        magic = f.read(4)
        f.seek(0)
    except OSError as e:
        raise error(f"{path}: cannot read the file ({e.strerror or e})") from None
    if magic[:2] != b"PK":
        what = "is empty" if not magic else f"is not a {kind} (not {container})"
        if magic[:4] == b"\x93NUM":
            what = f"holds a single array, not a {kind} ({container})"
        raise error(f"{path}: {what}")


@contextlib.contextmanager
def reading(path, error: type, kind: str, refused: tuple = ()):
    """Inside: every failure of reading the user's file ``path`` becomes one ``error`` line naming it.
    ``error`` itself passes; :class:`UnreadableFile` is "not a readable <kind>: it is …" (or "its
    entry … is …"); the ``refused`` exception types (the reader's own reasons) follow the path as
    they are; an ``OSError`` says what it means (:func:`why_unreadable`); a ``MemoryError`` says
    there is not enough memory for this file."""
    try:
        yield
    except error:
        raise
    except UnreadableFile as e:
        raise error(f"{path}: not a readable {kind}: {'its' if str(e).startswith('entry') else 'it'} {e}") from None
    except refused as e:
        raise error(f"{path}: {e}") from None
    except OSError as e:
        raise error(f"{path}: {why_unreadable(e)}") from None
    except MemoryError:
        raise error(f"{path}: not enough memory to read this {kind.removesuffix(' file')}") from None


# ----------------------------------------------------------------------------- JSON text in a file

# A JSON string (to its closing quote, or to the end when it has none: never scanned twice).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}.__getitem__
#: Digits of one integer in a JSON text read from a file (a count of updates has 16 at most).
_INT_DIGITS = 30


def json_nesting(text: str) -> int:
    """How deep the lists and objects of a JSON text nest (brackets in strings not counted), found
    in linear time before ``json.loads`` meets them (which recurses once per level and fails with
    ``RecursionError`` past Python's recursion limit)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(itertools.accumulate(map(_STEP, brackets)), default=0)


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > _INT_DIGITS:
        raise ValueError(f"an integer of {len(digits):,} digits")
    return int(digits)


def read_json(text: str, max_depth: int):
    """The value of a JSON text from a file: nested at most ``max_depth`` deep (counted before it is
    parsed), integers of at most 30 digits; :class:`UnreadableFile` saying why otherwise, in words
    that follow "it" or the entry's name ("is not valid JSON (line 1, column 5: …)")."""
    if json_nesting(text) > max_depth:
        raise UnreadableFile(f"nests lists or objects more than {max_depth} deep")
    try:
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as e:
        raise UnreadableFile(f"is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except (ValueError, RecursionError) as e:       # an absurd integer; nesting counted above
        raise UnreadableFile(f"is not valid JSON ({_why(e)})") from None

