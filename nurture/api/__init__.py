"""The HTTP API (FastAPI): leads, tracker events, unsubscribe, sales feedback, journey state."""
