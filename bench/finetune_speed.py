"""The default's fine-tuning step, old and new: examples/s side by side on the real pretrained encoder.

Run: python bench/finetune_speed.py [--data PATH] [--cache DIR] [--batches 40] [--configs old,new]
     python bench/finetune_speed.py --accuracy [--configs old,new]   (a short fine-tune of each, scored)
     python bench/finetune_speed.py --latency [--configs old,new]    (ms to serve one full review)
     python bench/finetune_speed.py --full                            (one full default training, timed)
(PATH defaults to IMDB_DATA, then ../shared/datasets/aclImdb_v1_labeled.tar.gz; the encoded arrays are
cached in DIR, default a folder under the system's temp dir, so a second run skips encoding.)

"old" is the recipe with every speed-up of issue 20 switched off through its own fields (the first
256 pieces of a review, random batches, the word-piece table trained, no XLA, float32); "new" is the
recipe as it is; "old+jit" switches one speed-up on, "new-freeze" one off. The speed run trains the
first ``--batches`` batches of a pass (the pass's shuffled order: a random sample of its batches) with
``train_on_batch``, as ``fit`` would, the configs taking turns batch by batch (the machine is shared: a
job starting beside the bench then slows every config alike), and splits the time into first steps
(tracing, or with XLA compiling, each new shape) and steady steps.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "aclImdb_v1_labeled.tar.gz"
# Every speed-up off: the recipe as it was before issue 20's part 3.
OLD = {
    "maxlen": 256,
    "tail_pieces": 1,
    "length_window": 0,
    "freeze_word_pieces": False,
    "jit_compile": False,
    "mixed_bfloat16": False,
    "frozen_layers": 0,
    "sentence_pieces": 0,
}
# One speed-up on top of the old step (its value in the new recipe, or a candidate's).
SINGLE = {
    "window": {"length_window": 64},
    "freeze": {"freeze_word_pieces": True},
    "lower2": {"frozen_layers": 2},
    "lower3": {"frozen_layers": 3},
    "short32": {"sentence_pieces": 32},
    "short32at64k": {"sentence_pieces": 32, "sentence_sample": 64_000},
    "short32at72k": {"sentence_pieces": 32, "sentence_sample": 72_000},
    "jit": {"jit_compile": True},
    "bf16": {"mixed_bfloat16": True},
    "headtail": {"tail_pieces": 128},
    "128": {"maxlen": 128, "tail_pieces": 64},
}
# A short fine-tune for --accuracy: enough to compare settings, far from the full recipe's figures.
SHORT = {"review_sample": 300, "sentence_sample": 3_000, "epochs": 1, "epochs_per_pass": 1, "test_sample": 1_000}


@functools.cache
def product_recipe():
    """The default's recipe as the code has it, read before :func:`use` replaces it."""
    from model import recipes

    return recipes.RECIPES["minilm"]


def variant(name: str):
    """The recipe a config name stands for: "new", "old", "old+window", "new-jit", "old+window+freeze"..."""
    current = product_recipe()
    base, *changes = name.replace("-", "|-").replace("+", "|+").split("|")
    overrides = dict(OLD) if base == "old" else {}
    if base not in ("old", "new"):
        raise SystemExit(f"a config starts with old or new, not {base!r}")
    for change in changes:
        sign, key = change[0], change[1:]
        if key not in SINGLE:
            raise SystemExit(f"unknown speed-up {key!r}; choose from {', '.join(SINGLE)}")
        if sign == "+":
            overrides |= SINGLE[key]
        else:  # switch the new recipe's speed-up off again
            overrides |= {field: OLD.get(field, getattr(current, field)) for field in SINGLE[key]}
    return dataclasses.replace(current, **overrides)


def use(recipe) -> None:
    """Make ``recipe`` the one ``minilm`` trains with in this process (train.fit and build_minilm read it)."""
    from model import recipes

    recipes.RECIPES["minilm"] = recipe


