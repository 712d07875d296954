"""Theme words and labels cannot carry a person: a word becomes a theme word, a label word or part of the saved
vocabulary only when at least k observations from at least two sources use it; placeholders never do.

Attacks: a name redaction missed, planted in k-1 observations from different organisations; another planted in
k observations of one organisation; placeholders in many observations of every organisation. A control word in
k observations from two organisations shows the rule (not chance) is what keeps the others out."""

from __future__ import annotations

import re

import pytest

from nlp import embeddings
from nlp.themes import fitting
from nlp.themes import params as fit_params
from nlp.themes import saved as saved_themes
from nlp.themes import vocabulary as theme_vocabulary

K = 5
SOURCES = ("food-share", "mutual-aid", "tenants", "public")
# Words no demo text contains (checked below), planted as a missed name would be.
BELOW_K = "dazzaquill"  # k-1 observations, four sources
ONE_ORG = "shazbrook"  # k observations, one organisation
CONTROL = "marvokett"  # k observations, two organisations: allowed


def planted(texts: list[str]) -> tuple[list[str], list[str]]:
    texts = list(texts)
    sources = [SOURCES[i % len(SOURCES)] for i in range(len(texts))]
    for word in (BELOW_K, ONE_ORG, CONTROL):
        assert not any(word in t.lower() for t in texts)
    for j, i in enumerate(range(0, 5 * (K - 1), 5)):  # k-1 texts, each from another source in turn
        texts[i] += f" {BELOW_K.capitalize()} helped with the parcels."
        assert sources[i] == SOURCES[j % len(SOURCES)]
    one_org = [i for i, s in enumerate(sources) if s == "tenants"][:K]
    for i in one_org:
        texts[i] += f" {ONE_ORG.capitalize()} said so."
    two_orgs = [i for i, s in enumerate(sources) if s in ("food-share", "mutual-aid")][-K:]
    assert {sources[i] for i in two_orgs} == {"food-share", "mutual-aid"}
    for i in two_orgs:
        texts[i] += f" The {CONTROL} scheme helps."
    for i in range(len(texts)):  # placeholders everywhere, from every source
        texts[i] += " [NAME] gave [NHS_NUMBER] and [DATE_OF_BIRTH]."
    return texts, sources


def test_the_vocabulary_rule_counts_observations_and_sources():
    params = fit_params.ThemeParams(term_min_observations=3, term_min_sources=2, ngram_range=(1, 1))
    texts = ["kettle bread", "kettle milk", "kettle soup", "toaster", "toaster", "toaster", "[NAME] [NAME] [NAME]"]
    sources = [1, 2, 2, 1, 1, 1, 2]
    vocabulary = theme_vocabulary.shared_vocabulary(texts, sources, params)
    assert "kettle" in vocabulary  # three observations, two organisations
    assert "toaster" not in vocabulary  # three observations of one organisation
    assert "bread" not in vocabulary  # one observation
    assert "name" not in vocabulary  # a placeholder, however often
    # The public form is one source: three residents alone cannot make a word a theme word.
    assert "toaster" not in theme_vocabulary.shared_vocabulary(texts, ["public"] * 7, params)


@pytest.mark.slow
def test_a_name_in_fewer_than_k_observations_or_one_organisation_never_reaches_themes(texts, vectors, tmp_path):
    texts, sources = planted(texts)
    params = fit_params.ThemeParams(representation="ctfidf", term_min_observations=K, term_min_sources=2)
    vocabulary = theme_vocabulary.shared_vocabulary(texts, sources, params)
    assert CONTROL in vocabulary  # the rule lets a word shared by two organisations in k observations through
    assert BELOW_K not in vocabulary
    assert ONE_ORG not in vocabulary

    result = fitting.fit_themes(texts, vectors, params, sources=sources)
    shown = " ".join(t.label.lower() + " " + " ".join(t.terms) for t in result.themes)
    for word in (BELOW_K, ONE_ORG, "nhs_number", "nhsnumber", "date_of_birth", "dateofbirth"):
        assert word not in shown
    assert not any(re.search(r"\bname\b", t.label.lower()) for t in result.themes)
    saved_vocabulary = set(result.model.vectorizer_model.vocabulary_)
    assert saved_vocabulary <= set(vocabulary)
    assert CONTROL in saved_vocabulary

    saved_themes.save(result, tmp_path / "v1", embeddings.MODEL_NAME)
    files = [p for p in (tmp_path / "v1").rglob("*") if p.is_file()]
    assert any(p.name == "ctfidf_config.json" for p in files)
    blob = b"".join(p.read_bytes().lower() for p in files)
    assert CONTROL.encode() in blob  # the saved vocabulary is really in these files...
    for word in (BELOW_K, ONE_ORG, "nhs_number", "nhsnumber", "date_of_birth", "dateofbirth"):
        assert word.encode() not in blob, word  # ...and these words are not


def test_a_share_of_the_corpus_raises_the_count_a_term_needs():
    params = fit_params.ThemeParams(term_min_observations=3, term_min_sources=1, ngram_range=(1, 1))
    texts = ["kettle"] * 4 + ["toaster"] * 3 + ["other words here"] * 93  # 100 observations
    assert {"kettle", "toaster"} <= set(theme_vocabulary.shared_vocabulary(texts, None, params))
    shared = fit_params.ThemeParams(
        term_min_observations=3, term_min_sources=1, ngram_range=(1, 1), term_min_share=0.04
    )
    assert shared.term_min_count(len(texts)) == 4
    vocabulary = theme_vocabulary.shared_vocabulary(texts, None, shared)
    assert "kettle" in vocabulary  # 4 of 100
    assert "toaster" not in vocabulary  # 3 of 100: k alone would keep it
    # On a small corpus k is the floor: the share never lowers it.
    assert shared.term_min_count(20) == 3
