"""The Temporal side: can this process reach the frontend over the configured transport, is
the namespace there, are the journeys' search attributes registered with their types, and
does a worker poll the task queue."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.api.enums.v1 import IndexedValueType, TaskQueueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeTaskQueueRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from nurture.config import Settings
from nurture.doctor.findings import Finding, fail, ok, warn
from nurture.journey import search_attributes
from nurture.temporal import TemporalSettingsProblem, connect

CONNECT_SECONDS = 10.0
RPC_TIMEOUT = timedelta(seconds=5)


async def connection(settings: Settings) -> tuple[Finding, Client | None]:
    """Connect as every Nurture process does; on failure, name the likely setting."""
    transport = _transport(settings)
    try:
        client = await asyncio.wait_for(connect(settings), CONNECT_SECONDS)
        await client.service_client.check_health(timeout=RPC_TIMEOUT)
    except TemporalSettingsProblem as err:
        return fail("temporal", str(err), "fix the path in the setting it names"), None
    except (TimeoutError, RuntimeError, RPCError) as err:
        return fail(
            "temporal",
            f"cannot reach {settings.temporal_address} over {transport}: {_first_line(err)}",
            _connection_fix(settings, str(err)),
        ), None
    return ok("temporal", f"{settings.temporal_address} over {transport}"), client


def _transport(settings: Settings) -> str:
    if not settings.temporal_uses_tls:
        return "plain gRPC (no TLS)"
    parts = ["TLS"]
    if settings.temporal_tls_cert is not None:
        parts.append("a client certificate (mTLS)")
    if settings.temporal_api_key is not None:
        parts.append("an API key")
    return " with ".join(parts)


def _connection_fix(settings: Settings, error: str) -> str:
    """The setting most likely wrong, from what the failure says."""
    text = error.lower()
    if "certificate" in text and ("unknown" in text or "verif" in text or "issuer" in text):
        return (
            "the frontend's certificate was not trusted: set NURTURE_TEMPORAL_TLS_CA to the "
            "PEM of the CA that signed it, and NURTURE_TEMPORAL_TLS_SERVER_NAME if the "
            "certificate names another host than the address"
        )
    if settings.temporal_uses_tls and ("alert" in text or "handshake" in text or "tls" in text):
        return (
            "the TLS handshake failed: if the frontend requires a client certificate (mTLS), "
            "set NURTURE_TEMPORAL_TLS_CERT and NURTURE_TEMPORAL_TLS_KEY; if it speaks plain "
            "gRPC, unset the NURTURE_TEMPORAL_TLS* settings and NURTURE_TEMPORAL_API_KEY "
            "(an API key needs TLS)"
        )
    if not settings.temporal_uses_tls and ("transport" in text or "connection" in text):
        return (
            "check NURTURE_TEMPORAL_ADDRESS (host:port of the frontend; `nurture dev` starts "
            "one on localhost:7233); a cluster or Temporal Cloud usually needs TLS: set "
            "NURTURE_TEMPORAL_TLS=true (and a CA, a client certificate or an API key)"
        )
    if "unauthenticated" in text or "permission" in text or "unauthorized" in text:
        return (
            "the frontend refused these credentials: check NURTURE_TEMPORAL_API_KEY, or the "
            "client certificate, and that they are allowed in the namespace"
        )
    return "check NURTURE_TEMPORAL_ADDRESS and that the frontend is up"


def _first_line(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text.strip().splitlines()[0][:300]


async def namespace(client: Client) -> Finding:
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=client.namespace), timeout=RPC_TIMEOUT
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return fail(
                "namespace",
                f"{client.namespace!r} does not exist",
                f"create it (`temporal operator namespace create --namespace "
                f"{client.namespace}`, or in Temporal Cloud's console), or set "
                "NURTURE_TEMPORAL_NAMESPACE to one that exists",
            )
        return fail("namespace", f"{client.namespace!r}: {_first_line(err)}", _namespace_fix(err))
    return ok("namespace", repr(client.namespace))


def _namespace_fix(err: RPCError) -> str:
    if err.status in (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNAUTHENTICATED):
        return "the credentials lack access to the namespace: check its permissions"
    return "the frontend answered with an error: check that the cluster is healthy, then retry"


async def search_attribute_check(client: Client) -> Finding:
    """Every journey attribute registered, each with the type journeys write."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace), timeout=RPC_TIMEOUT
        )
    except RPCError as err:
        return warn(
            "search attributes",
            f"cannot list them: {_first_line(err)}",
            "check them in the Temporal UI or with `temporal operator search-attribute list`",
        )
    registered = dict(listed.custom_attributes)
    wanted = search_attributes.wanted_types()
    missing = [name for name in wanted if name not in registered]
    wrong = [
        f"{name} is {IndexedValueType.Name(registered[name])}, not {kind}"
        for name, (kind, value) in wanted.items()
        if name in registered and registered[name] != value
    ]
    if not missing and not wrong:
        return ok("search attributes", f"all {len(wanted)} registered")
    problems = ([f"missing {', '.join(missing)}"] if missing else []) + wrong
    fixes = []
    if missing:
        commands = search_attributes.create_commands(client.namespace, missing)
        fixes.append(
            "run `nurture doctor --fix` (registers the missing ones), or " + "; ".join(commands)
        )
    if wrong:
        fixes.append(
            "an attribute of the wrong type cannot be changed in place: remove it "
            "(`temporal operator search-attribute remove`) and register it again, in a "
            "namespace where no journey runs yet"
        )
    return fail(
        "search attributes",
        "; ".join(problems) + ": journeys cannot start without them",
        "; ".join(fixes),
    )


async def pollers(client: Client, task_queue: str) -> Finding:
    """A worker for journeys and one for activities poll the task queue."""
    roles = {
        "journeys": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        "activities": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    }
    absent = []
    for role, kind in roles.items():
        try:
            described = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=task_queue),
                    task_queue_type=kind,
                ),
                timeout=RPC_TIMEOUT,
            )
        except RPCError as err:
            return warn("workers", f"cannot describe {task_queue!r}: {_first_line(err)}", "")
        if not described.pollers:
            absent.append(role)
    if absent:
        return warn(
            "workers",
            f"no worker polls task queue {task_queue!r} for {' and '.join(absent)}: journeys "
            "wait until one does",
            "start `nurture worker` (or `python worker.py`) with the same NURTURE_TASK_QUEUE",
        )
    return ok("workers", f"polling task queue {task_queue!r}")


async def temporal_findings(settings: Settings, *, fix: bool = False) -> list[Finding]:
    found, client = await connection(settings)
    if client is None:
        return [found]
    findings = [found, await namespace(client)]
    if findings[-1].failed:
        return findings
    if fix:
        try:
            await asyncio.wait_for(search_attributes.register(client), CONNECT_SECONDS)
        except (TimeoutError, RPCError) as err:
            findings.append(
                fail(
                    "search attributes",
                    f"--fix could not register them: {_first_line(err)}",
                    "registering needs operator rights on the namespace; in Temporal Cloud "
                    "add them in the namespace's settings or with tcld",
                )
            )
    findings.append(await search_attribute_check(client))
    findings.append(await pollers(client, settings.task_queue))
    return findings
