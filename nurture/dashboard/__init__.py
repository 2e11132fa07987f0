"""The dashboard: server-rendered pages under /dashboard for the people who run nurturing.

It owns the pages (products overview, one product, one lead), their sign-in with an admin
API key (a signed session cookie and CSRF-safe forms), their English and Japanese texts,
and the static files they serve (its own script and style, and Chart.js, fetched from the
npm registry at build time by scripts/vendor_js.py). Every figure comes from the same
report builders as `nurture report` and `/v1/reports` (nurture.analytics, nurture.handoff).
"""
