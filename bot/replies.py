"""Every text the bot (and the terminal chat) shows: pure functions from results to words."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from model.recipes import recipe
from worker.feedback_use import MAX_USER_SHARE, MIN_PER_USER
from worker.queues import MAX_TEXT_CHARS
from worker.training import FIRST_START_DEFAULT

if TYPE_CHECKING:
    from model.recipes import TrainingPlan

HELP = (
    "I tell you whether a movie review is positive or negative.\n\n"
    'Just send me a review as a text message, e.g. "A touching story with superb acting." '
    "Tap Why? under a verdict to see which words decided it. Send a .txt (one review per line) or .csv "
    "file to score every row at once. In any chat, type my @username and a review: I answer with its verdict, "
    "ready to send.\n\n"
    "Tap 👍 or 👎 under a verdict to tell me whether I got it right: that stores the review and the right "
    "label (not your name or id, only a keyed hash of it) to improve the model. /forget deletes "
    "everything of yours I hold: ratings, reviews kept for their buttons, their verdicts.\n\n"
    "Commands:\n"
    "/help – this message\n"
    "/model – the live model: version, architecture, test accuracy, training date\n"
    "/status – queues, workers and any training in progress\n"
    "/retrain [arch=NAME] [epochs=N] [batch_size=N] [sentences=yes|no] [feedback=yes|no] – train a new model "
    "(admins; feedback=yes adds what users taught with 👍/👎; the minilm and blend epochs are parts of one pass)\n"
    "/cancel – stop the running training (admins)\n"
    "/forget – delete every review you rated with 👍/👎\n"
    "/feedback – what users taught the model so far (admins)"
)
COMMANDS = [
    ("help", "How to use the bot"),
    ("model", "The live model"),
    ("status", "Queues, workers, training"),
    ("retrain", "Train a new model (admins)"),
    ("cancel", "Stop the running training (admins)"),
    ("forget", "Delete the reviews you rated"),
    ("feedback", "What users taught the model (admins)"),
]
QUEUE_SLOW = "the queue did not take the review in time; please try again in a moment."
NOT_TEXT = "I can only score text. Send me the review as a text message."
NO_WORDS = "There are no words in that message for me to judge. Send me a review in words."
BAR_WIDTH = 20
TOO_LONG = f"That is too long for me: please send at most {MAX_TEXT_CHARS:,} characters."
NOT_SCORED = "I couldn't score that: {why}"
NOT_EXPLAINED = "I couldn't explain that verdict: {why}"
NOT_STORED = "I couldn't store that: {why}"
NOT_FORGOTTEN = "I couldn't forget you just now: {why}"
HISTOGRAM_CAPTION = "How the scores spread (P(positive))"
CHART_CAPTION = "Accuracy and loss per epoch"
WHY_BUTTON = "Why?"
RATE_BUTTONS = ("👍", "👎")
MIXED_BUTTONS = ("It's positive", "It's negative")
NO_TRAINING = "No training is running."
TRAINING_BUSY = "{busy} Use /cancel to stop it."
CANCEL_BUTTONS = ("Yes, stop it", "No, keep going")
CANCEL_ONLY_ADMINS = "Only the bot's admins can cancel a training."
CANCEL_KEPT = "OK, the training goes on."
CANCEL_GONE = "That training is no longer running."
CANCELLING = "Cancelling {job_id}: it stops after the current batch."
# The terminal chat (`sentibot up` without a token, `sentibot chat`) has a few lines of its own.
TERMINAL_HELP = HELP + "\n/why REVIEW – the words that decided a review's verdict\n/quit – leave"
TERMINAL_CANCEL = "Stop training {job_id}? [y/N] "
TERMINAL_CANCELLING = "Cancelling: it stops after the current batch."
WHY_USAGE = "Type /why followed by a review, and I'll list the words that decided its verdict."
CHART_SAVED = "Chart saved to {path}"


FEEDBACK_THANKS = "Thanks! I'll learn from that."
FEEDBACK_AGAIN = "Noted (you had rated this one already)."
FEEDBACK_UNKNOWN = "That button doesn't work any more: send the review again and rate the new verdict."
FEEDBACK_NOT_YOURS = "Only the person who sent that review can rate it."
FEEDBACK_EXPIRED = "I no longer have that review (I keep them for a day), so I couldn't store your rating."
WHY_EXPIRED = "I no longer have that review (I keep them for a day). Send it again and tap Why? under the new verdict."


def greeting() -> str:
    """/start's answer."""
    return "Hi! " + HELP


def admins_only(action: str) -> str:
    """A non-admin asked for something only admins may do."""
    return f"Sorry, only the bot's admins can {action}."


def slow_down(per_minute: int, retry_after_s: int) -> str:
    """Past the per-user rate limit."""
    return f"Slow down a little: at most {per_minute} reviews a minute. Try again in {retry_after_s} s."


def slow_down_short(retry_after_s: int) -> str:
    """Past the rate limit, in a button's short answer."""
    return f"Slow down a little: try again in {retry_after_s} s."


