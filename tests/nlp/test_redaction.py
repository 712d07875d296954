"""Redaction with the real spaCy model: every identifier type, what must be kept, bad input, and a regression guard
on the labelled evaluation set (tests/data/redaction_eval.jsonl)."""

from __future__ import annotations

import re

import pytest

from nlp.models_loader import ModelMissingError, load_spacy, use_numpy_blas
from nlp.redaction.evaluation import load_eval, score
from nlp.redaction.spans import PLACEHOLDERS, STRUCTURED, TYPES
from nlp.redaction.structured import luhn_ok, nhs_checksum_ok
from tests.nlp.redaction_support import EVAL, redactor

# Regression guard: the figures reached on the evaluation set (benchmarks/redaction.py prints the current ones).
# Names: the issue-11 target (0.97); the rules of version 2 reach 0.975 here (version 1: 0.984; the difference is
# one lower-case "jade" in the holdout, now needing the context to say a person; docs/redaction.md lists it).
REACHED = {"overall": 0.985, "structured": 1.0, "NAME": 0.97, "kept": 1.0, "over_redaction_max": 0.003}


def redact(text: str) -> str:
    return redactor().redact(text).text


@pytest.mark.parametrize(
    ("text", "secret", "placeholder"),
    [
        ("Call me on 07700 900123 after six.", "07700 900123", "[PHONE]"),
        ("Call me on 07700900123 after six.", "07700900123", "[PHONE]"),
        ("Call me on 07700-900-123 after six.", "07700-900-123", "[PHONE]"),
        ("Office: 0117 496 0732.", "0117 496 0732", "[PHONE]"),
        ("Office: (0117) 496 0555.", "(0117) 496 0555", "[PHONE]"),
        ("Ring +44 7700 900456 today.", "+44 7700 900456", "[PHONE]"),
        ("Ring +44 (0)117 496 0987 today.", "+44 (0)117 496 0987", "[PHONE]"),
        ("Ring +447700900654 today.", "+447700900654", "[PHONE]"),
        ("Email sarah.jones84@gmail.com please.", "sarah.jones84@gmail.com", "[EMAIL]"),
        ("Email J.Okafor+pantry@outlook.co.uk please.", "J.Okafor+pantry@outlook.co.uk", "[EMAIL]"),
        ("She lives in BS5 6XY now.", "BS5 6XY", "[POSTCODE]"),
        ("She lives in bs4 1tz now.", "bs4 1tz", "[POSTCODE]"),
        ("She lives in BS16 2QT now.", "BS16 2QT", "[POSTCODE]"),
        ("A mum from BS13 came in.", "BS13", "[POSTCODE]"),
        ("Postcode area BS11 has complaints.", "BS11", "[POSTCODE]"),
        ("He is at 14 Stapleton Road now.", "14 Stapleton Road", "[ADDRESS]"),
        ("Lives at Flat 3, 22 Lawrence Road.", "Flat 3, 22 Lawrence Road", "[ADDRESS]"),
        ("Stuck in Flat 12 Twinnell House.", "Flat 12 Twinnell House", "[ADDRESS]"),
        ("Tenants at 45-47 Mina Road complain.", "45-47 Mina Road", "[ADDRESS]"),
        ("NI number QQ 12 34 56 C on file.", "QQ 12 34 56 C", "[NI_NUMBER]"),
        ("NI number AB123456C on file.", "AB123456C", "[NI_NUMBER]"),
        ("NI number jk 65 43 21 b on file.", "jk 65 43 21 b", "[NI_NUMBER]"),
        ("NHS number 943 476 5919 on file.", "943 476 5919", "[NHS_NUMBER]"),
        ("Number 9434765919 on the letter.", "9434765919", "[NHS_NUMBER]"),
        ("NHS 485-777-3456 on file.", "485-777-3456", "[NHS_NUMBER]"),
        ("DOB 12/03/1987, referred.", "12/03/1987", "[DATE_OF_BIRTH]"),
        ("She was born on 3rd May 1954 in Jamaica.", "3rd May 1954", "[DATE_OF_BIRTH]"),
        ("Date of birth: 7/7/71.", "7/7/71", "[DATE_OF_BIRTH]"),
        ("Card 4929 1234 5678 9015 was left.", "4929 1234 5678 9015", "[CARD_NUMBER]"),
        ("Card 5555555555554444 was left.", "5555555555554444", "[CARD_NUMBER]"),
        ("Card 3782 822463 10005 was left.", "3782 822463 10005", "[CARD_NUMBER]"),
        ("See https://www.gofundme.com/f/save-the-club for more.", "https://www.gofundme.com/f/save-the-club", "[URL]"),
        ("Group at facebook.com/groups/eastonswap has 400 members.", "facebook.com/groups/eastonswap", "[URL]"),
        ("Follow @eastonfoodshare for times.", "@eastonfoodshare", "[HANDLE]"),
        ("Mrs Patel came in again.", "Mrs Patel", "[NAME]"),
        ("Spoke to Ahmed Hassan about the damp.", "Ahmed Hassan", "[NAME]"),
        ("My neighbour dave has not left his house.", "dave", "[NAME]"),
        ("I work with a lady called maria who cleans offices.", "maria", "[NAME]"),
        ("john smith keeps coming to the drop-in.", "john smith", "[NAME]"),
        ("Spoke to DANIEL WRIGHT who was evicted.", "DANIEL WRIGHT", "[NAME]"),
    ],
)
def test_each_kind_of_personal_data_is_replaced(text, secret, placeholder):
    out = redact(text)
    assert secret not in out
    assert placeholder in out


