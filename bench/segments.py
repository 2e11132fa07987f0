"""Segment counts on PostgreSQL beside the bare SQL of the same filter, in the same run.

    .venv/bin/python -m bench.segments [--leads N] [--events E] [--quick]

One fresh database (dropped at the end) on the server of NURTURE_BENCH_POSTGRES_URL, at
this code's schema, filled by SQL (generate_series) with N leads (default 1,000,000) and
E behaviour events (default 10,000,000) spread over 400 days, plus journeys and their
status for two products, consents and email engagements; then ANALYZE.

For each typical segment (the shipped ones' shapes), the count Nurture runs (compiled by
nurture/segments/sql.py) and a hand-written SQL count of the same filter, each the best of
three after a warm-up, on the same connection pool. The issue's targets: a typical segment
counts in at most 1 s, and within 3× the bare SQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from bench.harness import cli
from bench.harness.databases import bench_database, upgraded_store
from bench.harness.report import machine_facts
from nurture.leads.attributes import AttributeCatalog, AttributeSpec
from nurture.segments.definitions import Known
from nurture.segments.membership import SegmentBook
from nurture.segments.model import Segment
from nurture.store.engine import Store
from nurture.store.models import Lead

NOW = datetime(2027, 3, 1, tzinfo=UTC)
TARGET_SECONDS = 1.0
TARGET_RATIO = 3.0
CATALOG = AttributeCatalog.of(
    [
        (
            "cloudbook",
            {
                "current_tool": AttributeSpec(
                    type="enum", values=["excel", "paper", "other_saas", "none"]
                ),
                "invoice_volume": AttributeSpec(type="number"),
                "budget_approved": AttributeSpec(type="boolean"),
            },
        )
    ]
)
SEGMENTS: dict[str, dict[str, object]] = {
    "seminar-invite": {
        "product": "cloudbook",
        "stage": ["warm", "hot"],
        "lifecycle": ["nurturing", "recycled"],
        "lead": {"any": [{"industry": ["finance"]}, {"department": ["accounting"]}]},
        "not": {"did": {"event": "seminar_attended", "within": "365d"}},
    },
    "pricing-lookers": {
        "product": "cloudbook",
        "visited": {"url": "*/pricing*", "within": "14d"},
        "lead": {"current_tool": ["excel", "paper"], "company_size": {"at_least": 100}},
    },
    "engaged-budget": {
        "product": "cloudbook",
        "opened": {"within": "30d"},
        "lead": {"budget_approved": True},
    },
    "newsletter": {"product": "cloudbook", "consent": "email"},
    "frequent-visitors": {
        "product": "smartfactory",
        "score": {"at_least": 40},
        "did": {"event": "product_page", "at_least": 2, "within": "90d"},
    },
}
BARE: dict[str, str] = {
    "seminar-invite": """
        SELECT count(*) FROM leads l JOIN journey_status s
          ON s.lead_id = l.id AND s.product = 'cloudbook'
        WHERE l.erased_at IS NULL AND s.stage IN ('warm', 'hot')
          AND s.lifecycle IN ('nurturing', 'recycled')
          AND (lower(trim(l.industry)) = 'finance' OR lower(trim(l.department)) = 'accounting')
          AND NOT EXISTS (SELECT 1 FROM events e WHERE e.lead_id = l.id
                          AND e.type = 'seminar_attended'
                          AND e.occurred_at >= :now - interval '365 days')""",
    "pricing-lookers": """
        SELECT count(*) FROM leads l
        WHERE l.erased_at IS NULL
          AND EXISTS (SELECT 1 FROM journeys j WHERE j.lead_id = l.id AND j.product = 'cloudbook')
          AND EXISTS (SELECT 1 FROM events e WHERE e.lead_id = l.id AND e.type = 'page_view'
                      AND e.url LIKE '%/pricing%' AND e.occurred_at >= :now - interval '14 days')
          AND lower(trim(l.attributes ->> 'current_tool')) IN ('excel', 'paper')
          AND l.company_size >= 100""",
    "engaged-budget": """
        SELECT count(*) FROM leads l
        WHERE l.erased_at IS NULL
          AND EXISTS (SELECT 1 FROM journeys j WHERE j.lead_id = l.id AND j.product = 'cloudbook')
          AND EXISTS (SELECT 1 FROM engagements g WHERE g.lead_id = l.id AND g.human
                      AND g.kind IN ('opened', 'clicked')
                      AND g.occurred_at >= :now - interval '30 days')
          AND (l.attributes ->> 'budget_approved')::boolean""",
    "newsletter": """
        SELECT count(*) FROM leads l
        WHERE l.erased_at IS NULL
          AND EXISTS (SELECT 1 FROM journeys j WHERE j.lead_id = l.id AND j.product = 'cloudbook')
          AND EXISTS (SELECT 1 FROM consents c WHERE c.lead_id = l.id AND c.channel = 'email'
                      AND c.withdrawn_at IS NULL AND c.product IN ('', 'cloudbook'))""",
    "frequent-visitors": """
        SELECT count(*) FROM leads l JOIN journey_status s
          ON s.lead_id = l.id AND s.product = 'smartfactory'
        WHERE l.erased_at IS NULL AND s.score >= 40
          AND l.id IN (SELECT e.lead_id FROM events e WHERE e.type = 'product_page'
                       AND e.occurred_at >= :now - interval '90 days'
                       GROUP BY e.lead_id HAVING count(*) >= 2)""",
}

# The data, by SQL: leads first, then what hangs off them. `i` numbers the leads.
FILL = [
    """INSERT INTO leads (id, email, industry, department, company_size, source, attributes,
                          created_at, updated_at)
       SELECT 'ld_' || lpad(i::text, 12, '0'), 'lead' || i || '@example.com',
              (ARRAY['finance','manufacturing','retail','it_services','logistics'])[1 + i % 5],
              (ARRAY['accounting','sales','it','operations'])[1 + (i / 5) % 4],
              10 + (i * 7919) % 3000,
              'website',
              json_build_object('current_tool',
                                (ARRAY['excel','paper','other_saas','none'])[1 + i % 4],
                                'invoice_volume', (i * 31) % 2000,
                                'budget_approved', i % 3 = 0),
              :now, :now
       FROM generate_series(1::bigint, :leads) AS i""",
    """INSERT INTO journeys (workflow_id, lead_id, product, started_at, confirmed_at)
       SELECT 'journey:' || v.p || ':' || l.id, l.id, v.p, :now, :now
       FROM leads l CROSS JOIN (VALUES ('cloudbook', 7), ('smartfactory', 4)) AS v(p, share)
       WHERE abs(hashtext(l.id || v.p)) % 10 < v.share""",
    """INSERT INTO journey_status (journey_id, lead_id, product, stage, stage_seq, lifecycle,
                                  lifecycle_seq, score, score_at)
       SELECT workflow_id, lead_id, product,
              (ARRAY['cold','cold','cold','warm','warm','hot'])
                  [1 + abs(hashtext(workflow_id)) % 6],
              1, (ARRAY['nurturing','nurturing','nurturing','recycled','handed_off','customer'])
                  [1 + abs(hashtext(workflow_id || 'l')) % 6],
              1, abs(hashtext(workflow_id || 's')) % 100, :now
       FROM journeys""",
    """INSERT INTO consents (lead_id, basis, product, channel, obtained_at, recorded_at)
       SELECT id, 'opt_in_form', '', 'email', :now, :now FROM leads
       WHERE abs(hashtext(id || 'c')) % 10 < 8""",
    """INSERT INTO events (event_id, lead_id, type, url, product, properties, occurred_at,
                          received_at)
       SELECT 'ev' || n, 'ld_' || lpad((1 + abs(hashtext('l' || n)) % :leads)::text, 12, '0'),
              t, CASE WHEN t = 'page_view' THEN
                   (ARRAY['https://cloudbook.example/pricing', 'https://cloudbook.example/',
                          'https://cloudbook.example/blog/x', 'https://smartfactory.example/'])
                   [1 + (n / 7) % 4] END,
              'cloudbook', '{}', :now - ((n * 7907) % (400 * 86400)) * interval '1 second', :now
       FROM generate_series(1::bigint, :events) AS n,
            LATERAL (SELECT (ARRAY['page_view','page_view','page_view','product_page',
                                   'document_download','pricing_page','email_open',
                                   'email_click','webinar_attended','seminar_attended'])
                            [1 + abs(hashtext('t' || n)) % 10] AS t) AS kinds""",
    """INSERT INTO engagements (fact_id, send_id, lead_id, product, kind, human, source,
                               occurred_at, recorded_at)
       SELECT 'f' || n, 's' || n,
              'ld_' || lpad((1 + abs(hashtext('g' || n)) % :leads)::text, 12, '0'),
              'cloudbook', (ARRAY['delivered','opened','clicked'])[1 + n % 3],
              CASE WHEN n % 3 = 0 THEN NULL ELSE n % 4 <> 0 END, 'sendgrid',
              :now - ((n * 104723) % (120 * 86400)) * interval '1 second', :now
       FROM generate_series(1::bigint, :events / 5) AS n""",
]


def fill(store: Store, leads: int, events: int) -> None:
    """The data, with the big tables' secondary indexes built after their rows (as a bulk
    load does), then ANALYZE."""
    with store.engine.begin() as db:
        dropped = db.execute(
            text(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename IN "
                "('events', 'engagements') AND indexname NOT LIKE 'pk_%'"
            )
        ).all()
        for table, name, _ in dropped:
            db.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT IF EXISTS "{name}"'))
            db.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
    for statement in FILL:
        began = time.perf_counter()
        with store.engine.begin() as db:
            db.execute(text(statement), {"now": NOW, "leads": leads, "events": events})
        print(f"  {statement.split()[2]:<16} {time.perf_counter() - began:6.1f} s", flush=True)
    began = time.perf_counter()
    with store.engine.begin() as db:
        for _, _, definition in dropped:
            db.execute(text(definition))
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
        db.execute(text("VACUUM ANALYZE"))  # what autovacuum keeps up in production
    print(f"  {'indexes+vacuum':<16} {time.perf_counter() - began:6.1f} s", flush=True)


def best_of(run: Callable[[], int], times: int = 3) -> tuple[float, int]:
    run()  # warm-up: the pages it reads are in the cache for both sides alike
    best, found = float("inf"), 0
    for _ in range(times):
        began = time.perf_counter()
        found = run()
        best = min(best, time.perf_counter() - began)
    return best, found


def main() -> None:
    parser = cli.parser(__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    args = cli.parse(parser, {"leads": 20_000, "events": 200_000})
    segments = {name: Segment.model_validate({**d, "name": name}) for name, d in SEGMENTS.items()}
    known = Known(products=frozenset({"cloudbook", "smartfactory"}), attributes=CATALOG)
    book = SegmentBook(segments, known, frozenset(segments))
    with bench_database() as url, upgraded_store(url) as store:
        print(f"filling {args.leads:,} leads and {args.events:,} events…", flush=True)
        fill(store, args.leads, args.events)
        print(f"\n{'segment':<20}{'bare s':>9}{'nurture s':>11}{'ratio':>8}{'leads':>10}  target")
        worst = 0.0
        for name in SEGMENTS:
            where = book.where(name, NOW)

            def ours(where: object = where) -> int:
                with store.engine.connect() as db:
                    query = select(func.count()).select_from(Lead).where(where)  # type: ignore[arg-type]
                    return int(db.execute(query).scalar_one())

            def bare(sql: str = BARE[name]) -> int:
                with store.engine.connect() as db:
                    return int(db.execute(text(sql), {"now": NOW}).scalar_one())

            floor_s, floor_n = best_of(bare)
            ours_s, ours_n = best_of(ours)
            if floor_n != ours_n:
                raise SystemExit(f"{name}: Nurture counted {ours_n}, the bare SQL {floor_n}")
            ratio = ours_s / floor_s
            worst = max(worst, ratio)
            met = ours_s <= TARGET_SECONDS and ratio <= TARGET_RATIO
            print(
                f"{name:<20}{floor_s:>9.3f}{ours_s:>11.3f}{ratio:>8.2f}{ours_n:>10,}  "
                f"{'met' if met else 'MISSED'}"
            )
        print(f"\nworst ratio {worst:.2f} (target ≤ {TARGET_RATIO}); each count ≤ "
              f"{TARGET_SECONDS} s is the issue's target")  # fmt: skip
    print("\n" + machine_facts([f"leads {args.leads:,}", f"events {args.events:,}"]))


if __name__ == "__main__":
    main()
