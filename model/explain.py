"""Why did it say that? Occlusion: how much the score moves when each word is left out.

One extra model row per distinct word, all scored in one call: cheap for chat-length text.
Leaving a word out also drops its bigrams, so for the bag layout a word's effect includes its
phrases ("not" in "not bad"). Long texts are limited to the distinct words the model reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from model.predict import Predictor

MAX_WORDS = 200  # distinct words examined at most


@dataclass(frozen=True)
class WordEffect:
    """A word and how much it pushed P(positive): positive values pushed towards positive."""

    word: str
    effect: float

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def explain(predictor: Predictor, text: str, top: int = 5) -> list[WordEffect]:
    """The ``top`` words with the largest effect, strongest first; deterministic for a given model."""
    encoder = predictor.bundle.encoder
    ids = encoder.read_ids(text)  # the words the model reads
    words = sorted(set(ids) - encoder.special_ids)[:MAX_WORDS]
    if not words:
        return []
    rows = [ids] + [[i for i in ids if i != word] for word in words]
    scores = predictor.scores(encoder.rows(rows))
    effects = [
        WordEffect(encoder.decode([w]), round(float(scores[0] - s), 6)) for w, s in zip(words, scores[1:], strict=True)
    ]
    return sorted(effects, key=lambda e: (-abs(e.effect), e.word))[:top]
