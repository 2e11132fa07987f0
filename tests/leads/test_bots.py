"""Which visitors are programs: crawlers, HTTP libraries, headless browsers; not people."""

from __future__ import annotations

import pytest

from nurture.leads.bots import bot_reason


@pytest.mark.parametrize(
    ("agent", "why"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "googlebot"),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/156.0", "headless"),
        ("python-requests/2.32", "python-requests"),
        ("facebookexternalhit/1.1", "facebookexternalhit"),
    ],
)
def test_programs_are_named(agent: str, why: str) -> None:
    assert why in (bot_reason(agent) or "").lower()


def test_people_and_unknowns_are_not_bots() -> None:
    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130 Safari"
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
    assert bot_reason(chrome) is None and bot_reason(iphone) is None and bot_reason(None) is None


def test_phones_and_browsers_with_bot_like_names_are_people() -> None:
    for agent in (
        "Mozilla/5.0 (Linux; Android 12; CUBOT X50) AppleWebKit/537.36 Chrome/120 Mobile",
        "Mozilla/5.0 (Linux; Android 13) YandexSearch/23.1 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 11) SogouMobileBrowser/5.28 Mobile Safari/537.36",
    ):
        assert bot_reason(agent) is None, agent
    assert bot_reason("Mozilla/5.0 (compatible; SomeCrawlerBot/1.2; +https://x.example)")
