"""Scoring, moments and engagement: pure functions."""
