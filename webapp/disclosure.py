"""The one disclosure layer: who reads what about observations, and how every count and quote is released.

Everything commintel shows about observations beyond their own organisation — area pages and maps, theme pages,
briefings of both editions and their PDFs, the funders' library, "your observations informed", exports and the API
— releases counts through :func:`release` and picks quotes through :func:`quotes`. It sits on the ground floor: it
knows sharing levels, audiences and partnerships, never the other packages (they pass in what it needs).

Audiences (:class:`Audience`, :func:`audience_for`):

- ORGANISATION: the organisation that submitted an observation (reads it in full, at every level);
- PARTNERSHIP: the partnership's member organisations and convenors (and admins, reading);
- FUNDERS: the partnership's funders;
- PUBLIC: everyone else.

Each audience counts only observations whose sharing level includes it (:attr:`Audience.counted_levels`) and reads
text only where the level *and* the submitter's consent allow (:func:`may_quote`).

Counts (the cell key method of the ONS Census 2021 flexible tables and the ABS TableBuilder, with a threshold):
every observation gets a random record key (0..255) when stored; a released cell is a :class:`Tally` of its
observations — their number and the sum of their keys — and its value is the count plus a perturbation read from
the published perturbation table (:mod:`webapp.ptable`) by (count, key sum mod 256). So the same observations show
the same value on every page, in every period, edition, PDF, export and API answer, and subtracting one table from
another yields only noisy answers. True counts 1..k-1 are shown as "fewer than k" (never 0), zero as 0, and a
released value is never below k. A count is *withheld* ("not shown") when a larger released cell that contains it
is fewer than k: a total of fewer than k is never broken down (otherwise k-1 of its parts, each at least 1, would
pin every part to 1). See docs/disclosure.md.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app, has_app_context

from webapp import ptable as ptables
from webapp.models import OrgKind, PlatformRole

if TYPE_CHECKING:
    from webapp.models import Partnership, User

DEFAULT_K = 5
RECORD_KEYS = ptables.CELL_KEYS


def new_record_key() -> int:
    """A fresh record key for a stored observation (uniform over 0..255, from the operating system's RNG)."""
    return secrets.randbelow(RECORD_KEYS)


# Sharing levels and audiences ----------------------------------------------------------------------------------------


class SharingLevel(enum.StrEnum):
    """Who an organisation shares an observation with, narrowest first: each level includes the ones before it.

    Counts follow the level; text (a quote) needs the submitter's consent as well, and funders read a quote only when
    the level includes them *and* the submitter allowed it in the funders' edition.
    """

    ORG_ONLY = "org_only"
    PARTNERSHIP = "partnership"
    FUNDERS_AGGREGATE = "funders_aggregate"
    PUBLIC_AGGREGATE = "public_aggregate"

    @classmethod
    def LABELS(cls) -> dict[str, str]:  # noqa: N802 - a class-level table, named like a constant
        return {
            "org_only": "My organisation only",
            "partnership": "The partnership (its members and convenors)",
            "funders_aggregate": "The partnership, and its funders as counts",
            "public_aggregate": "The partnership, and funders and the public as counts",
        }

    @property
    def label(self) -> str:
        return type(self).LABELS()[self.value]

    @classmethod
    def at_least(cls, level: SharingLevel) -> list[SharingLevel]:
        members = list(cls)
        return members[members.index(level) :]


# What each sharing level means for each reader, in words (forms, docs, the method note).
SHARING_HELP = (
    "Your organisation always sees its own observations. Members and convenors of the partnership read the text "
    "(with personal details removed) of observations shared with the partnership or wider. Funders and the public "
    "never read the text: they see counts of the observations shared with them — except a quote you also allow in "
    "the funders' edition."
)


class Audience(enum.StrEnum):
    """Who is reading, for one partnership."""

    ORGANISATION = "organisation"
    PARTNERSHIP = "partnership"
    FUNDERS = "funders"
    PUBLIC = "public"

    @property
    def label(self) -> str:
        return {
            "organisation": "your organisation",
            "partnership": "the partnership's members and convenors",
            "funders": "the partnership's funders",
            "public": "the public",
        }[self.value]

    @property
    def counted_levels(self) -> tuple[SharingLevel, ...]:
        """The sharing levels whose observations this audience's counts include."""
        return {
            Audience.ORGANISATION: tuple(SharingLevel),
            Audience.PARTNERSHIP: tuple(SharingLevel.at_least(SharingLevel.PARTNERSHIP)),
            Audience.FUNDERS: tuple(SharingLevel.at_least(SharingLevel.FUNDERS_AGGREGATE)),
            Audience.PUBLIC: (SharingLevel.PUBLIC_AGGREGATE,),
        }[self]

    @property
    def quoted_levels(self) -> tuple[SharingLevel, ...]:
        """The sharing levels whose observations this audience may read as quotes (with consent)."""
        return {
            Audience.ORGANISATION: tuple(SharingLevel),
            Audience.PARTNERSHIP: tuple(SharingLevel.at_least(SharingLevel.PARTNERSHIP)),
            Audience.FUNDERS: tuple(SharingLevel.at_least(SharingLevel.FUNDERS_AGGREGATE)),
            Audience.PUBLIC: (),
        }[self]

    @property
    def needs_funders_consent(self) -> bool:
        """Quotes for this audience need the submitter's "also in the funders' edition" consent."""
        return self is Audience.FUNDERS


# The editions a briefing is published in, and which audience reads which.
EDITIONS = (Audience.PARTNERSHIP, Audience.FUNDERS)


def edition_for(audience: Audience | None) -> Audience | None:
    """The briefing edition an audience reads (None: no edition, the page answers 404)."""
    return audience if audience in EDITIONS else None


def audience_for(user: User | None, partnership: Partnership) -> Audience | None:
    """The audience ``user`` belongs to for ``partnership``; None for nobody signed in (pages answer 404).

    Admins read as the partnership (they administer it); convenors of the partnership and people of its member
    organisations are the partnership; a funder is FUNDERS only for partnerships their organisation funds. Anyone
    else signed in — residents, funders of other partnerships, members of other partnerships — is the public.
    The organisation audience is not a reader of a partnership: it applies to an organisation's own records.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", True):
        return None
    if user.is_admin or user in partnership.convenors:
        return Audience.PARTNERSHIP
    if user.platform_role is not PlatformRole.FUNDER:
        own = {m.organisation_id for m in user.memberships if m.organisation.kind is not OrgKind.FUNDER}
        if own & {o.id for o in partnership.members}:
            return Audience.PARTNERSHIP
    if {m.organisation_id for m in user.memberships} & {o.id for o in partnership.funders}:
        return Audience.FUNDERS
    return Audience.PUBLIC


def may_quote(obs: Any, audience: Audience) -> bool:
    """Whether ``audience`` may read ``obs``'s redacted text as a quote: live, redacted, a level that includes the
    audience, the submitter's consent to quote, and for funders their consent to the funders' edition too.
    (Duck-typed: ``obs`` has sharing_level, consent_to_quote, consent_to_quote_funders, redacted_text, is_live.)"""
    if not obs.consent_to_quote or obs.redacted_text is None or not obs.is_live:
        return False
    if SharingLevel(obs.sharing_level) not in audience.quoted_levels:
        return False
    return bool(obs.consent_to_quote_funders) or not audience.needs_funders_consent


# Tallies: what a count is made from ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """A cell before release: how many observations it counts and the sum of their record keys.

    Tallies add up (a total is the sum of its disjoint parts, key sums included), so they can be counted in SQL
    (``count(*), sum(record_key)`` per group), stored (``as_json``) and pre-aggregated.
    """

    count: int = 0
    key_sum: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.count + other.count, self.key_sum + other.key_sum)

    def __sub__(self, other: Tally) -> Tally:
        if other.count > self.count:
            raise ValueError("a tally cannot lose more observations than it holds")
        return Tally(self.count - other.count, self.key_sum - other.key_sum)

    @classmethod
    def total(cls, tallies: Iterable[Tally]) -> Tally:
        count = key_sum = 0
        for t in tallies:  # plain integers: one Tally made, not one per part (area pages add up thousands)
            count += t.count
            key_sum += t.key_sum
        return cls(count, key_sum)

    @classmethod
    def of(cls, observations: Iterable[Any]) -> Tally:
        """The tally of observation objects (each with a ``record_key``)."""
        count = key_sum = 0
        for o in observations:
            count += 1
            key_sum += int(o.record_key)
        return cls(count, key_sum)

    @classmethod
    def row(cls, count: int | None, key_sum: int | None) -> Tally:
        """From a SQL row's ``count(*)`` and ``sum(record_key)`` (the sum is NULL over no rows)."""
        return cls(int(count or 0), int(key_sum or 0))

    @property
    def cell_key(self) -> int:
        return self.key_sum % RECORD_KEYS

    def as_json(self) -> dict:
        return {"n": self.count, "ks": self.key_sum}

    @classmethod
    def from_json(cls, data: dict | None) -> Tally:
        data = data or {}
        return cls(int(data.get("n", 0)), int(data.get("ks", 0)))


# Releasing counts ---------------------------------------------------------------------------------------------------


def threshold() -> int:
    """k: counts 1..k-1 are shown as "fewer than k" (COMMINTEL_SUPPRESSION_K)."""
    if has_app_context():
        return int(current_app.config["COMMINTEL_SUPPRESSION_K"])
    return DEFAULT_K


_SHIPPED_TABLE: ptables.PerturbationTable | None = None


def table() -> ptables.PerturbationTable:
    """The perturbation table in force (COMMINTEL_PTABLE, read and checked at start-up)."""
    if has_app_context() and current_app.config.get("COMMINTEL_PTABLE_TABLE") is not None:
        return current_app.config["COMMINTEL_PTABLE_TABLE"]
    global _SHIPPED_TABLE
    if _SHIPPED_TABLE is None:
        _SHIPPED_TABLE = ptables.load(ptables.SHIPPED)
    return _SHIPPED_TABLE


def max_perturbation() -> int:
    """D: the largest change the perturbation table makes to a count (published in the method note)."""
    return table().max_perturbation


def released_with() -> dict[str, Any]:
    """What releases are made with now: k and the perturbation table (recorded with every edition)."""
    t = table()
    return {"k": threshold(), "ptable": t.identifier, "D": t.max_perturbation}


class State(enum.StrEnum):
    ZERO = "zero"
    HIDDEN = "hidden"  # 1..k-1: "fewer than k"
    SHOWN = "shown"  # k or more, perturbed
    WITHHELD = "withheld"  # inside a released total of fewer than k: "not shown"


@dataclass(frozen=True)
class Released:
    """A count as it may be shown. ``value`` is the released number (None when hidden or withheld)."""

    state: State
    value: int | None
    k: int

    @property
    def suppressed(self) -> bool:
        """Not shown as a number (fewer than k, or withheld): left out of charts."""
        return self.value is None

    @property
    def hidden(self) -> bool:
        return self.state is State.HIDDEN

    @property
    def withheld(self) -> bool:
        return self.state is State.WITHHELD

    @property
    def perturbed(self) -> bool:
        """The value went through the perturbation table (it may differ from the true count by up to D). Every
        released count of k or more is marked, whether or not its perturbation happened to be 0."""
        return self.state is State.SHOWN

    @property
    def shown_value(self) -> int:
        """The number for sorting and charts: 0 for anything not shown as a number."""
        return self.value or 0

    def __str__(self) -> str:
        if self.state is State.HIDDEN:
            return f"fewer than {self.k}"
        if self.state is State.WITHHELD:
            return "not shown"
        return f"{self.value:,}"

    def as_json(self) -> dict:
        return {
            "value": self.value,
            "display": str(self),
            "suppressed": self.suppressed,
            "withheld": self.withheld,
            "perturbed": self.perturbed,
        }


def release(tally: Tally, within: Iterable[Tally] = ()) -> Released:
    """The released form of a cell: 0, "fewer than k", its perturbed count, or "not shown".

    ``within``: the tallies of larger released cells that contain this one (its table's totals, the same figure for
    the area above, a wider period). When one of them is fewer than k, this cell is withheld whatever its count
    (zero included, else "not shown" would give away which parts are empty): a small total is not broken down.
    """
    k = threshold()
    if tally.count < 0:
        raise ValueError("a count cannot be negative")
    if tally.count < k and any(0 < t.count < k for t in within):
        return Released(State.WITHHELD, None, k)
    if tally.count == 0:
        return Released(State.ZERO, 0, k)
    if tally.count < k:
        return Released(State.HIDDEN, None, k)
    value = tally.count + table().perturbation(tally.count, tally.cell_key)
    return Released(State.SHOWN, value, k)


def release_groups(tallies: Iterable[Tally], within: Iterable[Tally] = ()) -> list[Released]:
    """The released forms of a table of groups whose parts are published one by one elsewhere (the deprivation
    deciles and ward bands of a theme, made of the LSOAs and wards its theme map shows): each group as ``release``
    gives it, unless one group is fewer than k — then every group is withheld.

    A group shown "fewer than k" says it holds at most k-1 observations; its parts, each shown "fewer than k" on
    another page, hold at least 1 each, so a group of k-1 parts pins every one of them to 1 (the convenor's attack
    on the demo found exactly that: four wards in one band). ``release``'s rule (a small total is not broken down)
    cannot see the other page, so the small group itself goes. Withholding all the groups, zeros and large ones
    too, leaves only "at least one group is small", which no count can be worked out from.
    """
    groups = list(tallies)
    within = list(within)
    released = [release(t, within) for t in groups]
    if any(r.hidden for r in released):
        return [Released(State.WITHHELD, None, threshold()) for _ in groups]
    return released


def method_note() -> str:
    """The sentence every page with counts carries (and the PDFs, exports and API answers)."""
    k, d = threshold(), max_perturbation()
    return (
        f"Counts are protected: each is shown with a small random change of at most {d} either way, the same change "
        f"wherever the same observations are counted; counts below {k} are shown as “fewer than {k}” and a total of "
        f"fewer than {k} is not broken down. Totals are protected separately and may not add up."
    )


def method_json() -> dict[str, Any]:
    return {**released_with(), "note": method_note()}


# Quotes and attribution ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    observation_id: int
    text: str
    attribution: str


def attribution(obs: Any, partnership: Partnership | None) -> str:
    """Who said it, never narrowing below k organisations: "a <kind>" only when at least k member organisations of
    the partnership are of that kind, else "a partner organisation"; residents are "a resident"."""
    if obs.organisation_id is None:
        return "a resident"
    kind = obs.organisation.kind if obs.organisation is not None else None
    if kind is None or partnership is None:
        return "a partner organisation"
    same_kind = sum(1 for o in partnership.members if o.kind == kind)
    return f"a {kind.label.lower()}" if same_kind >= threshold() else "a partner organisation"


def quotes(observations: Iterable[Any], audience: Audience, partnership: Partnership | None) -> list[Quote]:
    """The observations ``audience`` may read as quotes (level, consent, redacted, live), in the order given, with
    their redacted text and an attribution that never narrows below k organisations."""
    return [Quote(o.id, o.redacted_text, attribution(o, partnership)) for o in observations if may_quote(o, audience)]
