"""A role from a job title, so content speaks to executives (cost, ROI) or practitioners
(ease of use, daily work) in their own terms."""

from __future__ import annotations

from nurture.leads.profile import Role

_EXECUTIVE = (
    "ceo",
    "cfo",
    "cto",
    "coo",
    "cio",
    "cmo",
    "chief",
    "president",
    "founder",
    "owner",
    "director",
    "vp",
    "vice president",
    "head of",
    "代表",
    "社長",
    "取締役",
    "役員",
    "執行役員",
    "本部長",
    "cxo",
)
_MANAGER = ("manager", "lead", "supervisor", "部長", "課長", "マネージャー", "リーダー", "主任")


def role_from_title(title: str | None) -> Role | None:
    """Executive, manager or practitioner from common English and Japanese titles."""
    if not title:
        return None
    lowered = title.lower()
    if any(word in lowered for word in _EXECUTIVE):
        return "executive"
    if any(word in lowered for word in _MANAGER):
        return "manager"
    return "practitioner"
