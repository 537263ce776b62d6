"""Built-in datasets: the plugin module ``bench.datasets``.

Datasets are not plants: they feed the ``classify`` task.  Registration only
names factories (in :mod:`.loaders`); scikit-learn is imported when ``digits``
is built.
"""

from __future__ import annotations

from bench.hookspecs import hookimpl

IMAGES = frozenset({"images"})


@hookimpl
def register_datasets(register):
    register("digits", "bench.datasets.loaders:Digits", provides=IMAGES, requires=("sklearn",), extra="tf",
             summary="scikit-learn's bundled 8x8 handwritten digits, seeded train/test split (offline)")
    register("mnist", "bench.datasets.loaders:Mnist", provides=IMAGES,
             summary="MNIST from ~/.keras/datasets/mnist.npz or --set path=... (never downloaded)")
    register("npz", "bench.datasets.loaders:NpzDataset", provides=IMAGES,
             summary="any .npz with x_train, y_train, x_test, y_test (--set path=...)")
