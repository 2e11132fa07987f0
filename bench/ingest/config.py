"""The ingest bench's fixed sizes, limits, products and queues, and the issue's targets.

What a run varies comes from the command line (bench/ingest/__main__.py); what stays the
same from run to run is here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent  # bench/
REPO = BENCH_DIR.parent  # where the stack's processes run, as `python -m bench.…` does
PRODUCT = "bench"  # bench/scenarios/bench: bench_event is worth 1 point, no caps
TRIGGER_PRODUCT = "ingest"  # bench/scenarios/ingest: bench_trigger fires an email at once
NURTURE_QUEUE = "bench-ingest-nurture"
BARE_QUEUE = "bench-ingest-bare"
BATCH_SIZE = 100  # events per POST /v1/batch
SEND_LIMIT = 45.0  # seconds a load phase may keep sending; it reports what it got by then
DRAIN_LIMIT = 60.0  # seconds to wait for deliveries, journeys or emails to catch up
WARM_LEADS = 4  # leads of each product warmed up untimed (both API workers, the worker)
SAMPLE = 20  # journey histories read for the relay's signal sizes
SOLO = 10  # trigger events sent one at a time, each awaited to its email
PROFILE_SINGLES = 20  # requests of each kind in the instrumented in-process pass
PROFILE_BATCHES = 3
OTHERS_NOTICED = 0.2  # cores used by processes outside the stack that the report points out
WRK = shutil.which("wrk")
WRK_SCRIPT = BENCH_DIR / "track.lua"
WRK_THREADS = 1  # one wrk thread sends ~17,000 requests/s to a no-op server on this machine

# The targets.
TARGET_SINGLE = 500.0  # accepted events/s, one event per request
TARGET_BATCHED = 3000.0  # accepted events/s, batches of 100
TARGET_DELIVERY_RATIO = 0.8  # of the bare signal rate on the same server
TARGET_TRIGGER_P99 = 2.0  # seconds, tracker event → trigger email sent
