"""The words a theme may use: text prepared for the vectorizer (contractions expanded, redaction placeholders
taken out) and :func:`shared_vocabulary`, the terms enough observations from enough sources share that they
cannot carry a person. Plain values: no Flask, no database."""

from __future__ import annotations

import re
from collections.abc import Sequence

from nlp.themes.params import ThemeParams


def vectorizer(params: ThemeParams, vocabulary: Sequence[str] | None = None):
    """The words of themes: English stop words out, 1-2-grams; restricted to ``vocabulary`` when given."""
    from sklearn.feature_extraction.text import CountVectorizer  # noqa: PLC0415 - heavy: sklearn loads in seconds

    if vocabulary is not None:
        return CountVectorizer(stop_words="english", ngram_range=tuple(params.ngram_range), vocabulary=list(vocabulary))
    return CountVectorizer(stop_words="english", ngram_range=tuple(params.ngram_range), min_df=params.min_df)


# Redaction's typed placeholders ("[NAME]", "[NHS_NUMBER]"): never a source of theme words.
PLACEHOLDER = re.compile(r"\[[A-Z][A-Z_]*\]")


# Contractions, with or without the apostrophe (typed comments often drop it): without this, cleaning "don't" to
# "dont" and tokenising "don't" as "don" + "t" put "don" and "dont" into theme words and names.
_CONTRACTION = re.compile(r"(?i)\b(can|won|ai|sha)['\u2019]?t\b|n['\u2019]t\b|['\u2019](re|ve|ll|m|d|s)\b")
_BARE_NOT = re.compile(r"(?i)\b(do|does|did|is|was|were|are|has|have|had|could|would|should|must|need|might)nt\b")
_EXPANDED = {"re": " are", "ve": " have", "ll": " will", "m": " am", "d": " would", "s": ""}
_MODAL = {"can": "can not", "won": "will not", "ai": "is not", "sha": "shall not"}


def expand_contractions(text: str) -> str:
    """ "don't", "dont" -> "do not"; "can't" -> "can not"; "they're" -> "they are"; a possessive "'s" is dropped."""

    def one(m: re.Match) -> str:
        if m.group(1):
            return " " + _MODAL[m.group(1).lower()]
        if m.group(2):
            return _EXPANDED[m.group(2).lower()]
        return " not"

    text = _CONTRACTION.sub(one, text)
    return _BARE_NOT.sub(lambda m: m.group(1) + " not", text)


def without_placeholders(text: str) -> str:
    """The text theme words come from: redaction placeholders taken out, contractions expanded
    (:func:`expand_contractions`), then cleaned as BERTopic cleans English documents (line breaks to spaces, only
    ASCII letters, digits and spaces kept), so that the vocabulary counted here is exactly the one BERTopic's
    vectorizer sees."""
    text = PLACEHOLDER.sub(" ", text or "").replace("\n", " ").replace("\t", " ")
    return re.sub(r"[^A-Za-z0-9 ]+", "", expand_contractions(text))


def shared_vocabulary(texts: Sequence[str], sources: Sequence[object] | None, params: ThemeParams) -> list[str]:
    """The terms (as the vectorizer makes them) that occur in at least ``params.term_min_observations`` distinct
    texts coming from at least ``params.term_min_sources`` distinct sources. ``sources`` holds one source per
    text (an organisation id, or one value for every public-form observation); None means the sources are unknown
    (benchmarks on public corpora) and only the count of texts applies. Placeholders never count."""
    analyse = vectorizer(params).build_analyzer()
    seen_in: dict[str, int] = {}
    from_sources: dict[str, set] = {}
    sources = list(sources) if sources is not None else [None] * len(texts)
    if len(sources) != len(texts):
        raise ValueError("texts and sources must have the same length")
    for text, source in zip(texts, sources, strict=True):
        for term in set(analyse(without_placeholders(text))):
            seen_in[term] = seen_in.get(term, 0) + 1
            from_sources.setdefault(term, set()).add(source)
    need_sources = params.term_min_sources if any(s is not None for s in sources) else 1
    need_texts = params.term_min_count(len(texts))
    return sorted(term for term, n in seen_in.items() if n >= need_texts and len(from_sources[term]) >= need_sources)
