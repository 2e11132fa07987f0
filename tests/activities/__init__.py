"""The send_email activity against the store and the outbox."""
