"""Redaction of personal data from observations: typed placeholders in place of names, phone numbers, emails,
postcodes, addresses, National Insurance and NHS numbers, dates of birth, card numbers, URLs and social handles.

Pure module: no Flask, no database. A :class:`Redactor` is built from injected parts (a loaded spaCy pipeline, a
gazetteer of area names to keep, an allow-list of organisations and services to keep) and turns text into a
:class:`Redaction`. People's names come from spaCy's PERSON entities plus rules for what the small model misses
(titles with surnames, names after "my neighbour" or "called", lower-case and all-capital names from a given-name
list, and every later mention of a name already found). Structured identifiers come from rules for UK formats with
their checksums (NHS mod 11, Luhn for cards).

Offsets in :class:`Span` refer to the original text. Nothing here logs text.
"""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from nlp.places import Gazetteer, PlaceMention, detect_places

# Bump when a rule changes, so stored redactions can be recognised as older and redone.
RULES_VERSION = "1"
DATA = Path(__file__).resolve().parent / "data"

NAME, PHONE, EMAIL, POSTCODE, ADDRESS = "NAME", "PHONE", "EMAIL", "POSTCODE", "ADDRESS"
NI_NUMBER, NHS_NUMBER, DATE_OF_BIRTH, CARD_NUMBER, URL = (
    "NI_NUMBER",
    "NHS_NUMBER",
    "DATE_OF_BIRTH",
    "CARD_NUMBER",
    "URL",
)
TYPES = (NAME, PHONE, EMAIL, POSTCODE, ADDRESS, NI_NUMBER, NHS_NUMBER, DATE_OF_BIRTH, CARD_NUMBER, URL)
PLACEHOLDERS = {t: f"[{t}]" for t in TYPES}
STRUCTURED = (PHONE, EMAIL, POSTCODE, NI_NUMBER, NHS_NUMBER, CARD_NUMBER)
# When two findings overlap, the merged span takes the type that comes first here.
_PRIORITY = {t: i for i, t in enumerate((EMAIL, URL, CARD_NUMBER, NHS_NUMBER, NI_NUMBER, PHONE, DATE_OF_BIRTH,
                                          ADDRESS, POSTCODE, NAME))}  # fmt: skip
# The pipeline components redaction needs; the rest are disabled in nlp.pipe.
NEEDED_COMPONENTS = ("tok2vec", "ner")


