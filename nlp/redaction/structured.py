"""Structured identifiers in UK formats: emails (also spelled out), URLs, social handles, vehicle registrations,
phone numbers, National Insurance and NHS numbers (mod 11), card numbers (Luhn), postcodes, dates of birth and
addresses. :func:`find_structured` returns every finding, possibly overlapping (merged later by priority). Pure: no
Flask, no database; nothing here logs text."""

from __future__ import annotations

import re

from nlp.redaction.spans import (
    ADDRESS,
    CARD_NUMBER,
    DATE_OF_BIRTH,
    EMAIL,
    HANDLE,
    NHS_NUMBER,
    NI_NUMBER,
    PHONE,
    POSTCODE,
    URL,
    VEHICLE_REG,
    Span,
)
from nlp.redaction.words import common_words, words_of

EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_TLD = r"(?:com|org|net|co\.uk|org\.uk|gov\.uk|ac\.uk|nhs\.uk|uk|io|ee|me|ly|tv|info|biz|app|link|page|online|site)"
URL_RE = re.compile(
    rf"(?:\b(?:https?://|www\.)[^\s<>\"'()\[\]]+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.{_TLD}(?:/[^\s<>\"'()\[\]]*)?"
    rf"(?![\w@]))",
    re.IGNORECASE,
)
HANDLE_RE = re.compile(r"(?<![\w@./])@[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?")
# Handles written without "@": "dazza_b2010", "shirley.b.bristol". An underscore, or two or more dots between
# letters, is not how ordinary words or sentence breaks look; a single dot ("temi.adeyemi") needs a social cue.
BARE_HANDLE_RE = re.compile(
    r"(?<![\w@./-])(?=[a-z0-9._]*[a-z]{2})[a-z0-9]+(?:(?:_+|\.)[a-z0-9]+)+_?(?![\w@/-]|\.[a-z0-9])", re.IGNORECASE
)
_SOCIAL_CUE = re.compile(
    r"\b(?:insta(?:gram)?|ig|facebook|fb|snap(?:chat)?|tik\s?tok|twitter|x\.com|threads|handle|username|user\s?name|"
    r"account|follow|dm|add)\b[^.!?\n]{0,25}$",
    re.IGNORECASE,
)
_FILE_ENDINGS = re.compile(r"\.(?:pdf|docx?|xlsx?|csv|jpe?g|png|gif|txt|zip|html?|php|aspx?)$", re.IGNORECASE)
# UK vehicle registrations: current (2001-) "WU19 ABX", prefix (1983-2001) "A123 BCD", suffix (1963-1983) "ABC 123D".
# A current-format registration is taken in any case; prefix and suffix ones (which look like road numbers and
# references in lower case) only in capitals or after a cue ("reg", "car", "van", "plate", "drives").
VEHICLE_CURRENT_RE = re.compile(r"(?<![\w-])[A-Z]{2}[0-9]{2}\s?[A-Z]{3}(?![\w-])", re.IGNORECASE)
VEHICLE_OLD_RE = re.compile(r"(?<![\w-])(?:[A-Z][0-9]{1,3}\s?[A-Z]{3}|[A-Z]{3}\s?[0-9]{1,3}[A-Z])(?![\w-])")
VEHICLE_OLD_ANY_RE = re.compile(r"(?<![\w-])(?:[A-Z][0-9]{1,3}\s?[A-Z]{3}|[A-Z]{3}\s?[0-9]{1,3}[A-Z])(?![\w-])",
                                re.IGNORECASE)  # fmt: skip
