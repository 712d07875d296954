"""Who sees which observations, and which text of them: the sharing rules in one place.

- Members of the submitting organisation see all of its observations, with the raw text.
- A resident sees the observations they submitted, with the raw text.
- Moderators (the partnership's convenors, and admins) see residents' observations of their partnerships with the raw
  text, so they can moderate them; and partnership-level observations of sharing organisations as below.
- Convenors, and members of organisations that share with the partnership, see the partnership's *live, redacted*
  observations at partnership level or wider from organisations in ``sharing_organisation_ids(partnership)``, and
  residents' approved, redacted ones: with the redacted text only.
- Funders never see observation-level data (only aggregate counts, released through :mod:`webapp.disclosure`, and
  quotes its rules allow).
- Until an observation is redacted it is shown to nobody but its organisation (or resident author) and moderators.

What each audience *counts* (``partnership_observations(partnership, audience)``) and may *quote*
(``quotable_observations``) follows :class:`webapp.disclosure.Audience`; counts are taken with
:func:`tally_columns` so that every one is released as a tally.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from submissions.models import LIVE_STATUSES, Observation, ObservationStatus, SharingLevel
from webapp.disclosure import Audience, Tally
from webapp.extensions import db
from webapp.models import OrgKind, Partnership, PlatformRole, User
from webapp.operations import sharing_organisation_ids

SHARED_LEVELS = SharingLevel.at_least(SharingLevel.PARTNERSHIP)


def _shared_with(partnership: Partnership, audience: Audience = Audience.PARTNERSHIP):
    """Condition: a live, redacted observation of ``partnership`` that ``audience`` counts (the partnership's people
    may read it as well)."""
    sharing = sharing_organisation_ids(partnership)
    levels = [level for level in SHARED_LEVELS if level in audience.counted_levels]
    from_orgs = and_(
        Observation.organisation_id.in_(sharing) if sharing else false(),
        Observation.sharing_level.in_(levels) if levels else false(),
        Observation.status.in_(LIVE_STATUSES),
    )
    from_residents = and_(
        Observation.organisation_id.is_(None),
        Observation.status == ObservationStatus.APPROVED,
        Observation.sharing_level.in_(levels) if levels else false(),
    )
    return and_(
        Observation.partnership_id == partnership.id,
        Observation.redacted_text.is_not(None),
        or_(from_orgs, from_residents),
    )


def partnership_observations(partnership: Partnership, audience: Audience = Audience.PARTNERSHIP) -> Select:
    """The approved (live), redacted observations that feed a partnership's themes and counts, as ``audience``
    counts them (its sharing levels only): the partnership's people by default."""
    return select(Observation).where(_shared_with(partnership, audience)).order_by(Observation.id)


def quotable_observations(partnership: Partnership, audience: Audience) -> Select:
    """The partnership's observations ``audience`` may read as quotes (webapp.disclosure.may_quote, in SQL)."""
    levels = list(audience.quoted_levels)
    stmt = partnership_observations(partnership, audience).where(
        Observation.consent_to_quote.is_(True),
        Observation.sharing_level.in_(levels) if levels else false(),
    )
    if audience.needs_funders_consent:
        stmt = stmt.where(Observation.consent_to_quote_funders.is_(True))
    return stmt


def tally_columns():
    """``count(*), sum(record_key)``: what every released count is made from (webapp.disclosure.Tally.row)."""
    return func.count(Observation.id), func.sum(Observation.record_key)


def _user_org_ids(user: User) -> set[int]:
    return {m.organisation_id for m in user.memberships if m.organisation.kind is not OrgKind.FUNDER}


def _partnerships_of(user: User) -> list[Partnership]:
    """Partnerships whose shared observations ``user`` may read: as convenor, or through a sharing member org."""
    partnerships = list(db.session.scalars(select(Partnership)))
    own = _user_org_ids(user)
    result = []
    for p in partnerships:
        if user in p.convenors or (own & sharing_organisation_ids(p)):
            result.append(p)
    return result