@dataclass(frozen=True)
class Span:
    """A piece of personal data: ``text[start:end]`` of the original text is of type ``label``."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Redaction:
    """The redacted text, where the personal data was (original offsets), and the area names found."""

    text: str
    spans: tuple[Span, ...] = ()
    places: tuple[PlaceMention, ...] = ()

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for span in self.spans:
            out[span.label] = out.get(span.label, 0) + 1
        return out


# ---------------------------------------------------------------------------------------------------------------
# Word lists


def _read_words(name: str) -> list[str]:
    words: list[str] = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            words.extend(line.split())
    return words


@cache
def first_names() -> frozenset[str]:
    return frozenset(_read_words("first_names.txt"))


@cache
def default_keep_list() -> tuple[str, ...]:
    lines = (DATA / "keep_services.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Given names that are also ordinary words: taken as names only with a capital, mid-sentence, or after a cue.
AMBIGUOUS_NAMES = _words(
    "amber bill billie dawn dean destiny faith frank grace guy hazel holly hope iris ivy jack jade jay jean joy "
    "june lily mark max may mercy mo penny pete precious rob robin rose ruby sally sky stella sue tara ted will "
    "april august violet chase ray ash art bob pat don ken lee sam tim ed jan mike mina nancy norma joe kim dev "
    "rana asha ali diana eve ella sasha ashley morgan jordan glen jo ron tom vera carol ann"
)
MONTHS = _words("january february march april may june july august september october november december")

# Words that are never a name even when capitalised or in a name-ish position.
_NOT_NAMES = (
    _words(
        "i i'm im me my mine you your he him his she her hers they them their we us our it its this that these those "
        "the a an and or but if then so not no yes ok okay please thanks thank hi hello dear mr mrs ms miss dr monday "
        "tuesday wednesday thursday friday saturday sunday today tomorrow yesterday tonight morning evening christmas "
        "easter ramadan eid diwali police council ambulance gp nhs school college doctor doctors nurse social worker "
        "services service team staff back round again about up out in on at to for from with by after before when who "
        "which what where why how said says told asked came come went go goes got gets get has have had is was were "
        "are be been being will would can could should might must may also only just even still again all any some "
        "every each both many much more most mum dad son daughter brother sister husband wife partner neighbour "
        "friend family kids children baby one two three four five six seven eight nine ten someone somebody everyone "
        "anyone nobody email e-mail postcode phone mobile text call ring contact address landline tel dob nino "
        "website card refer referred referral client patient tenant resident volunteer caller landlord landlady "
        "twitter facebook instagram tiktok whatsapp youtube snapchat covid covid-19 coronavirus o.k sir madam"
    )
    | MONTHS
)

# Words after which a following word is someone's name (case-insensitive). "Strong" cues make even an ordinary-looking
# lower-case word a name; the others need the word to look like a name (capital, or in the given-name list).
_STRONG_CUE = r"(?:called|named|known\s+as|calls\s+(?:him|her|them)sel(?:f|ves)|my\s+name\s+is|name's|names?\s+is)"
_RELATION = (
    r"(?:neighbou?r|friend|son|daughter|mum|mom|mother|dad|father|sister|brother|husband|wife|partner|nan|nana|"
    r"gran|grandma|grandad|grandson|granddaughter|grandmother|grandfather|cousin|aunt|auntie|uncle|niece|nephew|"
    r"boyfriend|girlfriend|ex|client|colleague|carer|child|kid|baby|landlord|landlady|tenant|caseworker|"
    r"keyworker|key\s+worker|support\s+worker|youth\s+worker|social\s+worker|housing\s+officer|manager|volunteer|"
    r"resident|lodger|flatmate|mate|pal|grandchild|stepson|stepdaughter)"
)
_WEAK_CUE = (
    rf"(?:(?:my|her|his|their|our|your|the|a|kid's|child's)\s+(?:\w+\s+)?{_RELATION}(?:\s+is)?|"
    r"(?:i'm|i\s+am|this\s+is|it's|ask\s+for|tell|text|txt|ring|call|phone|contact|email|spoke\s+to|spoke\s+with|"
    r"talked\s+to|talk\s+to|chat\s+to|chat\s+with|met|meet|thank|thanks|refer(?:red)?\s+to|referral\s+for|"
    r"visited|helped|supporting|supported|dear|hi|hello|man|woman|lady|guy|lad|girl|boy|fella|"
    r"chap|bloke|elderly|young|old|little|auntie|aunty|uncle|nan|nana|grandad|granny))"
)

_WORD = r"[^\W\d_][\w'’-]*"
# A capitalised name word: "Patel", "O'Connor", "McDonald", "Smith-Jones"; or all capitals "WRIGHT".
_CAP = r"(?:[A-Z][a-z]*(?:['’][A-Z][a-z]+|[A-Z][a-z]+|-[A-Z][a-z]+)*[a-z]|[A-Z]{2,}(?:['’-][A-Z]+)?)"

_TITLE = (
    r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|Cllr|Councillor|Rev|Revd|Reverend|Sister|Father|Sir|Dame|Lady|Lord|"
    r"Auntie|Aunty|Uncle|Nana|Nan|Grandad|Granny)"
)
# Lower-case "miss" is too often the verb ("miss chemo") to count as a title.
_TITLE_LOWER = r"(?:mr|mrs|ms|mx)"
_TITLE_RE = re.compile(
    rf"(?<![\w'])(?:{_TITLE}\.?(?:\s+(?:and|&)\s+{_TITLE}\.?)?\s+(?:[A-Z]\.\s*)*{_CAP}(?:\s+{_CAP})*"
    rf"|{_TITLE_LOWER}\.?\s+(?!(?:and|or|the|to|a|is|was|said|says|has|had)\b)[a-z][a-z'’-]+(?:\s+[a-z][a-z'’-]+(?=\s*$))?)"
)

# ---------------------------------------------------------------------------------------------------------------
# Structured identifiers

EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_TLD = r"(?:com|org|net|co\.uk|org\.uk|gov\.uk|ac\.uk|nhs\.uk|uk|io|ee|me|ly|tv|info|biz|app|link|page|online|site)"
URL_RE = re.compile(
    rf"(?:\b(?:https?://|www\.)[^\s<>\"'()\[\]]+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.{_TLD}(?:/[^\s<>\"'()\[\]]*)?"
    rf"(?![\w@]))",
    re.IGNORECASE,
)
HANDLE_RE = re.compile(r"(?<![\w@./])@[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?")
PHONE_RE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\s?44\s?(?:\(0\)\s?)?\d[\d \-.()]{7,16}\d|\(?0[\d \-.()]{8,20}\d)(?![\w])"
)
NI_RE = re.compile(r"(?<![\w])[A-Z]{2}[\s-]?\d{2}[\s-]?\d{2}[\s-]?\d{2}[\s-]?[A-D](?![\w])", re.IGNORECASE)
NHS_RE = re.compile(r"(?<![\w-])\d{3}[\s-]?\d{3}[\s-]?\d{4}(?![\w-])")
CARD_RE = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_NHS_CONTEXT = re.compile(r"nhs|health\s*(?:service\s*)?(?:no|number)", re.IGNORECASE)

POSTCODE_AREAS = _words(
    "AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN DT DY E EC EH EN EX FK "
    "FY G GL GU HA HD HG HP HR HS HU HX IG IP IV JE GY IM KA KT KW KY L LA LD LE LL LN LS LU M ME MK ML N NE NG "
    "NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR "
    "TS TW UB W WA WC WD WF WN WR WS WV YO ZE"
)
POSTCODE_RE = re.compile(r"(?<![\w])([A-Z]{1,2})(\d[A-Z\d]?)\s*(\d[A-Z]{2})(?![\w])", re.IGNORECASE)
PARTIAL_POSTCODE_RE = re.compile(r"(?<![\w-])([A-Z]{1,2})(\d{1,2}[A-Z]?)(?:\s(\d)(?![\w\d]))?(?![\w-])", re.IGNORECASE)
_POSTCODE_CUE = re.compile(r"post\s?code|area|district", re.IGNORECASE)

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
DATE_RE = re.compile(
    rf"(?<![\w/.-])(?:\d{{1,2}}[/.\-]\d{{1,2}}[/.\-](?:\d{{4}}|\d{{2}})"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTH},?\s+(?:\d{{4}}|'\d{{2}})"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})(?![\w/])",
    re.IGNORECASE,
)
_DOB_CUE = re.compile(
    r"(?:\bborn\b|\bd\.?\s?o\.?\s?b\b\.?|date\s+of\s+birth|\bbirth\s?day\b|\bbirth\s?date\b|\bdob\b)",
    re.IGNORECASE,
)

_STREET_SUFFIX = (
    r"(?:Road|Rd|Street|St|Avenue|Ave|Lane|Ln|Close|Drive|Dr|Way|Crescent|Cres|Court|Ct|Place|Pl|Terrace|Tce|"
    r"Gardens|Gdns|Grove|Hill|Park|Walk|Square|Sq|Mews|Row|Parade|Rise|View|Vale|Green|Broadway|Boulevard|Approach|"
    r"Leaze|Mead|Path|Lawn|Wharf|Quay|Yard|Fields|Heights|Gate|End|Hollow|Bank|Causeway)"
)
_BUILDING_SUFFIX = r"(?:House|Court|Tower|Towers|Heights|Lodge|Point|Block|Building|Mansions|Flats|Hall)"
_STREET_WORD = r"[A-Za-z][A-Za-z'’-]*"
# Words that do not start or continue a street name ("20 people at the park" is not an address).
_NOT_STREET = (
    r"(?:the|a|an|at|in|on|of|to|and|or|for|from|by|with|near|off|per|people|kids|children|men|women|families|"
    r"years?|months?|weeks?|days?|hours?|minutes?|times?|pounds?|miles?|mins?|percent|bed|beds|bedroom|flats?|"
    r"houses?|homes?|rooms?|doors?|streets?|roads?)"
)
_NUMBER = r"(?:(?:no\.?|number)\s*)?\d{1,4}[A-Za-z]?(?:\s?[-–]\s?\d{1,4}[A-Za-z]?)?"
_FLAT = r"(?:Flat|Apartment|Apt|Unit|Room|Maisonette)\s*\d{1,4}[A-Za-z]?"
_STREET = (
    rf"(?:(?!{_NOT_STREET}\b){_STREET_WORD}\s+){{1,3}}{_STREET_SUFFIX}(?:\s+(?:North|South|East|West|Upper|Lower))?"
)
_ESTATE = r"(?:[A-Z][A-Za-z'’-]+\s+){1,2}(?:Park|Estate|House|Court|Gardens|Buildings),\s*"
ADDRESS_RE = re.compile(
    rf"(?<![\w])(?:{_ESTATE})?(?:{_FLAT},?\s*(?:of\s+|in\s+)?)?"
    rf"{_NUMBER},?\s+{_STREET}\b",
    re.IGNORECASE,
)
# "Flat 12 Twinnell House", "Flat 14, Barton House": a flat number in a named block.
FLAT_BUILDING_RE = re.compile(rf"(?<![\w])(?i:{_FLAT}),?\s*(?:[A-Z][A-Za-z'’-]+\s+){{1,2}}{_BUILDING_SUFFIX}\b")
# "71 Ridingleaze, BS11 0QD": a number and a name followed by a postcode is an address even without "Road".
NUMBER_NAME_POSTCODE_RE = re.compile(
    rf"(?<![\w])(?:(?i:{_FLAT}),?\s*)?\d{{1,4}}[A-Za-z]?\s+(?:[A-Z][A-Za-z'’-]+\s?){{1,3}}(?=,?\s*[A-Z]{{1,2}}\d[A-Z\d]?\s*\d[A-Z]{{2}}\b)"
)


def nhs_checksum_ok(digits: str) -> bool:
    """NHS numbers: 10 digits whose last one is the mod-11 check digit of the first nine."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def luhn_ok(digits: str) -> bool:
    """Payment card numbers: 13-19 digits passing the Luhn check."""
    if not 13 <= len(digits) <= 19 or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def _uk_phone(candidate: str) -> bool:
    digits = _digits(candidate)
    stripped = candidate.lstrip("( ")
    if stripped.startswith(("+44", "0044")):
        national = digits[4:] if stripped.startswith("0044") else digits[2:]
        national = national[1:] if national.startswith("0") else national
        return len(national) in (9, 10) and national[0] in "123578"
    return digits.startswith("0") and len(digits) in (10, 11) and digits[1] in "123578"


