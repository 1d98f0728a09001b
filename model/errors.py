"""The model package's failures, each a sentence a person can act on."""

from common.errors import SentibotError


class ModelError(SentibotError):
    """Base class: the message is shown to people as it is."""


class DatasetNotFound(ModelError):
    """The IMDB data path does not exist."""


class DatasetInvalid(ModelError):
    """The IMDB data exists but is not in the aclImdb layout, is empty or unreadable."""


class DatasetUnavailable(ModelError):
    """Keras's download of the IMDB data failed (no internet)."""


class UnknownArchitecture(ModelError):
    """No architecture is registered under that name."""


class BundleCorrupt(ModelError):
    """A model bundle is truncated, tampered with or not a bundle at all."""


class ModelNotFound(ModelError):
    """No trained model exists yet where one was looked for."""


class PretrainedMissing(ModelError):
    """The package holding a pretrained encoder's weights is not installed."""
