"""The one place TensorFlow and NengoDL are imported.

TensorFlow 2.21 ships Keras 3; nengo-dl 3.6 and our Keras-2 style code need
the legacy ``tf_keras``, selected by ``TF_USE_LEGACY_KERAS=1`` *before*
TensorFlow is first imported.  Call :func:`tensorflow` instead of
``import tensorflow``; it is cheap after the first call (~7 s).

nengo-dl 3.6 was written for TensorFlow < 2.13, where ``tf.keras`` was the
separate ``keras`` 2 package.  Its ``nengo_dl.compat`` does::

    from keras.engine.functional import Functional, _build_map
    from keras.layers import BatchNormalizationV1, BatchNormalizationV2

and with Keras 3 installed both fail (``No module named 'keras.engine'``).
The same objects live in ``tf_keras`` (the Keras 2 that ``tf.keras`` now is),
so :func:`nengo_dl` aliases exactly those two module names to their
``tf_keras`` equivalents in ``sys.modules`` while NengoDL imports, then
removes the aliases again so that ``import keras`` still means Keras 3.
Nothing else in NengoDL imports ``keras`` directly (it uses ``tf.keras``).
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from types import ModuleType

#: Module names NengoDL imports from the standalone ``keras`` 2 package, and
#: the ``tf_keras`` modules that hold the same objects.
KERAS2_ALIASES: dict[str, str] = {
    "keras.engine": "tf_keras.src.engine",
    "keras.engine.functional": "tf_keras.src.engine.functional",
    "keras.layers": "tf_keras.src.layers",
}


def tensorflow() -> ModuleType:
    """Import TensorFlow with legacy Keras selected and its logging quiet."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    elif os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise ImportError("TensorFlow was imported before bench.controllers.tfcompat could select legacy "
                          "Keras; set TF_USE_LEGACY_KERAS=1 before importing tensorflow")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


def keras() -> ModuleType:
    """The Keras 2 API (``tf.keras``, i.e. ``tf_keras``) that NengoDL converts."""
    return tensorflow().keras


def nengo_dl() -> ModuleType:
    """Import NengoDL 3.6 on TensorFlow >= 2.13 (see the module docstring).

    Returns the ``nengo_dl`` module.  The ``keras.*`` aliases exist only while
    NengoDL's modules execute; ``sys.modules`` is restored afterwards.
    """
    if "nengo_dl" in sys.modules:
        return sys.modules["nengo_dl"]
    tf = tensorflow()
    if not tf.keras.__name__.startswith("tf_keras"):
        raise ImportError(f"tf.keras is {tf.keras.__name__!r}, not tf_keras: NengoDL needs legacy Keras "
                          "(TF_USE_LEGACY_KERAS=1 before the first TensorFlow import)")
    saved = {name: sys.modules.get(name) for name in KERAS2_ALIASES}
    try:
        for name, target in KERAS2_ALIASES.items():
            sys.modules[name] = importlib.import_module(target)
        with warnings.catch_warnings():
            # "This version of NengoDL has not been tested with your Nengo version"
            warnings.filterwarnings("ignore", message=".*has not been tested with your Nengo version.*")
            import nengo_dl as module
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    tf.get_logger().setLevel("ERROR")
    # said on every Simulator built on a CPU-only machine, and by nengo on numpy 2
    warnings.filterwarnings("ignore", message="No GPU support detected", category=UserWarning)
    warnings.filterwarnings("ignore", message="numpy.core is deprecated", category=DeprecationWarning)
    return module
