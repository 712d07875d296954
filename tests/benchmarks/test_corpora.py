"""The theme benchmarks' replication corpus (pxtextmining phase 1): read as its file is laid out, and skipped with
a message naming the file when it is absent (it is not in ../shared/data)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

# Loaded from its file: the benchmarks' folder is not put on this process's path (its scripts' names are plain words).
_spec = importlib.util.spec_from_file_location(
    "bench_corpora", Path(__file__).resolve().parents[2] / "benchmarks" / "_corpora.py"
)
_corpora = importlib.util.module_from_spec(_spec)
sys.modules["bench_corpora"] = _corpora  # dataclasses look their module up while the class is made
_spec.loader.exec_module(_corpora)

HEADER = "code,label,subcategory,feedback,criticality,organization,question,row_index\n"


def test_the_phase_one_comments_are_read_with_their_subcategory(tmp_path, monkeypatch):
    path = tmp_path / "text_data.csv"
    path.write_text(
        HEADER
        + "xn,Couldn't be improved,Nothing to improve,Nothing.,3,Trust A,Trust A - Q1,0\n"
        + "ee,Environment/ facilities,Environment/ facilities,  Temperature in theatre a little low. ,-1,Trust A,"
        + "Trust A - Q1,1\n"
        + "sa,Staff,Attitude Of Staff,,2,Trust B,Trust B - Q1,2\n"  # no text: left out
        + 'cc,Care received,Care received,"Kind, caring staff",3,Trust C,Trust C - Q2,3\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(_corpora, "NHS_PHASE1_CSV", path)
    corpus = _corpora.CORPORA["nhs1"]()
    assert corpus.texts == ["Nothing.", "Temperature in theatre a little low.", "Kind, caring staff"]
    assert corpus.labels == ["Nothing to improve", "Environment/ facilities", "Care received"]


def test_an_absent_phase_one_file_is_a_skip_that_names_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(_corpora, "NHS_PHASE1_CSV", tmp_path / "absent.csv")
    with pytest.raises(SystemExit) as exit_:
        _corpora.nhs_phase1()
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("SKIP:")
    assert "absent.csv" in out
    assert "pxtextmining" in out
