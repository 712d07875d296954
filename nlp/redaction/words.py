"""Word lists the name rules read: given names, surnames, common English words, the organisations and services to
keep (all under ``nlp/data``), and the small hand-written sets (names that are also words, months, words that are
never a name). Pure: no Flask, no database."""

from __future__ import annotations

from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"


def _read_words(name: str) -> list[str]:
    words: list[str] = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            words.extend(line.split())
    return words


@cache
def first_names() -> frozenset[str]:
    """Given names: the packaged gazetteer (``names/given_names.txt``, built from openly licensed data by
    ``nlp/data/build_names.py``; sources and licences in ``names/ATTRIBUTION.md``) and the hand-written list."""
    return frozenset(_read_words("first_names.txt")) | frozenset(_read_words("names/given_names.txt"))


@cache
def hand_written_names() -> frozenset[str]:
    return frozenset(_read_words("first_names.txt"))


@cache
def surnames() -> frozenset[str]:
    """Surnames (``names/surnames.txt``): a capitalised one mid-sentence, or one after a given name, is a name."""
    return frozenset(_read_words("names/surnames.txt"))


@cache
def common_words() -> frozenset[str]:
    """English words people write in lower case as ordinary words (``names/common_words.txt``). A name that is
    also one of these ("will", "rose", "grace") needs the context to say a person is meant."""
    return frozenset(_read_words("names/common_words.txt"))


@cache
def default_keep_list() -> tuple[str, ...]:
    lines = (DATA / "keep_services.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def words_of(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Given names that are also ordinary words: taken as names only with a capital, mid-sentence, or after a cue.
AMBIGUOUS_NAMES = words_of(
    "amber bill billie dawn dean destiny faith frank grace guy hazel holly hope iris ivy jack jade jay jean joy "
    "june lily mark max may mercy mo penny pete precious rob robin rose ruby sally sky stella sue tara ted will "
    "april august violet chase ray ash art bob pat don ken lee sam tim ed jan mike mina nancy norma joe kim dev "
    "rana asha ali diana eve ella sasha ashley morgan jordan glen jo ron tom vera carol ann"
)
MONTHS = words_of("january february march april may june july august september october november december")

# Words that are never a name even when capitalised or in a name-ish position.
NOT_NAMES = (
    words_of(
        "i i'm im me my mine you your he him his she her hers they them their we us our it its this that these those "
        "the a an and or but if then so not no yes ok okay please thanks thank hi hello dear mr mrs ms miss dr monday "
        "tuesday wednesday thursday friday saturday sunday today tomorrow yesterday tonight morning evening christmas "
        "easter ramadan eid diwali police council ambulance gp nhs school college doctor doctors nurse social worker "
        "services service team staff back round again about up out in on at to for from with by after before when who "
        "which what where why how said says told asked came come went go goes got gets get has have had is was were "
        "are be been being would can could should might must may also only just even still again all any some "
        "every each both many much more most mum dad son daughter brother sister husband wife partner neighbour "
        "friend family kids children baby one two three four five six seven eight nine ten someone somebody everyone "
        "anyone nobody email e-mail postcode phone mobile text call ring contact address landline dob nino "
        "website card refer referred referral client patient tenant resident volunteer caller landlord landlady "
        "twitter facebook instagram tiktok whatsapp youtube snapchat covid covid-19 coronavirus o.k sir madam asap pls "
        "plz tmrw tmw thx ty lol omg btw fyi xx xxx mondays tuesdays wednesdays thursdays fridays saturdays sundays "
        "weekends weekdays"
    )
    | MONTHS
)
