"""Importing Keras quietly. TensorFlow's C++ runtime prints banner lines while it loads ("oneDNN custom operations
are on", "Could not find cuda drivers", "All log messages before absl::InitializeLog()...") straight to file
descriptor 2, before TF_CPP_MIN_LOG_LEVEL is consulted; they would bury each stage's own lines in `dvc repro`'s
output. The first import goes through here with descriptor 2 pointed at /dev/null; every later `import keras`
is then a lookup in sys.modules.
"""

from __future__ import annotations

import os
import sys


def import_keras():
    """The keras module, its backend loaded without the C++ banners (a Python error still reaches stderr)."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras

        keras.ops.convert_to_numpy(keras.ops.zeros(1))  # the backend's runtime starts here; its banners too
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return keras
