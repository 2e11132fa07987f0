"""`make demo`: the local stack plus ten sample leads whose journeys move in seconds.

Starts the Temporal dev server (Web UI on :8233) and a worker, starts a journey per
lead on the `quickstart` demo scenario, plays realistic behaviour (one lead goes hot
and is handed off, one unsubscribes, one stays cold, ...), shows every journey live,
and ends with a table and the UI link. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import uvicorn
from rich.console import Console
from rich.live import Live
from rich.table import Table
from temporalio.client import Client

from nurture.api.app import create_app
from nurture.api.auth import create_api_key
from nurture.channels.line.links import issue_link_token
from nurture.channels.line.push import LineOutbox
from nurture.cli.devstack import connect_ready, port_open, start_dev_server
from nurture.config import LineChannel, Settings
from nurture.journey.client import give_feedback, handle, journey_state, start_journey
from nurture.journey.contract import JourneyState, SalesFeedback, Unsubscribe
from nurture.leads.events import BehaviorEvent
from nurture.store.engine import ConsentIn, LeadIn, Store
from nurture.worker_setup import build_worker

PRODUCT = "quickstart"
DEMO_SCENARIOS = Path(__file__).resolve().parents[2] / "demo" / "scenarios"
console = Console()


@dataclass(frozen=True)
class SampleLead:
    key: str
    first: str
    last: str
    company: str
    title: str
    role: str
    industry: str
    size: int
    story: str


SAMPLE_LEADS = [
    SampleLead(
        "aiko",
        "Aiko",
        "Sato",
        "Example KK",
        "CFO",
        "executive",
        "saas",
        800,
        "visits product pages, checks pricing → hot → handed off, accepted by sales",
    ),
    SampleLead(
        "tom",
        "Tom",
        "Baker",
        "Baker Tools",
        "Engineer",
        "practitioner",
        "manufacturing",
        60,
        "unsubscribes",
    ),
    SampleLead(
        "ken",
        "Ken",
        "Ito",
        "Ito Retail",
        "Clerk",
        "practitioner",
        "retail",
        20,
        "does nothing: stays cold on the monthly track",
    ),
    SampleLead(
        "mia",
        "Mia",
        "Chen",
        "Chen Cloud",
        "Team lead",
        "manager",
        "saas",
        300,
        "links LINE, downloads a guide (trigger email), attends a webinar → warm track, "
        "whose webinar invitation reaches her on LINE (everyone else by email)",
    ),
    SampleLead(
        "raj",
        "Raj",
        "Patel",
        "Patel Motors",
        "VP Operations",
        "executive",
        "manufacturing",
        2000,
        "opens and clicks emails",
    ),
    SampleLead(
        "lena",
        "Lena",
        "Vogel",
        "Vogel Data",
        "CTO",
        "executive",
        "saas",
        150,
        "goes hot, is handed off, sales rejects → recycled",
    ),
    SampleLead(
        "sofia",
        "Sofia",
        "Rossi",
        "Rossi Apps",
        "Designer",
        "practitioner",
        "saas",
        90,
        "browses, then the careers page (negative points)",
    ),
    SampleLead(
        "yuki",
        "Yuki",
        "Tanaka",
        "Tanaka Works",
        "Plant manager",
        "manager",
        "manufacturing",
        500,
        "downloads twice: one trigger email (cool-down)",
    ),
    SampleLead(
        "omar",
        "Omar",
        "Haddad",
        "Haddad Freight",
        "Director",
        "executive",
        "logistics",
        40,
        "paused by an operator, then resumed",
    ),
    SampleLead(
        "emma",
        "Emma",
        "Jones",
        "Jones Labs",
        "Analyst",
        "practitioner",
        "saas",
        70,
        "buys: the exit rule ends the journey",
    ),
]

Action = Callable[[Client, str, Settings], Awaitable[None]]


class Cue(NamedTuple):
    """One scripted moment: at `at` seconds, `act` on `lead`, once `ready` holds for it.

    `ready` keeps the story true on a slow machine: a lead unsubscribes from an email it
    has received, whatever the worker's pace.
    """

    at: float
    lead: str
    act: Action
    ready: Callable[[JourneyState], bool] | None = None


def _event(type: str, url: str | None = None, **properties: object) -> Action:
    async def act(client: Client, lead_id: str, settings: Settings) -> None:
        event = BehaviorEvent(
            event_id=f"demo-{lead_id}-{type}-{time.monotonic_ns()}",
            type=type,
            occurred_at=datetime.now(UTC),
            url=url,
            properties=properties,
        )
        await handle(client, PRODUCT, lead_id).signal("behavior", event)

    return act


def _feedback(outcome: str, reason: str = "") -> Action:
    async def act(client: Client, lead_id: str, settings: Settings) -> None:
        feedback = SalesFeedback(outcome=outcome, reason=reason, by="demo-sales")
        await give_feedback(client, PRODUCT, lead_id, feedback)

    return act


def _signal(name: str, arg: object | None = None) -> Action:
    async def act(client: Client, lead_id: str, settings: Settings) -> None:
        target = handle(client, PRODUCT, lead_id)
        await (target.signal(name) if arg is None else target.signal(name, arg))

    return act


def _line_link() -> Action:
    """The lead links LINE: LINE's signed `accountLink` event, posted to the demo's API as
    LINE would post it (the nonce a link token Nurture issued for the lead)."""

    async def act(client: Client, lead_id: str, settings: Settings) -> None:
        channel = settings.line_channels[PRODUCT]
        token = issue_link_token(lead_id, PRODUCT, settings.secret_key, datetime.now(UTC))
        event = {
            "type": "accountLink",
            "mode": "active",
            "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": f"Udemo{lead_id[3:]}"},
            "webhookEventId": f"demo-link-{lead_id}",
            "deliveryContext": {"isRedelivery": False},
            "replyToken": f"demo-{lead_id}",
            "link": {"result": "ok", "nonce": token},
        }
        body = json.dumps({"destination": "Udemo", "events": [event]}).encode()
        mac = hmac.new(channel.secret.get_secret_value().encode(), body, hashlib.sha256)
        request = urllib.request.Request(
            f"{settings.public_base_url}/v1/webhooks/line/{PRODUCT}",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Line-Signature": base64.b64encode(mac.digest()).decode(),
            },
            method="POST",
        )
        await asyncio.to_thread(urllib.request.urlopen, request, timeout=5)

    return act


def _handed_off(state: JourneyState) -> bool:
    """Sales answers a hand-off it has received."""
    return state.lifecycle == "handed_off"


def _accepted(state: JourneyState) -> bool:
    return state.lifecycle == "sal"


PRODUCT_URL = "https://quickstart.example.com/product"
SCRIPT: list[Cue] = [
    Cue(4, "aiko", _event("product_page", PRODUCT_URL)),
    Cue(3, "mia", _line_link()),
    Cue(5, "mia", _event("document_download", document="guide")),
    Cue(6, "aiko", _event("product_page", PRODUCT_URL)),
    Cue(6, "lena", _event("product_page", PRODUCT_URL)),
    Cue(7, "raj", _event("email_open")),
    Cue(7, "sofia", _event("page_view", "https://quickstart.example.com/blog")),
    Cue(8, "aiko", _event("product_page", PRODUCT_URL)),
    Cue(8, "lena", _event("product_page", PRODUCT_URL)),
    Cue(8, "omar", _signal("pause")),
    Cue(9, "lena", _event("product_page", PRODUCT_URL)),
    Cue(
        10,
        "tom",
        _signal("unsubscribe", Unsubscribe(reason="one-click unsubscribe")),
        ready=lambda st: st.emails_sent >= 1,  # from the link in his welcome email
    ),
    Cue(11, "raj", _event("email_click", "https://quickstart.example.com/guide")),
    Cue(12, "aiko", _event("pricing_page", "https://quickstart.example.com/pricing")),
    Cue(13, "sofia", _event("careers_page", "https://quickstart.example.com/careers")),
    Cue(14, "lena", _event("webinar_attended", webinar="live-demo")),
    Cue(15, "mia", _event("webinar_attended", webinar="live-demo")),
    Cue(16, "raj", _event("email_open")),
    Cue(17, "raj", _event("email_click", "https://quickstart.example.com/benchmark")),
    Cue(20, "yuki", _event("document_download", document="catalogue")),
    Cue(22, "yuki", _event("document_download", document="catalogue")),
    Cue(24, "lena", _feedback("rejected", "no budget this year"), ready=_handed_off),
    Cue(25, "aiko", _feedback("accepted", "call booked"), ready=_handed_off),
    Cue(30, "omar", _signal("resume")),
    Cue(30, "emma", _event("purchase")),
    Cue(35, "aiko", _feedback("contacted", "discovery call held"), ready=_accepted),
]
DEMO_SECONDS = 45
# A cue waits for its lead (sales answers a hand-off it has received): on a slow machine the
# story may need longer than DEMO_SECONDS, and gets it, up to this.
DEMO_SECONDS_MAX = 120


async def run_demo(
    lead_count: int = 10,
    *,
    port: int = 7233,
    ui_port: int = 8233,
    api_port: int = 8000,
    data_dir: Path = Path(".nurture"),
    stay: bool = True,
) -> dict[str, JourneyState]:
    """Run the demo; returns the final state of each sample lead's journey."""
    server = await start_dev_server(data_dir, port=port, ui_port=ui_port)
    settings = Settings(
        temporal_address=server.address,
        temporal_ui_url=server.ui_url,
        database_url=f"sqlite:///{data_dir}/demo.db",
        scenarios_dir=DEMO_SCENARIOS,
        email_provider="outbox",  # sample leads: their emails land in .eml files, never out
        outbox_dir=data_dir / "outbox",
        task_queue="nurture-demo",
        public_base_url=f"http://localhost:{api_port}",
        # LINE messages land in <outbox>/.line/ as JSON; this run's own secret signs the
        # account link the demo posts to its API, as LINE would
        line_channels={
            PRODUCT: LineChannel.model_validate(
                {"access_token": "demo", "secret": secrets.token_urlsafe(24)}
            )
        },
    )
    console.print(
        f"[bold]Temporal dev server[/bold] at {server.address} · Web UI {server.ui_url}"
        + ("" if server.process else " (already running; reused)")
    )
    worker_task: asyncio.Task[None] | None = None
    api: tuple[uvicorn.Server, asyncio.Task[None], str] | None = None
    try:
        client = await connect_ready(settings)
        store = Store(settings.database_url)
        store.upgrade()  # the embedded store upgrades itself
        worker = build_worker(client, settings, store)
        worker_task = asyncio.create_task(worker.run())
        api = await _start_api(settings, store, api_port)
        leads = await _start_leads(client, settings, store, SAMPLE_LEADS[:lead_count])
        states = await _play(client, leads, settings)
        _print_final(states, leads, settings, api[2] if api else None)
        if stay:
            console.print(
                "[dim]The stack keeps running so you can explore the UI. "
                "Press Ctrl-C to stop everything.[/dim]"
            )
            await asyncio.Event().wait()
        return states
    finally:
        if api is not None:
            api[0].should_exit = True
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(api[1], timeout=5)
        if worker_task is not None:
            with contextlib.suppress(BaseException):
                await worker.shutdown()
        server.stop()


