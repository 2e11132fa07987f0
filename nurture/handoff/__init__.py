"""Hand-off to sales: the daily capacity and its queue, the SLA counted in business
days, what became of each hand-off, and the precision report with its calibration.
"""
