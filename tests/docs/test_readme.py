"""The README's layout names files that exist, and its links and CONTRIBUTING.md's resolve: a
reader guessing a file from the README must find it there."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).parent.parent.parent
# A file name with an extension, or a folder written with its trailing slash.
PATH = re.compile(
    r"(?<![\w.*/-])([A-Za-z_][\w.-]*(?:/[\w.-]+)*(?:\.(?:py|yml|yaml|md|json)\b|/(?!\w)))"
)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def layout_block() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Layout\n", 1)[1]
    return section.split("```\n", 2)[1].splitlines()


def test_readme_layout_names_only_real_files() -> None:
    missing = []
    folder = REPO
    for line in layout_block():
        entry, _, description = line.partition("  ")
        if entry.strip():
            first = entry.strip().split(",")[0].strip()
            folder = REPO / first if first.endswith("/") else REPO
        for path in PATH.findall(entry) + PATH.findall(description):
            if not ((folder / path).exists() or (REPO / path).exists()):
                missing.append(f"{path} (in: {line.strip()})")
    assert not missing, "README.md's layout names files that do not exist:\n" + "\n".join(missing)


def test_readme_and_contributing_links_resolve() -> None:
    broken = []
    for name in ("README.md", "CONTRIBUTING.md"):
        text = (REPO / name).read_text(encoding="utf-8")
        for target in LINK.findall(text):
            if "://" in target:
                continue
            if not (REPO / target).exists():
                broken.append(f"{name}: {target}")
    assert not broken, "links to files that do not exist:\n" + "\n".join(broken)