def _trim_url(s: str) -> str:
    return s.rstrip(".,;:!?)'\"’")


def find_structured(text: str) -> list[Span]:
    """Rule-based findings of every structured type, possibly overlapping (merged later by priority)."""
    spans: list[Span] = []
    add = spans.append
    for m in EMAIL_RE.finditer(text):
        add(Span(m.start(), m.end(), EMAIL))
    for m in URL_RE.finditer(text):
        value = _trim_url(m.group(0))
        if "@" in text[max(0, m.start() - 1) : m.start()]:
            continue  # the domain of an email address
        add(Span(m.start(), m.start() + len(value), URL))
    for m in HANDLE_RE.finditer(text):
        add(Span(m.start(), m.end(), URL))
    for m in CARD_RE.finditer(text):
        if luhn_ok(_digits(m.group(0))) and m.group(0)[0] != "0":
            add(Span(m.start(), m.end(), CARD_NUMBER))
    for m in NHS_RE.finditer(text):
        digits = _digits(m.group(0))
        context = _NHS_CONTEXT.search(text[max(0, m.start() - 30) : m.start()])
        if (digits[0] != "0" and nhs_checksum_ok(digits)) or (context and not digits.startswith("0")):
            add(Span(m.start(), m.end(), NHS_NUMBER))
    for m in NI_RE.finditer(text):
        add(Span(m.start(), m.end(), NI_NUMBER))
    for m in PHONE_RE.finditer(text):
        value = m.group(0).rstrip(" -.(")
        start = m.start()
        if value.startswith("(") and ")" not in value:
            value, start = value[1:], start + 1  # "Kate (07700 900317)": the bracket belongs to the sentence
        if _uk_phone(value):
            add(Span(start, start + len(value), PHONE))
    for m in POSTCODE_RE.finditer(text):
        if m.group(1).upper() in POSTCODE_AREAS:
            add(Span(m.start(), m.end(), POSTCODE))
    for m in PARTIAL_POSTCODE_RE.finditer(text):
        area = m.group(1)
        if area.upper() not in POSTCODE_AREAS:
            continue
        cue = _POSTCODE_CUE.search(text[max(0, m.start() - 20) : m.start()])
        # Single-letter areas (M5, A-roads aside) and lower case need a cue: "M32" is a motorway in Bristol.
        if (len(area) == 1 or not area.isupper()) and not cue:
            continue
        add(Span(m.start(), m.end(), POSTCODE))
    for m in DATE_RE.finditer(text):
        before = text[max(0, m.start() - 40) : m.start()]
        # The cue must be in the same clause: no full stop between the cue and the date.
        cues = list(_DOB_CUE.finditer(before))
        cue = cues[-1] if cues else None
        if cue is not None and not re.search(r"[.;!?]\s", before[cue.end() :]):
            add(Span(m.start(), m.end(), DATE_OF_BIRTH))
    for regex in (ADDRESS_RE, FLAT_BUILDING_RE, NUMBER_NAME_POSTCODE_RE):
        for m in regex.finditer(text):
            value = m.group(0).rstrip(" ,")
            add(Span(m.start(), m.start() + len(value), ADDRESS))
    return spans


