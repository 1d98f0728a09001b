"""all-MiniLM-L6-v2's sentence embedding in plain numpy, read straight from the checkpoint's tensors.

A second, independent reading of the same weights: the Keras layers in ``model.minilm`` must agree.
"""

from __future__ import annotations

import math

import numpy as np

from model.minilm import LAYER_NORM_EPS, MINILM_L6, BertConfig


def mean_pooled_reference(ids: np.ndarray, weights: dict[str, np.ndarray], config: BertConfig = MINILM_L6):
    """The same embedding in plain numpy, straight from the checkpoint's tensors: a second reading to compare."""
    from math import erf

    def norm(x, prefix):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + LAYER_NORM_EPS) * weights[f"{prefix}.weight"] + weights[f"{prefix}.bias"]

    def dense(x, prefix):
        return x @ weights[f"{prefix}.weight"].T + weights[f"{prefix}.bias"]

    gelu = np.vectorize(lambda v: 0.5 * v * (1.0 + erf(v / math.sqrt(2.0))))
    real = (ids > 0).astype("float32")
    x = (
        weights["embeddings.word_embeddings.weight"][ids]
        + weights["embeddings.position_embeddings.weight"][: ids.shape[1]]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    x = norm(x, "embeddings.LayerNorm")
    heads, size = config.heads, config.hidden // config.heads
    for i in range(config.layers):
        p = f"encoder.layer.{i}"

        def split(t):
            return t.reshape(t.shape[0], t.shape[1], heads, size).transpose(0, 2, 1, 3)

        q, k, v = (split(dense(x, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + (1.0 - real[:, None, None, :]) * -1e9
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        context = context.transpose(0, 2, 1, 3).reshape(x.shape)
        x = norm(x + dense(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        hidden = gelu(dense(x, f"{p}.intermediate.dense")).astype("float32")
        x = norm(x + dense(hidden, f"{p}.output.dense"), f"{p}.output.LayerNorm")
    return (x * real[..., None]).sum(1) / np.maximum(real.sum(1, keepdims=True), 1.0)
