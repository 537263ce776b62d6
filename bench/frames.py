"""How the store keeps a run's frames: columns in binary, compressed; older JSON frames stay readable.

:func:`encode_frame` writes the :data:`FRAME_ENCODING` format (each column in
binary, integers in the smallest type that holds them, floats as float32 only
when that moves no value by more than :data:`FLOAT32_TOLERANCE` of the
column's range; zlib-compressed); frames with other column types fall back
to JSON.  :func:`decode_frame` reads both.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .errors import StoreError

if TYPE_CHECKING:
    import pandas as pd

#: The encoding of frames written now: columns in binary, compressed (:func:`encode_frame`).
FRAME_ENCODING = "cols1"
#: A float column is kept as float32 when that moves no value by more than this part of the column's range.
FLOAT32_TOLERANCE = 1e-6


def _float_column(a: Any) -> Any:
    """float64 values as float32 when that keeps them to :data:`FLOAT32_TOLERANCE` of the column's range."""
    import numpy as np

    a = np.asarray(a, dtype="<f8")
    with np.errstate(over="ignore"):
        b = a.astype("<f4")
    finite = np.isfinite(a)
    if not np.array_equal(np.isfinite(b), finite):  # beyond float32's range
        return a
    if finite.any():
        x = a[finite]
        with np.errstate(over="ignore", invalid="ignore"):
            if not np.max(np.abs(b[finite].astype("<f8") - x)) <= FLOAT32_TOLERANCE * (x.max() - x.min()):
                return a
    return b


def encode_frame(frame: pd.DataFrame) -> tuple[bytes | str, str]:
    """``(data, encoding)`` of a per-step table as the store keeps it.

    ``cols1`` (every frame of numbers, booleans and strings): a JSON header
    (rows; each column's name and stored type) and each column's values in
    binary, byte-shuffled, the whole zlib-compressed.  Integers take the
    smallest type that holds them; a float column is stored as float32 when
    that moves no value by more than a millionth of the column's range
    (:data:`FLOAT32_TOLERANCE`; otherwise float64: timestamps, huge
    ranges), so a 64-target reach trajectory takes about a tenth of its
    JSON.  Any other frame (dates, mixed objects) is stored as JSON
    (``json``), as every frame was before schema 3.
    """
    import zlib

    import numpy as np
    from pandas.api.types import is_bool_dtype, is_numeric_dtype, is_string_dtype

    columns, parts = [], []
    names = [str(c) for c in frame.columns]
    ok = len(set(names)) == len(names)
    for name, col in zip(names, (frame.iloc[:, i] for i in range(frame.shape[1]))) if ok else ():
        dtype = col.dtype
        if is_bool_dtype(dtype) and not col.isna().any():
            a = col.to_numpy(dtype="<u1")
            kind = "b"
        elif is_numeric_dtype(dtype) and dtype.kind in "iu" and not col.isna().any():
            a = col.to_numpy(dtype=np.uint64 if dtype.kind == "u" and dtype.itemsize == 8 else np.int64)
            lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
            a = a.astype(next(t for t in ("<i1", "<i2", "<i4", "<i8", "<u8")
                              if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max))
            kind = "i"
        elif is_numeric_dtype(dtype) and dtype.kind in "fiu":   # a nullable integer column with NA: floats
            a = _float_column(col.to_numpy(dtype="<f8", na_value=np.nan))
            kind = "f"
        elif (is_string_dtype(dtype) or dtype.kind == "O") and all(v is None or isinstance(v, str) or v != v
                                                                   for v in col.tolist()):
            parts.append(json.dumps([v if isinstance(v, str) else None for v in col.tolist()]).encode())
            columns.append([name, "s", len(parts[-1])])
            continue
        else:
            ok = False
            break
        a = np.ascontiguousarray(a)
        parts.append(a.view(np.uint8).reshape(-1, a.dtype.itemsize).T.tobytes())  # byte planes compress best
        columns.append([name, kind, a.dtype.str])
    if not ok:
        return frame.to_json(orient="split", index=False, double_precision=10, date_format="iso"), "json"
    head = json.dumps({"rows": len(frame), "columns": columns}, separators=(",", ":")).encode()
    return zlib.compress(head + b"\n" + b"".join(parts), 6), FRAME_ENCODING


def decode_frame(data: bytes | str, encoding: str = "json") -> pd.DataFrame:
    """The per-step table that :func:`encode_frame` stored (``json``: the encoding of schemas 1 and 2).

    Integers come back as int64 and floats as float64, whatever their stored width.
    """
    import numpy as np
    import pandas as pd

    if encoding == "json":
        import io

        text = data.decode() if isinstance(data, bytes) else data
        return pd.read_json(io.StringIO(text), orient="split")
    if encoding != FRAME_ENCODING:
        raise StoreError(f"a frame stored with encoding {encoding!r}, unknown to this ctrlbench; upgrade ctrlbench")
    import zlib

    raw = zlib.decompress(data)
    cut = raw.index(b"\n")
    head = json.loads(raw[:cut])
    rows, pos, cols = int(head["rows"]), cut + 1, {}
    for name, kind, spec in head["columns"]:
        if kind == "s":
            cols[name] = pd.Series(json.loads(raw[pos:pos + spec]), index=pd.RangeIndex(rows))
            pos += spec
            continue
        dtype = np.dtype(spec)
        size = rows * dtype.itemsize
        planes = np.frombuffer(raw, dtype=np.uint8, count=size, offset=pos).reshape(dtype.itemsize, rows)
        a = np.ascontiguousarray(planes.T).view(dtype).reshape(rows)
        pos += size
        cols[name] = a.astype(bool) if kind == "b" else a.astype(np.int64 if kind == "i" and dtype.kind == "i"
                                                                  else (np.float64 if kind == "f" else dtype))
    return pd.DataFrame(cols, index=pd.RangeIndex(rows))
