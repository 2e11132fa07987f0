"""Scoring: a lead's score by fit and behaviour, the moments that make it hot, and the
emails it engaged with. Pure and deterministic: the journey and the reports share it.
"""
