"""Vanilla policy gradient (REINFORCE with a value baseline) in TensorFlow 2.

One Adam step (learning rate ``lr``, default 0.01, the reference's) per
batch on the surrogate loss ``-mean_t log pi(a_t | s_t) * A_t``.  Everything
else (policy, value baseline, returns, batched rollouts, checkpoints) is
:class:`~bench.controllers.policy_gradient.learner.PolicyGradientLearner`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.settings import setting

from .learner import (
    PolicyGradientLearner,
    PolicyLearnerSettings,
    apply_if_finite,
    tf_log_prob,
    tf_logits,
)


@dataclass
class PGSettings(PolicyLearnerSettings):
    lr: float = setting(0.01, "Adam learning rate of the policy", gt=0, train_only=True)


class PG(PolicyGradientLearner):
    """Policy gradient with Adam; see the module docstring."""

    Settings = PGSettings

    def _build_policy_update(self, tf: Any, tfs: dict[str, Any]) -> None:
        opt = tf.keras.optimizers.Adam(self.settings.lr)
        opt.build(tfs["policy_vars"])
        tfs["policy_opt"] = opt

    def _policy_step_graph(self, tf: Any, tfs: dict[str, Any], obs: Any, actions: Any, advantages: Any) -> Any:
        pvars = tfs["policy_vars"]
        with tf.GradientTape() as tape:
            logp = tf_log_prob(tf, tf_logits(tf, pvars, obs), actions)
            loss = -tf.reduce_mean(logp * advantages)
        return apply_if_finite(tf, tfs["policy_opt"], tape.gradient(loss, pvars), pvars)
