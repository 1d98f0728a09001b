"""The text encoder: Keras's id conventions, 'pre' padding, and robustness to any text."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from model.encoding import MAXLEN, OOV, PAD, START, TextEncoder, build_vocabulary, tokenize
from model.rows import pad_pre

ENCODER = TextEncoder(words=("the", "movie", "good", "don't"), num_words=8, maxlen=10)


def test_tokenize_lowercases_splits_breaks_and_drops_punctuation():
    """HTML breaks are spaces, punctuation goes, apostrophes inside words stay."""
    assert tokenize("Great film!<br /><br />I DON'T regret it, 'really'.") == [
        "great",
        "film",
        "i",
        "don't",
        "regret",
        "it",
        "really",
    ]


def test_vocabulary_ranks_by_frequency_then_alphabetically():
    """Rank 1 is the most frequent word; ties are broken alphabetically so builds are reproducible."""
    assert build_vocabulary([["b", "a", "c"], ["c", "a"], ["c"]], num_words=100) == ["c", "a", "b"]


def test_vocabulary_keeps_only_words_that_get_an_id_below_num_words():
    """With num_words=8, ids 4..7 exist, so only four words are kept."""
    assert len(build_vocabulary([[f"w{i}" for i in range(50)]], num_words=8)) == 4


def test_ids_follow_keras_imdb_conventions():
    """1 starts the review, rank r becomes r + 3, unknown words become 2."""
    assert ENCODER.ids("The movie was good") == [START, 4, 5, OOV, 6]


def test_words_ranked_at_or_past_num_words_are_unknown():
    """A word whose id would reach num_words is OOV, like load_data(num_words=...)."""
    encoder = TextEncoder(words=("a", "b", "c", "d", "e"), num_words=8)
    assert encoder.ids("d e") == [START, 7, OOV]


def test_padding_matches_keras_pad_sequences_defaults():
    """Short sequences are padded at the front, long ones lose their beginning, exactly like Keras."""
    import keras

    sequences = [[1, 2, 3], list(range(1, 30)), [], [5]]
    expected = keras.utils.pad_sequences(sequences, maxlen=10)
    np.testing.assert_array_equal(pad_pre(sequences, 10), expected)


def test_encode_pads_at_the_front():
    """A short text ends at the last position; the front is padding."""
    row = ENCODER.encode(["good movie"])[0]
    assert list(row) == [PAD] * 7 + [START, 6, 5]


def test_long_text_keeps_its_last_words_and_is_marked_truncated():
    """The model reads the last maxlen ids, as in training."""
    analysed = TextEncoder(words=("the",), maxlen=MAXLEN).analyse("the " * 600)
    assert analysed.truncated
    assert not ENCODER.analyse("good").truncated


def test_decode_shows_markers_for_padding_start_and_unknown():
    """Decoding mirrors the tutorial's reverse word index, with distinct markers."""
    assert ENCODER.decode([0, 1, 4, 2, 6]) == "<pad> <start> the <unk> good"


def test_analyse_counts_known_words():
    """Known words are those in the vocabulary; a reply can say when there are none."""
    analysed = ENCODER.analyse("good zzz qqq")
    assert (analysed.words, analysed.known) == (3, 1)
    assert ENCODER.analyse("!!! ...").words == 0


def test_config_round_trip():
    """The encoder saved in a bundle is the same encoder."""
    assert TextEncoder.from_config(ENCODER.to_config()) == ENCODER


def test_training_and_serving_encode_a_review_identically(imdb_dir, tiny_data):
    """The ids a training review got are the ids the serving path gives the same raw text."""
    from model.data import read_aclimdb

    raw = read_aclimdb(imdb_dir)
    for i in (0, 17, len(raw.test_texts) - 1):
        served = tiny_data.encoder.encode([raw.test_texts[i]])[0]
        np.testing.assert_array_equal(served, tiny_data.x_test[i])


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_any_text_encodes_without_error(text):
    """Arbitrary unicode (emoji, other scripts, control characters, NUL) always encodes to valid ids."""
    row = ENCODER.encode([text])[0]
    assert row.shape == (10,)
    assert row.min() >= 0 and row.max() < ENCODER.num_words


