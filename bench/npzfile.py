"""``.npz`` files for parameters, checkpoints and data: never pickled, written atomically.

Every weights or data file ctrlbench reads goes through :func:`read_npz`
(``allow_pickle=False``: an object array is refused, not unpickled) and every
one it writes through :func:`write_npz` (temporary file in the same folder,
then ``os.replace``), so a crash mid-write never leaves a half-written file.

Inside :func:`recording` every file :func:`read_npz` reads is also noted
(the runs record them in their provenance, with a content digest).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import signal
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import BenchError, CheckpointError

_READS: contextvars.ContextVar[list[Path] | None] = contextvars.ContextVar("bench_npz_reads", default=None)


@contextlib.contextmanager
def recording() -> Iterator[list[Path]]:
    """Note every file :func:`read_npz` reads inside the block (absolute paths, in order) in the yielded list."""
    log: list[Path] = []
    token = _READS.set(log)
    try:
        yield log
    finally:
        _READS.reset(token)


def npz_path(path: str | os.PathLike) -> Path:
    """``path`` with an ``.npz`` suffix (appended, or replacing another one)."""
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_suffix(".npz")


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it to ``path``.

    Readers see the old file or the whole new one, never a part; the file is
    world-readable (0644) like any other written file.  SIGINT and SIGTERM wait
    until the file is in place (:func:`uninterrupted`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)
        with uninterrupted():  # a Ctrl-C waits for the whole file, then stops what wrote it
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block ends, then deliver them (once each) to the handlers that
    were in place: for work an interrupt must not split (a file written, a run stored).

    Python runs signal handlers in the main thread whichever thread the signal reached, so the handlers are
    swapped for ones that note the signal; outside the main thread (where handlers cannot be set) the block
    runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not None:  # None: a handler not set from Python, left alone
            held[sig] = signal.signal(sig, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in held.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically: for JSON sidecars."""
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def write_npz(path: str | os.PathLike, arrays: Mapping[str, Any]) -> Path:
    """Write ``arrays`` to ``path`` (``.npz``) atomically; returns the path written."""
    return atomic_write(npz_path(path), lambda fh: np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()}))


#: Members one archive may hold (an ``.npz`` holds a few arrays; a ``.keras`` file a few files).
MAX_MEMBERS = 10_000
#: dtype kinds of numbers: bool, signed and unsigned integers, floats, complex.
NUMERIC_KINDS = "biufc"
#: dtype kinds of text, allowed only for the arrays a caller names in ``text``.
TEXT_KINDS = "US"


