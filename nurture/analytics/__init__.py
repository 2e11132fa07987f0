"""Analytics: what every email, step, track and variant achieves, from facts we can trust.

`facts` records what happened to each send (delivered, bounced, opened by a person or a
machine, clicked, unsubscribed, reported as spam), once per source event; reports read
those facts.
"""
