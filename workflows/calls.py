"""How LeadJourney calls its activities: every call's timeout and retry policy, in one place.

Activities are called by typed reference (the activity classes' methods), so mypy checks
each input and result against the activity that takes it; the activity type names in
history are the ones `@activity.defn(name=...)` gives, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeout

In = TypeVar("In")
Out = TypeVar("Out")

ACTIVITY_TIMEOUT = timedelta(seconds=60)
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=5))


async def local(activity: Callable[[Any, In], Out], arg: In, *, summary: str) -> Out:
    """A local activity: quick, in the worker, no round trip through the server.

    No bound, for a reason: these write the journey's own records to the store (its
    scenario, lifecycle transitions, hand-offs, suppressions, its place in the hand-off
    queue), and moving on without them would lose them; a store outage stops the API as
    well, and every journey resumes where it was once the store is back.
    """
    return await workflow.execute_local_activity_method(
        activity,
        arg,
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        retry_policy=RETRY,
        summary=summary,
    )


async def bounded(
    activity: Callable[[Any, In], Out], arg: In, *, bound: timedelta, summary: str
) -> Out:
    """An activity on the task queue, retried until `bound` (schedule to close): no
    outage of a provider or a CRM may hold a journey forever."""
    return await workflow.execute_activity_method(
        activity,
        arg,
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        schedule_to_close_timeout=bound,
        retry_policy=RETRY,
        summary=summary,
    )


def outlasted(err: ActivityError) -> bool:
    """The activity kept failing in ways a retry could fix until its bound ran out (the
    server ends it with a timeout, or with the last failure once no retry fits)."""
    return isinstance(err.cause, ActivityTimeout) or err.retry_state == RetryState.TIMEOUT
