"""Analytics: engagement facts and what the reports make of them."""
