"""The one place that reads the device a training runs on: with a GPU, recipes grow to their ``on_gpu`` sizes.

On this project's 2-core CPU machines the default's fine-tune reads a sample (48,000 sentences and
2,000 reviews, ~21 minutes on an idle machine); a GPU reads everything in about the time a CPU needs for the sample's
first part. The bot never imports this (it loads TensorFlow).
"""

from __future__ import annotations

from functools import cache

from model import recipes


@cache
def gpu_available() -> bool:
    """Whether TensorFlow sees at least one GPU (read once per process)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def training_recipe(name: str, gpu: bool | None = None) -> recipes.Recipe:
    """The recipe a training of ``name`` runs here: sized for the GPU when there is one (``gpu`` overrides)."""
    return recipes.recipe(name).for_device(gpu_available() if gpu is None else gpu)