class Timed:
    """One config's model and batches, and the time its steps took."""

    def __init__(self, name: str, recipe, data_path: str, cache: Path):
        import keras

        from model import architectures, train
        from model.batches import SEED, MixedWidthBatches, sample
        from model.data import load_imdb
        from model.schedule import decay_to_zero

        self.name, self.recipe = name, recipe
        data = load_imdb(data_path, cache, recipe, sentences=True)
        parts = [
            sample(data.x_train, data.y_train, recipe.review_sample),
            sample(*train.sentence_pool(data, recipe), recipe.sentence_sample),  # as the training draws them
        ]
        self.batches = MixedWidthBatches(
            parts, recipe.batch_size, SEED, True, recipe.epochs_per_pass, recipe.length_window
        )
        keras.utils.set_random_seed(SEED)
        self.model = architectures.build_minilm(data.encoder, recipe=recipe)
        decay_to_zero(self.model, len(self.batches) * recipe.epochs)
        self.seen: set[tuple[int, ...]] = set()
        self.first_s = self.steady_s = 0.0
        self.rows = self.steady_rows = self.pieces = self.steady_pieces = self.steps = 0

    def step(self, index: int) -> None:
        """Train batch ``index`` of the pass's first part and time it (a first shape counts as compiling)."""
        x, y = self.batches[index]
        started = time.perf_counter()
        self.model.train_on_batch(x, y)
        took = time.perf_counter() - started
        self.rows, self.pieces, self.steps = self.rows + len(y), self.pieces + x.size, self.steps + 1
        if x.shape in self.seen:
            self.steady_s += took
            self.steady_rows, self.steady_pieces = self.steady_rows + len(y), self.steady_pieces + x.size
        else:
            self.seen.add(x.shape)
            self.first_s += took

    def report(self) -> dict:
        """Rows/s, and one whole pass estimated: its pieces at the steady rate plus the first steps' extra
        time (with XLA, extrapolated to every shape of the pass: each compiles)."""
        shapes = []
        for _ in range(self.batches.epochs_per_pass):
            shapes += [self.batches[i][0].shape for i in range(len(self.batches))]
            self.batches.on_epoch_end()
        per_piece = self.steady_s / max(1, self.steady_pieces)
        extra = max(0.0, self.first_s - per_piece * sum(a * b for a, b in self.seen))
        if self.recipe.jit_compile:
            extra *= len(set(shapes)) / max(1, len(self.seen))
        return {
            "config": self.name,
            "batches": self.steps,
            "rows/s": self.rows / (self.first_s + self.steady_s),
            "steady rows/s": self.steady_rows / max(self.steady_s, 1e-9),
            "pieces/row": self.pieces / self.rows,
            "first steps s": self.first_s,
            "pass est s": per_piece * sum(a * b for a, b in shapes) + extra,
            "pass batches": len(shapes),
            "pass shapes": len(set(shapes)),
        }


def speed(names: list[str], data_path: str, cache: Path, count: int) -> list[dict]:
    """``count`` batches of each config, taken in turns (one batch of each, then the next), so a change in
    what else runs on the machine slows every config alike."""
    runs = [Timed(name, variant(name), data_path, cache) for name in names]
    for index in range(count):
        for run in runs:
            run.step(index)
    return [run.report() for run in runs]


def short_accuracy(name: str, recipe, data_path: str, cache: Path) -> dict:
    """A short fine-tune of ``recipe`` (SHORT's sizes): its seconds, IMDB test sample and short dev accuracy."""
    import keras

    from model import recipes, train
    from model.data import load_imdb

    short = dataclasses.replace(recipe, **SHORT)
    use(short)
    keras.backend.clear_session(free_memory=True)  # the previous config's model and compiled steps
    data = load_imdb(data_path, cache, short, sentences=True)
    started = time.perf_counter()
    outcome = train.train(data, recipes.plan("minilm"))
    return {
        "config": name,
        "seconds": time.perf_counter() - started,
        "imdb": outcome.test_accuracy,
        "n": outcome.test_reviews,
        "short dev": outcome.short_dev_accuracy,
    }


