"""The README is the front door and docs/ the rooms behind it: every relative link between them
leads somewhere, anchors included."""

from __future__ import annotations

import re

from tests.support.processes import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchors(page) -> set[str]:
    """GitHub's anchors: headings lower-cased, punctuation but hyphens dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_relative_link_and_anchor_resolves():
    checked = 0
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name} links to {target}, which does not exist"
            if anchor:
                assert anchor in anchors(linked), f"{page.name} links to #{anchor}, no such heading in {linked.name}"
            checked += 1
    assert checked >= 15


def test_the_readme_stays_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 260
    for command in ("make run", "make test", "docker compose up --build --wait"):
        assert command in readme
