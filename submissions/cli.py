"""`commintel observations ...`: bulk import from the command line. One transaction: all of it or nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from submissions import importer, spreadsheets
from webapp.cli import transaction
from webapp.extensions import db
from webapp.models import Organisation, Partnership


@click.group("observations", help="Observations: bulk import.")
def observations_cli() -> None:
    pass


@observations_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org", "org_slug", required=True, help="Short name of the organisation the rows come from.")
@click.option("--text-column", required=True, help="Column holding the observation text.")
@click.option("--area-column", help="Column with a ward or LSOA name or code (empty cell: the whole area).")
@click.option("--date-column", help="Column with the day (YYYY-MM-DD) or month (YYYY-MM).")
@click.option("--kind-column", help="Column saying need or asset.")
@click.option("--category-column", help="Column with the category's name or short name.")
@click.option("--ref-column", help="Column with your own reference; re-importing skips rows already stored.")
@click.option("--kind", "default_kind", type=click.Choice(["need", "asset"]), help="Kind for every row without one.")
@click.option("--category", "default_category", help="Category for every row without one.")
@click.option("--partnership", "partnership_slug", help="Partnership to share with, if the organisation has several.")
@click.option("--valid-rows-only", is_flag=True, help="Import the valid rows even when other rows have problems.")
@with_appcontext
def import_command(
    file: Path,
    org_slug: str,
    text_column: str,
    area_column: str | None,
    date_column: str | None,
    kind_column: str | None,
    category_column: str | None,
    ref_column: str | None,
    default_kind: str | None,
    default_category: str | None,
    partnership_slug: str | None,
    valid_rows_only: bool,
):
    """Import observations from a CSV or XLSX FILE. Prints what was imported and every rejected row."""
    org = db.session.scalar(select(Organisation).where(Organisation.slug == org_slug))
    if org is None:
        raise click.BadParameter(f"no organisation with short name {org_slug!r}", param_hint="--org")
    partnership = None
    if partnership_slug:
        partnership = db.session.scalar(select(Partnership).where(Partnership.slug == partnership_slug))
        if partnership is None:
            raise click.BadParameter(f"no partnership {partnership_slug!r}", param_hint="--partnership")
    try:
        table = spreadsheets.read_table(file.read_bytes(), file.name)
    except spreadsheets.ImportFileError as exc:
        raise click.ClickException(exc.message) from None
    # Columns named on the command line win; other fields are guessed from the header names.
    mapping: dict[str, str | None] = dict(importer.guess_mapping(table.headers))
    explicit = {
        "text": text_column,
        "area": area_column,
        "period": date_column,
        "kind": kind_column,
        "category": category_column,
        "external_ref": ref_column,
    }
    for name, column in explicit.items():
        if column:
            if column not in table.headers:
                raise click.BadParameter(f"the file has no column {column!r}", param_hint=f"--{name}-column")
            mapping = {k: v for k, v in mapping.items() if v != column}
            mapping[name] = column
    defaults = {"kind": default_kind or "", "category": default_category or ""}
    if partnership_slug:
        defaults["partnership"] = partnership_slug
    result: importer.ImportResult | None = None
    rejected: importer.ImportRejected | None = None
    with transaction():
        try:
            result = importer.import_table(
                table,
                mapping,
                org,
                None,
                defaults=defaults,
                valid_rows_only=valid_rows_only,
                partnership=partnership,
                via="cli",
            )
        except importer.ImportRejected as exc:
            rejected = exc
    if rejected is not None:
        for e in rejected.preview.errors:
            click.echo(f"Row {e.row}, column {e.column!r}: {e.message}", err=True)
        click.echo(f"Imported 0 rows: {rejected.message}", err=True)
        sys.exit(1)
    assert result is not None  # noqa: S101 - import_table returned (it did not raise)
    preview = result.preview
    for e in preview.errors:
        click.echo(f"Row {e.row}, column {e.column!r}: {e.message}", err=True)
    click.echo(f"Imported {result.imported} rows.")
    if preview.already_imported:
        click.echo(f"Skipped {len(preview.already_imported)} rows already imported (same reference).")
    if preview.bad_row_count:
        click.echo(f"Skipped {preview.bad_row_count} rows with problems (listed above).")
    if result.imported == 0 and preview.bad_row_count:
        sys.exit(1)
