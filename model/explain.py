"""Why did it say that? Occlusion: how much the score moves when each word is left out.

One extra model row per distinct word, all scored in one call: cheap for chat-length text.
Leaving a word out also drops its bigrams, so for the bag layout a word's effect includes its
phrases ("not" in "not bad"). Long texts are limited to the distinct words the model reads.
A blend's parts read different ids (words and phrases, word pieces), so for it a word is left out of
the text itself and each variant is scored by the blend as a whole.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from model.encoding import TextEncoder, tokenize
from model.predict import AnyPredictor, BlendPredictor

MAX_WORDS = 200  # distinct words examined at most: one cheap model row each for the bag and sequence models
MAX_WORDS_TRANSFORMER = 48  # the transformer's rows are 256 pieces through 6 layers: 49 rows cost ~0.3 s


def word_budget(encoder: TextEncoder) -> int:
    """How many words one Why? may leave out in turn: its cost is one model row per word, and a row of
    word pieces (rows padded to the batch's longest, read by the transformer) costs far more."""
    return MAX_WORDS_TRANSFORMER if encoder.pads_to_longest else MAX_WORDS


@dataclass(frozen=True)
class WordEffect:
    """A word and how much it pushed P(positive): positive values pushed towards positive."""

    word: str
    effect: float

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def explain(predictor: AnyPredictor, text: str, top: int = 5) -> list[WordEffect]:
    """The ``top`` words with the largest effect, strongest first; deterministic for a given model."""
    if isinstance(predictor, BlendPredictor):
        return _explain_text(predictor, text, top)
    encoder = predictor.bundle.encoder
    ids = encoder.read_ids(text)  # the words the model reads
    words = sorted(set(ids) - encoder.special_ids)[: word_budget(encoder)]
    if not words:
        return []
    rows = [ids] + [[i for i in ids if i != word] for word in words]
    scores = predictor.scores(encoder.rows(rows))
    effects = [
        WordEffect(encoder.decode([w]), round(float(scores[0] - s), 6)) for w, s in zip(words, scores[1:], strict=True)
    ]
    return sorted(effects, key=lambda e: (-abs(e.effect), e.word))[:top]


def without(text: str, word: str) -> str:
    """``text`` with every occurrence of ``word`` (a lowercase token) taken out, whatever its case."""
    return re.sub(rf"(?<![^\W_]){re.escape(word)}(?![^\W_]|'[^\W_])", " ", text, flags=re.IGNORECASE)


def _explain_text(predictor: BlendPredictor, text: str, top: int) -> list[WordEffect]:
    """Occlusion on the text: one variant without each distinct word, all scored by the blend at once."""
    words = sorted(set(tokenize(text)))[:MAX_WORDS_TRANSFORMER]  # MiniLM may read every variant
    if not words:
        return []
    scores = predictor.text_scores([text, *(without(text, word) for word in words)])
    effects = [WordEffect(w, round(float(scores[0] - s), 6)) for w, s in zip(words, scores[1:], strict=True)]
    return sorted(effects, key=lambda e: (-abs(e.effect), e.word))[:top]
