"""Quasi-identifiers in quotes: details that name nobody alone but single a person out together.

"94-year-old widower with dementia living alone in Stoke Bishop" holds no name, yet the few people it fits are
known to their neighbours. Redaction keeps such details (they are the substance of a need); a briefing that quotes
them to a wide audience must not. :func:`find` reports the details of a quote by kind:

- ``age``: an exact age ("94-year-old", "aged 94", "94 years old", "a 7-month-old");
- ``condition``: a health condition, disability or a status few people share (dementia, cerebral palsy, MND,
  wheelchair user, blind, pregnant, widower, care leaver, asylum seeker...);
- ``place``: a place smaller than a city: a neighbourhood or ward from the gazetteer, spaCy GPE/LOC/FAC entities
  that are not large places, a street ("Ridingleaze", "Stapleton Road") or an estate;
- ``household``: "lives alone", "only child", "twins", "single dad of five".

A quote is flagged (:attr:`Finding.flagged`) when it combines three kinds or more, among them an exact age, a
condition and a small place (the issue's rule), or an age, a place and a household detail. :func:`generalise` makes
the one-click safer wording: the exact age with the person's noun becomes an age band ("an older man", "a young
woman", "a child"), conditions become "a health condition" (or "a disability"), the small place "locally", the
household detail is dropped.

Pure module: plain values in and out; the spaCy pipeline and the gazetteer are passed in. Nothing here logs text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from nlp.redaction.places import Gazetteer

AGE, CONDITION, PLACE, HOUSEHOLD = "age", "condition", "place", "household"

_NUM = r"(?:\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|" \
       r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"  # fmt: skip
_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
AGE_RE = re.compile(
    rf"\b(?:(?P<n1>{_NUM})[\s-]*(?P<unit1>year|yr|month|week)s?[\s-]*old\b|aged\s+(?P<n2>{_NUM})\b|"
    rf"age\s+(?P<n3>\d{{1,3}})\b|(?P<n4>\d{{1,3}})\s*(?:yo|y/o|yrs?\s+old)\b)",
    re.IGNORECASE,
)
CONDITION_RE = re.compile(
    r"\b(?:motor neurone disease|multiple sclerosis|cerebral palsy|down'?s syndrome|learning disabilit(?:y|ies)|"
    r"terminal(?:ly)? ill(?:ness)?|sickle cell|kidney failure|heart failure|cystic fibrosis|eating disorder|"
    r"partially sighted|visually impaired|hard of hearing|wheelchair user|in a wheelchair|brain injury|"
    r"spina bifida|huntington'?s|muscular dystrophy|care leaver|asylum seeker|ex-offender|on probation|"
    r"trans (?:woman|man)|alzheimer'?s|parkinson'?s|dementia|mnd|ms|autis(?:m|tic)|adhd|epilep(?:sy|tic)|"
    r"cancer|leuka?emia|hiv|aids|diabet(?:es|ic)|dialysis|stroke|copd|emphysema|schizophreni(?:a|c)|bipolar|"
    r"psychosis|ptsd|anorexia|bulimia|blind|deaf|amputee|paralysed|paraplegic|quadriplegic|pregnant|"
    r"miscarriage|stillbirth|widow(?:er|ed)?|bereaved|refugee|trafficked|veteran|transgender)\b",
    re.IGNORECASE,
)
DISABILITY = re.compile(
    r"wheelchair|blind|deaf|sighted|visually|hearing|amputee|paralys|plegic|palsy|bifida|dystrophy|learning",
    re.IGNORECASE,
)
STATUS = re.compile(r"widow|bereaved|care leaver|asylum|refugee|trafficked|offender|probation|veteran|trans", re.I)
HOUSEHOLD_RE = re.compile(
    r"\b(?:liv(?:es|ing|e)\s+(?:on\s+(?:his|her|their)\s+own|alone|by\s+(?:him|her|them)sel(?:f|ves))|"
    r"on\s+(?:his|her|their)\s+own|only\s+child|twins|triplets|single\s+(?:mum|mother|dad|father|parent)"
    r"(?:\s+of\s+\w+)?|(?:mum|mother|dad|father)\s+of\s+(?:five|six|seven|eight|nine|ten|\d{1,2}))\b",
    re.IGNORECASE,
)
# Places too large to single anyone out.
LARGE_PLACES = frozenset(
    {
        "bristol", "england", "uk", "britain", "great britain", "united kingdom", "wales", "scotland", "europe",
        "london", "bath", "somerset", "north somerset", "gloucestershire", "south gloucestershire", "south west",
        "the south west", "city", "the city",
    }
)  # fmt: skip
_STREET = re.compile(
    r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?\s+(?:Road|Street|Avenue|Lane|Close|Drive|Way|Crescent|Court|Place|Terrace|"
    r"Gardens|Grove|Walk|Square|Mews|Row|Parade|Rise|Estate|Park|Green)\b"
)
_PERSON_NOUN = re.compile(
    r"\b(?:man|woman|lady|gentleman|guy|bloke|fella|widower|widow|mum|mother|dad|father|grandmother|grandfather|"
    r"gran|nan|grandad|boy|girl|son|daughter|baby|child|kid|person|pensioner|resident|veteran|lad|lass)\b",
    re.IGNORECASE,
)
_MALE = re.compile(r"\b(?:man|gentleman|guy|bloke|fella|widower|dad|father|grandfather|grandad|boy|son|lad|he|his|him)"
                   r"\b", re.IGNORECASE)  # fmt: skip
_FEMALE = re.compile(r"\b(?:woman|lady|widow|mum|mother|grandmother|gran|nan|girl|daughter|lass|she|her)\b",
                     re.IGNORECASE)  # fmt: skip
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
ADJECTIVE = re.compile(
    r"(?:autistic|epileptic|diabetic|schizophrenic|blind|deaf|pregnant|paralysed|paraplegic|quadriplegic|"
    r"terminally ill|partially sighted|visually impaired|bereaved)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Detail:
    kind: str
    start: int
    end: int
    text: str


@dataclass
class Finding:
    """The quasi-identifying details of one quote, and whether together they single a person out."""

    details: list[Detail] = field(default_factory=list)

    @property
    def kinds(self) -> set[str]:
        return {d.kind for d in self.details}

    @property
    def flagged(self) -> bool:
        kinds = self.kinds
        return len(kinds) >= 3 and AGE in kinds and PLACE in kinds

    def reason(self) -> str:
        """In the convenor's words: which details combine."""
        words = {AGE: "an exact age", CONDITION: "a health condition or status", PLACE: "a small place",
                 HOUSEHOLD: "who they live with"}  # fmt: skip
        found = [words[k] for k in (AGE, CONDITION, HOUSEHOLD, PLACE) if k in self.kinds]
        return ", ".join(found[:-1]) + " and " + found[-1] if len(found) > 1 else "".join(found)


