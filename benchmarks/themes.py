"""Theme quality: commintel's configuration against BERTopic's default, side by side, in the same run.

    .venv/bin/python benchmarks/themes.py            # both corpora, both encoders
    .venv/bin/python benchmarks/themes.py --corpus nhs --variants   # also the measured alternatives
    .venv/bin/python benchmarks/themes.py --encoder torch --limit 300   # one encoder, the first 300 documents

Corpora (from ../shared/data; the script exits with a SKIP message if the folder is absent):
- NHS Friends & Family Test comments, 7,394 non-empty answers with expert framework labels. One label per comment
  for NMI: the rarest (most specific) of the labels it carries; see ``benchmarks/_corpora.py``.
- OCTIS BBC News, 2,225 lemmatised articles, 5 labels.

Both configurations get the same MiniLM embeddings (cached under /tmp/commintel_bench_cache per encoder version) and
a seeded UMAP (the default's only change: BERTopic leaves UMAP unseeded, which would make the comparison
irreproducible). With both encoders (the default), commintel is fitted on each encoder's vectors and the int8 ONNX
encoder's NMI is compared with the torch encoder's (target: at most 1 % lower).

Measures (all computed here, the same way for both):
- NPMI coherence: mean over themes of the mean NPMI of each pair of its top-10 words (bigrams split into words),
  boolean document co-occurrence over the benchmark corpus itself (window = whole document), -1 for pairs never seen
  together; see ``nlp.themes.npmi_coherence``.
- Topic diversity: distinct words / all top-10 words over all themes.
- Outlier share: documents left unthemed (-1).
- NMI (arithmetic normalisation, sklearn) between the expert label and the theme, every document counted, the
  unthemed as one more cluster; "NMI themed" is over themed documents only.
"""

from __future__ import annotations

import argparse
import os
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


def default_bertopic(embedding_model):
    """BERTopic's default configuration; only UMAP is seeded (same defaults otherwise)."""
    from bertopic import BERTopic
    from umap import UMAP

    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=SEED, n_jobs=1)
    return BERTopic(embedding_model=embedding_model, umap_model=umap_model)


def score(name, texts, labels, topics, topic_terms, seconds):
    from sklearn.metrics import normalized_mutual_info_score

    from nlp.themes import npmi_coherence, top_words, topic_diversity

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
        "words": words,
    }


def run_default(corpus, vectors, embedding_model):
    started = time.perf_counter()
    model = default_bertopic(embedding_model)
    topics, _ = model.fit_transform(corpus.texts, embeddings=vectors)
    n = max(topics) + 1
    terms = [[w for w, _ in model.get_topic(t)] for t in range(n)]
    return score("BERTopic default", corpus.texts, corpus.labels, topics, terms, time.perf_counter() - started)


def run_commintel(corpus, vectors, embedding_model, name="commintel", **overrides):
    from nlp.themes import ThemeParams, fit_themes

    started = time.perf_counter()
    result = fit_themes(corpus.texts, vectors, ThemeParams(**overrides), embedding_model=embedding_model)
    terms = [t.terms for t in result.themes]
    return score(name, corpus.texts, corpus.labels, result.topics, terms, time.perf_counter() - started)


def table(rows):
    print(flush=True)
    print(f"  {'configuration':34} {'themes':>6} {'NPMI':>7} {'divers.':>7} {'outliers':>8} {'NMI':>6} "
          f"{'NMI themed':>10} {'secs':>6}")  # fmt: skip
    for r in rows:
        print(f"  {r['config']:34} {r['themes']:6d} {r['npmi']:7.3f} {r['diversity']:7.3f} {r['outliers']:8.1%} "
              f"{r['nmi']:6.3f} {r['nmi_themed']:10.3f} {r['seconds']:6.0f}", flush=True)  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=["nhs", "bbc", "all"], default="all")
    parser.add_argument("--encoder", choices=["both", *_corpora.ENCODERS], default="both")
    parser.add_argument("--limit", type=int, help="only the first N documents of each corpus (a quick check)")
    parser.add_argument("--variants", action="store_true", help="also run the alternatives measured when tuning")
    parser.add_argument("--examples", action="store_true", help="print commintel's first theme labels")
    args = parser.parse_args(argv)
    _corpora.require_shared()
    warnings.filterwarnings("ignore", category=FutureWarning)
    encoders = list(_corpora.ENCODERS) if args.encoder == "both" else [args.encoder]
    loaders = {"nhs": _corpora.nhs, "bbc": _corpora.bbc}
    names = list(loaders) if args.corpus == "all" else [args.corpus]
    verdict = True
    for key in names:
        corpus = loaders[key]()
        if args.limit:
            corpus.texts, corpus.labels = corpus.texts[: args.limit], corpus.labels[: args.limit]
        print(f"\n{corpus.name}: {len(corpus.texts)} documents, {len(set(corpus.labels))} labels "
              f"(NMI label: {corpus.label_rule})", flush=True)  # fmt: skip
        rows, ours = [], {}
        for n, name in enumerate(encoders):
            encoder = _corpora.encoder(name)
            vectors = _corpora.embeddings(corpus, encoder)
            if n == 0:  # BERTopic's default once, on the first encoder's vectors
                rows.append(run_default(corpus, vectors, encoder.bertopic_backend()))
                table(rows[-1:])
            ours[name] = run_commintel(corpus, vectors, encoder, f"commintel [{encoder.name}]")
            rows.append(ours[name])
            table(rows[-1:])
            if args.variants:
                alternative = {"representation": "keybert-words"}
                rows.append(run_commintel(corpus, vectors, encoder, "commintel, KeyBERT words", **alternative))
        print("  side by side:")
        table(rows)
        default, first = rows[0], ours[encoders[0]]
        ok = first["npmi"] >= default["npmi"] and first["nmi"] >= default["nmi"]
        print(f"  commintel [{encoders[0]}] >= default on NPMI and NMI: {'yes' if ok else 'NO'}")
        if len(ours) == 2:
            fast, ref = ours["onnx-int8"], ours["torch"]
            loss = (ref["nmi"] - fast["nmi"]) / ref["nmi"]
            within = loss <= 0.01
            print(f"  onnx-int8 NMI {fast['nmi']:.3f} vs torch {ref['nmi']:.3f}: {-loss:+.1%} (target >= -1 %: "
                  f"{'yes' if within else 'NO'}); NPMI {fast['npmi']:.3f} vs {ref['npmi']:.3f}")  # fmt: skip
            ok &= within
        verdict &= ok
        if args.examples:
            for words in first["words"][:8]:
                print("   -", ", ".join(words))
    print("\nall corpora: every check above passed:", "yes" if verdict else "NO", f"(load average {os.getloadavg()})")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
