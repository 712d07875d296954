"""Access control in one place: which role may reach which route, and which records.

Every endpoint of the app must have a rule in :data:`POLICY`; the app refuses (403) any endpoint without one, and
``tests/webapp/test_policy.py`` walks every rule of ``app.url_map`` for every role and checks the declared outcome.
Record-level checks (an organisation's own pages, a job's owner, an observation's raw text) are the ``can_*``
functions and :class:`ObservationScope` below; the views call them and answer 404 so that a refused record is
indistinguishable from a missing one, and the domain packages' queries apply them to their columns
(``submissions.queries.visible_observations``). A new access rule goes here, never into a view or a query.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import OrgKind, OrgRole, Partnership, PlatformRole
from webapp.operations import sharing_organisation_ids

if TYPE_CHECKING:
    from webapp.models import Job, Organisation, User


class Role(enum.StrEnum):
    ANONYMOUS = "anonymous"
    RESIDENT = "resident"
    MEMBER = "member"
    ORG_ADMIN = "org_admin"
    CONVENOR = "convenor"
    FUNDER = "funder"
    ADMIN = "admin"


SIGNED_IN = frozenset(Role) - {Role.ANONYMOUS}
EVERYONE = frozenset(Role)
ORG_PEOPLE = frozenset({Role.MEMBER, Role.ORG_ADMIN, Role.CONVENOR, Role.FUNDER, Role.ADMIN})
# People who submit observations: organisation members and admins, and residents.
SUBMITTERS = frozenset({Role.RESIDENT, Role.MEMBER, Role.ORG_ADMIN})


@dataclass(frozen=True)
class Rule:
    """Who may reach an endpoint. ``records`` says in words which records a permitted role then sees."""

    allow: frozenset[Role]
    records: str = ""

    @property
    def public(self) -> bool:
        return Role.ANONYMOUS in self.allow


def rule(*roles: Role, records: str = "") -> Rule:
    return Rule(frozenset(roles), records)


def public() -> Rule:
    return Rule(EVERYONE)


def signed_in(records: str = "") -> Rule:
    return Rule(SIGNED_IN, records)


POLICY: dict[str, Rule] = {
    "static": public(),
    "main.index": public(),
    "main.healthz": public(),
    "main.home": signed_in(),
    "auth.login": public(),
    # Signing out works for anyone: a session that already ended is simply cleared.
    "auth.logout": public(),
    "auth.forgot_password": public(),
    "auth.reset_password": public(),
    "auth.accept_invitation": public(),
    # The second step of signing in: open only to someone half-way through it (their password was right), so the
    # routes themselves check that state; anyone else is sent to the sign-in page.
    "auth.mfa_verify": public(),
    "auth.mfa_setup": Rule(EVERYONE, "half-way through signing in, or signed in without two-step sign-in yet"),
    "auth.account": signed_in("their own account"),
    "auth.confirm": signed_in("their own password"),
    "auth.change_password": signed_in("their own password"),
    "auth.recovery_codes": signed_in("their own codes; after confirming the password"),
    "auth.mfa_disable": signed_in("their own; not for roles that require it; after confirming the password"),
    "auth.sessions": signed_in("their own sessions"),
    "auth.end_session": signed_in("their own sessions, after confirming the password; else back to the list"),
    "auth.end_all_sessions": signed_in("their own sessions, after confirming the password"),
    "auth.forget_devices": signed_in("their own devices, after confirming the password"),
    "areas.index": signed_in(),
    "areas.detail": signed_in(),
    "areas.gaps": signed_in(),
    "areas.choose_map": Rule(EVERYONE, "ward boundaries only (the public form uses it too)"),
    "orgs.index": Rule(
        ORG_PEOPLE, "admins see every organisation; convenors those of partnerships they convene; others their own"
    ),
    "orgs.detail": Rule(
        ORG_PEOPLE, "admins: any; convenors: organisations of partnerships they convene; others: their own; else 404"
    ),
    "orgs.invite": rule(Role.ORG_ADMIN, Role.ADMIN, records="organisation admins: their own organisation, else 404"),
    "orgs.create": rule(Role.ADMIN),
    "partnerships.index": Rule(ORG_PEOPLE, "admins see all; others the partnerships they belong to"),
    "partnerships.detail": Rule(ORG_PEOPLE, "admins: any; others: partnerships they belong to, else 404"),
    "partnerships.public_form": rule(Role.CONVENOR, Role.ADMIN, records="its convenors and admins, else 404"),
    "partnerships.create": rule(Role.ADMIN),
    "partnerships.add": rule(Role.CONVENOR, Role.ADMIN, records="admins: anything; its convenors: areas, members"),
    "admin.users": rule(Role.ADMIN),
    "indicator_admin.index": rule(Role.ADMIN),
    "indicator_admin.preview": rule(Role.ADMIN),
    "indicator_admin.store": rule(Role.ADMIN),
    "indicator_admin.discard": rule(Role.ADMIN),
    "admin.user": rule(Role.ADMIN),
    "admin.reset_mfa": rule(Role.ADMIN),
    "admin.end_sessions": rule(Role.ADMIN),
    "admin.audit": rule(Role.ADMIN),
    "admin.invite": rule(Role.ADMIN),
    "jobs.status": signed_in("the person who started the job, and admins; else 404"),
    "api.index": public(),
    # submissions ---------------------------------------------------------------------------------------------------
    "observations.index": Rule(
        SUBMITTERS | {Role.CONVENOR, Role.ADMIN},
        "own organisation's (raw); own as resident; shared, redacted ones of their partnerships; funders none",
    ),
    "observations.detail": Rule(SUBMITTERS | {Role.CONVENOR, Role.ADMIN}, "those in the list; else 404"),
    "observations.create": Rule(SUBMITTERS, "for their own non-funder organisation, or as a resident"),
    "observations.edit": Rule(SUBMITTERS, "their organisation's, or their own as a resident; else 404"),
    "observations.withdraw": Rule(SUBMITTERS, "their organisation's, or their own as a resident; else 404"),
    "observations.confirm_area": Rule(SUBMITTERS, "their organisation's, or their own as a resident; else 404"),
    "observations.erase": rule(Role.ORG_ADMIN, Role.ADMIN, records="org admins: their organisation's; else 404"),
    "observations.moderation": rule(Role.CONVENOR, Role.ADMIN, records="residents' observations of their partnerships"),
    "observations.moderate": rule(Role.CONVENOR, Role.ADMIN, records="residents' ones of their partnerships; else 404"),
    "observations.moderate_area": rule(
        Role.CONVENOR, Role.ADMIN, records="residents' ones of their partnerships; else 404"
    ),
    "observations.moderate_text": rule(
        Role.CONVENOR, Role.ADMIN, records="residents' ones of their partnerships; else 404"
    ),
    "observations.export": rule(Role.MEMBER, Role.ORG_ADMIN, records="their own organisation's only"),
    "observations.import_upload": rule(Role.MEMBER, Role.ORG_ADMIN, records="into their own organisation"),
    "observations.import_template": rule(Role.MEMBER, Role.ORG_ADMIN, records="a file to fill in, no records"),
    "observations.import_mapping": rule(Role.MEMBER, Role.ORG_ADMIN, records="their own uploads; else 404"),
    "observations.import_preview": rule(Role.MEMBER, Role.ORG_ADMIN, records="their own uploads; else 404"),
    "observations.import_skipped": rule(Role.MEMBER, Role.ORG_ADMIN, records="their own uploads; else 404"),
    "observations.tokens": rule(Role.ORG_ADMIN, records="tokens of organisations they administer"),
    "observations.revoke_token": rule(Role.ORG_ADMIN, records="tokens of organisations they administer; else 404"),
    "observations.rotate_token": rule(Role.ORG_ADMIN, records="tokens of organisations they administer; else 404"),
    "observations.categories": signed_in(),
    "observations.category_create": rule(Role.ADMIN),
    "public_observations.new": Rule(EVERYONE, "partnerships whose public form is switched on; else 404"),
    "public_observations.thanks": Rule(EVERYONE, "partnerships whose public form is switched on; else 404"),
    # The API authenticates each call with an organisation's bearer token (401 without), never the session.
    "observations_api.create": Rule(EVERYONE, "the token's organisation; 401 without a valid token"),
    "observations_api.list": Rule(EVERYONE, "the token's organisation's own observations; 401 without a token"),
    "observations_api.openapi": public(),
    # nlp -----------------------------------------------------------------------------------------------------------
    "themes.index": rule(Role.CONVENOR, Role.ADMIN, records="partnerships they convene (admins: all)"),
    "themes.partnership": rule(Role.CONVENOR, Role.ADMIN, records="partnerships they convene; else 404"),
    "themes.detail": rule(Role.CONVENOR, Role.ADMIN, records="themes of partnerships they convene; else 404"),
    "themes.rename": rule(Role.CONVENOR, Role.ADMIN, records="themes of partnerships they convene; else 404"),
    "themes.merge": rule(Role.CONVENOR, Role.ADMIN, records="themes of partnerships they convene; else 404"),
    "themes.hide": rule(Role.CONVENOR, Role.ADMIN, records="themes of partnerships they convene; else 404"),
    "themes.move": rule(Role.CONVENOR, Role.ADMIN, records="themes of partnerships they convene; else 404"),
    "themes.split": rule(Role.CONVENOR, Role.ADMIN, records="themes of partnerships they convene; else 404"),
    "themes.sign_off": rule(Role.CONVENOR, Role.ADMIN, records="themes of partnerships they convene; else 404"),
    "themes.refresh": rule(Role.CONVENOR, Role.ADMIN, records="partnerships they convene; else 404"),
    # indicators ----------------------------------------------------------------------------------------------------
    "areas.theme_deprivation": rule(Role.CONVENOR, Role.ADMIN, records="themes of partnerships they convene; else 404"),
    "grants.index": rule(Role.CONVENOR, Role.FUNDER, Role.ADMIN, records="partnerships they convene or fund; else 404"),
    "grants.export": rule(Role.CONVENOR, Role.FUNDER, Role.ADMIN, records="as grants.index"),
    "grants.upload": rule(Role.CONVENOR, Role.ADMIN, records="into partnerships they convene"),
    "grants.remove": rule(Role.CONVENOR, Role.ADMIN, records="files of partnerships they convene; else 404"),
    "neighbourhood_index.list": Rule(ORG_PEOPLE, "partnerships they belong to, fund or convene; drafts: convenors"),
    "neighbourhood_index.detail": Rule(
        ORG_PEOPLE, "published versions of partnerships they belong to or fund; drafts: its convenors; else 404"
    ),
    "neighbourhood_index.new": rule(Role.CONVENOR, Role.ADMIN, records="partnerships they convene; else 404"),
    "neighbourhood_index.edit": rule(Role.CONVENOR, Role.ADMIN, records="indexes of partnerships they convene"),
    "neighbourhood_index.publish": rule(
        Role.CONVENOR, Role.ADMIN, records="indexes of partnerships they convene; else 404"
    ),
    # convening -----------------------------------------------------------------------------------------------------
    "convening.workspace": Rule(ORG_PEOPLE, "partnerships they belong to (can_view_partnership); else 404"),
    "convening.publish_agreement": rule(Role.CONVENOR, Role.ADMIN, records="the partnership's convenors; else 404"),
    "convening.accept_agreement": rule(Role.ORG_ADMIN, records="for their own member organisation only"),
    "convening.new_session": rule(Role.CONVENOR, Role.ADMIN, records="the partnership's convenors; else 404"),
    "convening.session": rule(Role.CONVENOR, Role.ADMIN, records="sessions of partnerships they convene; else 404"),
    "convening.compose": rule(Role.CONVENOR, Role.ADMIN, records="sessions of partnerships they convene; else 404"),
    "convening.composer": rule(Role.CONVENOR, Role.ADMIN, records="sessions of partnerships they convene; else 404"),
    "convening.preview": rule(Role.CONVENOR, Role.ADMIN, records="sessions of partnerships they convene; else 404"),
    "convening.edit_section": rule(Role.CONVENOR, Role.ADMIN, records="briefings they convene; else 404"),
    "convening.add_section": rule(Role.CONVENOR, Role.ADMIN, records="briefings they convene; else 404"),
    "convening.publish": rule(Role.CONVENOR, Role.ADMIN, records="briefings they convene; else 404"),
    "convening.approve_all": rule(Role.CONVENOR, Role.ADMIN, records="briefings they convene; else 404"),
    "convening.save_notes": rule(Role.CONVENOR, Role.ADMIN, records="sessions they convene; else 404"),
    "convening.add_decision": rule(Role.CONVENOR, Role.ADMIN, records="sessions they convene; else 404"),
    "convening.add_action": rule(Role.CONVENOR, Role.ADMIN, records="sessions they convene; else 404"),
    "convening.action_status": rule(Role.CONVENOR, Role.ADMIN, records="actions of sessions they convene; else 404"),
    "convening.usage": rule(Role.CONVENOR, Role.ADMIN, records="briefings they convene; else 404"),
    "convening.library": Rule(ORG_PEOPLE, "published briefings of partnerships they fund, belong to or convene"),
    "convening.version": Rule(ORG_PEOPLE, "published versions readable per can_read_briefings; withdrawn: 404"),
    "convening.version_pdf": Rule(ORG_PEOPLE, "as convening.version; no PDF served for a withdrawn version"),
    # Funders contribute no observations: the page would only say so, so it is not theirs (nor in their navigation).
    "convening.informed": rule(Role.MEMBER, Role.ORG_ADMIN, records="their own organisations' contributions"),
    "convening.sessions": rule(Role.CONVENOR, Role.ADMIN, records="partnerships they convene (admins: all)"),
    # The organisation network (convening/network_views.py). Funders see it only as the briefing's funders' edition.
    "network.index": rule(Role.CONVENOR, Role.ADMIN, records="the first partnership they convene (admins: any)"),
    "network.partnership": rule(Role.CONVENOR, Role.ADMIN, records="partnerships they convene; else 404"),
    "network.invite": rule(Role.CONVENOR, Role.ADMIN, records="member organisations of partnerships they convene"),
    "network.mine": rule(Role.MEMBER, Role.ORG_ADMIN, records="their own organisations' themes and wards"),
    "network.naming": rule(Role.ORG_ADMIN, records="organisations they administer"),
}


def roles_of(user: User | None) -> frozenset[Role]:
    """The roles a user holds: their platform role plus their roles in organisations."""
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset({Role.ANONYMOUS})
    roles: set[Role] = set()
    if user.platform_role is not None:
        roles.add(Role(user.platform_role.value))
    if user.platform_role is PlatformRole.FUNDER:
        # A funder's membership of its funder organisation says whose money it is; it does not make the funder an
        # organisation member (which would open observation-level pages and show them in the navigation).
        return frozenset(roles)
    for m in user.memberships:
        roles.add(Role.ORG_ADMIN if m.role is OrgRole.ADMIN else Role.MEMBER)
    return frozenset(roles)


class Decision(enum.Enum):
    ALLOW = "allow"
    SIGN_IN = "sign_in"
    FORBID = "forbid"


def decide(endpoint: str | None, user: User | None) -> Decision:
    """What the app does with a request for ``endpoint`` by ``user``. Endpoints without a rule are forbidden."""
    if endpoint is None:  # no route matched: the 404 handler answers
        return Decision.ALLOW
    policy_rule = POLICY.get(endpoint)
    roles = roles_of(user)
    if policy_rule is not None and roles & policy_rule.allow:
        return Decision.ALLOW
    if Role.ANONYMOUS in roles:
        return Decision.SIGN_IN
    return Decision.FORBID


# Record-level rules ----------------------------------------------------------------------------------------------


def sees_everything(user: User) -> bool:
    """Only administrators see every organisation and person (least privilege: ASVS 8.2.2, 8.4.1)."""
    return user.is_admin


def convened_organisations(user: User) -> set[Organisation]:
    """Member and funder organisations of the partnerships ``user`` convenes (none for anyone else)."""
    if user.platform_role is not PlatformRole.CONVENOR:
        return set()
    return {org for p in user.convened for org in [*p.members, *p.funders]}


def can_view_org(user: User, org: Organisation) -> bool:
    """Admins: any; people of the organisation; convenors: organisations of the partnerships they convene."""
    return sees_everything(user) or user.org_role(org) is not None or org in convened_organisations(user)


def can_invite_to_org(user: User, org: Organisation) -> bool:
    return user.is_admin or user.org_role(org) is OrgRole.ADMIN


def can_view_partnership(user: User, partnership: Partnership) -> bool:
    if user.is_admin or user in partnership.convenors:
        return True
    org_ids = {m.organisation_id for m in user.memberships}
    return any(o.id in org_ids for o in [*partnership.members, *partnership.funders])


def can_view_job(user: User, job: Job) -> bool:
    return user.is_admin or job.created_by_id == user.id


# Observations (submissions package; duck-typed: an observation has organisation_id, author_id, partnership_id and
# partnership). Who sees which observations, and which text of them:
#
# - Members of the submitting organisation see all of its observations, with the raw text.
# - A resident sees the observations they submitted, with the raw text.
# - Moderators (the partnership's convenors, and admins) see residents' observations of their partnerships with the
#   raw text, so they can moderate them; and partnership-level observations of sharing organisations as below.
# - Convenors, and members of organisations that share with the partnership (webapp.operations.
#   sharing_organisation_ids), see the partnership's *live, redacted* observations at partnership level or wider,
#   and residents' approved, redacted ones: with the redacted text only.
# - Administrators see every observation (raw text as above: their own organisations', and as moderators).
# - Funders never see observation-level data (only aggregate counts, released through webapp.disclosure, and quotes
#   its rules allow): roles_of gives them no member role, so no observation page is theirs.
# - Until an observation is redacted it is shown to nobody but its organisation (or resident author) and moderators.


class ObservationScope:
    """The observations a reader may see, over their account, memberships and roles (each part worked out when first
    asked). ``submissions.queries`` turns it into conditions on its columns; :func:`can_read_raw_text` answers for
    one observation."""

    def __init__(self, user: User | None) -> None:
        self._user = user if user is not None and getattr(user, "is_authenticated", False) else None

    @property
    def anyone(self) -> bool:
        """False for the anonymous, who see no observation."""
        return self._user is not None

    @property
    def user_id(self) -> int | None:
        return None if self._user is None else self._user.id

    @property
    def everything(self) -> bool:
        """Administrators see every observation."""
        return self._user is not None and self._user.is_admin

    @cached_property
    def own_organisation_ids(self) -> frozenset[int]:
        """Organisations whose observations the reader sees in full (raw text): their own, funders' excepted."""
        if self._user is None:
            return frozenset()
        return frozenset(m.organisation_id for m in self._user.memberships if m.organisation.kind is not OrgKind.FUNDER)

    @cached_property
    def moderated_partnership_ids(self) -> frozenset[int]:
        """Partnerships whose residents' observations the reader moderates (raw text): all of them for admins,
        those they convene for convenors."""
        user = self._user
        if user is None:
            return frozenset()
        if user.is_admin:
            return frozenset(db.session.scalars(select(Partnership.id)))
        if user.platform_role is PlatformRole.CONVENOR:
            return frozenset(p.id for p in db.session.scalars(select(Partnership)) if user in p.convenors)
        return frozenset()

    @cached_property
    def reading_partnerships(self) -> tuple[Partnership, ...]:
        """Partnerships whose shared, redacted observations the reader sees: as convenor, or through a member
        organisation that shares with it."""
        user = self._user
        if user is None:
            return ()
        own = self.own_organisation_ids
        return tuple(
            p
            for p in db.session.scalars(select(Partnership))
            if user in p.convenors or (own & sharing_organisation_ids(p))
        )

    def reads_raw_text(self, obs: Any) -> bool:
        """Whether the reader may read the raw (unredacted) text of ``obs``."""
        if self._user is None:
            return False
        if obs.organisation_id is not None:
            return obs.organisation_id in self.own_organisation_ids
        if obs.author_id is not None and obs.author_id == self._user.id:
            return True
        return obs.partnership_id in self.moderated_partnership_ids


