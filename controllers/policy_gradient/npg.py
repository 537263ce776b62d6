"""Natural policy gradient in TensorFlow 2.

With per-sample score vectors ``J[t] = grad_theta log pi(a_t | s_t)`` (one
row per time step of the batch) and advantages ``A``::

    g = mean_t J[t] A[t]                 F = mean_t J[t] J[t]^T
    F+ = SVD pseudo-inverse, singular values below rcond * max(S) set to zero
    theta += sqrt(delta / (g^T F+ g)) * F+ g

with ``delta = 0.001`` and ``rcond = 1e-6`` (the reference's; the cut stops
tiny negative eigenvalues from rounding from breaking the square root).
A step that is not finite (``g^T F+ g = 0``) is skipped and counted.

The per-sample gradients ``J`` come from one vectorised TensorFlow call
(``per_sample=tiled``: the parameters are broadcast to one copy per sample
and a single backward pass gives every sample's gradient;
``per_sample=jacobian``: ``GradientTape.jacobian``, vectorised by pfor), from
the closed form of the linear softmax policy (``closed_form``:
``d log pi(a|s) / dW = s (onehot(a) - pi(s))^T``), or from one gradient call
per time step (``loop``: the reference's method, kept as the benchmark
baseline).  Except with ``loop``, the whole update (value step, scores,
SVD, step, finiteness check) is one compiled TensorFlow call per batch
(:func:`tf_natural_step`); :func:`natural_step` is the same formula in numpy,
used by the loop path and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bench.errors import SettingError
from bench.settings import setting

from .learner import (
    PolicyGradientLearner,
    PolicyLearnerSettings,
    policy_logits,
    softmax,
    tf_log_prob,
    tf_logits,
)


@dataclass
class NPGSettings(PolicyLearnerSettings):
    delta: float = setting(0.001, "KL step size delta of the natural gradient step", gt=0, train_only=True)
    rcond: float = setting(1e-6, "singular values of F below rcond * max are cut", gt=0, lt=1, train_only=True)
    per_sample: Literal["tiled", "jacobian", "closed_form", "loop"] = setting(
        "tiled", "how per-sample gradients are computed (loop = one call per step, the reference)", train_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.per_sample == "closed_form" and self.policy != "linear":
            raise ValueError("per_sample=closed_form needs the linear policy (policy=linear)")


def natural_step(scores: np.ndarray, advantages: np.ndarray, delta: float, rcond: float = 1e-6) -> np.ndarray:
    """The natural-gradient step ``sqrt(delta / g^T F+ g) F+ g`` from ``(T, P)`` scores.

    The result may be non-finite (``g^T F+ g`` zero or negative); the caller
    checks it.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.shape[0]
    g = scores.T @ np.asarray(advantages, dtype=np.float64) / n
    fisher = scores.T @ scores / n
    u, sv, vt = np.linalg.svd(fisher)
    keep = sv > rcond * sv.max() if sv.size and sv.max() > 0 else np.zeros(sv.shape, dtype=bool)
    nat = vt[keep].T @ ((u[:, keep].T @ g) / sv[keep])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.sqrt(delta / (g @ nat)) * nat


def tf_natural_step(tf: Any, scores: Any, advantages: Any, delta: float, rcond: float) -> Any:
    """TF graph form of :func:`natural_step` (same cut, same formula)."""
    n = tf.cast(tf.shape(scores)[0], scores.dtype)
    g = tf.linalg.matvec(scores, advantages, transpose_a=True) / n
    fisher = tf.matmul(scores, scores, transpose_a=True) / n
    sv, u, v = tf.linalg.svd(fisher)  # fisher = u diag(sv) v^T
    keep = sv > rcond * tf.reduce_max(sv)
    inv = tf.where(keep, 1.0 / tf.where(keep, sv, tf.ones_like(sv)), tf.zeros_like(sv))
    nat = tf.linalg.matvec(v, inv * tf.linalg.matvec(u, g, transpose_a=True))
    return tf.sqrt(delta / tf.reduce_sum(g * nat)) * nat


