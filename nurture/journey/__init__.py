"""The journey: LeadJourney's contract, the client that starts and talks to journeys, the
lead lifecycle and the record of its moves, the journey's pure decisions (rules) and its
wording (narrative), and the search attributes operators find journeys by.
"""
