"""Loading a bundle to serve it: anything that goes wrong makes it one named error.

A bundle that passes its checksums can still fail to load: a crafted or buggy ``encoder.json``
raises KeyError or ValueError in ``TextEncoder.from_config``, Keras raises its own types, and the
warm-up calls the model. For a worker every one of these means the same thing, "this version
cannot serve", so each becomes :class:`BundleUnusable` with the original error named; only Redis
failures (the bundle could not be read at all) stay what they are.
"""

from __future__ import annotations

import redis

from model import bundle as bundles
from model.errors import BundleCorrupt, ModelError
from model.predict import AnyPredictor, predictor_for


class BundleUnusable(BundleCorrupt):
    """A bundle that passed its checksums but could not be loaded or warmed up."""


def load_predictor(data: bytes) -> AnyPredictor:
    """A warmed-up predictor for a bundle's bytes; raises ModelError (BundleUnusable for any
    unexpected error) when the bundle cannot serve."""
    try:
        return predictor_for(bundles.from_bytes(data))
    except (ModelError, redis.exceptions.RedisError):
        raise
    except Exception as exc:  # any error while loading means "this version cannot serve"
        detail = str(exc)[:200]
        raise BundleUnusable(
            f"The model bundle could not be loaded ({type(exc).__name__}{': ' + detail if detail else ''})."
        ) from exc
