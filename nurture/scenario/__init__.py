"""Scenarios: the model of a product's scenario.yaml, loading and validating it with
errors that name the file and line, and the template copies pinned per version.
"""