async def _start_api(
    settings: Settings, store: Store, port: int
) -> tuple[uvicorn.Server, asyncio.Task[None], str] | None:
    """The HTTP API and the dashboard beside the demo (OpenAPI at /docs), with a key to try
    them; returns the server, its task and the key."""
    if port_open("127.0.0.1", port):
        console.print(f"[yellow]port {port} is taken: the demo runs without its API[/yellow]")
        return None
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    api = uvicorn.Server(config)
    task = asyncio.create_task(api.serve())
    while not api.started:
        await asyncio.sleep(0.05)
    key = create_api_key(store, "demo", ["ingest", "admin"])
    console.print(
        f"[bold]API[/bold] http://localhost:{port}/docs · key [cyan]{key}[/cyan]\n"
        f"  curl -H 'Authorization: Bearer {key}' http://localhost:{port}/readyz",
        highlight=False,
        soft_wrap=True,
    )
    return api, task, key


async def _start_leads(
    client: Client, settings: Settings, store: Store, samples: list[SampleLead]
) -> dict[str, tuple[SampleLead, str]]:
    run_tag = format(int(time.time()), "x")
    leads = {}
    for sample in samples:
        lead, _ = store.upsert_lead(
            LeadIn(
                email=f"{sample.key}+{run_tag}@example.com",
                external_id=f"demo-{run_tag}-{sample.key}",
                first_name=sample.first,
                last_name=sample.last,
                company=sample.company,
                title=sample.title,
                role=sample.role,
                industry=sample.industry,
                company_size=sample.size,
                source="webinar",
                consent=ConsentIn(
                    basis="opt_in_form",
                    wording="Send me news about Quickstart Analytics (webinar sign-up form)",
                    source="https://quickstart.example.com/webinar",
                ),
            )
        )
        await start_journey(client, settings, store, lead, PRODUCT)
        leads[sample.key] = (sample, lead.id)
    return leads


