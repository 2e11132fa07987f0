"""Email: rendering templates into messages, and the providers that deliver them."""
