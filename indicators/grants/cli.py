"""`commintel grants import PARTNERSHIP FILE`: the Grants page's import from the command line. One transaction: every
grant is stored, or none and each problem is printed with its row and field."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from indicators.grants import importer
from webapp.cli import transaction
from webapp.extensions import db
from webapp.models import Partnership


@click.group("grants", help="Grants in the 360Giving Data Standard, set beside need.")
def grants_cli() -> None:
    pass


@grants_cli.command("import")
@click.argument("partnership")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_command(partnership: str, file: Path) -> None:
    """Import a 360Giving file (.csv, .xlsx or .json) for the partnership whose slug is PARTNERSHIP."""
    found = db.session.scalar(select(Partnership).where(Partnership.slug == partnership))
    if found is None:
        raise click.ClickException(f"No partnership {partnership!r} (see `commintel partnerships list`).")
    with transaction():
        try:
            report = importer.import_grants(file.read_bytes(), file.name, found, None)
        except importer.GrantImportRejected as rejected:
            for p in rejected.report.problems:
                click.echo(f"{p.row}: {p.field}: {p.problem}", err=True)
            raise
    click.echo(f"{report.grants} grants imported from {file.name} for {found.name}.")
    if report.outside:
        click.echo(f"{report.outside} are placed outside the partnership's area (stored, not set beside its wards).")
