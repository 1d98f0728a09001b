"""The Telegram front end: talks to people, hands all model work to the queue."""
