"""Quotes that single a person out are flagged before a briefing can be approved.

A quote combining an exact age, a condition and a small place ("94-year-old widower with dementia living alone in
Stoke Bishop") names nobody, yet identifies someone to the people around them. The detector is
:mod:`nlp.redaction.quasi_identifiers` (spaCy entities plus rules, with the partnership's area names as small
places). Here:

- :func:`section_quotes`: the quotes a quotes section shows, in either edition (they live in the briefing's facts,
  one list per edition: :mod:`webapp.disclosure` decides which observations each edition may quote);
- :func:`flagged_quotes`: the included quotes sections' quotes still shown (the funders' edition always writes them
  from the facts; the partnership's edition unless the convenor edited the section and took the quote out) that the
  detector flags;
- :func:`check`: raises :class:`OperationError` naming them: approving the quotes section and publishing are
  refused until each is resolved (generalised, or edited or dropped by the convenor);
- :func:`generalise_quote`: the one-click fix ("an older man with a health condition ... locally"), in every
  edition's facts and in the section's text, audited (the audit log keeps the kinds of detail, never the text).
"""

from __future__ import annotations

from dataclasses import dataclass

from convening.composer.edition import Edition
from convening.composer.sections import quotes as quotes_section
from convening.composer.text import md_escape
from convening.models import Briefing, BriefingSection, SectionKind
from nlp.models_loader import load_spacy
from nlp.redaction import quasi_identifiers as qi
from nlp.redaction.operations import build_gazetteer
from webapp.disclosure import EDITIONS, Audience
from webapp.extensions import db
from webapp.models import User
from webapp.operations import OperationError, record


@dataclass
class FlaggedQuote:
    section: BriefingSection
    index: int
    quote: dict
    finding: qi.Finding

    @property
    def message(self) -> str:
        return f"quote {self.index + 1} of “{self.section.title}” combines {self.finding.reason()}"


def _detector():
    return load_spacy(), build_gazetteer()[0]


def _plain(text: str) -> str:
    return " ".join((text or "").replace("\\", "").split()).casefold()


def section_quotes(section: BriefingSection) -> list[dict]:
    """The quotes the briefing's editions carry (partnership's first, then any only the funders' edition has), one
    per observation, as stored in the briefing's facts; a quotes section shows them."""
    facts = section.briefing.facts or {}
    seen: dict[int, dict] = {}
    for audience in EDITIONS:
        for quote in facts.get(audience.value, {}).get("quotes", []):
            seen.setdefault(int(quote["observation_id"]), quote)
    return list(seen.values())


def section_flags(section: BriefingSection, detector=None) -> list[FlaggedQuote]:
    """The flagged quotes of one quotes section that an edition still shows."""
    if section.kind is not SectionKind.QUOTES or not section.included:
        return []
    quotes = section_quotes(section)
    if not quotes:
        return []
    funders = {int(q["observation_id"]) for q in (section.briefing.facts or {}).get(Audience.FUNDERS.value, {})
               .get("quotes", [])}  # fmt: skip
    edited = bool((section.data or {}).get("edited"))
    nlp, gazetteer = detector or _detector()
    body = _plain(section.body)
    out = []
    for i, quote in enumerate(quotes):
        # The funders' edition writes its quotes from the facts; the partnership's from the facts unless the convenor
        # edited the section (then only what is still in the text is shown).
        shown = int(quote["observation_id"]) in funders or not edited or _plain(md_escape(quote["text"])) in body
        if quote.get("generalised") or not shown:
            continue
        finding = qi.find_with(nlp, quote["text"], gazetteer)
        if finding.flagged:
            out.append(FlaggedQuote(section, i, quote, finding))
    return out


def flagged_quotes(briefing: Briefing) -> list[FlaggedQuote]:
    sections = [s for s in briefing.sections if s.kind is SectionKind.QUOTES and s.included]
    if not sections:
        return []
    detector = _detector()
    return [f for s in sections for f in section_flags(s, detector)]


def check(briefing: Briefing, section: BriefingSection | None = None) -> None:
    """Refuse (OperationError) while a quote that singles a person out is unresolved."""
    flags = section_flags(section) if section is not None else flagged_quotes(briefing)
    if flags:
        details = "; ".join(f.message for f in flags)
        raise OperationError(
            f"A quote could identify someone: {details}. Generalise it with one click, or edit or drop it, "
            "before the briefing is approved.",
            "quotes",
        )


def generalise_quote(section: BriefingSection, index: int, actor: User) -> str:
    """Replace quote ``index`` of the section by its generalised wording, in every edition's facts and in the text."""
    quotes = section_quotes(section)
    if section.kind is not SectionKind.QUOTES or not 0 <= index < len(quotes):
        raise OperationError("That quote is not part of this section.", "quote")
    nlp, gazetteer = _detector()
    quote = quotes[index]
    finding = qi.find_with(nlp, quote["text"], gazetteer)
    if not finding.details:
        raise OperationError("Nothing in that quote needs generalising.", "quote")
    new_text = qi.generalise(quote["text"], finding)
    briefing = section.briefing
    facts = dict(briefing.facts or {})
    for audience in EDITIONS:
        edition = facts.get(audience.value)
        if not edition:
            continue
        facts[audience.value] = {
            **edition,
            "quotes": [
                {**q, "text": new_text, "generalised": True}
                if int(q["observation_id"]) == int(quote["observation_id"])
                else q
                for q in edition.get("quotes", [])
            ],
        }
    briefing.facts = facts
    if section.machine_written:
        section.body = quotes_section.write(
            Edition(facts, Audience.PARTNERSHIP, briefing.session.partnership, tokens=True)
        )[0]
    else:
        section.body = section.body.replace(md_escape(quote["text"]), md_escape(new_text))
    briefing.changed_since_publish = True
    db.session.flush()
    record("briefing.quote_generalise", "briefing_section", section.id, actor, quote=index + 1,
           observation_id=quote.get("observation_id"), details=sorted(finding.kinds))  # fmt: skip
    return new_text
