"""Every `workflow.patched` id LeadJourney has released, in one place.

A patch id marks where a journey's command sequence changed; journeys recorded before the
change replay the old path. A released id never moves to another place among the
commands, and is never reused. Each may be deprecated (`workflow.deprecate_patch`, then
removed) only once no journey that started before it can still be running or replayed.
A nurturing journey ends within its scenario's `exit.after` (at most a year in the shipped
scenarios), but one that sales owns has no such deadline, and a journey carried by
continue-as-new keeps its decision in `JourneyMemory.versions` (every patch asked through
`_version`; `bounded-replay` is asked per run instead): query visibility for open journeys
started before the release (and for runs that still hold the id) before removing the old
path.
"""

from __future__ import annotations

# Steps go out at the lead's best hour (its opens, else its role's, else a default).
# Released 2026-11-23; deprecate once no journey started before then is open.
SEND_TIME_OPTIMISATION = "send-time-optimisation"

# A daily hand-off capacity: leads over it wait as mql in a queue.
# Released 2026-11-23; deprecate once no journey started before then is open.
HANDOFF_CAPACITY = "handoff-capacity"

# Waiting hand-offs ask hourly in business hours (before: at 00:01 every day). Its place,
# before the move to `mql`, is the released one (tests/workflows/test_replay.py explains).
# Released 2026-11-23; deprecate once no hand-off queued before then is waiting.
HANDOFF_CAPACITY_BUSINESS_HOURS = "handoff-capacity-business-hours"

# The owner is emailed on hand-off, with SLA reminders and escalations.
# Released 2026-11-23; deprecate once no journey started before then is open.
SALES_MAIL = "sales-notifications"

# A lead sales created itself (SGL) starts in `sql`, owned by sales.
# Released 2026-11-23; deprecate once no journey started before then is open.
SGL = "sales-generated-leads"

# CRM posts and sales emails are carried across continue-as-new instead of awaited there.
# Released 2026-12-04; deprecate once no journey started before then is open.
CARRY_BACKGROUND = "carry-background-across-runs"

# A step of a scenario with `ab: {then: promote}` asks which variant won (a local activity)
# before it sends. Released 2026-12-05; only scenarios that promote reach it, and none did
# before: deprecate once no journey started before then is open.
AB_PROMOTE = "ab-promote-winner"

# Each stage move (and the stage a journey starts in) is recorded in the store beside the
# journey (an activity on the task queue), for the funnel and stage-flow reports.
# Released 2026-12-05; deprecate once no journey started before then is open.
STAGE_MOVES = "record-stage-moves"

# Between steps the journey keeps its timer while the time it wakes at does not move (before:
# every workflow task that took behaviour cancelled the timer and started it again).
# Released 2026-12-06; kept in memory across continue-as-new: deprecate once no journey
# started before then is open.
KEEP_STEP_TIMER = "keep-step-timer"

# A journey keeps its replay short enough for a workflow task to finish within its timeout
# after a cache miss (a worker restart, a deploy). It continues as new once its run reaches
# REPLAY_HISTORY_LIMIT (1,000) history events or has taken EVENTS_PER_RUN (1,000) behaviour
# events, checked before behaviour so a stream of it cannot starve the check (a backlog over
# CARRY_LIMIT is worked down first); it prunes the events it carries for scoring past 400,
# keeping what still counts (`prune_events`), at continue-as-new too; it takes a backlog
# INBOX_SLICE events per workflow task (a 1 ms timer between slices), so no activation
# nears the SDK's 2 s deadlock check. Before, a busy lead's run grew to 10,000 events with
# every event kept, and a replay outlasted the 10 s workflow task timeout: the journey timed
# out for good. Asked per run, not kept in `JourneyMemory.versions`: every run that starts
# after the release takes the bounded path, while a run recorded before it keeps the old one
# until it continues as new. Released 2026-12-06; deprecate once no run started before then
# is open.
BOUNDED_REPLAY = "bounded-replay"
