"""When leads read, for people (`nurture report send-time`): per role, the busiest local
hours beside what send-time optimisation chooses, and a weekday × hour heat map."""

from __future__ import annotations

import csv
import io

from rich.console import Console
from rich.table import Table

from nurture.analytics.send_time_report import DEFINITIONS, WEEKDAYS, SendTimeReport

SHADES = " ░▒▓█"


def render(report: SendTimeReport, console: Console) -> None:
    for product in report.products:
        table = Table(title=f"{product.product}: when leads read ({product.timezone} by default)")
        for column in ("role", "reads", "busiest local hours", "optimised hour"):
            table.add_column(column)
        for role in product.roles:
            busiest = ", ".join(f"{h:02d}:00" for h in role.best_hours) or "—"
            chosen = "—" if role.optimised_hour is None else f"{role.optimised_hour:02d}:00"
            table.add_row(role.role, str(role.reads), busiest, chosen)
        console.print(table)
        for role in product.roles:
            console.print(f"{role.role}      " + "".join(f"{h:<3d}" for h in range(0, 24, 3)))
            peak = max((max(day) for day in role.grid), default=0) or 1
            for name, day in zip(WEEKDAYS, role.grid, strict=True):
                cells = "".join(SHADES[min(4, -(-4 * n // peak))] for n in day)
                console.print(f"  {name}  {cells}", highlight=False)
    if not report.products:
        console.print("no reads by a person in the period")
    console.print(f"[dim]reads: {DEFINITIONS['reads']}[/dim]", highlight=False)


def to_csv(report: SendTimeReport) -> str:
    """One line per product, role, weekday and hour with reads (the hours without are 0)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["product", "role", "weekday", "hour", "reads", "optimised_hour"])
    for product in report.products:
        for role in product.roles:
            for weekday, day in zip(WEEKDAYS, role.grid, strict=True):
                for hour, reads in enumerate(day):
                    if reads:
                        chosen = "" if role.optimised_hour is None else role.optimised_hour
                        writer.writerow([product.product, role.role, weekday, hour, reads, chosen])
    return out.getvalue()
