"""The HTTP API: leads, tracker events, webhooks, unsubscribe, and Temporal being down."""
