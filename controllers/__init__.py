"""Built-in controllers and learners: the plugin module ``bench.controllers``.

Registration only names factories; TensorFlow and NengoDL are imported by the
controllers that need them, when they are built.  Each learner family is a
subpackage (``ahf/``, ``snn/``, ``policy_gradient/``) that keeps its heavy
optional import (hessianfree, TensorFlow, NengoDL) to itself;
:mod:`.tfcompat` is the one TensorFlow/NengoDL import shim they share.
"""

from __future__ import annotations

from bench.hookspecs import hookimpl


@hookimpl
def register_controllers(register):
    register("osc", "bench.controllers.osc:OSC",
             summary="operational-space (task-space PD with the arm's inertia) reaching baseline",
             provides={"act"}, needs={"kinematics"}, accepts={"hand"})
    register("gc", "bench.controllers.gc:GC",
             summary="joint-space PD shaped by the inertia, to the inverse-kinematics posture (studywolf gc)",
             provides={"act"}, needs={"kinematics"}, accepts={"hand"})
    register("lqr", "bench.controllers.lqr:LQR",
             summary="discrete LQR on the plant's exact Jacobians at the target state (studywolf lqr)",
             provides={"act"}, needs={"kinematics", "jacobians"}, accepts={"hand"})
    register("ilqr", "bench.controllers.ilqr:ILQR",
             summary="iterative LQR on the plant's exact Jacobians, planned per target then tracked with its "
                     "feedback gains (studywolf ilqr)",
             provides={"act"}, needs={"kinematics", "dynamics", "jacobians"}, accepts={"hand"})
    register("trace", "bench.controllers.osc:OSC",
             summary="studywolf's name for osc following the write task's path (the same controller)",
             provides={"act"}, needs={"kinematics"}, accepts={"hand"})
    register("dmp", "bench.controllers.dmp:DMP",
             summary="osc tracking a dynamic-movement-primitive hand trajectory to the target (studywolf dmp)",
             provides={"act"}, needs={"kinematics"}, accepts={"hand"})
    register("ahf", "bench.controllers.ahf:AHF",
             summary="recurrent network trained with Hessian-free optimisation, the arm as its last layer",
             provides={"act", "learn"}, needs={"kinematics", "dynamics"}, accepts={"hand"})
    register("pg", "bench.controllers.policy_gradient.pg:PG",
             summary="policy gradient (softmax policy, value baseline, Adam) for discrete-action plants",
             provides={"act", "learn"}, needs={"discrete-actions"}, extra="tf", requires=("tensorflow",),
             accepts={"none"})
    register("npg", "bench.controllers.policy_gradient.npg:NPG",
             summary="natural policy gradient (Fisher pseudo-inverse step) for discrete-action plants",
             provides={"act", "learn"}, needs={"discrete-actions"}, extra="tf", requires=("tensorflow",),
             accepts={"none"})
    register("snn", "bench.controllers.snn.classifier:SNN",
             summary="Keras CNN trained in rate mode, run as a spiking network (NengoDL conversion)",
             provides={"classify"}, extra="tf", requires=("tensorflow", "nengo", "nengo_dl", "sklearn"),
             accepts={"none"})
