"""Redaction of personal data from observations: typed placeholders in place of names, phone numbers, emails,
postcodes, addresses, National Insurance and NHS numbers, dates of birth, card numbers, URLs and social handles.

Pure module: no Flask, no database. A :class:`Redactor` is built from injected parts (a loaded spaCy pipeline, a
gazetteer of area names to keep, an allow-list of organisations and services to keep) and turns text into a
:class:`Redaction`. People's names come from spaCy's PERSON entities plus rules for what the small model misses
(titles with surnames, names after "my neighbour" or "called", lower-case and all-capital names from a given-name
list, and every later mention of a name already found). Structured identifiers come from rules for UK formats with
their checksums (NHS mod 11, Luhn for cards).

Offsets in :class:`Span` refer to the original text. Nothing here logs text.

One module of about 570 lines: the name rules (the cue patterns above the class and the :class:`Redactor` methods
that read them) are one job; the vocabulary (:mod:`nlp.redaction.spans`), the word lists
(:mod:`nlp.redaction.words`) and the structured identifiers (:mod:`nlp.redaction.structured`) live beside it.
"""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Iterable, Iterator, Sequence

from nlp.redaction.places import Gazetteer, detect_places
from nlp.redaction.spans import NAME, Redaction, Span, merge, render
from nlp.redaction.structured import find_structured
from nlp.redaction.words import (
    AMBIGUOUS_NAMES,
    MONTHS,
    NOT_NAMES,
    common_words,
    default_keep_list,
    first_names,
    hand_written_names,
    surnames,
    words_of,
)

# Bump when a rule changes, so stored redactions can be recognised as older and redone.
RULES_VERSION = "2"

# The pipeline component redaction reads (doc.ents); it runs with whatever embedding layer it listens to (see
# needed_components), and every other component is disabled in nlp.pipe.
NEEDED_COMPONENTS = ("ner",)


