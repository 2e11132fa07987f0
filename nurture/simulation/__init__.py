"""Rehearsing a scenario (`nurture simulate`): personas nurtured for months in seconds by
the real LeadJourney and activities on Temporal's time-skipping server, with email kept in
memory and a throwaway store; their timelines, the population's figures, and warnings."""
