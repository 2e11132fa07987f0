"""Which language a dashboard page speaks, and that both languages say everything."""

from __future__ import annotations

from nurture.dashboard.texts import TEXTS, choose, texts


def test_asked_then_remembered_then_the_scenario_then_the_browser() -> None:
    assert choose("ja", "en", "en", "en-US") == "ja"
    assert choose(None, "ja", "en", "en-US") == "ja"
    assert choose("fr", None, "ja", "en-US") == "ja"  # an unknown ask is ignored
    assert choose(None, None, None, "fr-FR,ja;q=0.8,en;q=0.5") == "ja"
    assert choose(None, None, None, "fr-FR") == "en"


def test_every_text_is_in_both_languages() -> None:
    assert all(set(by_language) == {"en", "ja"} for by_language in TEXTS.values())
    assert (
        texts("ja")["funnel"] == "トラック別ファネル"
        and texts("en")["funnel"] == "Funnel per track"
    )
