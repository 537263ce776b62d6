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

:func:`read_weights` also reads the one weights file of studywolf/control's
``ahf`` controller (``controllers/weights/rnn_weights-trial13405-err0.00005.npz``
there), recognised by its content, never its name: an ``.npz`` holding exactly
one array, ``arr_0``, the flat parameter vector of a hessianfree ``RNNet``
(``np.savez(path, net.W)``).  Its network is fixed by studywolf's code, so the
metadata is supplied here (:data:`STUDYWOLF_META`): shape ``[8, 32, 32, 4, 4]``,
layers Linear, Tanh, Tanh, Linear, Linear, recurrent layers 1 and 2, input
``[joint targets (rad), 0, 0, q (rad), dq (rad/s)]`` unscaled, torque
``u_j = out_j + out_{j+2}`` (N·m), one network step per 0.01 s (the
``--dt=1e-2`` it is run with).  The vector's size must be that network's
parameter count (3896) and its dtype a float; anything else is refused in
one line naming what was expected and what was found.
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
STUDYWOLF_FORMAT = "studywolf-control-rnn"
#: What studywolf/control's ``controllers/ahf.py`` hard-codes about its network.
STUDYWOLF_META: dict[str, Any] = {
    "format": STUDYWOLF_FORMAT, "n_state": 4, "n_input": 2, "hidden": 32, "dt": 0.01,
    "output": "sum", "role": "studywolf", "plant": "arm2_python",
}


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
    arrays = read_npz(npz_path, "ahf weights file", text=("meta_json", "history_phase"), error=CheckpointError)
    if set(arrays) == {"arr_0"}:
        return read_studywolf(npz_path, arrays["arr_0"])
    missing = [k for k in ("W", "meta_json") if k not in arrays]
    if missing:
        raise CheckpointError(
            f"ahf weights file {str(npz_path)!r} lacks array(s) {', '.join(missing)} (has "
            f"{', '.join(sorted(arrays)) or 'none'}); it is neither a ctrlbench ahf weights file (W, meta_json) "
            f"nor a studywolf/control one (exactly one array, arr_0)")
    text = arrays.pop("meta_json")
    try:
        meta = json.loads(str(text)) if text.ndim == 0 and text.dtype.kind == "U" else None
    except (ValueError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{npz_path}: corrupt metadata (meta_json must be one JSON object as text)")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{npz_path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    return arrays, meta


def read_studywolf(npz_path: Path, w: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` for studywolf/control's flat ``arr_0`` (checked: 1-D, float, the right size)."""
    from .net import STUDYWOLF_SHAPE, studywolf_parameter_count

    expected = studywolf_parameter_count()
    where = f"{npz_path}: studywolf/control weights (one array arr_0)"
    if w.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise CheckpointError(f"{where} must hold float32 or float64 numbers, found dtype {w.dtype}")
    if w.ndim != 1 or w.size != expected:
        raise CheckpointError(f"{where}: expected a flat vector of {expected} parameters (the hessianfree RNNet "
                              f"{list(STUDYWOLF_SHAPE)}), found shape {list(w.shape)} ({w.size} values)")
    n = STUDYWOLF_META["n_state"]
    arrays = {"W": np.array(w), "input_center": np.zeros(n), "input_scale": np.ones(n)}
    return arrays, {**STUDYWOLF_META, "dtype": str(w.dtype), "file": npz_path.name}


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
