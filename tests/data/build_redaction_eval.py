"""Build ``redaction_eval.jsonl`` from the hand-written, marked-up observations in ``redaction_eval_*.txt``.

Run: ``python tests/data/build_redaction_eval.py`` (writes the JSONL next to this file; the output is committed).

Markup: ``[TYPE:text]`` is personal data of TYPE (NAME, PHONE, EMAIL, POSTCODE, ADDRESS, NI_NUMBER, NHS_NUMBER,
DATE_OF_BIRTH, CARD_NUMBER, URL); ``{A:text}`` is an area name and ``{S:text}`` an organisation or service name that
redaction must keep. NHS and card numbers are written by hand; their last digit is set here so that every one passes
its checksum (mod 11 and Luhn), as real ones do. Each record keeps its half: "dev" (rules may be tuned on it) or
"holdout" (not looked at while tuning).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
TYPES = [
    "NAME",
    "PHONE",
    "EMAIL",
    "POSTCODE",
    "ADDRESS",
    "NI_NUMBER",
    "NHS_NUMBER",
    "DATE_OF_BIRTH",
    "CARD_NUMBER",
    "URL",
]
MARK = re.compile(r"\[(?P<type>" + "|".join(TYPES) + r"):(?P<pii>[^\]]+)\]|\{(?P<kind>[AS]):(?P<keep>[^}]+)\}")


def nhs_fix(number: str) -> str:
    digits = [c for c in number if c.isdigit()]
    assert len(digits) == 10, number
    for ninth in range(10):
        trial = digits[:8] + [str((int(digits[8]) + ninth) % 10)]
        check = 11 - sum(int(d) * w for d, w in zip(trial, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            fixed = iter(trial + [str(check)])
            return "".join(next(fixed) if c.isdigit() else c for c in number)
    raise AssertionError(number)


def luhn_fix(number: str) -> str:
    digits = [int(c) for c in number if c.isdigit()]
    body = digits[:-1]
    total = 0
    for i, d in enumerate(reversed(body)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    fixed = iter([*map(str, body), str((10 - total % 10) % 10)])
    return "".join(next(fixed) if c.isdigit() else c for c in number)


def parse(line: str) -> dict:
    text, pii, keep, pos = [], [], [], 0
    for m in MARK.finditer(line):
        text.append(line[pos : m.start()])
        start = sum(map(len, text))
        if m.group("type"):
            kind, value = m.group("type"), m.group("pii")
            if kind == "NHS_NUMBER":
                value = nhs_fix(value)
            elif kind == "CARD_NUMBER":
                value = luhn_fix(value)
            pii.append({"type": kind, "start": start, "end": start + len(value), "text": value})
        else:
            value = m.group("keep")
            kind = "area" if m.group("kind") == "A" else "service"
            keep.append({"kind": kind, "start": start, "end": start + len(value), "text": value})
        text.append(value)
        pos = m.end()
    text.append(line[pos:])
    return {"text": "".join(text), "pii": pii, "keep": keep}


def build() -> list[dict]:
    records = []
    for split in ("dev", "holdout"):
        lines = (HERE / f"redaction_eval_{split}.txt").read_text(encoding="utf-8").splitlines()
        number = 0
        for line in lines:
            if not line.strip() or line.startswith("#"):
                continue
            number += 1
            record = {"id": f"{split}-{number:03d}", "split": split, **parse(line)}
            for span in record["pii"] + record["keep"]:
                assert record["text"][span["start"] : span["end"]] == span["text"]
            assert "[" not in record["text"], line
            assert "{" not in record["text"], line
            records.append(record)
    return records


if __name__ == "__main__":
    records = build()
    out = HERE / "redaction_eval.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    pii = sum(len(r["pii"]) for r in records)
    keep = sum(len(r["keep"]) for r in records)
    print(f"{len(records)} observations, {pii} personal-data spans, {keep} names to keep -> {out}")
