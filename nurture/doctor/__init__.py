"""`nurture doctor`: whether this deployment can run journeys, checked piece by piece (the
Temporal connection and namespace, search attributes, workers polling, the store's schema,
the providers' and channels' settings, payload encryption), each problem with its fix.
"""
