"""Built-in plants: the plugin module ``bench.plants``.

Registration only names factories; nothing heavy is imported here.
"""

from __future__ import annotations

from bench import hookimpl

ARM = frozenset({"dynamics", "kinematics", "jacobians"})


@hookimpl
def register_plants(register):
    register("arm2", "bench.plants.arm2:Arm2",
             summary="two-link planar arm (l = 0.31, 0.27 m), torque input, no gravity", provides=ARM)
    register("arm3", "bench.plants.arm3:Arm3",
             summary="three-link planar arm (l = 2.0, 1.2, 0.7 m), torque input, optional gravity/damping",
             provides=ARM)
    register("cartpole", "bench.plants.cartpole:CartPole",
             summary="Gymnasium CartPole-v1 physics, batched; force input or discrete actions {0, 1}",
             provides=frozenset({"dynamics", "jacobians", "discrete-actions"}))


IMAGES = frozenset({"images"})


@hookimpl
def register_datasets(register):
    register("digits", "bench.plants.datasets:Digits", provides=IMAGES, requires=("sklearn",), extra="tf",
             summary="scikit-learn's bundled 8x8 handwritten digits, seeded train/test split (offline)")
    register("mnist", "bench.plants.datasets:Mnist", provides=IMAGES,
             summary="MNIST from ~/.keras/datasets/mnist.npz or --set path=... (never downloaded)")
    register("npz", "bench.plants.datasets:NpzDataset", provides=IMAGES,
             summary="any .npz with x_train, y_train, x_test, y_test (--set path=...)")
