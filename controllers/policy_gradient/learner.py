"""Softmax policies, the value baseline and the shared policy-gradient training loop.

The reference algorithm (kept as defaults):

* policy: a linear layer ``S -> A`` with a softmax over the actions (``policy=mlp``
  adds tanh hidden layers ``hidden``);
* value network ``S -> 10 ReLU -> 1``, one Adam(0.1) step per batch on
  ``1/2 ||V - G||^2``; advantages ``A = G - V(s)`` use V *before* that step;
* Monte-Carlo returns with discount 0.97 (reward 1 per step);
* a batch is ``batch_steps = 200`` environment steps of whole episodes.

:class:`PolicyGradientLearner` holds all of it; :mod:`~bench.controllers.policy_gradient.pg`
and :mod:`~bench.controllers.policy_gradient.npg` only differ in how the policy is updated.

Parameters live as numpy arrays (``[W0, b0, W1, b1, ...]``, ``W`` of shape
``(in, out)``) for acting and rollouts, which need no TensorFlow, and as
TensorFlow variables while training.  TensorFlow is imported only when a
learner trains (through :func:`bench.controllers.tfcompat.tensorflow`).
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bench.api import Learner, Metric
from bench.errors import CheckpointError, Incompatible, InvalidArgument
from bench.npzfile import read_npz, write_npz
from bench.settings import setting

from .episodes import DiscretePlant, Episodes, collect, sample_actions, sample_from_logits

if TYPE_CHECKING:
    import pandas as pd

CHECKPOINT_FORMAT = "ctrlbench-softmax-policy-v1"
CURVE_COLUMNS = ("batch", "max_reward", "mean_reward", "episodes", "steps", "rollout_ms", "update_ms", "skipped",
                 "wall_s")
#: What a training run of pg or npg reports (:meth:`PolicyGradientLearner.training_metrics`), read on its
#: curve with the task's ``solved_reward``, ``solved_window`` and ``max_steps`` (balance: 195, 10, 200).
TRAINING_METRICS = {
    "batches_to_solved": Metric("batches", "lower", "first batch at which the mean reward over the last "
                                                    "solved_window batches >= solved_reward (NaN: never)"),
    "train_s_to_solved": Metric("s", "lower", "training wall time until that batch (NaN: never)"),
    "batches_to_cap": Metric("batches", "lower", "first batch whose longest episode reached the cap (NaN: never)"),
    "train_s_to_cap": Metric("s", "lower", "training wall time until that batch (NaN: never)"),
    "final_mean_reward": Metric("steps", "higher", "mean episode reward over the last solved_window batches"),
}


@dataclass
class PolicyLearnerSettings:
    policy: Literal["linear", "mlp"] = setting("linear", "policy network: linear softmax or tanh MLP")
    hidden: tuple[int, ...] = setting((32,), "hidden layer sizes of the mlp policy", ge=1)
    inputs: int | None = setting(None, "policy inputs (default: the plant's observation size)", ge=1)
    actions: int | None = setting(None, "policy actions (default: the plant's discrete actions)", ge=2)
    discount: float = setting(0.97, "discount of the Monte-Carlo returns", gt=0, le=1, train_only=True)
    batch_steps: int = setting(200, "environment steps per batch (whole episodes)", unit="steps", ge=1, train_only=True)
    value_hidden: int = setting(10, "ReLU units of the value network", ge=1)
    value_lr: float = setting(0.1, "Adam learning rate of the value network", gt=0, train_only=True)
    act_mode: Literal["greedy", "sampled"] = setting("greedy", "act(): most likely action or a sample")
    rollout: Literal["batched", "stepwise"] = setting(
        "batched", "batched: many carts per policy call; stepwise: one cart and one TF call per step (reference)",
        train_only=True)
    weights: str | None = setting(
        None, "an .npz weights file (written by bench train or save(); run:ID: that bench train run's weights) "
              "loaded at bind; balance then evaluates it without training")

    def __post_init__(self) -> None:
        if self.policy == "mlp" and not self.hidden:
            raise ValueError("hidden must list at least one layer size for policy=mlp")

    def check(self) -> None:
        """Sizes a run could not afford are refused with the settings (bench.limits)."""
        from bench.errors import SettingError
        from bench.guards import check_work
        from bench.limits import max_array_elements

        if self.weights and not Path(self.weights).expanduser().is_file():
            raise ValueError(f"weights: no such file {self.weights!r}")
        try:
            check_work(None, {}, steps={"batch_steps": self.batch_steps})
        except SettingError as exc:
            raise ValueError(str(exc)) from None  # named with the learner (pg: batch_steps = ...)
        sizes = [*(self.hidden if self.policy == "mlp" else ()), self.value_hidden]
        widest = max(a * b for a, b in itertools.pairwise([64, *sizes, 64]))
        if widest > max_array_elements():
            raise ValueError(f"hidden {self.hidden} / value_hidden {self.value_hidden}: a weight matrix of about "
                             f"{widest:,} elements; at most {max_array_elements():,} (BENCH_MAX_ARRAY_ELEMENTS)")


@dataclasses.dataclass(frozen=True)
class Architecture:
    """Sizes of the policy and value networks; a checkpoint must match them."""

    inputs: int
    actions: int
    hidden: tuple[int, ...]
    value_hidden: int

    def policy_shapes(self) -> list[tuple[int, ...]]:
        sizes = (self.inputs, *self.hidden, self.actions)
        return [s for a, b in itertools.pairwise(sizes) for s in ((a, b), (b,))]

    def value_shapes(self) -> list[tuple[int, ...]]:
        return [(self.inputs, self.value_hidden), (self.value_hidden,), (self.value_hidden, 1), (1,)]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        d = json.loads(text)
        return cls(int(d["inputs"]), int(d["actions"]), tuple(int(h) for h in d["hidden"]), int(d["value_hidden"]))

    def describe(self) -> str:
        return ("-".join(map(str, (self.inputs, *self.hidden, self.actions)))
                + f" policy, {self.value_hidden}-unit value")


def glorot(shapes: list[tuple[int, ...]], rng: np.random.Generator) -> list[np.ndarray]:
    """Glorot-uniform weights and zero biases (Keras' Dense defaults), from ``rng``."""
    out = []
    for shape in shapes:
        if len(shape) == 2:
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            out.append(rng.uniform(-limit, limit, size=shape))
        else:
            out.append(np.zeros(shape))
    return out


def policy_logits(params: list[np.ndarray], obs: np.ndarray) -> np.ndarray:
    """``(n, A)`` logits of the policy ``params`` (tanh hidden layers) for ``(n, S)`` observations."""
    h = obs
    for i in range(0, len(params) - 2, 2):
        h = np.tanh(h @ params[i] + params[i + 1])
    return h @ params[-2] + params[-1]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def tf_logits(tf: Any, params: list[Any], obs: Any, per_sample: bool = False) -> Any:
    """TensorFlow logits; with ``per_sample`` every parameter has a leading batch axis ``T``."""
    h = obs
    for i in range(0, len(params), 2):
        if per_sample:
            h = tf.einsum("ti,tio->to", h, params[i]) + params[i + 1]
        else:
            h = tf.matmul(h, params[i]) + params[i + 1]
        if i + 2 < len(params):
            h = tf.tanh(h)
    return h


def tf_log_prob(tf: Any, logits: Any, actions: Any) -> Any:
    """``(T,)`` log pi(a_t | s_t) from ``(T, A)`` logits and ``(T,)`` int actions."""
    return tf.gather(tf.nn.log_softmax(logits), actions, batch_dims=1)


def all_finite(arrays: Any) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(a)))) for a in arrays)


