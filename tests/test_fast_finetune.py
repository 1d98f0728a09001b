"""Issue 20, part 3: what makes the default's fine-tuning step cheaper, each switch checked on its own.

Length-sorted windows of batches, head + tail word pieces, the word-piece table kept fixed, an
XLA-compiled step and bfloat16 compute. Models are the tiny configuration of the same encoder
(2 layers, width 32, random weights): seconds each, never the real fine-tune.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from model import architectures, bundle, minilm, pretrained, recipes
from model.batches import MixedWidthBatches, at_most, row_lengths, trimmed
from model.encoding import WORDPIECE, TextEncoder, cut_pieces

TINY = minilm.BertConfig(layers=2, hidden=32, heads=2, intermediate=64, max_positions=512)
OFF = dataclasses.replace(
    recipes.RECIPES["minilm"],
    length_window=0,
    freeze_word_pieces=False,
    frozen_layers=0,
    sentence_pieces=0,
    jit_compile=False,
    mixed_bfloat16=False,
)


def padded_rows(lengths: np.ndarray, width: int, seed: int = 0, first: int = 1000) -> np.ndarray:
    """Rows of ids padded at the end with 0, row i holding lengths[i] ids, the first of them ``first + i``."""
    rng = np.random.default_rng(seed)
    x = np.zeros((len(lengths), width), "int32")
    for row, length in enumerate(lengths):
        x[row, :length] = rng.integers(1, 999, length)
        x[row, 0] = first + row
    return x


def served_pass(batches: MixedWidthBatches) -> list[tuple[np.ndarray, ...]]:
    """Every batch of one pass (all its parts), in order; the next call serves the next pass."""
    out = []
    for _ in range(batches.epochs_per_pass):
        out += [batches[i] for i in range(len(batches))]
        batches.on_epoch_end()
    return out


def tiny(recipe: recipes.Recipe, seed: int = 7):
    """The tiny minilm built with ``recipe``'s switches, from seeded random weights."""
    import keras

    keras.utils.set_random_seed(seed)
    return architectures.build_minilm(architectures.default_encoder("minilm"), TINY, pretrained=False, recipe=recipe)


def test_row_lengths_are_the_last_used_column_plus_one():
    x = np.array([[5, 6, 0, 0], [0, 0, 0, 0], [1, 2, 3, 4], [7, 0, 0, 0]])
    assert row_lengths(x).tolist() == [2, 0, 4, 1]


def test_windowed_batches_pad_less_cover_every_row_once_and_are_seeded():
    """Sorting within windows of 8 batches: each pass (served in 2 parts) still visits every row once, pads
    far fewer pieces than random batches, and keeps its order for a seed, another for another seed."""
    rng = np.random.default_rng(1)
    lengths = np.where(rng.random(960) < 0.9, rng.integers(5, 30, 960), rng.integers(40, 64, 960))  # as sentences
    sentences = (padded_rows(lengths, 64), np.arange(960) % 2)
    reviews = (padded_rows(np.full(40, 200), 256, seed=2, first=5000), np.zeros(40, "int32"))
    parts = [reviews, sentences]

    def made(seed: int = 3, window: int = 8) -> MixedWidthBatches:
        return MixedWidthBatches(parts, 32, seed=seed, trim=True, epochs_per_pass=2, window=window)

    plain, windowed = made(window=0), made()
    assert len(windowed) == len(plain)
    pieces = {}
    for name, batches in (("plain", plain), ("windowed", windowed)):
        for _ in range(2):  # reshuffled each pass, every row once each time
            served = served_pass(batches)
            firsts = sorted(int(i) for x, _ in served for i in x[:, 0])
            assert firsts == list(range(1000, 1960)) + list(range(5000, 5040))
        pieces[name] = sum(x.size for x, _ in served if x[0, 0] < 5000)  # the sentence batches' pieces
    assert pieces["windowed"] < 0.6 * pieces["plain"]
    order = [x.tolist() for x, _ in served_pass(made())]
    assert order == [x.tolist() for x, _ in served_pass(made())]
    assert order != [x.tolist() for x, _ in served_pass(made(seed=4))]