def latency(name: str, recipe, data_path: str, cache: Path, count: int = 100) -> dict:
    """Median ms to serve one full test review alone (model.predict.Predictor, XLA-compiled forward) with
    ``recipe``'s encoder and dtype; the weights are the pretrained ones (the cost does not depend on them)."""
    import keras

    from model import architectures, bundle
    from model.data import load_imdb, read_aclimdb
    from model.evaluation import latency_ms
    from model.predict import Predictor

    keras.backend.clear_session(free_memory=True)
    encoder = load_imdb(data_path, cache, recipe, sentences=True).encoder
    texts = read_aclimdb(data_path).test_texts[::250][:count]  # both labels, every length
    model = architectures.build_minilm(encoder, recipe=recipe)
    served = Predictor(bundle.Bundle(model, encoder, {"version": name, "arch": "minilm"}))
    pieces = sum(len(encoder.analyse(t).ids) for t in texts) / len(texts)
    return {"config": name, "reviews": len(texts), "pieces/review": pieces, "p50 ms": latency_ms(served, texts, count)}


def full(data_path: str, cache: Path) -> None:
    """One full training of the default as it is (loading from the cache, training, testing, calibrating)."""
    from model import recipes, train
    from model.data import load_imdb
    from model.evaluation import interval95

    recipe = recipes.recipe("minilm")
    started = time.perf_counter()
    data = load_imdb(data_path, cache, recipe, sentences=True)
    loaded = time.perf_counter() - started
    outcome = train.train(data, recipes.plan("minilm"), verbose=2)
    wall = time.perf_counter() - started
    low, high = interval95(outcome.test_accuracy, outcome.test_reviews)
    print(f"full default training: {wall:.0f} s wall ({loaded:.0f} s loading the data), seconds {outcome.seconds}")
    print(f"IMDB test {outcome.test_accuracy:.4f} on {outcome.test_reviews:,} reviews (95% {low:.3f}-{high:.3f})")
    print(f"short dev {outcome.short_dev_accuracy:.4f}; history {outcome.history}")


def table(rows: list[dict]) -> None:
    """Rows of dicts as aligned columns."""
    keys = list(rows[0])
    cells = [[f"{r[k]:.1f}" if isinstance(r[k], float) and r[k] > 2 else str(r[k]) for k in keys] for r in rows]
    cells = [
        [f"{float(c):.4f}" if c.replace(".", "").isdigit() and "." in c and float(c) <= 1 else c for c in row]
        for row in cells
    ]
    widths = [max(len(k), *(len(row[i]) for row in cells)) for i, k in enumerate(keys)]
    print("  ".join(k.rjust(w) for k, w in zip(keys, widths, strict=True)))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def main() -> None:
    """Parse the options and run the speed table, the short accuracy table or the full training."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("IMDB_DATA") or str(DEFAULT_DATA))
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "sentibot-finetune-cache")
    parser.add_argument("--batches", type=int, default=40, help="batches timed per config")
    parser.add_argument("--configs", default="old,new", help="comma-separated: old, new, old+jit, new-bf16, ...")
    parser.add_argument("--accuracy", action="store_true", help="short fine-tunes, scored, instead of timing")
    parser.add_argument("--latency", action="store_true", help="ms to serve one full review, instead of timing")
    parser.add_argument("--full", action="store_true", help="one full training of the default, timed and scored")
    args = parser.parse_args()
    print(f"command: python bench/finetune_speed.py {' '.join(sys.argv[1:])}")
    if args.full:
        full(args.data, args.cache)
        return
    names = args.configs.split(",")
    if not args.accuracy and not args.latency:
        table(speed(names, args.data, args.cache, args.batches))
        return
    rows = []
    for name in names:
        measure = latency if args.latency else short_accuracy
        rows.append(measure(name, variant(name), args.data, args.cache))
        print(rows[-1], flush=True)  # each as it comes: a long run can be read while it goes on
    table(rows)


if __name__ == "__main__":
    main()