def observation_scope(user: User | None) -> ObservationScope:
    """The observations ``user`` may see (see :class:`ObservationScope`)."""
    return ObservationScope(user)


def can_read_raw_text(user: User | None, obs: Any) -> bool:
    """Whether ``user`` may read the raw (unredacted) text of ``obs``; everyone else reads the redacted text."""
    return ObservationScope(user).reads_raw_text(obs)


def offers_own_organisation_level(user: User) -> bool:
    """Whether the sharing level "My organisation only" means something to ``user`` (a list filter, a form
    choice): to people of a (non-funder) organisation, convenors and admins."""
    return bool(ObservationScope(user).own_organisation_ids) or bool(roles_of(user) & {Role.ADMIN, Role.CONVENOR})


def can_edit_observation(user: User, obs: Any) -> bool:
    """Its organisation's members, or the resident who wrote it."""
    if obs.organisation_id is not None:
        return any(m.organisation_id == obs.organisation_id for m in user.memberships)
    return obs.author_id is not None and obs.author_id == user.id


def can_erase_observation(user: User, obs: Any) -> bool:
    """Admins, and the admins of the organisation it came from."""
    if user.is_admin:
        return True
    return obs.organisation_id is not None and any(
        m.organisation_id == obs.organisation_id and m.role is OrgRole.ADMIN for m in user.memberships
    )


def can_moderate_observation(user: User, obs: Any) -> bool:
    """Residents' observations: admins, and the convenors of the partnership it was sent to."""
    if obs.organisation_id is not None or obs.partnership is None:
        return False
    return user.is_admin or (user.platform_role is PlatformRole.CONVENOR and user in obs.partnership.convenors)


def can_convene(user: User, partnership: Partnership) -> bool:
    """Run the partnership's sessions and briefings: its convenors, and admins."""
    return user.is_admin or user in partnership.convenors


def can_read_briefings(user: User, partnership: Partnership) -> bool:
    """Read published briefings: convenors, admins, and people of member or funder organisations."""
    return can_view_partnership(user, partnership)


# Themes (nlp package; duck-typed: Partnership has convenors).


def can_curate_themes(user: User, partnership: Partnership) -> bool:
    """A partnership's themes: its convenors, and admins."""
    return bool(getattr(user, "is_authenticated", False)) and (user.is_admin or user in partnership.convenors)
