"""Policy-gradient learners for discrete-action plants: ``pg`` and ``npg``.

Modules: :mod:`.learner` (softmax policies, the value baseline and the shared
training loop, :class:`PolicyGradientLearner`), :mod:`.pg` (vanilla policy
gradient, :class:`PG`), :mod:`.npg` (natural policy gradient, :class:`NPG`),
:mod:`.episodes` (batched episode collection).  TensorFlow is imported
(through :mod:`bench.controllers.tfcompat`) only when a learner trains.
"""

from __future__ import annotations

from .learner import PolicyGradientLearner, PolicyLearnerSettings
from .npg import NPG, NPGSettings
from .pg import PG, PGSettings

__all__ = ["NPG", "PG", "NPGSettings", "PGSettings", "PolicyGradientLearner", "PolicyLearnerSettings"]