async def _play(
    client: Client, leads: dict[str, tuple[SampleLead, str]], settings: Settings
) -> dict[str, JourneyState]:
    started = time.monotonic()
    pending = sorted((cue for cue in SCRIPT if cue.lead in leads), key=lambda cue: cue.at)
    states: dict[str, JourneyState] = {}
    with Live(console=console, refresh_per_second=2) as live:
        while _playing(elapsed := time.monotonic() - started, pending):
            for cue in _due(pending, elapsed, states):
                pending.remove(cue)
                with contextlib.suppress(Exception):  # e.g. a lead that already left
                    await cue.act(client, leads[cue.lead][1], settings)
            states = await _states(client, leads)
            live.update(_table(states, leads, f"{elapsed:4.0f}s of {DEMO_SECONDS}s"))
            await asyncio.sleep(0.5)
    return await _states(client, leads)


def _playing(elapsed: float, pending: list[Cue]) -> bool:
    """The demo runs DEMO_SECONDS, and on until its last cue has played (at most
    DEMO_SECONDS_MAX), so a slow machine still tells the whole story."""
    return elapsed < DEMO_SECONDS or (bool(pending) and elapsed < DEMO_SECONDS_MAX)


def _due(pending: list[Cue], elapsed: float, states: dict[str, JourneyState]) -> list[Cue]:
    """The cues whose time has come and whose lead is ready for them, in script order."""
    return [
        cue
        for cue in pending
        if cue.at <= elapsed
        and (cue.ready is None or (cue.lead in states and cue.ready(states[cue.lead])))
    ]


