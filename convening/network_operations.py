"""Operations of the organisation network: an organisation's consent to be named, and a convenor's invitation to
two organisations to connect. They change objects, flush and record in the audit log (ids only); the request that
calls them commits once, after its view returned (:mod:`webapp.transactions`). The invitation's emails are sent
by :func:`send_invitation` once that commit is made (a rolled-back invitation emails nobody), which records how many
went out in a short transaction of its own."""

from __future__ import annotations

import logging

from sqlalchemy import select

from convening.network_models import NOTE_MAX, NetworkInvitation
from convening.network_queries import member_organisations
from webapp import mail
from webapp.extensions import db
from webapp.models import Membership, Organisation, OrgRole, Partnership, User
from webapp.operations import OperationError, record
from webapp.transactions import end_read, write

log = logging.getLogger(__name__)


def set_network_naming(organisation: Organisation, named: bool, actor: User) -> None:
    """Whether ``organisation`` agrees to be named to other partners in the organisation network (its admins)."""
    if organisation.network_named == named:
        return
    organisation.network_named = named
    db.session.flush()
    record("network.naming", "organisation", organisation.id, actor, named=named)
    log.info("organisation %s %s naming in the network", organisation.id, "agreed to" if named else "withdrew")


def invite(partnership: Partnership, first_id: int, second_id: int, note: str, actor: User) -> NetworkInvitation:
    """Record the convenor's invitation to two member organisations of ``partnership`` to connect."""
    members = {o.id: o for o in member_organisations(partnership)}
    if first_id == second_id:
        raise OperationError("Choose two different organisations.", "second")
    if first_id not in members or second_id not in members:
        raise OperationError("Both organisations must be members of the partnership.", "first")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise OperationError(f"The note can be at most {NOTE_MAX} characters.", "note")
    first_id, second_id = sorted((first_id, second_id))
    invitation = NetworkInvitation(
        partnership=partnership, first_id=first_id, second_id=second_id, note=note, created_by=actor
    )
    db.session.add(invitation)
    db.session.flush()
    record("network.invite", "network_invitation", invitation.id, actor, partnership_id=partnership.id,
           first_id=first_id, second_id=second_id)  # fmt: skip
    log.info("network invitation %s: organisations %s and %s", invitation.id, first_id, second_id)
    return invitation


def _admin_emails(org_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(User.email)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organisation_id == org_id, Membership.role == OrgRole.ADMIN, User.active.is_(True))
            .order_by(User.id)
        )
    )


def invitation_text(invitation: NetworkInvitation, other: Organisation) -> str:
    convenor = invitation.created_by.display_name if invitation.created_by else "The partnership's convenor"
    lines = [
        f"{convenor}, convenor of {invitation.partnership.name}, invites your organisation and {other.name} to get "
        "in touch: your observations shared with the partnership speak of the same themes in the same wards.",
    ]
    if invitation.note:
        lines += ["", f"Their note: {invitation.note}"]
    lines += ["", "Reply to your convenor, who will introduce you. No observation text is shared by this message."]
    return "\n".join(lines)


def send_invitation(invitation_id: int) -> int:
    """Email the admins of both organisations of a committed invitation and record how many emails went out (in its
    own short transaction); returns that number.

    Called once the request that made the invitation has committed (``jobs.call_after_commit``): an email never
    tells anyone of an invitation that a rollback undid, and no email is sent while the request holds the write
    lock."""
    invitation = db.session.get(NetworkInvitation, invitation_id)
    if invitation is None:
        return 0
    messages = [
        (address, f"An invitation to connect with {other.name}", invitation_text(invitation, other))
        for org, other in ((invitation.first, invitation.second), (invitation.second, invitation.first))
        for address in _admin_emails(org.id)
    ]
    end_read()
    sent = sum(
        mail.send_notice(address, subject, body, f"invitation {invitation_id}") for address, subject, body in messages
    )

    def record() -> None:
        stored = db.session.get(NetworkInvitation, invitation_id)
        if stored is not None:
            stored.sent_to = sent

    write(record, what=f"recording the emails of invitation {invitation_id}")
    return sent
