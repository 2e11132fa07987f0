"""Segments: named, saved definitions of leads by who they are and what they did.

A segment names a product's leads by stage, lifecycle, score, fit fields and custom
attributes (the scenario's own `LeadCondition` language), consent per channel, engagement
(opens, clicks, pages visited, events counted in a window) and membership of other
segments, combined with `any:`, `all:` and `not:`. Definitions live in
`scenarios/segments.yaml` (reviewed like code) or are saved through the API; both are
answered from the store with one SQL query (nurture/segments/sql.py).
"""
