"""Tuning aid for benchmarks/themes.py: today's configuration and several candidates of the new one, fitted with the
same seeds (ThemeParams.seed for both), scored exactly as benchmarks/themes.py scores them; mean and sd over seeds.

    nice -n 19 .venv/bin/python benchmarks/themes_sweep.py --corpus nhs --seeds 1,2,3 \
        --cand base: --cand leaf:cluster_selection=leaf,naming=terms

A candidate is ``name:key=value,key=value`` (ThemeParams overrides of the defaults; ``base:`` is the defaults).
Tune half only by default (``--split``); names are not checked here (use benchmarks/themes.py for the final word).

``--subsets N`` fits on 2 x N random halves of the split instead of the whole split (N seeded permutations, each cut
in two), every seed on each: how a difference holds up across *data*, not only across seeds. One tune half can
flatter a candidate: the defaults' NHS NPMI was +0.015 over today's on the whole tune half and -0.015 on average
over its 6 halves (docs/experiments/themes-2026-12-02.md, "Resampled halves of the tune half").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _corpora  # noqa: E402
import themes as bench  # noqa: E402


def parse_candidate(text: str) -> tuple[str, dict]:
    from nlp.themes.params import ThemeParams

    name, _, rest = text.partition(":")
    overrides = {}
    for item in filter(None, rest.split(",")):
        key, value = item.split("=", 1)
        overrides[key] = bench.parse_value(ThemeParams.__dataclass_fields__[key].default, value)
    return name, overrides


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=list(_corpora.CORPORA), default="nhs")
    parser.add_argument("--split", choices=["tune", "holdout", "all"], default="tune")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--cand", action="append", default=[])
    parser.add_argument("--no-today", action="store_true")
    parser.add_argument("--limit", type=int, help="only the first N documents of the corpus (a quick check)")
    parser.add_argument("--subsets", type=int, default=0, help="fit on 2 x N random halves of the split instead")
    args = parser.parse_args(argv)
    _corpora.require_shared()
    warnings.filterwarnings("ignore", category=FutureWarning)
    from nlp.models_loader import load_spacy
    from nlp.themes.naming import DEFAULT_SPACY_NAME
    from nlp.themes.params import ThemeParams

    spacy_nlp = load_spacy(DEFAULT_SPACY_NAME, exclude=("ner", "lemmatizer"))
    corpus = _corpora.CORPORA[args.corpus]()
    if args.limit:
        corpus.texts, corpus.labels = corpus.texts[: args.limit], corpus.labels[: args.limit]
    encoder = _corpora.encoder("onnx-int8")
    all_vectors = _corpora.embeddings(corpus, encoder)
    parts = subsets(bench.split(corpus, args.split), args.subsets)
    seeds_text = bench.seeds_for("commintel", corpus.labels)
    cands = [parse_candidate(c) for c in args.cand]
    if not args.no_today:
        cands.insert(0, ("today", dict(bench.TODAY)))
    results: dict[str, list[dict]] = {name: [] for name, _ in cands}
    for part, rows_idx in parts:
        texts = [corpus.texts[i] for i in rows_idx]
        labels = [corpus.labels[i] for i in rows_idx]
        vectors = all_vectors[rows_idx]
        for seed in [int(s) for s in args.seeds.split(",")]:
            for name, overrides in cands:
                params = ThemeParams(**{**overrides, "seed": seed})
                kw = {} if name == "today" else {"seeds": seeds_text, "spacy_nlp": spacy_nlp}
                result, secs = bench.fit(texts, vectors, encoder, params, **kw)
                row = bench.score(name, texts, labels, result.topics, [t.terms for t in result.themes], secs)
                row.pop("names")
                row.update(seed=seed, part=part, documents=len(texts))
                results[name].append(row)
                print(json.dumps({"corpus": args.corpus, "split": args.split, "overrides": overrides, **row},
                                 default=float), flush=True)  # fmt: skip
    where = f"{len(parts)} halves of the {args.split} half" if args.subsets else args.split
    print(f"\n{args.corpus} {where}, seeds {args.seeds}, load average {os.getloadavg()}")
    print(f"  {'candidate':14} {'themes':>6} {'NPMI':>15} {'divers.':>7} {'unthemed':>8} {'NMI':>15} {'NMI gain':>9}")
    today = results.get("today")
    for name, rows in results.items():

        def ms(key, rows=rows):
            v = np.array([r[key] for r in rows], dtype=float)
            return v.mean(), v.std(ddof=1) if len(v) > 1 else 0.0

        gain = ""
        if today and name != "today":
            g = np.array([r["nmi"] / t["nmi"] - 1 for r, t in zip(rows, today, strict=True)])
            d = np.array([r["npmi"] - t["npmi"] for r, t in zip(rows, today, strict=True)])
            gain = (f"{g.mean():+.1%} ± {g.std(ddof=1) if len(g) > 1 else 0:.1%} (dNPMI {d.mean():+.3f}, "
                    f"lower in {int((d < 0).sum())} of {len(d)})")  # fmt: skip
        print(f"  {name:14} {ms('themes')[0]:6.1f} {ms('npmi')[0]:7.3f} ± {ms('npmi')[1]:.3f} "
              f"{ms('diversity')[0]:7.3f} {ms('outliers')[0]:8.1%} "
              f"{ms('nmi')[0]:7.3f} ± {ms('nmi')[1]:.3f} {gain}")  # fmt: skip
    return 0


def subsets(rows: np.ndarray, n: int) -> list[tuple[str, np.ndarray]]:
    """The whole ``rows`` (n = 0), or both halves of each of n seeded permutations of them (seeds 1000, 1001, ...)."""
    if not n:
        return [("all", rows)]
    out = []
    for k in range(n):
        order = np.random.default_rng(1000 + k).permutation(len(rows))
        half = len(rows) // 2
        out += [(f"{k}a", np.sort(rows[order[:half]])), (f"{k}b", np.sort(rows[order[half:]]))]
    return out


if __name__ == "__main__":
    sys.exit(main())
