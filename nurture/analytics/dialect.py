"""The few SQL expressions the store's two engines spell differently, for every report.

SQLite keeps timestamps as text and has no `split_part`; PostgreSQL keeps timestamptz. Each
report asks its session's `Dialect` for the expression it needs, so an engine difference is
written once, here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, func
from sqlalchemy.orm import Session

QUARTER = 900  # seconds


class Dialect:
    def __init__(self, name: str) -> None:
        self.postgres = name == "postgresql"

    @classmethod
    def of(cls, session: Session) -> Dialect:
        return cls(session.get_bind().dialect.name)

    def days(self, column: Any) -> Any:
        """A timestamp as a number of days, so a window is arithmetic both engines do alike."""
        if self.postgres:
            return func.extract("epoch", column) / 86400.0
        return func.julianday(column)

    def utc_quarter(self, column: Any) -> Any:
        """The UTC quarter hour a timestamp falls in, as a number (seconds since the epoch
        // 900): zones at +5:30, +5:45 or +9:30 move a read into the right local hour only
        from a quarter-hour bucket, and a number is cheaper to make and group than text."""
        if self.postgres:
            return func.floor(func.extract("epoch", column) / QUARTER)
        # `/` in SQLAlchemy is true division (it would group by the second): SQLite's own `/`
        return func.cast(func.strftime("%s", column), Integer).op("/")(QUARTER)

    def week(self, column: Any) -> Any:
        """The Monday (UTC) of a timestamp's ISO week, as 'YYYY-MM-DD' text."""
        if self.postgres:
            monday = func.date_trunc("week", func.timezone("UTC", column))
            return func.to_char(monday, "YYYY-MM-DD")
        return func.date(column, "weekday 0", "-6 days")

    def track(self, send_key: Any) -> Any:
        """`cold#2/welcome` → `cold`."""
        if self.postgres:
            return func.split_part(send_key, "#", 1)
        return func.substr(send_key, 1, func.instr(send_key, "#") - 1)

    def step(self, send_key: Any) -> Any:
        """`cold#2/welcome` → `welcome`."""
        if self.postgres:
            return func.split_part(send_key, "/", 2)
        return func.substr(send_key, func.instr(send_key, "/") + 1)
