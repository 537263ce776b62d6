"""``ahf``: a recurrent arm controller trained with Hessian-free optimisation.

The network (:mod:`bench.controllers.ahf.net`) is Sutskever's: input
``[target state, arm state]`` (normalised: minus the start posture, divided by
``input_scale``), two recurrent Tanh layers, a linear output whose first ``U``
numbers are joint torques (N·m), and the arm itself as the last layer
(:mod:`bench.controllers.ahf.arm_layer`) during training.  It is trained with the
``hessianfree`` package on the reach task's targets (joint angles by the arm's
inverse kinematics, zero target velocity) to put the arm on the target at the
end of the reach (``duration / dt`` steps, 40 at the default dt = 0.01 s);
see :mod:`bench.controllers.ahf.training` for the regimes and checkpoints.  The
loss is the reference's final-state cost unless the ``*_cost`` settings weigh
the final velocity against the distance or add a path cost, on the joint state
or on the hand (``cost_space``): :mod:`bench.controllers.ahf.losses`.

``python run.py arm2_python ahf reach --dt=1e-2 --set ahf.weights=rnn_weights-trial13405-err0.00005.npz``
acts with studywolf/control's original trained network (its format is
recognised by content: :mod:`bench.controllers.ahf.checkpoints`): inputs
``[joint targets, 0, 0, q, dq]`` unscaled, torque ``u_j = out_j + out_{j+2}``.

``python run.py arm2 ahf reach`` uses the weights shipped in
``controllers/ahf/weights`` (package data of ``bench.controllers.ahf``) for that
plant (or the ``weights`` setting, or what ``train`` just produced).  The network takes one step every training
``dt`` (0.01 s) and holds its torques in between, so it acts on a plant whose
``dt`` divides that step (the default 1 ms: every 10th ``act`` call) as on one
at 0.01 s (one step per call); its recurrent state is kept between calls and
cleared by ``reset``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bench.api import Learner, Metric
from bench.capabilities import Dynamics, Jacobians, Kinematics
from bench.errors import CheckpointError, Incompatible, InvalidArgument
from bench.settings import as_dict, setting

from . import checkpoints as ckpt

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class AHFSettings:
    hidden: int = setting(32, "units in each of the two recurrent Tanh layers (reference: 32, 96, 100)", ge=1, le=1024)
    dt: float = setting(0.01, "control and training step; the plant's dt must equal it", unit="s", gt=0, le=1.0,
                        train_only=True)
    targets: int = setting(64, "training targets on the reach circle", ge=1, le=4096, train_only=True)
    regime: Literal["rollout", "fixed", "switch"] = setting(
        "rollout", "rollout: new rollout every update (a); fixed: one rollout per fixed_iters updates (b); "
        "switch: (b) until a plateau, then (a)", train_only=True)
    fixed_iters: int = setting(32, "K: updates per rollout in the fixed regime", ge=1, le=10000, train_only=True)
    plateau: float = setting(0.05, "switch regime: switch when a K-block lowers the best mean distance by less "
                                   "than this fraction", ge=0, lt=1, train_only=True)
    cg_iter: int = setting(96, "most conjugate-gradient iterations per update", ge=1, le=10000, train_only=True)
    init_damping: float = setting(100.0, "initial Tikhonov damping of HF", gt=0, le=1e8, train_only=True)
    min_damping: float = setting(0.0, "floor for HF's adaptive damping (0: none)", ge=0, le=1e8, train_only=True)
    iterations: int = setting(300, "HF updates (batches) to train for in total", ge=0, le=1_000_000, train_only=True)
    goal: float = setting(0.003, "stop when the mean final distance < goal and every one < 2·goal (0: never)",
                          unit="m", ge=0, train_only=True)
    max_seconds: float = setting(0.0, "stop after this much training wall time in this call (0: no limit)",
                                 unit="s", ge=0, train_only=True)
    step_cost: float = setting(0.0, "weight of a joint-distance cost at every step (0: final state only)", ge=0,
                               train_only=True)
    effort_cost: float = setting(0.0, "SparseL2 weight on the output layer (torques)", ge=0, train_only=True)
    final_velocity_cost: float = setting(1.0, "weight of the final joint velocities against the final angles "
                                              "(1: the plain final-state cost; see ahf/losses.py)", unit="s²", ge=0,
                                         train_only=True)
    final_actuator_cost: float = setting(1.0, "weight of the final actuator torques (arms with an actuator state)",
                                         unit="rad²/(N·m)²", ge=0, train_only=True)
    step_velocity_cost: float = setting(0.0, "weight of the joint speed² at every step (a path cost; 0: none)",
                                        unit="s²", ge=0, train_only=True)
    cost_space: Literal["joint", "hand"] = setting(
        "joint", "the costs on joint angles and velocities (rad, rad/s) or on the hand's position and velocity "
                 "(m, m/s; exact Gauss-Newton through the kinematics); see ahf/losses.py", train_only=True)
    input_scale: float = setting(0.2, "network inputs are (state - start state) / input_scale", unit="rad", gt=0,
                                 train_only=True)
    init_coeff: float = setting(0.1, "scale of the sparse random initial weights", gt=0, le=100, train_only=True)
    output_gain: float = setting(1.0, "fixed output-to-plant weights: output_gain × identity (1: identity)",
                                 unit="N·m", gt=0, le=1e6, train_only=True)
    guard: float = setting(2 * math.pi, "state squashing threshold during training", unit="rad", gt=0, train_only=True)
    dtype: Literal["float64", "float32"] = setting("float64", "float type of the network and plant layer",
                                                   train_only=True)
    curriculum: int = setting(0, "updates over which the reach radius grows: a quarter, a half, three quarters "
                                 "(C/3 updates each), then whole (0: whole from the start)", ge=0, le=1_000_000,
                              train_only=True)
    return_phase: bool = setting(False, "train to reach and then return to the start (2 × duration; "
                                        "errors at both ends count)", train_only=True)
    weights: str | None = setting(None, "an .npz weights file to act with (default: the shipped weights); "
                                        "ctrlbench's or studywolf/control's rnn_weights-*.npz (told apart by content)")

    def check(self) -> None:
        """A ``weights`` file is read when the settings are checked, so a missing, foreign or
        mis-sized one is refused (one line, exit 2) before a run starts."""
        if self.weights:
            ckpt.read_weights(self.weights)


def _shipped_sidecars() -> list[Path]:
    folder = resources.files("bench.controllers.ahf") / "weights"
    try:
        return [Path(str(p)) for p in folder.iterdir() if p.name.endswith(".json")]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _same_plant(recorded: Any, name: str) -> bool:
    """Whether plant ``name`` is the plant weights were trained on: the same name, or another name
    registered for the same factory (studywolf's ``arm2_python`` is ``arm2``)."""
    if recorded == name:
        return True
    from bench.errors import UnknownName
    from bench.plugins import registry

    try:
        reg = registry()
        return reg.get("plant", str(recorded)).factory == reg.get("plant", name).factory
    except UnknownName:
        return False


def _is_arm(plant: Any) -> bool:
    return isinstance(plant, Kinematics) and isinstance(plant, Dynamics) and isinstance(plant, Jacobians)


#: What a training run of ``ahf`` reports (:meth:`AHF.training_metrics`), from its curve of closed-loop final
#: hand distances on the training targets.
TRAINING_METRICS = {
    "train_s_to_1cm": Metric("s", "lower", "training wall time until the mean final distance first fell below "
                                          "1 cm (NaN: never)"),
    "iterations_to_1cm": Metric("iterations", "lower", "HF iterations until the mean final distance first fell "
                                                       "below 1 cm (NaN: never)"),
    "train_s_to_threshold_all": Metric("s", "lower", "training wall time until every target's final distance was "
                                                     "within the task's threshold: distance_max < threshold (the "
                                                     "reach tolerance, 0.01 m on arm2; NaN: never)"),
    "iterations_to_threshold_all": Metric("iterations", "lower", "HF iterations until distance_max < the task's "
                                                                 "threshold (NaN: never)"),
    "best_distance_mean": Metric("m", "lower", "lowest mean final distance of the curve (the weights saved)"),
}


def first_under(curve: Any, column: str, threshold: float) -> tuple[float, float]:
    """``(wall_s, iteration)`` of the curve's first row whose ``column`` is below ``threshold`` (NaN, NaN: none)."""
    below = np.flatnonzero(np.asarray(curve[column], dtype=float) < threshold)
    if below.size == 0:
        return math.nan, math.nan
    i = int(below[0])
    return float(curve["wall_s"].iloc[i]), float(curve["iteration"].iloc[i])


class AHF(Learner):
    """Hessian-free trained recurrent reaching controller (see the module docstring)."""

    Settings = AHFSettings
    RESUMES = True  # Trainer.resume: the latest checkpoint holds the weights, HF's state and the curve so far
    TRAINING_METRICS = TRAINING_METRICS
    TRAINING_HEADLINE = ("train_s_to_1cm", "iterations_to_1cm", "train_s_to_threshold_all", "best_distance_mean")

    def __init__(self, settings: AHFSettings | None = None) -> None:
        super().__init__(settings)
        self.W: np.ndarray | None = None
        self.meta: dict[str, Any] | None = None
        self.arrays: dict[str, np.ndarray] = {}
        self.policy: Any = None
        self.source: str = ""
        self._ik_cache: tuple[np.ndarray, np.ndarray] | None = None
        self._n: int | None = None
        self._period, self._calls, self._held = 1, 0, None

    # -- plant and weights ---------------------------------------------------------
    def input_files(self) -> list[Path]:
        """The ``weights`` file, or the shipped weights (and their sidecars) one of which fits the plant."""
        if self.settings.weights:
            return [Path(self.settings.weights).expanduser()]
        sidecars = sorted(_shipped_sidecars())
        return sorted(sidecars + [p.with_suffix(".npz") for p in sidecars if p.with_suffix(".npz").is_file()])

    def _check_arm(self, plant: Any) -> None:
        if not _is_arm(plant):
            raise Incompatible(f"ahf controls planar arms (a plant with kinematics, inverse_kinematics and "
                               f"dynamics); {getattr(plant, 'name', type(plant).__name__)!r} is not one")

    @staticmethod
    def _control_period(plant: Any, trained_dt: float, what: str) -> int:
        """Plant steps per network step: the network acts every ``trained_dt`` and holds its torque
        in between (zero-order hold), so the plant's dt must divide the training step."""
        ratio = float(trained_dt) / float(plant.dt)
        period = round(ratio)
        if period < 1 or not math.isclose(ratio, period, rel_tol=1e-9):
            name = getattr(plant, "name", "arm")
            raise Incompatible(
                f"ahf {what} trained at dt = {trained_dt:g} s but the {name} plant runs at dt = {plant.dt:g} s; "
                f"the plant's dt must be the training step divided by a whole number (the network acts every "
                f"{trained_dt:g} s and holds its torque between), e.g. python run.py {name} ahf reach "
                f"--dt {trained_dt:g} --set reach.targets=64")
        return period

    def bind(self, plant: Any) -> None:
        """Attach an arm.  Weights are loaded on the first ``reset`` (so that
        ``bench train`` can bind before any weights exist)."""
        self._check_arm(plant)
        super().bind(plant)
        self.policy = None

    def _ensure_weights(self) -> None:
        plant = self.plant
        if plant is None:
            raise CheckpointError("ahf: bind(plant) before reset()")
        if self.W is None:
            if self.settings.weights:
                self.load(self.settings.weights)
            else:
                self._load_shipped(plant)
        if self.policy is None:
            self._check_fits(plant)

    def _load_shipped(self, plant: Any) -> None:
        name = getattr(plant, "name", "")
        want = {k: v for k, v in as_dict(plant.settings).items() if k != "dt"}
        candidates = []
        for path, meta in ckpt.find(_shipped_sidecars()):
            ps = {k: v for k, v in meta.get("plant_settings", {}).items() if k != "dt"}
            candidates.append(meta)
            if _same_plant(meta.get("plant"), name) and ps == want and meta.get("hidden") == self.settings.hidden:
                self._control_period(plant, meta["dt"], f"weights {path.name} were")
                self.load(path)
                return
        have = ", ".join(sorted({f"{m.get('plant')} (hidden {m.get('hidden')}, dt {m.get('dt')})"
                                 for m in candidates})) or "none"
        raise CheckpointError(
            f"no shipped ahf weights fit plant {name!r} with these settings (hidden {self.settings.hidden}); "
            f"shipped: {have}; train some with: bench train {name or 'PLANT'} ahf reach --dt {self.settings.dt:g} "
            f"and pass the best checkpoint it writes as --set ahf.weights=FILE.npz")

    def _check_fits(self, plant: Any) -> None:
        m = self.meta or {}
        if int(m.get("n_state", -1)) != plant.state_size or int(m.get("n_input", -1)) != plant.input_size:
            raise CheckpointError(
                f"ahf weights {self.source} are for an arm with state size {m.get('n_state')} and "
                f"{m.get('n_input')} inputs; {getattr(plant, 'name', 'this plant')!r} has {plant.state_size} "
                f"and {plant.input_size}")
        self._period = self._control_period(plant, float(m.get("dt", plant.dt)),
                                            f"weights {Path(self.source).name} were")
        from .net import Policy

        self.policy = Policy(self.W, plant.state_size, plant.input_size, int(m["hidden"]),
                             dtype=m.get("dtype", "float64"), output=str(m.get("output", "first")))

    def load(self, path: str | Path) -> None:
        """Read weights written by :meth:`save` or by training, or studywolf/control's
        ``rnn_weights-*.npz`` (recognised by its content; see :mod:`.checkpoints`),
        with ``allow_pickle=False``."""
        from .net import infer_hidden, parameter_count

        arrays, meta = ckpt.read_weights(path)
        n_state, hidden = int(meta.get("n_state", 0)), int(meta.get("hidden", 0))
        w = np.asarray(arrays["W"])
        if n_state < 1 or hidden < 1 or w.ndim != 1 or w.size != parameter_count(n_state, hidden):
            actual = infer_hidden(w.size, n_state) if n_state > 0 and w.ndim == 1 else None
            raise CheckpointError(
                f"{path}: weights of {w.size} parameters do not fit the recorded network shape "
                f"(state {n_state}, hidden {hidden}, {parameter_count(max(n_state, 1), max(hidden, 1))} parameters)"
                + (f"; they fit hidden {actual}" if actual else ""))
        if hidden != self.settings.hidden:
            raise CheckpointError(f"{path}: weights are for a network with hidden={hidden}; this ahf has "
                                  f"hidden={self.settings.hidden} (set ahf.hidden={hidden})")
        for k in ("input_center", "input_scale"):
            if k not in arrays or np.shape(arrays[k]) != (n_state,):
                raise CheckpointError(f"{path}: {k} missing or not of shape ({n_state},)")
        self.W, self.meta, self.arrays, self.source = w, meta, arrays, str(path)
        self.policy = None
        if self.plant is not None:
            self._check_fits(self.plant)

    def save(self, path: str | Path) -> Path:
        """Write the current weights and their metadata (``.npz`` + ``.json`` sidecar)."""
        if self.W is None or self.meta is None:
            raise CheckpointError("ahf has no weights to save: train or load first")
        arrays = {k: v for k, v in self.arrays.items() if not k.startswith("history_")}
        arrays["W"] = self.W
        meta = {k: v for k, v in self.meta.items() if k not in ("format", "file")}
        return ckpt.write_weights(path, arrays, meta)

    # -- acting --------------------------------------------------------------------------
    def reset(self, n: int, rng: np.random.Generator) -> None:
        self._ensure_weights()
        self.policy.reset()
        self._n = int(n)
        self._calls, self._held = 0, None

    def _target_state(self, target: np.ndarray) -> np.ndarray:
        target = np.asarray(target, dtype=float)
        c = self._ik_cache
        if c is None or c[0].shape != target.shape or not np.array_equal(c[0], target):
            q = self.plant.inverse_kinematics(target)  # at rest: zero velocity (and actuator torque)
            rest = np.zeros((len(q), int(self.plant.state_size) - q.shape[1]))
            c = self._ik_cache = (target.copy(), np.concatenate([q, rest], axis=1))
        return c[1]

    def act(self, observation: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        """``(n, U)`` torques (N·m) for ``(n, S)`` arm states and ``(n, 2)`` hand targets (m)."""
        if self.policy is None or self._n is None:
            raise CheckpointError("ahf: call reset(n, rng) after binding before act()")
        obs = np.asarray(observation)
        if target is None:
            raise InvalidArgument("ahf needs hand targets (n, 2) in metres")
        if obs.ndim != 2 or obs.shape != (self._n, self.plant.state_size):
            raise InvalidArgument(f"ahf.act: observation must have shape ({self._n}, {self.plant.state_size}), "
                                  f"got {obs.shape}")
        ts = self._target_state(target)
        if ts.shape[0] != obs.shape[0]:
            raise InvalidArgument(f"ahf.act: {ts.shape[0]} targets for {obs.shape[0]} arms")
        calls, self._calls = self._calls, self._calls + 1
        if calls % self._period and self._held is not None:
            return self._held.copy()  # between two network steps: hold the torque
        center, scale = self.arrays["input_center"], self.arrays["input_scale"]
        inp = np.concatenate([(ts - center) / scale, (obs - center) / scale], axis=1)
        self._held = np.asarray(self.policy.step(inp), dtype=float)
        return self._held.copy()

    # -- training -------------------------------------------------------------------------
    def training_metrics(self, curve: pd.DataFrame, task: Any) -> dict[str, float]:
        """:data:`TRAINING_METRICS` of a training curve; the threshold for every target is the reach task's
        ``tolerance``, by default the arm's (:func:`bench.plants.geometry.task_geometry`).  Rows of a
        curriculum (phase ``curriculum``: a smaller radius) do not count."""
        from bench.plants.geometry import task_geometry

        threshold = getattr(getattr(task, "settings", None), "tolerance", None)
        if threshold is None:
            threshold = task_geometry(self.plant).threshold if self.plant is not None else 0.01
        if "phase" in curve:  # a curriculum's rows measure a smaller reach radius: never the task's
            curve = curve[curve["phase"].astype(str) != "curriculum"]
        if not len(curve):
            return dict.fromkeys(TRAINING_METRICS, math.nan)
        t1, i1 = first_under(curve, "distance_mean", 0.01)
        ta, ia = first_under(curve, "distance_max", float(threshold))
        return {"train_s_to_1cm": t1, "iterations_to_1cm": i1, "train_s_to_threshold_all": ta,
                "iterations_to_threshold_all": ia,
                "best_distance_mean": float(np.nanmin(np.asarray(curve["distance_mean"], dtype=float)))}

    def train(self, plant: Any, task: Any, *, seed: int, fresh: bool = False,
              workdir: str | Path | None = None, log: Callable[[str], None] | None = None,
              progress: Callable[[pd.DataFrame], None] | None = None) -> pd.DataFrame:
        """Train on ``plant`` for ``task``'s targets; returns the error curve (DataFrame).

        All randomness (initial weights, training order) derives from
        ``seed``.  Checkpoints go to ``workdir`` (none if None); training
        resumes from the latest checkpoint of the same plant, settings and
        seed unless ``fresh``.  The budget is ``iterations`` (and
        ``max_seconds``, ``goal``) of this learner's settings.  ``log(line)``
        gets the progress lines (nothing if None); ``progress(curve)`` the curve so far after every
        iteration (a resumed training's from iteration 0).  Columns: iteration,
        wall_s, error (HF loss, closed loop), distance_mean / distance_max
        (final hand distance, m), damping, phase.
        """
        from .gauss_newton import one_blas_thread
        from .training import Trainer, make_problem

        self._check_arm(plant)
        log = log or (lambda _line: None)
        period = self._control_period(plant, self.settings.dt, "would be")
        model = plant
        if period > 1:  # train on the same arm at the network's step; act on this one with a hold
            model = type(plant)(dataclasses.replace(plant.settings, dt=self.settings.dt))
            model.name = getattr(plant, "name", "")
            log(f"training at ahf.dt = {self.settings.dt:g} s; the plant's {plant.dt:g} s steps will hold "
                f"each torque for {period} steps")
        problem = make_problem(model, task, self.settings)
        trainer = Trainer(model, problem, self.settings, seed, workdir=Path(workdir) if workdir else None, log=log)
        with one_blas_thread():
            curve = trainer.run(fresh=fresh, progress=progress)
        best = trainer.best_weights()
        if best is not None:
            w, meta = best
        else:
            err, dist = trainer.evaluate()
            w, meta = trainer.net.W.copy(), trainer.meta("final", err, dist)
        self.W, self.meta, self.source = np.array(w), meta, str(trainer.stem("best")) if best else "training"
        self.arrays = {"input_center": trainer.center, "input_scale": trainer.scale}
        self.plant = plant
        self._check_fits(plant)
        m = self.training_metrics(curve, task)  # the log says what the run stores
        t1, i1 = m["train_s_to_1cm"], m["iterations_to_1cm"]
        last = curve.iloc[-1]
        log(f"best: iteration {meta['iteration']}, mean final distance {meta['distance_mean'] * 100:.2f} cm, "
            f"max {meta['distance_max'] * 100:.2f} cm" + (f" ({self.source})" if best else ""))
        log(f"trained {int(last['iteration'])} iterations in {last['wall_s']:.1f} s; mean final distance first "
            f"below 1 cm: " + (f"iteration {i1:.0f} at {t1:.1f} s" if np.isfinite(t1) else "never"))
        return curve
