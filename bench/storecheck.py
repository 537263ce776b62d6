"""Whether a store can be written, checked before anything runs, and the causes of a failed write.

:func:`check_writable` refuses in one line (exit 2) a store whose folder is
missing, that is read-only, locked by another process or on a nearly full
file system; :func:`write_error` turns an SQLite or OS error met while
writing into a :class:`~bench.errors.StoreError` that names the cause (disk
full, locked, read-only) instead of a rollback message.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import sqlite3
from pathlib import Path

from .errors import StoreError
from .limits import env_number
from .paths import DEFAULT_FOLDER, store_file

DEFAULT_DB = DEFAULT_FOLDER / "results.sqlite"
SQLITE_MAGIC = b"SQLite format 3\x00"
#: Default of ``BENCH_STORE_LOCK_WAIT_S``: how long the check before a command waits for a store that
#: another process keeps locked before refusing it.
LOCK_WAIT_S = 5.0
#: Default of ``BENCH_STORE_MIN_FREE_MB``: the free space (MB) a store's file system must have before a
#: command that writes starts (0 switches the check off).
MIN_FREE_MB = 32

#: SQLite result codes of a failure from outside the file: busy/locked, read-only, I/O, cannot open, full.
#: SQLite result codes of a failure from outside the file: busy/locked, read-only, I/O, cannot open, full.
_BUSY, _LOCKED, _READONLY, _IOERR, _FULL, _CANTOPEN = 5, 6, 8, 10, 13, 14
_OUTSIDE = (_BUSY, _LOCKED, _READONLY, _IOERR, _FULL, _CANTOPEN)
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _code(exc: BaseException) -> int | None:
    """The primary SQLite result code of ``exc`` (None for another error)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF




def lock_wait() -> float:
    """``BENCH_STORE_LOCK_WAIT_S`` (default :data:`LOCK_WAIT_S`)."""
    return env_number("BENCH_STORE_LOCK_WAIT_S", LOCK_WAIT_S, unit="seconds", allow_zero=True, error=StoreError)


def min_free_mb() -> float:
    """``BENCH_STORE_MIN_FREE_MB`` (default :data:`MIN_FREE_MB`; 0: no check)."""
    return env_number("BENCH_STORE_MIN_FREE_MB", MIN_FREE_MB, unit="MB", allow_zero=True, error=StoreError)


def _free(folder: Path) -> str:
    try:
        return f"{shutil.disk_usage(folder).free / 2**20:.1f} MB free"
    except OSError:
        return "free space unknown"


def lock_holders(path: str | os.PathLike) -> list[int]:
    """Pids of other processes holding a lock on ``path`` (Linux ``/proc/locks``; [] elsewhere)."""
    try:
        st = os.stat(path)
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    ident = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = []
    for line in lines:
        parts = line.split()
        if "->" in parts:  # a waiter, not a holder
            continue
        for i, part in enumerate(parts[:-1]):
            if part.isdigit() and parts[i + 1] == ident:
                pid = int(part)
                if pid != os.getpid() and pid not in pids:
                    pids.append(pid)
    return pids


def _who(pids: list[int]) -> str:
    if not pids:
        return ""
    shown = []
    for pid in pids[:3]:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = ""
        cmd = " ".join(Path(w).name if i == 0 else w for i, w in enumerate(cmd.split()[:4]))
        shown.append(f"pid {pid}" + (f": {cmd[:60]}" if cmd else ""))
    return f" ({'; '.join(shown)})"


def _write_error(exc: BaseException, path: Path, what: str, timeout: float) -> StoreError | BaseException:
    """A :class:`StoreError` naming why writing ``what`` to the store at ``path`` failed (``exc`` itself when
    the cause is the file's own, such as a corrupt database)."""
    code, folder = _code(exc), Path(path).parent
    target = f"writing {what} to {path}" if what else f"writing to {path}"
    errno_ = getattr(exc, "errno", None)
    if code == _FULL or errno_ in _FULL_ERRNOS or (code == _IOERR and _nearly_full(folder)):
        return StoreError(f"disk full (no space left on device) {target} ({_free(folder)}; every run stored "
                          f"before is kept)")
    if code in (_BUSY, _LOCKED):
        return StoreError(f"store {path} is locked by another process{_who(lock_holders(path))}: waited "
                          f"{timeout:g} s{' to write ' + what if what else ''}; wait for it to finish or stop it "
                          f"(BENCH_STORE_LOCK_WAIT_S sets the wait before a command starts)")
    if code == _READONLY or errno_ in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StoreError(f"store {path} is read-only ({exc}); give a --db you can write to")
    if code == _CANTOPEN:
        return StoreError(f"cannot open store {path} for writing ({exc}): is its folder {folder} writable?")
    if code == _IOERR:
        return StoreError(f"disk I/O error {target} ({exc}; {_free(folder)})")
    return exc


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def _is_sqlite(p: Path) -> bool:
    try:
        with open(p, "rb") as fh:
            return fh.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def check_writable(path: str | os.PathLike = DEFAULT_DB) -> None:
    """Refuse, before anything runs, a store this process could not write: one :class:`StoreError` line
    (exit 2) naming the cause.

    * its folder must exist (only the default ``.bench/`` folder is created);
    * the folder (SQLite writes a journal next to the file) and the file must
      be writable, on a file system that is not mounted read-only;
    * the file system must have ``BENCH_STORE_MIN_FREE_MB`` free (default
      :data:`MIN_FREE_MB`);
    * an existing store must not be locked by another process for more than
      ``BENCH_STORE_LOCK_WAIT_S`` seconds (default :data:`LOCK_WAIT_S`); the
      message names the holder's pid when the system tells (``/proc/locks``).
    """
    p = store_file(path)  # a folder, a path beneath a file, a missing folder other than .bench/: refused
    folder = p.parent
    if not folder.is_dir():  # the default .bench/ folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"--db {p}: cannot create folder {folder} ({exc.strerror or exc})") from None
    try:
        readonly = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        readonly = False
    if readonly:
        raise StoreError(f"--db {p}: the file system of {folder} is mounted read-only; give a --db you can write to")
    for target, kind in ((folder, "folder"), (p, "file")):
        if (kind == "folder" or p.exists()) and not os.access(target, os.W_OK):
            raise StoreError(f"--db {p}: the {kind} {target} is not writable (read-only); give a --db you can "
                             f"write to")
    need = min_free_mb()
    if need > 0:
        try:
            free = shutil.disk_usage(folder).free / 2**20
        except OSError:
            free = math.inf
        if free < need:
            raise StoreError(f"--db {p}: disk nearly full: {free:.1f} MB free on the file system of {folder}, at "
                             f"least {need:g} MB needed (BENCH_STORE_MIN_FREE_MB)")
    if _is_sqlite(p):  # anything else is refused by Store() itself, untouched
        wait = lock_wait()
        try:
            con = sqlite3.connect(p.resolve().as_uri() + "?mode=rw", uri=True, timeout=wait, isolation_level=None)
            try:
                con.execute("BEGIN IMMEDIATE")
                con.execute("ROLLBACK")
            finally:
                con.close()
        except sqlite3.OperationalError as exc:
            err = _write_error(exc, p, "", wait)
            if isinstance(err, StoreError):
                raise err from None
            raise StoreError(f"--db {p}: unreadable SQLite file ({exc}); refusing to touch it") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"--db {p}: unreadable SQLite file ({exc}); refusing to touch it") from None
