"""Scenario files: the model, validation errors, and the scenarios that ship."""
