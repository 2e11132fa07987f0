"""Emails rendered and handed to the provider per second, beside a bare Jinja2 render.

House rule: performance is judged by benchmarks that print ratios against a floor measured
in the same run, never by timed assertions in tests. The floor here is the cheapest way to
produce the same email body: a plain `jinja2.Environment(autoescape=True)` rendering the
same template sources with the same context (no sandbox, no StrictUndefined, no subject,
no text part, no MIME, no provider). The ratio says how much of Jinja2's own speed the
worker's email path keeps.

    .venv/bin/python -m bench.render_send [--product cloudbook] [--step cold/welcome]
        [--emails 2000] [--sends 300] [--rounds 3] [--quick]

Lines, each timed `--rounds` times, interleaved, median reported:

  floor     bare Jinja2: the step's HTML template, same sources, same context;
  inlining  the floor, then css-inline writing the `<style>` rules onto the elements (what
            the worker adds to every HTML part so clients that drop `<style>` keep the
            look): the ratio prices the inlining alone;
  outbox    the worker's path without the store: sign the unsubscribe link, `compose_email`
            (context, sandboxed render of the HTML, text part and subject, MIME build) and
            the provider's `deliver` (serialise, write `<send_id>.eml`, atomic rename) —
            one line per provider in PROVIDERS;
  activity  `send_email` whole through temporalio's ActivityEnvironment on a SQLite store
            (lock the lead, create the send row, gate, claim; compose and deliver; mark
            sent), one distinct consenting lead per email.

Below the ratios, from a second, instrumented pass (so the timers do not slow the timed
one): where one email's time goes — context, render (of which CSS inlining, HTML → text),
MIME build, serialise, provider write — and CPU per email. The outbox writes into a
temporary folder; the file system it sits on is printed with the machine facts (tmpfs and
disk differ).
"""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
import sqlalchemy
import temporalio

import nurture.mail.compose as compose_module
import nurture.mail.render as render_module
from activities.email import EmailActivities, SendEmailInput
from bench.harness import cli
from bench.harness.cpu import Result, timed
from bench.harness.databases import sqlite_url, upgraded_store, upsert_leads
from bench.harness.report import machine_facts
from bench.harness.steps import ActivitySender, step_timers
from nurture.cli.preview import ScenarioEmail, find_email, load_product
from nurture.config import Settings
from nurture.mail.compose import Recipient, compose_email, unsubscribe_url
from nurture.mail.outbox import OutboxProvider
from nurture.mail.providers import EmailProvider, SendTags
from nurture.mail.render import (
    SAMPLE_JOURNEY,
    SAMPLE_LEADS,
    TemplateRenderer,
    email_context,
    inline_css,
)
from nurture.scenario.model import Scenario
from nurture.scenario.pins import pin_templates
from nurture.store.engine import Store
from nurture.store.models import utcnow

REPO = Path(__file__).resolve().parent.parent
WARMUP = 50  # emails of each kind run untimed first: Jinja's compiled templates, caches
BASE_URL = "https://nurture.example.com"
SECRET = "bench-secret"


# ---- providers under test -----------------------------------------------------------------


def outbox(folder: Path) -> AbstractContextManager[EmailProvider]:
    return nullcontext(OutboxProvider(folder))


@dataclass(frozen=True)
class ProviderUnderTest:
    label: str
    open: Callable[[Path], AbstractContextManager[EmailProvider]]  # a fresh folder per round


PROVIDERS: list[ProviderUnderTest] = [
    ProviderUnderTest("outbox (.eml files)", outbox),
    # sendgrid (local server): add ProviderUnderTest("sendgrid (local server)", ...) here,
    # whose `open` starts the local SendGrid-compatible HTTP server of the tests and yields
    # a SendGridProvider pointed at it (both come with the providers branch of issue 5).
]


def deliver(provider: EmailProvider, message: EmailMessage, send_id: str, product: str) -> str:
    """Hand one message to a provider, with the send's ids as the worker passes them."""
    tags = SendTags(
        send_id=send_id,
        journey_id=f"journey:{product}:bench",
        lead_id="bench",
        product=product,
        mail_type="step",
        send_key="cold#1/bench",
        variant=0,
    )
    return provider.deliver(message, tags)