def test_a_window_sorts_rows_by_length_and_labels_stay_with_their_rows():
    """Within a window each batch holds neighbours in length, shortest first, each row with its own label;
    without trim nothing is sorted."""
    lengths = np.random.default_rng(5).integers(1, 64, 64)
    x = padded_rows(lengths, 64)
    y = lengths % 2  # a label the row's length gives away: it must travel with the row
    batches = MixedWidthBatches([(x, y)], 8, seed=1, trim=True, window=8)  # one window: the whole part
    served = sorted((batches[i] for i in range(len(batches))), key=lambda b: row_lengths(b[0]).min())
    spans = [(int(row_lengths(b).min()), int(row_lengths(b).max())) for b, _ in served]
    for batch, labels in served:
        assert (row_lengths(batch) % 2 == labels).all()
        assert list(row_lengths(batch)) == sorted(row_lengths(batch))
    assert all(high <= low for (_, high), (low, _) in itertools.pairwise(spans))  # disjoint ranges
    assert {b.shape[1] for b, _ in served} == {16, 32, 48, 64}  # sorted batches are cut to multiples of 16
    assert MixedWidthBatches([(x, y)], 8, seed=1, trim=False, window=8).window == 0


def test_head_and_tail_cut_keeps_both_ends_and_tail_one_is_the_old_cut():
    ids = list(range(100, 140))  # 40 pieces: [CLS]-like first, [SEP]-like last
    assert cut_pieces(ids, 16, tail=6) == ids[:10] + ids[-6:]
    assert cut_pieces(ids, 16) == [*ids[:15], ids[-1]]  # the rule before head + tail
    assert cut_pieces(ids, 8, tail=6) == ids[:4] + ids[-4:]  # the tail takes at most half a narrower row
    assert cut_pieces(ids[:10], 16, tail=6) == ids[:10]


def test_a_long_review_is_read_at_both_ends_by_training_and_serving_alike():
    """The real tokenizer: a long review's last words are in its row; the setting survives a bundle's config."""
    encoder = TextEncoder(
        words=(), num_words=30522, maxlen=64, layout=WORDPIECE, tokenizer=pretrained.tokenizer_json(), tail_pieces=16
    )
    review = "The opening was slow. " + "Then things happened. " * 60 + "Overall a masterpiece."
    row = encoder.encode([review])[0]
    ending = encoder._index.encode("Overall a masterpiece.").ids[1:-1]
    assert row.shape == (64,) and row[0] == 101 and row[-1] == 102
    assert list(row[-1 - len(ending) : -1]) == ending  # the verdict at the end is read
    assert encoder.analyse(review).ids == row.tolist() and encoder.analyse(review).truncated
    again = TextEncoder.from_config(encoder.to_config())
    assert again.tail_pieces == 16 and again.encode([review]).tolist() == [row.tolist()]
    old = {k: v for k, v in encoder.to_config().items() if k != "tail_pieces"}  # a bundle saved before
    assert TextEncoder.from_config(old).encode([review])[0].tolist() != row.tolist()
    assert recipes.RECIPES["minilm"].encoder_settings()["tail_pieces"] == recipes.RECIPES["minilm"].tail_pieces


def test_a_frozen_word_piece_table_does_not_move_while_the_rest_learns():
    frozen = tiny(dataclasses.replace(OFF, freeze_word_pieces=True))
    trained = tiny(OFF)
    x = padded_rows(np.array([12, 30, 7, 20]), 32)
    y = np.array([1, 0, 1, 0])
    table = frozen.get_layer("minilm").embeddings.words
    before = [np.array(w) for w in frozen.get_weights()]
    frozen.train_on_batch(x, y)
    after = frozen.get_weights()
    moved = [not np.array_equal(b, a) for b, a in zip(before, after, strict=True)]
    table_index = next(i for i, w in enumerate(frozen.weights) if w.path == table.embeddings.path)
    assert not moved[table_index] and sum(moved) == len(moved) - 1
    assert len(frozen.trainable_weights) == len(trained.trainable_weights) - 1
    served = bundle.from_bytes(bundle.to_bytes(bundle.Bundle(frozen, _encoder(), {"version": "frozen"})))
    np.testing.assert_allclose(served.model.predict_on_batch(x), frozen.predict_on_batch(x), atol=1e-6)