def needed_components(nlp) -> tuple[str, ...]:
    """The components of ``nlp`` that redaction must run: ``ner`` and any shared embedding layer (``tok2vec``,
    ``transformer``) that it listens to. In spaCy's ``en_core_web_sm`` the NER has its own embedding layer and the
    shared ``tok2vec`` feeds only the tagger and parser, so running ``tok2vec`` cost 40 % of spaCy's time for
    nothing; a pipeline whose NER listens to a shared layer keeps that layer."""
    needed = set(NEEDED_COMPONENTS)
    for name, component in nlp.pipeline:
        listeners = getattr(component, "listening_components", None) or ()
        if needed & set(listeners):
            needed.add(name)
    return tuple(name for name in nlp.pipe_names if name in needed)


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
    r"(?:me\s+and|me\s+n|me\s+&|and\s+me|(?:(?:big|huge|many|massive)\s+)?thanks\s+(?:again\s+)?to|"
    r"thank\s+you\s+to|thank\s+you|shout\s*out\s+to|cheers\s+to|left\s+a\s+message\s+for|message\s+for|"
    r"picked\s+up|lift\s+for|pass\s+on\s+to|asked|told|dropped|drove|gave|give|took|rang|texted|saw|visit|"
    r"ask)\b|"
    rf"(?:(?:my|her|his|their|our|your|the|a|kid's|child's)\s+(?:\w+\s+)?{_RELATION}(?:\s+is)?|"
    r"(?:i'm|i\s+am|this\s+is|it's|ask\s+for|tell|text|txt|ring|call|phone|contact|email|spoke\s+to|spoke\s+with|"
    r"talked\s+to|talk\s+to|chat\s+to|chat\s+with|met|meet|thank|thanks|refer(?:red)?\s+to|referral\s+for|"
    r"visited|helped|supporting|supported|dear|hi|hello|man|woman|lady|guy|lad|girl|boy|fella|"
    r"chap|bloke|elderly|young|old|little|auntie|aunty|uncle|nan|nana|grandad|granny))"
)
# Cues after which even an ordinary lower-case word is someone's name, if a person's verb follows it.
_PERSONAL_CUE_RE = re.compile(
    r"(?<![\w'’])(?:me\s+and|me\s+n|me\s+&|(?:(?:big|huge|many|massive)\s+)?thanks\s+(?:again\s+)?to|"
    r"thank\s+you\s+to|shout\s*out\s+to|cheers\s+to|pass\s+on\s+to|asked|told|gave|drove|picked\s+up|"
    r"left\s+a\s+message\s+for)\b[ \t]*[:,]?[ \t]*",
    re.IGNORECASE,
)
_INSTITUTION_WORD = re.compile(
    r"\b(?:Hosp|Hospital|Infirmary|School|Academy|College|University|Centre|Center|Ward|Unit|Trust|Council|"
    r"Service|Services|Ltd|Group|Surgery|Practice|Clinic|Church|Mosque|Hub|Club|Association|Society|Foundation)\b"
)
# Evidence after a word that it names a person: "shaz says", "Will came in", "Tatenda's kids".
_PERSON_AFTER = re.compile(
    r"(?:['’]s\s+(?:\w+\s+)?(?:kids|children|child|son|sons|daughter|daughters|mum|mam|mom|dad|husband|wife|partner|"
    r"flat|house|place|nan|baby|boyfriend|girlfriend|brother|sister|family|car|van|ex|grandson|granddaughter|"
    r"carer|sofa|door|appointment|benefits|rent)\b"
    r"|\s+(?:said|says|reckons|told|tells|asked|asks|wants|wanted|needs|needed|came|comes|rang|rings|texted|"
    r"dropped|drops|brought|brings|knows|knew|did|does|sorted|lost|lives|lived|works|worked|cares|cared|"
    r"drove|drives|ran|runs|helped|helps|gave|picked|took|left|moved|called|phoned|emailed|messaged|"
    r"turned\s+up|popped|mentioned|thinks|thought|feels|felt|has\s+been|had\s+been|is\s+on|was\s+on|"
    r"is\s+(?:still\s+)?(?:sleeping|staying|waiting|worried|struggling|living|pregnant|in\s+hospital)|"
    r"was\s+(?:sleeping|staying|waiting|worried|struggling|living|in\s+tears)|"
    r"and\s+(?:her|his|their|the\s+lads|the\s+girls|me|I)\b)\b)",
    re.IGNORECASE,
)
_DETERMINER_BEFORE = re.compile(
    r"\b(?:the|a|an|this|that|these|those|some|no|any|more|less|much|our|your|their|its|great|real|full|such)\s+$",
    re.IGNORECASE,
)
# spaCy labels for things that are not people: a word inside one of these is not taken as a name on its shape alone.
_NOT_PERSON_LABELS = frozenset({"GPE", "LOC", "FAC", "NORP", "EVENT", "PRODUCT", "LANGUAGE", "LAW", "WORK_OF_ART"})
# Nicknames made from names: "Dazza", "Gaz", "Shaz", "Kezza" (first syllable + z/zza), "Jonesy", "Robbo", "Macca"
# (a name or surname + y/ie/sy/o/a, the last consonant sometimes doubled).
_ZZ_NICK = re.compile(r"^([a-z]{1,3}?)(?:zza|zzer|zz|za|z)$")
_Y_SUFFIXES = ("sy", "zy", "ie", "ey", "y", "o", "a", "er", "ers")
# Chinese given names in pinyin ("Xiaoling", "Jianhua"): two or three syllables of pinyin.
_PINYIN_SYLLABLE = (
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ueng|ang|eng|ing|ong|ian|iao|uai|uan|ai|ei|ao|ou|an|en|er|ia|ie|iu|in|ua|uo|ui|un|ue|a|o|e|i|u|v)"
)
_PINYIN_NAME = re.compile(rf"(?:{_PINYIN_SYLLABLE}){{2,3}}")

