"""Workspace geometry shared by the arm tasks, their Gymnasium environments and the learners.

Everything here is plain numpy on an arm's kinematics (``hand``,
``link_lengths``, ``start_q``, ``reach``); positions are in metres.

* :func:`circle_targets` - ``n`` points on a circle around the start hand
  (the batched ``reach`` task, the AHF learner);
* :class:`TaskGeometry` and :func:`task_geometry` - where an arm's tasks
  happen: the centre and radius of the centre-out targets, the switching
  thresholds, the postural perturbation and the writing box (studywolf's
  per-arm constants for the two- and three-link arms, a rule for any other);
* :func:`into_workspace` - targets pulled radially into the reachable annulus;
* :func:`centre_out` - studywolf's eight targets around a centre;
* :func:`random_targets` - seeded random reachable targets in a box;
* :func:`glyph_strokes`, :func:`write_strokes` - the letters and digits the
  ``write`` task traces (polylines shipped in ``glyphs.json``), and
  :func:`along` - points along a polyline by arc length.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from importlib import resources
from typing import Any

import numpy as np

from bench.errors import InvalidArgument, suggestion

#: Postural perturbation per unit of the arm's largest start-posture inertia (rad/s²): the rule for an
#: arm without a declared postural force; on studywolf's three-link arm (largest diagonal of M(start_q)
#: ≈ 387 kg·m²) it gives 387 N·m, close to the 400 N·m studywolf used there.
POSTURAL_ACCELERATION = 1.0


def circle_targets(arm: Any, n: int, radius: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(start_hand (2,), targets (n, 2))``: n points on a circle around the start hand.

    The default radius is an eighth of the sum of the arm's link lengths.
    Targets are returned as drawn; :func:`into_workspace` pulls them into
    reach for an arm whose workspace the circle leaves (a one-link arm).
    """
    start = arm.hand(arm.start_q[None, :])[0]
    r = float(radius) if radius is not None else float(np.sum(arm.link_lengths)) / 8
    ang = 2 * np.pi * np.arange(n) / n
    return start, start + r * np.stack([np.cos(ang), np.sin(ang)], axis=1)


def centre_out(centre: Any, radius: float, n: int = 8) -> np.ndarray:
    """``(n, 2)`` targets at angles ``2πk/n`` (k = 0..n-1) on a circle of ``radius`` m around ``centre``."""
    ang = 2 * np.pi * np.arange(n) / n
    return np.asarray(centre, dtype=float) + float(radius) * np.stack([np.cos(ang), np.sin(ang)], axis=1)


def _annulus(arm: Any, margin: float) -> tuple[float, float]:
    """``(inner, outer)`` radii (m) a target may have: the reachable annulus shrunk by ``margin``
    (a fraction of the outer radius) on both sides; a degenerate annulus (one link) stays a circle."""
    inner, outer = (float(v) for v in arm.reach)
    pad = margin * outer
    if outer - inner <= 2 * pad:
        mid = 0.5 * (inner + outer)
        return mid, mid
    return inner + pad, outer - pad


def into_workspace(arm: Any, xy: Any, margin: float = 0.01) -> np.ndarray:
    """``(n, 2)`` targets moved radially (about the base at the origin) into the reachable annulus.

    ``margin`` is a fraction of the outer radius kept clear of both edges, so
    no target sits on a singular, fully stretched or folded posture.  Targets
    already inside are returned unchanged; a one-link arm's targets land on
    its circle.
    """
    xy = np.array(xy, dtype=float).reshape(-1, 2)
    lo, hi = _annulus(arm, margin)
    r = np.hypot(xy[:, 0], xy[:, 1])
    clipped = np.clip(r, lo, hi)
    scale = np.divide(clipped, r, out=np.ones_like(r), where=r > 0)
    out = xy * scale[:, None]
    at_base = r == 0
    if at_base.any():  # straight up: any direction is as good as another
        out[at_base] = [0.0, lo]
    return out


def random_targets(arm: Any, rng: np.random.Generator, n: int, box: tuple[float, float, float, float],
                   margin: float = 0.01, tries: int = 1000) -> np.ndarray:
    """``(n, 2)`` reachable targets drawn uniformly in ``box`` = (x0, x1, y0, y1) m.

    Draws from ``rng`` only; a draw outside the reachable annulus is drawn
    again (up to ``tries`` times, then pulled into reach by
    :func:`into_workspace`), so every target can be reached.
    """
    x0, x1, y0, y1 = (float(v) for v in box)
    lo, hi = _annulus(arm, margin)
    out = np.empty((n, 2))
    for i in range(n):
        for _ in range(tries if hi > lo else 1):
            p = rng.uniform([x0, y0], [x1, y1])
            if lo <= np.hypot(*p) <= hi:
                break
        out[i] = into_workspace(arm, p[None], margin)[0]
    return out


@dataclasses.dataclass(frozen=True)
class TaskGeometry:
    """Where an arm's tasks happen (all lengths in metres).

    centre, radius
        The centre-out targets: 8 points at ``radius`` around ``centre``
        (``reach`` in sequence mode, ``postural``).
    threshold
        ``reach``: a movement ends when ``|hand - target|₁ + |dq|₁`` (m plus
        rad/s, studywolf's rule) drops below it.
    postural_threshold
        ``postural``: the same rule, for starting the hold.
    postural_force
        ``postural``: scale (N·m) of the constant joint torque pushed on the
        arm while it holds a target; None: ``POSTURAL_ACCELERATION`` × the
        largest diagonal entry of M(start_q).
    writebox
        ``write``: (x0, x1, y0, y1), the box the text is written in.
    write_threshold
        ``write``: how close the hand must come to a stroke's start before
        the pen goes down.
    """

    centre: tuple[float, float]
    radius: float
    threshold: float
    postural_threshold: float
    postural_force: float | None
    writebox: tuple[float, float, float, float]
    write_threshold: float


