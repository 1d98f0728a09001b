"""What each architecture reads and how it is trained by default, importable without TensorFlow.

The bot validates `/retrain arch=...` against these names and :meth:`Recipe.resolve` fills in the
defaults wherever a training is planned. Each recipe names its Keras builder (and, if it has one, its
adapter) in `model.architectures`, which has no table of its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from model.encoding import BAG, MAXLEN, NUM_WORDS, SEQUENCE, WORDPIECE, layout_named
from model.errors import UnknownArchitecture

# What a person may ask of a training (`/retrain`, `sentibot train`): one rule for every front end.
LIMITS = {"epochs": (1, 50), "batch_size": (8, 4096)}


@dataclass(frozen=True)
class TrainingPlan:
    """A training's settings with every default filled in: resolved once where it is asked for, then
    passed whole (as one JSON object on the queue) to the job and to :func:`model.train.train`."""

    arch: str
    epochs: int
    batch_size: int
    sentences: bool
    feedback: bool = False  # also train on what users taught the bot with 👍/👎

    def to_dict(self) -> dict:
        """JSON-ready form: the training job's one argument besides who asked."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> TrainingPlan:
        """Inverse of :meth:`to_dict`; an unknown architecture raises UnknownArchitecture, a field of the
        wrong type ValueError (a job written by hand into Redis is not trusted)."""
        names = {f.name for f in fields(cls)}
        if (
            not isinstance(raw, dict)
            or set(raw) - names
            or not {"arch", "epochs", "batch_size", "sentences"} <= set(raw)
        ):
            raise ValueError(f"a training plan has exactly the fields {sorted(names)}")
        recipe(str(raw["arch"]))
        types = {"arch": str, "epochs": int, "batch_size": int, "sentences": bool, "feedback": bool}
        for name, kind in types.items():
            if name in raw and type(raw[name]) is not kind:
                raise ValueError(f"a training plan's {name} must be {kind.__name__}, not {raw[name]!r}")
        if raw["epochs"] < 1 or raw["batch_size"] < 1:
            raise ValueError("a training plan needs at least one epoch and one example a batch")
        return cls(**raw)


