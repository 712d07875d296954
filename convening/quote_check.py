"""Quotes that single a person out are flagged before a briefing can be approved.

A quote combining an exact age, a condition and a small place ("94-year-old widower with dementia living alone in
Stoke Bishop") names nobody, yet identifies someone to the people around them. The detector is
:mod:`nlp.quasi_identifiers` (spaCy entities plus rules, with the partnership's area names as small places). Here:

- :func:`flagged_quotes`: the included quotes sections' quotes whose text is still in the section and that the
  detector flags;
- :func:`check`: raises :class:`OperationError` naming them: approving the quotes section and publishing are
  refused until each is resolved (generalised, or edited or dropped by the convenor);
- :func:`generalise_quote`: the one-click fix ("an older man with a health condition ... locally"), in the
  section's data and text, audited (the audit log keeps the kinds of detail, never the text).
"""

from __future__ import annotations

from dataclasses import dataclass

from convening.composer import _md_escape, quotes_markdown
from convening.models import Briefing, BriefingSection, SectionKind
from nlp import quasi_identifiers as qi
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
    from nlp.models_loader import load_spacy
    from nlp.redaction_tasks import build_gazetteer

    return load_spacy(), build_gazetteer()[0]


def _plain(text: str) -> str:
    return " ".join((text or "").replace("\\", "").split()).casefold()


def section_flags(section: BriefingSection, detector=None) -> list[FlaggedQuote]:
    """The flagged quotes of one quotes section whose text is still in the section."""
    if section.kind is not SectionKind.QUOTES or not section.included:
        return []
    quotes = (section.data or {}).get("quotes", [])
    if not quotes:
        return []
    nlp, gazetteer = detector or _detector()
    body = _plain(section.body)
    out = []
    for i, quote in enumerate(quotes):
        if quote.get("generalised") or _plain(_md_escape(quote["text"])) not in body:
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
    """Replace quote ``index`` of the section by its generalised wording, in the data and in the text."""
    quotes = list((section.data or {}).get("quotes", []))
    if section.kind is not SectionKind.QUOTES or not 0 <= index < len(quotes):
        raise OperationError("That quote is not part of this section.", "quote")
    nlp, gazetteer = _detector()
    quote = quotes[index]
    finding = qi.find_with(nlp, quote["text"], gazetteer)
    if not finding.details:
        raise OperationError("Nothing in that quote needs generalising.", "quote")
    new_text = qi.generalise(quote["text"], finding)
    quotes[index] = {**quote, "text": new_text, "generalised": True}
    if section.machine_written:
        section.body = quotes_markdown(quotes)
    else:
        section.body = section.body.replace(_md_escape(quote["text"]), _md_escape(new_text))
    section.data = {**(section.data or {}), "quotes": quotes}
    section.briefing.changed_since_publish = True
    db.session.flush()
    record("briefing.quote_generalise", "briefing_section", section.id, actor, quote=index + 1,
           observation_id=quote.get("observation_id"), details=sorted(finding.kinds))  # fmt: skip
    return new_text
