"""This process's side: the store's schema, the secret, the email provider, the channels the
scenarios use, and payload encryption."""

from __future__ import annotations

from temporalio.api.common.v1 import Payload

from nurture.channels.readiness import channel_problems
from nurture.config import InsecureSecret, Settings
from nurture.doctor.findings import Finding, fail, ok, warn
from nurture.mail.provider_factory import ProviderNotConfigured, build_provider
from nurture.scenario.loader import ScenarioError, load_scenario_dir
from nurture.store.engine import Store
from nurture.store.migrate import current_revision, head_revision
from nurture.temporal.connection import payload_codec


def store_revision(settings: Settings) -> Finding:
    where = "NURTURE_DATABASE_URL"
    store = None
    try:
        store = Store(settings.database_url)
        where = store.engine.url.render_as_string(hide_password=True)
        current, head = current_revision(store.engine), head_revision()
    except Exception as err:  # a bad URL, a missing driver, a database that is down
        return fail(
            "store",
            f"cannot reach {where}: {type(err).__name__}",
            "check NURTURE_DATABASE_URL (e.g. postgresql://user:password@host:5432/nurture) "
            "and that the database is up",
        )
    finally:
        if store is not None:
            store.engine.dispose()
    if current == head:
        return ok("store", f"{where} at schema revision {head}")
    return fail(
        "store",
        f"{where} is at revision {current or '(none)'}, this code needs {head}",
        "run `nurture db upgrade` (once, before the new workers and API start)",
    )


def secret(settings: Settings) -> Finding:
    try:
        settings.refuse_public_default_secret()
    except InsecureSecret as err:
        return fail("secret key", "unsafe for public links", str(err))
    return ok("secret key", "fit for " + settings.public_base_url)


def email_provider(settings: Settings) -> Finding:
    try:
        provider = build_provider(settings)
    except ProviderNotConfigured as err:
        return fail("email", str(err), "set the setting it names (docs/email-providers.md)")
    return ok("email", f"sending by {provider.name}")


def channels(settings: Settings) -> list[Finding]:
    """Each product's scenario against these settings (LINE, webhooks, Slack)."""
    found = []
    folders = sorted(p.parent for p in settings.scenarios_dir.glob("*/scenario.yaml"))
    if not folders:
        fix = "set NURTURE_SCENARIOS_DIR to the folder holding <product>/scenario.yaml"
        return [warn("scenarios", f"none in {settings.scenarios_dir}/", fix)]
    for folder in folders:
        try:
            scenario = load_scenario_dir(folder, check_templates=False)
        except ScenarioError as err:
            found.append(
                fail(f"scenario {folder.name}", str(err).splitlines()[0], "nurture validate")
            )
            continue
        problems = channel_problems(scenario, settings)
        if problems:
            found.append(fail(f"scenario {folder.name}", "; ".join(problems), ""))
        else:
            found.append(ok(f"scenario {folder.name}", "its channels are configured"))
    return found


async def payload_encryption(settings: Settings) -> Finding:
    """Encryption on or off, and every key usable: a sealed payload opens again."""
    if settings.payload_key_id is None:
        detail = "off: histories hold payloads as they are"
        if settings.payload_keys:
            detail += f" (keys {', '.join(sorted(settings.payload_keys))} still open old ones)"
        return ok("payload encryption", detail)
    codec = payload_codec(settings)
    probe = Payload(metadata={"encoding": b"json/plain"}, data=b'"doctor"')
    opened = (await codec.decode(await codec.encode([probe])))[0]
    if opened != probe:
        return fail("payload encryption", "a payload did not round-trip", "check the keys")
    return ok(
        "payload encryption",
        f"AES-256-GCM with key {settings.payload_key_id!r}; "
        f"{len(settings.payload_keys)} key(s) can open",
    )


def local_findings(settings: Settings) -> list[Finding]:
    return [
        store_revision(settings),
        secret(settings),
        email_provider(settings),
        *channels(settings),
    ]
