"""Built-in plants: the plugin module ``bench.plants``.

Registration only names factories; nothing heavy is imported here.
"""

from __future__ import annotations

from bench.hookspecs import hookimpl

ARM = frozenset({"dynamics", "kinematics", "jacobians"})


@hookimpl
def register_plants(register):
    register("arm1", "bench.plants.arm1:Arm1",
             summary="studywolf's one-link arm (l = 0.8 m, 1 kg, 15 kg·m²), optional gravity/damping", provides=ARM)
    register("arm1_python", "bench.plants.arm1:Arm1Python",
             summary="studywolf's one-link Python arm (l = 0.31 m, 1.98 kg point mass at the hand)", provides=ARM)
    register("arm2", "bench.plants.arm2:Arm2",
             summary="two-link planar arm (l = 0.31, 0.27 m), torque input, no gravity", provides=ARM)
    register("arm2_python", "bench.plants.arm2:Arm2",
             summary="studywolf's name for arm2 (the same plant: same factory, physics and parameters)",
             provides=ARM)
    register("arm2_python_todorov", "bench.plants.arm2_todorov:Arm2Todorov",
             summary="Todorov's two-link arm (his masses, centres of mass, inertias; 40 ms actuator lag)",
             provides=ARM)
    register("arm3", "bench.plants.arm3:Arm3",
             summary="studywolf's three-link arm (l = 2.0, 1.2, 0.7 m, 10 kg, 100 kg·m²); gravity, damping, "
                     "mass_scale settings", provides=ARM)
    register("arm3_rods", "bench.plants.arm3:Arm3Rods",
             summary="three light uniform rods (l = 2.0, 1.2, 0.7 m, 1 kg/m), ctrlbench's former arm3",
             provides=ARM)
    register("cartpole", "bench.plants.cartpole:CartPole",
             summary="Gymnasium CartPole-v1 physics, batched; force input or discrete actions {0, 1}",
             provides=frozenset({"dynamics", "jacobians", "discrete-actions"}))
