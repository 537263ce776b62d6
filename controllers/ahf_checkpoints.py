"""Checkpoints and weight files of the ``ahf`` controller.

One format for everything (training checkpoints and shipped weights): an
``.npz`` holding the parameter vector ``W`` and the arrays needed to resume or
act, and a JSON sidecar with the same stem describing it (plant and its
settings, controller settings, seed, iteration, error, role).  The ``.npz``
also embeds the sidecar text (``meta_json``), which is what loading trusts, so
a pair torn by a crash between the two renames cannot mislead.  Both are
written to a temporary file in the same folder and renamed into place (atomic
on POSIX), ``.npz`` first (through :mod:`bench.npzfile`).

Checkpoints are found by what their sidecars say (``format``, ``key`` - a hash
of plant, settings and seed - and ``role``), taking the highest ``iteration``;
file names are never parsed or sorted.  Loading uses ``allow_pickle=False``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import CheckpointError
from bench.npzfile import npz_path as npz_path_of
from bench.npzfile import read_npz, write_npz, write_text

FORMAT = "ctrlbench-ahf-weights/1"


def write_weights(npz_path: str | Path, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> Path:
    """Write ``arrays`` + ``meta`` as ``npz_path`` and its ``.json`` sidecar, atomically."""
    npz_path = npz_path_of(npz_path)
    meta = {"format": FORMAT, **meta, "file": npz_path.name}
    text = json.dumps(meta, indent=1, sort_keys=True, default=_jsonable)
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload["meta_json"] = np.array(text)
    write_npz(npz_path, payload)
    write_text(npz_path.with_suffix(".json"), text)
    return npz_path


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar's metadata, or None if it is not an ahf sidecar."""
    try:
        meta = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return None
    return meta


def read_weights(npz_path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` of a weights file (``allow_pickle=False``).

    Raises :class:`CheckpointError` for a missing, corrupt or foreign file.
    """
    npz_path = Path(npz_path)
    arrays = read_npz(npz_path, "ahf weights file", require=("W", "meta_json"), error=CheckpointError)
    try:
        meta = json.loads(str(arrays.pop("meta_json")))
    except ValueError:
        raise CheckpointError(f"{npz_path}: corrupt metadata") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{npz_path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    return arrays, meta


def find(folder: Path | Iterable[Path], **match: Any) -> list[tuple[Path, dict[str, Any]]]:
    """Sidecars in ``folder`` (or the given sidecar paths) whose metadata has
    every ``key == value`` of ``match``; ``(npz path, meta)`` pairs, highest
    ``iteration`` first."""
    paths = sorted(Path(folder).glob("*.json")) if isinstance(folder, (str, Path)) else list(folder)
    found = []
    for p in paths:
        meta = read_sidecar(p)
        if meta is None or any(meta.get(k) != v for k, v in match.items()):
            continue
        found.append((p.with_name(meta.get("file", p.with_suffix(".npz").name)), meta))
    found.sort(key=lambda pm: -int(pm[1].get("iteration", 0)))
    return found
