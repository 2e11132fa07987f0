"""A/B assignment: which variant of an email a lead gets, and whether a lead is in its
product's control group (`holdout`).

A hash of the lead, the product and the email's key: the same lead always gets the same
variant of the same email (on retries, replays and in `nurture preview`), and leads split
evenly between variants without any state to keep.
"""

from __future__ import annotations

import hashlib


def assign_variant(lead_id: str, product: str, key: str, count: int) -> int:
    """0 for A, 1 for B, ... out of `count` variants."""
    if count <= 1:
        return 0
    digest = hashlib.sha256(f"{lead_id}:{product}:{key}".encode())
    return int(digest.hexdigest(), 16) % count


def in_holdout(lead_id: str, product: str, share: float) -> bool:
    """Whether the lead is in the product's control group of `share` (0.1: about one lead
    in ten), the same answer on every replay and for every later journey of the lead."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{lead_id}:{product}:holdout".encode())
    return int(digest.hexdigest()[:8], 16) / 0x1_0000_0000 < share
