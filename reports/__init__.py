"""Reports built from the results store (``bench.reports``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def load(db: str | os.PathLike, where: dict[str, Any] | None = None, include_failed: bool = False) -> pd.DataFrame:
    """A tidy DataFrame of a store: one row per run × metric.

    Columns: run_id, plant, controller, task, seed, settings_hash, settings
    (JSON), commit, code_version, suite, started_at, wall_s, cpu_s, status,
    metric, value, unit, better.
    """
    from bench.errors import StoreError
    from bench.store import Store

    if not os.path.exists(db):
        raise StoreError(f"no results store at {db}")
    return Store(db).dataframe(where, include_failed=include_failed)
