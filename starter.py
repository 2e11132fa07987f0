"""Start journeys: one lead from flags, or every row of a CSV (e.g. a trade-show list).

    python starter.py --product cloudbook --email aiko@example.jp --name "佐藤 愛子" --title CFO
    python starter.py --product smartfactory --csv leads.csv

Starting a journey that already exists is a no-op that says so.
"""

from __future__ import annotations

import sys

from nurture.cli.app import app

if __name__ == "__main__":
    sys.exit(app(["start", *sys.argv[1:]]))