# ---- the work -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One email: a lead (the sample leads in turn) and its ids."""

    lead_id: str
    send_id: str
    recipient: Recipient
    context: dict[str, Any]  # the floor's context: what compose_email builds for this lead


@dataclass
class Case:
    scenario: Scenario
    folder: Path
    email: ScenarioEmail
    sources: dict[str, str]

    @property
    def journey(self) -> dict[str, Any]:
        return {**SAMPLE_JOURNEY, "track": self.email.track, "step": self.email.send_key}

    def items(self, tag: str, count: int) -> list[Item]:
        found = []
        for i in range(count):
            lead_id = f"ld_{tag}{i:012x}"
            fields = SAMPLE_LEADS[i % len(SAMPLE_LEADS)]
            recipient = Recipient(f"lead-{tag}-{i}@bench.example.com", fields)
            link = unsubscribe_url(BASE_URL, SECRET, lead_id, self.scenario.product)
            context = email_context(
                self.scenario.brand,
                fields,
                unsubscribe_url=link,
                preferences_url=link,
                journey=self.journey,
            )
            found.append(Item(lead_id, f"snd_{tag}{i:020x}", recipient, context))
        return found


def bare_render(case: Case, *, inline: bool = False) -> Callable[[Sequence[Item]], None]:
    """The floor; `inline`: then the worker's CSS inlining of the rendered HTML."""
    environment = jinja2.Environment(loader=jinja2.DictLoader(case.sources), autoescape=True)
    name = f"{case.email.variants[0][1]}.html"

    def run(items: Sequence[Item]) -> None:
        for item in items:
            html = environment.get_template(name).render(item.context)
            if inline:
                inline_css(html)

    return run


def worker_path(case: Case, provider: EmailProvider) -> Callable[[Sequence[Item]], None]:
    """What `EmailActivities._message` and the provider call do, without the store."""
    renderer = TemplateRenderer.from_sources(case.sources)
    product, brand, journey = case.scenario.product, case.scenario.brand, case.journey
    subject, template = case.email.variants[0]

    def run(items: Sequence[Item]) -> None:
        for item in items:
            link = unsubscribe_url(BASE_URL, SECRET, item.lead_id, product)
            email = compose_email(
                renderer,
                brand,
                item.recipient,
                template=template,
                subject=subject,
                journey=journey,
                unsubscribe_url=link,
                send_id=item.send_id,
                sent_at=utcnow(),
            )
            deliver(provider, email.message, item.send_id, product)

    return run


class ActivityPath:
    """`send_email` as the worker holds it, on a SQLite store, run the way the tests run it."""

    def __init__(self, case: Case, store: Store, tmp: Path) -> None:
        self.case = case
        self.store = store
        product, version = case.scenario.product, case.scenario.version
        pin_templates(store, case.folder, product, version)
        settings = Settings(
            database_url=store.url,
            outbox_dir=tmp / "activity-outbox",
            public_base_url=BASE_URL,
            secret_key=SECRET,
        )
        self.sender = ActivitySender(
            EmailActivities(store, settings, OutboxProvider(settings.outbox_dir))
        )

    def inputs(self, tag: str, count: int) -> list[SendEmailInput]:
        """Distinct consenting leads (the weekly cap never defers), created untimed."""
        case, email = self.case, self.case.email

        def fields(i: int) -> dict[str, Any]:
            return {k: v for k, v in SAMPLE_LEADS[i % len(SAMPLE_LEADS)].items() if v}

        return [
            SendEmailInput(
                brand=case.scenario.brand,
                scenario_version=case.scenario.version,
                journey_id=f"journey:{case.scenario.product}:{lead.id}",
                lead_id=lead.id,
                product=case.scenario.product,
                send_key=email.send_key,
                mail_type=email.mail_type,
                template=email.variants[0][1],
                subject=email.variants[0][0],
                variant=0,
                journey_time=datetime.now(UTC),
                journey=case.journey,
            )
            for lead in upsert_leads(self.store, tag, count, fields)
        ]


# ---- measuring ----------------------------------------------------------------------------


@dataclass
class Line:
    """One measure, timed once a round: its median rate and CPU per email."""

    label: str
    timings: list[Result]

    @property
    def rate(self) -> float:
        return statistics.median(t.rate for t in self.timings)

    @property
    def cpu_ms(self) -> float:
        return statistics.median(t.per_item_ms("bench") or 0.0 for t in self.timings)


