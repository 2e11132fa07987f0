"""Leads: who a lead is (profile, role, text-field rules), what it did (behaviour events,
what of trackers' data is kept), CSV import, anonymous visitors made known, its own
email preferences, and erasure.
"""
