"""The HTTP API in tests: an app with its keys, and a lead body to post."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

LEAD = {
    "email": "Aiko@Example.jp",
    "external_id": "crm-42",
    "first_name": "Aiko",
    "industry": "saas",
    "company_size": 120,
    "products": ["acme"],
    "consent": {"basis": "opt_in_form", "wording": "Send me news"},
}


@dataclass
class Api:
    """The app and one key per scope: `ingest` (a site tracker), `leads` (a backend or CRM
    sync), `feedback` (sales), `read`, `admin`."""

    http: httpx.AsyncClient
    ingest: dict[str, str]
    admin: dict[str, str]
    leads: dict[str, str]
    feedback: dict[str, str]
    read: dict[str, str]


def token_of(page: str) -> str:
    """The CSRF token a dashboard form carries."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, key: str, next: str = "/dashboard") -> httpx.Response:
    """Sign in to the dashboard with `key`: the client keeps the session cookie."""
    form = await http.get("/dashboard/login", params={"next": next})
    body = {"key": key, "csrf": token_of(form.text), "next": next}
    return await http.post("/dashboard/login", data=body)
