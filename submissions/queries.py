"""The observations a reader may see, and which text of them, as queries: the rules themselves are
:mod:`webapp.policy`'s (:class:`~webapp.policy.ObservationScope`, :func:`~webapp.policy.can_read_raw_text`); this
module applies them to the observations' columns.

What each audience *counts* (``partnership_observations(partnership, audience)``) and may *quote*
(``quotable_observations``) follows :class:`webapp.disclosure.Audience`; counts are taken with
:func:`tally_columns` so that every one is released as a tally.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, false, func, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from submissions.models import LIVE_STATUSES, Observation, ObservationStatus, SharingLevel
from webapp.disclosure import Audience, Tally
from webapp.extensions import db
from webapp.models import Partnership, User
from webapp.operations import sharing_organisation_ids
from webapp.policy import ObservationScope, can_read_raw_text, observation_scope

SHARED_LEVELS = SharingLevel.at_least(SharingLevel.PARTNERSHIP)


def _shared_with(partnership: Partnership, audience: Audience = Audience.PARTNERSHIP) -> ColumnElement[bool]:
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


def tally_columns() -> tuple[ColumnElement[int], ColumnElement[int | None]]:
    """``count(*), sum(record_key)``: what every released count is made from (webapp.disclosure.Tally.row)."""
    return func.count(Observation.id), func.sum(Observation.record_key)


def visible_observations(user: User | None) -> Select:
    """A select() of the observations ``user`` may see in lists (any page, any filter applies on top)."""
    scope = observation_scope(user)
    return select(Observation) if scope.everything else select(Observation).where(visible(scope))


def visible(scope: ObservationScope) -> ColumnElement[bool]:
    """The observations ``scope`` sees, as a condition on their columns."""
    if not scope.anyone:
        return false()
    if scope.everything:
        return true()
    conditions: list[ColumnElement[bool]] = []
    if scope.own_organisation_ids:
        conditions.append(Observation.organisation_id.in_(sorted(scope.own_organisation_ids)))
    conditions.append(and_(Observation.organisation_id.is_(None), Observation.author_id == scope.user_id))
    if scope.moderated_partnership_ids:
        moderated = sorted(scope.moderated_partnership_ids)
        conditions.append(and_(Observation.organisation_id.is_(None), Observation.partnership_id.in_(moderated)))
    for p in scope.reading_partnerships:
        conditions.append(_shared_with(p))
    return or_(*conditions)


def moderation_queue(user: User) -> Select:
    """Residents' observations waiting for a moderator of their partnership."""
    ids = sorted(observation_scope(user).moderated_partnership_ids)
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
    ids = sorted(observation_scope(user).moderated_partnership_ids)
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
    own = sorted(observation_scope(user).own_organisation_ids)
    mine = and_(Observation.organisation_id.is_(None), Observation.author_id == user.id)
    condition = or_(Observation.organisation_id.in_(own), mine) if own else mine
    return select(Observation).where(condition).order_by(Observation.created_at.desc(), Observation.id.desc())


def raw_readable(user: User) -> ColumnElement[bool]:
    """The observations whose raw text ``user`` may read, as a condition (the rule of
    :func:`webapp.policy.can_read_raw_text`)."""
    scope = observation_scope(user)
    conditions: list[ColumnElement[bool]] = [
        and_(Observation.organisation_id.is_(None), Observation.author_id == scope.user_id)
    ]
    if scope.own_organisation_ids:
        conditions.append(Observation.organisation_id.in_(sorted(scope.own_organisation_ids)))
    if scope.moderated_partnership_ids:
        moderated = sorted(scope.moderated_partnership_ids)
        conditions.append(and_(Observation.organisation_id.is_(None), Observation.partnership_id.in_(moderated)))
    return or_(*conditions)


def display_text(user: User | None, obs: Observation) -> str | None:
    """The text ``user`` may read: raw for its own people and moderators, else the redacted text (or None)."""
    return obs.text if can_read_raw_text(user, obs) else obs.redacted_text


def can_view(user: User | None, obs: Observation) -> bool:
    """Whether ``obs`` is among the observations ``user`` may see (:func:`visible_observations`)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    stmt = visible_observations(user).where(Observation.id == obs.id).with_only_columns(Observation.id)
    return db.session.scalar(stmt) is not None
