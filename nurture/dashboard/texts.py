"""The dashboard's words in English and Japanese, and which language a page speaks.

A page speaks the language asked for (`?lang=`, then remembered in a cookie), else its
product scenario's locale, else the browser's first choice among these, else English.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["en", "ja"]
LANGUAGES: tuple[Language, ...] = ("en", "ja")
COOKIE = "nurture_lang"

TEXTS: dict[str, dict[Language, str]] = {
    "title": {"en": "Nurture dashboard", "ja": "Nurture ダッシュボード"},
    "sign_in": {"en": "Sign in", "ja": "サインイン"},
    "sign_out": {"en": "Sign out", "ja": "サインアウト"},
    "api_key": {"en": "Admin API key", "ja": "管理者 API キー"},
    "sign_in_help": {
        "en": "Paste an API key with the admin scope (nurture apikey create --scope admin).",
        "ja": "admin スコープの API キーを貼り付けてください"
        "（nurture apikey create --scope admin）。",
    },
    "bad_key": {
        "en": "That key is unknown, revoked, or lacks the admin scope.",
        "ja": "キーが不明・失効済み、または admin スコープがありません。",
    },
    "expired_form": {
        "en": "The form expired; sign in again.",
        "ja": "フォームの有効期限が切れました。もう一度サインインしてください。",
    },
    "products": {"en": "Products", "ja": "製品"},
    "product": {"en": "Product", "ja": "製品"},
    "period": {"en": "Last 90 days", "ja": "過去90日間"},
    "journeys": {"en": "Journeys", "ja": "ジャーニー"},
    "sent": {"en": "Sent", "ja": "送信数"},
    "open_rate": {"en": "Open rate", "ja": "開封率"},
    "click_rate": {"en": "Click rate", "ja": "クリック率"},
    "click_to_open": {"en": "Click-to-open", "ja": "クリック/開封"},
    "handed_off": {"en": "Handed off", "ja": "営業へ引き渡し"},
    "won": {"en": "Won", "ja": "受注"},
    "funnel": {"en": "Funnel per track", "ja": "トラック別ファネル"},
    "track": {"en": "Track", "ja": "トラック"},
    "stage_flow": {"en": "Stages week by week", "ja": "週ごとのステージ推移"},
    "engagement": {"en": "Engagement per step", "ja": "ステップ別エンゲージメント"},
    "step": {"en": "Step", "ja": "ステップ"},
    "variant": {"en": "Variant", "ja": "バリエーション"},
    "opened": {"en": "Opened", "ja": "開封"},
    "clicked": {"en": "Clicked", "ja": "クリック"},
    "unsubscribed": {"en": "Unsubscribed", "ja": "配信停止"},
    "ab_tests": {"en": "A/B tests", "ja": "A/B テスト"},
    "verdict": {"en": "Verdict", "ja": "判定"},
    "no_ab": {
        "en": "No step with variants was sent.",
        "ja": "バリエーションのあるステップはまだ送信されていません。",
    },
    "send_time": {"en": "When leads read", "ja": "リードが読む時間帯"},
    "send_time_help": {
        "en": "A person's opens and clicks by weekday and hour in the lead's time zone.",
        "ja": "リードのタイムゾーンでの曜日・時間帯別の開封とクリック（人によるもの）。",
    },
    "optimised_hour": {"en": "Send-time optimisation's hour", "ja": "送信時刻最適化の時刻"},
    "precision": {"en": "Hand-off precision", "ja": "引き渡し精度"},
    "target": {"en": "Target", "ja": "目標"},
    "threshold": {"en": "Threshold", "ja": "しきい値"},
    "calibration": {"en": "Threshold calibration", "ja": "しきい値の調整"},
    "decided": {"en": "Decided", "ja": "判定済み"},
    "scoring_learnt": {"en": "Scoring learnt from outcomes", "ja": "成果から学んだスコアリング"},
    "rule": {"en": "Rule", "ja": "ルール"},
    "now": {"en": "now", "ja": "現在"},
    "suggested": {"en": "Suggested", "ja": "提案"},
    "odds": {"en": "Odds × per unit (95%)", "ja": "単位あたりオッズ比 (95%)"},
    "leads": {"en": "Recent leads", "ja": "最近のリード"},
    "lead": {"en": "Lead", "ja": "リード"},
    "stage": {"en": "Stage", "ja": "ステージ"},
    "lifecycle": {"en": "Lifecycle", "ja": "ライフサイクル"},
    "score": {"en": "Score", "ja": "スコア"},
    "started": {"en": "Started", "ja": "開始"},
    "timeline": {"en": "Timeline", "ja": "タイムライン"},
    "live_state": {"en": "Journey now", "ja": "ジャーニーの現在"},
    "temporal_link": {"en": "Open in the Temporal UI", "ja": "Temporal UI で開く"},
    "temporal_down": {
        "en": "Temporal is unreachable; the timeline below is from the store.",
        "ja": "Temporal に接続できません。以下のタイムラインはストアからの情報です。",
    },
    "next_touch": {"en": "Next email", "ja": "次のメール"},
    "none": {"en": "none", "ja": "なし"},
    "no_data": {"en": "No data in this period yet.", "ja": "この期間のデータはまだありません。"},
    "entered": {"en": "entered", "ja": "流入"},
    "engaged": {"en": "engaged", "ja": "反応あり"},
    "warm": {"en": "warm", "ja": "ウォーム"},
    "hot": {"en": "hot", "ja": "ホット"},
    "cold": {"en": "cold", "ja": "コールド"},
    "accepted": {"en": "accepted", "ja": "受け入れ"},
    "handed_off_short": {"en": "handed off", "ja": "引き渡し"},
    "won_short": {"en": "won", "ja": "受注"},
    "not_found": {"en": "Not found", "ja": "見つかりません"},
}


def texts(language: Language) -> dict[str, str]:
    """Every text in one language, for a template (`t.open_rate`)."""
    return {key: by_language[language] for key, by_language in TEXTS.items()}


def choose(asked: str | None, remembered: str | None, scenario: str | None,
           accept_language: str) -> Language:  # fmt: skip
    """The page's language: asked, remembered, the scenario's, the browser's, English."""
    for candidate in (asked, remembered, scenario):
        if candidate in LANGUAGES:
            return candidate
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "en"
