"""LINE, the channel a Japanese lead reads first: rendering a step's message
(messages.py), pushing it once (push.py), and linking a LINE user to a lead (links.py)."""