def test_frozen_lower_blocks_and_the_embeddings_stay_while_the_blocks_above_learn():
    """frozen_layers=1 of the tiny encoder's 2 blocks: its embeddings (all three tables and their norm)
    and block 0 keep their weights through a step; block 1 and the head move."""
    model = tiny(dataclasses.replace(OFF, frozen_layers=1))
    body = model.get_layer("minilm")
    x = padded_rows(np.array([12, 30, 7, 20]), 32)
    fixed = body.embeddings.weights + body.blocks[0].weights
    learning = body.blocks[1].trainable_weights + model.get_layer("predictions").trainable_weights
    before = {w.path: np.array(w) for w in model.weights}
    model.train_on_batch(x, np.array([1, 0, 1, 0]))
    assert all(np.array_equal(before[w.path], np.array(w)) for w in fixed)
    assert all(not np.array_equal(before[w.path], np.array(w)) for w in learning)
    assert {w.path for w in model.trainable_weights} == {w.path for w in learning}


def test_sentences_are_drawn_only_from_those_as_short_as_the_recipe_asks():
    """sentence_pieces=32: a 33-piece sentence is left out, a 32-piece one kept, labels stay with rows;
    0 keeps every sentence."""
    lengths = np.array([5, 40, 20, 33, 32, 64])
    x, y = padded_rows(lengths, 64), np.array([1, 0, 1, 0, 0, 1])
    short_x, short_y = at_most(x, y, 32)
    assert row_lengths(short_x).tolist() == [5, 20, 32] and short_y.tolist() == [1, 1, 0]
    assert short_x[:, 0].tolist() == [1000, 1002, 1004]  # the same rows, in their order
    assert at_most(x, y, 0)[0] is x


def _encoder() -> TextEncoder:
    return architectures.default_encoder("minilm")


def test_the_compiled_step_learns_what_the_plain_step_learns():
    """Same weights, same batch: the XLA step's loss and new weights match the plain step's."""
    compiled = tiny(dataclasses.replace(OFF, jit_compile=True))
    plain = tiny(OFF)
    assert compiled.jit_compile and not plain.jit_compile
    plain.set_weights(compiled.get_weights())
    for model in (compiled, plain):  # dropout draws differ between the two steps: compare without it
        for block in model.get_layer("minilm").blocks:
            block.dropout.rate = 0.0
    rng = np.random.default_rng(0)
    x = trimmed(padded_rows(rng.integers(3, 40, 8), 64), True)
    y = rng.integers(0, 2, 8)
    fast, slow = compiled.train_on_batch(x, y), plain.train_on_batch(x, y)
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5)
    for a, b in zip(compiled.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_bfloat16_compute_keeps_float32_weights_and_close_scores():
    """The bf16 encoder's matrix products run in bfloat16, its weights stay float32, and its scores are
    within bf16 rounding of the float32 model's."""
    half = tiny(dataclasses.replace(OFF, mixed_bfloat16=True))
    full = tiny(OFF)
    full.set_weights(half.get_weights())
    block = half.get_layer("minilm").blocks[0]
    assert block.query.compute_dtype == "bfloat16" and block.query.kernel.dtype == "float32"
    x = padded_rows(np.array([12, 30, 7, 20]), 32)
    np.testing.assert_allclose(half.predict_on_batch(x), full.predict_on_batch(x), atol=0.02)
    loss = half.train_on_batch(x, np.array([1, 0, 1, 0]))
    assert np.isfinite(loss).all()


SWITCHES = ["length_window", "freeze_word_pieces", "frozen_layers", "sentence_pieces", "negation_balanced"]
SWITCHES += ["neutral_dropped"]
SWITCHES += ["jit_compile", "mixed_bfloat16"]


@pytest.mark.parametrize("field", SWITCHES)
def test_every_speed_up_is_off_unless_a_recipe_asks(field: str):
    """Other architectures keep their step as it was: the defaults switch nothing on."""
    assert not getattr(recipes.Recipe("x", "x"), field)
    assert recipes.Recipe("x", "x").tail_pieces == 1
