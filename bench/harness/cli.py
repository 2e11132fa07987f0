"""The arguments every benchmark takes, beside its own sizes.

`--quick` sets the sizes the bench names as its quick ones (any size given on the command
line wins): enough to see the bench run end to end and print its tables, not enough for
figures worth comparing.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any


def parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser described by the first paragraph of the bench's docstring."""
    return argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])


def parse(parser: argparse.ArgumentParser, quick: Mapping[str, Any]) -> argparse.Namespace:
    """Parse, with `--quick` setting each size in `quick` that was left at its default."""
    sizes = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in quick.items())
    parser.add_argument(
        "--quick", action="store_true", help=f"small sizes, to check the bench runs: {sizes}"
    )
    args = parser.parse_args()
    if args.quick:
        for name, value in quick.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    return args
