"""The edition's quotes, grouped, each attributed no more narrowly than k organisations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convening.composer.text import md_escape
from webapp.disclosure import Audience

if TYPE_CHECKING:
    from convening.composer.edition import Edition


def write(edition: Edition) -> tuple[str, list[dict]]:
    return markdown(edition.quote_list(), edition.audience), []


def markdown(quotes: list[dict], audience: Audience = Audience.PARTNERSHIP) -> str:
    if not quotes:
        if audience is Audience.FUNDERS:
            return (
                "No quotes in this edition: no observation in focus was shared with funders with consent to quote it "
                "to them."
            )
        return "No quotes this period: no observation in focus was shared with consent to quote."
    readers = "the partnership's funders" if audience is Audience.FUNDERS else "the partnership"
    lines = [
        f"Observations whose people agreed to be quoted to {readers}, with personal details removed, attributed "
        "only to a kind of organisation where the partnership has several of that kind.",
        "",
    ]
    group = None
    for q in quotes:
        if q["group"] != group:
            group = q["group"]
            lines += [f"### {md_escape(group)}", ""]
        lines += [f"> {md_escape(q['text'])}", ">", f"> — {q['attribution']}", ""]
    return "\n".join(lines)
