"""Parsing `/retrain epochs=N batch_size=N arch=NAME`: pure, so it is tested without Telegram."""

from __future__ import annotations

from dataclasses import dataclass

from model.names import ARCHITECTURE_NAMES
from sentibot.errors import SentibotError

LIMITS = {"epochs": (1, 50), "batch_size": (8, 4096)}


class BadRetrainArguments(SentibotError):
    """The message says exactly which argument is wrong and what is allowed."""


@dataclass(frozen=True)
class RetrainRequest:
    """A validated training request; defaults are the tutorial's."""

    epochs: int = 5
    batch_size: int = 128
    arch: str = "tutorial"


def parse_retrain_args(args: list[str], default_arch: str = "tutorial") -> RetrainRequest:
    """`["epochs=3", "arch=tutorial"]` → RetrainRequest; raises BadRetrainArguments."""
    values: dict[str, int | str] = {"arch": default_arch}
    usage = "Use /retrain [epochs=N] [batch_size=N] [arch=NAME]."
    seen: set[str] = set()
    for arg in args:
        key, sep, raw = arg.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or not raw:
            raise BadRetrainArguments(f"I don't understand {arg!r}: write key=value. {usage}")
        if key in seen:
            raise BadRetrainArguments(f"{key} is given twice. {usage}")
        seen.add(key)
        if key == "arch":
            if raw not in ARCHITECTURE_NAMES:
                raise BadRetrainArguments(
                    f"Unknown architecture {raw!r}; choose one of: {', '.join(ARCHITECTURE_NAMES)}."
                )
            values["arch"] = raw
        elif key in LIMITS:
            low, high = LIMITS[key]
            try:
                number = int(raw)
            except ValueError:
                raise BadRetrainArguments(f"{key} must be a whole number, not {raw!r}.") from None
            if not low <= number <= high:
                raise BadRetrainArguments(f"{key} must be between {low} and {high}, not {number}.")
            values[key] = number
        else:
            raise BadRetrainArguments(f"Unknown setting {key!r}: only epochs, batch_size and arch. {usage}")
    return RetrainRequest(**values)  # type: ignore[arg-type]
