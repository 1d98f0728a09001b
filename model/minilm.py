"""all-MiniLM-L6-v2 written as Keras layers, so it can be fine-tuned and saved like any other model here.

The pretrained weights come from the installed package (``model.pretrained``) and are read with
``safetensors`` into numpy, never downloaded.

The encoder is BERT: word + position + segment embeddings, then ``layers`` blocks of multi-head
self-attention and a GELU feed-forward, each followed by a residual LayerNorm (post-norm, as in
BERT). Sentence-transformers' embedding is the mean of the last hidden states over real pieces;
the classifier puts ``Dense(1, sigmoid)`` on that mean.

Given a dtype policy (``mixed_bfloat16``), every sublayer computes with it: matrix products in
bfloat16, while LayerNorm, the attention softmax and the mean over the pieces stay float32.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
from keras import layers, ops

from model.pretrained import weights_path

LAYER_NORM_EPS = 1e-12


@dataclass(frozen=True)
class BertConfig:
    """The encoder's shape; :data:`MINILM_L6` is the pretrained one, tests use a tiny one."""

    vocab_size: int = 30522
    hidden: int = 384
    layers: int = 6
    heads: int = 12
    intermediate: int = 1536
    max_positions: int = 512

    def to_dict(self) -> dict:
        """JSON-ready form (saved in Keras configs and bundle metadata)."""
        return asdict(self)


MINILM_L6 = BertConfig()


def _gelu(x):
    """BERT's exact (erf) GELU, not the tanh approximation."""
    return ops.gelu(x, approximate=False)