_VEHICLE_CUE = re.compile(
    r"\b(?:reg(?:istration)?|number\s?plate|plates?|car|van|vehicle|motor|drives?|driving|parked|taxi|cab)\b"
    r"[^.!?\n]{0,30}$",
    re.IGNORECASE,
)
# Emails spelled out to dodge spam filters: "sarah dot jones at gmail dot com", "kev[at]live[dot]co[dot]uk".
_SPELLED_DOT = r"(?:\s*(?:\bdot\b|\(dot\)|\[dot\]|\{dot\})\s*|\.)"
_SPELLED_AT = r"(?:\s*(?:\(at\)|\[at\]|\{at\})\s*|\s+at\s+|\s*@\s*)"
SPELLED_EMAIL_RE = re.compile(
    rf"(?<![\w.])(?P<local>[\w+-]+(?:(?:{_SPELLED_DOT}|\s*(?:\bunderscore\b|\bdash\b|\bhyphen\b)\s*|_)[\w+-]+)*)"
    rf"(?P<at>{_SPELLED_AT})(?P<domain>[a-z0-9-]+(?:{_SPELLED_DOT}[a-z0-9-]+)*{_SPELLED_DOT}"
    r"(?:com|org|net|co|uk|io|me|info|gov|ac|nhs|edu|ie|biz))\b(?:(?:\s*(?:\bdot\b|\(dot\)|\[dot\])\s*|\.)uk\b)?",
    re.IGNORECASE,
)
_MAIL_PROVIDERS = frozenset(
    [
        "gmail",
        "googlemail",
        "hotmail",
        "outlook",
        "live",
        "yahoo",
        "ymail",
        "icloud",
        "me",
        "mac",
        "aol",
        "btinternet",
        "bt",
        "sky",
        "virginmedia",
        "talktalk",
        "protonmail",
        "proton",
        "qq",
        "msn",
        "mail",
        "gmx",
        "zoho",
        "tiscali",
        "ntlworld",
        "blueyonder",
        "plus",
    ]
)
PHONE_RE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\s?44\s?(?:\(0\)\s?)?\d[\d \-.()]{7,16}\d|\(?0[\d \-.()]{8,20}\d)(?![\w])"
)
NI_RE = re.compile(r"(?<![\w])[A-Z]{2}[\s-]?\d{2}[\s-]?\d{2}[\s-]?\d{2}[\s-]?[A-D](?![\w])", re.IGNORECASE)
NHS_RE = re.compile(r"(?<![\w-])\d{3}[\s-]?\d{3}[\s-]?\d{4}(?![\w-])")
CARD_RE = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_NHS_CONTEXT = re.compile(r"nhs|health\s*(?:service\s*)?(?:no|number)", re.IGNORECASE)

POSTCODE_AREAS = words_of(
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
        add(Span(m.start(), m.end(), HANDLE))
    for m in BARE_HANDLE_RE.finditer(text):
        value = m.group(0)
        if _FILE_ENDINGS.search(value) or re.fullmatch(r"(?:[a-z]\.)+[a-z]?", value, re.IGNORECASE):
            continue  # "form.pdf", "e.g", "a.m"
        separators = value.count("_") + value.count(".")
        if "_" in value or separators >= 2 or _SOCIAL_CUE.search(text, 0, m.start()):
            add(Span(m.start(), m.end(), HANDLE))
    for m in SPELLED_EMAIL_RE.finditer(text):
        local, at, domain = m.group("local"), m.group("at"), m.group("domain").lower()
        spelled = at.strip() != "@" and (at.strip().lower() != "at" or re.search(r"dot", domain + local, re.I))
        provider = re.split(r"[\s.(\[{]", domain, maxsplit=1)[0] in _MAIL_PROVIDERS
        if at.strip() == "@" and not re.search(r"\bdot\b|\(dot\)|\[dot\]", m.group(0), re.IGNORECASE):
            continue  # an ordinary address: EMAIL_RE has it
        if at.strip().lower() == "at" and not (spelled or provider):
            continue  # "we shop at tesco.com"
        if " " not in local.strip() and local.lower() in common_words() and at.strip().lower() == "at":
            continue  # "shop at tesco dot com": a word, not a mailbox
        add(Span(m.start(), m.end(), EMAIL))
    for m in VEHICLE_CURRENT_RE.finditer(text):
        value = m.group(0)
        cue = _VEHICLE_CUE.search(text, 0, m.start())
        # In lower case with a space it could be a postcode district and a word ("bs16 the"): needs a cue.
        if value.isupper() or " " not in value or cue:
            add(Span(m.start(), m.end(), VEHICLE_REG))
    for m in VEHICLE_OLD_ANY_RE.finditer(text):
        if VEHICLE_OLD_RE.fullmatch(m.group(0)) or _VEHICLE_CUE.search(text, 0, m.start()):
            add(Span(m.start(), m.end(), VEHICLE_REG))
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