# ---------------------------------------------------------------------------------------------------------------
# Names


def _keep_regex(names: Iterable[str]) -> re.Pattern | None:
    parts = sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True)
    if not parts:
        return None
    alternatives = "|".join(r"[\s-]+".join(map(re.escape, re.split(r"[\s-]+", p))) for p in parts)
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


# Cues are found once per text; a word right after one (its start in the set of cue ends) is cued.
_CUE_RE = re.compile(rf"(?<![\w'’])(?:{_STRONG_CUE}|{_WEAK_CUE})[ \t]*[:,]?[ \t]*", re.IGNORECASE)
_STRONG_RE = re.compile(rf"(?<![\w'’]){_STRONG_CUE}[ \t]*[:,]?[ \t]*", re.IGNORECASE)
# "my neighbour Ashley": a person even though Ashley is also a ward.
_RELATION_RE = re.compile(
    rf"(?<![\w'’])(?:{_STRONG_CUE}|(?:my|her|his|their|our|your)\s+(?:\w+\s+)?{_RELATION}(?:\s+is)?)[ \t]*[:,]?[ \t]*",
    re.IGNORECASE,
)


def _cue_ends(regex: re.Pattern, text: str) -> set[int]:
    return {m.end() for m in regex.finditer(text)}


_TOKEN_RE = re.compile(_WORD)
# "St Michael's Church", "Grace House", "John Williams Academy": a name that is part of a place's or body's name.
_INSTITUTION_AFTER = re.compile(
    r"(?:['’]s)?\s+(?:Church|Chapel|Centre|Center|House|School|Academy|College|Hospital|Surgery|Practice|Road|"
    r"Street|Avenue|Lane|Park|Hall|Court|Trust|Foundation|Library|Mosque|Gurdwara|Temple|Primary|Nursery|"
    r"Infirmary|Station|Square|Bridge|Gardens)\b"
)
_LOWER_NAME_NEXT = re.compile(
    r"\s+(?:[a-z]+\s+)?(?:said|says|told|asked|came|has|had|is|was|and|from|at|on|keeps|who|needs|wants)\b"
)
_AMBIGUOUS_START_NEXT = re.compile(r"(?:['’]s\b|\s+and\s+(?:her|his|their)\b|\s+[A-Z][a-z]+\b|,)")
# Endings of ordinary words that the small model sometimes takes for a name at the start of a sentence.
_WORD_SUFFIX = re.compile(r"(?:ed|ive|ing|ly|ful|ous|able|ible|ness|ment|less|ist|ism)$")
_DEMONYMS = _words(
    "somali sudanese eritrean ethiopian syrian afghan kurdish iraqi iranian yemeni arab arabic polish romanian roma "
    "ukrainian russian lithuanian latvian bulgarian albanian slovak czech hungarian portuguese spanish italian "
    "turkish caribbean jamaican nigerian ghanaian congolese zimbabwean african pakistani bangladeshi indian "
    "chinese vietnamese filipino nepali tamil gujarati punjabi bengali urdu hindi european asian black white "
    "british english scottish welsh irish muslim christian sikh hindu jewish older younger elderly"
)
_SAINT_BEFORE = re.compile(r"\b(?:St|Saint)\.?\s+$")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n•\-–—(\"“]\s*|\s-\s)$")