def unknown_command(command: str, verb: str = "Send") -> str:
    """A command the bot does not have (long ones cut); the terminal says "Type"."""
    shown = command if len(command) <= 32 else command[:31] + "…"
    return f"I don't know {shown}. {verb} /help to see what I can do."


def cancel_question(job_id: str, requested_by: str | None, summary: str) -> str:
    """/cancel asks before it stops a training (who started it only when ``requested_by`` is given)."""
    who = f" by {requested_by}" if requested_by else ""
    return f"Stop training {job_id}{who} ({summary})?"


def explanation(result: dict) -> str:
    """The words that moved the verdict, as signed percentage points of P(positive)."""
    words = result.get("words") or []
    if not words:
        return "None of those words are in my vocabulary, so no single word decided it."
    lines = [f"Why {result['label']} ({result['score']:.0%} positive)? Words that moved the score most:"]
    for item in words:
        direction = "towards positive" if item["effect"] > 0 else "towards negative"
        lines.append(f"• {item['word']}: {item['effect'] * 100:+.1f} points {direction}")
    lines.append("(How much the score changes when that word is left out.)")
    return "\n".join(lines)


def training_queued(job_id: str, plan: TrainingPlan) -> str:
    """What was queued, with every setting spelled out (defaults come from the architecture)."""
    extra = ", plus single-sentence examples" if plan.sentences else ""
    extra += ", plus users' feedback" if plan.feedback else ""
    schedule = recipe(plan.arch).schedule(plan, sizes=False)  # the trainer's device decides the sizes
    return f"Training queued as {job_id}: {plan.arch}, {schedule}, batch {plan.batch_size}{extra}."


def training_where(training: dict, now: float | None = None) -> str:
    """Where a running training is, for people: "part 3 of 8, about 9 min left" while it fits (the time left
    at the pace measured so far), else its stage ("loading data", "testing the blend on 2,000 test reviews")."""
    progress = training.get("progress") or {}
    eta, position = progress.get("eta"), progress.get("position")
    if not (progress.get("fitting") and position):
        return training.get("summary") or progress.get("stage") or "starting"
    if not eta:
        return position  # the fit has just begun: no pace measured yet
    left = eta["seconds"] - ((time.time() if now is None else now) - eta["at"])
    return f"{position}, about {duration(left)} left" if left >= 60 else f"{position}, less than a minute left"


def model_in_training(training: dict, first: bool) -> str:
    """No model is live, but one is being trained (``first``: by the first start): say how far it has got."""
    which = "the first model" if first else "a model"
    return f"No model is live yet: {which} is training ({training_where(training)}). Try again in a little while."


def better_model(training: dict | None) -> str:
    """The line /model, /status and the terminal add while the first start's default trains in the background."""
    return f"A better model is training: {training_where(training)}." if training else ""


def file_progress(done: int, total: int, rate: float = 0.0) -> str:
    """The one progress message of a file, edited as batches finish: rows, bar, rate and time left."""
    lines = [f"Scoring your file: {done:,} of {total:,} reviews", f"{bar(done, total)} {100 * done // max(1, total)}%"]
    if rate > 0 and done < total:
        lines.append(f"{rate:,.0f} reviews/s, about {duration((total - done) / rate)} left")
    return "\n".join(lines)


def file_failed(reason: str) -> str:
    """Why a file got no results: the watch's reason ("no worker picked it up...") or the worker's sentence."""
    return f"I couldn't score that file: {reason}" if reason[:1].islower() else f"I couldn't score that file. {reason}"


def file_waiting(ahead: int, workers: int) -> str:
    """The progress message while a file waits in the queue."""
    if not workers:
        return "Your file is waiting for a worker: none is taking files right now."
    if ahead:
        return f"Your file is waiting for a worker: {ahead:,} file{'s' if ahead != 1 else ''} ahead of yours."
    return "Your file is waiting for a worker."


def file_stage(stage: str) -> str:
    """The progress message before and after the scoring itself."""
    return {"reading": "Reading your file…", "writing": "Writing your results…"}.get(stage, "Working on your file…")


