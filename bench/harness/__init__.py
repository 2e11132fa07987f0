"""What the benchmarks share, one module a concern:

cpu        `metered`: wall and CPU seconds of a phase, by process; `Result`, `timed`
sql        `counted`: what a pass made the database driver do (statements, commits, …)
steps      `step_timers` (time the parts of one call), `ActivitySender` (an activity
           run the way the tests run it, and the price of its context)
databases  a fresh PostgreSQL database per run, SQLite in a temp dir, the store on
           them, the leads the benches seed it with, the server's settings
temporal   a dev server per run, Nurture's settings on it, journeys started, the bare
           floor's signals, free ports, the bytecode cache
waiting    keep N calls in flight; wait until work is done, or say it was not
report     the ratio table, table rows, quantiles, the machine's facts, log tails
cli        the arguments every bench takes (`--quick`)
"""