def tf_all_finite(tf: Any, tensors: list[Any]) -> Any:
    """A bool tensor: every element of every tensor is finite."""
    return tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(t)) for t in tensors]))


def apply_if_finite(tf: Any, optimizer: Any, grads: list[Any], variables: list[Any]) -> Any:
    """TF graph code: one optimizer step unless a gradient is not finite; returns whether it ran.

    The optimizer must be built (``optimizer.build(variables)``) beforehand.
    """
    def apply() -> Any:
        optimizer.apply_gradients(zip(grads, variables))
        return tf.constant(True)

    return tf.cond(tf_all_finite(tf, grads), apply, lambda: tf.constant(False))


class PolicyGradientLearner(Learner, abc.ABC):
    """A softmax policy with a value baseline trained from batches of episodes.

    Subclasses implement :meth:`_build_policy_update` and
    :meth:`_policy_update`.  ``train`` returns the per-batch curve as a
    DataFrame with columns :data:`CURVE_COLUMNS`; ``skipped`` marks batches
    whose policy update was not finite and was therefore not applied;
    ``wall_s`` is the training's wall time at the end of each batch.  It does
    not resume a stopped training (its optimizer and random state are not
    checkpointed): a stopped training run starts over, with the same seed.
    """

    Settings = PolicyLearnerSettings
    TRAINING_METRICS = TRAINING_METRICS
    TRAINING_HEADLINE = ("train_s_to_solved", "batches_to_solved", "train_s_to_cap", "final_mean_reward")

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self.cart: DiscretePlant | None = None
        self.arch: Architecture | None = None
        self.params: list[np.ndarray] | None = None  # policy, numpy
        self.value_params: list[np.ndarray] | None = None
        self._tf: Any = None
        self._act_rng = np.random.default_rng(0)
        self._expected_length = 20.0
        self._tf_seed = 0

    # -- plant ------------------------------------------------------------------
    def bind(self, plant: Any) -> None:
        cart = DiscretePlant(plant)
        s = self.settings
        if s.inputs is not None and s.inputs != cart.observation_size:
            raise Incompatible(f"{self.name or 'learner'}: policy has {s.inputs} inputs but plant {cart.name!r} "
                               f"observes {cart.observation_size} values")
        if s.actions is not None and s.actions != cart.n_actions:
            raise Incompatible(f"{self.name or 'learner'}: policy has {s.actions} actions but plant {cart.name!r} "
                               f"has {cart.n_actions} discrete actions")
        arch = self._architecture(cart.observation_size, cart.n_actions)
        if self.arch is not None and self.params is not None and self.arch != arch:
            raise CheckpointError(f"{self.name or 'learner'}: loaded weights are for a {self.arch.describe()}, "
                                  f"plant {cart.name!r} needs a {arch.describe()}")
        self.cart, self.arch = cart, arch
        if s.weights and self.params is None:
            self.load(Path(s.weights).expanduser())
        super().bind(plant)

    def input_files(self) -> list[Path]:
        """The ``weights`` file, if set."""
        return [Path(self.settings.weights).expanduser()] if self.settings.weights else []

    def _architecture(self, inputs: int, actions: int) -> Architecture:
        s = self.settings
        hidden = tuple(s.hidden) if s.policy == "mlp" else ()
        return Architecture(int(inputs), int(actions), hidden, int(s.value_hidden))

    def _need_cart(self) -> DiscretePlant:
        if self.cart is None:
            raise InvalidArgument(f"{self.name or 'learner'}: bind(plant) before training or acting")
        return self.cart

    # -- parameters -------------------------------------------------------------
    def initialize(self, rng: np.random.Generator) -> None:
        """Fresh random weights (Glorot, from ``rng``) and fresh optimizers."""
        self._need_cart()
        self.params = glorot(self.arch.policy_shapes(), rng)
        self.value_params = glorot(self.arch.value_shapes(), rng)
        self._tf_seed = int(rng.integers(2**31 - 1))
        self._tf = None
        self._expected_length = 20.0

    def set_weights(self, policy: list[np.ndarray], value: list[np.ndarray] | None = None) -> None:
        """Replace the policy (and value) weights in place; compiled TF functions are kept."""
        arch = self.arch
        for got, shapes in ((policy, arch.policy_shapes()), (value, arch.value_shapes())):
            if got is not None and [np.shape(g) for g in got] != shapes:
                raise InvalidArgument(f"{self.name or 'learner'}.set_weights: shapes {[np.shape(g) for g in got]} "
                                      f"do not fit {shapes}")
        self.params = [np.array(p, dtype=np.float64) for p in policy]
        if value is not None:
            self.value_params = [np.array(p, dtype=np.float64) for p in value]
        if self._tf is not None:
            for var, p in zip(self._tf["policy_vars"] + self._tf["value_vars"], self.params + self.value_params):
                var.assign(p)

    def probabilities(self, observation: np.ndarray) -> np.ndarray:
        """``(n, A)`` action probabilities of the current policy (numpy, no TF)."""
        if self.params is None:
            raise InvalidArgument(f"{self.name or 'learner'} has no weights: train or load first")
        return softmax(policy_logits(self.params, np.asarray(observation, dtype=np.float64)))

    # -- acting -----------------------------------------------------------------
    def reset(self, n: int, rng: np.random.Generator) -> None:
        self._act_rng = rng

    def actions(self, observation: np.ndarray, greedy: bool | None = None) -> np.ndarray:
        """``(n,)`` integer actions: the most likely one, or a sample (``act_mode``)."""
        greedy = self.settings.act_mode == "greedy" if greedy is None else greedy
        obs = np.asarray(observation, dtype=np.float64)
        if obs.ndim != 2 or (self.arch is not None and obs.shape[1] != self.arch.inputs):
            want = self.arch.inputs if self.arch is not None else "S"
            raise InvalidArgument(f"{self.name or 'learner'}: observation must have shape (n, {want}); got {obs.shape}")
        logits = policy_logits(self._weights(), obs)
        if greedy:
            return np.argmax(logits, axis=1).astype(np.int32)
        return sample_from_logits(logits, self._act_rng)

    def act(self, observation: np.ndarray, target: np.ndarray | None = None, *,
            greedy: bool | None = None) -> np.ndarray:
        """``(n, U)`` plant inputs (for cartpole: forces in N) of the chosen actions."""
        cart = self._need_cart()
        a = self.actions(observation, greedy)
        return np.asarray(cart.inputs(a)).astype(np.asarray(observation).dtype, copy=False)

    def _weights(self) -> list[np.ndarray]:
        if self.params is None:
            raise InvalidArgument(f"{self.name or 'learner'} has no weights: train or load first")
        return self.params

    # -- training ---------------------------------------------------------------
    def training_metrics(self, curve: pd.DataFrame, task: Any) -> dict[str, float]:
        """:data:`TRAINING_METRICS` of a curve, with the task's ``solved_reward`` (195), ``solved_window`` (10)
        and ``max_steps`` (200)."""
        ts = getattr(task, "settings", None)
        solved, window = float(getattr(ts, "solved_reward", 195.0)), int(getattr(ts, "solved_window", 10))
        cap = float(getattr(ts, "max_steps", 200))
        batches = curve["batch"].to_numpy(dtype=float)
        wall = curve["wall_s"].to_numpy(dtype=float) if "wall_s" in curve else np.full(len(curve), np.nan)
        mean_r = curve["mean_reward"].to_numpy(dtype=float)

        def first(hits: np.ndarray, offset: int = 0) -> tuple[float, float]:
            i = np.flatnonzero(hits)
            return (float(batches[i[0] + offset]), float(wall[i[0] + offset])) if i.size else (np.nan, np.nan)

        rolling = np.convolve(mean_r, np.ones(window) / window, mode="valid") if len(mean_r) >= window else []
        b_solved, t_solved = first(np.asarray(rolling) >= solved, window - 1)
        b_cap, t_cap = first(curve["max_reward"].to_numpy(dtype=float) >= cap)
        return {"batches_to_solved": b_solved, "train_s_to_solved": t_solved, "batches_to_cap": b_cap,
                "train_s_to_cap": t_cap, "final_mean_reward": float(mean_r[-window:].mean())}

    def train(self, plant: Any, task: Any, *, seed: int, fresh: bool = False,
              workdir: str | Path | None = None, log: Callable[[str], None] | None = None,
              progress: Callable[[pd.DataFrame], None] | None = None) -> pd.DataFrame:
        """Train for the task's ``batches`` batches of episodes capped at its ``max_steps`` steps.

        ``batches`` and ``max_steps`` are the settings of those names of
        ``task`` (the ``balance`` task); without them, 300 and 200.  All
        randomness comes from ``np.random.default_rng(seed)``.  ``fresh``
        starts from new random weights drawn from it; otherwise training
        continues from the checkpoint in ``workdir`` if there is one, else
        from the current (e.g. loaded) weights.  With ``workdir`` the final
        weights are saved there (``<name>-<plant>.npz``).  ``log(line)`` gets
        about ten progress lines; ``progress(curve)`` the curve so far after
        every batch.

        Returns the per-batch curve (DataFrame, :data:`CURVE_COLUMNS`).
        """
        import pandas as pd

        rng = np.random.default_rng(seed)
        task_settings = getattr(task, "settings", None)
        batches = int(getattr(task_settings, "batches", 300))
        max_steps = int(getattr(task_settings, "max_steps", 200))
        if self.plant is not plant:
            self.bind(plant)
        if batches < 1 or max_steps < 1:
            raise InvalidArgument(f"train: batches and max_steps must be >= 1; got {batches}, {max_steps}")
        checkpoint = None
        if workdir is not None:
            checkpoint = Path(workdir) / f"{self.name or type(self).__name__.lower()}-{self.cart.name}.npz"
        if not fresh and checkpoint is not None and checkpoint.exists():
            self.load(checkpoint)
            if log is not None:
                log(f"continuing from {checkpoint}")
        if fresh or self.params is None:
            self.initialize(rng)
        rows = []
        every = max(1, batches // 10)
        started = time.perf_counter()
        for b in range(1, batches + 1):
            row = self.train_batch(rng, max_steps)
            row["batch"] = b
            row["wall_s"] = time.perf_counter() - started
            rows.append(row)
            if progress is not None:
                progress(pd.DataFrame(rows, columns=list(CURVE_COLUMNS)))
            if log is not None and (b % every == 0 or b == batches):
                log(f"batch {b}/{batches}: max reward {row['max_reward']:.0f}, mean {row['mean_reward']:.1f}, "
                    f"{row['rollout_ms'] + row['update_ms']:.1f} ms")
        if checkpoint is not None:
            path = self.save(checkpoint)
            if log is not None:
                log(f"weights saved to {path}")
        return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))

    def train_batch(self, rng: np.random.Generator, max_steps: int = 200) -> dict[str, Any]:
        """One batch: collect episodes, then update value and policy; returns the curve row."""
        cart = self._need_cart()
        self._ensure_tf()
        s = self.settings
        t0 = time.perf_counter()
        if s.rollout == "stepwise":  # the reference: one cart, one TF policy call per step
            episodes = collect(cart, lambda o: sample_actions(self._tf_probs(o), rng), rng, s.batch_steps,
                               max_steps, wave=1)
        else:
            params = self.params
            episodes = collect(cart, lambda o: sample_from_logits(policy_logits(params, o), rng), rng,
                               s.batch_steps, max_steps, expected_length=self._expected_length)
        t1 = time.perf_counter()
        applied = self.update(episodes)
        t2 = time.perf_counter()
        lengths = episodes.lengths
        self._expected_length = float(lengths.mean())
        return {"batch": 0, "max_reward": float(lengths.max()), "mean_reward": float(lengths.mean()),
                "episodes": int(lengths.size), "steps": int(lengths.sum()),
                "rollout_ms": (t1 - t0) * 1e3, "update_ms": (t2 - t1) * 1e3, "skipped": not applied,
                "wall_s": np.nan}

    def update(self, episodes: Episodes) -> bool:
        """Value step and policy step on one batch; False when the policy step was not finite.

        The usual path is one TensorFlow call for the whole update
        (:meth:`_policy_step_graph`); the stepwise rollout and a subclass's
        eager path (:meth:`_fused` False) go through :meth:`_policy_update`.
        """
        self._ensure_tf()
        tfs = self._tf
        obs = np.ascontiguousarray(episodes.observations, dtype=np.float64)
        actions = np.ascontiguousarray(episodes.actions, dtype=np.int32)
        returns = episodes.returns(self.settings.discount)
        if self._fused() and self.settings.rollout == "batched":
            ok, policy, value = tfs["update"](obs, actions, returns)
            self.params = [p.numpy() for p in policy]
            self.value_params = [p.numpy() for p in value]
            return bool(ok)
        if self.settings.rollout == "stepwise":  # the reference: one value call per transition
            values = np.array([float(tfs["value"](obs[t:t + 1])[0]) for t in range(obs.shape[0])])
            tfs["value_fit"](obs, returns)
        else:
            values = tfs["value_fit"](obs, returns).numpy()
        advantages = returns - values
        applied = bool(np.all(np.isfinite(advantages))) and self._policy_update(obs, actions, advantages)
        self.params = [v.numpy() for v in tfs["policy_vars"]]
        self.value_params = [v.numpy() for v in tfs["value_vars"]]
        return applied

    def _fused(self) -> bool:
        """Whether the whole update runs as one TensorFlow call."""
        return True

    @abc.abstractmethod
    def _policy_step_graph(self, tf: Any, tfs: dict[str, Any], obs: Any, actions: Any, advantages: Any) -> Any:
        """TF graph code: update the policy variables if the step is finite; return that as a bool tensor."""

    def _policy_update(self, obs: np.ndarray, actions: np.ndarray, advantages: np.ndarray) -> bool:
        """Eager path of the policy step (default: the graph step as its own TF call)."""
        return bool(self._tf["policy_step"](obs, actions, advantages))

    def _build_policy_update(self, tf: Any, tfs: dict[str, Any]) -> None:
        """Create the subclass's optimizers and TF functions in ``tfs`` (once per fresh start)."""

    # -- TensorFlow state ---------------------------------------------------------
    def _ensure_tf(self) -> None:
        """Build variables, optimizers and compiled functions from the numpy weights."""
        if self._tf is not None:
            return
        if self.params is None:
            raise InvalidArgument(f"{self.name or 'learner'} has no weights: call initialize(rng) or load first")
        from ..tfcompat import tensorflow

        tf = tensorflow()
        tf.random.set_seed(self._tf_seed)  # nothing here draws from it; set so that extensions stay seeded
        f64 = tf.float64
        pvars = [tf.Variable(p, dtype=f64) for p in self.params]
        vvars = [tf.Variable(p, dtype=f64) for p in self.value_params]
        value_opt = tf.keras.optimizers.Adam(self.settings.value_lr)
        value_opt.build(vvars)  # slots now, so that apply_gradients may run inside tf.cond
        obs_spec = tf.TensorSpec([None, self.arch.inputs], f64)
        act_spec = tf.TensorSpec([None], tf.int32)
        vec_spec = tf.TensorSpec([None], f64)
        tfs: dict[str, Any] = {"tf": tf, "policy_vars": pvars, "value_vars": vvars, "obs_spec": obs_spec}

        def value_net(obs: Any) -> Any:
            h = tf.nn.relu(tf.matmul(obs, vvars[0]) + vvars[1])
            return tf.reshape(tf.matmul(h, vvars[2]) + vvars[3], [-1])

        def value_step(obs: Any, returns: Any) -> tuple[Any, Any]:
            """V(s) before one Adam step on 1/2 ||V - G||^2 (skipped if not finite)."""
            with tf.GradientTape() as tape:
                values = value_net(obs)
                loss = 0.5 * tf.reduce_sum(tf.square(values - returns))
            grads = tape.gradient(loss, vvars)
            applied = apply_if_finite(tf, value_opt, grads, vvars)
            return values, applied

        @tf.function(input_signature=[obs_spec])
        def value(obs):
            return value_net(obs)

        @tf.function(input_signature=[obs_spec, vec_spec])
        def value_fit(obs, returns):
            values, applied = value_step(obs, returns)
            with tf.control_dependencies([applied]):
                return tf.identity(values)

        @tf.function(input_signature=[obs_spec])
        def probs(obs):
            return tf.nn.softmax(tf_logits(tf, pvars, obs))

        @tf.function(input_signature=[vec_spec])
        def assign_add(delta):
            i = 0
            for v in pvars:
                n = int(np.prod(v.shape))
                v.assign_add(tf.reshape(delta[i:i + n], v.shape))
                i += n

        tfs.update(value=value, value_fit=value_fit, probs=probs, assign_add=assign_add)
        self._build_policy_update(tf, tfs)

        @tf.function(input_signature=[obs_spec, act_spec, vec_spec])
        def policy_step(obs, actions, advantages):
            return self._policy_step_graph(tf, tfs, obs, actions, advantages)

        @tf.function(input_signature=[obs_spec, act_spec, vec_spec])
        def update(obs, actions, returns):
            values, value_applied = value_step(obs, returns)
            ok = self._policy_step_graph(tf, tfs, obs, actions, returns - values)
            with tf.control_dependencies([ok, value_applied]):
                return tf.identity(ok), [tf.identity(v) for v in pvars], [tf.identity(v) for v in vvars]

        tfs.update(policy_step=policy_step, update=update)
        self._tf = tfs

    def _tf_probs(self, obs: np.ndarray) -> np.ndarray:
        """Probabilities from one TensorFlow call (the reference's per-step policy call)."""
        return self._tf["probs"](np.asarray(obs, dtype=np.float64)).numpy()

    # -- checkpoints ---------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write policy and value weights and the architecture to ``path`` (``.npz``, no pickle)."""
        if self.params is None or self.arch is None:
            raise InvalidArgument(f"{self.name or 'learner'} has no weights to save: train or load first")
        path = Path(path)
        if path.suffix not in ("", ".npz"):
            path = path.with_name(path.name + ".npz")
        arrays = {f"policy_{i:03d}": p for i, p in enumerate(self.params)}
        arrays.update({f"value_{i:03d}": p for i, p in enumerate(self.value_params)})
        return write_npz(path, {"format": np.array(CHECKPOINT_FORMAT),
                                "architecture": np.array(self.arch.to_json()), **arrays})

    def load(self, path: str | Path) -> None:
        """Read weights written by :meth:`save`; :class:`CheckpointError` if they do not fit."""
        path = Path(path)
        arrays = read_npz(path, "checkpoint", text=("format", "architecture"))
        if str(arrays.get("format", "")) != CHECKPOINT_FORMAT or "architecture" not in arrays:
            raise CheckpointError(f"checkpoint {str(path)!r} is not a {CHECKPOINT_FORMAT} file")
        try:
            saved = Architecture.from_json(str(arrays["architecture"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"checkpoint {str(path)!r} has an unreadable architecture: {exc}") from None
        if self.arch is not None:
            want = self.arch
        else:
            want = self._architecture(self.settings.inputs or saved.inputs, self.settings.actions or saved.actions)
        if saved != want:
            raise CheckpointError(f"checkpoint {str(path)!r} holds a {saved.describe()}; "
                                  f"{self.name or 'this learner'} is a {want.describe()}")
        policy = [arrays.get(f"policy_{i:03d}") for i in range(len(want.policy_shapes()))]
        value = [arrays.get(f"value_{i:03d}") for i in range(len(want.value_shapes()))]
        for got, shapes in ((policy, want.policy_shapes()), (value, want.value_shapes())):
            if any(g is None or g.shape != sh for g, sh in zip(got, shapes)):
                raise CheckpointError(f"checkpoint {str(path)!r}: weight shapes do not match its architecture")
        if not all_finite(policy + value):
            raise CheckpointError(f"checkpoint {str(path)!r} holds non-finite weights")
        self.arch = want
        self.params = [np.asarray(p, dtype=np.float64) for p in policy]
        self.value_params = [np.asarray(p, dtype=np.float64) for p in value]
        self._tf = None