def moderated_partnership_ids(user: User) -> set[int]:
    """Partnerships whose residents' observations ``user`` moderates (all of them for admins)."""
    if user.is_admin:
        return set(db.session.scalars(select(Partnership.id)))
    if user.platform_role is PlatformRole.CONVENOR:
        return {p.id for p in db.session.scalars(select(Partnership)) if user in p.convenors}
    return set()


def visible_observations(user: User | None) -> Select:
    """A select() of the observations ``user`` may see in lists (any page, any filter applies on top)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return select(Observation).where(false())
    if user.is_admin:
        return select(Observation)
    conditions = []
    own = _user_org_ids(user)
    if own:
        conditions.append(Observation.organisation_id.in_(own))
    conditions.append(and_(Observation.organisation_id.is_(None), Observation.author_id == user.id))
    moderated = moderated_partnership_ids(user)
    if moderated:
        conditions.append(and_(Observation.organisation_id.is_(None), Observation.partnership_id.in_(moderated)))
    for p in _partnerships_of(user):
        conditions.append(_shared_with(p))
    return select(Observation).where(or_(*conditions))


def moderation_queue(user: User) -> Select:
    """Residents' observations waiting for a moderator of their partnership."""
    ids = moderated_partnership_ids(user)
    return (
        select(Observation)
        .where(
            Observation.status == ObservationStatus.NEEDS_MODERATION,
            Observation.partnership_id.in_(ids) if ids else false(),
        )
        .order_by(Observation.created_at)
    )


def unconfirmed_places(user: User) -> Select:
    """Approved residents' observations of the partnerships ``user`` moderates whose place was suggested by place
    detection and not yet confirmed by a person (no area set): a convenor confirms or sets it."""
    ids = moderated_partnership_ids(user)
    return (
        select(Observation)
        .where(
            Observation.status == ObservationStatus.APPROVED,
            Observation.organisation_id.is_(None),
            Observation.area_id.is_(None),
            Observation.suggested_area_id.is_not(None),
            Observation.partnership_id.in_(ids) if ids else false(),
        )
        .order_by(Observation.created_at)
    )


def moderation_tally(user: User) -> Tally:
    """The residents' observations waiting for ``user`` to moderate, as a tally to release (their home page)."""
    waiting = moderation_queue(user).order_by(None).subquery()
    count, key_sum = db.session.execute(select(func.count(), func.sum(waiting.c.record_key))).one()
    return Tally.row(count, key_sum)


def own_observations(user: User) -> Select:
    """The observations ``user`` submitted for: their (non-funder) organisations' ones, or as a resident their own;
    newest first."""
    own = _user_org_ids(user)
    mine = and_(Observation.organisation_id.is_(None), Observation.author_id == user.id)
    condition = or_(Observation.organisation_id.in_(own), mine) if own else mine
    return select(Observation).where(condition).order_by(Observation.created_at.desc(), Observation.id.desc())


def can_see_raw(user: User | None, obs: Observation) -> bool:
    """Whether ``user`` may read the raw (unredacted) text of ``obs``."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if obs.organisation_id is not None:
        return obs.organisation_id in _user_org_ids(user)
    if obs.author_id is not None and obs.author_id == user.id:
        return True
    return obs.partnership_id in moderated_partnership_ids(user)


def raw_readable(user: User) -> ColumnElement[bool]:
    """The observations whose raw text ``user`` may read, as a condition (the same rule as :func:`can_see_raw`)."""
    conditions = [and_(Observation.organisation_id.is_(None), Observation.author_id == user.id)]
    own = _user_org_ids(user)
    if own:
        conditions.append(Observation.organisation_id.in_(own))
    moderated = moderated_partnership_ids(user)
    if moderated:
        conditions.append(and_(Observation.organisation_id.is_(None), Observation.partnership_id.in_(moderated)))
    return or_(*conditions)


def display_text(user: User | None, obs: Observation) -> str | None:
    """The text ``user`` may read: raw for its own people and moderators, else the redacted text (or None)."""
    return obs.text if can_see_raw(user, obs) else obs.redacted_text


def can_view(user: User | None, obs: Observation) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    stmt = visible_observations(user).where(Observation.id == obs.id).with_only_columns(Observation.id)
    return db.session.scalar(stmt) is not None
