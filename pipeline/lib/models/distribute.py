"""Data-parallel training over several devices, through each backend's own distribution API:
``tf.distribute.MirroredStrategy`` on TensorFlow, ``keras.distribution.DataParallel`` on JAX. Each replica holds
all the weights and computes the gradient of its share of every batch; the shares' gradients are averaged before
the step, so a step is the single-device step up to the order of float sums (and, for the masked losses, up to
each share being averaged over its own observed ratings).

``train.devices``: ``auto`` is every accelerator the backend sees (one replica on a machine with none); a number N
is the first N accelerators, or, on a machine without accelerators, the CPU split into N logical devices (which
only tries the data-parallel code out: they share the same cores).
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from ..errors import PipelineError


def cpu_devices(devices: int | str) -> int:
    """Logical CPU devices to ask for when the backend starts (``import_keras``)."""
    return devices if isinstance(devices, int) else 1


def _pool(keras) -> tuple[list, bool]:
    """(the devices replicas may use, whether they are accelerators)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return (gpus, True) if gpus else (tf.config.list_logical_devices("CPU"), False)
    if keras.backend.backend() == "jax":
        import jax

        accelerators = [d for d in jax.devices() if d.platform != "cpu"]
        return (accelerators, True) if accelerators else (jax.devices("cpu"), False)
    return [None], False


@functools.cache
def _mirrored(names: tuple[str, ...]):
    """One strategy per device set and process: a second one would reuse the first one's collective-op keys."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(list(names))


@contextlib.contextmanager
def data_parallel(devices: int | str):
    """Build, compile and fit inside this block; yields the number of replicas."""
    import keras

    pool, accelerators = _pool(keras)
    n = (len(pool) if accelerators else 1) if devices == "auto" else devices
    if n > len(pool):
        kind = "accelerators" if accelerators else "logical CPU devices"
        raise PipelineError(f"train.devices: {n} asked, the {keras.backend.backend()} backend sees {len(pool)} "
                            f"{kind}; allowed: auto or 1..{len(pool)}")
    if n == 1:
        yield 1
        return
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with _mirrored(tuple(d.name for d in pool[:n])).scope():
            yield n
        return
    if keras.backend.backend() == "jax":
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=pool[:n]))
        try:
            yield n
        finally:
            keras.distribution.set_distribution(previous)
        return
    raise PipelineError(f"train.devices: data-parallel training needs the tensorflow or jax backend, not "
                        f"{keras.backend.backend()}; set train.devices: 1")


def even_split_replicas() -> int:
    """How many devices every batch is split over evenly: JAX's data-parallel batches must divide by it (a batch
    of 41 over 2 devices is an error there); 1 elsewhere (TensorFlow's strategy splits unevenly)."""
    import keras

    if keras.backend.backend() != "jax":
        return 1
    dist = keras.distribution.distribution()
    return 1 if dist is None else int(dist.device_mesh.shape[0])


def steps_per_call(steps: int) -> int:
    """``steps`` training steps per call into the compiled function, or 1 inside a TensorFlow strategy with
    several replicas, where Keras fails on more (keras-team/keras#19246)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1:
            return 1
    return steps


def full_batches(x: list, y, batch_size: int):
    """Arrays (x, y) padded to a whole number of batches with copies of the first examples, and the sample
    weights (1, or 0 for the copies) that keep the copies out of the gradient."""
    n = len(y)
    missing = -n % batch_size
    weights = np.ones(n + missing, dtype=np.float32)
    weights[n:] = 0.0
    pad = np.arange(missing) % n
    return [np.concatenate([a, a[pad]]) for a in x], np.concatenate([y, y[pad]]), weights
