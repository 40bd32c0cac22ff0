"""Where and how trials train: thread counts, GPU memory growth, precision, strategy.

`--threads N` caps TensorFlow's intra- and inter-op thread pools (several workers
can then share one machine's cores). GPU memory grows on demand, so several
processes can share a card. `--precision mixed` computes in 16-bit floats on GPUs
(`mixed_bfloat16` where the GPU has bfloat16 tensor cores, compute capability 8.0 and
later; `mixed_float16` before), with the softmax output kept in float32.
`--strategy mirrored` trains each trial data-parallel over the local GPUs (or,
without GPUs, over the logical CPU devices) with `tf.distribute.MirroredStrategy`,
the global batch being the per-replica batch times the number of replicas.
A search leaves Keras' global dtype policy as it found it (`policy_restored`), so a
later search in the same Python process trains in its own precision.
"""

import contextlib

from automl.errors import AutomlError

STRATEGIES = ("default", "mirrored")
PRECISIONS = ("float32", "mixed")
_replaced_policy = None  # (keras, the policy `--precision mixed` replaced)


def set_threads(tf, threads):
    """Cap TensorFlow's thread pools; must run before TensorFlow runs any operation."""
    if not threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already running in this process (an embedding caller's choice)
        pass


def configure(tf, keras, settings):
    """Apply `settings.precision` and GPU memory growth; return the `tf.distribute` strategy."""
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the GPU is already initialised in this process
            pass
    if settings.precision == "mixed":
        if not gpus:
            raise AutomlError("--precision mixed needs a GPU, and none is visible")
        set_policy(keras, mixed_policy(tf, gpus))
    if settings.strategy == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy(devices=[device.name for device in devices])
    return tf.distribute.get_strategy()


def set_policy(keras, policy):
    """Make `policy` Keras' global dtype policy until the end of `policy_restored`."""
    global _replaced_policy
    if _replaced_policy is None:
        _replaced_policy = (keras, keras.mixed_precision.global_policy())
    keras.mixed_precision.set_global_policy(policy)


@contextlib.contextmanager
def policy_restored():
    """Run a block (a search), then give Keras back the global dtype policy `set_policy`
    replaced in it, however the block ends."""
    global _replaced_policy
    try:
        yield
    finally:
        if _replaced_policy is not None:
            keras, policy = _replaced_policy
            _replaced_policy = None
            keras.mixed_precision.set_global_policy(policy)


def mixed_policy(tf, gpus):
    """`mixed_bfloat16` where every GPU has bfloat16 tensor cores, else `mixed_float16`."""
    capabilities = [tf.config.experimental.get_device_details(gpu).get("compute_capability")
                    for gpu in gpus]
    if all(capability and capability >= (8, 0) for capability in capabilities):
        return "mixed_bfloat16"
    return "mixed_float16"
