"""Finding 15: every screenshot the README and the docs show is one a browser test takes, so
`make screenshots` regenerates all of them from the screens as they are."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def taken_by_tests() -> set[str]:
    names: set[str] = set()
    for test in (ROOT / "tests" / "e2e").glob("test_*.py"):
        names |= set(re.findall(r'screenshot\(page, f?"([\w-]+)"\)', test.read_text()))
    return names


def test_every_documented_screenshot_is_taken_by_a_browser_test() -> None:
    shown = set()
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for match in re.finditer(r"(?:docs/)?img/([\w-]+)\.png", doc.read_text()):
            shown.add(match.group(1))
    assert shown, "the README shows screenshots"
    missing = shown - taken_by_tests()
    assert not missing, f"no browser test takes {sorted(missing)}"
    for name in shown:
        assert (ROOT / "docs" / "img" / f"{name}.png").is_file(), name


def test_make_screenshots_runs_the_browser_tests_into_docs_img() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^screenshots:.*\n\t(.+)$", makefile, re.M)
    assert recipe, "make screenshots"
    assert "NIGHTPOS_SCREENSHOTS=docs/img" in recipe.group(1) and "tests/e2e" in recipe.group(1)
