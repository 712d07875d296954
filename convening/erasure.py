"""What erasing an observation does to briefings (:func:`observation_erased`, connected to
:data:`submissions.signals.observation_erased` by :func:`convening.init_app`): its quotes and any passage carrying
its text leave drafts and every stored version, every count that included it is recounted, versions that drew on it
stop being served and a recounted version is published in place of each briefing's latest one.

Runs inside the erasure's transaction (all or nothing); the republished versions' PDFs are queued after its commit.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from sqlalchemy import select

from convening.composer.facts import quoted_ids, without_observation
from convening.composer.sections import quotes as quotes_section
from convening.composer.sections.quotes import QuoteFacts
from convening.composer.text import slug
from convening.markdown import render_markdown
from convening.models import (
    Action,
    Briefing,
    BriefingContribution,
    BriefingEdition,
    BriefingVersion,
    SectionKind,
    Session,
)
from convening.publishing import _add_contributions, _add_editions
from convening.tasks import render_briefing_pdf_now
from nlp.themes.erasure import labels_withdrawn_by
from submissions.models import Observation
from webapp import jobs
from webapp.disclosure import (
    EDITIONS,
    Audience,
)
from webapp.extensions import db
from webapp.models import (
    Partnership,
    utcnow,
)
from webapp.operations import record

log = logging.getLogger(__name__)


# Finding the erased text ----------------------------------------------------------------------------------------------


# An erased observation's text is found in a passage by a run of this many characters (after unescaping Markdown,
# dropping emphasis and quotation marks, folding case and spaces): enough to survive a convenor's trimming or light
# editing of a quote, long enough never to match ordinary prose by chance. Shorter texts must appear whole.
ERASED_RUN = 40


_SHORTEST = 12


_ESCAPED = re.compile(r"\\(.)")


_NOISE = re.compile(r"[*_`\"“”‘’'…]")


_QUOTE_MARKER = re.compile(r"^ {0,3}(?:> ?)+")


_BLOCKQUOTE = re.compile(r"^ {0,3}>")


_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:\s|$)")


ERASED_REASON = (
    "An observation it counted or quoted was erased; it has also been taken out of this stored copy (text and counts)."
)


def _plain(text: str) -> str:
    text = _ESCAPED.sub(r"\1", text or "")
    return " ".join(_NOISE.sub("", text).split()).casefold()


@dataclass(frozen=True)
class ErasedText:
    """The texts of an erased observation (raw, redacted, as quoted), normalised, and where a passage carries them."""

    texts: tuple[str, ...]

    @classmethod
    def of(cls, texts: list[str | None]) -> ErasedText:
        plain = {_plain(t) for t in texts if t}
        return cls(tuple(sorted(p for p in plain if len(p) >= _SHORTEST)))

    def found_in(self, passage: str) -> bool:
        block = _plain(passage)
        if not block:
            return False
        for text in self.texts:
            if len(text) <= ERASED_RUN:
                if text in block:
                    return True
                continue
            # Every run of ERASED_RUN characters holds one of these aligned half-length chunks: a cheap first pass.
            step = ERASED_RUN // 2
            if not any(text[k : k + step] in block for k in range(0, len(text) - step + 1, step)):
                continue
            if any(text[i : i + ERASED_RUN] in block for i in range(len(text) - ERASED_RUN + 1)):
                return True
        return False


def scrub_markdown(markdown: str, erased: ErasedText) -> str:
    """The Markdown without any passage carrying the erased text: a whole blockquote (with its attribution line),
    else the line (a table row, a list item) or the paragraph; a heading left with nothing under it goes too."""
    if not erased.texts or not markdown:
        return markdown
    lines = markdown.split("\n")
    groups: list[tuple[str, list[int]]] = []
    for i, line in enumerate(lines):
        kind = (
            "blank" if not line.strip()
            else "heading" if _HEADING.match(line)
            else "quote" if _BLOCKQUOTE.match(line)
            else "text"
        )  # fmt: skip
        if kind == "text" and groups and groups[-1][0] == "quote":
            kind = "quote"  # a lazy continuation line belongs to the blockquote above it
        if groups and groups[-1][0] == kind and kind != "heading":
            groups[-1][1].append(i)
        else:
            groups.append((kind, [i]))
    drop: set[int] = set()
    for kind, idx in groups:
        if kind == "quote":
            if erased.found_in("\n".join(_QUOTE_MARKER.sub("", lines[i]) for i in idx)):
                drop.update(idx)
        elif kind in ("text", "heading"):
            hit = {i for i in idx if erased.found_in(lines[i])}
            if not hit and len(idx) > 1 and erased.found_in("\n".join(lines[i] for i in idx)):
                hit = set(idx)
            drop |= hit
    if not drop:
        return markdown
    for i, line in enumerate(lines):
        heading = _HEADING.match(line)
        if not heading or i in drop:
            continue
        j, emptied = i + 1, False
        while j < len(lines) and (j in drop or not lines[j].strip()):
            emptied = emptied or j in drop
            j += 1
        following = _HEADING.match(lines[j]) if j < len(lines) else None
        if emptied and (j == len(lines) or (following and len(following.group(1)) <= len(heading.group(1)))):
            drop.add(i)
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in drop or (not line.strip() and (not out or not out[-1].strip())):
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


def scrub_content(content: dict, observation_id: int, erased: ErasedText, record_key: int | None = None) -> dict | None:
    """A version's content without the observation: its quotes, any passage carrying its text, and (versions with
    editions) recounted without it; None when it held none of these."""
    if content.get("format") == 2:
        facts, changed = without_observation(content.get("facts", {}), observation_id, record_key)
        sections = []
        for spec in content.get("sections", []):
            body = scrub_markdown(spec.get("body", ""), erased)
            if body != spec.get("body", ""):
                spec = {**spec, "body": body}
                changed = True
            sections.append(spec)
        if not changed:
            return None
        return {**content, "facts": facts, "sections": sections}
    changed = False
    sections = []
    for s in content.get("sections", []):
        quotes = list(s.get("quotes", []))
        remaining = [q for q in quotes if int(q["observation_id"]) != observation_id]
        markdown = scrub_markdown(s.get("markdown", ""), erased)
        if len(remaining) != len(quotes) or markdown != s.get("markdown", ""):
            if s.get("kind") == SectionKind.QUOTES.value and not remaining and not markdown.strip(" \n>"):
                markdown = quotes_section.render(QuoteFacts(Audience.PARTNERSHIP, ()))[0]
            s = {**s, "quotes": remaining, "markdown": markdown, "html": str(render_markdown(markdown))}
            changed = True
        sections.append(s)
    return {**content, "sections": sections} if changed else None


# Theme labels withdrawn with it ---------------------------------------------------------------------------------------


def relabel(value, labels: dict[str, str]):
    """``value`` (text, or JSON-like lists and dicts of it: Markdown, HTML, chart specifications) with each old theme
    label in ``labels`` replaced by its new one."""
    if not labels:
        return value
    if isinstance(value, str):
        for old, new in labels.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [relabel(v, labels) for v in value]
    if isinstance(value, dict):
        return {k: relabel(v, labels) for k, v in value.items()}
    return value


def relabel_facts(value, labels: dict[str, str]):
    """``relabel`` for a composition's facts, stored content and draft text, where labels are also dict keys (the
    groups) and cells are keyed by the groups' slugs ("g.<slug>.now"): both go, from keys and values."""
    if not labels or value is None:
        return value
    # Dict keys carry labels too (a composition's groups): replace in the JSON text, labels as JSON-escaped.
    dumped = json.dumps(value, ensure_ascii=False)
    for old, new in labels.items():
        dumped = dumped.replace(json.dumps(old, ensure_ascii=False)[1:-1], json.dumps(new, ensure_ascii=False)[1:-1])
        old_slug, new_slug = slug(old), slug(new)
        if old_slug != new_slug:
            dumped = dumped.replace(old_slug, new_slug)
    return json.loads(dumped)


