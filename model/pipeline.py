"""From a data source and a plan to a bundle: the one entry the queue job, the CLI and the benches train
through, for a single architecture and for the blend alike."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model import bundle, recipes
from model.batches import SEED
from model.blend import PARTS
from model.blend_train import BlendOutcome, make_blend_bundle, train_blend
from model.data import EncodedImdb, load_imdb
from model.progress import TrainingProgress
from model.recipes import TrainingPlan
from model.train import TrainOutcome, make_bundle, train


@dataclass
class Trained:
    """A finished (or cancelled) training: the figures reports read, and how to bundle it."""

    outcome: TrainOutcome | BlendOutcome
    data: EncodedImdb | None  # a single model's data (its encoder goes into the bundle); None for a blend
    loaded: str  # what was read, for people: "25,000 training reviews, ..."

    def bundle(self) -> bundle.Bundle | bundle.BlendBundle:
        """The bundle of a run that was not cancelled."""
        if isinstance(self.outcome, BlendOutcome):
            return make_blend_bundle(self.outcome)
        return make_bundle(self.outcome, self.data)


def _loaded(data: EncodedImdb) -> str:
    return (
        f"{len(data.y_train):,} training reviews, {len(data.y_sentences):,} training sentences "
        f"and {len(data.y_test):,} test reviews"
    )


def train_from(
    source: str | Path,
    cache_dir: Path,
    plan: TrainingPlan,
    progress: TrainingProgress | None = None,
    seed: int = SEED,
    verbose: int | str = 0,
    feedback: tuple[list[str], list[int]] | None = None,
) -> Trained:
    """Load the data the plan's architecture reads and train it (a blend loads and trains each part)."""
    if recipes.recipe(plan.arch).parts:
        outcome = train_blend(source, cache_dir, plan, progress, seed, verbose, feedback)
        read = outcome.data.get(PARTS[-1])  # the transformer's data: sentences too
        return Trained(outcome, None, _loaded(read) if read is not None else "")
    if progress is not None:
        progress.stage("loading data")
    data = load_imdb(source, cache_dir, recipes.recipe(plan.arch), plan.sentences)
    if progress is not None:
        progress.stage("training")
    return Trained(train(data, plan, seed, progress, verbose, feedback), data, _loaded(data))
