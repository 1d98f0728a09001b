"""The root of every error sentibot shows to people: its message is one clear sentence."""


class SentibotError(Exception):
    """A failure whose message is meant for the person using sentibot."""
