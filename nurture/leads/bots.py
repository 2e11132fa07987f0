"""Visitors that are programs: search and link-preview crawlers, SEO tools, HTTP libraries,
and headless or automated browsers. Their events are stored (a team may want to see them)
but never reach a journey, so a crawler reading the pricing page scores nobody.
"""

from __future__ import annotations

import re

CRAWLER = re.compile(
    r"googlebot|bingbot|yandexbot|baiduspider|duckduckbot|slurp|exabot|applebot|"
    r"petalbot|ahrefsbot|semrushbot|mj12bot|dotbot|bytespider|gptbot|ccbot|claudebot|"
    r"facebookexternalhit|twitterbot|linkedinbot|slackbot|discordbot|whatsapp|telegrambot|"
    # any other "SomethingBot/1.2" (a name and a version: not a phone called CUBOT X50)
    r"[a-z]*bot/\d|crawler|spider|python-requests|python-urllib|aiohttp|go-http-client|"
    r"okhttp|curl/|wget/|java/|libwww|httpclient",
    re.IGNORECASE,
)
AUTOMATED = re.compile(r"headlesschrome|phantomjs|puppeteer|playwright|selenium|electron",
                       re.IGNORECASE)  # fmt: skip


def bot_reason(user_agent: str | None) -> str | None:
    """Why this User-Agent is a program's, or None for what looks like a person's browser
    (an absent User-Agent is unknown, not a bot: server-side trackers may not pass one)."""
    if not user_agent:
        return None
    if found := AUTOMATED.search(user_agent):
        return f"a headless or automated browser ({found.group(0)})"
    if found := CRAWLER.search(user_agent):
        return f"a crawler or HTTP library ({found.group(0)})"
    return None