def test_hostile_inputs_encode():
    """Empty, punctuation only, 1 MB, emoji, other scripts and NUL bytes all encode."""
    for text in ["", "?!...", "x" * 1_000_000, "good " * 200_000, "😀👍", "очень хорошо 映画", "a\x00b\x07\x1b[31m"]:
        row = ENCODER.encode([text])[0]
        assert row.shape == (10,) and row[-1] >= START


# --- The bag layout (fastText-style: distinct words plus hashed bigrams) --------------------------

BAG = TextEncoder(words=("the", "movie", "good", "not", "bad"), num_words=16, maxlen=12, layout="bag", buckets=64)


def test_bag_row_holds_distinct_words_then_bigram_buckets_then_padding():
    """Sorted distinct ids at the front, bigrams as num_words + bucket, zeros after."""
    row = BAG.encode(["not bad"])[0]
    features = [int(i) for i in row if i]
    assert features == sorted(set(features))
    assert [i for i in features if i < 16] == [START, 7, 8]  # start, "not", "bad"
    assert len([i for i in features if i >= 16]) == 2  # (start, not) and (not, bad)
    assert all(16 <= i < 16 + 64 for i in features if i >= 16)
    assert not row[len(features) :].any()


def test_bag_is_order_free_for_words_but_bigrams_keep_phrases():
    """'not bad' and 'bad not' share their words but not their bigrams."""
    a, b = BAG.encode(["not bad", "bad not"])
    assert set(a[a < 16]) == set(b[b < 16])
    assert set(a[a >= 16]) != set(b[b >= 16])


def test_ngram_buckets_are_fixed_arithmetic():
    """Hashing is fixed arithmetic (not Python's salted hash), so training, serving and every machine agree."""
    from model.rows import ngram_buckets

    ids = np.array([1, 7, 8, 4, 5])
    assert list(ngram_buckets(ids, 2, 1 << 20)) == [476304, 948197, 771246, 780943]  # pinned: bundles depend on it
    assert len(ngram_buckets(ids, 3, 1 << 20)) == 3 and len(ngram_buckets(ids[:2], 3, 64)) == 0
    assert all(0 <= b < 64 for b in ngram_buckets(np.arange(1000), 2, 64))


def test_trigrams_add_their_own_features():
    """With ngrams=3 a three-word phrase adds one more feature than its two bigrams."""
    trigram = TextEncoder(words=BAG.words, num_words=16, maxlen=12, layout="bag", buckets=1 << 20, ngrams=3)
    bigram = TextEncoder(words=BAG.words, num_words=16, maxlen=12, layout="bag", buckets=1 << 20)
    assert (trigram.encode(["not bad"])[0] > 0).sum() == (bigram.encode(["not bad"])[0] > 0).sum() + 1


def test_bag_marks_truncation_when_the_row_is_full():
    """More distinct features than maxlen: the reply can say only part was read."""
    long_text = " ".join(["the movie good not bad"] * 3 + [f"w{i}" for i in range(20)])
    assert BAG.analyse(long_text).truncated
    assert not BAG.analyse("good movie").truncated


def test_bag_config_round_trip_and_old_configs_are_sequences():
    """Bundles from before layouts existed load as the sequence layout."""
    assert TextEncoder.from_config(BAG.to_config()) == BAG
    old = {"num_words": 8, "maxlen": 10, "words": ["the"]}
    assert TextEncoder.from_config(old).layout == "sequence"


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_any_text_encodes_in_the_bag_layout(text):
    """Every id is below the embedding's size."""
    row = BAG.encode([text])[0]
    assert row.shape == (12,) and row.min() >= 0 and row.max() < BAG.input_dim
