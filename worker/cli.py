"""`sentibot bot`: placeholder registration until the bot lands."""
def register(subparsers):  # noqa: D103
    pass
