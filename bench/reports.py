"""The analytics reports on PostgreSQL beside a bare GROUP BY over the same rows, same run.

    .venv/bin/python -m bench.reports [--sends 1000000] [--facts-per-send 5] [--quick]

Fills a fresh PostgreSQL database (the store's own tables, at this code's schema) with
`--sends` sends of one product over 20 steps × 2 variants and about `--facts-per-send`
engagement facts each (deliveries, opens by people and machines, clicks, the odd bounce,
unsubscribe and spam report), written by `INSERT ... SELECT generate_series` so the fill
takes seconds, not hours, then rolled up onto the sends' outcome flags as the write path
does (`refresh_outcome_flags`). Then times each report and, beside it, the floor: one bare
`SELECT send_id, count(*) FROM engagements GROUP BY send_id` plus one
`SELECT send_key, variant, count(*) FROM sends GROUP BY ...` over the same rows. It prints
each report's seconds and its ratio to the floor (the issue's bar: every report ≤ 2 s and
within 3× the bare query). Progress is printed as each phase ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.harness.cli import parse, parser
from bench.harness.databases import bench_database, upgraded_store
from bench.harness.report import machine_facts, print_line
from nurture.analytics.ab_report import build_ab_report
from nurture.analytics.attribution_report import build_attribution_report
from nurture.analytics.engagement_report import build_engagement_report
from nurture.analytics.facts import refresh_outcome_flags
from nurture.analytics.funnel_report import build_funnel_report
from nurture.analytics.send_time_report import build_send_time_report
from nurture.store.engine import Store

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
START = datetime(2026, 6, 1, tzinfo=UTC)

FILL = [
    # One lead per 50 sends, one journey per lead; a journey's sends are its steps in order
    # (20 steps, the track entered again after the 20th), so (journey, send key) is unique.
    """INSERT INTO leads (id, email, role, timezone, source, created_at, updated_at)
       SELECT 'ld_' || g, 'lead' || g || '@bench.example',
              (ARRAY['executive','practitioner','other'])[1 + g % 3],
              (ARRAY['Asia/Tokyo','Europe/Berlin',NULL])[1 + g % 3],
              (ARRAY['webinar','ads','trade_show'])[1 + g % 3], :start, :start
       FROM generate_series(1, :leads) AS g""",
    """INSERT INTO sends (id, journey_id, send_key, lead_id, product, mail_type, template,
                         subject, variant, status, provider, journey_time, created_at, sent_at)
       SELECT 's' || g, 'journey:bench:ld_' || (1 + g % :leads),
              'cold#' || (1 + g / :leads / 20) || '/step' || (g / :leads % 20),
              'ld_' || (1 + g % :leads), 'bench', 'step', 'note',
              'Subject', g % 2, 'sent', 'smtp',
              :start + (g % 120) * interval '1 day', :start,
              :start + (g % 120) * interval '1 day'
       FROM generate_series(1, :sends) AS g""",
    # Facts: per send one delivery, then opens (a third by machines), clicks, rare endings.
    """INSERT INTO engagements (fact_id, send_id, lead_id, product, kind, human,
                               machine_reason, link, bounce, scope, source, occurred_at,
                               recorded_at)
       SELECT 'f' || s.g || '-' || k.n, 's' || s.g, 'ld_' || (1 + s.g % :leads), 'bench',
              CASE WHEN k.n = 0 THEN 'delivered'
                   WHEN k.n <= :opens THEN 'opened'
                   WHEN (s.g + k.n) % 97 = 0 THEN 'unsubscribed'
                   WHEN (s.g + k.n) % 89 = 0 THEN 'bounced'
                   ELSE 'clicked' END,
              CASE WHEN k.n = 0 OR (s.g + k.n) % 97 = 0 OR (s.g + k.n) % 89 = 0 THEN NULL
                   ELSE (s.g + k.n) % 3 <> 0 END,
              CASE WHEN k.n > 0 AND (s.g + k.n) % 3 = 0 AND (s.g + k.n) % 97 <> 0
                        AND (s.g + k.n) % 89 <> 0 THEN 'prefetch' END,
              NULL,
              CASE WHEN k.n > :opens AND (s.g + k.n) % 97 <> 0 AND (s.g + k.n) % 89 = 0
                   THEN 'hard' END,
              NULL, 'nurture',
              :start + (s.g % 120) * interval '1 day' + k.n * interval '37 minutes', :start
       FROM generate_series(1, :sends) AS s(g), generate_series(0, :per - 1) AS k(n)""",
    """INSERT INTO transitions (journey_id, seq, lead_id, product, from_lifecycle,
                               to_lifecycle, stage, score, actor, reason, journey_time,
                               recorded_at)
       SELECT 'journey:bench:ld_' || g, 1, 'ld_' || g, 'bench', 'mql', 'handed_off', 'hot',
              70, 'journey', '', :start + (g % 120) * interval '1 day' + interval '3 hours',
              :start
       FROM generate_series(1, :leads, 10) AS g""",
    # Stage moves: every journey starts cold, a third warm up on day 10, a tenth get hot.
    """INSERT INTO stage_changes (journey_id, seq, lead_id, product, from_stage, to_stage,
                                 score, track, journey_time, recorded_at)
       SELECT 'journey:bench:ld_' || g, m.seq, 'ld_' || g, 'bench',
              (ARRAY[NULL,'cold','warm'])[m.seq], (ARRAY['cold','warm','hot'])[m.seq],
              10 * m.seq, 'cold', :start + (g % 120 + 10 * (m.seq - 1)) * interval '1 day',
              :start
       FROM generate_series(1, :leads) AS g, generate_series(1, 3) AS m(seq)
       WHERE m.seq = 1 OR (m.seq = 2 AND g % 3 = 0) OR (m.seq = 3 AND g % 10 = 0)""",
    "ANALYZE",
]
FLOOR = [
    "SELECT send_id, count(*) FROM engagements GROUP BY send_id",
    "SELECT send_key, variant, count(*) FROM sends GROUP BY send_key, variant",
]


def fill(store: Store, sends: int, per: int) -> None:
    params = {"start": START, "sends": sends, "leads": max(1, sends // 50), "per": per,
              "opens": max(1, per // 2)}  # fmt: skip
    with store.engine.begin() as connection:
        for statement in FILL:
            connection.execute(text(statement), params)
    # The facts went in around record_facts_in: roll them up onto their sends as it would.
    with store.session() as session:
        refresh_outcome_flags(session)
    with store.engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def timed(work: Callable[[], Any], repeat: int = 3) -> float:
    """The best of `repeat` runs, in seconds (the first warms the caches)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def floor(store: Store) -> float:
    def bare() -> None:
        with store.engine.connect() as connection:
            for statement in FLOOR:
                connection.execute(text(statement)).all()

    return timed(bare)


