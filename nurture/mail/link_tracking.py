"""Nurture's own open and click tracking in a rendered email (providers without their own).

Every `http(s)` link of the HTML part becomes a click link of the API
(`/v1/t/c/{token}`, which redirects to the exact link, UTM parameters and all), except the
unsubscribe and preference links, which must work without us; a 1×1 pixel
(`/v1/t/o/{token}`) goes at the end of the body, so a client that shows the whole email
fetches it (a long email's end also tells that it was read through). The text part keeps
the plain links: a reader of plain text is not tracked.
"""

from __future__ import annotations

import html
import re

from nurture.sending.tracking_tokens import click_token, open_token

# `href` itself (not `data-href`), quoted, with an absolute http(s) link.
_LINK = re.compile(r"""(<a\b[^>]*?(?<![\w-])href\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
# Character references as HTML writes them in attributes (`&amp;` from autoescaping); a bare
# `&` followed by letters (`?a=1&region=eu`) is left alone: it is no reference.
_REFERENCE = re.compile(r"&(#\d+|#[xX][0-9a-fA-F]+|[A-Za-z]+);")


def _attribute_value(text: str) -> str:
    return _REFERENCE.sub(lambda m: html.unescape(m.group(0)), text)


def track_links(body: str, *, base_url: str, send_id: str, secret: str, keep: set[str]) -> str:
    """`body` (rendered HTML) with its links made click links and the pixel appended;
    links in `keep` (compared unescaped) stay as they are."""

    def through_us(match: re.Match[str]) -> str:
        url = _attribute_value(match.group(3))
        if url in keep:
            return match.group(0)
        tracked = f"{base_url}/v1/t/c/{click_token(send_id, url, secret)}"
        return f"{match.group(1)}{match.group(2)}{html.escape(tracked)}{match.group(2)}"

    tracked = _LINK.sub(through_us, body)
    pixel = (
        f'<img src="{base_url}/v1/t/o/{open_token(send_id, secret)}" width="1" height="1" '
        'alt="" style="display:block;border:0;width:1px;height:1px">'
    )
    closing = re.search(r"</body\s*>", tracked, re.IGNORECASE)
    if closing is None:
        return tracked + pixel
    return tracked[: closing.start()] + pixel + tracked[closing.start() :]
