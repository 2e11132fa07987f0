"""The `nurture` command, and what it runs beside the API and worker: the demo, the
local dev stack, and template previews.
"""
