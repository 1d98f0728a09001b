"""Architecture names, importable without TensorFlow (the bot validates /retrain arguments with it)."""

ARCHITECTURE_NAMES = ("tutorial", "pooled")
