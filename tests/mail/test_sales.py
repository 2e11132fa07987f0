"""What sales reads about a hand-off, in the scenario's language."""

from __future__ import annotations

from datetime import UTC, datetime

from nurture.mail.sales import SalesNotice, sales_message
from nurture.scenario.loader import load_scenario
from tests.helpers.paths import REPO, SCENARIOS

PAYLOAD = {
    "lead": {"id": "ld_1", "name": "佐藤 愛子", "company": "サンプル商事", "email": "a@example.jp"},
    "product": "cloudbook",
    "handoff_no": 2,
    "handed_off_at": "2026-12-04T03:00:00+00:00",
    "score": {"total": 72, "fit": 15, "behavior": 57, "rules": [{"rule": "pricing", "points": 15}]},
    "moments": ["料金ページを3回閲覧"],
    "emails": [
        {"subject": "導入事例", "mail_type": "step", "sent_at": "2026-12-01", "clicked": True}
    ],
    "journey_url": "http://localhost:8233/namespaces/default/workflows/journey:cloudbook:ld_1",
}
AT = datetime(2026, 12, 8, 3, tzinfo=UTC)


def text_of(message: object) -> str:
    part = message.get_body(("plain",))  # type: ignore[attr-defined]
    return str(part.get_content())


def test_a_japanese_scenarios_sales_team_reads_japanese() -> None:
    brand = load_scenario(REPO / "scenarios", "cloudbook").brand
    notice = SalesNotice("remind", "sales@cloudbook.example.jp", 2, "Asia/Tokyo")
    message = sales_message(notice, PAYLOAD, brand, send_id="snd_1", sent_at=AT)
    assert message["Subject"] == (
        f"[{brand.name}] リマインド: 佐藤 愛子 (サンプル商事) の営業フィードバックが未登録です"
    )
    text = text_of(message)
    for expected in (
        "2営業日フィードバックがありません",
        "Fri 2026-12-04 12:00(Asia/Tokyo)",
        "氏名: 佐藤 愛子",
        "合計 72 = 属性 15 + 行動 57",
        "クリック: 導入事例",
        "注目すべき行動",
        "POST /v1/leads/ld_1/feedback で登録してください",
    ):
        assert expected in text, expected


def test_an_english_scenarios_sales_team_reads_english() -> None:
    brand = load_scenario(SCENARIOS, "acme").brand
    notice = SalesNotice("handoff", "sales@acme.example")
    message = sales_message(notice, PAYLOAD, brand, send_id="snd_1", sent_at=AT)
    assert (
        message["Subject"]
        == "[Acme Analytics] Hot lead for sales: 佐藤 愛子 (サンプル商事), score 72"
    )
    assert "Total 72 = fit 15 + behaviour 57" in text_of(message)