def _is_sentence_start(text: str, start: int) -> bool:
    return bool(_SENTENCE_START.search(text[max(0, start - 4) : start])) or not text[:start].strip()


class Redactor:
    """Replaces personal data with typed placeholders; keeps area names and allow-listed services.

    ``nlp`` is a loaded spaCy pipeline with an ``ner`` component; ``places`` the gazetteer of area names to keep
    (and report as :class:`PlaceMention`); ``keep`` extra organisation and service names to keep (the default
    allow-list when None); ``given_names`` the given-name list (the packaged one when None).
    """

    def __init__(
        self,
        nlp,
        places: Gazetteer | None = None,
        keep: Iterable[str] | None = None,
        given_names: Iterable[str] | None = None,
    ):
        self.nlp = nlp
        self.places = places or Gazetteer({})
        self.keep_names = tuple(default_keep_list() if keep is None else keep)
        self._keep_re = _keep_regex(self.keep_names)
        self.given_names = frozenset(n.lower() for n in (first_names() if given_names is None else given_names))
        self.disabled = [name for name in nlp.pipe_names if name not in NEEDED_COMPONENTS]
        self._name_re = re.compile(r"(?<![\w'])" + _WORD)

    @property
    def version(self) -> str:
        """Rules and model version, stored with every redaction ("1/en_core_web_sm-3.8.0")."""
        meta = getattr(self.nlp, "meta", {}) or {}
        return f"{RULES_VERSION}/{meta.get('lang', 'xx')}_{meta.get('name', 'model')}-{meta.get('version', '0')}"

    # -- public API ------------------------------------------------------------------------------------------------

    def redact(self, text: str) -> Redaction:
        """Redact one text."""
        return next(self.redact_many([text]))

    def redact_many(self, texts: Iterable[str], batch_size: int = 256, n_process: int = 1) -> Iterator[Redaction]:
        """Redact texts, yielding results in input order. ``nlp.pipe`` runs in batches of ``batch_size`` with the
        unused components disabled. With ``n_process`` > 1 the batches are shared out to that many forked worker
        processes, each running the whole redaction and sending back only the small result (cheaper than spaCy's
        own ``n_process``, which ships whole Docs back). Empty or whitespace-only texts come back unchanged."""
        texts = list(texts)
        if n_process > 1 and len(texts) > batch_size and "fork" in multiprocessing.get_all_start_methods():
            yield from self._redact_forked(texts, batch_size, n_process)
        else:
            yield from self._redact_batch(texts, batch_size)

    def _redact_batch(self, texts: list[str], batch_size: int) -> Iterator[Redaction]:
        todo = [t for t in texts if t and t.strip()]
        docs = iter(self.nlp.pipe(todo, batch_size=batch_size, disable=self.disabled))
        for text in texts:
            if not (text and text.strip()):
                yield Redaction(text or "")
                continue
            doc = next(docs)
            yield self.redact_with_entities(text, [(e.start_char, e.end_char, e.label_) for e in doc.ents])

    def _redact_forked(self, texts: list[str], batch_size: int, n_process: int) -> Iterator[Redaction]:
        global _FORKED  # noqa: PLW0603 - the forked children inherit the redactor through this module global
        _FORKED = (self, batch_size)
        chunks = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
        context = multiprocessing.get_context("fork")
        try:
            with context.Pool(n_process) as pool:
                for results in pool.imap(_redact_chunk, chunks):
                    yield from results
        finally:
            _FORKED = None

    def redact_with_entities(self, text: str, entities: Sequence[tuple[int, int, str]]) -> Redaction:
        """Redact ``text`` given spaCy's entities as ``(start_char, end_char, label)``."""
        places = detect_places(text, self.places, entities)
        keep = [(p.start, p.end) for p in places]
        if self._keep_re is not None:
            keep += [(m.start(), m.end()) for m in self._keep_re.finditer(text)]
        spans = find_structured(text)
        spans += self._names(text, entities, keep, spans)
        merged = _merge(spans)
        kept_places = tuple(p for p in places if not any(s.start < p.end and p.start < s.end for s in merged))
        return Redaction(_render(text, merged), tuple(merged), kept_places)

    # -- names -----------------------------------------------------------------------------------------------------

    def _looks_like_name(self, word: str, text: str, start: int) -> bool:
        low = word.lower().strip("'’")
        if low in _NOT_NAMES or len(low) < 2:
            return False
        if low in self.given_names:
            return True
        return word[:1].isupper() and not _is_sentence_start(text, start)

    def _names(self, text: str, entities, keep, structured: list[Span]) -> list[Span]:
        def in_keep(start: int, end: int) -> bool:
            return any(s <= start and end <= e for s, e in keep)

        def overlaps_keep(start: int, end: int) -> bool:
            return any(s < end and start < e for s, e in keep)

        names: list[Span] = []
        forced: list[Span] = []  # found with a cue or title: a person even if the word is also a place

        for m in _TITLE_RE.finditer(text):
            forced.append(Span(m.start(), m.end(), NAME))

        for start, end, label in entities:
            if label != "PERSON":
                continue
            start, end = self._trim_person(text, start, end)
            if end <= start:
                continue
            value = text[start:end]
            if value.isupper() and " " not in value and value.lower() not in self.given_names:
                continue  # acronyms the small model calls people: "RVI", "TED", "COVID"
            if value.islower() and not any(w in self.given_names for w in value.split()):
                continue  # the small model calls odd lower-case words people ("emoji"); real ones are in the list
            if overlaps_keep(start, end):
                for piece_start, piece_end in _outside(start, end, keep):
                    piece = text[piece_start:piece_end].strip(" ,.-'’")
                    if piece and piece.lower() not in _NOT_NAMES and piece[:1].isupper() and len(piece) > 1:
                        offset = text.index(piece, piece_start)
                        names.append(Span(offset, offset + len(piece), NAME))
                continue
            names.append(Span(start, end, NAME))

        cue_ends = _cue_ends(_CUE_RE, text)
        strong_ends = _cue_ends(_STRONG_RE, text)
        relation_ends = _cue_ends(_RELATION_RE, text)
        for m in self._name_re.finditer(text):
            word, start, end = m.group(0), m.start(), m.end()
            word_clean = re.sub(r"['’]s$", "", word)
            end = start + len(word_clean)
            low = word_clean.lower()
            if low in _NOT_NAMES or len(low) < 2:
                continue
            strong = start in strong_ends
            cued = strong or start in cue_ends
            capital = word_clean[:1].isupper()
            all_caps = word_clean.isupper() and len(word_clean) > 1
            known = low in self.given_names
            ambiguous = low in AMBIGUOUS_NAMES
            sentence_start = _is_sentence_start(text, start)
            if strong and not capital and not known:
                # "so called professionals", "I called because": after "called" only a given name is taken in
                # lower case; capitalised words are.
                is_name = False
            elif strong or (cued and (capital or known)):
                is_name = True
            elif not known:
                is_name = False
            elif capital and (all_caps or not ambiguous):
                is_name = True
            elif capital and not sentence_start:  # an ambiguous name ("Grace", "May") mid-sentence
                is_name = not self._month_use(text, start, end, low)
            elif capital:  # an ambiguous name starting a sentence: "Grace and her kids", "Grace's flat"
                is_name = bool(_AMBIGUOUS_START_NEXT.match(text, end))
            elif not ambiguous:
                # Lower-case given name: a name when it acts like one ("kerry said", "text jade on", "john smith").
                is_name = bool(
                    _LOWER_NAME_NEXT.match(text, end) or re.search(r"(?:^|[,.!?]\s*)$", text[max(0, start - 3) : start])
                )
            else:
                is_name = False
            if not is_name or _INSTITUTION_AFTER.match(text, end) or _SAINT_BEFORE.search(text, 0, start):
                continue
            span_end = end
            # A surname after the given name: "Kwame Mensah", "DANIEL WRIGHT", "john smith".
            follow = re.match(
                rf"\s+({_CAP})" if capital else r"\s+([a-z][a-z'’-]+)(?=\s+(?:keeps|said|says|is|was|has)\b)",
                text[end:],
            )
            if follow and follow.group(1).lower() not in _NOT_NAMES:
                candidate_end = end + follow.end()
                if not overlaps_keep(end + follow.start(1), candidate_end):
                    span_end = candidate_end
            span = Span(start, span_end, NAME)
            if start in relation_ends:
                forced.append(span)
            elif not in_keep(start, span_end) and not overlaps_keep(start, span_end):
                names.append(span)

        found = names + forced
        # Every later mention of a name already found: "Mrs Patel ... Patel said".
        tokens = set()
        for span in found:
            for tok in _TOKEN_RE.findall(text[span.start : span.end]):
                tok = re.sub(r"['’]s$", "", tok)
                if len(tok) > 2 and tok.lower() not in _NOT_NAMES and not re.fullmatch(_TITLE, tok):
                    tokens.add(tok)
        if tokens:
            pattern = re.compile(r"(?<![\w'])(?:" + "|".join(map(re.escape, sorted(tokens, key=len, reverse=True)))
                                 + r")(?![\w])")  # fmt: skip
            for m in pattern.finditer(text):
                if not overlaps_keep(m.start(), m.end()):
                    found.append(Span(m.start(), m.end(), NAME))
        # Names inside an address or email are covered by those.
        return found

    def _trim_person(self, text: str, start: int, end: int) -> tuple[int, int]:
        """Narrow a PERSON entity to its name words. spaCy's small model sometimes takes in a trailing possessive,
        a label ("Email Sarah"), a nationality ("Older Somali women"), or calls a sentence's first word a person
        ("Listened to everything", "Responsive to needs"): those words are dropped."""
        words = [m for m in re.finditer(r"[^\W_][\w'’.-]*", text[start:end])]

        def is_name_word(m: re.Match, first: bool) -> bool:
            word = re.sub(r"['’]s$", "", m.group(0)).rstrip(".")
            low = word.lower()
            if low.replace(".", "") in _NOT_NAMES:
                return False
            if low in _NOT_NAMES or low in _DEMONYMS:
                return False
            if low in self.given_names:
                return True
            return not (first and _is_sentence_start(text, start + m.start()) and _WORD_SUFFIX.search(low))

        while words and not is_name_word(words[0], True):
            words.pop(0)
        while words and not is_name_word(words[-1], False):
            words.pop()
        if not words:
            return start, start
        first, last = words[0], words[-1]
        value = re.sub(r"['’]s$", "", last.group(0)).rstrip(".") if last.group(0)[-1:] in "s." else last.group(0)
        return start + first.start(), start + last.start() + len(value)

    @staticmethod
    def _month_use(text: str, start: int, end: int, low: str) -> bool:
        if low not in MONTHS:
            return False
        before = text[max(0, start - 12) : start].lower()
        after = text[end : end + 8]
        return bool(re.search(r"\d\s*$|\b(?:in|since|until|till|by|of|last|next|this|early|late|mid|from)\s+$", before)
                    or re.match(r"\s*\d", after) or re.match(r"\s*$|[.,]", after))  # fmt: skip


