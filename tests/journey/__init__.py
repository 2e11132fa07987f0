"""The journey's contract and lifecycle rules, without a worker."""
