"""What operators watch: Nurture's own counters (Prometheus), the worker's HTTP side
(/metrics with the Temporal SDK's metrics, /healthz, /readyz), OpenTelemetry tracing across
API, journeys and activities, and JSON logs. No label, span attribute or log field carries
personal data: channels, outcomes and kinds only, and journey ids (which hold none).
"""
