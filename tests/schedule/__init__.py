"""Send windows, holidays and quiet hours: pure functions."""
