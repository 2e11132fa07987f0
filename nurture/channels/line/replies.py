"""What the product's LINE account answers a user, in the scenario's locale: a courtesy, so
a lead who sent a link code or followed the account knows what happened."""

from __future__ import annotations

from typing import Literal

Reply = Literal["linked", "refused", "stranger"]

REPLIES: dict[str, dict[Reply, str]] = {
    "en": {
        "linked": "You're connected: messages from {name} will also reach you here on LINE.",
        "refused": (
            "This link code cannot be used (it has expired or was used already). Please use "
            "the LINE link in a recent email from {name}."
        ),
        "stranger": (
            "Thank you for following {name}. To get our messages here, tap the LINE link in "
            "one of our emails."
        ),
    },
    "ja": {
        "linked": "LINE連携が完了しました。{name} からのご案内をLINEでもお届けします。",
        "refused": (
            "この連携コードはご利用いただけません(有効期限切れ、または使用済みです)。"
            "{name} からの最新のメールに記載のLINE連携リンクをご利用ください。"
        ),
        "stranger": (
            "{name} を友だち追加いただきありがとうございます。LINEでご案内を受け取るには、"
            "メールに記載のLINE連携リンクをタップしてください。"
        ),
    },
}


def reply_text(reply: Reply, locale: str, name: str) -> str:
    return REPLIES.get(locale, REPLIES["en"])[reply].format(name=name)
