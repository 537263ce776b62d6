"""Built-in tasks: the plugin module ``bench.tasks``."""

from __future__ import annotations

from ..hookspecs import hookimpl

#: what every arm task needs: an arm's kinematics and a controller that acts, given hand targets (m)
ARM_TASK = {"needs": frozenset({"kinematics", "controller:act"}), "target": "hand"}


@hookimpl
def register_tasks(register):
    register("reach", "bench.tasks.reach:Reach",
             summary="centre-out reaches: N targets at once (batch) or studywolf's centre-out-and-back sequence",
             **ARM_TASK)
    register("postural", "bench.tasks.postural:Postural",
             summary="studywolf's postural task: hold 8 targets in turn against a constant joint push",
             **ARM_TASK)
    register("random_movements", "bench.tasks.random_movements:RandomMovements",
             summary="studywolf's random movements: a new reachable random target every second",
             **ARM_TASK)
    register("write", "bench.tasks.write:Write",
             summary="studywolf's write task: trace the strokes of a text (letters, digits) with the hand",
             **ARM_TASK)
    register("balance", "bench.tasks.balance:Balance",
             summary="train a learner to balance a pole (batches of episodes), then evaluate it greedily",
             needs={"discrete-actions", "controller:learn"}, target="none")
    register("classify", "bench.tasks.classify:Classify",
             summary="fit a classifier on a dataset; rate vs spiking accuracy, latency, synaptic ops",
             needs={"dataset", "controller:classify"}, target="none")
