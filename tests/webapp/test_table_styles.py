"""Every table on a page has the house look (left-aligned headers, ruled rows): a table drawn with a class of its own
but without ``data-table`` lost it (the theme page's month table was centred and unruled, seen in a screenshot)."""

from __future__ import annotations

import re

from webapp.config import PROJECT_ROOT

TABLE = re.compile(r"<table\b([^>]*)>", re.IGNORECASE)
CLASS = re.compile(r"""\bclass\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def tables_without_the_house_style(html: str) -> list[str]:
    """The opening tags of tables that have a class but not ``data-table`` (a table with no class gets the look from
    ``main table:not([class])`` in commintel.css)."""
    found = []
    for match in TABLE.finditer(html):
        classes = CLASS.search(match.group(1))
        if classes and "data-table" not in classes.group(1).split():
            found.append(match.group(0))
    return found


def test_the_check_finds_a_table_with_a_class_of_its_own():
    assert tables_without_the_house_style('<table class="theme-periods"><tr><td>1</td></tr></table>')
    assert not tables_without_the_house_style('<table class="data-table compact">')
    assert not tables_without_the_house_style("<table>")


def test_every_template_table_has_the_house_style():
    offending = {
        str(path.relative_to(PROJECT_ROOT)): tags
        for path in sorted((PROJECT_ROOT / "templates").rglob("*.html"))
        if (tags := tables_without_the_house_style(path.read_text(encoding="utf-8")))
    }
    assert not offending, f"tables with a class but not data-table: {offending}"