#: studywolf/control's constants for its two-link arms (tasks/reach.py, postural.py, write.py).
TWO_LINK = TaskGeometry(centre=(0.0, 0.35), radius=0.075, threshold=0.01, postural_threshold=0.0075,
                        postural_force=None, writebox=(-0.1, 0.1, 0.2, 0.25), write_threshold=0.01)
#: studywolf/control's constants for its three-link arm.
THREE_LINK = TaskGeometry(centre=(0.0, 2.0), radius=0.4, threshold=0.02, postural_threshold=0.015,
                          postural_force=400.0, writebox=(-0.25, 0.25, 1.65, 2.0), write_threshold=0.05)


def start_hand(arm: Any) -> np.ndarray:
    """``(2,)`` the hand (m) at the start posture."""
    return np.asarray(arm.hand(np.asarray(arm.start_q, dtype=float)[None, :])[0], dtype=float)


def task_geometry(arm: Any) -> TaskGeometry:
    """The arm's :class:`TaskGeometry`: its ``task_geometry`` attribute, or a rule.

    The rule (an arm that declares none, e.g. a plugin's): centre at the
    start hand, radius an eighth of the summed link lengths, threshold
    radius / 7.5 (studywolf's two-link ratio), postural threshold ¾ of
    that, writing box 2.5 × 0.7 radii centred on the start hand.  The centre
    and the box corners are pulled into the workspace.
    """
    declared = getattr(arm, "task_geometry", None)
    if isinstance(declared, TaskGeometry):
        geometry = declared
    else:
        centre = into_workspace(arm, start_hand(arm)[None])[0]
        radius = float(np.sum(arm.link_lengths)) / 8
        threshold = radius / 7.5
        half_w, half_h = 1.25 * radius, 0.35 * radius
        geometry = TaskGeometry(
            centre=(float(centre[0]), float(centre[1])), radius=radius, threshold=threshold,
            postural_threshold=0.75 * threshold, postural_force=None,
            writebox=(float(centre[0] - half_w), float(centre[0] + half_w),
                      float(centre[1] - half_h), float(centre[1] + half_h)),
            write_threshold=threshold)
    if geometry.postural_force is None:
        m = np.asarray(arm.inertia(np.asarray(arm.start_q, dtype=float)[None, :])[0])
        force = POSTURAL_ACCELERATION * float(np.max(np.diag(m)))
        geometry = dataclasses.replace(geometry, postural_force=force)
    return geometry


def along(stroke: np.ndarray, fractions: Any) -> np.ndarray:
    """``(k, 2)`` points at ``fractions`` (0..1) of the polyline ``stroke``'s arc length (m)."""
    stroke = np.asarray(stroke, dtype=float)
    seg = np.hypot(*np.diff(stroke, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    fractions = np.asarray(fractions, dtype=float)
    if arc[-1] == 0:
        return np.repeat(stroke[:1], len(fractions), axis=0)
    s = fractions * arc[-1]
    return np.stack([np.interp(s, arc, stroke[:, 0]), np.interp(s, arc, stroke[:, 1])], axis=1)


# -- glyphs ---------------------------------------------------------------------------
@functools.cache
def _glyph_table() -> dict[str, list[np.ndarray]]:
    """The shipped glyphs: character → strokes, each ``(k, 2)`` in the em box (x in [0, 0.6], y in [0, 1])."""
    text = resources.files(__package__).joinpath("glyphs.json").read_text(encoding="utf-8")
    data = json.loads(text)
    table = {}
    for ch, strokes in data["glyphs"].items():
        table[ch] = [np.asarray(s, dtype=float).reshape(-1, 2) for s in strokes]
    return table


def glyphs() -> list[str]:
    """The characters :func:`write_strokes` can trace (a space leaves a gap)."""
    return sorted(_glyph_table())


def glyph_strokes(ch: str) -> list[np.ndarray]:
    """The strokes of one character in its em box (copies); unknown characters name the closest."""
    table = _glyph_table()
    if ch not in table:
        raise InvalidArgument(f"no path for character {ch!r}{suggestion(ch, table)}; "
                              f"available: {''.join(sorted(table))}")
    return [s.copy() for s in table[ch]]


def write_strokes(text: str, box: tuple[float, float, float, float]) -> list[np.ndarray]:
    """``text`` laid out in ``box`` = (x0, x1, y0, y1) m: a list of ``(k, 2)`` strokes in metres.

    As studywolf's write task lays out a sequence: ``len(text)`` cells of
    equal width separated by gaps of the same width, each glyph stretched
    to fill its cell (the em box's 0.6 width to the cell width, its height
    to the box height).  A space is an empty cell.
    """
    if not text:
        raise InvalidArgument("write: the text is empty")
    for ch in text:
        if ch != " ":
            glyph_strokes(ch)  # unknown characters fail before anything is laid out
    x0, x1, y0, y1 = (float(v) for v in box)
    cell = (x1 - x0) / (2 * len(text) - 1)
    out = []
    for i, ch in enumerate(text):
        if ch == " ":
            continue
        left = x0 + 2 * i * cell
        for s in glyph_strokes(ch):
            out.append(np.stack([left + s[:, 0] / 0.6 * cell, y0 + s[:, 1] * (y1 - y0)], axis=1))
    return out