def main() -> None:
    args_parser = parser(__doc__)
    args_parser.add_argument("--sends", type=int, default=1_000_000)
    args_parser.add_argument("--facts-per-send", type=int, default=5)
    args = parse(args_parser, {"sends": 20_000, "facts_per_send": 5})
    until = START + timedelta(days=200)
    with bench_database() as url, upgraded_store(url) as store:
        started = time.perf_counter()
        fill(store, args.sends, args.facts_per_send)
        print_line("filled", f"{args.sends:,} sends, ~{args.sends * args.facts_per_send:,} "
                   f"facts in {time.perf_counter() - started:.1f} s")  # fmt: skip
        bare = floor(store)
        print_line("floor: bare GROUP BYs", f"{bare:.3f} s")
        reports: dict[str, Callable[[], Any]] = {
            "engagement": lambda: build_engagement_report(store, product="bench", until=until),
            "ab": lambda: build_ab_report(store, SCENARIOS, product="bench", until=until),
            "attribution": lambda: build_attribution_report(store, product="bench", until=until),
            "funnel": lambda: build_funnel_report(store, SCENARIOS, product="bench", until=until),
            "send-time": lambda: build_send_time_report(
                store, SCENARIOS, product="bench", until=until
            ),
        }
        print(f"\n{'report':<14}{'seconds':>9}{'× floor':>9}{'≤ 2 s':>7}{'≤ 3×':>6}")
        for name, report in reports.items():
            seconds = timed(report)
            ratio = seconds / bare if bare else float("nan")
            print(f"{name:<14}{seconds:>9.3f}{ratio:>9.2f}"
                  f"{'yes' if seconds <= 2 else 'no':>7}{'yes' if ratio <= 3 else 'no':>6}",
                  flush=True)  # fmt: skip
    print("\n" + machine_facts([f"sends {args.sends:,}", f"facts/send {args.facts_per_send}"]))


if __name__ == "__main__":
    main()