def linear_softmax_scores(params: list[np.ndarray], obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """``(T, S*A + A)`` closed-form ``grad log pi(a|s)`` of the linear softmax policy ``[W, b]``."""
    if len(params) != 2:
        raise SettingError("per_sample=closed_form needs the linear policy (policy=linear)")
    p = softmax(policy_logits(params, obs))
    d = -p
    d[np.arange(len(actions)), actions] += 1.0
    return np.concatenate([(obs[:, :, None] * d[:, None, :]).reshape(len(obs), -1), d], axis=1)


class NPG(PolicyGradientLearner):
    """Natural policy gradient; see the module docstring."""

    Settings = NPGSettings

    def _fused(self) -> bool:
        return self.settings.per_sample != "loop"

    def _build_policy_update(self, tf: Any, tfs: dict[str, Any]) -> None:
        pvars = tfs["policy_vars"]
        sig = [tfs["obs_spec"], tf.TensorSpec([None], tf.int32)]

        @tf.function(input_signature=sig)
        def scores_jacobian(obs, actions):
            return self._scores_graph(tf, tfs, obs, actions, "jacobian")

        @tf.function(input_signature=sig)
        def scores_tiled(obs, actions):
            return self._scores_graph(tf, tfs, obs, actions, "tiled")

        @tf.function(input_signature=sig)
        def score_one(obs, actions):
            with tf.GradientTape() as tape:
                total = tf.reduce_sum(tf_log_prob(tf, tf_logits(tf, pvars, obs), actions))
            return tf.concat([tf.reshape(g, [-1]) for g in tape.gradient(total, pvars)], axis=0)

        tfs.update(scores_tiled=scores_tiled, scores_jacobian=scores_jacobian, score_one=score_one)

    def _scores_graph(self, tf: Any, tfs: dict[str, Any], obs: Any, actions: Any, method: str) -> Any:
        """TF graph code: ``(T, P)`` per-sample scores in one vectorised computation."""
        pvars = tfs["policy_vars"]
        n = tf.shape(obs)[0]

        def rows(grads: list[Any]) -> Any:
            return tf.concat([tf.reshape(g, [n, -1]) for g in grads], axis=1)

        if method == "tiled":
            copies = [tf.tile(v[None], [n] + [1] * len(v.shape)) for v in pvars]
            with tf.GradientTape() as tape:
                tape.watch(copies)
                total = tf.reduce_sum(tf_log_prob(tf, tf_logits(tf, copies, obs, per_sample=True), actions))
            return rows(tape.gradient(total, copies))
        if method == "jacobian":
            with tf.GradientTape() as tape:
                logp = tf_log_prob(tf, tf_logits(tf, pvars, obs), actions)
            return rows(tape.jacobian(logp, pvars))
        if method == "closed_form":
            d = tf.one_hot(actions, self.arch.actions, dtype=obs.dtype) - tf.nn.softmax(tf_logits(tf, pvars, obs))
            return tf.concat([tf.reshape(obs[:, :, None] * d[:, None, :], [n, -1]), d], axis=1)
        raise SettingError(f"per_sample={method!r} has no vectorised graph form")

    def _policy_step_graph(self, tf: Any, tfs: dict[str, Any], obs: Any, actions: Any, advantages: Any) -> Any:
        s = self.settings
        step = tf_natural_step(tf, self._scores_graph(tf, tfs, obs, actions, s.per_sample), advantages,
                               s.delta, s.rcond)
        ok = tf.reduce_all(tf.math.is_finite(step))

        def apply() -> Any:
            i = 0
            for v in tfs["policy_vars"]:
                k = int(np.prod(v.shape))
                v.assign_add(tf.reshape(step[i:i + k], v.shape))
                i += k
            return tf.constant(True)

        return tf.cond(ok, apply, lambda: tf.constant(False))

    def scores(self, obs: np.ndarray, actions: np.ndarray, method: str | None = None) -> np.ndarray:
        """``(T, P)`` per-sample ``grad log pi(a_t | s_t)``, parameters flattened in ``[W0, b0, ...]`` order."""
        self._ensure_tf()
        method = method or self.settings.per_sample
        obs = np.ascontiguousarray(obs, dtype=np.float64)
        actions = np.ascontiguousarray(actions, dtype=np.int32)
        if method == "tiled":
            return self._tf["scores_tiled"](obs, actions).numpy()
        if method == "jacobian":
            return self._tf["scores_jacobian"](obs, actions).numpy()
        if method == "closed_form":
            return linear_softmax_scores([v.numpy() for v in self._tf["policy_vars"]], obs, actions)
        if method == "loop":
            one = self._tf["score_one"]
            return np.stack([one(obs[t:t + 1], actions[t:t + 1]).numpy() for t in range(obs.shape[0])])
        raise SettingError(f"unknown per_sample method {method!r}")

    def _policy_update(self, obs: np.ndarray, actions: np.ndarray, advantages: np.ndarray) -> bool:
        """Eager path (loop or stepwise): scores, then the step in numpy."""
        s = self.settings
        step = natural_step(self.scores(obs, actions), advantages, s.delta, s.rcond)
        if not np.all(np.isfinite(step)):
            return False
        self._tf["assign_add"](step)
        return True
