"""Lead lifecycle per journey: who owns the lead, and which moves make sense.

nurturing → mql (hand-off rule met) → handed_off → sal (accepted) → sql → opportunity
→ customer (won) | lost. Sales can reject (→ recycled: nurtured again) or
disqualify; unsubscribes and bounces end emailing. A lead sales created itself (SGL)
starts in sql; rejecting it from there hands it to marketing's nurturing.
"""

from __future__ import annotations

from typing import Literal

Lifecycle = Literal[
    "nurturing",
    "mql",
    "handed_off",
    "sal",
    "sql",
    "opportunity",
    "customer",
    "lost",
    "recycled",
    "disqualified",
    "unsubscribed",
    "bounced",
]
FeedbackOutcome = Literal[
    "accepted", "rejected", "contacted", "opportunity", "won", "lost", "disqualified"
]

# Marketing sends nurture email only in these.
NURTURING: frozenset[str] = frozenset({"nurturing", "recycled"})
# Sales owns the lead: nurture emails stop until it comes back.
SALES_OWNED: frozenset[str] = frozenset({"mql", "handed_off", "sal", "sql", "opportunity"})
# The journey is over.
TERMINAL: frozenset[str] = frozenset(
    {"customer", "lost", "disqualified", "unsubscribed", "bounced"}
)

# A Sales Generated Lead's journey starts in sql, recorded as sales' own move: it precedes
# any hand-off, so the hand-off report's "first sales touch" never sees it.
SGL_START: Lifecycle = "sql"
SGL_ACTOR = "sales"
SGL_REASON = "sales-generated lead (SGL)"

# outcome → {from: to}
FEEDBACK_MOVES: dict[str, dict[str, Lifecycle]] = {
    "accepted": {"handed_off": "sal"},
    "rejected": {"handed_off": "recycled", "sal": "recycled", "sql": "recycled"},
    "contacted": {"handed_off": "sal", "sal": "sql", "sql": "sql"},
    "opportunity": {"sal": "opportunity", "sql": "opportunity"},
    "won": {"sal": "customer", "sql": "customer", "opportunity": "customer"},
    "lost": {"sal": "lost", "sql": "lost", "opportunity": "lost"},
    "disqualified": {
        "nurturing": "disqualified",
        "recycled": "disqualified",
        "handed_off": "disqualified",
        "sal": "disqualified",
        "sql": "disqualified",
        "opportunity": "disqualified",
    },
}


class InvalidTransition(ValueError):
    """Feedback that makes no sense for where the lead is now."""


def feedback_target(current: str, outcome: str) -> Lifecycle:
    """Where `outcome` moves a lead that is `current`, or a clear reason why it cannot."""
    moves = FEEDBACK_MOVES.get(outcome)
    if moves is None:
        raise InvalidTransition(
            f"unknown outcome {outcome!r}; expected one of: {', '.join(FEEDBACK_MOVES)}"
        )
    target = moves.get(current)
    if target is None:
        allowed = ", ".join(sorted(moves))
        raise InvalidTransition(
            f"cannot record {outcome!r} for a lead that is {current!r}: "
            f"{outcome!r} applies only to leads that are {allowed}"
        )
    return target
