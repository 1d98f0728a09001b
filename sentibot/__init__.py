"""sentibot: a Telegram bot that scores movie reviews with a Keras model served through RQ."""
