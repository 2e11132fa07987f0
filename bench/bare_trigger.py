"""The floor of a trigger email for bench/ingest: a signal, then one activity that renders
one template and writes one row, and nothing else.

In a tiny file of its own for the reason bench/bare.py gives. The activity renders the
ingest scenario's real trigger template (bench/scenarios/ingest) with plain Jinja2 and
inserts a row into `bench_floor_sends` in the run's database: what any trigger email costs
at least, beside Nurture's journey deciding to send it, its gate, its MIME and its records.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():  # the activity's, never the workflow's
    import jinja2
    import sqlalchemy

CREATE = """CREATE TABLE IF NOT EXISTS bench_floor_sends (
    id BIGSERIAL PRIMARY KEY, workflow_id TEXT NOT NULL, n INTEGER NOT NULL,
    body TEXT NOT NULL, sent_at TIMESTAMPTZ NOT NULL)"""


@cache
def _engine() -> sqlalchemy.Engine:
    engine = sqlalchemy.create_engine(os.environ["NURTURE_DATABASE_URL"])
    with engine.begin() as connection:
        connection.exec_driver_sql(CREATE)
    return engine


@cache
def _template() -> jinja2.Template:
    templates = Path(__file__).parent / "scenarios" / "ingest" / "templates"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates), autoescape=True)
    return env.get_template("trigger.html")


@activity.defn(name="bare_trigger_send")
def bare_trigger_send(n: int) -> None:
    """Render the trigger template and write one row (the floor's "email sent")."""
    body = _template().render(
        lead={"first_name": "Bench"},
        product={"name": "Bench"},
        sender={"from_name": "Bench", "postal_address": "1 Bench St", "contact": "bench@x"},
        unsubscribe_url="https://bench.example.com/u/token",
    )
    with _engine().begin() as connection:
        connection.execute(
            sqlalchemy.text(
                "INSERT INTO bench_floor_sends (workflow_id, n, body, sent_at) "
                "VALUES (:workflow_id, :n, :body, :sent_at)"
            ),
            {
                "workflow_id": activity.info().workflow_id,
                "n": n,
                "body": body,
                "sent_at": datetime.now(UTC),
            },
        )


@workflow.defn(name="BareTrigger")
class BareTrigger:
    """Waits for `trigger` signals; each runs the activity once, in order."""

    def __init__(self) -> None:
        self._queue: list[int] = []

    @workflow.run
    async def run(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._queue))
            n = self._queue.pop(0)
            await workflow.execute_activity(
                bare_trigger_send, n, start_to_close_timeout=timedelta(seconds=30)
            )

    @workflow.signal(name="trigger")
    def trigger(self, n: int) -> None:
        self._queue.append(n)
