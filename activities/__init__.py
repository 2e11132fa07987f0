"""Every side effect of a journey: scenarios, email, hand-offs, lifecycle records."""
