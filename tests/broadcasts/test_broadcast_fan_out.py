"""A broadcast to 2,000 leads on the Temporal dev server, through a real SMTP server, with
the worker killed in the middle of the fan-out: every lead is handed it once, the cap
holds back those it reached this week, suppressed leads are skipped with the reason, and
no one receives it twice. And one that outlives a restart of the Temporal server."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from nurture.broadcasts.client import handle_of, schedule_broadcast
from nurture.broadcasts.content import freeze_content
from nurture.broadcasts.contract import BroadcastProgress, Variant
from nurture.broadcasts.records import broadcast_status, create_broadcast
from nurture.cli.devstack import connect_ready, start_dev_server
from nurture.journey.client import start_journey
from nurture.sending.gate import suppress_lead
from nurture.store.engine import LeadIn
from nurture.store.models import Lead, Send
from tests.helpers.devstack import Stack, dev_stack
from tests.helpers.paths import CONSENT
from tests.helpers.processes import free_port, until, worker_process
from tests.helpers.smtp import Inbox, LocalController

LEADS = 2_000
IN_JOURNEYS = 120  # had their welcome email this week: the cap (1 a week) holds them back
SUPPRESSED = 80  # opted out of the newsletter
SUBJECT = "Launch day, {{ lead.first_name }}"


def no_send_window(stack: Stack) -> None:
    """The dev server keeps real time: a window closed at night would hold every send."""
    path = stack.folder / "scenario.yaml"
    text = path.read_text()
    window = text[text.index("send_window:") : text.index("pages:")]
    path.write_text(text.replace(window, ""))


def prepare(stack: Stack, leads: int) -> list[Lead]:
    """No send window, `leads` subscribers with consent, and the segment of them."""
    no_send_window(stack)
    (stack.settings.scenarios_dir / "segments.yaml").write_text(
        "segments:\n  subscribers:\n    consent: email\n", encoding="utf-8"
    )
    return [
        stack.store.upsert_lead(
            LeadIn(email=f"lead{i}@example.com", first_name=f"L{i}", consent=CONSENT)
        )[0]
        for i in range(leads)
    ]


def draft(stack: Stack) -> None:
    content = freeze_content(
        stack.settings.scenarios_dir, "acme", [Variant(subject=SUBJECT, template="note")]
    )
    create_broadcast(
        stack.store, broadcast_id="launch", product="acme", segment="subscribers",
        content=content, send_at=None, local_time=False, mail_type="newsletter", by="t",
    )  # fmt: skip


def smtp_env(smtp: LocalController, **extra: str) -> dict[str, str]:
    return {
        "NURTURE_EMAIL_PROVIDER": "smtp",
        "NURTURE_SMTP_HOST": "127.0.0.1",
        "NURTURE_SMTP_PORT": str(smtp.port),
        **extra,
    }


def broadcast_sends(stack: Stack) -> list[Send]:
    with stack.store.session() as session:
        return list(session.scalars(select(Send).where(Send.send_key == "broadcast:launch")))


async def test_a_broadcast_to_2000_leads_survives_a_worker_kill(tmp_path: Path) -> None:
    inbox = Inbox()
    smtp = LocalController(inbox, hostname="127.0.0.1", port=0)
    smtp.start()
    async with dev_stack(tmp_path) as stack:
        leads = prepare(stack, LEADS)
        # A send the kill interrupts is decided (`uncertain`, never sent again) once its
        # claim's lease ends: 20 s, so the test need not wait the default 5 minutes.
        env = smtp_env(
            smtp, NURTURE_FREQUENCY_CAP_PER_WEEK="1", NURTURE_SEND_CLAIM_LEASE_SECONDS="20"
        )
        log = tmp_path / "worker.log"
        worker = worker_process(stack.settings, log, **env)
        try:
            for lead in leads[:IN_JOURNEYS]:
                await start_journey(stack.client, stack.settings, stack.store, lead, "acme")
            for lead in leads[-SUPPRESSED:]:
                suppress_lead(
                    stack.store, lead.id, scope="mail_type", product="acme",
                    mail_types=["newsletter"], reason="newsletter opt-out",
                )  # fmt: skip

            async def welcomed() -> bool:
                return len(inbox.received) == IN_JOURNEYS

            await until(welcomed, timeout=120)
            draft(stack)
            frozen = await schedule_broadcast(
                stack.client, stack.settings, stack.store, "launch", rate=100
            )
            assert frozen == LEADS
            handle = handle_of(stack.client, "launch")

            async def midway() -> bool:
                progress = await handle.query("progress", result_type=BroadcastProgress)
                return progress.handed >= LEADS // 4

            await until(midway, timeout=120)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            worker = worker_process(stack.settings, log, **env)
            progress = await handle.result()
            assert (progress.state, progress.recipients, progress.handed) == (
                "finished", LEADS, LEADS,
            )  # fmt: skip
            assert progress.to_journeys == IN_JOURNEYS
            assert progress.to_broadcast_journeys == LEADS - IN_JOURNEYS

            async def all_decided() -> bool:
                rows = broadcast_sends(stack)
                return len(rows) == LEADS and not {r.status for r in rows} & {"queued", "sending"}

            await until(all_decided, timeout=240)
        finally:
            worker.kill()
            worker.wait()
            smtp.stop()
        rows = broadcast_sends(stack)
        by_status = Counter(r.status for r in rows)
        assert len({r.lead_id for r in rows}) == LEADS  # one row per lead, none twice
        assert by_status["deferred"] == IN_JOURNEYS  # the cap: their welcome came this week
        assert by_status["suppressed"] == SUPPRESSED
        delivered = by_status["sent"] + by_status["uncertain"]  # uncertain: killed mid-send
        assert delivered == LEADS - IN_JOURNEYS - SUPPRESSED
        assert by_status["uncertain"] <= 8  # at most the sends in flight at the kill
        launch = [m for m in inbox.received if m.message["Subject"].startswith("Launch day")]
        receivers = Counter(to for m in launch for to in m.rcpt_tos)
        assert max(receivers.values()) == 1  # nobody received it twice
        assert by_status["sent"] <= len(launch) <= delivered
        status = broadcast_status(stack.store, "launch")
        assert any("newsletter" in reason for reason in status.reasons), status.reasons
        assert any("frequency cap" in reason for reason in status.reasons), status.reasons


async def test_a_broadcast_survives_a_temporal_server_restart(tmp_path: Path) -> None:
    """The dev server stopped mid-way and started again on its database: the broadcast
    carries on where it was, and every lead gets it once."""
    leads = 300
    inbox = Inbox()
    smtp = LocalController(inbox, hostname="127.0.0.1", port=0)
    smtp.start()
    async with dev_stack(tmp_path) as stack:
        prepare(stack, leads)
        worker = worker_process(stack.settings, tmp_path / "worker.log", **smtp_env(smtp))
        try:
            draft(stack)
            await schedule_broadcast(stack.client, stack.settings, stack.store, "launch", rate=20)
            handle = handle_of(stack.client, "launch")

            async def begun() -> bool:
                progress = await handle.query("progress", result_type=BroadcastProgress)
                return progress.handed >= 40

            await until(begun, timeout=120)
            address = stack.server.address
            stack.server.stop()
            port = int(address.rsplit(":", 1)[1])
            stack.server = await start_dev_server(
                tmp_path / "temporal", port=port, ui_port=free_port()
            )
            client = await connect_ready(stack.settings)
            progress = await handle_of(client, "launch").result()
            assert (progress.state, progress.handed) == ("finished", leads)

            async def all_sent() -> bool:
                rows = broadcast_sends(stack)
                return len(rows) == leads and {r.status for r in rows} <= {"sent", "uncertain"}

            await until(all_sent, timeout=240)
        finally:
            worker.kill()
            worker.wait()
            smtp.stop()
    launch = [m for m in inbox.received if m.message["Subject"].startswith("Launch day")]
    receivers = Counter(to for m in launch for to in m.rcpt_tos)
    assert max(receivers.values()) == 1 and len(receivers) >= leads - 8
