"""`nurture doctor` against a Temporal reached over TLS and mTLS: a dev server behind a
TLS-terminating proxy, with a CA made in the test; and one without the search attributes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nurture.cli.devstack import DevServer
from nurture.config import Settings
from nurture.doctor.diagnosis import diagnose, report
from nurture.doctor.findings import Finding
from nurture.store.engine import Store
from nurture.temporal import connect
from nurture.worker_setup import build_worker
from tests.helpers.paths import SCENARIOS
from tests.helpers.processes import dev_server_on_free_ports, run_starter
from tests.helpers.tls import Pki, make_pki, tls_proxy


@pytest.fixture
async def bare_server(tmp_path: Path) -> AsyncIterator[DevServer]:
    """A dev server that registers no search attributes, as a new cluster's namespace."""
    server = await dev_server_on_free_ports(tmp_path / "temporal", with_search_attributes=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


def settings_for(tmp_path: Path, address: str, **tls: object) -> Settings:
    url = f"sqlite:///{tmp_path}/nurture.db"
    Store(url).upgrade()
    return Settings(
        temporal_address=address,
        database_url=url,
        scenarios_dir=SCENARIOS,
        outbox_dir=tmp_path / "outbox",
        task_queue="doctor",
        **tls,  # type: ignore[arg-type]
    )


def finding(findings: list[Finding], check: str) -> Finding:
    return next(f for f in findings if f.check == check)


async def test_doctor_over_tls_finds_missing_search_attributes_and_workers(
    tmp_path: Path, bare_server: DevServer, pki: Pki
) -> None:
    other = make_pki(tmp_path / "other", "other")
    async with tls_proxy(bare_server.address, pki, require_client_cert=False) as proxy:
        plain = await diagnose(settings_for(tmp_path, proxy.address))
        temporal = finding(plain, "temporal")
        assert temporal.failed and "plain gRPC" in temporal.detail, report(plain)
        assert "NURTURE_TEMPORAL_TLS=true" in temporal.fix

        untrusted = await diagnose(settings_for(tmp_path, proxy.address, temporal_tls_ca=other.ca))
        temporal = finding(untrusted, "temporal")
        assert temporal.failed and "NURTURE_TEMPORAL_TLS_CA" in temporal.fix, report(untrusted)

        settings = settings_for(tmp_path, proxy.address, temporal_tls_ca=pki.ca)
        found = await diagnose(settings)
        assert finding(found, "temporal").outcome == "ok", report(found)
        assert "over TLS" in finding(found, "temporal").detail
        assert finding(found, "namespace").outcome == "ok"
        attributes = finding(found, "search attributes")
        assert attributes.failed and "NurtureProduct" in attributes.detail, report(found)
        assert "nurture doctor --fix" in attributes.fix
        assert "--name LeadScore --type Int" in attributes.fix

        fixed = await diagnose(settings, fix=True)
        assert finding(fixed, "search attributes").outcome == "ok", report(fixed)
        workers = finding(fixed, "workers")
        assert workers.outcome == "warn" and "no worker polls" in workers.detail
        assert [f.check for f in fixed if f.failed] == [], report(fixed)

        client = await connect(settings)  # a worker over TLS, as deployed
        async with build_worker(client, settings, Store(settings.database_url)):
            polled = await diagnose(settings)
        assert finding(polled, "workers").outcome == "ok", report(polled)
        assert "ready to run" in report(polled)


async def test_doctor_over_mtls_asks_for_the_client_certificate(
    tmp_path: Path, bare_server: DevServer, pki: Pki
) -> None:
    async with tls_proxy(bare_server.address, pki, require_client_cert=True) as proxy:
        without = await diagnose(settings_for(tmp_path, proxy.address, temporal_tls_ca=pki.ca))
        temporal = finding(without, "temporal")
        assert temporal.failed and "NURTURE_TEMPORAL_TLS_CERT" in temporal.fix, report(without)

        settings = settings_for(
            tmp_path,
            proxy.address,
            temporal_tls_ca=pki.ca,
            temporal_tls_cert=pki.client_cert,
            temporal_tls_key=pki.client_key,
        )
        found = await diagnose(settings)
        assert finding(found, "temporal").outcome == "ok", report(found)
        assert "client certificate (mTLS)" in finding(found, "temporal").detail

        # The command itself, configured by environment as deployed: exit 1 and the fix.
        code, out = await run_starter(
            settings,
            "doctor",
            script="-m nurture.cli",
            env={
                "NURTURE_TEMPORAL_TLS_CA": str(pki.ca),
                "NURTURE_TEMPORAL_TLS_CERT": str(pki.client_cert),
                "NURTURE_TEMPORAL_TLS_KEY": str(pki.client_key),
            },
        )
        assert code == 1, out
        assert "✓ temporal" in out and "✗ search attributes" in out, out
        assert "1 problem(s) to fix" in out, out


async def test_a_missing_certificate_file_is_named(tmp_path: Path, pki: Pki) -> None:
    settings = settings_for(tmp_path, "localhost:1", temporal_tls_ca=tmp_path / "nope.pem")
    temporal = finding(await diagnose(settings), "temporal")
    assert temporal.failed and "NURTURE_TEMPORAL_TLS_CA names" in temporal.detail
    assert "nope.pem" in temporal.detail


async def test_a_bad_database_url_is_a_finding_not_a_traceback(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "localhost:1")
    settings.database_url = "mysql+nodriver://x@nowhere/db"
    store = finding(await diagnose(settings), "store")
    assert store.failed and "NURTURE_DATABASE_URL" in store.fix
