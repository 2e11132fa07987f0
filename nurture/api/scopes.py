"""What each API key scope lets a caller do. Kept apart from the FastAPI code so the CLI can
list the scopes in its help without importing the web stack.

A key meant for a website tracker sits in every visitor's browser: it gets `ingest` alone,
which only stores tracker events. Creating leads (and recording their consent), sales
feedback and reading a lead's journeys each need their own scope; `admin` holds them all.
"""

from __future__ import annotations

from typing import Literal

Scope = Literal["ingest", "leads", "feedback", "read", "decode", "metrics", "admin"]

SCOPES: dict[Scope, str] = {
    "ingest": "tracker events only: POST /v1/track, /page, /identify, /batch",
    "leads": "create or update leads and their consent: POST /v1/leads, /v1/leads/batch",
    "feedback": "sales feedback on a journey: POST /v1/leads/{id}/feedback",
    "read": "read a lead and its journeys' state: GET /v1/leads/{id}",
    "decode": "open encrypted payloads for the Temporal UI: POST /dashboard/codec/decode, /encode",
    "metrics": "scrape Nurture's counters: GET /metrics (a Prometheus scraper's key)",
    "admin": "everything above, and the reports: GET /v1/reports/...",
}


def scope_list() -> str:
    """One line per scope, for help texts and error messages."""
    return "; ".join(f"{name}: {what}" for name, what in SCOPES.items())


def scope_problem(scopes: list[str]) -> str | None:
    """What is wrong with a key's requested scopes (unknown ones, or none), or None."""
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if not unknown and scopes:
        return None
    got = f"unknown scope(s) {', '.join(map(repr, unknown))}" if unknown else "no scope"
    return f"{got}; choose from {scope_list()}"