def duration(seconds: float) -> str:
    """'45 s', '3 min', '1 h 20 min': how long, as a person says it."""
    seconds = max(1, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {round(seconds % 3600 / 60)} min"


def file_summary(result: dict) -> str:
    """Rows scored, share positive, rows skipped and why."""
    scored, rows = result["scored"], result["rows"]
    share = result["positive"] / scored if scored else 0
    lines = [f"Scored {scored:,} of {rows:,} rows: {share:.0%} positive, {1 - share:.0%} negative."]
    skipped = result.get("skipped") or {}
    if skipped:
        reasons = ", ".join(f"{n:,} {why}" for why, n in sorted(skipped.items()))
        lines.append(f"Skipped {sum(skipped.values()):,}: {reasons}.")
    lines.append(f"Model {result.get('model')}. The CSV has one line per row: row, label, score and the text.")
    return "\n".join(lines)


def verdict(result: dict, mixed: tuple[float, float]) -> str:
    """'Positive (94%)', or 'Mixed / not sure (55% positive)' inside the ``mixed`` band, plus what the reader
    should know about how it was read."""
    label, score = result["label"], result["score"]
    if mixed[0] <= score <= mixed[1]:
        lines = [f"Mixed / not sure ({score:.0%} positive)", "It leans neither way clearly enough for me to say."]
    else:
        confidence = score if label == "positive" else 1 - score
        lines = [f"{label.capitalize()} ({confidence:.0%})"]
    if result.get("known") == 0:
        lines.append("None of those words are in my vocabulary, so this is a guess.")
    if result.get("truncated"):
        lines.append("Your review is long: my model reads only part of it (as in training), so that part decided.")
    return "\n".join(lines)


def bar(done: int, total: int) -> str:
    """A text progress bar: ▓▓▓░░░."""
    filled = round(BAR_WIDTH * done / total) if total else 0
    return "▓" * filled + "░" * (BAR_WIDTH - filled)


def status(score_waiting: int, train_waiting: int, workers: int, training: dict | None, show_who: bool = True) -> str:
    """/status's answer; ``training`` is the running training's record (job_id, requested_by, summary).

    Who started a training is for admins only (``show_who``); everyone sees that one is running, and where.
    """
    lines = [
        f"Reviews waiting: {score_waiting}",
        f"Trainings waiting: {train_waiting}",
        f"Workers alive: {workers}",
    ]
    if training:
        by = f" by {training['requested_by']}" if show_who else ""
        if training.get("requested_by") == FIRST_START_DEFAULT:
            lines.append(better_model(training))
        else:
            lines.append(f"Training {training['job_id']}{by}: {training_where(training)}")
    else:
        lines.append("No training in progress.")
    return "\n".join(lines)


def forgotten(rated: int, reviews: int = 0) -> str:
    """The answer to /forget: what went, and that nothing of the user is left."""
    if not rated and not reviews:
        return "I hold nothing of yours, so there was nothing to delete."
    parts = []
    if rated:
        parts.append(f"the {rated:,} review{'s' if rated != 1 else ''} you rated")
    if reviews:
        parts.append(f"{reviews:,} review{'s' if reviews != 1 else ''} you had me score or explain, with the verdicts")
    return f"Done: I deleted {' and '.join(parts)}. Nothing of yours is kept now."


def feedback_summary(
    total: int, agreed: int, users: int, corrections: list, disagreeing: list[dict] | str | None = None
) -> str:
    """/feedback for admins: counts, how often users agreed with the model, the last corrections, and the
    items the live model disagrees with most (read them before `/retrain feedback=yes`), or why not."""
    if not total:
        return "No feedback yet: nobody has tapped 👍 or 👎 under a verdict."
    lines = [
        f"Feedback: {total:,} reviews from {users:,} users.",
        f"The model agreed with users on {agreed:,} ({agreed / total:.0%}); {total - agreed:,} corrections.",
    ]
    if corrections:
        lines.append("Last corrections (the model said → users say):")
        for item in corrections:
            text = item.text if len(item.text) <= 80 else item.text[:79] + "…"
            lines.append(f"• {item.given} → {item.label}: {text}")
    if isinstance(disagreeing, str):
        lines.append(f"The live model's view of them is not available: {disagreeing}")
    elif disagreeing:
        lines.append("Disagree most with the live model (users say, model's P(positive)); check before training:")
        for item in disagreeing:
            text = item["text"] if len(item["text"]) <= 80 else item["text"][:79] + "…"
            lines.append(f"• {item['label']} ({item['score']:.0%} positive): {text}")
    lines.append(
        f"A training uses at most {MAX_USER_SHARE:.0%} of its feedback from one user (or {MIN_PER_USER}, if more)."
    )
    return "\n".join(lines)


# --- inline mode (bot/inline.py): "@bot <review>" in any chat ------------------------------------------
INLINE_HINT_TITLE = "Type a movie review after my name"
INLINE_HINT = 'e.g. "A touching story with superb acting": I answer with positive or negative.'
INLINE_HINT_MESSAGE = "I judge movie reviews: type my @username and a review in any chat to get its verdict."
INLINE_LIMIT = "At most {per_minute} reviews a minute."
INLINE_NOT_SCORED = "I couldn't score that"
INLINE_EXCERPT_CHARS = 200  # of the review, after the verdict, in the message an inline result sends


def inline_title(result: dict, mixed: tuple[float, float]) -> tuple[str, str]:
    """(title, description) of an inline verdict: 'Positive' and '94% sure', or 'Mixed / not sure' and
    '55% positive' inside the ``mixed`` band."""
    label, score = result["label"], result["score"]
    if mixed[0] <= score <= mixed[1]:
        return "Mixed / not sure", f"{score:.0%} positive"
    confidence = score if label == "positive" else 1 - score
    return label.capitalize(), f"{confidence:.0%} sure"


def inline_message(result: dict, review: str, mixed: tuple[float, float]) -> str:
    """What choosing an inline verdict sends: 'Positive (94%): <the review, cut to 200 characters>'."""
    shown = review if len(review) <= INLINE_EXCERPT_CHARS else review[: INLINE_EXCERPT_CHARS - 1].rstrip() + "…"
    return f"{verdict(result, mixed).splitlines()[0]}: {shown}"
