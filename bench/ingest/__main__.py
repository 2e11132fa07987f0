"""`python -m bench.ingest`: the arguments, checked, and one run (bench/ingest/run.py)."""

from __future__ import annotations

import argparse
import asyncio

from bench.harness import cli
from bench.ingest import __doc__ as overview
from bench.ingest.run import main

QUICK = {
    "events": 300,
    "leads": 20,
    "trigger_leads": 20,
    "trigger_rate": 10.0,
    "trigger_seconds": 3.0,
}


def arguments() -> argparse.Namespace:
    parser = cli.parser(overview)
    parser.add_argument("--events", type=int, default=3000, help="events per load phase (N)")
    parser.add_argument("--leads", type=int, default=200, help="leads with a journey (L)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument(
        "--trigger-leads", type=int, default=150, help="leads with a trigger journey"
    )
    parser.add_argument("--trigger-rate", type=float, default=50.0, help="trigger events/s")
    parser.add_argument("--trigger-seconds", type=float, default=10.0, help="trigger phase")
    args = cli.parse(parser, QUICK)
    if min(args.events, args.leads, args.concurrency, args.trigger_leads) < 1:
        parser.error("--events, --leads, --concurrency and --trigger-leads must be at least 1")
    if args.trigger_leads / args.trigger_rate <= 1.5:
        parser.error("a trigger lead's events must be > 1.5 s apart (the cool-down is 1 s)")
    return args


if __name__ == "__main__":
    asyncio.run(main(arguments()))