# Briefings and versions -----------------------------------------------------------------------------------------------


def _erasure_scope(obs: Observation | None) -> set[int] | None:
    """Partnerships whose briefings could carry the observation's text (None: look everywhere)."""
    if obs is None:
        return None
    scope = {obs.partnership_id} if obs.partnership_id else set()
    if obs.organisation is not None:
        scope |= set(db.session.scalars(select(Partnership.id).where(Partnership.members.contains(obs.organisation))))
    return scope


def observation_erased(observation_id: int) -> list[BriefingVersion]:
    """Remove an erased observation from every briefing: its quotes and any passage carrying its text, and every
    count that included it, from drafts and from every stored published version; versions that counted or quoted it
    stop being served, and a new version recounted without it is published in place of each briefing's latest one.
    Actions lose their link to it.

    Runs inside the erasure's transaction (all or nothing), before the observation's row is deleted. Returns the
    versions published automatically.
    """
    withdrawn_note = (
        f"Republished on {utcnow():%d %B %Y}: an observation it drew on was erased at the request of the people who "
        "shared it, and every figure and quote has been recounted without it. This version replaces the earlier one."
    )
    obs = db.session.get(Observation, observation_id)
    record_key = obs.record_key if obs is not None else None
    scope = _erasure_scope(obs)
    for action in db.session.scalars(select(Action)):
        if observation_id in (action.observation_ids or []):
            action.observation_ids = [i for i in action.observation_ids if i != observation_id]

    briefings_stmt = select(Briefing).join(Session)
    versions_stmt = select(BriefingVersion).order_by(BriefingVersion.id)
    if scope is not None:
        briefings_stmt = briefings_stmt.where(Session.partnership_id.in_(scope))
        versions_stmt = versions_stmt.where(BriefingVersion.partnership_id.in_(scope))
    briefings = list(db.session.scalars(briefings_stmt))
    versions = list(db.session.scalars(versions_stmt))
    quoted = [q["text"] for b in briefings for a in EDITIONS for q in (b.facts or {}).get(a.value, {}).get("quotes", [])
              if int(q["observation_id"]) == observation_id]  # fmt: skip
    for v in versions:
        content = v.content or {}
        if content.get("format") == 2:
            quoted += [q["text"] for a in EDITIONS for q in content.get("facts", {}).get(a.value, {}).get("quotes", [])
                       if int(q["observation_id"]) == observation_id]  # fmt: skip
        else:
            quoted += [q["text"] for s in content.get("sections", []) for q in s.get("quotes", [])
                       if int(q["observation_id"]) == observation_id]  # fmt: skip
    erased = ErasedText.of([*([obs.text, obs.redacted_text] if obs else []), *quoted])
    # Theme labels made of words only this observation supported are relabelled by nlp; briefings follow.
    relabelled = labels_withdrawn_by([observation_id])

    for briefing in briefings:
        changed = False
        if briefing.facts:
            facts, changed = without_observation(briefing.facts, observation_id, record_key)
            facts = relabel_facts(facts, relabelled)
            if changed or facts != briefing.facts:
                briefing.facts = facts
                changed = True
        for section in briefing.sections:
            body = relabel_facts(scrub_markdown(section.body, erased), relabelled)
            if body != section.body:
                section.body = body
                changed = True
        if changed:
            briefing.changed_since_publish = True

    affected: list[BriefingVersion] = []
    for v in versions:
        scrubbed = scrub_content(v.content, observation_id, erased, record_key)
        renamed = relabel_facts(scrubbed if scrubbed is not None else v.content, relabelled)
        if renamed != (scrubbed if scrubbed is not None else v.content):
            scrubbed = renamed
        if scrubbed is None:
            continue
        if not v.is_withdrawn:
            v.withdrawn_at = utcnow()
            for edition in v.editions:
                edition.pdf = None
                edition.pdf_sha256 = None
            affected.append(v)
            record("briefing.withdraw", "briefing_version", v.id, None, reason="observation_erased")
        v.erase_from_content(scrubbed, ERASED_REASON)
    republished = []
    for briefing in {v.briefing: None for v in affected}:
        latest = briefing.latest_version
        if latest is None or latest not in affected:
            continue  # the briefing's current version never drew on it: it stays served as it is
        version = _republish(briefing, latest, dict(latest.content), withdrawn_note, observation_id)
        republished.append(version)
    db.session.flush()
    return republished


