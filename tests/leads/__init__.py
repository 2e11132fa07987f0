"""Identified visitors, erasure, and what of trackers' data is kept."""
