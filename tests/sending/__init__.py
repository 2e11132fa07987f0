"""The send gate, and at most once when the worker is killed mid-send."""