@dataclass(frozen=True)
class Recipe:
    """An architecture's encoder settings and training defaults."""

    name: str
    summary: str  # one line for /help, the README and `sentibot train --help`
    num_words: int = NUM_WORDS
    maxlen: int = MAXLEN
    layout: str = SEQUENCE
    buckets: int = 0  # hashed n-gram buckets (bag layout)
    ngrams: int = 2  # longest word run hashed (bag layout)
    epochs: int = 5
    batch_size: int = 128
    sentences: bool = False  # also train on the single sentences of the training reviews
    sentence_width: int = 128  # row width of a sentence example (bag rows of a ≤40-word sentence fit in 128)
    # Big models see a sample of the examples per epoch; 0 = all of them.
    review_sample: int = 0
    sentence_sample: int = 0
    sentence_pieces: int = 0  # sentences sampled only from those of at most this many word pieces (0 = any)
    negation_balanced: bool = False  # sentences with "not"/"n't" drawn as often from each label (model/negation.py)
    neutral_dropped: float = 0.0  # the weakest fraction of sentences by NB strength left out (model/neutral.py)
    epochs_per_pass: int = 1  # a pass over the (sampled) examples is served as this many epochs, each reported
    validation_sample: int = 0  # test reviews validated on after each epoch (0 = all)
    test_sample: int = 0  # test reviews the final test accuracy is measured on (0 = all)
    pretrained: str = ""  # the pretrained encoder it starts from (its package is a dependency)
    decay_to_zero: bool = False  # learning rate: warm up over the first 10% of steps, then fall linearly to 0
    # What makes a fine-tuning step cheap (issue 20, part 3); each is off by default, so the step before it
    # can be rebuilt and measured (bench/finetune_speed.py).
    tail_pieces: int = 1  # word pieces a long text keeps from its end (wordpiece layout; 1 = just its [SEP])
    length_window: int = 0  # rows of this many batches are sorted by length before batching (0 = off)
    freeze_word_pieces: bool = False  # the pretrained word-piece table (11.7 M of 22.7 M weights) is not trained
    frozen_layers: int = 0  # the encoder's lowest blocks kept fixed, with all its embeddings: no backward through them
    jit_compile: bool = False  # the train step is XLA-compiled (once per batch shape)
    mixed_bfloat16: bool = False  # the encoder computes in bfloat16 (its weights stay float32)
    builder: str = ""  # the function in model/architectures.py that builds it; "" = build_<name>
    adapter: str = ""  # the function there that sets weights from the training rows before fitting, if any
    on_gpu: tuple[tuple[str, int], ...] = ()  # fields that change when TensorFlow sees a GPU (model/device.py)
    parts: tuple[str, ...] = ()  # a blend (model/blend.py): the architectures trained and mixed; none for one model
    dev_reviews: int = 0  # a blend: training reviews held out of both parts to choose the mix on

    def __post_init__(self) -> None:
        if not self.builder and not self.parts:  # a blend has no builder of its own: its parts do
            object.__setattr__(self, "builder", f"build_{self.name}")

    def resolve(
        self,
        epochs: int | None = None,
        batch_size: int | None = None,
        sentences: bool | None = None,
        feedback: bool = False,
    ) -> TrainingPlan:
        """What a training will run: each setting given, else this recipe's default."""
        return TrainingPlan(
            arch=self.name,
            epochs=epochs or self.epochs,
            batch_size=batch_size or self.batch_size,
            sentences=self.sentences if sentences is None else sentences,
            feedback=feedback,
        )

    def for_device(self, gpu: bool) -> Recipe:
        """This recipe on the device at hand: with a GPU, its ``on_gpu`` sizes (e.g. all the data, not a sample)."""
        return replace(self, **dict(self.on_gpu)) if gpu and self.on_gpu else self

    def examples(self, sentences: bool) -> str:
        """What one pass reads: "48,000 sentences and 2,000 reviews", "every sentence and every review"."""
        reviews = f"{self.review_sample:,} reviews" if self.review_sample else "every review"
        if not sentences:
            return reviews
        pieces = f"{self.sentence_sample:,} sentences" if self.sentence_sample else "every sentence"
        return f"{pieces} and {reviews}"

    def schedule(self, plan: TrainingPlan, sizes: bool = True) -> str:
        """What a training of ``plan`` runs, said honestly: "5 epochs", or for a pass served in parts,
        "one pass over 48,000 sentences and 2,000 reviews, in 8 parts" (without ``sizes``, which only the
        trainer knows for sure: a GPU reads everything, "one pass, in 8 parts")."""
        if self.epochs_per_pass <= 1:
            return f"{plan.epochs} epoch{'s' if plan.epochs != 1 else ''}"
        passes = -(-plan.epochs // self.epochs_per_pass)
        over = f" over {self.examples(plan.sentences)}" if sizes else ""
        return f"{'one pass' if passes == 1 else f'{passes} passes'}{over}, in {plan.epochs} parts"

    def part_name(self, epoch: int, plan: TrainingPlan) -> str:
        """How a reported epoch is named: "epoch 2/5", or "part 3 of 8 of one pass over 48,000 sentences and
        2,000 reviews" when a pass is served in parts (a part of a pass is not an epoch)."""
        if self.epochs_per_pass <= 1:
            return f"epoch {epoch}/{plan.epochs}"
        per, passes = self.epochs_per_pass, -(-plan.epochs // self.epochs_per_pass)
        which = "one pass" if passes == 1 else f"pass {(epoch - 1) // per + 1} of {passes}"
        over = f" over {self.examples(plan.sentences)}"
        return f"part {(epoch - 1) % per + 1} of {per} of {which}{over}"

    def position(self, epoch: int, plan: TrainingPlan) -> str:
        """Where a run is, briefly: "epoch 2/5", or "part 3 of 8" for a pass served in parts."""
        if self.epochs_per_pass <= 1:
            return f"epoch {epoch}/{plan.epochs}"
        return f"part {(epoch - 1) % self.epochs_per_pass + 1} of {self.epochs_per_pass}"

    def encoder_settings(self) -> dict:
        """Keyword arguments for :class:`model.encoding.TextEncoder` (all but the words and tokenizer)."""
        own = {name: getattr(self, name) for name in layout_named(self.layout).settings}
        return {"num_words": self.num_words, "maxlen": self.maxlen, "layout": self.layout} | own


# What the two bag models share: a wider vocabulary, short training with small batches.
_BAG_MODEL = {"num_words": 50_000, "layout": BAG, "epochs": 2, "batch_size": 64}

_MINILM = Recipe(
    "minilm",
    "all-MiniLM-L6-v2 (pretrained, 6 layers; its word-piece table fixed) fine-tuned → mean of the pieces → "
    "Dense(1); 8 epochs = one pass over 48,000 review sentences + 2,000 reviews (first + last 128 pieces)",
    num_words=30522,
    maxlen=256,  # word pieces read of a review: its first 128 and its last 128 (tail_pieces)
    layout=WORDPIECE,
    epochs=8,  # each an eighth of one pass (~3 minutes here), validated; batch counts every 30 s between
    batch_size=32,
    sentences=True,
    sentence_width=64,
    # Issue 20, part 3: the cheaper step buys more data at about the old step's time. 20,000 + 1,500 gave
    # MiniLM short dev 0.755 / IMDB 0.871 (1,000 test reviews); 48,000 + 2,000: 0.792 / 0.896 (one run each).
    review_sample=2_000,
    sentence_sample=48_000,
    epochs_per_pass=8,
    validation_sample=200,
    test_sample=2_000,
    pretrained="all-MiniLM-L6-v2",
    # One H200 fine-tunes on every sentence (~285,000) and review in about a minute (measured with
    # PyTorch: 73 s, IMDB 0.923): a GPU trains on all the data, validates on 1,000 and tests on all 25,000.
    on_gpu=(("review_sample", 0), ("sentence_sample", 0), ("validation_sample", 1_000), ("test_sample", 0)),
    decay_to_zero=True,  # the usual BERT fine-tuning schedule: the last batches cannot swing the model
    # Issue 20, part 3 (bench/finetune_speed.py): reviews read at both ends; rows sorted by length within
    # windows of 64 batches (44 pieces a row on average instead of 80); the word-piece table kept fixed
    # (short fine-tunes: IMDB 0.824 vs 0.828 trained, n = 1,000; short dev 0.730 vs 0.733). One pass:
    # est. 578 s of steps instead of 1,020. Not switched on: XLA (steps no faster here, and every batch
    # shape compiles first: est. 815 s) and bfloat16 (est. 474 s, but 0.6 and 1.5 points lower in the
    # short fine-tunes).
    tail_pieces=128,
    length_window=64,
    freeze_word_pieces=True,
)
# The default: nbsvm and minilm trained on the same data (less DEV_REVIEWS held out to choose the mix on),
# served as one bundle. Its schedule is minilm's (nbsvm's two epochs take a minute, reported as a stage).
_BLEND = replace(
    _MINILM,
    name="blend",
    summary="nbsvm + minilm in one bundle, their logits mixed by text length (chosen on dev data); "
    "nbsvm decides long reviews alone where it is sure",
    builder="",
    parts=("nbsvm", "minilm"),
    dev_reviews=1_000,  # the long weight and sure threshold are chosen on these: ±1.7 points at 0.92 (±2.4 on 500)
    # Issue 20, part 4: tested on as many reviews as it scores in about a minute (25,000 took 138 s in one
    # process here, MiniLM reading a fifth of them): ±0.5 points at 0.92 instead of ±1.2 on 2,000.
    test_sample=10_000,
    on_gpu=(*_MINILM.on_gpu, ("dev_reviews", 2_000)),
)

RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe("tutorial", "the Keras tutorial: Embedding(10000, 32) → Flatten → Dense(16) → Dense(16) → Dense(1)"),
        Recipe("pooled", "Embedding(10000, 64) → masked average → Dense(16) → Dense(1)"),
        Recipe(
            "fasttext",
            "fastText-style: 50,000 words + 2^20 hashed bigrams → Embedding(·, 8) → average → Dense(1)",
            maxlen=1500,
            buckets=2**20,
            **_BAG_MODEL,
        ),
        Recipe(
            "nbsvm",
            "NBSVM: 50,000 words + 2^22 hashed bigrams and trigrams, each weight scaled by its NB ratio → logistic",
            maxlen=2500,
            buckets=2**22,
            ngrams=3,
            adapter="adapt_nbsvm",  # its NB ratios are counted on the training rows
            **_BAG_MODEL,
        ),
        Recipe(
            "glove",
            "GloVe-initialised Embedding(30000, 50) → masked mean + max and a width-3 convolution → Dense(1)",
            num_words=30_000,
            epochs=2,
            batch_size=64,
            sentences=True,  # measured: +7 points on one-sentence reviews and +2 on IMDB for this model
        ),
        Recipe("lstm", "Embedding(10000, 32) → LSTM(32) → Dense(1), reading the last 250 words", maxlen=250, epochs=2),
        _MINILM,
        _BLEND,
    )
}
ARCHITECTURE_NAMES = tuple(RECIPES)


def recipe(name: str) -> Recipe:
    """The recipe registered under ``name``; raises UnknownArchitecture otherwise."""
    if name not in RECIPES:
        raise UnknownArchitecture(f"Unknown architecture {name!r}; choose one of: {', '.join(ARCHITECTURE_NAMES)}.")
    return RECIPES[name]


def plan(
    arch: str,
    epochs: int | None = None,
    batch_size: int | None = None,
    sentences: bool | None = None,
    feedback: bool = False,
) -> TrainingPlan:
    """The full settings of a training of ``arch``; raises UnknownArchitecture."""
    return recipe(arch).resolve(epochs, batch_size, sentences, feedback)
