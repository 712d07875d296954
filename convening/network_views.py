"""Routes of the organisation network: the convenor's network page (with invitations to connect) and a
contributor's "who else is reporting this theme in your wards" (with their organisation's consent to be named).

Who may reach each route is in :data:`webapp.policy.POLICY`; record-level rules (``can_convene``, membership) are
applied here and answer 404. Every count shown is released through :mod:`webapp.disclosure` (docs/network.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from wtforms import RadioField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from convening import network_operations as network_ops
from convening.forms import choices
from convening.network import Network, analyse
from convening.network_models import NOTE_MAX, NetworkInvitation
from convening.network_queries import member_organisations, read_marks, who_else
from indicators.community import since_for
from webapp import jobs, policy, transactions
from webapp.disclosure import Audience, method_note, release, threshold
from webapp.extensions import db
from webapp.models import Area, Organisation, OrgKind, OrgRole, Partnership
from webapp.operations import OperationError

log = logging.getLogger(__name__)

bp = Blueprint("network", __name__, url_prefix="/network")

# Okabe-Ito: told apart by people with colour-vision deficiencies; the table says the same in words.
COMMUNITY_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
NO_COMMUNITY = "#8a8a8a"
WIDTH, HEIGHT, MARGIN = 760, 460, 110


class InviteForm(FlaskForm):
    first = SelectField("First organisation", coerce=int, validators=[DataRequired("Choose the first organisation.")])
    second = SelectField("Second organisation", coerce=int,
                         validators=[DataRequired("Choose the second organisation.")])  # fmt: skip
    note = TextAreaField(
        "A note for both (optional)",
        validators=[Optional(), Length(max=NOTE_MAX)],
        description="No personal details: both organisations' admins receive it by email.",
    )


class NamingForm(FlaskForm):
    organisation = SelectField("Organisation", coerce=int, validators=[DataRequired("Choose the organisation.")])
    named = RadioField(
        "In the organisation network, other partners may",
        choices=[
            SelectChoice("yes", "see our organisation's name"),
            SelectChoice("no", "only count us among “other organisations”"),
        ],  # fmt: skip
        validators=[DataRequired("Choose whether your organisation may be named.")],
    )


@dataclass
class Node:
    id: int
    name: str
    x: float
    y: float
    colour: str
    community: int | None
    broker: bool


def _wards(area_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(area_ids))
    if not ids:
        return {}
    return {area_id: name for area_id, name in db.session.execute(select(Area.id, Area.name).where(Area.id.in_(ids)))}


def _drawing(network: Network, names: dict[int, str]) -> list[Node]:
    brokers = {o for o, _ in network.brokers}
    nodes = []
    for org_id in network.organisations:
        x, y = network.positions.get(org_id, (0.5, 0.5))
        community = network.community_of.get(org_id)
        colour = COMMUNITY_COLOURS[community % len(COMMUNITY_COLOURS)] if community is not None else NO_COMMUNITY
        nodes.append(Node(org_id, names.get(org_id, "An organisation"), MARGIN + x * (WIDTH - 2 * MARGIN),
                          40 + y * (HEIGHT - 80), colour, community, org_id in brokers))  # fmt: skip
    return nodes


def _convened_or_404(slug: str) -> Partnership:
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == slug))
    if partnership is None or not policy.can_convene(current_user, partnership):
        abort(404)
    return partnership


@bp.route("/", endpoint="index")
def index():
    """The network of the first partnership the convenor convenes (admins: the first of all)."""
    if current_user.is_admin:
        partnership = db.session.scalar(select(Partnership).order_by(Partnership.name).limit(1))
    else:
        partnership = next(iter(sorted(current_user.convened, key=lambda p: p.name)), None)
    if partnership is None:
        abort(404)
    return redirect(url_for("network.partnership", slug=partnership.slug))


@bp.route("/<slug>", endpoint="partnership")
def partnership_network(slug: str):
    partnership = _convened_or_404(slug)
    since, months = since_for(request.args.get("months"))
    reading = read_marks(partnership, Audience.PARTNERSHIP, since)
    members = member_organisations(partnership)
    names = {o.id: o.name for o in members}
    network = analyse([o.id for o in members], reading.marks)
    ward_names = _wards(w for e in network.edges for w in e.wards)
    labels = reading.theme_labels
    edge_rows = [
        {
            "first": names.get(e.first, "An organisation"),
            "first_n": e.released(e.first),
            "second": names.get(e.second, "An organisation"),
            "second_n": e.released(e.second),
            "themes": "; ".join(sorted(labels.get(t, "Theme") for t in e.themes)),
            "wards": "; ".join(sorted(ward_names.get(w, "a ward") for w in e.wards)),
            "pair": f"{e.first}-{e.second}",
            "edge": e,
        }
        for e in network.edges
    ]
    single_rows = [
        (labels.get(s.theme_id, "Theme"), names.get(s.organisation_id, "An organisation"), release(s.tally))
        for s in network.single_themes
    ]
    form = InviteForm()
    form.first.choices = choices([(0, "Choose…")] + [(o.id, o.name) for o in members])
    form.second.choices = choices([(0, "Choose…")] + [(o.id, o.name) for o in members])
    pair = request.args.get("pair", "")
    if pair.count("-") == 1 and all(p.isdigit() for p in pair.split("-")):
        form.first.data, form.second.data = (int(p) for p in pair.split("-"))
    invitations = list(
        db.session.scalars(
            select(NetworkInvitation)
            .where(NetworkInvitation.partnership_id == partnership.id)
            .order_by(NetworkInvitation.created_at.desc())
            .limit(20)
        )
    )
    return render_template(
        "convening/network.html",
        partnership=partnership,
        months=months,
        network=network,
        names=names,
        nodes=_drawing(network, names),
        width=WIDTH,
        height=HEIGHT,
        edge_rows=edge_rows,
        single_rows=single_rows,
        themed=reading.themed,
        form=form,
        invitations=invitations,
        k=threshold(),
        method_note=method_note(),
        partnerships=sorted(
            current_user.convened if not current_user.is_admin else db.session.scalars(select(Partnership)),
            key=lambda p: p.name,
        ),
    )


@bp.route("/<slug>/invite", methods=["POST"], endpoint="invite")
def invite(slug: str):
    partnership = _convened_or_404(slug)
    form = InviteForm()
    members = member_organisations(partnership)
    form.first.choices = choices([(o.id, o.name) for o in members])
    form.second.choices = choices([(o.id, o.name) for o in members])
    back = url_for("network.partnership", slug=slug, months=request.args.get("months", "12"))
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message if isinstance(message, str) else "Check the form.", "error")
        return redirect(back)
    try:
        invitation = network_ops.invite(partnership, form.first.data, form.second.data, form.note.data or "",
                                    current_user)  # fmt: skip
    except OperationError as exc:
        transactions.discard()
        flash(exc.message, "error")
        return redirect(back)
    invitation_id = invitation.id

    def send() -> None:  # once the request has committed the invitation: no email for a row a rollback undid
        with current_app.app_context():  # a session of its own: the request's has ended its transaction
            sent = network_ops.send_invitation(invitation_id)
        if sent:
            flash(f"Invitation recorded and sent to {sent} organisation admin{'s' if sent != 1 else ''}.", "success")
        else:
            flash("The invitation is recorded, but no email went out (no admin to write to, or no working email "
                  "server: COMMINTEL_SMTP_HOST).", "error")  # fmt: skip

    jobs.call_after_commit(send)
    return redirect(back)


def _my_organisations() -> list[Organisation]:
    return [m.organisation for m in current_user.memberships if m.organisation.kind is not OrgKind.FUNDER]


def _administered() -> list[Organisation]:
    return [
        m.organisation
        for m in current_user.memberships
        if m.role is OrgRole.ADMIN and m.organisation.kind is not OrgKind.FUNDER
    ]


@bp.route("/mine", endpoint="mine")
def mine():
    """Who else is reporting the themes your organisation reports, in your wards."""
    since, months = since_for(request.args.get("months"))
    blocks: list[dict[str, Any]] = []
    for org in _my_organisations():
        partnerships = db.session.scalars(
            select(Partnership).where(Partnership.members.any(Organisation.id == org.id)).order_by(Partnership.name)
        )
        for partnership in partnerships:
            rows, themed = who_else(partnership, org, since)
            invitations = list(
                db.session.scalars(
                    select(NetworkInvitation)
                    .where(
                        NetworkInvitation.partnership_id == partnership.id,
                        or_(NetworkInvitation.first_id == org.id, NetworkInvitation.second_id == org.id),
                    )
                    .order_by(NetworkInvitation.created_at.desc())
                    .limit(10)
                )
            )
            blocks.append({"organisation": org, "partnership": partnership, "rows": rows, "themed": themed,
                           "invitations": invitations})  # fmt: skip
    ward_names = _wards(w for b in blocks for r in b["rows"] for w in r.wards)
    administered = _administered()
    naming = NamingForm(formdata=None)
    naming.organisation.choices = choices([(o.id, o.name) for o in administered])
    if administered:
        naming.named.data = "yes" if administered[0].network_named else "no"
    return render_template(
        "convening/network_mine.html",
        blocks=blocks,
        months=months,
        ward_names=ward_names,
        administered=administered,
        naming=naming,
        k=threshold(),
        method_note=method_note(),
    )


@bp.route("/naming", methods=["POST"], endpoint="naming")
def naming():
    administered = {o.id: o for o in _administered()}
    form = NamingForm()
    form.organisation.choices = choices([(i, o.name) for i, o in administered.items()])
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message if isinstance(message, str) else "Check the form.", "error")
        return redirect(url_for("network.mine"))
    organisation = administered[form.organisation.data]
    network_ops.set_network_naming(organisation, form.named.data == "yes", current_user)
    if organisation.network_named:
        flash(f"Other partners now see {organisation.name}'s name in the organisation network.", "success")
    else:
        flash(f"{organisation.name} is now only counted, not named, in the organisation network.", "success")
    return redirect(url_for("network.mine"))
