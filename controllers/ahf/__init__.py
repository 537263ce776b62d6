"""``ahf``: a recurrent arm controller trained with Hessian-free optimisation.

Modules: :mod:`.learner` (the :class:`AHF` learner), :mod:`.net` (the
network), :mod:`.arm_layer` (the arm as the network's last layer),
:mod:`.training` (regimes, checkpoints, curves), :mod:`.checkpoints` (the
weights file format); ``weights/`` holds the shipped weights.  ``hessianfree``
is imported only when a network is built.
"""

from __future__ import annotations

from .learner import AHF, AHFSettings

__all__ = ["AHF", "AHFSettings"]
