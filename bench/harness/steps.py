"""Inside one call: time its named parts, and run an activity the way the tests run it.

`step_timers` wraps callables of objects or modules for one pass, so a bench shows where a
call's time goes without editing the code under measurement. `ActivitySender` runs the
`send_email` activity through temporalio's ActivityEnvironment and prices that context.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities, SendEmailInput


@contextmanager
def step_timers(targets: Sequence[tuple[str, object, str]]) -> Iterator[dict[str, float]]:
    """Time `(label, owner, attribute name)` callables: seconds by label while the block runs.

    Attributes are looked up at call time by the code under measurement, so wrapping them
    on their owner (a module, a class, an instance) catches every call.
    """
    totals = {label: 0.0 for label, _, _ in targets}
    saved: list[tuple[object, str, Any, bool]] = []
    for label, owner, name in targets:
        original = getattr(owner, name)
        saved.append((owner, name, original, name in vars(owner)))

        def timed(*args: Any, _call: Any = original, _label: str = label, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _call(*args, **kwargs)
            finally:
                totals[_label] += time.perf_counter() - start

        setattr(owner, name, timed)
    try:
        yield totals
    finally:
        for owner, name, original, own in reversed(saved):
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)  # an instance falls back to its class's method


def noop() -> None:
    """Run through ActivityEnvironment alone, to price the activity context itself."""


@dataclass
class ActivitySender:
    """The send activity as the worker holds it, run the way the tests run it."""

    emails: EmailActivities
    environment: ActivityEnvironment = field(default_factory=ActivityEnvironment)

    def send_all(self, inputs: Sequence[SendEmailInput]) -> None:
        """Send each; every one must go out (the benches' leads all consent)."""
        for request in inputs:
            result = self.environment.run(self.emails.send_email, request)
            if result.status != "sent":
                raise RuntimeError(f"{request.lead_id}: {result.status} ({result.detail})")

    def context_ms(self, runs: int) -> float:
        """Milliseconds of one ActivityEnvironment.run of a function that does nothing."""
        start = time.perf_counter()
        for _ in range(runs):
            self.environment.run(noop)
        return (time.perf_counter() - start) / runs * 1000
