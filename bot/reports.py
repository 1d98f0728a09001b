"""What the bot (and the terminal chat, and `sentibot up`) says about trainings and models: the progress
message, the final report with its test interval, a blend's parts and mix, and /model's answer.
Pure functions from job results and bundle metadata to words, like ``bot.replies``."""

from __future__ import annotations

from bot.replies import bar, better_model
from model.intervals import interval95


def epoch_line(e: dict) -> str:
    """One epoch's figures."""
    return (
        f"{e['epoch']:>2}  acc {e['accuracy']:.4f}  val_acc {e['val_accuracy']:.4f}  "
        f"loss {e['loss']:.4f}  val_loss {e['val_loss']:.4f}  {e['seconds']:.1f}s"
    )


def progress(job_id: str, epochs: list[dict], total: int, stage: str = "") -> str:
    """The one progress message, edited after every epoch. A part of a pass says so, with its train and
    validation accuracy ("part 3 of 8 of one pass over ... — train 0.81, validation 0.84 (200 reviews)")."""
    last = epochs[-1] if epochs else {}
    head = f"Training {job_id}\n{bar(len(epochs), total)} {last.get('name') or f'epoch {len(epochs)}/{total}'}"
    if last.get("name"):
        head += f" — train {last['accuracy']:.2f}, validation {last['val_accuracy']:.2f}"
        head += f" ({last['validated_on']:,} reviews)" if last.get("validated_on") else ""
    if stage and not stage.endswith(" done"):  # before the first epoch, inside a long one, or testing after
        head += f" – {stage}"
    return "\n".join([head, *[epoch_line(e) for e in epochs]])


def training_ended(job_id: str, state: str, result: dict | None, reason: str = "") -> str:
    """The last word on a training: the report, why it failed, or that it never started."""
    if state == "finished" and result is not None:
        return training_done(result)
    if state == "failed":
        return f"Training {job_id} failed: {reason}"
    if state == "missing":
        return f"Training {job_id} is no longer known to the queue (its record expired)."
    return f"Training {job_id} was cancelled before it started."


def training_done(result: dict) -> str:
    """The final report: the epoch table, test accuracy and whether the model went live."""
    status = result.get("status")
    lines = [epoch_line(e) for e in result.get("epochs", [])]
    if status == "cancelled":
        return "\n".join(["Training cancelled: " + result.get("reason", ""), *lines])
    accuracy = result.get("test_accuracy")
    head = f"Training finished: test accuracy {accuracy:.2%} ({result.get('arch')}, {result.get('version')})"
    if result.get("test_reviews"):
        head += f" on {tested(accuracy, result['test_reviews'])}"
    extra = []
    if result.get("short_dev_accuracy") is not None:
        extra.append(f"One-sentence reviews (dev split): {result['short_dev_accuracy']:.2%}")
    if result.get("part_summaries"):
        extra.extend(blend_lines(result))
    taught = result.get("feedback")
    if taught is not None:
        if taught.get("examples"):
            extra.append(
                f"Users' feedback: {taught['examples']:,} examples trained on (each counts {taught['weight']:g}×); "
                f"the new model agrees with {taught['accuracy']:.0%} of them (not used by the gate)."
            )
        else:
            extra.append("Users' feedback: none stored yet, so none was used.")
    outcome = "The new model is live" if status == "promoted" else "The new model was stored but NOT put live"
    return "\n".join([head, *lines, *extra, f"{outcome}: {result.get('reason', '')}."])


def tested(accuracy: float, reviews: int) -> str:
    """How sure a test accuracy is: "2,000 test reviews (95% interval 90.4–92.9%)"."""
    low, high = interval95(accuracy, reviews)
    return f"{reviews:,} test reviews (95% interval {low:.1%}–{high:.1%})"


def _part_line(name: str, part: dict) -> str:
    figures = []
    if part.get("test_accuracy") is not None:
        figures.append(f"test {part['test_accuracy']:.1%} on {part.get('test_reviews') or 0:,} reviews")
    elif part.get("val_accuracy") is not None:
        figures.append(f"validation {part['val_accuracy']:.1%}")
    if part.get("short_dev_accuracy") is not None:
        figures.append(f"one-sentence dev {part['short_dev_accuracy']:.1%}")
    return f"• {name} ({part.get('params') or 0:,} parameters): {', '.join(figures)}"


def blend_lines(meta: dict) -> list[str]:
    """A blend's parts, each with its own figures, and how they are mixed."""
    summaries = meta.get("part_summaries") or {}
    order = [name for name in meta.get("parts") or () if name in summaries] or list(summaries)  # as they are mixed
    lines = ["parts:", *(_part_line(name, summaries[name]) for name in order)]
    rule = meta.get("rule")
    if rule:
        alone = (
            f"; nbsvm alone on a long review it is sure of (|logit| ≥ {rule['sure_logit']:.2f}: MiniLM read "
            f"{meta.get('minilm_share') or 0:.0%} of the test reviews)"
            if rule.get("sure_logit") is not None
            else ""
        )
        lines.append(
            f"mix: weight {rule['short_weight']:.2f} on MiniLM for texts of ≤ {rule['short_pieces']} word pieces, "
            f"{rule['long_weight']:.2f} for longer ones{alone}"
        )
    return lines


def model_info(meta: dict | None, better: dict | None = None) -> str:
    """/model's answer; ``better``: the first start's default training in the background, if it runs."""
    if not meta:
        return "No model is live yet. An admin can train one with /retrain."
    accuracy = meta.get("test_accuracy")
    acc = f"{accuracy:.2%}" if accuracy is not None else "unknown"
    if accuracy is not None and meta.get("test_reviews"):
        acc += f" on {tested(accuracy, meta['test_reviews'])}"
    lines = [
        f"Live model {meta['version']}",
        f"architecture: {meta.get('arch')} ({meta.get('params') or 0:,} parameters)",
        f"test accuracy: {acc}",
    ]
    if meta.get("short_dev_accuracy") is not None:
        lines.append(f"one-sentence reviews (dev split): {meta['short_dev_accuracy']:.2%}")
    if meta.get("pretrained"):
        encoder = meta["pretrained"]
        lines.append(f"fine-tuned from: {encoder.get('name')} ({encoder.get('package')} {encoder.get('version')})")
    if meta.get("part_summaries"):
        lines.extend(blend_lines(meta))
    if meta.get("schedule"):
        lines.append(f"trained on: {meta['schedule']}")
    lines.append(f"trained: {meta.get('created_at')}")
    if better:
        lines.append(better_model(better))
    return "\n".join(lines)
