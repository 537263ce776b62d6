"""The one place TensorFlow (and later NengoDL) is imported.

TensorFlow 2.21 ships Keras 3; nengo-dl 3.6 and our Keras-2 style code need
the legacy ``tf_keras``, selected by ``TF_USE_LEGACY_KERAS=1`` *before*
TensorFlow is first imported.  Call :func:`tensorflow` instead of
``import tensorflow``; it is cheap after the first call (~7 s).
"""

from __future__ import annotations

import os
import sys
from types import ModuleType


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