def test_title_and_surname_go_as_a_whole():
    assert redact("Mrs Patel came in again today.") == "[NAME] came in again today."
    assert redact("We met Mr O'Connor at the hub.") == "We met [NAME] at the hub."
    assert redact("Later Patel said she was fine.").count("[NAME]") == 1
    # A later mention of a name found once is also removed.
    assert redact("Mrs Patel came in. Patel said the gas is off.") == "[NAME] came in. [NAME] said the gas is off."


@pytest.mark.parametrize(
    "keep",
    ["Lawrence Hill", "Easton", "Ashley", "Lawrence Weston", "Hartcliffe", "Knowle West", "St Pauls", "Stockwood"],
)
def test_area_names_are_kept(keep):
    text = f"Families in {keep} are skipping meals; people from {keep} told us so."
    assert redact(text) == text


@pytest.mark.parametrize(
    "keep",
    ["Citizens Advice", "Universal Credit", "Julian House", "Marie Curie", "Sue Ryder", "St Mungo's", "Barnardo's"],
)
def test_allow_listed_services_are_kept(keep):
    text = f"We referred three families to {keep} this week."
    assert redact(text) == text


def test_a_cue_makes_an_area_name_a_person():
    assert redact("My neighbour Ashley lives in Ashley.") == "My neighbour [NAME] lives in Ashley."


def test_invalid_checksums_are_not_taken_for_nhs_or_card_numbers():
    assert nhs_checksum_ok("9434765919")
    assert not nhs_checksum_ok("9434765918")
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert redact("Ref 9434765918 from the old system.") == "Ref 9434765918 from the old system."
    assert "[CARD_NUMBER]" not in redact("Batch 4111 1111 1111 1112 of the vouchers.")


def test_ordinary_numbers_and_roads_are_not_personal_data():
    text = "The 96 bus was cut; 20 people at the park; the M32 and A38 are jammed; £1,200 of arrears since 2023."
    assert redact(text) == text


@pytest.mark.parametrize("text", ["", "   ", "\t", "😀🙏🏽", "حلیمہ کو کھانے کی ضرورت ہے۔", "食物银行今天关门了"])
def test_bad_or_foreign_input_does_not_crash(text):
    result = redactor().redact(text)
    assert isinstance(result.text, str)
    if not text.strip():
        assert result.text == text


def test_text_that_is_only_personal_data():
    out = redact("Mrs Patel 07700 900123 sarah@example.org BS5 6XY")
    assert re.sub(r"\[(?:NAME|PHONE|EMAIL|POSTCODE)\]", "", out).strip() == ""


def test_very_long_text_is_redacted_throughout():
    filler = "Families in Easton need more help with food and fuel this winter. " * 250
    text = "Call 07700 900123. " + filler + "Email a.b@example.org."
    out = redact(text)
    assert "07700 900123" not in out
    assert "a.b@example.org" not in out
    assert out.count("Easton") == 250


