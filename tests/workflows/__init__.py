"""LeadJourney on the time-skipping Temporal server: cadence, behaviour, races, outages, replay."""
