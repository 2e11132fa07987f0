"""The ingest bench's phases, in the order a run takes them (bench/ingest/run.py):

floor        bare Temporal signals (the delivery ratio's floor); httpx's own ceiling
accepting    single `POST /v1/track` (wrk), then `POST /v1/batch` (httpx), each
             followed by
delivery     every event handled by its journey; the relays' rounds; signal sizes
trigger      trigger emails at a steady rate and one at a time
             (trigger_path: where a trigger's time goes, from the histories)
trigger_floor  the same work bare (signal → render one template, write one row): CPU per
             trigger against it; then trigger emails at half the stack's capacity
store_work   the store's work per request, instrumented, in this process
"""
