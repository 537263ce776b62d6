"""Paths a user gives: checked once, here, before anything is computed or written.

* :func:`store_file` - a results store (``--db``): never a folder; its folder
  must exist (only the default ``.bench/`` is created); with
  ``must_exist`` it must be a non-empty file (read-only commands never
  create one).
* :func:`output_folder` - a folder to write files into (``bench report
  --out``): created if absent, refused when it is a file, lies beneath a
  file, or cannot be written (``/proc``, a read-only mount).
* :func:`output_file` - a file to write (``bench compare --out``, ``bench ci
  --summary``, ``bench show --animate``): refused when it is a folder, lies
  beneath a file, cannot be written, or is a results store (which writing
  would destroy).

Each problem is one :class:`~bench.errors.UsageError` line naming the flag,
the path and what would work (exit 2).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import StoreError, UsageError

#: The folder of the default results store, created when missing (relative to the working directory).
DEFAULT_FOLDER = Path(".bench")

_SQLITE_MAGIC = b"SQLite format 3\x00"


def _show(path: Path) -> str:
    return repr(str(path)) if any(not c.isprintable() or c.isspace() for c in str(path)) else str(path)


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (``.`` for a relative path whose parts are all new)."""
    for p in (path, *path.parents):
        try:
            if p.exists() or p.is_symlink():
                return p
        except OSError:  # a name too long, a permission problem: try its parent
            continue
    return Path(".")


def _writable_folder(folder: Path, flag: str, target: Path, create: bool) -> None:
    """Refuse unless ``folder`` is (or, with ``create``, can be made) a folder a file can be written in."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise UsageError(f"{flag} {_show(target)}: {_show(existing)} is a file, so nothing can be written beneath "
                         f"it; give a path in a folder")
    if existing != folder:
        if not create:
            raise UsageError(f"{flag} {_show(target)}: folder {_show(folder)} does not exist; create it first "
                             f"(only the default .bench/ folder is made)")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{flag} {_show(target)}: cannot create folder {_show(folder)} "
                             f"({exc.strerror or exc}); give a folder you can write to") from None
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".bench-probe-"):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {_show(target)}: cannot write in {_show(folder)} ({exc.strerror or exc}); "
                         f"give a folder you can write to") from None


def output_folder(path: str | os.PathLike, flag: str = "--out") -> Path:
    """``path`` as a folder to write files into, created if absent; else one :class:`UsageError`."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise UsageError(f"{flag} {_show(p)}: is a file, not a folder; give a folder for the report files")
    _writable_folder(p, flag, p, create=True)
    return p


def output_file(path: str | os.PathLike, flag: str = "--out") -> Path:
    """``path`` as a file to (over)write, its folder created if absent; else one :class:`UsageError`."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise UsageError(f"{flag} {_show(p)}: is a folder; give a file name")
    if p.is_file():
        try:
            with open(p, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise UsageError(f"{flag} {_show(p)}: cannot read it ({exc.strerror or exc})") from None
        if head == _SQLITE_MAGIC:
            raise UsageError(f"{flag} {_show(p)}: is an SQLite file (a results store?); writing would destroy "
                             f"it, give another file name")
        if not os.access(p, os.W_OK):
            raise UsageError(f"{flag} {_show(p)}: is not writable; give a file you can write")
    elif p.exists() or p.is_symlink():
        raise UsageError(f"{flag} {_show(p)}: is not a regular file; give a file name")
    _writable_folder(p.parent, flag, p, create=True)
    return p


def _in_default_folder(p: Path) -> bool:
    """True for a store directly in the default folder (``.bench/`` of the working directory), named or not."""
    return p.parent.absolute() == DEFAULT_FOLDER.absolute()


def store_file(path: str | os.PathLike, flag: str = "--db", *, must_exist: bool = False,
               create_folder: bool = False) -> Path:
    """``path`` as a results store.

    A folder is refused; so is a store in a folder that does not exist,
    unless ``create_folder`` (the default ``.bench/results.sqlite``).  With
    ``must_exist`` (commands that only read) it must be an existing,
    non-empty file: nothing is ever created for a read.
    """
    p = Path(path).expanduser()
    create_folder = create_folder or _in_default_folder(p)
    if p.is_dir():
        raise StoreError(f"{flag} {_show(p)}: is a folder, not a results file; give a file such as "
                         f"{_show(p / 'results.sqlite')}")
    if must_exist:
        if not p.is_file():
            raise StoreError(f"{flag} {_show(p)}: no results store there (run bench run / sweep / ci first, "
                             f"or give the path of one)")
        if p.stat().st_size == 0:
            raise StoreError(f"{flag} {_show(p)}: an empty file, not a results store")
        return p
    if not p.exists():
        existing = _nearest_existing(p.parent)
        if not existing.is_dir():
            raise StoreError(f"{flag} {_show(p)}: {_show(existing)} is a file, so no store can be made beneath "
                             f"it; give a path in a folder")
        if existing != p.parent and not create_folder:
            raise StoreError(f"{flag} {_show(p)}: folder {_show(p.parent)} does not exist; create it first "
                             f"(only the default .bench/ folder is made)")
    return p