@keras.saving.register_keras_serializable(package="sentibot")
class BertEmbeddings(layers.Layer):
    """Word + position + segment-0 embeddings, then LayerNorm."""

    def __init__(self, vocab_size: int, hidden: int, max_positions: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.hidden, self.max_positions = vocab_size, hidden, max_positions
        policy = self.dtype_policy
        self.words = layers.Embedding(vocab_size, hidden, name="word_embeddings", dtype=policy)
        self.positions = layers.Embedding(max_positions, hidden, name="position_embeddings", dtype=policy)
        self.segments = layers.Embedding(2, hidden, name="token_type_embeddings", dtype=policy)
        self.norm = layers.LayerNormalization(epsilon=LAYER_NORM_EPS, name="norm", dtype=policy)

    def build(self, input_shape):
        self.words.build(input_shape)
        self.positions.build(input_shape)
        self.segments.build(input_shape)
        self.norm.build((*input_shape, self.hidden))

    def call(self, ids):
        positions = ops.expand_dims(ops.arange(ops.shape(ids)[1]), 0)
        x = self.words(ids) + self.positions(positions) + self.segments(ops.zeros_like(ids))
        return self.norm(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.hidden)

    def get_config(self) -> dict:
        sizes = {"vocab_size": self.vocab_size, "hidden": self.hidden, "max_positions": self.max_positions}
        return {**super().get_config(), **sizes}


@keras.saving.register_keras_serializable(package="sentibot")
class BertBlock(layers.Layer):
    """Self-attention over real pieces (padding masked out) and a feed-forward, each with residual + LayerNorm."""

    def __init__(self, hidden: int, heads: int, intermediate: int, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.heads, self.intermediate, self.dropout_rate = hidden, heads, intermediate, dropout
        self.head_dim = hidden // heads
        policy = self.dtype_policy
        self.query = layers.Dense(hidden, name="query", dtype=policy)
        self.key = layers.Dense(hidden, name="key", dtype=policy)
        self.value = layers.Dense(hidden, name="value", dtype=policy)
        self.attention_output = layers.Dense(hidden, name="attention_output", dtype=policy)
        self.attention_norm = layers.LayerNormalization(epsilon=LAYER_NORM_EPS, name="attention_norm", dtype=policy)
        self.ffn_in = layers.Dense(intermediate, activation=_gelu, name="intermediate", dtype=policy)
        self.ffn_out = layers.Dense(hidden, name="output", dtype=policy)
        self.output_norm = layers.LayerNormalization(epsilon=LAYER_NORM_EPS, name="output_norm", dtype=policy)
        self.dropout = layers.Dropout(dropout, dtype=policy)

    def build(self, input_shape):
        for dense in (self.query, self.key, self.value, self.attention_output, self.ffn_in):
            dense.build(input_shape)
        self.ffn_out.build((*input_shape[:-1], self.intermediate))
        self.attention_norm.build(input_shape)
        self.output_norm.build(input_shape)

    def _split(self, x):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        return ops.transpose(ops.reshape(x, (batch, length, self.heads, self.head_dim)), (0, 2, 1, 3))

    def call(self, x, mask_bias, training=None):
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(self.head_dim) + mask_bias
        probabilities = ops.cast(ops.softmax(ops.cast(scores, "float32"), axis=-1), self.compute_dtype)
        weights = self.dropout(probabilities, training=training)
        context = ops.transpose(ops.matmul(weights, v), (0, 2, 1, 3))
        context = ops.reshape(context, (ops.shape(x)[0], ops.shape(x)[1], self.hidden))
        x = self.attention_norm(x + self.dropout(self.attention_output(context), training=training))
        return self.output_norm(x + self.dropout(self.ffn_out(self.ffn_in(x)), training=training))

    def compute_output_shape(self, input_shape, *args):
        return input_shape

    def get_config(self) -> dict:
        sizes = {"hidden": self.hidden, "heads": self.heads, "intermediate": self.intermediate}
        return {**super().get_config(), **sizes, "dropout": self.dropout_rate}


@keras.saving.register_keras_serializable(package="sentibot")
class BertEncoder(layers.Layer):
    """Pieces → mean of the last hidden states over real pieces (id > 0): the sentence embedding."""

    def __init__(self, config: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.config = BertConfig(**(config or {}))
        c = self.config
        policy = self.dtype_policy
        self.embeddings = BertEmbeddings(c.vocab_size, c.hidden, c.max_positions, name="embeddings", dtype=policy)
        self.blocks = [
            BertBlock(c.hidden, c.heads, c.intermediate, name=f"layer_{i}", dtype=policy) for i in range(c.layers)
        ]

    def build(self, input_shape):
        self.embeddings.build(input_shape)
        for block in self.blocks:
            block.build((*input_shape, self.config.hidden))

    def call(self, ids, training=None):
        real = ops.cast(ids > 0, self.compute_dtype)
        mask_bias = (1.0 - real[:, None, None, :]) * -1e9
        x = self.embeddings(ids)
        for block in self.blocks:
            x = block(x, mask_bias, training=training)
        weights = ops.expand_dims(ops.cast(real, "float32"), -1)
        x = ops.cast(x, "float32")
        return ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.config.hidden)

    def get_config(self) -> dict:
        return {**super().get_config(), "config": self.config.to_dict()}


def load_pretrained(encoder: BertEncoder, path: Path | None = None) -> None:
    """Copy the checkpoint's weights into ``encoder`` (Dense kernels are the transposed torch weights)."""
    from safetensors.numpy import load_file

    weights = load_file(str(path or weights_path()))

    def put(layer, prefix: str, transpose: bool = True) -> None:
        kernel = weights[f"{prefix}.weight"]
        layer.set_weights([kernel.T if transpose else kernel, weights[f"{prefix}.bias"]])

    e = encoder.embeddings
    e.words.set_weights([weights["embeddings.word_embeddings.weight"]])
    e.positions.set_weights([weights["embeddings.position_embeddings.weight"]])
    e.segments.set_weights([weights["embeddings.token_type_embeddings.weight"]])
    put(e.norm, "embeddings.LayerNorm", transpose=False)
    for i, block in enumerate(encoder.blocks):
        p = f"encoder.layer.{i}"
        put(block.query, f"{p}.attention.self.query")
        put(block.key, f"{p}.attention.self.key")
        put(block.value, f"{p}.attention.self.value")
        put(block.attention_output, f"{p}.attention.output.dense")
        put(block.attention_norm, f"{p}.attention.output.LayerNorm", transpose=False)
        put(block.ffn_in, f"{p}.intermediate.dense")
        put(block.ffn_out, f"{p}.output.dense")
        put(block.output_norm, f"{p}.output.LayerNorm", transpose=False)


def embedding_model(config: BertConfig = MINILM_L6, pretrained: bool = True) -> keras.Model:
    """Pieces → sentence embedding (the reference check and the classifier both start here)."""
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    encoder = BertEncoder(config.to_dict(), name="minilm")
    model = keras.Model(ids, encoder(ids), name="minilm_embeddings")
    if pretrained:
        load_pretrained(encoder)
    return model
