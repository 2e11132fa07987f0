"""Broadcasts: one-off messages to a segment (a seminar invitation, a newsletter, a trade
show follow-up), sent through each lead's journey so consent, suppression, the frequency
cap, the send window and the journey's timeline all apply.

What a broadcast says is frozen when it is created (content.py); whom it reaches is frozen
when it is scheduled (recipients.py); the durable `Broadcast` workflow hands it to each
recipient's journey at a bounded rate (workflows/broadcast.py), and a lead with no running
journey gets it through a short-lived `BroadcastJourney`.
"""
