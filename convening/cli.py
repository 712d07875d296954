"""`commintel briefing …`: compose and render a briefing from the command line, or publish a session's briefing.

Each command is one transaction (:func:`webapp.transactions.command`); ``build`` never stores anything: it ends its
transaction by raising :class:`_NothingStored`, so that the commit point rolls it back.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from convening import operations as convening_ops
from convening import publishing
from convening.models import Session
from webapp import transactions
from webapp.extensions import db
from webapp.models import Partnership
from webapp.operations import OperationError

if TYPE_CHECKING:
    from convening.pdf import RenderResult


class _NothingStored(Exception):  # noqa: N818 - not an error: how ``build`` ends its transaction without storing
    """Raised at the end of ``briefing build`` with the PDF it rendered: the command's transaction rolls back."""

    def __init__(self, result: RenderResult):
        super().__init__("briefing build stores nothing")
        self.result = result


@click.group("briefing", help="Partnership briefings.")
def briefing_cli() -> None:
    pass


@briefing_cli.command("build")
@click.option("--partnership", "slug", required=True, help="Partnership short name, e.g. bristol.")
@click.option("--session", "session_id", type=int, help="Session id (default: the partnership's latest session).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True), help="PDF file to write.")
@with_appcontext
def build_command(slug: str, session_id: int | None, out: str) -> None:
    """Compose the default draft from the latest data and render it to a PDF, without publishing or storing."""
    from convening.pdf import PdfError  # noqa: PLC0415 - heavy: convening.pdf loads WeasyPrint

    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == slug))
    if partnership is None:
        raise click.BadParameter(f"no partnership with short name {slug!r}", param_hint="--partnership")
    if session_id is not None:
        session = db.session.get(Session, session_id)
        if session is None or session.partnership_id != partnership.id:
            raise click.BadParameter(f"no session {session_id} in {slug}", param_hint="--session")
    else:
        session = db.session.scalar(
            select(Session).where(Session.partnership_id == partnership.id).order_by(Session.held_on.desc()).limit(1)
        )
    try:
        with transactions.command(what="briefing build (stores nothing)"):
            if session is None:
                # No session yet: brief on the twelve weeks up to today, without storing anything.
                session = convening_ops.create_session(
                    partnership, f"{partnership.name}: latest picture", date.today(), None
                )
            with click.progressbar(length=3, label="Building the briefing", file=sys.stderr) as bar:
                # The default draft: every section machine-written from the latest data (rolled back below).
                for section in session.briefing.sections if session.briefing else []:
                    section.machine_written = True
                briefing = convening_ops.compose_briefing(session, None)
                bar.update(1)
                doc = publishing.briefing_document(briefing)
                bar.update(1)
                rendered = publishing.render_document_pdf(doc)
                bar.update(1)
            raise _NothingStored(rendered)
    except _NothingStored as built:
        result = built.result
    except (OperationError, PdfError) as exc:
        raise click.ClickException(exc.message) from None
    Path(out).write_bytes(result.pdf)
    click.echo(f"Wrote {out}: {result.pages} pages in {result.seconds:.1f} s (draft, not published).")


@briefing_cli.command("publish")
@click.argument("session_id", type=int)
@with_appcontext
def publish_command(session_id: int) -> None:
    """Publish the session's reviewed briefing as a new version and render its PDF now."""
    from convening.pdf import PdfError  # noqa: PLC0415 - heavy: convening.pdf loads WeasyPrint

    session = db.session.get(Session, session_id)
    if session is None:
        raise click.BadParameter(f"no session {session_id}", param_hint="SESSION_ID")
    if session.briefing is None:
        raise click.ClickException(f"Session {session_id} has no briefing yet: compose it first.")
    try:
        with transactions.command(what="briefing publish"):
            version = publishing.publish_briefing(session.briefing, None)
            publishing.render_version_pdf(version, progress=lambda pct, msg: click.echo(f"{pct:3d}% {msg}", err=True))
    except (OperationError, PdfError) as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Published version {version.number} of session {session_id}'s briefing ({version.pdf_pages}).")