def where_time_goes(case: Case, provider: EmailProvider, items: Sequence[Item]) -> dict[str, float]:
    """Per email, ms, with the worker path's parts wrapped by timers for one pass."""
    targets: list[tuple[str, object, str]] = [
        ("context (email_context)", compose_module, "email_context"),
        ("render: HTML, text part, subject", TemplateRenderer, "render"),
        ("  of which CSS inlining (css-inline)", render_module, "inline_css"),
        ("  of which HTML → text part", render_module, "html_to_text"),
        ("MIME build (build_message)", compose_module, "build_message"),
        ("provider.deliver", type(provider), "deliver"),
        ("  of which serialise (bytes(message))", EmailMessage, "__bytes__"),
    ]
    run = worker_path(case, provider)
    with step_timers(targets) as totals:
        start = time.perf_counter()
        run(items)
        wall = time.perf_counter() - start
    per_email = {label: seconds / len(items) * 1000 for label, seconds in totals.items()}
    deliver_ms = per_email.pop("provider.deliver")
    serialise_ms = per_email.pop("  of which serialise (bytes(message))")
    per_email["serialise (bytes(message))"] = serialise_ms
    per_email["provider write (deliver − serialise)"] = deliver_ms - serialise_ms
    parts = [v for k, v in per_email.items() if not k.startswith(" ")]
    per_email["the rest: unsubscribe link, loop"] = wall / len(items) * 1000 - sum(parts)
    per_email["total, instrumented"] = wall / len(items) * 1000
    return per_email


@dataclass
class Run:
    lines: list[Line]
    breakdowns: dict[str, dict[str, float]]
    floor_ms: float
    activity_overhead_ms: float
    email_bytes: int
    html_chars: int


def measure(case: Case, tmp: Path, emails: int, sends: int, rounds: int) -> Run:
    with upgraded_store(sqlite_url(tmp)) as store:
        return _measure(case, ActivityPath(case, store, tmp), tmp, emails, sends, rounds)


def _measure(
    case: Case, activity: ActivityPath, tmp: Path, emails: int, sends: int, rounds: int
) -> Run:
    floor = Line("floor: bare Jinja2 render (HTML only)", [])
    inlined = Line("floor + CSS inlining (css-inline)", [])
    paths = [Line(f"{p.label}: render + MIME + deliver", []) for p in PROVIDERS]
    activity_line = Line("send_email activity, outbox, SQLite store", [])
    floor_run, inlined_run = bare_render(case), bare_render(case, inline=True)
    floor_run(case.items("w", WARMUP))
    inlined_run(case.items("w", WARMUP))
    activity.sender.send_all(activity.inputs("warm", WARMUP))
    for r in range(rounds):
        items = case.items(f"r{r}", emails)
        floor.timings.append(timed(emails, partial(floor_run, items)))
        inlined.timings.append(timed(emails, partial(inlined_run, items)))
        for i, (provider_under_test, line) in enumerate(zip(PROVIDERS, paths, strict=True)):
            with provider_under_test.open(tmp / f"provider{i}-round{r}") as provider:
                run = worker_path(case, provider)
                run(case.items(f"w{r}", WARMUP))
                line.timings.append(timed(emails, partial(run, items)))
        inputs = activity.inputs(f"round{r}", sends)
        activity_line.timings.append(timed(sends, partial(activity.sender.send_all, inputs)))
        print(f"round {r + 1}/{rounds} done", file=sys.stderr, flush=True)

    breakdowns = {}
    for i, provider_under_test in enumerate(PROVIDERS):
        with provider_under_test.open(tmp / f"provider{i}-instrumented") as provider:
            breakdowns[provider_under_test.label] = where_time_goes(
                case, provider, case.items("p", emails)
            )
    overhead_ms = activity.sender.context_ms(WARMUP * 4)
    sample = worker_path_message(case)
    html = sample.get_body(("html",))
    assert html is not None, "the step's email has no HTML part"
    return Run(
        [floor, inlined, *paths, activity_line],
        breakdowns,
        1000 / floor.rate,
        overhead_ms,
        len(bytes(sample)),
        len(html.get_content()),
    )