def _republish(
    briefing: Briefing, latest: BriefingVersion, content: dict, note: str, erased_id: int
) -> BriefingVersion:
    number = latest.number + 1
    published_at = utcnow()
    content = {**content, "status": f"Version {number}, published {published_at:%d %B %Y} (automatic: recounted after "
               "an erasure)", "notes": [*content.get("notes", []), note]}  # fmt: skip
    if content.get("format") == 2:
        quoted = quoted_ids(content.get("facts", {}))
    else:
        quoted = sorted({int(q["observation_id"]) for s in content["sections"] for q in s.get("quotes", [])})
    version = BriefingVersion(
        briefing=briefing,
        number=number,
        title=latest.title,
        content=content,
        note=note,
        published_by_id=None,
        published_at=published_at,
        partnership_id=latest.partnership_id,
        area_ids=list(latest.area_ids or []),
        theme_ids=list(latest.theme_ids or []),
        quoted_observation_ids=quoted,
    )
    db.session.add(version)
    if content.get("format") == 2:
        _add_editions(version)
        _add_contributions(version, content.get("facts", {}))
    else:
        erased = db.session.get(Observation, erased_id)
        version.editions.append(BriefingEdition(audience=Audience.PARTNERSHIP, released_with={"legacy": True}))
        for c in latest.contributions:
            n = c.observations - (1 if erased is not None and erased.organisation_id == c.organisation_id else 0)
            if n > 0:
                version.contributions.append(BriefingContribution(organisation_id=c.organisation_id, observations=n))
    db.session.flush()
    record("briefing.publish", "briefing_version", version.id, None, number=number, automatic=True)
    jobs.send_after_commit(render_briefing_pdf_now, version.id)
    return version
