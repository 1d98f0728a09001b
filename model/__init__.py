"""Everything that turns review text into a sentiment: data, encoding, architectures, training, bundles.

Nothing here knows about Telegram or RQ.
"""
