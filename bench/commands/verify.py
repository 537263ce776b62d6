"""``bench verify RUN_ID...``: re-run stored runs from their recorded settings, seed and provenance.

Each run is rebuilt from the settings it recorded (plant or dataset,
controller, task), run once with its seed in memory (nothing is stored; the
files it writes go to a temporary folder) and every stored metric compared
with the new value:

* a deterministic metric must be identical, bit for bit (NaN equals NaN; a
  non-finite value is stored as NULL, so ±inf now matches a stored NaN);
* a wall-clock timing (:func:`is_timing`) must lie within the tolerance
  (``--timing-tolerance``, default ±300 %: at most four times the stored
  time, any faster; a short run's timings in a cold process easily vary by
  a factor of two or three);
* a metric that records the run's circumstances, not its outcome
  (:data:`CIRCUMSTANCES`: ``train_cached`` says whether a training cache was
  found), is shown and never compared.

When the provenance differs now (a plugin's version or source, a weights or
data file, the code version or the settings hash), one line per role says
what changed.  Exit codes: 0 every run reproduced; 1 a metric differs (or a
run fails now); 2 a bad run id.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..limits import parse_int
from ..session import db_path
from ..store import Store
from . import Printer

#: The built-in metrics that measure wall time: compared within the tolerance, not bit for bit.
TIMINGS = frozenset({
    "latency_us_per_call", "latency_us_per_arm",  # reach
    "ms_per_batch_median", "rollout_ms_median", "update_ms_median",  # balance
    "wall_us_per_image_step", "wall_ms_per_image", "train_s",  # classify
    "train_wall_s",  # bench train
})
#: The default relative tolerance of a timing.
TOLERANCE = "300%"
#: Metrics that record the circumstances of a run rather than its outcome: shown, never compared.
CIRCUMSTANCES = frozenset({"train_cached"})


def is_timing(name: str, help_text: str = "") -> bool:
    """A wall-clock metric: a built-in one of :data:`TIMINGS`, or one whose name or help says ``wall``."""
    return name in TIMINGS or "wall" in name or "wall time" in help_text.lower() or "wall-clock" in help_text.lower()


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return float(a).hex() == float(b).hex()


def _stored_form(v: Any) -> float:
    v = float(v)
    return v if math.isfinite(v) else math.nan  # the store keeps a non-finite metric as NULL


def judge(name: str, stored: float, now: float | None, tolerance: float | None,
          help_text: str = "") -> tuple[str, bool]:
    """``(verdict, ok)`` of one metric."""
    if now is None:
        return "MISMATCH (not produced now)", False
    now = _stored_form(now)
    if name in CIRCUMSTANCES:
        return "not compared (circumstance)", True
    if is_timing(name, help_text):
        if _same(stored, now):
            return "identical", True
        if tolerance is None:
            return "timing (not compared)", True
        if math.isfinite(stored) and math.isfinite(now) and abs(now - stored) <= tolerance * abs(stored):
            return f"timing: within ±{tolerance * 100:g}%", True
        return f"MISMATCH (timing beyond ±{tolerance * 100:g}%)", False
    return ("identical", True) if _same(stored, now) else ("MISMATCH", False)


def _rebuild(row: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The run's three components from its recorded settings (each role's kind from its provenance)."""
    from ..plugins import registry
    from ..provenance import ROLE_KINDS, ROLES
    from ..session import build

    reg = registry()
    built = []
    for role in ROLES:
        values = dict(row["settings"].get(role) or {})
        name = values.pop("name", row[role])
        kind = (row["provenance"].get(role) or {}).get("kind") or next(
            (k for k in ROLE_KINDS[role] if (k, name) in reg), ROLE_KINDS[role][0])
        built.append(build(kind, name, **values))
    return tuple(built)  # type: ignore[return-value]


