"""The ground every layer stands on: settings read from the environment, and the root error type."""
