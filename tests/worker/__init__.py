"""The worker: role processes, and the secret it refuses to start with."""
