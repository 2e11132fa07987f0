"""Timestamps as the API documents them (`format: date-time`, RFC 3339), and nothing else.

Pydantic alone would also take 0 or '1700000000' as Unix times and a date without a time:
a client sending those has a bug worth hearing about, and the published schema says so.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def rfc3339(value: object) -> object:
    """A string with a date, a time and an offset; anything else, with the form to use."""
    if isinstance(value, datetime) or value is None:
        return value
    if not isinstance(value, str) or not RFC3339.match(value):
        raise ValueError(
            f"{value!r} is not an RFC 3339 timestamp: send a string with a timezone, "
            "e.g. '2026-11-23T10:00:00Z'"
        )
    return value


Timestamp = Annotated[datetime, BeforeValidator(rfc3339)]
