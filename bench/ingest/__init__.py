"""Ingestion API throughput, delivery to journeys and trigger latency, end to end.

House rule: performance is judged by benchmarks that print ratios against a floor measured
in the same run on the same server, never by timed assertions in tests. Ingestion has no
engine floor to divide by, so this prints the issue's targets beside the measured rates,
and for delivery the ratio against bare Temporal signals measured in the same run.

    .venv/bin/python -m bench.ingest [--events N] [--leads L] [--quick]

Everything runs as deployed, on loopback, each part in a process of its own: a fresh
Temporal dev server (temp dir), a fresh PostgreSQL database (dropped at the end), the API
under uvicorn with 2 worker processes (each runs its own outbox relay), and the Nurture
worker as two processes on one task queue, `nurture worker --role workflows` (journeys and
their local activities) and `nurture worker --role activities` (emails, hand-offs). Single
events come from wrk (bench/track.lua), a C load generator in its own process; batches,
paced triggers, the floor's signals and the polling come from this process (httpx and the
Temporal client), which runs no worker any more. On a 2-core machine all of them share the
cores: the CPU table says who used them.

The floor's worker runs in a process of its own too (bench/bare_worker.py: BareStep from
bench/bare.py, the same poller and cache options as the journey worker). Nurture's journeys
have an interpreter, and so a GIL, to themselves, and get their signals from other
processes (the relays in uvicorn); the floor's workflows get the same, their signals coming
from this process. Left in this process, the floor's worker would share a GIL with its own
signal sender and the polling, which lowers the floor and flatters Nurture's ratio.

  floor: L BareStep workflows receive the signals the journeys will get, one per event,
     from this process at the same concurrency (bench/journeys.py's floor B);
  a. single: N `POST /v1/track` events, round robin over L leads with a journey, from wrk
     with --concurrency connections; the store must then hold one event per 2xx. Without
     wrk, httpx in this process sends them, and the figure is that generator's ceiling as
     much as the API's (the bench says so);
  b. batched: the same as `POST /v1/batch` of 100, from httpx;
     after a and b, delivery: from the first request until every journey has handled its
     events (the workflow time of the last one, read with its `state` query);
  d. trigger: ~50 events/s for ~10 s, each firing a trigger email (bench/scenarios/ingest),
     POST → the `sends` row's `sent_at`; then a few one at a time, for the unloaded path;
  e. the trigger's floor: as many signals at the same rate to BareTrigger workflows
     (bench/bare_trigger.py: render the same template, write one row), for the whole
     stack's CPU per trigger against the floor's (target ≤ 1.5×); then trigger emails
     paced at half the capacity that CPU allows the cores (target p99 < 2 s).

Below the table it prints where the time goes: CPU by process per phase, when the slowest
requests were sent, what the relays did (rounds, events per signal, events signalled
twice), the store's work per request from an instrumented in-process pass, and the trigger
latency split at the relay and at the history's events.

The modules, in the order a run uses them: config (sizes, limits, targets), stack (the
processes, the leads and their journeys), load and wrk (the load generators), cpu (CPU by
process), phases/ (one module a phase), report, and run (one run, start to end);
__main__ reads the arguments.
"""
