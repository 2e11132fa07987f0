"""Errors the API answers with in words that stay the same whatever went wrong inside."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import HTTPException

log = logging.getLogger("nurture.api")


def temporal_down(err: Exception, done: str = "") -> HTTPException:
    """503 in words that stay the same: the client's error names Temporal's address (and
    worse), which belongs in the log, not in an answer to whoever called."""
    log.warning("Temporal unreachable: %s: %s", type(err).__name__, err)
    again = "repeat the call" if done else "retry"
    return HTTPException(503, f"{done}Temporal is unreachable right now; {again}")


def invalid_input(errors: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The 422 body: one readable line per problem, where (the location outside the body)
    and what is wrong, from pydantic's errors or errors shaped like them."""
    problems = []
    for e in errors:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        problems.append({"where": where or "body", "problem": str(e.get("msg", ""))})
    return {"error": "invalid input", "problems": problems}
