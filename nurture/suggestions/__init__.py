"""Suggestions learnt from a team's own outcomes: rule points and a hand-off threshold
fitted to which hand-offs sales won, given back as plain rules and a scenario patch a
marketer reviews (`nurture suggest scoring`, `GET /v1/reports/scoring`).
"""
