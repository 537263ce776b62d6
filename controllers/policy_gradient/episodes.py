"""Batched episode collection for policy-gradient learners on discrete-action plants.

The reference implementation ran one CartPole and one policy call per
environment step.  Here a *wave* of ``m`` carts runs at once (one batched
policy evaluation and one batched ``plant.step`` per time step), and the
wave's episodes are then taken in index order until the batch holds at least
``batch_steps`` steps.  Episodes from a fixed policy are independent and
identically distributed, and the stopping rule only looks at earlier
episodes, so the batch has exactly the distribution of the sequential
"run episodes until 200 steps are collected" loop; unused episodes of the
wave are discarded.  A wave that does not reach the target is followed by
another one.

Rewards are Gymnasium's: 1 per step, including the step that terminates, so
an episode's reward is its length.  Episodes end when the plant says they
are terminated or after ``max_steps`` steps (truncation, treated as the end
of the episode for the Monte-Carlo returns, as in the reference).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.capabilities import DiscreteActions
from bench.errors import Diverged, Incompatible


class DiscretePlant:
    """The few things a learner needs of a plant with discrete actions.

    Wraps the plant's own API: ``initial_state(n, rng)``, ``observation(x)``,
    ``n_actions``, ``action_force(a)`` (``(n, U)`` inputs of integer actions),
    ``step(x, u)`` and ``terminated(x)`` (the ``discrete-actions``
    capability, as :class:`bench.plants.cartpole.CartPole` has it).
    Raises :class:`Incompatible` when the plant has no discrete actions.
    """

    def __init__(self, plant: Any) -> None:
        name = getattr(plant, "name", "") or type(plant).__name__
        if not isinstance(plant, DiscreteActions):
            raise Incompatible(f"plant {name!r} has no discrete actions (needs n_actions, action_force() "
                               f"and terminated()); policy-gradient learners need a discrete-action plant "
                               f"such as 'cartpole'")
        self.plant = plant
        self.name = name
        self.n_actions = int(plant.n_actions)
        self._inputs = np.asarray(plant.action_force(np.arange(self.n_actions)))  # (A, U): the plant's own map
        self._terminated = plant.terminated
        probe = plant.initial_state(1, np.random.default_rng(0))
        self.observation_size = int(np.asarray(plant.observation(probe)).shape[1])

    def initial_state(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.asarray(self.plant.initial_state(n, rng), dtype=np.float64)

    def observation(self, x: np.ndarray) -> np.ndarray:
        return self.plant.observation(x)

    def inputs(self, actions: np.ndarray) -> np.ndarray:
        """``(n, U)`` plant inputs for ``(n,)`` integer actions (looked up in the plant's ``action_force``)."""
        return self._inputs[actions]

    def step(self, x: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return self.plant.step(x, self.inputs(actions))

    def terminated(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._terminated(x), dtype=bool)


@dataclasses.dataclass
class Episodes:
    """A batch of whole episodes, concatenated in time order.

    observations : (T, S) float64
    actions : (T,) int32
    lengths : (E,) int, steps (= reward) of each episode
    """

    observations: np.ndarray
    actions: np.ndarray
    lengths: np.ndarray

    @property
    def steps(self) -> int:
        return int(self.lengths.sum())

    def returns(self, discount: float) -> np.ndarray:
        """``(T,)`` Monte-Carlo discounted returns (reward 1 per step)."""
        return discounted_returns(self.lengths, discount)


def discounted_returns(lengths: np.ndarray, discount: float) -> np.ndarray:
    """``(sum(lengths),)`` returns ``G_t = sum_k discount**k`` over the rest of each episode.

    With a reward of 1 per step the sum has the closed form
    ``(1 - discount**(L - t)) / (1 - discount)`` (``L - t`` when discount is 1).
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    remaining = np.repeat(lengths, lengths) - (np.arange(total) - starts)
    if discount == 1.0:
        return remaining.astype(np.float64)
    return (1.0 - discount ** remaining.astype(np.float64)) / (1.0 - discount)


def run_wave(plant: DiscretePlant, choose: Callable[[np.ndarray], np.ndarray], m: int, max_steps: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run ``m`` episodes side by side until each terminates or reaches ``max_steps``.

    ``choose(obs (k, S)) -> (k,)`` actions of the carts still running.
    Returns ``(observations (N, S), actions (N,), lengths (m,))`` with the
    ``N = sum(lengths)`` steps grouped by episode (episode 0 first), each
    episode in time order.
    """
    x = plant.initial_state(m, rng)
    obs_steps, act_steps, id_steps = [], [], []
    ids = np.arange(m)
    for t in range(max_steps):
        o = plant.observation(x)
        a = choose(o)
        obs_steps.append(o)
        act_steps.append(a)
        id_steps.append(ids)
        x = plant.step(x, a)
        if not np.isfinite(x.sum()):
            raise Diverged(f"rollout: plant state not finite at step {t + 1}")
        done = plant.terminated(x)
        if done.any():
            keep = ~done
            ids, x = ids[keep], x[keep]
            if ids.size == 0:
                break
    episode = np.concatenate(id_steps)
    order = np.argsort(episode, kind="stable")  # stable: time order within each episode
    obs = np.concatenate(obs_steps)[order]
    actions = np.concatenate(act_steps).astype(np.int32, copy=False)[order]
    return obs, actions, np.bincount(episode, minlength=m)


def sample_actions(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` actions drawn from ``(n, A)`` probabilities (one uniform draw per row)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0])[:, None] * cdf[:, -1:]
    return np.minimum((u >= cdf).sum(axis=1), probs.shape[1] - 1).astype(np.int32)


def sample_from_logits(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` actions drawn from ``softmax(logits)``; the same draws as :func:`sample_actions`.

    Two actions take a shortcut: ``a = [u >= pi_0]`` with ``pi_0 = 1 / (1 + exp(z_1 - z_0))``,
    tested in logit space as ``z_1 - z_0 >= log(1/u - 1)`` (no overflow).
    """
    if logits.shape[1] != 2:
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return sample_actions(e / e.sum(axis=1, keepdims=True), rng)
    u = rng.random(logits.shape[0])
    with np.errstate(divide="ignore"):  # u = 0 (probability 2**-53): threshold inf, action 0
        threshold = np.log(1.0 / u - 1.0)
    return (logits[:, 1] - logits[:, 0] >= threshold).astype(np.int32)


def collect(plant: DiscretePlant, choose: Callable[[np.ndarray], np.ndarray], rng: np.random.Generator,
            batch_steps: int, max_steps: int, wave: int | None = None, expected_length: float = 20.0) -> Episodes:
    """Whole episodes until at least ``batch_steps`` steps.

    ``choose(obs (k, S)) -> (k,)`` draws the actions of the stochastic policy
    (from ``rng``).  ``wave`` fixes the number of carts run side by side
    (1 = the reference's one-cart-at-a-time rollout); by default it is sized
    from ``expected_length`` (e.g. the previous batch's mean episode length).
    """
    obs_parts, act_parts, length_parts = [], [], []
    total = 0
    while total < batch_steps:
        need = batch_steps - total
        m = wave or max(1, math.ceil(1.3 * need / max(1.0, min(expected_length, max_steps))) + 1)
        m = min(m, need)
        obs, actions, lengths = run_wave(plant, choose, m, max_steps, rng)
        ends = np.cumsum(lengths)
        k = int(np.searchsorted(ends, need)) + 1  # episodes in index order until `need` steps
        k = min(k, m)
        obs_parts.append(obs[:ends[k - 1]])
        act_parts.append(actions[:ends[k - 1]])
        length_parts.append(lengths[:k])
        total += int(ends[k - 1])
    return Episodes(np.concatenate(obs_parts), np.concatenate(act_parts),
                    np.concatenate(length_parts).astype(np.int64))
