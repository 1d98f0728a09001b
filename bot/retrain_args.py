"""Parsing `/retrain arch=NAME epochs=N batch_size=N sentences=yes|no feedback=yes|no`.

Pure, so it is tested without Telegram.
"""

from __future__ import annotations

from common.errors import SentibotError
from model.recipes import ARCHITECTURE_NAMES, LIMITS, TrainingPlan, plan

YES = {"yes", "y", "true", "on", "1"}
NO = {"no", "n", "false", "off", "0"}
USAGE = "Use /retrain [arch=NAME] [epochs=N] [batch_size=N] [sentences=yes|no] [feedback=yes|no]."


class BadRetrainArguments(SentibotError):
    """The message says exactly which argument is wrong and what is allowed."""


def _number(key: str, raw: str) -> int:
    low, high = LIMITS[key]
    try:
        number = int(raw)
    except ValueError:
        raise BadRetrainArguments(f"{key} must be a whole number, not {raw!r}.") from None
    if not low <= number <= high:
        raise BadRetrainArguments(f"{key} must be between {low} and {high}, not {number}.")
    return number


def _switch(key: str, raw: str) -> bool:
    if raw.lower() in YES:
        return True
    if raw.lower() in NO:
        return False
    raise BadRetrainArguments(f"{key} must be yes or no, not {raw!r}.")


def parse_retrain_args(args: list[str], default_arch: str) -> TrainingPlan:
    """`["epochs=3", "arch=tutorial"]` → TrainingPlan, recipe defaults filled in; raises BadRetrainArguments."""
    values: dict[str, int | str | bool] = {}
    for arg in args:
        key, sep, raw = arg.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or not raw:
            raise BadRetrainArguments(f"I don't understand {arg!r}: write key=value. {USAGE}")
        if key in values:
            raise BadRetrainArguments(f"{key} is given twice. {USAGE}")
        if key == "arch":
            if raw not in ARCHITECTURE_NAMES:
                raise BadRetrainArguments(
                    f"Unknown architecture {raw!r}; choose one of: {', '.join(ARCHITECTURE_NAMES)}."
                )
            values["arch"] = raw
        elif key in LIMITS:
            values[key] = _number(key, raw)
        elif key in ("sentences", "feedback"):
            values[key] = _switch(key, raw)
        else:
            raise BadRetrainArguments(
                f"Unknown setting {key!r}: only arch, epochs, batch_size, sentences and feedback. {USAGE}"
            )
    return plan(
        str(values.get("arch", default_arch)),
        epochs=values.get("epochs"),  # type: ignore[arg-type]
        batch_size=values.get("batch_size"),  # type: ignore[arg-type]
        sentences=values.get("sentences"),  # type: ignore[arg-type]
        feedback=bool(values.get("feedback", False)),
    )