def age_of(detail_text: str) -> tuple[int, str] | None:
    """(number, unit) of an age expression: ("94-year-old") -> (94, "year")."""
    m = AGE_RE.search(detail_text)
    if not m:
        return None
    raw = next(g for g in (m.group("n1"), m.group("n2"), m.group("n3"), m.group("n4")) if g)
    number = int(raw) if raw.isdigit() else _WORDS.get(raw.lower(), 0)
    return number, (m.group("unit1") or "year").lower()


def _places(text: str, gazetteer: Gazetteer | None, entities: Sequence[tuple[int, int, str]]) -> list[Detail]:
    out: list[Detail] = []
    taken: list[tuple[int, int]] = []
    for m in _STREET.finditer(text):  # streets first: "Stapleton Road" is more than the area "Stapleton"
        out.append(Detail(PLACE, m.start(), m.end(), m.group(0)))
        taken.append((m.start(), m.end()))
    if gazetteer is not None:
        for place in gazetteer.find(text):
            if not any(s < place.end and place.start < e for s, e in taken):
                out.append(Detail(PLACE, place.start, place.end, place.text))
                taken.append((place.start, place.end))
    for start, end, label in entities:
        value = text[start:end]
        small = label in PLACE_LABELS and value.lower().strip() not in LARGE_PLACES
        if small and not any(s < end and start < e for s, e in taken):
            out.append(Detail(PLACE, start, end, value))
    return out


