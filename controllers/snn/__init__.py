"""``snn``: a Keras network trained in rate mode and run as a spiking network (NengoDL).

Modules: :mod:`.classifier` (the :class:`SNN` classifier), :mod:`.model`
(building, saving and loading the Keras model), :mod:`.training` (rate-mode
training with NengoDL).  TensorFlow and NengoDL are imported (through
:mod:`bench.controllers.tfcompat`) only when a model is built.
"""

from __future__ import annotations

from .classifier import SNN, SNNSettings, SpikingRun

__all__ = ["SNN", "SNNSettings", "SpikingRun"]
