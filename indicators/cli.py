"""`commintel indicators ...`: import official indicator files. One command, one transaction."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from indicators import operations as indicator_ops
from indicators.layouts import FORMATS, READERS
from indicators.models import IndicatorDataset, IndicatorValue, PeriodKind, Polarity, ValueKind
from indicators.readers import Options
from webapp.cli import transaction
from webapp.extensions import db


@click.group("indicators", help="Official indicator datasets: import and list.")
def indicators_cli() -> None:
    pass


def _date(ctx, param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use the form YYYY-MM-DD") from None


def _filters(ctx, param, values):
    out = []
    for value in values:
        column, sep, wanted = value.rpartition("=") if param.name == "measures" else value.partition("=")
        if not sep or not column.strip():
            raise click.BadParameter(f"{value!r}: use COLUMN=VALUE")
        out.append((column.strip(), wanted.strip()))
    return out


FORMAT_HELP = "Layout of the file (default: recognised from its headers). " + "; ".join(
    f"{k}: {v}" for k, v in FORMATS.items()
)


@indicators_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["auto", *READERS]), default="auto", help=FORMAT_HELP)
@click.option("--dataset-title", help="Title of the publication (with --release-date it names the release).")
@click.option("--publisher", help="Who published it, as shown on area pages.")
@click.option("--licence", help="Its licence, e.g. 'Open Government Licence v3.0'.")
@click.option("--source-url", help="Where it was downloaded from.")
@click.option(
    "--release-date",
    callback=_date,
    help="The publisher's release date YYYY-MM-DD (needed unless the file's headers name the release); "
    "re-importing a release replaces it.",
)
@click.option("--release-note", help="How the release date is known, if not exactly (e.g. 'date of the copy used').")
@click.option("--dataset-key", help="A short stable name of the publication across releases (e.g. 'uc-households').")
@click.option("--methodology-note", help="A line on how the figures were made, shown with them.")
@click.option("--indicator", help="Indicator name (wide tables and one-indicator tidy files).")
@click.option("--unit", help="Unit of the values, e.g. '%', 'count', 'per 1,000 households'.")
@click.option("--polarity", type=click.Choice([p.value for p in Polarity]), help="Is a higher value worse or better?")
@click.option(
    "--kind",
    "value_kind",
    type=click.Choice([k.value for k in ValueKind]),
    help="Kind of value; decides how it rolls up (default: from the unit).",
)
@click.option(
    "--level",
    type=click.Choice(["lsoa", "ward", "lad"]),
    help="Geography level of the areas (names are matched within it).",
)
@click.option("--sheet", help="Sheet of an XLSX workbook with several sheets.")
@click.option(
    "--academic-years", is_flag=True, help="Read two-year periods (2019/20, 201920) as academic, not financial, years."
)
@click.option("--period", help="The period of every row (IoD: the release year; needed for one-period tables).")
@click.option(
    "--vintage",
    type=int,
    help="Geography vintage of the file's areas (e.g. 2011 or 2021 for LSOAs) when the codes cannot tell.",
)
@click.option(
    "--measure",
    "measures",
    multiple=True,
    callback=_filters,
    help="Unit and direction of a measure column: 'COLUMN=UNIT,worse|better|neutral' (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Read, check and report what would be imported; store nothing.")
@click.option("--area-column", help="Column holding the area code or name.")
@click.option("--period-column", help="Column holding the period (tidy).")
@click.option("--indicator-column", help="Column holding the indicator name (tidy).")
@click.option("--value-column", help="Column holding the value (tidy).")
@click.option("--unit-column", help="Column holding the unit (tidy).")
@click.option(
    "--where", "filters", multiple=True, callback=_filters, help="Keep only rows where COLUMN=VALUE (repeatable)."
)
@with_appcontext
def import_command(file: str, fmt: str, polarity, value_kind, academic_years: bool, dry_run: bool, **kw):
    """Import FILE (CSV or XLSX) as one dataset release.

    Prints what it understood (layout, header row, indicators with unit and direction, areas matched per level
    and vintage, periods, release) before storing, and refuses with exit status 1 — storing nothing — a file it
    did not understand: a header row of codes or numbers, an unknown layout, fewer than half of its rows matched,
    measures of unknown unit or direction, no release date. --dry-run prints the same and stores nothing.
    """
    options = Options(
        format=fmt,
        polarity=Polarity(polarity) if polarity else None,
        value_kind=ValueKind(value_kind) if value_kind else None,
        year_type=PeriodKind.ACADEMIC_YEAR if academic_years else PeriodKind.FINANCIAL_YEAR,
        **kw,
    )
    with transaction():  # an OperationError rolls everything back and exits non-zero with its message
        try:
            report = indicator_ops.import_file(file, options, dry_run=dry_run)
        except indicator_ops.ImportFailed as exc:
            for line in exc.report.understanding():
                click.echo(line)
            raise
        # A dry run returns before storing anything: its transaction commits nothing.
    for line in report.lines():
        click.echo(line)


@indicators_cli.command("list")
@with_appcontext
def list_command():
    """The dataset releases stored, with their indicators."""
    datasets = db.session.scalars(select(IndicatorDataset).order_by(IndicatorDataset.title))
    counts = dict(
        db.session.execute(select(IndicatorValue.indicator_id, func.count()).group_by(IndicatorValue.indicator_id))
        .tuples()
        .all()
    )
    for dataset in datasets:
        click.echo(f"{dataset.title} (released {dataset.release_label}) — {dataset.publisher}, {dataset.licence}")
        for indicator in dataset.indicators:
            what = f"{indicator.value_kind.value}, {indicator.geography_label}"
            click.echo(f"  {indicator.name} [{what}]: {counts.get(indicator.id, 0):,} values")
