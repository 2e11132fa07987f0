"""Deterministic orchestration only: no I/O; time and randomness come from `workflow`."""
