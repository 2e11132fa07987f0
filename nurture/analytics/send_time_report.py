"""When leads read: a person's opens and clicks by weekday × hour in each lead's own time zone,
per product and role, beside the hour send-time optimisation chooses for that role.

The store keeps UTC; a lead's local hour depends on its zone and, with summer time, on the
date. So SQL counts the facts per product, role, zone and UTC quarter hour (a few thousand
groups for a quarter, however many facts), and only those groups are moved into local time
here. A lead without a zone reads in its scenario's send-window zone, else UTC.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import func, select

from nurture.analytics.dialect import QUARTER, Dialect
from nurture.scenario.loader import valid_scenarios
from nurture.schedule.send_time import role_send_hours
from nurture.store.engine import Store
from nurture.store.models import Engagement, Lead, Send, utcnow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFINITIONS: dict[str, str] = {
    "reads": "opens and clicks by a person (machine ones never count), at the lead's local "
    "weekday and hour; a lead without a time zone reads in its scenario's send-window zone",
    "grid": "7 rows (mon..sun) of 24 hours (0..23)",
    "optimised_hour": "the hour send-time optimisation gives a lead of this role without "
    "enough opens of its own (the role's best hour over the last 90 days, once it has 20 "
    "reads), or none yet",
}


class RoleSendTime(BaseModel):
    role: str
    reads: int
    grid: list[list[int]]
    best_hours: list[int]  # the three busiest local hours, busiest first
    optimised_hour: int | None


class ProductSendTime(BaseModel):
    product: str
    timezone: str
    roles: list[RoleSendTime]


class SendTimeReport(BaseModel):
    since: datetime | None
    until: datetime
    products: list[ProductSendTime]
    definitions: dict[str, str] = DEFINITIONS


def build_send_time_report(
    store: Store,
    scenarios_dir: Path,
    *,
    product: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> SendTimeReport:
    until = until or utcnow()
    zones = _scenario_zones(scenarios_dir)
    with store.session() as session:
        bucket = Dialect.of(session).utc_quarter
        groups = session.execute(_reads(product, since, until, bucket)).all()
    grids: dict[str, dict[str, list[list[int]]]] = defaultdict(dict)
    for row_product, role, zone, quarter, count in groups:
        local = _local(quarter, zone or zones.get(row_product, "UTC"))
        grid = grids[row_product].setdefault(role or "other", [[0] * 24 for _ in WEEKDAYS])
        grid[local.weekday()][local.hour] += count
    products = []
    for name in sorted(grids):
        zone = zones.get(name, "UTC")
        chosen = role_send_hours(store, name, zone)
        roles = [_role(role, grid, chosen.get(role)) for role, grid in sorted(grids[name].items())]
        products.append(ProductSendTime(product=name, timezone=zone, roles=roles))
    return SendTimeReport(since=since, until=until, products=products)


def _reads(product: str | None, since: datetime | None, until: datetime, bucket: Any) -> Any:
    hour = bucket(Engagement.occurred_at)
    query = (
        select(Send.product, Lead.role, Lead.timezone, hour, func.count())
        .join(Send, Send.id == Engagement.send_id)
        .join(Lead, Lead.id == Send.lead_id)
        .where(
            Engagement.kind.in_(("opened", "clicked")),
            Engagement.human.is_(True),
            Send.mail_type != "sales",
            Engagement.occurred_at < until,
        )
        .group_by(Send.product, Lead.role, Lead.timezone, hour)
    )
    if product is not None:
        query = query.where(Send.product == product)
    if since is not None:
        query = query.where(Engagement.occurred_at >= since)
    return query


def _local(quarter: float, zone: str) -> datetime:
    utc = datetime.fromtimestamp(int(quarter) * QUARTER, UTC)
    try:
        return utc.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):
        return utc  # a zone this machine does not know: the lead's reads stay in UTC


def _role(role: str, grid: list[list[int]], optimised: int | None) -> RoleSendTime:
    by_hour = [sum(day[hour] for day in grid) for hour in range(24)]
    busiest = sorted((h for h in range(24) if by_hour[h]), key=lambda h: (-by_hour[h], h))
    return RoleSendTime(
        role=role,
        reads=sum(by_hour),
        grid=grid,
        best_hours=busiest[:3],
        optimised_hour=optimised,
    )


def _scenario_zones(scenarios_dir: Path) -> dict[str, str]:
    return {
        s.product: s.send_window.timezone if s.send_window else "UTC"
        for s in valid_scenarios(scenarios_dir)
    }
