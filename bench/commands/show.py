"""``bench show RUN_ID [--animate OUT.gif]``: one stored run with its provenance, metrics and artifacts;
with ``--animate``, a GIF of the arm doing its task (:func:`bench.reports.animation.animate_run`)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..limits import parse_int
from ..paths import output_file
from ..session import db_path
from ..store import Store
from . import Printer

ROLES = ("plant", "controller", "task")


def provenance_lines(r: dict[str, Any]) -> list[str]:
    """The experiment key and, per role, where the component came from, its source digest and files."""
    lines = [f"experiment {r['experiment']}"]
    prov = r.get("provenance") or {}
    if not prov:
        return lines + ["provenance: not recorded (a run stored before ctrlbench recorded provenance)"]
    lines.append("provenance:")
    for role in ROLES:
        c = prov.get(role)
        if not c:
            continue
        origin = f"{c.get('dist')} {c.get('version')}" if c.get("version") else str(c.get("dist"))
        lines.append(f"  {role}: {c.get('kind')} {c.get('name')!r} from {origin} (plugin {c.get('plugin')!r}), "
                     f"source {c.get('source')}")
        for f in c.get("files", []):
            read = "  (read)" if f.get("read") else ""
            lines.append(f"    file {f['path']}  {f.get('sha256') or 'missing'}{read}")
    for f in prov.get("read", []):
        lines.append(f"  read during the run: {f['path']}  {f.get('sha256') or 'missing'}")
    return lines


def show(run_id: str, *, db: str | Path | None, out: Printer, animate: str | Path | None = None) -> int:
    """Print run ``run_id`` of the store ``db``; with ``animate``, also write its animation (a ``.gif``)."""
    rid = parse_int(run_id, "show: the run id", low=1)
    if animate is not None and Path(animate).suffix.lower() != ".gif":
        raise UsageError(f"--animate writes a GIF: give a path ending in .gif, got {str(animate)!r}")
    path = db_path(db, must_exist=True)
    r = Store(path).run(rid)
    if animate is not None:
        animate = output_file(animate, "--animate")
    out(f"run {r['id']}: {r['plant']} · {r['controller']} · {r['task']}   seed {r['seed']}   {r['status']}")
    if r["error"]:
        out(f"error: {r['error']}" + (f" (traceback in {r['log_path']})" if r["log_path"] else ""))
    out(f"started {r['started_at']}   wall {r['wall_s'] or 0:.3f} s   cpu {r['cpu_s'] or 0:.3f} s")
    out(f"code {r['code_version']}   commit {r['git_commit']}   settings {r['settings_hash']}")
    for part, values in r["settings"].items():
        out(f"  {part}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    if r["claim"]:
        c = r["claim"]
        out(f"claimed by {c['host']} pid {c['pid']} since "
            f"{datetime.datetime.fromtimestamp(c['at'] or 0, datetime.UTC).isoformat(timespec='seconds')}")
    for line in provenance_lines(r):
        out(line)
    width = max([len(n) for n in r["metrics"]] + [6])
    for name, m in r["metrics"].items():
        out(f"  {name:<{width}}  {m['value']:.6g} {m['unit']}")
    for name, artifact in r["artifacts"].items():
        out(f"  artifact {name}: {artifact}")
    if animate is not None:
        from ..reports.animation import animate_run

        try:
            written = animate_run(Store(path), rid, animate)
        except OSError as exc:
            raise UsageError(f"--animate: cannot write {str(animate)!r}: {exc.strerror or exc}") from None
        out(f"animation: {written}")
    return 0
