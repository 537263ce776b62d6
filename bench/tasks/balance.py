"""The ``balance`` task: learn to balance a pole, then balance it greedily.

Trains the learner for ``batches`` batches of episodes on a discrete-action
plant (``cartpole``), each episode capped at ``max_steps`` steps (200, the
CartPole-v0 limit; 500 is CartPole-v1's), then evaluates the final policy
greedily on ``eval_episodes`` fresh episodes, all run side by side.  The
reward is 1 per step, so an episode's reward is its length in steps.

The learner is any controller that provides ``learn``: the task trains it
from scratch with :func:`bench.api.train_learner` (``train(plant, task,
seed=..., fresh=True)``); the learner reads ``batches`` and ``max_steps``
from this task's settings and must return the per-batch curve as a
DataFrame with at least the columns ``batch, max_reward, mean_reward,
episodes, rollout_ms, update_ms`` (and optionally ``skipped``: batches whose
update was not finite).  That curve is the result's ``"curve"`` frame (what
the reports plot with bootstrap bands).

Randomness: the seed is split (``numpy.random.SeedSequence(seed).spawn(2)``)
into a training seed (:func:`training_seed`) and an evaluation stream, so the
same seed gives the same learning metrics (timings aside).

A learner given explicit weights (its ``weights`` setting, a file or
``run:ID`` of a ``bench train`` run) is not trained: the run only evaluates
those weights greedily (metrics ``eval_*`` and the frame ``"evaluation"``).

The reference experiment (policy gradient vs natural policy gradient, ten
sessions each, mean max-reward per batch with a bootstrap band)::

    bench sweep cartpole pg,npg balance --seeds 10 --set batches=300
    bench report
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..api import Metric, Result, Task, train_learner
from ..capabilities import DiscreteActions, Saves
from ..errors import Diverged, InvalidArgument
from ..settings import setting

METRICS = {
    "batches_to_cap": Metric("batches", "lower", "first batch whose longest episode reached the cap (NaN: never)"),
    "batches_to_solved": Metric("batches", "lower",
                                "first batch at which the mean reward over the last solved_window batches "
                                ">= solved_reward (NaN: never)"),
    "auc_max_reward": Metric("reward·batches", "higher", "area under the max-reward curve (sum over batches)"),
    "auc_max_reward_norm": Metric("", "higher", "area under the max-reward curve / (cap · batches)"),
    "final_mean_reward": Metric("steps", "higher", "mean episode reward over the last solved_window batches"),
    "eval_mean_reward": Metric("steps", "higher", "greedy evaluation: mean episode reward"),
    "eval_std_reward": Metric("steps", "", "greedy evaluation: standard deviation of the episode reward"),
    "eval_at_cap": Metric("", "higher", "greedy evaluation: fraction of episodes that reached the cap"),
    "ms_per_batch_median": Metric("ms", "lower", "median wall time of one batch (rollout + update)"),
    "rollout_ms_median": Metric("ms", "lower", "median wall time of one batch's rollout"),
    "update_ms_median": Metric("ms", "lower", "median wall time of one batch's update"),
    "skipped_batches": Metric("batches", "lower", "batches whose update was not finite and was skipped"),
    "episodes_total": Metric("episodes", "", "training episodes over all batches"),
}

CURVE_REQUIRED = ("batch", "max_reward", "mean_reward", "episodes", "rollout_ms", "update_ms")


@dataclass
class BalanceSettings:
    batches: int = setting(300, "training batches", unit="batches", ge=1)
    max_steps: int = setting(200, "episode cap (200: CartPole-v0, 500: CartPole-v1)", unit="steps", ge=1)
    eval_episodes: int = setting(100, "greedy evaluation episodes after training", ge=1)
    solved_reward: float = setting(195.0, "mean reward that counts as solved", unit="steps", gt=0)
    solved_window: int = setting(10, "batches averaged for the solved test", unit="batches", ge=1)
    save_weights: bool = setting(True, "save the trained weights into the run's work directory")


def first_batch(condition: np.ndarray, batches: np.ndarray) -> float:
    """The batch number where ``condition`` is first true, NaN if never."""
    hits = np.flatnonzero(condition)
    return float(batches[hits[0]]) if hits.size else float("nan")


def curve_metrics(curve: Any, cap: int, solved_reward: float, window: int) -> dict[str, float]:
    """Learning metrics of a per-batch curve (DataFrame with :data:`CURVE_REQUIRED`)."""
    batches = curve["batch"].to_numpy()
    max_r = curve["max_reward"].to_numpy(dtype=float)
    mean_r = curve["mean_reward"].to_numpy(dtype=float)
    n = len(batches)
    if n >= window:
        rolling = np.convolve(mean_r, np.ones(window) / window, mode="valid")  # ends at batch index window-1..
        solved = first_batch(rolling >= solved_reward, batches[window - 1:])
    else:
        solved = float("nan")
    total_ms = curve["rollout_ms"].to_numpy(dtype=float) + curve["update_ms"].to_numpy(dtype=float)
    skipped = curve["skipped"].to_numpy(dtype=bool).sum() if "skipped" in curve else 0
    return {
        "batches_to_cap": first_batch(max_r >= cap, batches),
        "batches_to_solved": solved,
        "auc_max_reward": float(max_r.sum()),
        "auc_max_reward_norm": float(max_r.sum() / (cap * n)),
        "final_mean_reward": float(mean_r[-window:].mean()),
        "ms_per_batch_median": float(np.median(total_ms)),
        "rollout_ms_median": float(curve["rollout_ms"].median()),
        "update_ms_median": float(curve["update_ms"].median()),
        "skipped_batches": float(skipped),
        "episodes_total": float(curve["episodes"].sum()),
    }


def training_seed(seq: np.random.SeedSequence) -> int:
    """The training seed drawn from ``seq``: deterministic, in ``[0, 2**32)`` so that any seeding API takes it."""
    return int(seq.generate_state(1, np.uint32)[0])


def loaded_weights(controller: Any) -> bool:
    """Whether ``controller`` was given explicit weights (its ``weights`` setting, e.g. ``--set
    pg.weights=run:ID``): balance then only evaluates them greedily, without training (no curve, no
    learning metrics), so that trained weights can be evaluated later."""
    return bool(getattr(getattr(controller, "settings", None), "weights", None))


def evaluate(plant: Any, controller: Any, episodes: int, max_steps: int, rng: np.random.Generator) -> np.ndarray:
    """``(episodes,)`` rewards (steps survived, at most ``max_steps``) of the greedy policy, run side by side."""
    act = controller.act
    try:
        greedy = "greedy" in inspect.signature(act).parameters
    except (TypeError, ValueError):
        greedy = False
    x = plant.initial_state(episodes, rng)
    controller.reset(episodes, rng)
    lengths = np.zeros(episodes, dtype=np.int64)
    ids = np.arange(episodes)
    for t in range(max_steps):
        obs = plant.observation(x)
        u = act(obs, None, greedy=True) if greedy else act(obs, None)
        x = plant.step(x, np.asarray(u))
        if not np.all(np.isfinite(x)):
            raise Diverged(f"balance: plant state not finite at evaluation step {t + 1}")
        lengths[ids] += 1
        done = np.asarray(plant.terminated(x), dtype=bool)
        if done.any():
            ids, x = ids[~done], x[~done]
            if ids.size == 0:
                break
    return lengths


class Balance(Task):
    """Train a learner on a discrete-action plant, then evaluate it greedily; see the module docstring."""

    Settings = BalanceSettings
    METRICS = METRICS
    HEADLINE = ("eval_mean_reward", "eval_at_cap", "auc_max_reward_norm", "batches_to_solved")
    SCORE = ("auc_max_reward_norm",)  # the learning curve's area over its largest possible: speed and level
    TRAINS = True  # every run trains the learner: its training settings shape the run
    BATCH = "balance.eval_episodes"

    def steps(self) -> dict[str, int]:
        """An episode's cap."""
        return {"balance.max_steps": self.settings.max_steps}

    def batch(self) -> int:
        """The evaluation episodes, run side by side."""
        return self.settings.eval_episodes

    def run(self, plant: Any, controller: Any, seed: int, *, workdir: Path | None = None) -> Result:
        import pandas as pd

        s = self.settings
        if not isinstance(plant, DiscreteActions):
            raise InvalidArgument(f"balance needs a plant with discrete actions and a termination test; "
                                  f"{getattr(plant, 'name', plant)!r} has none")
        train_seq, eval_seq = np.random.SeedSequence(seed).spawn(2)
        if loaded_weights(controller):  # explicit weights: evaluated as they are, never trained here
            rewards = evaluate(plant, controller, s.eval_episodes, s.max_steps, np.random.default_rng(eval_seq))
            metrics = {"eval_mean_reward": float(rewards.mean()), "eval_std_reward": float(rewards.std()),
                       "eval_at_cap": float(np.mean(rewards >= s.max_steps))}
            evaluation = pd.DataFrame({"episode": np.arange(rewards.size), "reward": rewards})
            return self.result(metrics, frames={"evaluation": evaluation})
        curve = train_learner(controller, plant, self, seed=training_seed(train_seq), fresh=True)
        missing = [c for c in CURVE_REQUIRED if c not in curve.columns]
        if missing:
            raise InvalidArgument(f"balance: controller {controller.name!r} returned a training curve without "
                                  f"{', '.join(missing)}")
        rewards = evaluate(plant, controller, s.eval_episodes, s.max_steps, np.random.default_rng(eval_seq))
        metrics = curve_metrics(curve, s.max_steps, s.solved_reward, s.solved_window)
        metrics.update(eval_mean_reward=float(rewards.mean()), eval_std_reward=float(rewards.std()),
                       eval_at_cap=float(np.mean(rewards >= s.max_steps)))
        artifacts = {}
        if workdir is not None and s.save_weights and isinstance(controller, Saves):
            artifacts["weights"] = Path(controller.save(Path(workdir) / "weights.npz"))
        evaluation = pd.DataFrame({"episode": np.arange(rewards.size), "reward": rewards})
        return self.result(metrics, frames={"curve": curve, "evaluation": evaluation}, artifacts=artifacts)