def worker_path_message(case: Case) -> EmailMessage:
    item = case.items("s", 1)[0]
    return compose_email(
        TemplateRenderer.from_sources(case.sources),
        case.scenario.brand,
        item.recipient,
        template=case.email.variants[0][1],
        subject=case.email.variants[0][0],
        journey=case.journey,
        unsubscribe_url=unsubscribe_url(BASE_URL, SECRET, item.lead_id, case.scenario.product),
        send_id=item.send_id,
        sent_at=utcnow(),
    ).message


# ---- the report ---------------------------------------------------------------------------


def report(case: Case, run: Run, emails: int, sends: int, rounds: int) -> None:
    print(
        f"\n{case.scenario.product} {case.email.label} (template {case.email.variants[0][1]!r}, "
        f"{run.html_chars:,} characters of HTML, {run.email_bytes:,} bytes as .eml); "
        f"{emails} emails per round ({sends} for the activity), median of {rounds} rounds"
    )
    floor = run.lines[0]
    print(f"\n{'measure':<46}{'emails/s':>10}{'ratio':>8}{'CPU ms/email':>14}")
    for line in run.lines:
        print(
            f"{line.label:<46}{line.rate:>10.1f}{line.rate / floor.rate:>8.4f}{line.cpu_ms:>14.3f}"
        )
    print("ratio: emails/s against the floor measured in the same run")

    for label, parts in run.breakdowns.items():
        print(f"\n{label}: where one email's time goes (instrumented pass), ms")
        for part, ms in parts.items():
            print(f"  {part:<44}{ms:>8.3f}")
        print(f"  {'(floor: bare Jinja2 render of the HTML)':<44}{run.floor_ms:>8.3f}")
    activity = run.lines[-1]
    per_send = 1000 / activity.rate
    path = 1000 / run.lines[2].rate  # PROVIDERS[0], the outbox, which the activity uses
    print(f"\nsend_email activity: {per_send:.3f} ms per email, of which")
    print(f"  {'render + MIME + outbox (the outbox line)':<44}{path:>8.3f}")
    print(f"  {'ActivityEnvironment (a no-op run)':<44}{run.activity_overhead_ms:>8.3f}")
    rest = per_send - path - run.activity_overhead_ms
    print(f"  {'the rest: store (2 transactions), gate, claim':<44}{rest:>8.3f}")


def facts(tmp: Path) -> str:
    try:
        fs = subprocess.run(
            ["stat", "-f", "-c", "%T", str(tmp)], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        fs = "unknown"
    return machine_facts(
        [
            f"Jinja2 {jinja2.__version__}",
            f"SQLAlchemy {sqlalchemy.__version__}",
            f"SQLite {sqlite3.sqlite_version}",
            f"temporalio {temporalio.__version__}",
        ],
        [f"outbox and store in {tmp} ({fs} file system; no fsync by the outbox)"],
    )


def main(product: str, step: str, scenarios: Path, emails: int, sends: int, rounds: int) -> None:
    started = time.monotonic()
    scenario, folder = load_product(scenarios, product)
    case = Case(
        scenario,
        folder,
        find_email(scenario, step),
        {p.name: p.read_text(encoding="utf-8") for p in (folder / "templates").glob("*")},
    )
    with tempfile.TemporaryDirectory(prefix="nurture-bench-") as tmp:
        run = measure(case, Path(tmp), emails, sends, rounds)
        about = facts(Path(tmp))
    report(case, run, emails, sends, rounds)
    print(f"\n{about}\ntotal run {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    parser = cli.parser(__doc__)
    parser.add_argument("--product", default="cloudbook", help="a product under --scenarios")
    parser.add_argument("--step", default="cold/welcome", help="as `nurture preview` takes it")
    parser.add_argument("--scenarios", type=Path, default=REPO / "scenarios")
    parser.add_argument("--emails", type=int, default=2000, help="emails per round and line")
    parser.add_argument("--sends", type=int, default=300, help="activity sends per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = cli.parse(parser, quick={"emails": 200, "sends": 30, "rounds": 1})
    if min(args.emails, args.sends, args.rounds) < 1:
        parser.error("--emails, --sends and --rounds must be at least 1")
    main(args.product, args.step, args.scenarios, args.emails, args.sends, args.rounds)
