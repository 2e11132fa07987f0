"""The journey: LeadJourney's contract, the client that starts and talks to journeys,
the lead lifecycle and the record of its moves, and the search attributes operators find
journeys by.
"""
