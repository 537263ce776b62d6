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


IMAGES = frozenset({"images"})


@hookimpl
def register_datasets(register):
    register("digits", "bench.plants.datasets:Digits", provides=IMAGES, requires=("sklearn",), extra="tf",
             summary="scikit-learn's bundled 8x8 handwritten digits, seeded train/test split (offline)")
    register("mnist", "bench.plants.datasets:Mnist", provides=IMAGES,
             summary="MNIST from ~/.keras/datasets/mnist.npz or --set path=... (never downloaded)")
    register("npz", "bench.plants.datasets:NpzDataset", provides=IMAGES,
             summary="any .npz with x_train, y_train, x_test, y_test (--set path=...)")
