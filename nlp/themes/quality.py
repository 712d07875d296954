"""Quality measures of a fit: NPMI coherence and topic diversity of the themes' top words (the benchmarks and the
refit report read them). Plain values: no Flask, no database."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nlp.themes.params import TOKEN

# Quality measures -----------------------------------------------------------------------------------------------


def top_words(terms: Sequence[str], n: int = 10) -> list[str]:
    """Unigram words of a theme's top terms (bigrams split), distinct, first ``n``: what coherence is scored on."""
    out: list[str] = []
    for term in terms:
        for w in TOKEN.findall(term.lower()):
            if w not in out:
                out.append(w)
    return out[:n]


def npmi_coherence(topic_words: Sequence[Sequence[str]], texts: Sequence[str]) -> float:
    """Mean NPMI over all word pairs of each theme's top words, then over themes.

    Reference corpus: the fitted texts themselves, tokenised as lowercase ``\\w\\w+`` tokens (no stop-word removal,
    so configurations with different vocabularies are scored alike). Window: the whole document (boolean
    document co-occurrence, as for short texts). NPMI(a, b) = log(p(a,b) / (p(a) p(b))) / -log p(a,b), and -1 for
    pairs that never co-occur. Words absent from the corpus are skipped.
    """
    vocab = {w for words in topic_words for w in words}
    if not vocab:
        return float("nan")
    index = {w: i for i, w in enumerate(sorted(vocab))}
    from scipy.sparse import csr_matrix  # noqa: PLC0415 - heavy: scipy.sparse loads in ~0.5 s; the report only

    rows: list[int] = []
    cols: list[int] = []
    for d, text in enumerate(texts):
        present = {index[w] for w in TOKEN.findall((text or "").lower()) if w in index}
        rows.extend([d] * len(present))
        cols.extend(present)
    n_docs = len(texts)
    occ = csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(n_docs, len(index)))
    df = np.asarray(occ.sum(axis=0)).ravel()
    co = (occ.T @ occ).toarray()
    scores = []
    for words in topic_words:
        ids = [index[w] for w in words if df[index[w]] > 0]
        pair_scores = []
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                a, b = ids[i], ids[j]
                p_ab = co[a, b] / n_docs
                if p_ab == 0:
                    pair_scores.append(-1.0)
                    continue
                p_a, p_b = df[a] / n_docs, df[b] / n_docs
                if p_ab == 1.0:
                    pair_scores.append(1.0)
                    continue
                pair_scores.append(math.log(p_ab / (p_a * p_b)) / -math.log(p_ab))
        if pair_scores:
            scores.append(float(np.mean(pair_scores)))
    return float(np.mean(scores)) if scores else float("nan")


def topic_diversity(topic_words: Sequence[Sequence[str]], n: int = 10) -> float:
    """Share of distinct words among all themes' top-``n`` words (1 = no word repeated across themes)."""
    words = [w for ws in topic_words for w in ws[:n]]
    return len(set(words)) / len(words) if words else float("nan")
