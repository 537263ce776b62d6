"""``.npz`` files for parameters, checkpoints and data: never pickled, written atomically.

Every weights or data file ctrlbench reads goes through :func:`read_npz`
(``allow_pickle=False``: an object array is refused, not unpickled) and every
one it writes through :func:`write_npz` (temporary file in the same folder,
then ``os.replace``), so a crash mid-write never leaves a half-written file.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import BenchError, CheckpointError


def npz_path(path: str | os.PathLike) -> Path:
    """``path`` with an ``.npz`` suffix (appended, or replacing another one)."""
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_suffix(".npz")


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it to ``path``.

    Readers see the old file or the whole new one, never a part; the file is
    world-readable (0644) like any other written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically: for JSON sidecars."""
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def write_npz(path: str | os.PathLike, arrays: Mapping[str, Any]) -> Path:
    """Write ``arrays`` to ``path`` (``.npz``) atomically; returns the path written."""
    return atomic_write(npz_path(path), lambda fh: np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()}))


def read_npz(path: str | os.PathLike, what: str, *, require: Iterable[str] = (),
             error: type[BenchError] = CheckpointError) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``, loaded with ``allow_pickle=False``.

    ``what`` names the file in messages (``"ahf weights file"``); ``require``
    lists arrays that must be present.  Any problem (missing file, not an
    archive, pickled objects, missing arrays) raises ``error`` with one line.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise error(f"{what} {str(path)!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise error(f"{what} {str(path)!r} is not a readable .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise error(f"{what} {str(path)!r} is not a readable .npz file without pickled objects ({exc})") from None
    required = list(require)
    missing = [k for k in required if k not in arrays]
    if missing:
        raise error(f"{what} {str(path)!r} lacks array(s) {', '.join(missing)} "
                    f"(has {', '.join(sorted(arrays)) or 'none'}; needs {', '.join(required)})")
    return arrays
