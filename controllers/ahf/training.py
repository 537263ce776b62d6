"""Training of the ``ahf`` network with hessianfree: regimes, checkpoints, curves.

Regimes (setting ``regime``):

``rollout``  (a) every iteration runs the arm in closed loop with the current
             weights (``cache_minibatch`` with the plant layer), then one HF
             update.
``fixed``    (b) one rollout, then ``fixed_iters`` (K) HF updates with the
             inputs (the arm states the network saw) and targets held fixed.
``switch``   (b) until a block of K updates lowers the best closed-loop mean
             final hand distance so far by less than ``plateau`` (relative),
             then (a).

One *iteration* is one HF update (one batch).  After each one the weights are
run in closed loop on the arm (the figure reported and checkpointed is the
closed-loop one, not the fixed-input one) and a checkpoint is written: the
``latest`` always, the ``best`` (lowest closed-loop mean final hand distance)
when it improved.  A non-finite error stops training with
:class:`bench.errors.Diverged`, leaving the last good checkpoints in place.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import Diverged, Incompatible, SettingError
from bench.plants.geometry import circle_targets
from bench.settings import as_dict, settings_hash

from . import checkpoints as ckpt

#: Settings that do not change what is trained (resume across a change of them).
NOT_IDENTITY = frozenset({"iterations", "goal", "max_seconds", "weights"})
#: Settings added after weights shipped: in the identity only away from their default (earlier keys stay valid).
LATER = frozenset({"final_velocity_cost", "final_actuator_cost", "step_velocity_cost", "curriculum", "cost_space"})
HISTORY = ("iteration", "wall_s", "cpu_s", "error", "distance_mean", "distance_max", "damping", "phase")


@dataclasses.dataclass
class Problem:
    """What is trained for: the arm, its targets and the sequence.

    targets_xy : (n, 2) hand targets, metres; q_target : (n, J) rad.
    steps : int, the whole sequence; with ``q_home`` (the start posture by
    IK, (n, J)) the target moves back to the start after ``reach_steps``.
    """

    arm: Any
    targets_xy: np.ndarray
    q_target: np.ndarray
    steps: int
    radius: float | None
    reach_steps: int = 0
    home_xy: np.ndarray | None = None
    q_home: np.ndarray | None = None

    @property
    def target_state(self) -> np.ndarray:
        """``(n, S)`` or, with a return phase, ``(n, T, S)`` joint-space targets: the angles at rest
        (zero velocity, and zero actuator torque on an arm whose state holds one, e.g. Todorov's)."""
        out = self.rest(self.q_target)
        if self.q_home is None:
            return out
        home = self.rest(self.q_home)
        per_step = np.repeat(out[:, None, :], self.steps, axis=1)
        per_step[:, self.reach_steps:] = home[:, None, :]
        return per_step

    def rest(self, q: np.ndarray) -> np.ndarray:
        """``(n, S)``: joint angles ``q`` (n, J) followed by zeros for the rest of the arm's state."""
        return np.concatenate([q, np.zeros((len(q), int(self.arm.state_size) - q.shape[1]))], axis=1)

    @property
    def cost_steps(self) -> tuple[int, ...]:
        return (self.steps - 1,) if self.q_home is None else (self.reach_steps - 1, self.steps - 1)


def make_problem(arm: Any, task: Any, settings: Any) -> Problem:
    """Targets on the reach task's circle (``settings.targets`` of them, joint
    angles by the arm's IK) and ``round(duration / dt)`` steps."""
    ts = getattr(task, "settings", None)
    radius = getattr(ts, "radius", None)
    duration = float(getattr(ts, "duration", 0.4))
    steps = round(duration / arm.dt)
    if steps < 2:
        raise Incompatible(f"ahf: a reach of {duration} s at dt = {arm.dt} s is only {steps} step(s)")
    start, xy = circle_targets(arm, settings.targets, radius)
    q = arm.inverse_kinematics(xy)
    if not getattr(settings, "return_phase", False):
        return Problem(arm, xy, q, steps, radius, steps)
    if settings.step_cost > 0:
        raise SettingError("ahf: step_cost is not supported with return_phase")
    home = np.tile(start, (len(xy), 1))
    return Problem(arm, xy, q, 2 * steps, radius, steps, home, arm.inverse_kinematics(home))


def identity(arm: Any, problem: Problem, settings: Any, seed: int) -> dict[str, Any]:
    """What makes two training runs the same run (resume only across equal ones)."""
    default = {f.name: f.default for f in dataclasses.fields(settings)}
    ctrl = {k: v for k, v in as_dict(settings).items()
            if k not in NOT_IDENTITY and not (k in LATER and v == default[k])}
    return {"plant": arm.name, "plant_settings": as_dict(arm.settings), "controller": ctrl,
            "seed": int(seed), "steps": problem.steps, "radius": problem.radius}


class Trainer:
    """Trains one ``ahf`` network on one arm; see the module docstring."""

    def __init__(self, arm: Any, problem: Problem, settings: Any, seed: int, *,
                 workdir: Path | None = None, log: Callable[[str], None] = print) -> None:
        import hessianfree as hf

        from .arm_layer import ArmPlantLayer
        from .net import build_network

        s = self.settings = settings
        self.arm, self.problem, self.seed, self.log = arm, problem, int(seed), log
        self.full_problem = problem  # what is trained for; self.problem is smaller during a curriculum
        self.fraction = 1.0  # of the reach radius self.problem has
        self.dtype = np.dtype(s.dtype)
        self.center = np.asarray(arm.start_state, dtype=float)
        self.scale = np.full(arm.state_size, float(s.input_scale))
        self.layer = ArmPlantLayer(arm, problem.target_state, arm.start_state, problem.steps, dtype=self.dtype,
                                   guard=s.guard, input_center=self.center, input_scale=self.scale,
                                   cost_steps=problem.cost_steps, output=s.cost_space)
        self.net = build_network(arm.state_size, s.hidden, plant_layer=self.layer, dtype=self.dtype, seed=self.seed,
                                 init_coeff=s.init_coeff, output_gain=s.output_gain,
                                 losses=self._losses(problem))
        self.opt = hf.opt.HessianFree(CG_iter=s.cg_iter, init_damping=s.init_damping, plotting=False)
        self.net.optimizer = self.opt
        self.ident = identity(arm, problem, s, seed)
        self.key = settings_hash(self.ident)
        self.workdir = Path(workdir) if workdir is not None else None
        self.iteration = 0
        self.wall = 0.0
        self.cpu = 0.0
        self.phase = "fixed" if s.regime in ("fixed", "switch") else "rollout"
        self.history: dict[str, list] = {k: [] for k in HISTORY}
        self.best: tuple[float, int] | None = None  # (distance_mean, iteration)
        self._fixed: tuple[np.ndarray, np.ndarray] | None = None
        self._block_left = 0

    def _losses(self, problem: Problem) -> Any:
        from .losses import make_losses

        s = self.settings
        reference = problem.targets_xy if s.cost_space == "hand" else problem.q_target
        return make_losses(reference, s.step_cost, s.effort_cost, final_velocity_cost=s.final_velocity_cost,
                           final_actuator_cost=s.final_actuator_cost, step_velocity_cost=s.step_velocity_cost)

    # -- curriculum ---------------------------------------------------------------
    def radius_fraction(self, iteration: int) -> float:
        """The fraction of the reach radius trained on at ``iteration`` (1-based update number):
        with ``curriculum = C > 0``, a quarter, a half, then three quarters, each for ``C / 3`` updates,
        then the whole radius; 1 without a curriculum."""
        c = self.settings.curriculum
        if c <= 0 or iteration > c:
            return 1.0
        return 0.25 * (1 + min(2, 3 * max(iteration - 1, 0) // c))

    def _use_radius(self, fraction: float) -> None:
        """Train on the targets ``fraction`` of the way from the start hand to the full problem's targets."""
        if fraction == self.fraction:
            return
        self.fraction = fraction
        full = self.full_problem
        if fraction >= 1.0:
            problem = full
        else:
            start = self.arm.hand(np.asarray(self.arm.start_q, dtype=float)[None, :])[0]
            xy = start + fraction * (full.targets_xy - start)
            problem = dataclasses.replace(full, targets_xy=xy, q_target=self.arm.inverse_kinematics(xy),
                                          radius=None if full.radius is None else full.radius * fraction)
        self.problem = problem
        self.layer.retarget(problem.target_state, problem.cost_steps)
        self.net.loss = self._losses(problem)
        self._fixed, self._block_left = None, 0  # a new rollout for the new targets
        self.log(f"curriculum: training on {fraction:.0%} of the reach radius")

    # -- evaluation -------------------------------------------------------------
    def evaluate(self, W: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """Closed-loop ``(loss, final hand distances in m)`` of weights ``W``:
        ``(n,)`` at the end of the reach, ``(2n,)`` (reach, then return) with a
        return phase."""
        acts = self.net.forward(self.layer, self.net.W if W is None else W)
        err = float(self.net.loss.batch_loss(acts, self.layer.targets))
        p = self.problem
        ends = [(p.reach_steps - 1, p.targets_xy)] + ([(p.steps - 1, p.home_xy)] if p.q_home is not None else [])
        dist = [np.linalg.norm(self.layer.hand_of(acts[-1][:, k]) - xy, axis=1)
                for k, xy in ends]
        return err, np.concatenate(dist)

    # -- checkpoints ------------------------------------------------------------
    def meta(self, role: str, err: float, dist: np.ndarray) -> dict[str, Any]:
        a = self.arm
        return {
            "role": role, "key": self.key, "plant": a.name, "plant_settings": as_dict(a.settings),
            "dt": float(a.dt), "steps": self.problem.steps, "n_state": a.state_size,
            "n_input": int(a.input_size), "n_joints": int(a.n_joints), "hidden": int(self.settings.hidden),
            "dtype": self.dtype.name, "settings": as_dict(self.settings), "seed": self.seed,
            "targets": len(self.problem.targets_xy), "radius": self.problem.radius,
            "iteration": self.iteration, "error": err, "distance_mean": float(dist.mean()),
            "distance_max": float(dist.max()), "wall_s": round(self.wall, 3), "cpu_s": round(self.cpu, 3),
            "phase": self.phase,
            "damping": float(self.opt.damping),
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def arrays(self) -> dict[str, np.ndarray]:
        h = self.history
        out = {"W": self.net.W, "input_center": self.center, "input_scale": self.scale,
               "damping": np.array(self.opt.damping),
               "init_delta": self.opt.init_delta if self.opt.init_delta is not None else np.zeros_like(self.net.W)}
        for k in HISTORY:
            out[f"history_{k}"] = np.array(h[k], dtype=str if k == "phase" else float)
        return out

    def stem(self, role: str) -> Path:
        assert self.workdir is not None
        return self.workdir / f"ahf-{self.arm.name}-{self.key}-{role}.npz"

    def save(self, err: float, dist: np.ndarray) -> None:
        if self.workdir is None:
            return
        arrays = self.arrays()
        ckpt.write_weights(self.stem("latest"), arrays, self.meta("latest", err, dist))
        d = float(dist.mean())
        if self.problem is self.full_problem and (self.best is None or d < self.best[0]):
            self.best = (d, self.iteration)
            ckpt.write_weights(self.stem("best"), arrays, self.meta("best", err, dist))

    def resume(self) -> bool:
        """Load the latest checkpoint of this run if there is one; True if resumed."""
        if self.workdir is None or not self.workdir.is_dir():
            return False
        found = ckpt.find(self.workdir, key=self.key, role="latest")
        if not found:
            return False
        path = found[0][0]
        arrays, inner = ckpt.read_weights(path)
        if inner.get("key") != self.key:
            return False
        self.net.W[:] = arrays["W"]
        self.opt.damping = float(arrays["damping"])
        self.opt.init_delta = np.array(arrays["init_delta"], dtype=self.dtype)
        self.iteration = int(inner["iteration"])
        self.wall = float(inner["wall_s"])
        self.cpu = float(inner.get("cpu_s", 0.0))
        self.phase = inner.get("phase", self.phase)
        n = len(arrays.get("history_iteration", []))
        for k in HISTORY:
            v = arrays.get(f"history_{k}")
            self.history[k] = list(v.tolist()) if v is not None and len(v) == n else [np.nan] * n
        best = ckpt.find(self.workdir, key=self.key, role="best")
        if best:
            self.best = (float(best[0][1]["distance_mean"]), int(best[0][1]["iteration"]))
        self.log(f"resuming from checkpoint {path} (iteration {self.iteration}, mean final distance "
                 f"{inner['distance_mean'] * 100:.2f} cm); use --fresh to start over")
        return True

    # -- one iteration ----------------------------------------------------------
    def _cache(self) -> None:
        """Set up hessianfree's cached batch for this iteration (regime-dependent)."""
        net = self.net
        if self.phase == "rollout":
            net.cache_minibatch(self.layer, None)
            return
        if self._block_left <= 0 or self._fixed is None:
            net.cache_minibatch(self.layer, None)
            self._fixed = (net.inputs.copy(), net.targets.copy())
            self._block_left = self.settings.fixed_iters
        else:
            net.cache_minibatch(*self._fixed)
        self._block_left -= 1

    def step(self) -> tuple[float, np.ndarray]:
        """One HF update and its closed-loop evaluation (on the curriculum's targets of this update)."""
        self._use_radius(self.radius_fraction(self.iteration + 1))
        self._cache()
        update = self.opt.compute_update(False)
        update[self.net.fixed] = 0
        if not np.all(np.isfinite(update)):
            raise FloatingPointError("non-finite weight update")
        self.net.W += update
        self.opt.damping = max(self.opt.damping, self.settings.min_damping)
        return self.evaluate()

    def record(self, err: float, dist: np.ndarray) -> None:
        phase = self.phase if self.problem is self.full_problem else "curriculum"  # distances of a smaller radius
        row = (self.iteration, self.wall, self.cpu, err, float(dist.mean()), float(dist.max()), float(self.opt.damping),
               phase)
        for k, v in zip(HISTORY, row):
            self.history[k].append(v)

    def _maybe_switch(self) -> None:
        """At the end of a K-block: switch to (a) when the best closed-loop mean
        distance of the block is not ``plateau`` (relative) below the best before it."""
        if self.settings.regime != "switch" or self.phase != "fixed" or self._block_left > 0:
            return
        d = np.asarray(self.history["distance_mean"], dtype=float)
        k = self.settings.fixed_iters
        before, block = d[:-k], d[-k:]
        if before.size == 0:
            return
        best_before = float(np.nanmin(before))
        gain = (best_before - float(np.nanmin(block))) / best_before if best_before > 0 else 0.0
        if gain < self.settings.plateau:
            self.phase = "rollout"
            self.log(f"iteration {self.iteration}: plateau (block improved the best by {gain * 100:.1f}% < "
                     f"{self.settings.plateau * 100:.1f}%): switching to a rollout every iteration")

    def run(self, fresh: bool = False, progress: Callable[[Any], None] | None = None) -> Any:
        """Train until ``iterations``, ``goal`` or ``max_seconds``; returns the curve (DataFrame).

        ``progress(curve)`` gets the curve so far (from iteration 0, a resumed one's included) after the
        first evaluation and after every iteration, once its checkpoint is written.
        """
        import pandas as pd

        s = self.settings
        if fresh or not self.resume():
            if fresh:
                self.log("--fresh: starting from new random weights")
            err, dist = self.evaluate()
            self.record(err, dist)
            self.save(err, dist)
        if progress is not None:
            progress(pd.DataFrame(self.history))
        self.log(f"ahf on {self.arm.name}: {len(self.problem.targets_xy)} targets, {self.problem.steps} steps "
                 f"of {self.arm.dt} s, hidden {s.hidden}, regime {s.regime}, CG up to {s.cg_iter}")
        started, cpu_started = time.perf_counter(), time.process_time()
        wall0, cpu0 = self.wall, self.cpu
        while self.iteration < s.iterations:
            whole = self.radius_fraction(self.iteration) == 1.0  # the last distances are of the task's radius
            if s.goal > 0 and whole and self.history["distance_mean"] and self.history["distance_mean"][-1] < s.goal \
                    and self.history["distance_max"][-1] < 2 * s.goal:
                self.log(f"goal reached: mean final distance < {s.goal * 100:g} cm, every target < "
                         f"{2 * s.goal * 100:g} cm")
                break
            if s.max_seconds > 0 and self.wall - wall0 >= s.max_seconds:
                self.log(f"time limit of {s.max_seconds:g} s reached")
                break
            failed = self.iteration + 1
            try:
                with np.errstate(all="ignore"):
                    err, dist = self.step()
            except (OverflowError, FloatingPointError, np.linalg.LinAlgError) as exc:
                err, dist, why = np.nan, None, str(exc).splitlines()[0]
            else:
                why = "error is not finite"
            if not np.isfinite(err) or dist is None or not np.all(np.isfinite(dist)):
                kept = f"; the last good checkpoint (iteration {self.iteration}) is kept in {self.workdir}" \
                    if self.workdir is not None else ""
                raise Diverged(f"ahf training diverged at iteration {failed} ({why}){kept}")
            self.iteration = failed
            self.wall = wall0 + time.perf_counter() - started
            self.cpu = cpu0 + time.process_time() - cpu_started
            self.record(err, dist)
            self.save(err, dist)
            if progress is not None:
                progress(pd.DataFrame(self.history))
            self.log(f"iteration {self.iteration:4d}  error {err:.5f}  final distance mean "
                     f"{dist.mean() * 100:6.2f} cm  max {dist.max() * 100:6.2f} cm  damping {self.opt.damping:.3g}  "
                     f"{self.phase:7s}  {self.wall:7.1f} s")
            self._maybe_switch()
        return pd.DataFrame(self.history)

    def best_weights(self) -> tuple[np.ndarray, dict[str, Any]] | None:
        """``(W, meta)`` of the best checkpoint of this run, if checkpoints are kept."""
        if self.workdir is None:
            return None
        found = ckpt.find(self.workdir, key=self.key, role="best")
        if not found:
            return None
        arrays, meta = ckpt.read_weights(found[0][0])
        return arrays["W"], meta