_FORKED: tuple[Redactor, int] | None = None


def _redact_chunk(texts: list[str]) -> list[Redaction]:
    redactor, batch_size = _FORKED  # type: ignore[misc]
    return list(redactor._redact_batch(texts, batch_size))


def _outside(start: int, end: int, ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    pieces = [(start, end)]
    for s, e in ranges:
        nxt = []
        for a, b in pieces:
            if e <= a or b <= s:
                nxt.append((a, b))
                continue
            if a < s:
                nxt.append((a, s))
            if e < b:
                nxt.append((e, b))
        pieces = nxt
    return pieces


def _merge(spans: list[Span]) -> list[Span]:
    """Union overlapping spans (and names separated only by spaces); the merged span takes the top-priority type."""
    if not spans:
        return []
    spans = sorted(spans, key=lambda s: (s.start, -s.end))
    merged: list[Span] = [spans[0]]
    for span in spans[1:]:
        last = merged[-1]
        if span.start < last.end:
            label = min(last.label, span.label, key=_PRIORITY.__getitem__)
            merged[-1] = Span(last.start, max(last.end, span.end), label)
        else:
            merged.append(span)
    return merged


def _render(text: str, spans: Sequence[Span]) -> str:
    out, pos = [], 0
    for span in spans:
        out.append(text[pos : span.start])
        out.append(PLACEHOLDERS[span.label])
        pos = span.end
    out.append(text[pos:])
    return "".join(out)
