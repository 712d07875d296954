"""`commintel themes ...`: refresh (refit), export and show themes. A refit writes in short transactions (its vectors
in batches, the new version in one at the end), so it can run beside a served site."""

from __future__ import annotations

import csv
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from nlp.themes import queries
from nlp.themes.models import Theme, ThemeAssignment, active_model
from nlp.themes.tasks import refit_in_steps, refit_themes
from submissions.models import Observation
from webapp import transactions
from webapp.disclosure import Tally, method_note, release
from webapp.extensions import db
from webapp.jobs import enqueue
from webapp.models import Partnership
from webapp.operations import OperationError

EXPORT_COLUMNS = ("observation_id", "external_ref", "theme_id", "theme_label", "is_outlier")


@click.group("themes", help="Themes found in observations: refresh, export, show.")
def themes_cli() -> None:
    pass


def _partnerships(slug: str | None) -> list[Partnership]:
    if slug:
        partnership = db.session.scalar(select(Partnership).where(Partnership.slug == slug))
        if partnership is None:
            raise click.BadParameter(f"no partnership with short name {slug!r}", param_hint="--partnership")
        return [partnership]
    return list(db.session.scalars(select(Partnership).order_by(Partnership.name)))


@themes_cli.command("refresh")
@click.option("--partnership", "slug", help="Short name of one partnership (default: every partnership in turn).")
@click.option("--on-workers", is_flag=True,
              help="Send the refit to the background workers instead (every partnership: one job each, shared by "
                   "all workers, as the nightly run); prints the job to follow.")  # fmt: skip
@with_appcontext
def refresh_command(slug: str | None, on_workers: bool) -> None:
    """Refit themes: embed what is missing, fit a new version, keep theme ids and curated names, print a summary."""
    if on_workers:
        with transactions.command(what="themes refresh --on-workers"):  # sent to the queue once committed
            partnership_id = _partnerships(slug)[0].id if slug else None
            job = enqueue("themes.refit", refit_themes, partnership_id)
        click.echo(f"Queued job {job.id}; follow it at /jobs/{job.id} (each partnership's refit is listed there).")
        return
    failures = 0
    for partnership in _partnerships(slug):
        click.echo(f"{partnership.name}:")
        with click.progressbar(length=100, label="  refitting", show_pos=False) as bar:
            done = [0]

            def progress(pct: int, _msg: str, bar=bar, done=done) -> None:
                bar.update(max(0, pct - done[0]))
                done[0] = max(done[0], pct)

            try:
                # In short transactions, as the background job does: the served site keeps writing meanwhile.
                with transactions.command(what=f"themes refresh {partnership.slug}"):
                    result = refit_in_steps(partnership.id, progress=progress)
            except OperationError as exc:
                failures += 1
                bar.render_finish()
                click.echo(f"  not refitted: {exc.message}")
                continue
        click.echo(f"  {result.summary()}")
        if result.new_theme_ids:
            click.echo(f"  new themes: {', '.join(map(str, result.new_theme_ids))}")
        if result.vanished_theme_ids:
            click.echo(f"  vanished themes: {', '.join(map(str, result.vanished_theme_ids))}")
    if slug and failures:
        raise click.exceptions.Exit(1)


@themes_cli.command("export")
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--partnership", "slug", help="Short name of one partnership (default: all).")
@with_appcontext
def export_command(out: Path, slug: str | None) -> None:
    """Write OUT.csv: one row per observation in the active themes (ids and labels only, no text)."""
    rows = 0
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(EXPORT_COLUMNS)
        for partnership in _partnerships(slug):
            model = active_model(partnership.id)
            if model is None:
                continue
            query = (
                select(ThemeAssignment, Observation.external_ref, Theme)
                .join(Observation, Observation.id == ThemeAssignment.observation_id)
                .outerjoin(Theme, Theme.id == ThemeAssignment.theme_id)
                .where(ThemeAssignment.model_id == model.id)
                .order_by(ThemeAssignment.observation_id)
            )
            for assignment, ref, theme in db.session.execute(query):
                writer.writerow(
                    (
                        assignment.observation_id,
                        ref or "",
                        theme.id if theme else "",
                        theme.label if theme else "",
                        "true" if assignment.is_outlier else "false",
                    )
                )
                rows += 1
    click.echo(f"Wrote {rows} rows to {out}.")


@themes_cli.command("show")
@click.option("--partnership", "slug", help="Short name of one partnership (default: all).")
@with_appcontext
def show_command(slug: str | None) -> None:
    """List each partnership's active themes with their size (released as on the theme pages) and top terms."""
    for partnership in _partnerships(slug):
        model = active_model(partnership.id)
        if model is None:
            click.echo(f"{partnership.name}: no themes yet (run `commintel themes refresh`).")
            continue
        click.echo(
            f"{partnership.name}: version {model.version}, fitted {model.fitted_at:%Y-%m-%d %H:%M} UTC, "
            f"{model.outlier_share or 0:.0%} unthemed"
        )
        sizes = queries.theme_counts(partnership)
        for theme_id in dict.fromkeys(model.changes.get("topic_theme_ids", [])):
            theme = db.session.get(Theme, theme_id)
            if theme is None:  # never: a version's themes outlive it (merged or hidden, not deleted)
                continue
            flags = [f for f, on in (("hidden", theme.hidden), ("signed off", theme.signed_off)) if on]
            size = "hidden, not counted" if theme.hidden else str(release(sizes.get(theme.id, Tally())))
            click.echo(
                f"  [{theme.id}] {theme.label} ({size}){' - ' + ', '.join(flags) if flags else ''}: "
                f"{', '.join(theme.top_terms[:6])}"
            )
    click.echo(method_note())