_WORD = r"[^\W\d_][\w'’-]*"
# A capitalised name word: "Patel", "O'Connor", "McDonald", "Smith-Jones"; or all capitals "WRIGHT".
_UP = r"[A-ZÀ-ÖØ-ÞĀ-ſ]"
_LO = r"[a-zß-öø-ÿĀ-ſ]"
_CAP = rf"(?:{_UP}{_LO}*(?:['’]{_UP}{_LO}+|{_UP}{_LO}+|-{_UP}{_LO}+)*{_LO}|[A-Z]{{2,}}(?:['’-][A-Z]+)?)"

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
_DEMONYMS = words_of(
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
    allow-list when None); ``given_names``, ``family_names`` and ``common`` the given-name, surname and common-word
    lists (the packaged ones when None).
    """

    def __init__(
        self,
        nlp,
        places: Gazetteer | None = None,
        keep: Iterable[str] | None = None,
        given_names: Iterable[str] | None = None,
        family_names: Iterable[str] | None = None,
        common: Iterable[str] | None = None,
    ):
        self.nlp = nlp
        self.places = places or Gazetteer({})
        self.keep_names = tuple(default_keep_list() if keep is None else keep)
        self._keep_re = _keep_regex(self.keep_names)
        self.given_names = frozenset(n.lower() for n in (first_names() if given_names is None else given_names))
        self.surnames = frozenset(n.lower() for n in (surnames() if family_names is None else family_names))
        self.common = frozenset(n.lower() for n in (common_words() if common is None else common))
        # Names that are also ordinary words ("will", "rose", "hope") need the context to say a person is meant.
        # The hand-written list's names are names first ("jess", "dave"), unless AMBIGUOUS_NAMES says otherwise.
        self.ambiguous = AMBIGUOUS_NAMES | ((self.given_names & self.common) - hand_written_names())
        self._hand_names = hand_written_names() if given_names is None else self.given_names
        self._given_prefixes = {n[:k] for n in self.given_names if len(n) >= 4 for k in (2, 3)}
        self.components = needed_components(nlp)
        self.disabled = [name for name in nlp.pipe_names if name not in self.components]
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
        own ``n_process``, which ships whole Docs back). Empty or whitespace-only texts come back unchanged.

        A text said more than once ("Very good service", a monthly return's same sentence) is redacted once: the
        redaction depends on the text alone, so its copies get the same result."""
        texts = list(texts)
        distinct = list(dict.fromkeys(texts))
        if len(distinct) < len(texts):
            done = dict(zip(distinct, self.redact_many(distinct, batch_size, n_process), strict=True))
            yield from (done[text] for text in texts)
        elif n_process > 1 and len(texts) > batch_size and "fork" in multiprocessing.get_all_start_methods():
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
            with context.Pool(n_process, _start_forked_worker) as pool:
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
        # Names are found on the text with curly apostrophes straightened (same length: offsets hold).
        spans += self._names(text.replace("’", "'"), entities, keep, spans)
        merged = merge(spans)
        kept_places = tuple(p for p in places if not any(s.start < p.end and p.start < s.end for s in merged))
        return Redaction(render(text, merged), tuple(merged), kept_places)

    # -- names -----------------------------------------------------------------------------------------------------

    def _looks_like_name(self, word: str, text: str, start: int) -> bool:
        low = word.lower().strip("'’")
        if low in NOT_NAMES or len(low) < 2:
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
        cue_ends = _cue_ends(_CUE_RE, text)
        personal_ends = _cue_ends(_PERSONAL_CUE_RE, text)

        for start, end, label in entities:
            if label != "PERSON":
                continue
            start, end = self._trim_person(text, start, end)
            if end <= start:
                continue
            value = text[start:end]
            saint = _SAINT_BEFORE.search(text, 0, start) or re.match(r"(?:St|Saint)\.?\s", value)
            if saint and (_INSTITUTION_AFTER.match(text, end) or re.match(r"['’]s\b", text[end:])):
                continue  # "St Luke's Surgery", "St Mary's"
            low_value = value.lower()
            if (
                " " not in value
                and low_value in self.common
                and not self.is_known_name(low_value)
                and not _PERSON_AFTER.match(text, end)
                and (start not in cue_ends or value.islower())
            ):
                continue  # "Calm and professional", "within the Law": a word the small model took for a person
            if (
                " " not in value
                and low_value in self.ambiguous
                and _is_sentence_start(text, start)
                and not _AMBIGUOUS_START_NEXT.match(text, end)
                and not _PERSON_AFTER.match(text, end)
            ):
                continue  # "Bill was the word", "Sunny spells ahead": the small model's guess on a word
            if value.isupper() and " " not in value and value.lower() not in self.given_names:
                continue  # acronyms the small model calls people: "RVI", "TED", "COVID"
            if value.islower() and not any(w in self.given_names for w in value.split()):
                continue  # the small model calls odd lower-case words people ("emoji"); real ones are in the list
            if overlaps_keep(start, end):
                for piece_start, piece_end in _outside(start, end, keep):
                    piece = text[piece_start:piece_end].strip(" ,.-'’")
                    if piece and piece.lower() not in NOT_NAMES and piece[:1].isupper() and len(piece) > 1:
                        offset = text.index(piece, piece_start)
                        names.append(Span(offset, offset + len(piece), NAME))
                continue
            names.append(Span(start, end, NAME))

        strong_ends = _cue_ends(_STRONG_RE, text)
        relation_ends = _cue_ends(_RELATION_RE, text)
        not_person = [(s, e) for s, e, label in entities if label in _NOT_PERSON_LABELS]
        # A multi-word ORG is not a person unless one of its words is a name ("Funmilayo Okonkwo" as ORG).
        not_person += [
            (s, e) for s, e, label in entities
            if label == "ORG" and " " in text[s:e].strip() and (_INSTITUTION_WORD.search(text[s:e]) or not any(
                (w.lower() in self.surnames or w.lower() in self.given_names) and w.lower() not in self.common
                for w in _TOKEN_RE.findall(text[s:e])))
        ]  # fmt: skip
        for m in self._name_re.finditer(text):
            word, start, end = m.group(0), m.start(), m.end()
            word_clean = re.sub(r"['’]s$", "", word)
            end = start + len(word_clean)
            low = word_clean.lower().strip("'’-")
            if low in NOT_NAMES or len(low) < 2 or low in _DEMONYMS:
                continue
            if low == "tel" and re.match(r"\s*(?:[:.#]|no\b|\d)", text[end:], re.IGNORECASE):
                continue  # "Tel: 0117...": the label of a phone number
            is_name = self._word_is_name(text, word_clean, start, end, low, start in strong_ends,
                                         start in cue_ends, not_person,
                                         start in personal_ends or start in relation_ends)  # fmt: skip
            if not is_name or _INSTITUTION_AFTER.match(text, end) or _SAINT_BEFORE.search(text, 0, start):
                continue
            span_end = end
            # A surname after the given name: "Kwame Mensah", "DANIEL WRIGHT", "john smith".
            capital = word_clean[:1].isupper()
            follow = re.match(rf"\s+({_CAP})" if capital else r"\s+([a-z][a-z'’-]+)\b", text[end:])
            if follow and not capital:
                # "john smith keeps", "tatenda moyo about": a lower-case surname, or a word acting like one.
                after_follow = text[end + follow.end() :]
                f = follow.group(1).lower()
                if f in self.common or f in NOT_NAMES or len(f) < 3:
                    if not re.match(r"\s+(?:keeps|said|says|is|was|has)\b", after_follow) or f in NOT_NAMES:
                        follow = None
                    follow = None
            if follow and follow.group(1).lower() not in NOT_NAMES:
                candidate_end = end + follow.end()
                if not overlaps_keep(end + follow.start(1), candidate_end) and not _INSTITUTION_AFTER.match(
                    text, candidate_end
                ):
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
                if len(tok) > 2 and tok.lower() not in NOT_NAMES and not re.fullmatch(_TITLE, tok):
                    tokens.add(tok)
        if tokens:
            pattern = re.compile(r"(?<![\w'])(?:" + "|".join(map(re.escape, sorted(tokens, key=len, reverse=True)))
                                 + r")(?![\w])")  # fmt: skip
            for m in pattern.finditer(text):
                if not overlaps_keep(m.start(), m.end()):
                    found.append(Span(m.start(), m.end(), NAME))
        # Names inside an address or email are covered by those.
        return found

    def is_diminutive(self, low: str) -> bool:
        """A nickname made from a known name: "dazza", "gaz", "shaz" (first syllable + z/zza), "jonesy", "robbo",
        "macca" (a name + y/ie/sy/o/a, with the last consonant sometimes doubled). Never a common word."""
        if low in self.common or len(low) < 3:
            return False
        m = _ZZ_NICK.match(low)
        if m and any(m.group(1) + tail in self._given_prefixes for tail in ("", "r", "l")):
            return True
        for suffix in _Y_SUFFIXES:
            if not low.endswith(suffix) or len(low) - len(suffix) < 2:
                continue
            base = low[: -len(suffix)]
            stems = {base, base + "e"}
            if len(base) > 2 and base[-1] == base[-2]:
                stems.add(base[:-1])  # "Robbo", "Tommo"
            for stem in stems:
                if len(stem) >= 3 and (stem in self.given_names or stem in self.surnames) and stem not in self.common:
                    return True
            if base.startswith(("mac", "mc")) and len(base) <= 4:
                return True  # "Macca", "Macky": any Mac/Mc surname
        return False

    def is_known_name(self, low: str) -> bool:
        """A given name, or a nickname made from one (never a common word)."""
        if low in self.given_names:
            return True
        if low in self.common:
            return False
        return self.is_diminutive(low)

    def _word_is_name(self, text, word, start, end, low, strong, cued, not_person, personal=False) -> bool:
        """Whether one word of ``text`` is someone's name, from the word lists and the context around it."""
        capital = word[:1].isupper()
        all_caps = word.isupper() and len(word) > 1
        # A capitalised word made of two or three pinyin syllables is a Chinese given name ("Xiaoling", "Jianhua").
        pinyin = capital and word[1:].islower() and len(low) >= 5 and low not in self.common
        known = self.is_known_name(low) or bool(pinyin and _PINYIN_NAME.fullmatch(low))
        ambiguous = low in self.ambiguous
        common = low in self.common and not known or (ambiguous and low in self.common)
        sentence_start = _is_sentence_start(text, start)
        after = bool(_PERSON_AFTER.match(text, end))
        determiner = bool(_DETERMINER_BEFORE.search(text, max(0, start - 12), start))
        if all_caps and (len(low) <= 3 or not known) and not strong:
            return False  # acronyms: "CAMHS", "PIP", "NI"
        if re.fullmatch(r"[A-Z]{2,}s", word):
            return False  # plural acronyms: "GPs"
        if strong:
            # "so called professionals", "I called because": after "called" a lower-case word must be a name.
            return capital or known or not common
        if cued and not determiner:
            if capital:
                return not (ambiguous and sentence_start and not after)
            # A lower-case ordinary word after a cue is a name only after a personal cue and with a person's verb
            # after it ("thanks to tel and the lads", not "the call handler said").
            # A word that is no English word at all is a name after a personal or relation cue ("me and shaz",
            # "my neighbour tatenda"), or after any cue when a person's verb follows.
            return (known and not ambiguous) or (personal and (not common or after)) or (not common and after)
        if ambiguous:
            if capital and not sentence_start:  # "Grace", "May" mid-sentence
                return not determiner and not self._month_use(text, start, end, low)
            if capital:  # at the start of a sentence: "Grace and her kids", "Will came in", not "Will do."
                return bool(_AMBIGUOUS_START_NEXT.match(text, end)) or after
            # A lower-case "joy", "rose", "lady" without a cue is a word, unless it opens a clause and a person's
            # verb follows ("kids club full again, mo says ...").
            return after and bool(re.search(r"(?:^|[,;:!?.]\s*)$", text[max(0, start - 3) : start]))
        if known:
            if capital:
                return True
            # Lower-case given name: a name when it acts like one ("kerry said", "text jade on", "john smith").
            # Only the hand-written list's names and nicknames: the large gazetteer holds names that are lower-case
            # words too ("vibe", "app").
            if low not in self._hand_names and not self.is_diminutive(low):
                return False
            return bool(
                _LOWER_NAME_NEXT.match(text, end) or after
                or re.search(r"(?:^|[,.!?]\s*)$", text[max(0, start - 3) : start])
            )  # fmt: skip
        if capital and not common and len(low) > 2:
            inside_other = any(s <= start and end <= e for s, e in not_person)
            if sentence_start:
                # "Funmilayo Okonkwo came in": two capitalised words that are no English words open the sentence.
                nxt = re.match(rf"\s+({_CAP})", text[end:])
                nxt_low = nxt.group(1).lower() if nxt else ""
                return after or (bool(nxt) and nxt_low not in self.common and nxt_low not in NOT_NAMES
                                 and not any(s <= start and end <= e for s, e in not_person))  # fmt: skip
            # A capitalised word mid-sentence that is no English word, place or service: a name, unless spaCy
            # calls it a place, nationality, product or event (and it is in no name list).
            return not inside_other
        if common and capital and sentence_start:
            return after and low in self.surnames  # "Smudge dropped off..."? only surnames/nicknames here
        return bool(not capital and not common and after and len(low) > 2 and low in self.surnames)

    def _trim_person(self, text: str, start: int, end: int) -> tuple[int, int]:
        """Narrow a PERSON entity to its name words. spaCy's small model sometimes takes in a trailing possessive,
        a label ("Email Sarah"), a nationality ("Older Somali women"), or calls a sentence's first word a person
        ("Listened to everything", "Responsive to needs"): those words are dropped."""
        words = [m for m in re.finditer(r"[^\W_][\w'’.-]*", text[start:end])]

        def is_name_word(m: re.Match, first: bool) -> bool:
            word = re.sub(r"['’]s$", "", m.group(0)).rstrip(".")
            low = word.lower()
            if low.replace(".", "") in NOT_NAMES:
                return False
            if low in NOT_NAMES or low in _DEMONYMS:
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


def _start_forked_worker() -> None:
    """One BLAS thread per forked worker: spaCy's layers multiply with numpy's BLAS (nlp.models_loader), whose
    default of one thread per core, in each of ``n_process`` workers, cost 25 % more CPU than one thread each."""
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 - only in forked workers

    threadpool_limits(1, user_api="blas")


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