def find(text: str, gazetteer: Gazetteer | None = None, entities: Iterable[tuple[int, int, str]] = ()) -> Finding:
    """The quasi-identifying details of ``text``. ``entities`` are spaCy's ``(start_char, end_char, label)`` for the
    text (see :func:`find_with`); ``gazetteer`` the areas whose names count as small places."""
    entities = list(entities)
    details = [Detail(AGE, m.start(), m.end(), m.group(0)) for m in AGE_RE.finditer(text)]
    details += [
        Detail(CONDITION, m.start(), m.end(), m.group(0))
        for m in CONDITION_RE.finditer(text)
        # "MS" and "AIDS" in capitals only: "Ms Patel", "hearing aids".
        if m.group(0).lower() not in ("ms", "aids") or m.group(0).isupper()
    ]
    details += [Detail(HOUSEHOLD, m.start(), m.end(), m.group(0)) for m in HOUSEHOLD_RE.finditer(text)]
    details += _places(text, gazetteer, entities)
    return Finding(sorted(details, key=lambda d: d.start))


def find_with(nlp, text: str, gazetteer: Gazetteer | None = None) -> Finding:
    """:func:`find` with spaCy's entities computed here (only the NER component runs)."""
    disabled = [name for name in nlp.pipe_names if name not in ("tok2vec", "ner")]
    doc = nlp(text, disable=disabled) if disabled else nlp(text)
    return find(text, gazetteer, [(e.start_char, e.end_char, e.label_) for e in doc.ents])


def _band(number: int, unit: str, gender: str | None) -> str:
    if unit in ("month", "week") or number < 13:
        return "a young child" if unit in ("month", "week") or number < 5 else "a child"
    if number < 18:
        return "a teenager"
    noun = {"male": "man", "female": "woman"}.get(gender or "", "person")
    if number < 30:
        return f"a young {noun}"
    if number < 65:
        return f"a {noun}" if noun != "person" else "an adult"
    return f"an older {noun}"


def generalise(text: str, finding: Finding) -> str:
    """The quote with its quasi-identifiers generalised: the exact age (with the noun it qualifies, and a
    "widower"/"widow" status) becomes an age band ("an older man"), conditions "a health condition" (or "a
    disability"), small places "locally", household details are dropped."""
    gender = "male" if _MALE.search(text) else "female" if _FEMALE.search(text) else None
    out = text
    for detail in sorted(finding.details, key=lambda d: d.start, reverse=True):
        before, after = out[: detail.start], out[detail.end :]
        if detail.kind == AGE:
            number, unit = age_of(detail.text) or (0, "year")
            band = _band(number, unit, gender)
            # "a 94-year-old widower" -> "an older man": the article before and the noun after go into the band.
            article = re.search(r"\b(?:an?|the|one|our|my)\s+$", before, re.IGNORECASE)
            if article:
                before = before[: article.start()]
            noun = re.match(rf"\s*(?:{_PERSON_NOUN.pattern})", after, re.IGNORECASE)
            if noun:
                after = after[noun.end() :]
            if before.rstrip().endswith(",") or re.search(r"\baged\s*$", before, re.IGNORECASE):
                before = re.sub(r"\baged\s*$", "", before, flags=re.IGNORECASE)
            capital = not before.strip() or before.rstrip().endswith((".", "!", "?"))
            out = before + (band[0].upper() + band[1:] if capital else band) + after
        elif detail.kind == CONDITION:
            if STATUS.search(detail.text):
                # "widower", "refugee": dropped before a word ("a refugee family" -> "a family"), else "a person".
                out = before.rstrip() + after if re.match(r"\s+\w", after) else before + "person" + after
            else:
                kind = "a disability" if DISABILITY.search(detail.text) else "a health condition"
                lead = re.search(r"\b(?:with|has|had|have|having|from|of)\s+(?:an?\s+|the\s+)?$", before, re.I)
                if lead:
                    out = before[: lead.start()] + lead.group(0).split()[0] + " " + kind + after
                elif ADJECTIVE.search(detail.text):
                    out = before + ("disabled" if DISABILITY.search(detail.text) else "unwell") + after
                else:
                    out = before + kind + after
        elif detail.kind == PLACE:
            lead = re.search(r"\b(?:in|at|near|from|on|around)\s+(?:the\s+)?$", before, re.IGNORECASE)
            out = (before[: lead.start()] if lead else before) + "locally" + after
        elif detail.kind == HOUSEHOLD:
            out = before.rstrip() + after
    out = re.sub(r"\s{2,}", " ", out)
    out = re.sub(r"\s+([,.;:!?])", r"\1", out)
    return out.strip()
