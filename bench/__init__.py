"""Nurture's benchmarks: each prints ratios against a floor measured in the same run.

House rule: performance is judged by these benchmarks, never by timed assertions in tests.
Each one measures a floor in the same run on the same machine (bare Temporal, bare Jinja2,
pgbench) and prints Nurture's rate beside it and the ratio; absolute rates depend on the
machine, the ratio says how much of the floor Nurture's own code keeps. Long phases print
their progress as they go.

Run them from the repository's root, as modules (`--quick`: small sizes, to see that a
bench runs end to end; its figures mean little):

    .venv/bin/python -m bench.journeys     journeys beside bare Temporal workflows
    .venv/bin/python -m bench.store        the store on PostgreSQL beside pgbench
    .venv/bin/python -m bench.render_send  emails rendered and sent beside bare Jinja2
    .venv/bin/python -m bench.reports      the analytics reports beside a bare GROUP BY
    .venv/bin/python -m bench.tracking     the open pixel and click links under wrk
    .venv/bin/python -m bench.ingest       the ingestion API, delivery and trigger emails,
                                           everything as deployed (a package, by phase)

What they share is in bench/harness (CPU metering, SQL counting, databases, the Temporal
floor, the printed tables); bench/bare.py is the floor's workflow, in a file of its own
(see there why), and bench/bare_worker.py runs it in a process of its own for ingest.
"""