def _header(fh: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` from the ``.npy`` header at the start of ``fh``; reads only the header."""
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = fmt.read_array_header_2_0(fh)
    else:  # (3, 0): numpy writes it only for structured arrays with non-latin-1 field names (never numbers)
        raise ValueError(f".npy format {version[0]}.{version[1]} (structured arrays) is not read")
    return tuple(int(n) for n in shape), np.dtype(dtype)


def _dtype_problem(key: str, dtype: np.dtype, text: frozenset[str]) -> str | None:
    if dtype.hasobject:
        return f"is not a readable .npz file without pickled objects: array {key!r} holds objects (dtype {dtype.str})"
    if dtype.kind in NUMERIC_KINDS and dtype.fields is None:
        return None
    if dtype.kind in TEXT_KINDS and key in text:
        return None
    want = "text" if key in text else "numbers"
    return f": array {key!r} holds {dtype.str} ({dtype.kind!r}) values where {want} are expected"


def check_npz(path: str | os.PathLike, what: str, *, text: Iterable[str] = (),
              error: type[BenchError] = CheckpointError) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """``{name: (shape, dtype)}`` of every array of the ``.npz`` at ``path``, from the ``.npy`` headers only.

    Nothing but the headers is decompressed.  Refused with one ``error``
    line: a file that is no zip archive or holds a member that is no ``.npy``
    array; an array of objects (pickled) or, where numbers are expected, of
    another kind (text is allowed only in the arrays named in ``text``); more
    than ``BENCH_MAX_ARRAY_ELEMENTS`` elements in one array or in all of
    them together (:mod:`bench.limits`); a member that holds less data than
    its header claims.
    """
    from .limits import LIMITS, max_array_elements

    path = Path(path).expanduser()
    where = f"{what} {str(path)!r}"
    text = frozenset(text)
    most, total = max_array_elements(), 0
    found: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise error(f"{where} holds {len(infos):,} members; at most {MAX_MEMBERS:,}")
            for info in infos:
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                try:
                    with zf.open(info) as fh:
                        shape, dtype = _header(fh)
                        offset = fh.tell()
                except (ValueError, SyntaxError, TypeError, EOFError) as exc:
                    raise error(f"{where}: member {info.filename[:80]!r} is not a .npy array "
                                f"({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})") from None
                problem = _dtype_problem(key, dtype, text)
                if problem:
                    raise error(f"{where}{problem}" if problem.startswith(":") else f"{where} {problem}")
                count = math.prod(shape)
                total += count
                if count > most or total > most:
                    which = f"array {key!r} has" if count > most else "its arrays have"
                    raise error(f"{where}: {which} {total if count <= most else count:,} elements (shape "
                                f"{list(shape)}); at most {most:,} ({LIMITS['BENCH_MAX_ARRAY_ELEMENTS'][1]}; "
                                f"set BENCH_MAX_ARRAY_ELEMENTS to allow more)")
                if info.file_size < offset + count * dtype.itemsize:
                    raise error(f"{where}: array {key!r} claims shape {list(shape)} of {dtype.str} "
                                f"({count * dtype.itemsize:,} bytes) but holds {max(0, info.file_size - offset):,}")
                found[key] = (shape, dtype)
    except BenchError:
        raise
    except Exception as exc:  # BadZipFile, zlib.error, NotImplementedError (compression), RuntimeError (encrypted)
        raise error(f"{where} is not a readable .npz file ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:160] if str(exc) else 'unreadable'})") from None
    return found


def check_archive(path: str | os.PathLike, what: str, *, error: type[BenchError] = CheckpointError) -> None:
    """Refuse a zip archive (a ``.keras`` model) that is none, or whose members would inflate beyond
    8 × ``BENCH_MAX_ARRAY_ELEMENTS`` bytes each (their sizes as the archive records them; nothing is read)."""
    from .limits import max_array_elements

    path = Path(path).expanduser()
    where = f"{what} {str(path)!r}"
    most = 8 * max_array_elements()
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except Exception as exc:
        raise error(f"{where} is not a readable zip archive ({type(exc).__name__})") from None
    if len(infos) > MAX_MEMBERS:
        raise error(f"{where} holds {len(infos):,} members; at most {MAX_MEMBERS:,}")
    for info in infos:
        if info.file_size > most:
            raise error(f"{where}: member {info.filename[:80]!r} inflates to {info.file_size:,} bytes; at most "
                        f"{most:,} (8 × BENCH_MAX_ARRAY_ELEMENTS)")


def read_npz(path: str | os.PathLike, what: str, *, require: Iterable[str] = (), text: Iterable[str] = (),
             error: type[BenchError] = CheckpointError) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``, loaded with ``allow_pickle=False``.

    ``what`` names the file in messages (``"ahf weights file"``); ``require``
    lists arrays that must be present; ``text`` the arrays that may hold
    text (every other array must hold numbers).  Every array's header is
    checked first (:func:`check_npz`: kind, size against
    ``BENCH_MAX_ARRAY_ELEMENTS``), before any data is read.  Any problem
    (missing file, not an archive, pickled objects, a wrong kind, too large,
    missing arrays) raises ``error`` with one line.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise error(f"{what} {str(path)!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise error(f"{what} {str(path)!r} is not a readable .npz file (not a zip archive)")
    headers = check_npz(path, what, text=text, error=error)
    required = list(require)
    missing = [k for k in required if k not in headers]
    if missing:
        raise error(f"{what} {str(path)!r} lacks array(s) {', '.join(missing)} "
                    f"(has {', '.join(sorted(headers)) or 'none'}; needs {', '.join(required)})")
    try:
        with zipfile.ZipFile(path) as zf:
            arrays = {}
            for info in zf.infolist():
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with zf.open(info) as fh:
                    arrays[key] = np.lib.format.read_array(fh, allow_pickle=False)
                if (arrays[key].shape, arrays[key].dtype) != headers[key]:  # the file changed meanwhile
                    raise ValueError("changed while read")
    except BenchError:
        raise
    except Exception as exc:
        raise error(f"{what} {str(path)!r} is not a readable .npz file without pickled objects "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else 'unreadable'})"
                    ) from None
    log = _READS.get()
    if log is not None:
        log.append(path.resolve())
    return arrays
