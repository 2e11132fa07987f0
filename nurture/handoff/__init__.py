"""Hand-off to sales: the hand-off records and the payload the CRM gets, the daily
capacity and its queue, the SLA counted in business days, what became of each hand-off,
and the precision report with its calibration.
"""
