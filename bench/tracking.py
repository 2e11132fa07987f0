"""Nurture's own open pixel and click links under load, beside the same API's bare liveness
route, in the same run, on one uvicorn worker.

    .venv/bin/python -m bench.tracking [--seconds 10] [--connections 32] [--quick]

One uvicorn worker (`nurture.api.app:app_from_env`) on a fresh PostgreSQL database holding
one sent email; wrk (Debian's `wrk`, a C load generator in a process of its own) hits, for
`--seconds` each: `/healthz` (the floor: the same server, no store), the open pixel
`/v1/t/o/{token}` and a click link `/v1/t/c/{token}`. It prints hits/s, the ratio to the
floor and wrk's p99 latency, and checks that every request was answered (GIF or redirect)
and that the hits were counted (at most one fact a minute per send, kind and link, by
design). The issue's bar: ≥ 1,000 hits/s and p99 < 50 ms.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from bench.harness.cli import parse, parser
from bench.harness.databases import bench_database, upgraded_store, url_text
from bench.harness.report import machine_facts, print_line
from bench.harness.temporal import free_port
from nurture.sending.tracking_tokens import click_token, open_token
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Engagement, Send

SECRET = "bench-secret-" + "x" * 40
LINK = "https://bench.example/guide?utm_source=nurture"


def sent_email(store: Store) -> str:
    lead, _ = store.upsert_lead(LeadIn(email="reader@bench.example"))
    at = datetime.now(UTC) - timedelta(hours=1)
    with store.session() as session:
        session.add(Send(id="snd_bench", journey_id=f"journey:bench:{lead.id}",
                         send_key="cold#1/guide", lead_id=lead.id, product="bench",
                         mail_type="step", template="note", subject="s", variant=0,
                         provider="smtp", journey_time=at, status="sent", sent_at=at))  # fmt: skip
    return "snd_bench"


def wrk(url: str, seconds: int, connections: int) -> tuple[float, float, int]:
    """(requests/s, p99 ms, requests not answered 2xx/3xx) from one wrk run."""
    agent = "Mozilla/5.0 (X11; Linux x86_64) Thunderbird/128.0"
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
         "-H", f"User-Agent: {agent}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, float(p99.group(1)) * scale, int(bad.group(1)) if bad else 0


def main() -> None:
    args_parser = parser(__doc__)
    args_parser.add_argument("--seconds", type=int, default=10)
    args_parser.add_argument("--connections", type=int, default=32)
    args = parse(args_parser, {"seconds": 2, "connections": 8})
    if shutil.which("wrk") is None:
        sys.exit("bench.tracking needs wrk (Debian: apt-get install wrk)")
    with (
        bench_database() as url,
        upgraded_store(url) as store,
        tempfile.TemporaryDirectory() as tmp,
    ):
        send_id = sent_email(store)
        port = free_port()
        env = {**os.environ, "NURTURE_DATABASE_URL": url_text(url), "NURTURE_SECRET_KEY": SECRET,
               "NURTURE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
               "NURTURE_SCENARIOS_DIR": tmp}  # fmt: skip
        command = [sys.executable, "-m", "uvicorn", "nurture.api.app:app_from_env", "--factory",
                   "--workers", "1", "--host", "127.0.0.1", "--port", str(port),
                   "--log-level", "warning"]  # fmt: skip
        # No Temporal here: the API's relay says so on stderr every few seconds; quiet it.
        server = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            routes = {
                "floor: /healthz": f"{base}/healthz",
                "open pixel": f"{base}/v1/t/o/{open_token(send_id, SECRET)}",
                "click link": f"{base}/v1/t/c/{click_token(send_id, LINK, SECRET)}",
            }
            results = {}
            for name, route in routes.items():
                results[name] = wrk(route, args.seconds, args.connections)
                print_line(name, f"{results[name][0]:,.0f} hits/s")
        finally:
            server.terminate()
            server.wait(timeout=30)
        floor = results["floor: /healthz"][0]
        print(f"\n{'route':<18}{'hits/s':>10}{'× floor':>9}{'p99 ms':>9}{'unanswered':>12}")
        for name, (rate, p99, bad) in results.items():
            print(f"{name:<18}{rate:>10,.0f}{rate / floor:>9.2f}{p99:>9.1f}{bad:>12}")
        with store.session() as session:
            facts = session.scalar(select(func.count()).select_from(Engagement))
        print(f"\nfacts stored: {facts} (at most one a minute per send, kind and link)")
    print("\n" + machine_facts([f"{args.seconds} s per route", f"{args.connections} connections"]))


if __name__ == "__main__":
    main()
