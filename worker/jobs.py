"""The RQ jobs. Plain functions of a :class:`JobContext`, enqueued by name with JSON arguments.

The worker calls them through :mod:`worker.dispatch`, which looks the job's name up in
:data:`JOBS` (never importing what a job names) and passes the context first: the settings the
worker was started with, its model cache and the RQ job. Training progress is written to
``job.meta`` (``stage``, ``epochs``: one dict per finished epoch), where the bot reads it while the
job runs; model/ only sees a :class:`~model.progress.TrainingProgress`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from rq.job import Job

from common.errors import SentibotError
from common.settings import Settings
from model.device import training_recipe
from model.intervals import difference_noise, interval95
from model.progress import EpochReport, TrainingProgress
from model.recipes import TrainingPlan
from worker import feedback as user_feedback
from worker import files, metrics, training
from worker.model_cache import ModelCache
from worker.queues import EXPLAIN_JOB, FILE_JOB, RANK_FEEDBACK_JOB, SCORE_JOB, TRAIN_JOB
from worker.registry import ModelRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """What every job runs with, given by the worker that runs it."""

    settings: Settings
    models: ModelCache
    job: Job
    stopping: threading.Event = field(default_factory=threading.Event)  # set when the worker is shutting down

    @property
    def connection(self) -> redis.Redis:
        return self.job.connection


def score_texts(models: ModelCache, connection: redis.Redis, texts: list[str]) -> list[dict]:
    """Score several reviews in one model call with the live model."""
    predictor = models.get_predictor(connection)
    started = time.perf_counter()
    predictions = predictor.predict(texts)
    ms = round((time.perf_counter() - started) * 1000, 3)
    problem = models.load_problem()
    extra = {"warning": problem} if problem else {}
    return [{**p.to_dict(), "model": predictor.version, "ms": ms, "batch": len(texts), **extra} for p in predictions]


def score_review(context: JobContext, text: str) -> dict:
    """Score one review (the worker batches waiting ones through score_texts)."""
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    result = score_texts(context.models, context.connection, [text])[0]
    metrics.observe_scored([result], [context.job.enqueued_at])
    return result


def explain_review(context: JobContext, text: str, top: int = 5) -> dict:
    """Which words pushed the live model's verdict up or down (occlusion; one model call).

    Returns ``{"label", "score", "model", "words": [{"word", "effect"}, ...]}``, strongest first.
    """
    from model.explain import explain

    if not isinstance(text, str):
        raise TypeError("text must be a string")
    predictor = context.models.get_predictor(context.connection)
    prediction = predictor.predict([text])[0]
    effects = explain(predictor, text, top=top)
    return {
        "label": prediction.label,
        "score": prediction.score,
        "model": predictor.version,
        "words": [effect.to_dict() for effect in effects],
    }


def rank_feedback(context: JobContext, top: int = 5) -> dict:
    """The stored feedback items the live model disagrees with most (for an admin's /feedback)."""
    from worker.feedback_use import most_disagreeing

    stored = user_feedback.items(context.connection)
    predictor = context.models.get_predictor(context.connection)
    scores = [p.score for p in predictor.predict([item.text for item in stored])] if stored else []
    return {"model": predictor.version, "items": most_disagreeing(stored, scores, top)}


def quality_gate(
    accuracy: float,
    live: dict | None,
    min_accuracy: float,
    max_drop: float,
    short_dev: float | None = None,
    test_reviews: int = 0,
) -> tuple[bool, str]:
    """Whether a new model may go live, and why (not): IMDB test accuracy above the threshold and not
    more than ``max_drop`` below the live model's, and the same for the short dev split when both have it.
    When both test figures say on how many reviews they were measured, the reason also says whether the
    difference is inside their noise (the gate cannot tell models apart there)."""
    if accuracy < min_accuracy:
        return False, f"test accuracy {accuracy:.2%} is below the {min_accuracy:.0%} threshold"
    live_accuracy = (live or {}).get("test_accuracy")
    noise = _noise(accuracy, test_reviews, live_accuracy, (live or {}).get("test_reviews") or 0)
    if live_accuracy is not None and accuracy < live_accuracy - max_drop:
        return False, (
            f"test accuracy {accuracy:.2%} is more than {max_drop:.0%} below the live model's "
            f"{live_accuracy:.2%}{noise}"
        )
    live_short = (live or {}).get("short_dev_accuracy")
    if short_dev is not None and live_short is not None and short_dev < live_short - max_drop:
        return False, (
            f"accuracy on one-sentence reviews {short_dev:.2%} is more than {max_drop:.0%} below "
            f"the live model's {live_short:.2%}"
        )
    if live_accuracy is None:
        return True, "first model: it passed the threshold"
    return True, f"test accuracy {accuracy:.2%} passed the gate (live model: {live_accuracy:.2%}){noise}"


def _noise(accuracy: float, reviews: int, live_accuracy: float | None, live_reviews: int) -> str:
    """The clause saying the difference is inside the noise of the two samples, when it is; else nothing."""
    if live_accuracy is None or not reviews or not live_reviews:
        return ""
    if abs(accuracy - live_accuracy) >= difference_noise(accuracy, reviews, live_accuracy, live_reviews):
        return ""
    return f"; the difference is inside the noise of {reviews:,} and {live_reviews:,} test reviews"


class MetaProgress(TrainingProgress):
    """Writes stage and per-epoch reports into job.meta for the bot to read; stops on /cancel or shutdown.

    Also where the fit is ("position": "part 3 of 8") and how long it has left at the pace measured so far
    ("eta": seconds left when written, and the time it was written), for "about 9 minutes left".
    """

    def __init__(self, context: JobContext, plan: TrainingPlan) -> None:
        self.context = context
        self.plan = plan
        self.recipe = training_recipe(plan.arch)
        self.job = context.job
        self.began = time.monotonic()  # when the current epoch began (or, before the fit, the last stage)
        self.job.meta.update({"stage": "starting", "epochs": []})
        self.job.save_meta()

    def stage(self, name: str) -> None:
        """A step of the run; "training" is the reported fit beginning (a blend's first part is other stages)."""
        self.began = time.monotonic()
        self.job.meta["stage"] = name
        self.job.meta["fitting"] = name == "training"
        if name == "training":
            self.job.meta["position"] = self.recipe.position(len(self.job.meta["epochs"]) + 1, self.plan)
            self.job.meta.pop("eta", None)
        self.job.save_meta()

    def _left(self, seconds: float, epoch: int) -> None:
        self.job.meta["fitting"] = True
        self.job.meta["position"] = self.recipe.position(epoch, self.plan)
        self.job.meta["eta"] = {"seconds": round(seconds, 1), "at": time.time()}

    def batch(self, epoch: int, done: int, batches: int) -> None:
        """A long epoch's partial progress (every half minute), so chat moves at least once a minute."""
        per_batch = (time.monotonic() - self.began) / max(1, done)
        self._left(per_batch * (batches - done + (self.plan.epochs - epoch) * batches), epoch)
        self.job.meta["stage"] = f"epoch {epoch}: {done}/{batches} batches"
        self.job.save_meta()

    def epoch(self, report: EpochReport) -> None:
        """The report, named honestly ("part 3 of 8 of one pass over ...") with what it was validated on."""
        self.began = time.monotonic()
        name = self.recipe.part_name(report.epoch, self.plan)
        validated_on = self.recipe.validation_sample or None  # None: the whole test split
        self.job.meta["epochs"].append({**report.to_dict(), "name": name, "validated_on": validated_on})
        per_epoch = sum(e["seconds"] for e in self.job.meta["epochs"]) / len(self.job.meta["epochs"])
        self._left(per_epoch * (self.plan.epochs - report.epoch), min(report.epoch + 1, self.plan.epochs))
        self.job.meta["stage"] = f"{name} done"
        self.job.save_meta()

    def should_stop(self) -> bool:
        return self.context.stopping.is_set() or training.cancel_requested(self.context.connection, self.job.id)


def train_model(context: JobContext, plan: dict, requested_by: str | None = None) -> dict:
    """Train ``plan`` (a :class:`~model.recipes.TrainingPlan` as JSON) on the full IMDB data, store the
    bundle, promote it if it passes the quality gate.

    ``plan.feedback`` adds what users taught the bot (👍/👎), reported separately: the gate never reads it.
    The chart goes to its own key (:func:`worker.training.save_chart`), not into the result. A first
    start's training then takes the first start's next step (:func:`worker.health.first_training`): after
    the fast first model, the default trains in the background.

    Returns ``{"status": "promoted"|"stored"|"cancelled", "version", "arch", "test_accuracy",
    "history", "epochs", "reason", "params", "seconds"}``.
    """
    from worker import health

    try:
        result = _train(context, plan, requested_by)
    finally:
        training.release(context.connection, context.job.id)
    ended = result["status"] in ("promoted", "stored")
    if requested_by == health.FIRST_START_DEFAULT and ended:
        health.mark_default_tried(context.connection)
    elif requested_by == health.FIRST_START and ended and not context.stopping.is_set():
        health.first_training(context.connection, context.settings)
    return result


def _train(context: JobContext, plan: dict, requested_by: str | None) -> dict:
    from model import bundle
    from model.chart import history_chart
    from model.pipeline import train_from

    job, connection, settings = context.job, context.connection, context.settings
    chosen = TrainingPlan.from_dict(plan)
    progress = MetaProgress(context, chosen)
    started = time.perf_counter()
    taught = user_feedback.examples(connection) if chosen.feedback else None
    trained = train_from(settings.imdb_data, settings.cache_dir, chosen, progress, feedback=taught)
    outcome = trained.outcome
    result = {
        "arch": chosen.arch,
        "history": outcome.history,
        "epochs": job.meta["epochs"],
        "epochs_requested": chosen.epochs,
        "params": outcome.params,
        "requested_by": requested_by,
        "feedback": outcome.feedback or ({"examples": 0} if chosen.feedback else None),
    }
    if outcome.cancelled:
        done = len(outcome.history.get("accuracy", []))
        why = "interrupted by shutdown of the training worker" if context.stopping.is_set() else "cancelled"
        return {**result, "status": "cancelled", "reason": f"{why} after {done} of {chosen.epochs} epochs"}
    progress.stage("saving")
    made = trained.bundle()
    registry = ModelRegistry(connection)
    live = registry.current_meta()
    registry.add(bundle.to_bytes(made))
    promote, reason = quality_gate(
        outcome.test_accuracy,
        live,
        settings.min_accuracy,
        settings.max_accuracy_drop,
        outcome.short_dev_accuracy,
        outcome.test_reviews,
    )
    if promote:
        registry.promote(made.version)
    chart = history_chart(outcome.history, title=f"{chosen.arch} · {made.version}")
    training.save_chart(connection, job.id, chart)
    return {
        **result,
        "status": "promoted" if promote else "stored",
        "version": made.version,
        "test_accuracy": outcome.test_accuracy,
        "test_reviews": outcome.test_reviews,
        "test_interval": interval95(outcome.test_accuracy, outcome.test_reviews),
        "short_dev_accuracy": outcome.short_dev_accuracy,
        **{key: made.meta[key] for key in ("parts", "part_summaries", "rule", "minilm_share") if key in made.meta},
        "reason": reason,
        "seconds": round(time.perf_counter() - started, 1),
    }


class FileInterrupted(SentibotError):
    """The file worker is shutting down: the file is left for another worker."""


PROGRESS_EVERY_S = 0.5  # a file's progress is written to job.meta at most this often (and at each stage)


class _FileProgress:
    """A file job's progress in ``job.meta["file"]``: stage, rows done and total, rows/s; read by the bot."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.saved = 0.0
        self.job.meta["file"] = {"stage": "reading", "done": 0, "total": 0, "rate": 0.0}
        self.job.save_meta()

    def update(self, force: bool = False, **fields: object) -> None:
        self.job.meta["file"].update(fields)
        if force or time.monotonic() - self.saved >= PROGRESS_EVERY_S:
            self.job.save_meta()
            self.saved = time.monotonic()


def score_file(context: JobContext, file_id: str) -> dict:
    """Read an upload (worker/files.py), score its rows in length-sorted batches sized for the live model,
    publishing progress; store the result CSV and histogram."""
    from model.chart import score_histogram

    started = time.perf_counter()
    job, connection = context.job, context.connection
    progress = _FileProgress(job)
    name, data = files.load_upload(connection, file_id)
    reviews = files.read_reviews(name, data, context.settings.max_file_rows)
    del data
    rows = [i for i, text in enumerate(reviews.texts) if text]
    predictor = context.models.get_predictor(connection)
    progress.update(force=True, stage="scoring", total=len(rows))

    def scored(done: int, seconds: float) -> None:
        if context.stopping.is_set():  # SIGTERM: stop at this batch; RQ's retry puts the file back on its queue
            raise FileInterrupted("The worker scoring that file was stopped; send it again if no results come.")
        progress.update(done=done, rate=round(done / max(seconds, 1e-6), 1))

    scoring = time.perf_counter()
    predictions = predictor.predict_many([reviews.texts[i] for i in rows], on_batch=scored)
    rate = round(len(rows) / max(time.perf_counter() - scoring, 1e-6), 1)
    progress.update(force=True, stage="writing", done=len(rows), rate=rate)
    verdicts: list[dict | None] = [None] * len(reviews.texts)
    for row, prediction in zip(rows, predictions, strict=True):
        verdicts[row] = {"label": prediction.label, "score": prediction.score}
        metrics.REVIEWS_SCORED.labels(prediction.label).inc()
    scores = [p.score for p in predictions]
    positive = sum(1 for p in predictions if p.label == "positive")
    histogram = score_histogram(scores, f"{len(scores):,} reviews · model {predictor.version}")
    files.save_results(connection, file_id, files.results_csv(reviews, verdicts), histogram)
    files.drop_upload(connection, file_id)
    metrics.FILES_SCORED.inc()
    return {
        "file_id": file_id,
        "rows": len(reviews.texts),
        "scored": len(rows),
        "positive": positive,
        "skipped": reviews.skipped,
        "model": predictor.version,
        "seconds": round(time.perf_counter() - started, 3),
        "rows_per_s": rate,
    }


JOBS: dict[str, Callable[..., dict]] = {
    SCORE_JOB: score_review,
    EXPLAIN_JOB: explain_review,
    TRAIN_JOB: train_model,
    FILE_JOB: score_file,
    RANK_FEEDBACK_JOB: rank_feedback,
}
"""The only functions a sentibot worker runs, by the names worker/queues.py gives them."""
