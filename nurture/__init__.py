"""Nurture: an open lead-nurturing engine where every lead runs as a durable Temporal journey."""