def test_redact_many_keeps_order_and_matches_single_and_forked_runs():
    texts = [f"Mrs Patel called from 07700 900{i:03d} about Easton." for i in range(120)] + ["", "  "]
    one = [r.text for r in redactor().redact_many(texts, batch_size=50)]
    two = [r.text for r in redactor().redact_many(texts, batch_size=50, n_process=2)]
    assert one == two
    assert len(one) == len(texts)
    assert one[0] == "[NAME] called from [PHONE] about Easton."
    assert one[-2:] == ["", "  "]


def test_spacy_layers_multiply_with_numpy_blas_and_give_blis_results():
    # Every layer of the loaded pipeline runs on the numpy-BLAS ops (3x faster than the generic BLIS kernel here),
    # and a pipeline on thinc's default ops finds the same entities.
    from thinc.api import NumpyOps

    nlp = redactor().nlp
    assert {type(node.ops).__name__ for node in _layers(nlp)} == {"NumpyBlasOps"}
    text = "Mrs Patel from Easton rang Barton Hill Settlement on Monday about her son Jamal."
    ours = [(e.text, e.label_) for e in nlp(text).ents]
    for node in _layers(nlp):
        node.ops = NumpyOps()
    try:
        assert [(e.text, e.label_) for e in nlp(text).ents] == ours
    finally:
        use_numpy_blas(nlp)
    assert {type(node.ops).__name__ for node in _layers(nlp)} == {"NumpyBlasOps"}


def _layers(nlp) -> list:
    return [node for _, pipe in nlp.pipeline if getattr(pipe, "model", None) is not None for node in pipe.model.walk()]


def test_forked_redaction_workers_use_one_blas_thread(monkeypatch):
    # Through redact_many's own pool: each chunk reports the BLAS threads of the worker that got it.
    from nlp.redaction import redactor as redactor_module

    monkeypatch.setattr(redactor_module, "_redact_chunk", _blas_threads_per_text)
    texts = [f"Observation {i} from Easton." for i in range(120)]
    threads = list(redactor().redact_many(texts, batch_size=20, n_process=2))
    assert len(threads) == len(texts)
    assert set(threads) == {1}


def _blas_threads_per_text(texts: list[str]) -> list[int]:
    from threadpoolctl import threadpool_info

    counts = {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
    assert len(counts) == 1, counts
    return [counts.pop()] * len(texts)


def test_placeholders_are_exactly_the_issue_lists():
    assert set(PLACEHOLDERS.values()) == {
        "[NAME]", "[PHONE]", "[EMAIL]", "[POSTCODE]", "[ADDRESS]", "[NI_NUMBER]", "[NHS_NUMBER]",
        "[DATE_OF_BIRTH]", "[CARD_NUMBER]", "[URL]", "[VEHICLE_REG]", "[HANDLE]",
    }  # fmt: skip


def test_a_missing_model_names_the_package_and_downloads_nothing():
    with pytest.raises(ModelMissingError, match="en-core-web-sm-nonexistent"):
        load_spacy("en_core_web_sm_nonexistent")


def test_recall_on_the_evaluation_set_does_not_regress():
    records = load_eval(EVAL)
    assert len(records) >= 300
    results = redactor().redact_many([r["text"] for r in records])
    result = score(records, [[(s.start, s.end) for s in r.spans] for r in results])
    report = {t: round(result.recall(t), 3) for t in TYPES} | {"kept": round(result.kept_share(), 3)}
    assert result.recall() >= REACHED["overall"], report
    for kind in STRUCTURED:
        assert result.recall(kind) >= REACHED["structured"], (kind, result.missed)
    assert result.recall("NAME") >= REACHED["NAME"], [m for m in result.missed if m[1] == "NAME"]
    assert result.kept_share() >= REACHED["kept"], result.dropped
    assert result.over_redaction() <= REACHED["over_redaction_max"], result.over_redaction()


def test_a_missing_model_stops_start_up_naming_the_setting_and_the_package(tmp_path):
    from tests.conftest import app_config
    from webapp import create_app
    from webapp.config import ConfigError

    config = app_config(f"sqlite:///{tmp_path}/app.db", tmp_path, COMMINTEL_SPACY_MODEL="en_core_web_sm_nonexistent")
    with pytest.raises(ConfigError, match=r"COMMINTEL_SPACY_MODEL.*en-core-web-sm-nonexistent"):
        create_app(config)
