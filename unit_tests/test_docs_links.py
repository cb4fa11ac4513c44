"""Relative links in README.md and docs/ point at files that exist, and #fragments at real headings.

The README is the front door and the details live in docs/, so a moved page or a renamed heading
would otherwise leave links that only a reader finds broken.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# A page documenting a component that ships with it: linked ahead of time, required once the
# component is in the tree.
PAGE_SHIPS_WITH = {"docs/reconciliation.md": "transformations/meta_capi"}

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"`+[^`]*`+")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, with their numbers."""
    lines, in_fence = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            lines.append((number, line))
    return lines


def heading_slugs(path: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    slugs: set[str] = set()
    for _, line in prose_lines(path):
        match = HEADING.match(line)
        if match:
            base = re.sub(r"[^\w\- ]", "", match.group(1).replace("`", "").strip().lower()).replace(" ", "-")
            slug, n = base, 0
            while slug in slugs:
                n += 1
                slug = f"{base}-{n}"
            slugs.add(slug)
    return slugs


def relative_links(path: Path) -> list[tuple[int, str]]:
    links = []
    for number, line in prose_lines(path):
        for match in LINK.finditer(CODE_SPAN.sub("", line)):
            target = match.group(1)
            if not EXTERNAL.match(target):
                links.append((number, target))
    return links


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, target in relative_links(path):
        file_part, _, fragment = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        if not resolved.exists():
            relative = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else str(resolved)
            component = PAGE_SHIPS_WITH.get(relative)
            if component is None or (ROOT / component).exists():
                problems.append(f"{where} (no such file)")
            continue
        if fragment and resolved.suffix == ".md" and fragment not in heading_slugs(resolved):
            problems.append(f"{where} (no heading with anchor #{fragment})")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_given_a_doc_when_following_its_relative_links_then_every_file_and_heading_exists(doc: Path):
    assert broken_links(doc) == []


def test_given_a_heading_with_code_and_punctuation_when_slugged_then_it_matches_githubs_anchor(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("# Meta's retry guidance\n## 2026-11-26: source, `first` round (GC)\n## Meta's retry guidance\n")
    assert heading_slugs(page) == {
        "metas-retry-guidance",
        "2026-11-26-source-first-round-gc",
        "metas-retry-guidance-1",
    }


def test_given_links_in_code_when_collecting_links_then_only_prose_links_count(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("See [a](a.md) and `[b](b.md)` and [web](https://example.com).\n```\n[c](c.md)\n```\n[d](d.md#x)\n")
    assert relative_links(page) == [(1, "a.md"), (5, "d.md#x")]


def test_given_the_readme_when_measured_then_it_stays_a_front_door_of_at_most_10_kib():
    # The README is the front door; reference text belongs in docs/ (linked from its table).
    assert len((ROOT / "README.md").read_bytes()) <= 10 * 1024