def _rerun(row: dict[str, Any]) -> Any:
    """Run the stored run again in memory: its settings, seed, and (when it was trained first) its training."""
    from ..api import train_learner
    from ..npzfile import recording
    from ..provenance import add_reads
    from ..runner import run
    from ..settings import train_only

    plant, controller, task = _rebuild(row)
    trained = (not getattr(task, "TRAINS", False)
               and any(k in train_only(type(controller.settings)) for k in row["settings"].get("controller", {})))
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp, recording() as reads:
        if trained:  # it ran with --train: trained from scratch with the run's seed first
            controller.bind(plant)
            train_learner(controller, plant, task, seed=int(row["seed"]), fresh=True, workdir=Path(tmp) / "train")
        result = run(plant, controller, task, seed=int(row["seed"]), workdir=Path(tmp))
    add_reads(result.meta.setdefault("provenance", {}), reads)
    result.meta["helps"] = {k: getattr(m, "help", "") for k, m in getattr(task, "METRICS", {}).items()}
    return result


def _num(v: Any) -> str:
    return "—" if v is None else repr(float(v))


def verify_run(row: dict[str, Any], tolerance: float | None, out: Printer) -> bool:
    """Re-run one stored run and print the comparison; whether it reproduced."""
    from ..provenance import differences

    out(f"verify run {row['id']}: {row['plant']} · {row['controller']} · {row['task']}   seed {row['seed']}")
    try:
        result = _rerun(row)
    except Exception as exc:
        out(f"  MISMATCH: the run fails now: {type(exc).__name__}: {exc}")
        return False
    meta = result.meta
    changed = differences(row["provenance"], meta.get("provenance") or {}) if row["provenance"] else []
    if not row["provenance"]:
        out("  provenance: not recorded with the stored run (stored before ctrlbench recorded it)")
    for line in changed:
        out(f"  provenance differs now: {line}")
    if meta.get("settings_hash") != row["settings_hash"]:
        out(f"  settings hash differs now: {row['settings_hash']} → {meta.get('settings_hash')} "
            "(a setting was added, removed or given a new default)")
    if meta.get("code_version") != row["code_version"]:
        out(f"  code version differs: {row['code_version']} → {meta.get('code_version')}")
    if not changed and row["provenance"]:
        out("  provenance: as stored")
    table = [("metric", "stored", "now", "verdict")]
    good = True
    for name, m in row["metrics"].items():
        verdict, ok = judge(name, m["value"], result.metrics.get(name), tolerance, meta["helps"].get(name, ""))
        good &= ok
        table.append((name, _num(m["value"]), _num(result.metrics.get(name)), verdict))
    for name in sorted(result.metrics.keys() - row["metrics"].keys()):
        table.append((name, "—", _num(result.metrics[name]), "new (not stored then)"))
    widths = [max(len(r[i]) for r in table) for i in range(3)]
    for r in table:
        out("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3])
    counts = sum(1 for r in table[1:] if r[3] == "identical"), sum(1 for r in table[1:] if r[3].startswith("MIS"))
    out(f"  run {row['id']}: " + (f"reproduced ({counts[0]} of {len(table) - 1} metrics identical)" if good
                                  else f"{counts[1]} MISMATCH(ES)"))
    return good


def verify(run_ids: Sequence[str], *, db: str | Path | None, timing_tolerance: str | None, out: Printer) -> int:
    """Re-run each stored run and compare its metrics; see the module docstring."""
    from ..suite import parse_fraction

    tolerance = parse_fraction(timing_tolerance if timing_tolerance is not None else TOLERANCE, "--timing-tolerance")
    ids = [parse_int(text, "verify: each of the run ids (integers)", low=1) for text in run_ids]
    path = db_path(db, must_exist=True)
    store = Store(path)
    rows = [store.run(i) for i in ids]  # every id checked before anything runs
    for row in rows:
        if row["status"] != "ok":
            raise UsageError(f"run {row['id']} is {row['status']}: only successful runs can be verified")
        if row["task"].endswith(":train"):
            raise UsageError(f"run {row['id']} is a training session (bench train); verify re-runs benchmark runs")
    bad = [row["id"] for row in rows if not verify_run(row, tolerance, out)]
    out(f"verify: {len(rows) - len(bad)} of {len(rows)} run(s) reproduced"
        + (f"; mismatch in run(s) {', '.join(map(str, bad))}" if bad else ""))
    return 1 if bad else 0
