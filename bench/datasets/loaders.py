"""Image datasets for the ``classify`` task: ``digits``, ``mnist`` and any ``.npz``.

Each dataset returns images as ``float32`` arrays of shape ``(n, H, W, C)``
with values in ``[0, 1]`` and labels as ``int64`` arrays of shape ``(n,)``
in ``[0, n_classes)``.  Nothing is downloaded: ``digits`` is bundled with
scikit-learn, ``mnist`` is read from Keras' cache file (or a given path), and
``npz`` reads any file holding ``x_train, y_train, x_test, y_test``.
Files are read with ``allow_pickle=False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.api import Dataset
from bench.errors import InvalidArgument
from bench.npzfile import check_npz, read_npz
from bench.settings import setting

ARRAYS = ("x_train", "y_train", "x_test", "y_test")

#: Where Keras' ``mnist.load_data()`` caches the file.
KERAS_MNIST = "~/.keras/datasets/mnist.npz"


def check_arrays(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                 n_classes: int | None = None, source: str = "dataset"
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Validate and normalise a split; returns the arrays and ``n_classes``.

    Images become ``float32 (n, H, W, C)`` (a channel axis is added to
    ``(n, H, W)``; integer images are divided by their dtype's maximum), labels
    ``int64 (n,)``.  ``n_classes`` defaults to ``max(y_train) + 1``.  Raises
    :class:`InvalidArgument` naming ``source`` for any inconsistency.
    """
    xs = []
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        x = np.asarray(x)
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[0] == 0:
            raise InvalidArgument(f"{source}: {name} must have shape (n, H, W) or (n, H, W, C) with n > 0; "
                                  f"got {x.shape}")
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise InvalidArgument(f"{source}: {name} must be numeric; got dtype {x.dtype}")
        if np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.float32) / max(float(np.iinfo(x.dtype).max), 1.0)
        x = x.astype(np.float32, copy=False)
        if not np.all(np.isfinite(x)):
            raise InvalidArgument(f"{source}: {name} contains NaN or infinite values")
        xs.append(x)
    x_train, x_test = xs
    if x_train.shape[1:] != x_test.shape[1:]:
        raise InvalidArgument(f"{source}: x_train images have shape {x_train.shape[1:]} but x_test images "
                              f"{x_test.shape[1:]}")
    ys = []
    for name, y, x in (("y_train", y_train, x_train), ("y_test", y_test, x_test)):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise InvalidArgument(f"{source}: {name} must be one integer label per image "
                                  f"({x.shape[0]},); got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise InvalidArgument(f"{source}: {name} must hold integer class labels; got dtype {y.dtype}")
        ys.append(y.astype(np.int64))
    y_train, y_test = ys
    classes = int(n_classes) if n_classes is not None else int(y_train.max()) + 1
    for name, y in (("y_train", y_train), ("y_test", y_test)):
        bad = (y < 0) | (y >= classes)
        if bad.any():
            raise InvalidArgument(f"{source}: {name} has labels out of range [0, {classes}): "
                                  f"e.g. {int(y[bad][0])} at index {int(np.flatnonzero(bad)[0])}")
    return x_train, y_train, x_test, y_test, classes


def _limit(x: np.ndarray, y: np.ndarray, n: int | None) -> tuple[np.ndarray, np.ndarray]:
    return (x, y) if n is None else (x[:n], y[:n])


@dataclass
class DigitsSettings:
    test_fraction: float = setting(0.2, "fraction of the 1797 images held out for testing", gt=0, lt=1)
    split_seed: int | None = setting(None, "seed of the train/test split (default: the run's seed)", ge=0)
    max_train: int | None = setting(None, "use at most this many training images", ge=1)
    max_test: int | None = setting(None, "use at most this many test images", ge=1)


class Digits(Dataset):
    """scikit-learn's bundled 8×8 handwritten digits (1797 images, 10 classes).

    The split is a seeded permutation: the same seed gives the same split.
    Pixel values 0–16 are scaled to [0, 1].
    """

    Settings = DigitsSettings
    n_classes = 10
    input_shape = (8, 8, 1)

    def load(self, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        from sklearn.datasets import load_digits

        s = self.settings
        data = load_digits()
        x = (data.images / 16.0).astype(np.float32)[..., None]
        y = data.target.astype(np.int64)
        rng = np.random.default_rng(seed if s.split_seed is None else s.split_seed)
        order = rng.permutation(len(y))
        n_test = max(1, round(s.test_fraction * len(y)))
        test, train = order[:n_test], order[n_test:]
        x_train, y_train = _limit(x[train], y[train], s.max_train)
        x_test, y_test = _limit(x[test], y[test], s.max_test)
        return x_train, y_train, x_test, y_test


def read_arrays(path: str | Path, source: str) -> dict[str, np.ndarray]:
    """The four arrays of an ``.npz`` file (no pickle); clear errors when it is not one."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidArgument(f"{source}: no such file {str(path)!r}")
    arrays = read_npz(path, f"{source}: data file", require=ARRAYS, error=InvalidArgument)
    return {a: arrays[a] for a in ARRAYS}


def check_file(raw: str) -> None:
    """A data file that exists is checked when the settings are: its arrays' names, kinds (numbers) and sizes
    (``BENCH_MAX_ARRAY_ELEMENTS``), from their headers alone (:func:`bench.npzfile.check_npz`); a missing
    one is reported by :meth:`NpzDataset.load`."""
    path = Path(raw).expanduser() if raw else None
    if path is None or not path.is_file():
        return
    headers = check_npz(path, "data file", error=InvalidArgument)
    missing = [a for a in ARRAYS if a not in headers]
    if missing:
        raise InvalidArgument(f"data file {str(path)!r} lacks array(s) {', '.join(missing)} "
                              f"(has {', '.join(sorted(headers)) or 'none'}; needs {', '.join(ARRAYS)})")


@dataclass
class NpzSettings:
    path: str = setting("", "an .npz file holding x_train, y_train, x_test, y_test")
    n_classes: int | None = setting(None, "number of classes (default: largest training label + 1)", ge=2)
    max_train: int | None = setting(None, "use at most this many training images", ge=1)
    max_test: int | None = setting(None, "use at most this many test images", ge=1)

    def check(self) -> None:
        check_file(self.path)


class NpzDataset(Dataset):
    """Any ``.npz`` with ``x_train, y_train, x_test, y_test`` (images (n,H,W[,C]), integer labels).

    ``n_classes`` and ``input_shape`` are known after :meth:`load`.
    """

    Settings = NpzSettings
    default_path = ""
    what = "npz"
    classes: int | None = None  # a dataset with a known number of classes
    image_shape: tuple[int, ...] | None = None  # a dataset with a known image shape

    def __init__(self, settings=None) -> None:
        super().__init__(settings)
        self.n_classes = getattr(self.settings, "n_classes", None) or self.classes or 0
        self.input_shape = ()

    def missing_file_message(self, path: Path) -> str:
        return f"{self.what}: no such file {str(path)!r}"

    def input_files(self) -> list[Path]:
        """The data file."""
        raw = self.settings.path or self.default_path
        return [Path(raw).expanduser()] if raw else []

    def load(self, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        s = self.settings
        raw = s.path or self.default_path
        if not raw:
            raise InvalidArgument(f"{self.what}: give the file with --set path=FILE.npz")
        path = Path(raw).expanduser()
        if not path.is_file():
            raise InvalidArgument(self.missing_file_message(path))
        arrays = read_arrays(path, self.what)
        source = f"{self.what} {str(path)!r}"
        x_train, y_train, x_test, y_test, classes = check_arrays(
            *(arrays[a] for a in ARRAYS), n_classes=getattr(s, "n_classes", None) or self.classes, source=source)
        if self.image_shape is not None and x_train.shape[1:] != self.image_shape:
            raise InvalidArgument(f"{source}: images have shape {x_train.shape[1:]}, "
                                  f"expected {self.image_shape[:-1]} or {self.image_shape}")
        self.n_classes = classes
        self.input_shape = tuple(x_train.shape[1:])
        x_train, y_train = _limit(x_train, y_train, s.max_train)
        x_test, y_test = _limit(x_test, y_test, s.max_test)
        return x_train, y_train, x_test, y_test


@dataclass
class MnistSettings:
    path: str = setting(KERAS_MNIST, "the mnist.npz file (as Keras' mnist.load_data() caches it)")
    max_train: int | None = setting(None, "use at most this many training images", ge=1)
    max_test: int | None = setting(None, "use at most this many test images", ge=1)

    def check(self) -> None:
        check_file(self.path)


class Mnist(NpzDataset):
    """MNIST from Keras' cached ``mnist.npz`` (28×28, 10 classes); never downloaded."""

    Settings = MnistSettings
    default_path = KERAS_MNIST
    what = "mnist"
    classes = 10
    image_shape = (28, 28, 1)

    def __init__(self, settings=None) -> None:
        super().__init__(settings)
        self.n_classes, self.input_shape = self.classes, self.image_shape

    def missing_file_message(self, path: Path) -> str:
        return (f"mnist: {str(path)!r} not found; ctrlbench never downloads. Copy mnist.npz (from "
                f"https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz) to "
                f"{KERAS_MNIST} or pass --set path=/where/it/is/mnist.npz")
