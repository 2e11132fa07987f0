"""Schedule: when an email may go (send window, holidays, quiet hours), at which hour
(send-time optimisation) and which A/B variant a lead gets. Pure and deterministic.
"""
