"""Links through Nurture, the pixel at the end, and the links that must work without us."""

from __future__ import annotations

import re

from nurture.mail.link_tracking import track_links
from nurture.sending.tracking_tokens import read_click, read_open

SECRET = "a-secret-of-at-least-thirty-two-characters"
BASE = "https://nurture.example"
UNSUBSCRIBE = "https://nurture.example/v1/unsubscribe/tok"
HTML = (
    '<html><body><p><a href="https://acme.example/guide?utm_source=n&amp;utm_medium=email">'
    "Guide</a> <a class='x' href='http://acme.example/b'>B</a> "
    '<a href="mailto:team@acme.example">mail</a> '
    f'<a href="{UNSUBSCRIBE}">Unsubscribe</a></p></body></html>'
)


def tracked() -> str:
    return track_links(HTML, base_url=BASE, send_id="snd_1", secret=SECRET, keep={UNSUBSCRIBE})


def test_every_web_link_goes_through_a_click_link_to_exactly_where_it_went() -> None:
    clicks = re.findall(r'href=["\']https://nurture\.example/v1/t/c/([^"\']+)["\']', tracked())
    assert [read_click(token, SECRET) for token in clicks] == [
        ("snd_1", "https://acme.example/guide?utm_source=n&utm_medium=email"),
        ("snd_1", "http://acme.example/b"),
    ]


def test_unsubscribe_and_mailto_links_stay_as_they_are() -> None:
    html = tracked()
    assert f'href="{UNSUBSCRIBE}"' in html and 'href="mailto:team@acme.example"' in html
    assert "acme.example/guide" not in html  # nothing readable of a tracked link is left


def test_the_pixel_ends_the_body() -> None:
    html = tracked()
    pixel = re.search(r'<img src="https://nurture\.example/v1/t/o/([^"]+)"[^>]*></body>', html)
    assert pixel is not None and read_open(pixel.group(1), SECRET) == "snd_1"
    bare = track_links("<p>hi</p>", base_url=BASE, send_id="snd_2", secret=SECRET, keep=set())
    assert bare.startswith("<p>hi</p><img src=")


def test_raw_ampersands_data_attributes_and_upper_case_schemes() -> None:
    html = (
        '<a href="https://acme.example/p?a=1&region=eu&section=2">raw</a>'
        '<a data-href="https://acme.example/data" href="HTTPS://Acme.example/Upper">up</a>'
    )
    done = track_links(html, base_url=BASE, send_id="snd_3", secret=SECRET, keep=set())
    clicks = re.findall(r'href="https://nurture\.example/v1/t/c/([^"]+)"', done)
    assert [read_click(token, SECRET)[1] for token in clicks] == [
        "https://acme.example/p?a=1&region=eu&section=2",  # a bare & is no reference
        "HTTPS://Acme.example/Upper",
    ]
    assert 'data-href="https://acme.example/data"' in done  # not the link: left alone
