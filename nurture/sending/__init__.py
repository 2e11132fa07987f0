"""Sending: the gate every email passes at send time (consent, suppression, frequency
cap, the claim that makes it at most once), a send's row from its claim to its outcome
(claims), a send's status from provider events, and the signed unsubscribe tokens its
links carry.
"""
