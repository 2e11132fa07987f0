"""Human durations for scenarios: "45s", "30m", "12h", "7d", "2w", or combinations like "1d12h"."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: Any) -> Any:
    """Turn "7d"-style text into a timedelta; pydantic handles the rest (ISO 8601, seconds)."""
    if isinstance(value, str) and _WHOLE.match(value):
        seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(value))
        return timedelta(seconds=seconds)
    if isinstance(value, str) and not value.startswith("P"):
        raise ValueError(
            f"invalid duration {value!r}: write a number and a unit, e.g. '45s', '30m', "
            "'12h', '7d', '2w' or '1d12h'"
        )
    return value


def format_duration(value: timedelta) -> str:
    """The shortest "7d"/"1d12h" spelling, for summaries people read in the Temporal UI."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if unit == "w" and seconds % size:
            continue
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
