"""The edition's quotes, grouped, each attributed no more narrowly than k organisations.

:func:`read` gathers the section's typed facts from an edition, :func:`render` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from convening.composer.text import md_escape
from webapp.disclosure import Audience

if TYPE_CHECKING:
    from convening.composer.edition import Edition


@dataclass(frozen=True)
class Quote:
    group: str
    text: str  # with personal details removed
    attribution: str  # "a resident", "a charity", "a partner organisation"


@dataclass(frozen=True)
class QuoteFacts:
    audience: Audience
    quotes: tuple[Quote, ...]  # in the stored order, grouped


def read(edition: Edition) -> QuoteFacts:
    return QuoteFacts(
        edition.audience, tuple(Quote(q["group"], q["text"], q["attribution"]) for q in edition.quote_list())
    )


def write(edition: Edition) -> tuple[str, list[dict]]:
    return render(read(edition))


def render(facts: QuoteFacts) -> tuple[str, list[dict]]:
    if not facts.quotes:
        if facts.audience is Audience.FUNDERS:
            return (
                "No quotes in this edition: no observation in focus was shared with funders with consent to quote it "
                "to them."
            ), []
        return "No quotes this period: no observation in focus was shared with consent to quote.", []
    readers = "the partnership's funders" if facts.audience is Audience.FUNDERS else "the partnership"
    lines = [
        f"Observations whose people agreed to be quoted to {readers}, with personal details removed, attributed "
        "only to a kind of organisation where the partnership has several of that kind.",
        "",
    ]
    group = None
    for q in facts.quotes:
        if q.group != group:
            group = q.group
            lines += [f"### {md_escape(group)}", ""]
        lines += [f"> {md_escape(q.text)}", ">", f"> — {q.attribution}", ""]
    return "\n".join(lines), []
