"""Where the tests' files are, and the consent every test lead gave."""

from __future__ import annotations

from pathlib import Path

from nurture.store.engine import ConsentIn

TESTS = Path(__file__).resolve().parent.parent
SCENARIOS = TESTS / "scenarios"
HISTORIES = TESTS / "histories"
REPO = TESTS.parent

# Every test lead agreed to email through a form, unless a test is about consent.
CONSENT = ConsentIn(basis="opt_in_form", wording="Yes, send me product news by email.")
