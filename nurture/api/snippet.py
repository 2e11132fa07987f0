"""The first-party tracker for sites with neither Segment nor RudderStack: `/v1/nurture.js`.

A few KB of plain JavaScript (nurture/api/static/nurture.js, no dependencies): an
anonymous id in a first-party cookie, page views with their UTM campaign, the visitor
identified by the `nt=` token a Nurture email link carried, `nurture.track()`,
contact forms focused and left unsent (`Contact Form Abandoned`), batches sent as
`text/plain` with the publishable key in the URL (no preflight) and `sendBeacon` as the page
goes away; nothing at all, not even the cookie, under Do Not Track, Global Privacy Control,
or until `nurture.consent(true)` when the tag asks for consent. Served with CORS open, so a
page can pin it with Subresource Integrity (docs/track-your-site.md gives the hash).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter(tags=["tracking"])
SNIPPET = Path(__file__).parent / "static" / "nurture.js"


@lru_cache(maxsize=1)
def snippet() -> bytes:
    return SNIPPET.read_bytes()


def integrity() -> str:
    """The Subresource Integrity value of the served file (sha384)."""
    return "sha384-" + base64.b64encode(hashlib.sha384(snippet()).digest()).decode()


@router.get(
    "/nurture.js",
    response_class=Response,
    responses={200: {"content": {"application/javascript": {}}}},
)
async def nurture_js() -> Response:
    """The first-party tracker (no key: it is public; the tag carries a publishable key)."""
    return Response(
        snippet(),
        media_type="application/javascript",
        headers={
            "Cache-Control": "public, max-age=3600",
            "Access-Control-Allow-Origin": "*",
            "X-Content-Type-Options": "nosniff",
        },
    )
