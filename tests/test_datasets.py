"""Datasets: digits (bundled), mnist (Keras cache file) and any .npz; registration and checks."""

from __future__ import annotations

import numpy as np
import pytest

import bench
from bench.errors import Incompatible, InvalidArgument, SettingError
from bench.registry import check_compatible


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def small_split(rng, shape=(6, 6), n_train=20, n_test=8, classes=3):
    return {"x_train": rng.random((n_train, *shape)).astype(np.float32),
            "y_train": np.arange(n_train) % classes,
            "x_test": rng.random((n_test, *shape)).astype(np.float32),
            "y_test": np.arange(n_test) % classes}


def test_digits_split_shapes_and_range():
    d = bench.plant("digits")
    x_train, y_train, x_test, _ = d.load(0)
    assert x_train.shape[1:] == x_test.shape[1:] == d.input_shape == (8, 8, 1)
    assert x_train.dtype == np.float32 and 0 <= x_train.min() and x_train.max() <= 1
    assert len(x_train) + len(x_test) == 1797 and len(x_test) == round(0.2 * 1797)
    assert y_train.dtype == np.int64 and set(np.unique(y_train)) == set(range(10))


def test_digits_split_is_fixed_by_seed():
    d = bench.plant("digits")
    a, b, c = d.load(3), d.load(3), d.load(4)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    fixed = bench.plant("digits", split_seed=7)
    assert np.array_equal(fixed.load(0)[3], fixed.load(1)[3])
    limited = bench.plant("digits", max_train=100, max_test=10).load(0)
    assert len(limited[0]) == 100 and len(limited[2]) == 10


def test_npz_dataset_loads_and_adds_channel(tmp_path):
    path = write_npz(tmp_path / "d.npz", **small_split(np.random.default_rng(0)))
    d = bench.plant("npz", path=str(path))
    x_train = d.load(0)[0]
    assert x_train.shape == (20, 6, 6, 1) and d.input_shape == (6, 6, 1) and d.n_classes == 3


def test_npz_missing_array_names_it(tmp_path):
    arrays = small_split(np.random.default_rng(0))
    del arrays["y_test"]
    path = write_npz(tmp_path / "d.npz", **arrays)
    with pytest.raises((InvalidArgument, SettingError), match=r"lacks array.*y_test"):  # when the settings are checked
        bench.plant("npz", path=str(path)).load(0)


@pytest.mark.parametrize("labels, match", [
    (np.array([0, 1, 2, 5, 0, 1, 2, 0]), r"y_test has labels out of range \[0, 3\)"),
    (np.array([0, 1, -1, 0, 0, 1, 2, 0]), "out of range"),
    (np.full(8, 0.5), "integer class labels"),
    (np.zeros(7, int), "one integer label per image"),
])
def test_npz_bad_labels(tmp_path, labels, match):
    arrays = small_split(np.random.default_rng(0))
    arrays["y_test"] = labels
    path = write_npz(tmp_path / "d.npz", **arrays)
    with pytest.raises(InvalidArgument, match=match):
        bench.plant("npz", path=str(path)).load(0)


def test_npz_shape_mismatch_and_bad_files(tmp_path):
    arrays = small_split(np.random.default_rng(0))
    arrays["x_test"] = np.zeros((8, 5, 5), np.float32)
    with pytest.raises(InvalidArgument, match=r"x_train images have shape \(6, 6, 1\) but x_test"):
        bench.plant("npz", path=str(write_npz(tmp_path / "a.npz", **arrays))).load(0)
    (tmp_path / "b.npz").write_text("not a zip")
    with pytest.raises((InvalidArgument, SettingError), match=r"not a readable \.npz"):
        bench.plant("npz", path=str(tmp_path / "b.npz")).load(0)
    objects = small_split(np.random.default_rng(0))
    objects["x_train"] = np.array([object()] * 20, dtype=object)
    with pytest.raises((InvalidArgument, SettingError), match=r"not a readable \.npz"):  # pickled arrays are refused
        bench.plant("npz", path=str(write_npz(tmp_path / "c.npz", **objects))).load(0)
    with pytest.raises(InvalidArgument, match="--set path="):
        bench.plant("npz").load(0)


def test_mnist_missing_file_says_where_to_put_it(tmp_path):
    with pytest.raises(InvalidArgument, match=r"~/.keras/datasets/mnist.npz.*--set path="):
        bench.plant("mnist", path=str(tmp_path / "nope.npz")).load(0)


def test_mnist_from_path_scales_uint8(tmp_path):
    rng = np.random.default_rng(1)
    path = write_npz(tmp_path / "mnist.npz",
                     x_train=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), y_train=np.arange(30) % 10,
                     x_test=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), y_test=np.arange(10))
    x_train, _, x_test, _ = bench.plant("mnist", path=str(path), max_train=12).load(0)
    assert x_train.shape == (12, 28, 28, 1) and x_train.dtype == np.float32 and x_train.max() <= 1.0
    assert np.allclose(x_test[0, :, :, 0] * 255, np.load(path)["x_test"][0])


def test_datasets_take_the_plants_place():
    reg = bench.registry()
    assert {"digits", "mnist", "npz"} <= set(reg.names("dataset"))
    digits, snn, classify = reg.get("dataset", "digits"), reg.get("controller", "snn"), reg.get("task", "classify")
    check_compatible(digits, snn, classify)
    with pytest.raises(Incompatible, match="needs a dataset"):
        check_compatible(reg.get("plant", "arm2"), snn, classify)
    with pytest.raises(Incompatible, match="classify"):
        check_compatible(digits, reg.get("controller", "osc"), classify)
