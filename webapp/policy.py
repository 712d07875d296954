"""Access control in one place: which role may reach which route, and which records.

Every endpoint of the app must have a rule in :data:`POLICY`; the app refuses (403) any endpoint without one, and
``tests/webapp/test_policy.py`` walks every rule of ``app.url_map`` for every role and checks the declared outcome.
Record-level checks (an organisation's own pages, a job's owner) are the ``can_*`` functions below; the views
call them and answer 404 so that a refused record is indistinguishable from a missing one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from webapp.models import OrgRole, PlatformRole

if TYPE_CHECKING:
    from webapp.models import Job, Organisation, Partnership, User


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
    "auth.logout": signed_in(),
    "auth.forgot_password": public(),
    "auth.reset_password": public(),
    "auth.accept_invitation": public(),
    "areas.index": signed_in(),
    "areas.detail": signed_in(),
    "orgs.index": Rule(ORG_PEOPLE, "admins and convenors see every organisation; others their own"),
    "orgs.detail": Rule(ORG_PEOPLE, "admins and convenors: any organisation; others: their own, else 404"),
    "orgs.invite": rule(Role.ORG_ADMIN, Role.ADMIN, records="organisation admins: their own organisation, else 404"),
    "orgs.create": rule(Role.ADMIN),
    "partnerships.index": Rule(ORG_PEOPLE, "admins see all; others the partnerships they belong to"),
    "partnerships.detail": Rule(ORG_PEOPLE, "admins: any; others: partnerships they belong to, else 404"),
    "admin.users": rule(Role.ADMIN),
    "admin.invite": rule(Role.ADMIN),
    "jobs.status": signed_in("the person who started the job, and admins; else 404"),
    "api.index": public(),
    # submissions ---------------------------------------------------------------------------------------------------
    # nlp -----------------------------------------------------------------------------------------------------------
    # indicators ----------------------------------------------------------------------------------------------------
    # convening -----------------------------------------------------------------------------------------------------
}


def roles_of(user: User | None) -> frozenset[Role]:
    """The roles a user holds: their platform role plus their roles in organisations."""
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset({Role.ANONYMOUS})
    roles: set[Role] = set()
    if user.platform_role is not None:
        roles.add(Role(user.platform_role.value))
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
    return user.platform_role in (PlatformRole.ADMIN, PlatformRole.CONVENOR)


def can_view_org(user: User, org: Organisation) -> bool:
    return sees_everything(user) or user.org_role(org) is not None


def can_invite_to_org(user: User, org: Organisation) -> bool:
    return user.is_admin or user.org_role(org) is OrgRole.ADMIN


def can_view_partnership(user: User, partnership: Partnership) -> bool:
    if user.is_admin or user in partnership.convenors:
        return True
    org_ids = {m.organisation_id for m in user.memberships}
    return any(o.id in org_ids for o in [*partnership.members, *partnership.funders])


def can_view_job(user: User, job: Job) -> bool:
    return user.is_admin or job.created_by_id == user.id
