"""Chaos: the worker is killed (SIGKILL) while step emails are in flight at SendGrid. Each
lead gets its email at most once: sends whose attempt never finished are left `uncertain`,
never delivered again (before, they were re-claimed after the lease and sent twice).

Real parts: `temporal server start-dev`, the worker as its own process (`worker.py`), the
real `sendgrid` client against a local server that takes each request and answers slowly.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from nurture.cli.devstack import connect_ready
from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Send
from tests.helpers.paths import CONSENT, SCENARIOS
from tests.helpers.processes import dev_server_on_free_ports, until, worker_process
from tests.helpers.sendgrid import API_KEY, FakeSendGrid

LEADS = 12
NO_WINDOW = (
    "send_window:\n  timezone: Asia/Tokyo\n  hours: [9, 18]\n"
    "  weekdays: [mon, tue, wed, thu, fri]\n"
)


def statuses(store: Store) -> Counter[str]:
    with store.session() as session:
        return Counter(session.scalars(select(Send.status)))


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    return worker_process(
        settings,
        log,
        NURTURE_EMAIL_PROVIDER="sendgrid",
        NURTURE_SENDGRID_API_KEY=API_KEY,
        NURTURE_SENDGRID_HOST=settings.sendgrid_host,
        NURTURE_SEND_CLAIM_LEASE_SECONDS=str(settings.send_claim_lease_seconds),
    )


async def test_a_worker_killed_mid_send_never_mails_a_lead_twice(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS / "acme", scenarios / "acme")
    yaml = scenarios / "acme" / "scenario.yaml"
    text = yaml.read_text()
    assert NO_WINDOW in text
    yaml.write_text(text.replace(NO_WINDOW, ""))  # the welcome goes at once, any day
    server = await dev_server_on_free_ports(tmp_path / "temporal")
    sendgrid = FakeSendGrid()
    sendgrid.delay = 0.4  # each email is in flight for a while
    settings = Settings(
        temporal_address=server.address,
        database_url=f"sqlite:///{tmp_path}/nurture.db",
        scenarios_dir=scenarios,
        task_queue="chaos",
        sendgrid_host=sendgrid.url,
        send_claim_lease_seconds=2,
    )
    store = Store(settings.database_url)
    store.upgrade()
    log = tmp_path / "worker.log"
    worker = start_worker(settings, log)
    try:
        client = await connect_ready(settings)
        for i in range(LEADS):
            lead, _ = store.upsert_lead(
                LeadIn(email=f"lead{i}@example.com", first_name=f"L{i}", consent=CONSENT)
            )
            await start_journey(client, settings, store, lead, "acme")

        async def some_in_flight() -> bool:
            return len(sendgrid.requests) >= 2 and statuses(store)["sending"] >= 1

        await until(some_in_flight, timeout=60)
        worker.send_signal(signal.SIGKILL)  # mid-send: SendGrid has some, the store says sending
        worker.wait()
        killed_while_sending = statuses(store)["sending"]
        assert killed_while_sending >= 1

        worker = start_worker(settings, log)

        async def all_settled() -> bool:  # the killed attempts time out (60 s) and are retried
            found = statuses(store)
            return found["sending"] == 0 and found["queued"] == 0 and found.total() == LEADS

        await until(all_settled, timeout=150)
    finally:
        worker.kill()
        worker.wait()
        sendgrid.close()
        server.stop()
    delivered = Counter(
        body["custom_args"]["send_id"] for body in sendgrid.payloads if "custom_args" in body
    )
    assert delivered, "SendGrid got no email at all"
    assert max(delivered.values()) == 1, f"mailed twice: {delivered.most_common(3)}"
    found = statuses(store)
    assert found["uncertain"] >= 1 and found["sent"] + found["uncertain"] == LEADS, found
