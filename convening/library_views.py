"""Routes of reading (``convening`` blueprint): the library, a published version and its PDF, "your observations
informed", the convenor's sessions, the home page's panels and where a briefing's PDF job leads.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from convening import access, publishing
from convening import operations as convening_ops
from convening import queries as convening_queries
from convening.briefing_views import web_doc
from convening.forms import (
    LibraryFilterForm,
    choices,
)
from convening.models import BriefingVersion, ViewKind
from convening.views import (
    bp,
    readable_version_or_404,
)
from indicators import warnings
from webapp import policy, transactions
from webapp.disclosure import Audience, audience_for, edition_for
from webapp.extensions import db
from webapp.home import HomePanel
from webapp.models import Job, JobStatus, Organisation, OrgKind
from webapp.policy import Role

# Library and reading --------------------------------------------------------------------------------------------


LIBRARY_PAGE = 50  # briefings per page of the library
LIBRARY_ALL_OPTIONS = 10  # up to this many partnerships, the area and theme filters list all of theirs at once


@bp.route("/library", endpoint="library")
def library():
    form = LibraryFilterForm(request.args)
    partnerships = access.readable_partnerships(current_user)
    form.partnership.choices = choices([(0, "Any partnership")] + [(p.id, p.name) for p in partnerships])
    # The wards and themes of the chosen partnership, or of all of them when they are few: a national funder's 200
    # partnerships have thousands of wards, a list nobody can use (and 6,000 options on every page).
    chosen = [p for p in partnerships if p.id == request.args.get("partnership", 0, type=int)]
    scope = chosen or (partnerships if len(partnerships) <= LIBRARY_ALL_OPTIONS else [])
    if scope:
        form.area.choices = choices([(0, "Any area"), *convening_queries.partnerships_wards(scope)])
        form.theme.choices = choices([(0, "Any theme"), *convening_queries.partnership_themes(*scope)])
    else:
        form.area.choices = choices([(0, "Any area (choose a partnership first to pick one of its wards)")])
        form.theme.choices = choices([(0, "Any theme (choose a partnership first)")])
    form.validate()
    filters = access.LibraryFilter(
        partnership_id=form.partnership.data or None if not form.partnership.errors else None,
        area_id=form.area.data or None if not form.area.errors else None,
        theme_id=form.theme.data or None if not form.theme.errors else None,
        date_from=form.date_from.data if not form.date_from.errors else None,
        date_to=form.date_to.data if not form.date_to.errors else None,
    )
    # One page at a time, newest meeting first: a national funder's library lists hundreds of briefings.
    ids = access.library_ids(current_user, filters, partnerships)
    pages = max(1, -(-len(ids) // LIBRARY_PAGE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    start = (page - 1) * LIBRARY_PAGE
    versions = access.library_versions(ids[start : start + LIBRARY_PAGE])
    editions = {}
    for v in versions:
        audience = edition_for(audience_for(current_user, v.partnership))
        editions[v.id] = v.edition(audience) if audience is not None else None
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "convening/library.html", form=form, versions=versions, editions=editions, total=len(ids), page=page,
        pages=pages, first=start + 1, last=start + len(versions),
        newer=url_for("convening.library", **args, page=page - 1) if page > 1 else None,
        older=url_for("convening.library", **args, page=page + 1) if page < pages else None,
    )  # fmt: skip


@bp.route("/versions/<int:version_id>", endpoint="version")
def version(version_id: int):
    v, audience = readable_version_or_404(version_id)
    if v.is_withdrawn:
        return _gone(v)
    convening_ops.record_view(v, current_user, ViewKind.VIEW)
    latest = publishing.latest_served_version(v.briefing)
    doc = publishing.version_document(v, audience)
    return render_template(
        "convening/read.html", doc=web_doc(doc), version=v, latest=latest, session=None, edition=audience,
        pdf=v.edition(audience),
    )  # fmt: skip


@bp.route("/versions/<int:version_id>/pdf", endpoint="version_pdf")
def version_pdf(version_id: int):
    v, audience = readable_version_or_404(version_id)
    if v.is_withdrawn:
        return _gone(v)
    edition = v.edition(audience)
    if edition is None or edition.pdf_sha256 is None:
        flash("The PDF of this version is still being prepared. Try again in a minute.", "error")
        return redirect(url_for("convening.version", version_id=v.id))
    if edition.stale:
        # Released with another k or perturbation table: render it again now, so that the PDF and the page agree.
        from convening.pdf import PdfError  # noqa: PLC0415 - heavy: convening.pdf loads WeasyPrint

        try:
            publishing.render_version_pdf(v)
        except PdfError as exc:
            transactions.discard()
            flash(f"The PDF could not be prepared: {exc.message}", "error")
            return redirect(url_for("convening.version", version_id=v.id))
    pdf = edition.pdf
    convening_ops.record_view(v, current_user, ViewKind.DOWNLOAD)
    slug = v.partnership.slug
    suffix = "-funders" if audience is Audience.FUNDERS else ""
    filename = f"{slug}-briefing-{v.briefing.session.held_on.isoformat()}-v{v.number}{suffix}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"},
    )


def _gone(v: BriefingVersion):
    latest = publishing.latest_served_version(v.briefing)
    return render_template("convening/gone.html", version=v, latest=latest), 410


@bp.route("/informed", endpoint="informed")
def informed():
    return render_template(
        "convening/informed.html", items=[(o, convening_queries.informed_by(o)) for o in _contributing_orgs()]
    )


def _contributing_orgs() -> list[Organisation]:
    return [m.organisation for m in current_user.memberships if m.organisation.kind is not OrgKind.FUNDER]


# Sessions of the partnerships one convenes, and the home page's panels --------------------------------------------


@bp.route("/sessions", endpoint="sessions")
def sessions_index():
    """The convenor's way in (the nav's "Sessions"): each partnership they convene, its sessions and what waits."""
    overviews = [convening_queries.sessions_overview(p) for p in access.convened_partnerships(current_user)]
    return render_template("convening/sessions.html", overviews=overviews, today=date.today())


# How many published briefings the funder's home page lists before "all briefings".
HOME_LIBRARY_LATEST = 5
# How many partnerships a convenor's home page shows (sessions and early warnings) before "all on the Sessions
# page": each costs about 100 ms at a million observations (its sessions, its six months of themes by ward, whether
# a warning can be raised), so a national convenor of 200 waited 22 s for the page (benchmarks/scale.py).
HOME_PARTNERSHIPS = 10


def home_panels(user) -> list[HomePanel]:
    """The home page's panels from convening (registered with webapp.home): a convenor's partnerships and their
    sessions, the agreements an organisation admin has to accept, the briefings that used a contributing
    organisation's observations, and the library for a funder (their main job)."""
    roles = policy.roles_of(user)
    panels = []
    if roles & {Role.CONVENOR, Role.ADMIN}:
        convened = access.convened_partnerships(user)
        if convened or Role.CONVENOR in roles:
            shown = convened
            if len(convened) > HOME_PARTNERSHIPS:
                shown = convening_queries.nearest_sessions_first(convened)[:HOME_PARTNERSHIPS]
            overviews = [convening_queries.sessions_overview(p) for p in shown]
            values = {"overviews": overviews, "today": date.today(), "convened": len(convened)}
            panels.append(HomePanel("convening/_home_sessions.html", values, order=10))
            if shown:
                # Each partnership's warnings; none said too: a first-time convenor learns what would raise one, or
                # why none can be (can_warn, read only when none was found).
                entries = []
                for p in shown:
                    found = warnings.early_warnings(p)
                    entries.append((p, found, bool(found) or warnings.can_warn(p)))
                values = {"entries": entries, "rule": warnings.RULE, "convened": len(convened)}
                panels.append(HomePanel("convening/_home_warnings.html", values, order=12))
    if Role.ORG_ADMIN in roles:
        pending = convening_queries.agreements_to_accept(user)
        if pending:
            panels.append(HomePanel("convening/_home_agreements.html", {"pending": pending}, order=15))
    if Role.FUNDER in roles:
        latest = access.library(user)[:HOME_LIBRARY_LATEST]
        editions = {}
        for v in latest:
            audience = edition_for(audience_for(user, v.partnership))
            editions[v.id] = v.edition(audience) if audience is not None else None
        panels.append(HomePanel("convening/_home_library.html", {"versions": latest, "editions": editions}, order=5))
    if roles & {Role.MEMBER, Role.ORG_ADMIN}:
        orgs = [m.organisation for m in user.memberships if m.organisation.kind is not OrgKind.FUNDER]
        informed = [(o, convening_queries.informed_by(o)[:3]) for o in orgs]
        panels.append(HomePanel("convening/_home_informed.html", {"informed": informed}, order=40))
    return panels


def pdf_job_link(job: Job) -> tuple[str, str] | None:
    """A briefing's PDF job leads to its session (where the PDF is downloaded), or to its reading page."""
    version = db.session.get(BriefingVersion, (job.args or [0])[0])
    if version is None:
        return None
    session = version.briefing.session
    if policy.can_convene(current_user, session.partnership):
        what = "Open the session and its PDF" if job.status is JobStatus.DONE else "Back to the session"
        return (f"{what}: {session.title}", url_for("convening.session", session_id=session.id))
    return (f"Read {version.title}", url_for("convening.version", version_id=version.id))
