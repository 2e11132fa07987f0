"""Hand-off capacity, the SLA in business days, and the precision report."""
