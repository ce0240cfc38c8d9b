"""Importing Keras quietly. TensorFlow's C++ runtime prints banner lines while it loads ("oneDNN custom operations
are on", "Could not find cuda drivers", "All log messages before absl::InitializeLog()...") straight to file
descriptor 2, before TF_CPP_MIN_LOG_LEVEL is consulted; they would bury each stage's own lines in `dvc repro`'s
output. The first import goes through here with descriptor 2 pointed at /dev/null; every later `import keras`
is then a lookup in sys.modules.
"""

from __future__ import annotations

import os
import sys


def import_keras(cpu_devices: int = 1):
    """The keras module, its backend loaded without the C++ banners (a Python error still reaches stderr).

    ``cpu_devices`` > 1 splits the CPU into that many logical devices when the backend starts, on a machine
    without accelerators (distribute.py: ``train.devices`` there); once the backend has started it is too late."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if cpu_devices > 1 and os.environ.get("KERAS_BACKEND", "tensorflow") == "jax":
        # Read when JAX's CPU client starts; harmless where JAX runs on accelerators.
        flag = f"--xla_force_host_platform_device_count={cpu_devices}"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras

        if cpu_devices > 1 and keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            cpu = tf.config.list_physical_devices("CPU")
            if not tf.config.list_physical_devices("GPU"):
                tf.config.set_logical_device_configuration(cpu[0], [tf.config.LogicalDeviceConfiguration()] *
                                                           cpu_devices)
        keras.ops.convert_to_numpy(keras.ops.zeros(1))  # the backend's runtime starts here; its banners too
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return keras