async def _states(
    client: Client, leads: dict[str, tuple[SampleLead, str]]
) -> dict[str, JourneyState]:
    async def one(key: str, lead_id: str) -> tuple[str, JourneyState | None]:
        try:
            return key, await journey_state(client, PRODUCT, lead_id)
        except Exception:
            return key, None  # still loading its scenario

    results = await asyncio.gather(*(one(k, lead_id) for k, (_, lead_id) in leads.items()))
    return {k: s for k, s in results if s is not None}


_STAGE_STYLE = {"cold": "blue", "warm": "yellow", "hot": "bold red"}


def _table(
    states: dict[str, JourneyState], leads: dict[str, tuple[SampleLead, str]], title: str
) -> Table:
    table = Table(title=f"Nurture demo · {title}", expand=True)
    for column in ("lead", "stage", "score", "lifecycle", "track · step", "emails", "latest"):
        table.add_column(column, overflow="fold")
    for key, (sample, _) in leads.items():
        st = states.get(key)
        if st is None:
            table.add_row(f"{sample.first} {sample.last}", "…", "", "starting", "", "", "")
            continue
        latest = st.timeline[-1].text if st.timeline else ""
        step = st.step_key or "done"
        table.add_row(
            f"{sample.first} {sample.last}\n[dim]{sample.title}[/dim]",
            f"[{_STAGE_STYLE[st.stage]}]{st.stage}[/]",
            str(st.score.total),
            st.lifecycle
            + (" (paused)" if st.paused else "")
            + (" · ended" if st.ended_reason else ""),
            f"{st.track} · {step}",
            str(st.emails_sent),
            latest,
        )
    return table


def _print_final(
    states: dict[str, JourneyState],
    leads: dict[str, tuple[SampleLead, str]],
    settings: Settings,
    key: str | None,
) -> None:
    console.print(_table(states, leads, "final"))
    for sample, lead_id in leads.values():
        console.print(f"  [bold]{sample.first}[/bold] ({lead_id}): {sample.story}")
    query = "NurtureProduct%3D%22quickstart%22"
    ui = f"{settings.temporal_ui_url}/namespaces/default/workflows?query={query}"
    console.print(
        f"\n[bold]Temporal UI[/bold]: {ui}"
        f"\n[bold]Emails[/bold] (.eml files): {settings.outbox_dir / PRODUCT}"
        f"\n[bold]LINE messages[/bold] (JSON, as LINE gets them): "
        f"{LineOutbox(settings.outbox_dir).directory / PRODUCT}"
    )
    if key is not None:
        console.print(
            f"[bold]Dashboard[/bold]: {settings.public_base_url}/dashboard/products/{PRODUCT}"
            f" · sign in with the key [cyan]{key}[/cyan]",
            highlight=False,
            soft_wrap=True,
        )
